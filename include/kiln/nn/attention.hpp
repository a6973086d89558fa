// SPDX-License-Identifier: BSD-3-Clause
// Attention: functional::scaled_dot_product_attention and MultiheadAttention (torch's
// names, defaults, masks, parameters and initialisation), written with kiln's ops so
// autograd differentiates them.
#pragma once

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "kiln/expr/ops.hpp"
#include "kiln/nn/init.hpp"
#include "kiln/nn/linear.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/ops/dropout.hpp"
#include "kiln/ops/matmul.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/softmax.hpp"
#include "kiln/ops/triangle.hpp"
#include "kiln/tensor/factories.hpp"

namespace kiln::nn {

// Note [Attention masks]
// torch passes a mask as a bool or a float tensor, and the two conventions for bool
// differ by entry point:
//  - scaled_dot_product_attention: true = the query may attend to that key;
//  - MultiheadAttention (attn_mask, key_padding_mask) and TransformerEncoderLayer: true =
//    the position is masked out.
// A float mask is added to the scores everywhere (-inf masks out). AttentionMask holds
// either kind, so one parameter takes both, as in torch; the consumer's doc says what
// `true` means. Every mask is turned into at most one bool tensor `blocked` (true = masked
// out, applied as where(blocked, -inf, scores)) and one float `bias` (added); the scores,
// the mask and the bias are then one fused expression feeding one softmax.
//
// A query row whose keys are all masked out has only -inf scores, and softmax makes that
// row NaN (0 / 0), so its output and weights are NaN: what torch's MultiheadAttention
// gives outside its fast path (checked against torch 1.13). Some torch SDPA backends (and
// newer versions' math path) give zeros there instead; kiln does not substitute zeros, so
// a fully padded sequence shows up rather than passing silently.

/// An attention mask: undefined (no mask), bool, or float (added to the scores); see
/// Note [Attention masks] for what `true` means to each consumer. Converts implicitly from
/// Tensor<bool> and Tensor<T>; an undefined tensor means no mask.
template <class T, class D = CPU>
struct AttentionMask {
  AttentionMask() = default;
  AttentionMask(Tensor<bool, D> mask) : bool_mask(std::move(mask)) {}
  AttentionMask(Tensor<T, D> mask) : float_mask(std::move(mask)) {}
  bool defined() const { return bool_mask.defined() || float_mask.defined(); }
  bool is_bool() const { return bool_mask.defined(); }
  const Shape& shape() const { return is_bool() ? bool_mask.shape() : float_mask.shape(); }

