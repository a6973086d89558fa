// SPDX-License-Identifier: BSD-3-Clause
// TransformerEncoderLayer and TransformerEncoder (torch.nn's names, defaults, children and
// post-norm / pre-norm paths).
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
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

/// TransformerEncoderLayer's parameters, for its functional form: self_attn's, linear1
/// [F, E] (bias [F]), linear2 [E, F] (bias [E]), norm1 and norm2 [E] (any bias may be
/// undefined; so may a norm's weight, as LayerNorm without elementwise_affine).
template <class T = float, class D = CPU>
struct TransformerEncoderLayerWeights {
  MultiheadAttentionWeights<T, D> self_attn;
  Tensor<T, D> linear1_weight, linear1_bias, linear2_weight, linear2_bias;
  Tensor<T, D> norm1_weight, norm1_bias, norm2_weight, norm2_bias;
};

/// What functional::transformer_encoder_layer needs besides tensors: the layer's options
/// and the probability of each dropout site (0 = off, as in eval mode). torch's layer
/// gives every site its `dropout`; each is a child module there, with its own mode.
struct EncoderLayerConfig {
  int64_t nhead = 1;
  std::string activation = "relu";  ///< "relu" or "gelu" (exact erf form)
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;
  double attn_dropout = 0.0;  ///< self_attn's, on the attention weights
  double ff_dropout = 0.0;    ///< the `dropout` child, after the activation
  double dropout1 = 0.0;      ///< on the self-attention block's output
  double dropout2 = 0.0;      ///< on the feed-forward block's output
};

