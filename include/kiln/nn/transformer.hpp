// SPDX-License-Identifier: BSD-3-Clause
// TransformerEncoderLayer and TransformerEncoder (torch.nn's names, defaults, children and
// post-norm / pre-norm paths).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/expr/ops.hpp"
#include "kiln/nn/attention.hpp"
#include "kiln/nn/container.hpp"
#include "kiln/nn/dropout.hpp"
#include "kiln/nn/linear.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/nn/normalization.hpp"
#include "kiln/ops/dropout.hpp"

namespace kiln::nn {

/// TransformerEncoderLayer's options, in torch's argument order.
struct TransformerEncoderLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  ///< "relu" or "gelu" (exact erf form)
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;  ///< pre-norm: x + sa(norm1(x)), then x + ff(norm2(x))
  bool bias = true;         ///< in every Linear, the attention and both LayerNorms
};

/// torch.nn.TransformerEncoderLayer: self-attention then a feed-forward block
/// linear2(dropout(activation(linear1(x)))), each with dropout and a residual connection,
/// normalised after (default) or before (norm_first) the block. Children, in torch's
/// order (so state_dict keys and order are torch's): self_attn, linear1, dropout, linear2,
/// norm1, norm2, dropout1, dropout2. It is a UnaryModule (forward(src) without masks), so
/// a Sequential can chain it.
template <class T = float, class D = CPU>
class TransformerEncoderLayer : public UnaryModule<T, D> {
 public:
  using TensorT = Tensor<T, D>;
  using Mask = AttentionMask<T, D>;

  TransformerEncoderLayer(int64_t d_model, int64_t nhead,
                          TransformerEncoderLayerOptions options = {})
      : UnaryModule<T, D>("TransformerEncoderLayer"),
        d_model(d_model),
        nhead(nhead),
        options(options),
        norm_first(options.norm_first) {
    KILN_CHECK(options.activation == "relu" || options.activation == "gelu", ValueError,
               "[nn::TransformerEncoderLayer] activation should be relu/gelu, not '",
               options.activation, "'");
    KILN_CHECK(options.dim_feedforward > 0, ValueError,
               "[nn::TransformerEncoderLayer] dim_feedforward must be positive, got ",
               options.dim_feedforward);
    self_attn = this->register_module(
        "self_attn", std::make_shared<MultiheadAttention<T, D>>(
                         d_model, nhead,
                         MultiheadAttentionOptions{.dropout = options.dropout,
                                                   .bias = options.bias,
                                                   .batch_first = options.batch_first}));
    linear1 = this->register_module(
        "linear1", std::make_shared<Linear<T, D>>(d_model, options.dim_feedforward, options.bias));
    dropout = this->register_module("dropout", std::make_shared<Dropout<T, D>>(options.dropout));
    linear2 = this->register_module(
        "linear2", std::make_shared<Linear<T, D>>(options.dim_feedforward, d_model, options.bias));
    norm1 = this->register_module("norm1", make_norm());
    norm2 = this->register_module("norm2", make_norm());
    dropout1 = this->register_module("dropout1", std::make_shared<Dropout<T, D>>(options.dropout));
    dropout2 = this->register_module("dropout2", std::make_shared<Dropout<T, D>>(options.dropout));
  }

  /// src [S, N, E] ([N, S, E] with batch_first, [S, E] unbatched). src_mask and
  /// src_key_padding_mask are MultiheadAttention's attn_mask and key_padding_mask (bool:
  /// true = masked out; or float, added); is_causal as there.
  TensorT forward(const TensorT& src, const Mask& src_mask, const Mask& src_key_padding_mask = {},
                  bool is_causal = false) {
    const auto sa = [&](const TensorT& x) {
      return dropout1->forward(self_attn
                                   ->forward(x, x, x, src_key_padding_mask, /*need_weights=*/false,
                                             src_mask, true, is_causal)
                                   .attn_output);
    };
    if (norm_first) {
      const TensorT x = src + sa(norm1->forward(src));
      return TensorT(x + feed_forward(norm2->forward(x)));
    }
    const TensorT x = norm1->forward(src + sa(src));
    return norm2->forward(x + feed_forward(x));
  }
  TensorT forward(const TensorT& src) override { return forward(src, Mask{}); }
  using UnaryModule<T, D>::operator();
  TensorT operator()(const TensorT& src, const Mask& src_mask,
                     const Mask& src_key_padding_mask = {}, bool is_causal = false) {
    return forward(src, src_mask, src_key_padding_mask, is_causal);
  }