  Tensor<bool, D> bool_mask;
  Tensor<T, D> float_mask;
};

namespace detail {

template <class T>
struct AttentionResult {
  Tensor<T, CPU> output;   // [..., L, Ev]
  Tensor<T, CPU> weights;  // [..., L, S], after dropout (as torch returns them)
};

// softmax(q k^T * scale, masked) v for q [..., L, E], k [..., S, E], v [..., S, Ev] with
// broadcasting batch dims; `blocked` (true = masked out) and `bias` are either undefined
// or broadcast to [..., L, S] (Note [Attention masks]).
template <class T>
AttentionResult<T> attend(const Tensor<T, CPU>& q, const Tensor<T, CPU>& k, const Tensor<T, CPU>& v,
                          const Tensor<bool, CPU>& blocked, const Tensor<T, CPU>& bias,
                          double scale, double dropout_p, const char* op) {
  auto batch_dims = [](const Shape& x) { return Shape(std::span(x.data(), x.size() - 2)); };
  Shape scores_shape = broadcast_shapes(batch_dims(q.shape()), batch_dims(k.shape()), op);
  scores_shape.push_back(q.size(-2));
  scores_shape.push_back(k.size(-2));
  for (const Shape* m :
       {blocked.defined() ? &blocked.shape() : nullptr, bias.defined() ? &bias.shape() : nullptr})
    KILN_CHECK(!m || broadcasts_to(*m, scores_shape), ShapeError, "[", op, "] a mask of shape ", *m,
               " does not broadcast to the attention weights' shape ", scores_shape, " (query ",
               q.shape(), ", key ", k.shape(), ")");
  // The scale goes on q ([L, E] elements) rather than on the scores ([L, S]).
  const Tensor<T, CPU> s = kiln::matmul(q * static_cast<T>(scale), k.transpose(-2, -1));
  const T ninf = -std::numeric_limits<T>::infinity();
  Tensor<T, CPU> w;
  if (blocked.defined() && bias.defined())
    w = kiln::softmax(kiln::where(blocked, ninf, s + bias), -1);
  else if (blocked.defined())
    w = kiln::softmax(kiln::where(blocked, ninf, s), -1);
  else if (bias.defined())
    w = kiln::softmax(s + bias, -1);
  else
    w = kiln::softmax(s, -1);
  if (dropout_p > 0) w = kiln::dropout(w, dropout_p);
  return {kiln::matmul(w, v), w};
}

// Whether a and b are one tensor handle: same elements and same autograd identity (a
// detached copy is not the same input, even though its elements are).
template <class T, class D>
bool same_tensor(const Tensor<T, D>& a, const Tensor<T, D>& b) {
  return a.defined() && a.is_alias_of(b) && a.storage_offset() == b.storage_offset() &&
         a.shape() == b.shape() && a.strides() == b.strides() &&
         a.autograd_meta() == b.autograd_meta();
}

}  // namespace detail

namespace functional {

/// torch.nn.functional.scaled_dot_product_attention: softmax(q kᵀ · scale + mask) v for
/// query [..., L, E], key [..., S, E], value [..., S, Ev] (batch dims broadcast) →
/// [..., L, Ev]. scale defaults to 1 / sqrt(E). attn_mask broadcasts to [..., L, S]: bool
/// with true = may attend (torch's SDPA convention), or float, added. is_causal masks
/// key j > query i (top-left aligned when L != S) and excludes attn_mask, as in torch.
/// dropout_p drops attention weights whenever it is > 0 (pass 0 in eval mode). Fully
/// masked rows give NaN (Note [Attention masks]).
template <class T>
Tensor<T, CPU> scaled_dot_product_attention(
    const Tensor<T, CPU>& query, const Tensor<T, CPU>& key, const Tensor<T, CPU>& value,
    const AttentionMask<std::type_identity_t<T>>& attn_mask = {}, double dropout_p = 0.0,
    bool is_causal = false, std::optional<double> scale = std::nullopt) {
  constexpr const char* op = "scaled_dot_product_attention";
  KILN_CHECK(query.dim() >= 2 && key.dim() >= 2 && value.dim() >= 2, ShapeError, "[", op,
             "] query, key and value need at least 2 dims ([..., L, E]), got query ", query.shape(),
             ", key ", key.shape(), ", value ", value.shape());
  KILN_CHECK(query.size(-1) == key.size(-1), ShapeError, "[", op,
             "] query and key must have the same last dim E, got query ", query.shape(),
             " and key ", key.shape());
  KILN_CHECK(key.size(-2) == value.size(-2), ShapeError, "[", op,
             "] key and value must have the same length S (dim -2), got key ", key.shape(),
             " and value ", value.shape());
  KILN_CHECK(dropout_p >= 0 && dropout_p <= 1, ValueError, "[", op,
             "] dropout_p must be in [0, 1], got ", dropout_p);
  KILN_CHECK(!(is_causal && attn_mask.defined()), ValueError, "[", op,
             "] attn_mask must not be given with is_causal=true");
  Tensor<bool, CPU> blocked;
  if (is_causal)
    blocked = kiln::triu(kiln::ones<bool>({query.size(-2), key.size(-2)}), 1);
  else if (attn_mask.is_bool())
    blocked = Tensor<bool, CPU>(!attn_mask.bool_mask);
  const double sc = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(query.size(-1)));
  return nn::detail::attend(query, key, value, blocked, attn_mask.float_mask, sc, dropout_p, op)
      .output;
}

}  // namespace functional