namespace functional {

/// TransformerEncoderLayer's forward from its parameters (torch's slow path, one call):
/// post-norm x = norm1(src + sa(src)), norm2(x + ff(x)), or with norm_first
/// x = src + sa(norm1(src)), x + ff(norm2(x)); sa is self-attention then dropout1, ff is
/// dropout2(linear2(dropout(activation(linear1(x))))). src [S, N, E] ([N, S, E] with
/// batch_first, [S, E] unbatched); the masks and is_causal are
/// multi_head_attention_forward's attn_mask, key_padding_mask and is_causal.
template <class T, class D>
Tensor<T, D> transformer_encoder_layer(
    const Tensor<T, D>& src,
    const TransformerEncoderLayerWeights<std::type_identity_t<T>, std::type_identity_t<D>>& w,
    const EncoderLayerConfig& c,
    const AttentionMask<std::type_identity_t<T>, std::type_identity_t<D>>& src_mask = {},
    const AttentionMask<std::type_identity_t<T>, std::type_identity_t<D>>& src_key_padding_mask =
        {},
    bool is_causal = false) {
  using TensorT = Tensor<T, D>;
  constexpr const char* op = "nn::TransformerEncoderLayer";
  KILN_CHECK(c.activation == "relu" || c.activation == "gelu", ValueError, "[", op,
             "] activation should be relu/gelu, not '", c.activation, "'");
  for (const double p : {c.attn_dropout, c.ff_dropout, c.dropout1, c.dropout2})
    KILN_CHECK(p >= 0 && p <= 1, ValueError, "[", op,
               "] dropout must be a probability in [0, 1], got ", p);
  const int64_t e = nn::detail::check_mha_weights(w.self_attn, c.nhead, op).embed_dim;
  KILN_CHECK(w.linear1_weight.defined() && w.linear1_weight.dim() == 2 &&
                 w.linear1_weight.size(1) == e && w.linear2_weight.defined() &&
                 w.linear2_weight.shape() == (Shape{e, w.linear1_weight.size(0)}),
             ShapeError, "[", op, "] expected linear1.weight [F, ", e, "] and linear2.weight [", e,
             ", F], got ", w.linear1_weight.defined() ? w.linear1_weight.shape() : Shape{}, " and ",
             w.linear2_weight.defined() ? w.linear2_weight.shape() : Shape{});
  const int64_t f = w.linear1_weight.size(0);
  for (const auto& [t, n] : {std::pair{&w.linear1_bias, f},
                             {&w.linear2_bias, e},
                             {&w.norm1_weight, e},
                             {&w.norm1_bias, e},
                             {&w.norm2_weight, e},
                             {&w.norm2_bias, e}})
    KILN_CHECK(!t->defined() || t->shape() == Shape{n}, ShapeError, "[", op,
               "] expected the linear and norm biases and norm weights to be [", n, "], got ",
               t->shape());
  KILN_CHECK((src.dim() == 2 || src.dim() == 3) && src.size(-1) == e, ShapeError, "[", op,
             "] expected src ", c.batch_first ? "[N, S, " : "[S, N, ", e, "] or unbatched [S, ", e,
             "], got ", src.shape());

  auto norm = [&](const TensorT& x, const TensorT& weight, const TensorT& bias) {
    return layer_norm(x, Shape{e}, weight, bias, c.layer_norm_eps);
  };
  auto linear = [](const TensorT& x, const TensorT& weight, const TensorT& bias) {
    return bias.defined() ? kiln::linear(x, weight, bias) : kiln::linear(x, weight);
  };
  auto sa = [&](const TensorT& x) {
    return kiln::dropout(
        multi_head_attention_forward(x, x, x, c.nhead, w.self_attn, src_key_padding_mask,
                                     /*need_weights=*/false, src_mask, true, is_causal,
                                     c.attn_dropout, c.batch_first)
            .attn_output,
        c.dropout1);
  };
  // The activation is fused into the dropout's pass.
  auto ff = [&](const TensorT& x) {
    const TensorT h = linear(x, w.linear1_weight, w.linear1_bias);
    const TensorT a = c.activation == "gelu" ? kiln::dropout(kiln::gelu(h), c.ff_dropout)
                                             : kiln::dropout(kiln::relu(h), c.ff_dropout);
    return kiln::dropout(linear(a, w.linear2_weight, w.linear2_bias), c.dropout2);
  };
  if (c.norm_first) {
    const TensorT x = src + sa(norm(src, w.norm1_weight, w.norm1_bias));
    return TensorT(x + ff(norm(x, w.norm2_weight, w.norm2_bias)));
  }
  const TensorT x = norm(src + sa(src), w.norm1_weight, w.norm1_bias);
  return norm(x + ff(x), w.norm2_weight, w.norm2_bias);
}

}  // namespace functional

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
  /// true = masked out; or float, added); is_causal as there. Runs
  /// functional::transformer_encoder_layer with the children's parameters, and each
  /// dropout child's p when that child is in training mode.
  TensorT forward(const TensorT& src, const Mask& src_mask, const Mask& src_key_padding_mask = {},
                  bool is_causal = false) {
    return functional::transformer_encoder_layer(src, weights(), config(), src_mask,
                                                 src_key_padding_mask, is_causal);
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

  /// The children's parameters, for the functional form (aliases).
  TransformerEncoderLayerWeights<T, D> weights() const {
    return {self_attn->weights(), linear1->weight, linear1->bias, linear2->weight, linear2->bias,
            norm1->weight,        norm1->bias,     norm2->weight, norm2->bias};
  }
  /// The options and the dropout sites' probabilities in the children's current modes.
  EncoderLayerConfig config() const {
    KILN_CHECK(norm1->eps == norm2->eps, ValueError,
               "[nn::TransformerEncoderLayer] norm1 and norm2 must have one eps, got ", norm1->eps,
               " and ", norm2->eps);
    auto p = [](const Dropout<T, D>& d) { return d.is_training() ? d.p : 0.0; };
    return {.nhead = nhead,
            .activation = options.activation,
            .layer_norm_eps = norm1->eps,
            .batch_first = options.batch_first,
            .norm_first = norm_first,
            .attn_dropout = self_attn->is_training() ? self_attn->dropout : 0.0,
            .ff_dropout = p(*dropout),
            .dropout1 = p(*dropout1),
            .dropout2 = p(*dropout2)};
  }

 private:
  std::shared_ptr<LayerNorm<T, D>> make_norm() const {
    return std::make_shared<LayerNorm<T, D>>(Shape{d_model}, options.layer_norm_eps, true,
                                             options.bias);
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