  int64_t d_model, nhead;
  TransformerEncoderLayerOptions options;
  bool norm_first;
  std::shared_ptr<MultiheadAttention<T, D>> self_attn;
  std::shared_ptr<Linear<T, D>> linear1, linear2;
  std::shared_ptr<Dropout<T, D>> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm<T, D>> norm1, norm2;

 private:
  std::shared_ptr<LayerNorm<T, D>> make_norm() const {
    return std::make_shared<LayerNorm<T, D>>(Shape{d_model}, options.layer_norm_eps, true,
                                             options.bias);
  }
  // dropout2(linear2(dropout(activation(linear1(x))))); the activation is fused into the
  // dropout's pass (the `dropout` child's p and mode).
  TensorT feed_forward(const TensorT& x) {
    const TensorT h = linear1->forward(x);
    const bool train = dropout->is_training();
    const TensorT a = options.activation == "gelu"
                          ? kiln::dropout(kiln::gelu(h), dropout->p, train)
                          : kiln::dropout(kiln::relu(h), dropout->p, train);
    return dropout2->forward(linear2->forward(a));
  }
};

/// torch.nn.TransformerEncoder: num_layers copies of encoder_layer (independent
/// parameters that start equal to its, as torch's deepcopy), as the ModuleList "layers",
/// then the optional final "norm". The layers run torch's slow path: padded positions are
/// computed like the others (torch's nested-tensor fast path in eval mode zeroes them).
template <class T = float, class D = CPU>
class TransformerEncoder : public UnaryModule<T, D> {
 public:
  using TensorT = Tensor<T, D>;
  using Mask = AttentionMask<T, D>;
  using Layer = TransformerEncoderLayer<T, D>;

  TransformerEncoder(const Layer& encoder_layer, int64_t num_layers,
                     std::shared_ptr<LayerNorm<T, D>> norm = nullptr)
      : UnaryModule<T, D>("TransformerEncoder"), num_layers(num_layers) {
    KILN_CHECK(num_layers >= 0, ValueError,
               "[nn::TransformerEncoder] num_layers must be non-negative, got ", num_layers);
    layers = this->register_module("layers", std::make_shared<ModuleList<T, D>>());
    const auto state = encoder_layer.state_dict();
    for (int64_t i = 0; i < num_layers; ++i) {
      auto layer = std::make_shared<Layer>(encoder_layer.d_model, encoder_layer.nhead,
                                           encoder_layer.options);
      layer->load_state_dict(state);
      layer->train(encoder_layer.is_training());
      layers_.push_back(layers->push_back(layer));
    }
    if (norm) this->norm = this->register_module("norm", norm);
  }

  /// Runs every layer with the same masks (see TransformerEncoderLayer::forward), then norm.
  TensorT forward(const TensorT& src, const Mask& mask, const Mask& src_key_padding_mask = {},
                  bool is_causal = false) {
    TensorT x = src;
    for (const auto& layer : layers_) x = layer->forward(x, mask, src_key_padding_mask, is_causal);
    return norm ? norm->forward(x) : x;
  }
  TensorT forward(const TensorT& src) override { return forward(src, Mask{}); }
  using UnaryModule<T, D>::operator();
  TensorT operator()(const TensorT& src, const Mask& mask, const Mask& src_key_padding_mask = {},
                     bool is_causal = false) {
    return forward(src, mask, src_key_padding_mask, is_causal);
  }

  /// The i-th layer, typed.
  const std::shared_ptr<Layer>& layer(std::size_t i) const {
    KILN_CHECK(i < layers_.size(), IndexError, "[nn::TransformerEncoder] layer ", i,
               " out of range for ", layers_.size(), " layers");
    return layers_[i];
  }

  int64_t num_layers;
  std::shared_ptr<ModuleList<T, D>> layers;
  std::shared_ptr<LayerNorm<T, D>> norm;

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

}  // namespace kiln::nn