/// MultiheadAttention's options, in torch's argument order (add_bias_kv and
/// add_zero_attn are not supported).
struct MultiheadAttentionOptions {
  double dropout = 0.0;  ///< dropout on the attention weights in training mode
  bool bias = true;      ///< in_proj_bias and out_proj.bias
  std::optional<int64_t> kdim = std::nullopt, vdim = std::nullopt;  ///< default: embed_dim
  bool batch_first = false;  ///< batched inputs are [N, L, E] rather than [L, N, E]
};

/// What MultiheadAttention returns (`auto [out, weights] = mha(q, k, v)`).
template <class T = float, class D = CPU>
struct MultiheadAttentionOutput {
  Tensor<T, D> attn_output;   ///< [L, N, E], [N, L, E] (batch_first) or [L, E]
  Tensor<T, D> attn_weights;  ///< [N, L, S] (or [N, heads, L, S]); undefined unless need_weights
};

/// MultiheadAttention's parameters, for its functional form: in_proj_weight [3E, E] when
/// q, k and v share it, else q_proj_weight [E, E], k_proj_weight [E, kdim] and
/// v_proj_weight [E, vdim]; in_proj_bias [3E] and out_proj_bias [E] (both or neither);
/// out_proj_weight [E, E].
template <class T = float, class D = CPU>
struct MultiheadAttentionWeights {
  Tensor<T, D> in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias;
  Tensor<T, D> out_proj_weight, out_proj_bias;
};

namespace detail {

// The weights' embed_dim, kdim and vdim, checked against `num_heads` and one another.
struct MhaDims {
  int64_t embed_dim, kdim, vdim;
  bool packed;  // one in_proj_weight
};
template <class T, class D>
MhaDims check_mha_weights(const MultiheadAttentionWeights<T, D>& w, int64_t num_heads,
                          const char* op) {
  KILN_CHECK(w.out_proj_weight.defined() && w.out_proj_weight.dim() == 2 &&
                 w.out_proj_weight.size(0) == w.out_proj_weight.size(1),
             ShapeError, "[", op, "] out_proj_weight must be a square [E, E] matrix, got ",
             w.out_proj_weight.defined() ? w.out_proj_weight.shape() : Shape{});
  const int64_t e = w.out_proj_weight.size(0);
  KILN_CHECK(e > 0 && num_heads > 0 && e % num_heads == 0, ValueError, "[", op, "] embed_dim (", e,
             ") must be positive and divisible by num_heads (", num_heads, ")");
  const bool packed = w.in_proj_weight.defined();
  KILN_CHECK(packed != (w.q_proj_weight.defined() || w.k_proj_weight.defined() ||
                        w.v_proj_weight.defined()),
             ValueError, "[", op,
             "] expected either in_proj_weight or q_proj_weight, k_proj_weight and "
             "v_proj_weight, not both or neither");
  auto shape_of = [](const Tensor<T, D>& t) { return t.defined() ? t.shape() : Shape{}; };
  MhaDims d{e, e, e, packed};
  if (packed) {
    KILN_CHECK(w.in_proj_weight.shape() == (Shape{3 * e, e}), ShapeError, "[", op,
               "] in_proj_weight must be [3 * embed_dim, embed_dim] = ", Shape{3 * e, e}, ", got ",
               w.in_proj_weight.shape());
  } else {
    const Tensor<T, D>& k = w.k_proj_weight;
    const Tensor<T, D>& v = w.v_proj_weight;
    KILN_CHECK(w.q_proj_weight.defined() && k.defined() && v.defined() && k.dim() == 2 &&
                   v.dim() == 2 && w.q_proj_weight.shape() == (Shape{e, e}) && k.size(0) == e &&
                   v.size(0) == e,
               ShapeError, "[", op, "] expected q_proj_weight [", e, ", ", e, "], k_proj_weight [",
               e, ", kdim] and v_proj_weight [", e, ", vdim], got ", shape_of(w.q_proj_weight),
               ", ", shape_of(k), " and ", shape_of(v));
    d.kdim = k.size(1);
    d.vdim = v.size(1);
  }
  KILN_CHECK(w.in_proj_bias.defined() == w.out_proj_bias.defined(), ValueError, "[", op,
             "] in_proj_bias and out_proj_bias must be given together or not at all");
  KILN_CHECK(!w.in_proj_bias.defined() ||
                 (w.in_proj_bias.shape() == Shape{3 * e} && w.out_proj_bias.shape() == Shape{e}),
             ShapeError, "[", op, "] expected in_proj_bias [", 3 * e, "] and out_proj_bias [", e,
             "], got ", shape_of(w.in_proj_bias), " and ", shape_of(w.out_proj_bias));
  return d;
}

// x · wᵀ + b for `count` consecutive E-row blocks of w (and of `bias`) from block
// `first`; with packed = false, w is a whole separate weight and `first` only picks the
// bias block.
template <class T, class D>
Tensor<T, D> mha_project(const Tensor<T, D>& x, const Tensor<T, D>& w, const Tensor<T, D>& bias,
                         int64_t e, int64_t first, int64_t count, bool packed = true) {
  const Tensor<T, D> wt = packed ? w.narrow(0, first * e, count * e) : w;
  if (!bias.defined()) return kiln::linear(x, wt);
  return kiln::linear(x, wt, bias.narrow(0, first * e, count * e));
}

// [L, N, c*E] ([N, L, c*E] with batch_first) -> [c, N, heads, L, head_dim], a view.
template <class T, class D>
Tensor<T, D> mha_heads(const Tensor<T, D>& x, int64_t c, int64_t num_heads, bool bf) {
  const Tensor<T, D> r =
      x.reshape({x.size(0), x.size(1), c, num_heads, x.size(2) / (c * num_heads)});
  return r.permute(bf ? Dims{2, 0, 3, 1, 4} : Dims{2, 1, 3, 0, 4});
}

}  // namespace detail

namespace functional {

/// torch.nn.functional.multi_head_attention_forward (and nn::MultiheadAttention's forward):
/// attention of query over (key, value) with the parameters `w` (see
/// MultiheadAttentionWeights) and `num_heads` heads. Batched inputs are [L, N, E],
/// [S, N, kdim], [S, N, vdim] ([N, L, E]... with batch_first); unbatched ones [L, E],
/// [S, kdim], [S, vdim]. Masks follow torch's MultiheadAttention (Note [Attention masks]):
///  - key_padding_mask [N, S] ([S] unbatched): bool, true = ignore that key; or float, added.
///  - attn_mask [L, S] or [N * num_heads, L, S]: bool, true = not allowed; or float, added.
///  - is_causal without attn_mask masks key j > query i. With attn_mask it is, as in
///    torch, a hint that attn_mask is causal, and attn_mask is used as given (torch
///    raises when is_causal comes without attn_mask; kiln builds the causal mask).
/// dropout_p drops attention weights when > 0 (pass 0 in eval mode). attn_weights (after
/// dropout, as torch's) are averaged over heads, [N, L, S], or per head,
/// [N, num_heads, L, S], without the N for unbatched input; undefined unless need_weights.
template <class T, class D>
MultiheadAttentionOutput<T, D> multi_head_attention_forward(
    const Tensor<T, D>& query, const Tensor<T, D>& key, const Tensor<T, D>& value,
    int64_t num_heads,
    const MultiheadAttentionWeights<std::type_identity_t<T>, std::type_identity_t<D>>& w,
    const AttentionMask<std::type_identity_t<T>, std::type_identity_t<D>>& key_padding_mask = {},
    bool need_weights = true,
    const AttentionMask<std::type_identity_t<T>, std::type_identity_t<D>>& attn_mask = {},
    bool average_attn_weights = true, bool is_causal = false, double dropout_p = 0.0,
    bool batch_first = false) {
  using TensorT = Tensor<T, D>;
  constexpr const char* op = "nn::MultiheadAttention";
  const nn::detail::MhaDims dims = nn::detail::check_mha_weights(w, num_heads, op);
  const int64_t embed_dim = dims.embed_dim;
  KILN_CHECK(dropout_p >= 0 && dropout_p <= 1, ValueError, "[", op,
             "] dropout must be a probability in [0, 1], got ", dropout_p);
  KILN_CHECK((query.dim() == 2 || query.dim() == 3) && key.dim() == query.dim() &&
                 value.dim() == query.dim(),
             ShapeError, "[", op,
             "] query, key and value must all be 3-d (batched) or all 2-d (unbatched), got "
             "query ",
             query.shape(), ", key ", key.shape(), ", value ", value.shape());
  const bool batched = query.dim() == 3;
  // Unbatched inputs become [L, 1, E] (torch's way), so one path serves both.
  const TensorT q3 = batched ? query : query.unsqueeze(1), k3 = batched ? key : key.unsqueeze(1),
                v3 = batched ? value : value.unsqueeze(1);
  const bool bf = batched && batch_first;
  const int64_t n = q3.size(bf ? 0 : 1), l = q3.size(bf ? 1 : 0), s = k3.size(bf ? 1 : 0);
  KILN_CHECK(q3.size(2) == embed_dim && k3.size(2) == dims.kdim && v3.size(2) == dims.vdim,
             ShapeError, "[", op, "] expected embedding dims query ", embed_dim, ", key ",
             dims.kdim, ", value ", dims.vdim, " (the last dim), got query ", query.shape(),
             ", key ", key.shape(), ", value ", value.shape());
  KILN_CHECK(k3.size(bf ? 0 : 1) == n && v3.size(bf ? 0 : 1) == n && v3.size(bf ? 1 : 0) == s,
             ShapeError, "[", op,
             "] query, key and value must have one batch size and key and value one length, "
             "got query ",
             query.shape(), ", key ", key.shape(), ", value ", value.shape(),
             batch_first ? " (batch_first)" : "");

  // Projections run on the inputs' own layout; mha_heads() then only makes views.
  namespace nd = nn::detail;
  const TensorT& b = w.in_proj_bias;
  TensorT q, k, v;
  if (dims.packed && nd::same_tensor(query, key) && nd::same_tensor(key, value)) {
    const TensorT qkv =
        nd::mha_heads(nd::mha_project(q3, w.in_proj_weight, b, embed_dim, 0, 3), 3, num_heads, bf);
    q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
  } else if (dims.packed && nd::same_tensor(key, value)) {
    q = nd::mha_heads(nd::mha_project(q3, w.in_proj_weight, b, embed_dim, 0, 1), 1, num_heads, bf)
            .select(0, 0);
    const TensorT kv =
        nd::mha_heads(nd::mha_project(k3, w.in_proj_weight, b, embed_dim, 1, 2), 2, num_heads, bf);
    k = kv.select(0, 0), v = kv.select(0, 1);
  } else {
    const bool p = dims.packed;
    auto one = [&](const TensorT& x, const TensorT& sep, int64_t block) {
      return nd::mha_heads(
                 nd::mha_project(x, p ? w.in_proj_weight : sep, b, embed_dim, block, 1, p), 1,
                 num_heads, bf)
          .select(0, 0);
    };
    q = one(q3, w.q_proj_weight, 0);
    k = one(k3, w.k_proj_weight, 1);
    v = one(v3, w.v_proj_weight, 2);
  }

  // Masks as [N or 1, heads or 1, L or 1, S] (Note [Attention masks]).
  Tensor<bool, D> blocked;
  TensorT bias;
  if (key_padding_mask.defined()) {
    const Shape want = batched ? Shape{n, s} : Shape{s};
    KILN_CHECK(key_padding_mask.shape() == want, ShapeError, "[", op, "] key_padding_mask must be ",
               want, " ([N, S], or [S] unbatched), got ", key_padding_mask.shape());
    if (key_padding_mask.is_bool())
      blocked = key_padding_mask.bool_mask.reshape({n, 1, 1, s});
    else
      bias = key_padding_mask.float_mask.reshape({n, 1, 1, s});
  }
  if (attn_mask.defined()) {
    const Shape& ms = attn_mask.shape();
    KILN_CHECK(ms == (Shape{l, s}) || ms == (Shape{n * num_heads, l, s}), ShapeError, "[", op,
               "] attn_mask must be [L, S] = ", Shape{l, s},
               " or [N * num_heads, L, S] = ", Shape{n * num_heads, l, s}, ", got ", ms);
    const Shape as = ms.size() == 2 ? Shape{1, 1, l, s} : Shape{n, num_heads, l, s};
    if (attn_mask.is_bool()) {
      const Tensor<bool, D> a = attn_mask.bool_mask.reshape(as);
      blocked = blocked.defined() ? Tensor<bool, D>(blocked || a) : a;
    } else {
      const TensorT a = attn_mask.float_mask.reshape(as);
      bias = bias.defined() ? TensorT(bias + a) : a;
    }
  } else if (is_causal) {
    const Tensor<bool, D> c = kiln::triu(kiln::ones<bool, D>({l, s}), 1).reshape({1, 1, l, s});
    blocked = blocked.defined() ? Tensor<bool, D>(blocked || c) : c;
  }

  const int64_t head_dim = embed_dim / num_heads;
  const nd::AttentionResult<T> r = nd::attend(
      q, k, v, blocked, bias, 1.0 / std::sqrt(static_cast<double>(head_dim)), dropout_p, op);
  // [N, heads, L, hd] -> [L, N, heads, hd] ([N, L, ...] with batch_first) -> [.., E].
  const TensorT merged = r.output.permute(bf ? Dims{0, 2, 1, 3} : Dims{2, 0, 1, 3})
                             .reshape(bf ? Shape{n, l, embed_dim} : Shape{l, n, embed_dim});
  TensorT out = w.out_proj_bias.defined() ? kiln::linear(merged, w.out_proj_weight, w.out_proj_bias)
                                          : kiln::linear(merged, w.out_proj_weight);
  if (!batched) out = out.squeeze(1);
  TensorT aw;
  if (need_weights) {
    aw = average_attn_weights ? TensorT(kiln::mean(r.weights, 1)) : r.weights;
    if (!batched) aw = aw.squeeze(0);
  }
  return {std::move(out), std::move(aw)};
}

}  // namespace functional

/// torch.nn.MultiheadAttention. Parameters, in torch's registration order (so state_dict
/// keys and order are torch's): in_proj_weight [3E, E] when kdim == vdim == embed_dim,
/// else q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim]; then
/// in_proj_bias [3E] (with bias); then the child out_proj, a Linear(E, E). Initialised as
/// torch's _reset_parameters: xavier_uniform_ projection weights, zero biases, out_proj's
/// weight as Linear's. out_proj is a NonDynamicallyQuantizableLinear, as torch's: a
/// Linear that only prints another name.
template <class T = float, class D = CPU>
class MultiheadAttention : public Module<T, D> {
 public:
  using TensorT = Tensor<T, D>;
  using Mask = AttentionMask<T, D>;

  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {})
      : Module<T, D>("MultiheadAttention"),
        embed_dim(embed_dim),
        kdim(options.kdim.value_or(embed_dim)),
        vdim(options.vdim.value_or(embed_dim)),
        num_heads(num_heads),
        head_dim(num_heads > 0 ? embed_dim / num_heads : 0),
        dropout(options.dropout),
        batch_first(options.batch_first) {
    KILN_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0, ValueError,
               "[nn::MultiheadAttention] embed_dim (", embed_dim,
               ") must be positive and divisible by num_heads (", num_heads, ")");
    KILN_CHECK(kdim > 0 && vdim > 0, ValueError,
               "[nn::MultiheadAttention] kdim and vdim must be positive, got kdim=", kdim,
               ", vdim=", vdim);
    KILN_CHECK(dropout >= 0 && dropout <= 1, ValueError,
               "[nn::MultiheadAttention] dropout must be a probability in [0, 1], got ", dropout);
    if (qkv_same_embed_dim()) {
      in_proj_weight =
          this->register_parameter("in_proj_weight", TensorT({3 * embed_dim, embed_dim}));
    } else {
      q_proj_weight = this->register_parameter("q_proj_weight", TensorT({embed_dim, embed_dim}));
      k_proj_weight = this->register_parameter("k_proj_weight", TensorT({embed_dim, kdim}));
      v_proj_weight = this->register_parameter("v_proj_weight", TensorT({embed_dim, vdim}));
    }
    if (options.bias)
      in_proj_bias = this->register_parameter("in_proj_bias", TensorT({3 * embed_dim}));
    out_proj =
        this->register_module("out_proj", std::make_shared<NonDynamicallyQuantizableLinear<T, D>>(
                                              embed_dim, embed_dim, options.bias));
    reset_parameters();
  }

  /// torch's _reset_parameters: out_proj.weight keeps Linear's initialisation.
  void reset_parameters() {
    if (qkv_same_embed_dim()) {
      init::xavier_uniform_(in_proj_weight);
    } else {
      init::xavier_uniform_(q_proj_weight);
      init::xavier_uniform_(k_proj_weight);
      init::xavier_uniform_(v_proj_weight);
    }
    if (in_proj_bias.defined()) {
      init::zeros_(in_proj_bias);
      init::zeros_(out_proj->bias);
    }
  }

  /// Attention of query over (key, value): functional::multi_head_attention_forward with
  /// this module's parameters, its batch_first, and its dropout in training mode.
  MultiheadAttentionOutput<T, D> forward(const TensorT& query, const TensorT& key,
                                         const TensorT& value, const Mask& key_padding_mask = {},
                                         bool need_weights = true, const Mask& attn_mask = {},
                                         bool average_attn_weights = true, bool is_causal = false) {
    return functional::multi_head_attention_forward(
        query, key, value, num_heads, weights(), key_padding_mask, need_weights, attn_mask,
        average_attn_weights, is_causal, this->is_training() ? dropout : 0.0, batch_first);
  }
  MultiheadAttentionOutput<T, D> operator()(const TensorT& query, const TensorT& key,
                                            const TensorT& value, const Mask& key_padding_mask = {},
                                            bool need_weights = true, const Mask& attn_mask = {},
                                            bool average_attn_weights = true,
                                            bool is_causal = false) {
    return forward(query, key, value, key_padding_mask, need_weights, attn_mask,
                   average_attn_weights, is_causal);
  }

  /// Whether q, k and v share one packed in_proj_weight (kdim == vdim == embed_dim).
  bool qkv_same_embed_dim() const { return kdim == embed_dim && vdim == embed_dim; }

  /// The parameters, for the functional form (aliases of the registered tensors).
  MultiheadAttentionWeights<T, D> weights() const {
    return {in_proj_weight, q_proj_weight,    k_proj_weight, v_proj_weight,
            in_proj_bias,   out_proj->weight, out_proj->bias};
  }

  int64_t embed_dim, kdim, vdim, num_heads, head_dim;
  double dropout;
  bool batch_first;
  TensorT in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias;
  std::shared_ptr<Linear<T, D>> out_proj;
};

}  // namespace kiln::nn
