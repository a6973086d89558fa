// SPDX-License-Identifier: BSD-3-Clause
// The sequence layers' C++ functional forms for kiln.nn: LSTM, GRU and their cells,
// scaled_dot_product_attention, multi_head_attention_forward and one
// TransformerEncoderLayer (each one call, whatever the sequence length).
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "kiln/nn/normalization.hpp"
#include "kiln/nn/rnn.hpp"
#include "kiln/nn/transformer.hpp"

namespace kiln::python {

namespace {

namespace F = nn::functional;
using OptTensor = std::optional<DynTensor>;

// The dtype of a layer call: the input's, which every given parameter and state must
// share (no silent promotion of a model's weights, as torch).
ScalarType one_dtype(const char* op, const DynTensor& x, const std::vector<const DynTensor*>& ts) {
  for (const DynTensor* t : ts)
    KILN_CHECK(!t || t->dtype() == x.dtype(), DTypeError, "[", op, "] expected every tensor to be ",
               scalar_type_name(x.dtype()), " as the input is, got ", scalar_type_name(t->dtype()));
  return x.dtype();
}

const DynTensor* ptr(const OptTensor& o) { return o ? &*o : nullptr; }

template <class T>
Tensor<T, CPU> typed(const OptTensor& o) {
  return o ? o->as<T>() : Tensor<T, CPU>();
}

// A Python mask argument: None, a bool tensor, or a floating one (added to the scores,
// in the computation's dtype). See Note [Attention masks].
template <class T>
nn::AttentionMask<T> mask_of(const OptTensor& m, const char* what, const char* op) {
  if (!m) return {};
  if (m->dtype() == ScalarType::Bool) return nn::AttentionMask<T>(m->as<bool>());
  KILN_CHECK(is_floating_type(m->dtype()), DTypeError, "[", op,
             "] only bool and floating types of ", what, " are supported, got ",
             scalar_type_name(m->dtype()));
  return nn::AttentionMask<T>(cast_to<T>(*m));
}

// torch's flat parameter list (w_ih, w_hh[, b_ih, b_hh] per layer and direction) as
// RNNWeights.
template <class T>
std::vector<nn::RNNWeights<T>> rnn_weights(const std::vector<DynTensor>& flat, bool has_biases,
                                           const char* op) {
  const size_t per = has_biases ? 4 : 2;
  KILN_CHECK(!flat.empty() && flat.size() % per == 0, ValueError, "[", op, "] expected groups of ",
             per, " parameters (weight_ih, weight_hh", has_biases ? ", bias_ih, bias_hh" : "",
             "), got ", flat.size(), " tensors");
  std::vector<nn::RNNWeights<T>> w;
  for (size_t i = 0; i < flat.size(); i += per) {
    nn::RNNWeights<T> r{flat[i].as<T>(), flat[i + 1].as<T>(), {}, {}};
    if (has_biases) r.b_ih = flat[i + 2].as<T>(), r.b_hh = flat[i + 3].as<T>();
    w.push_back(std::move(r));
  }
  return w;
}

nn::RNNOptions rnn_options(int64_t num_layers, bool has_biases, bool batch_first, double dropout,
                           bool bidirectional) {
  return {.num_layers = num_layers,
          .bias = has_biases,
          .batch_first = batch_first,
          .dropout = dropout,
          .bidirectional = bidirectional};
}

std::vector<const DynTensor*> pointers(const std::vector<DynTensor>& ts,
                                       std::vector<const DynTensor*> more = {}) {
  for (const DynTensor& t : ts) more.push_back(&t);
  return more;
}

// torch's _VF.lstm: (output, h_n, c_n). hx is empty (zeros) or [h_0, c_0].
py::tuple lstm_of(const DynTensor& input, const std::vector<DynTensor>& hx,
                  const std::vector<DynTensor>& params, bool has_biases, int64_t num_layers,
                  double dropout, bool train, bool bidirectional, bool batch_first) {
  KILN_CHECK(hx.empty() || hx.size() == 2, ValueError,
             "[nn::LSTM] expected hx to be a pair (h_0, c_0), got ", hx.size(), " tensors");
  const ScalarType st = one_dtype("nn::LSTM", input, pointers(params, pointers(hx)));
  return dispatch_floating(st, "nn::LSTM", [&]<class T>() -> py::tuple {
    const nn::LSTMState<T> s =
        hx.empty() ? nn::LSTMState<T>{} : nn::LSTMState<T>{hx[0].as<T>(), hx[1].as<T>()};
    const nn::LSTMOutput<T> r =
        F::lstm(input.as<T>(), s, rnn_weights<T>(params, has_biases, "nn::LSTM"),
                rnn_options(num_layers, has_biases, batch_first, dropout, bidirectional), train);
    return py::make_tuple(DynTensor(r.output), DynTensor(r.h_n), DynTensor(r.c_n));
  });
}

// torch's _VF.gru: (output, h_n).
py::tuple gru_of(const DynTensor& input, const OptTensor& hx, const std::vector<DynTensor>& params,
                 bool has_biases, int64_t num_layers, double dropout, bool train,
                 bool bidirectional, bool batch_first) {
  const ScalarType st = one_dtype("nn::GRU", input, pointers(params, {ptr(hx)}));
  return dispatch_floating(st, "nn::GRU", [&]<class T>() -> py::tuple {
    const nn::GRUOutput<T> r =
        F::gru(input.as<T>(), typed<T>(hx), rnn_weights<T>(params, has_biases, "nn::GRU"),
               rnn_options(num_layers, has_biases, batch_first, dropout, bidirectional), train);
    return py::make_tuple(DynTensor(r.output), DynTensor(r.h_n));
  });
}

py::tuple lstm_cell_of(const DynTensor& input, const std::vector<DynTensor>& hx,
                       const DynTensor& w_ih, const DynTensor& w_hh, const OptTensor& b_ih,
                       const OptTensor& b_hh) {
  KILN_CHECK(hx.empty() || hx.size() == 2, ValueError,
             "[nn::LSTMCell] expected hx to be a pair (h, c), got ", hx.size(), " tensors");
  const ScalarType st =
      one_dtype("nn::LSTMCell", input, pointers(hx, {&w_ih, &w_hh, ptr(b_ih), ptr(b_hh)}));
  return dispatch_floating(st, "nn::LSTMCell", [&]<class T>() -> py::tuple {
    const nn::LSTMState<T> s =
        hx.empty() ? nn::LSTMState<T>{} : nn::LSTMState<T>{hx[0].as<T>(), hx[1].as<T>()};
    const nn::LSTMState<T> r = F::lstm_cell(
        input.as<T>(), s, {w_ih.as<T>(), w_hh.as<T>(), typed<T>(b_ih), typed<T>(b_hh)});
    return py::make_tuple(DynTensor(r.h), DynTensor(r.c));
  });
}

DynTensor gru_cell_of(const DynTensor& input, const OptTensor& hx, const DynTensor& w_ih,
                      const DynTensor& w_hh, const OptTensor& b_ih, const OptTensor& b_hh) {
  const ScalarType st =
      one_dtype("nn::GRUCell", input, {ptr(hx), &w_ih, &w_hh, ptr(b_ih), ptr(b_hh)});
  return dispatch_floating(st, "nn::GRUCell", [&]<class T>() {
    return DynTensor(F::gru_cell(input.as<T>(), typed<T>(hx),
                                 {w_ih.as<T>(), w_hh.as<T>(), typed<T>(b_ih), typed<T>(b_hh)}));
  });
}

DynTensor sdpa_of(const DynTensor& q, const DynTensor& k, const DynTensor& v,
                  const OptTensor& attn_mask, double dropout_p, bool is_causal,
                  std::optional<double> scale) {
  constexpr const char* op = "scaled_dot_product_attention";
  const ScalarType st = one_dtype(op, q, {&k, &v});
  return dispatch_floating(st, op, [&]<class T>() {
    return DynTensor(F::scaled_dot_product_attention(q.as<T>(), k.as<T>(), v.as<T>(),
                                                     mask_of<T>(attn_mask, "attn_mask", op),
                                                     dropout_p, is_causal, scale));
  });
}

// MultiheadAttention's parameters as passed from Python (None where absent).
struct MhaArgs {
  OptTensor in_proj_weight, in_proj_bias, q_proj_weight, k_proj_weight, v_proj_weight;
  OptTensor out_proj_weight, out_proj_bias;

  std::vector<const DynTensor*> all() const {
    return {ptr(in_proj_weight), ptr(in_proj_bias),    ptr(q_proj_weight), ptr(k_proj_weight),
            ptr(v_proj_weight),  ptr(out_proj_weight), ptr(out_proj_bias)};
  }
  template <class T>
  nn::MultiheadAttentionWeights<T> typed_weights() const {
    return {typed<T>(in_proj_weight), typed<T>(q_proj_weight), typed<T>(k_proj_weight),
            typed<T>(v_proj_weight),  typed<T>(in_proj_bias),  typed<T>(out_proj_weight),
            typed<T>(out_proj_bias)};
  }
};

// (attn_output, attn_weights or None).
py::tuple mha_of(const DynTensor& query, const DynTensor& key, const DynTensor& value,
                 int64_t num_heads, const OptTensor& in_proj_weight, const OptTensor& in_proj_bias,
                 const OptTensor& q_proj_weight, const OptTensor& k_proj_weight,
                 const OptTensor& v_proj_weight, const OptTensor& out_proj_weight,
                 const OptTensor& out_proj_bias, const OptTensor& key_padding_mask,
                 bool need_weights, const OptTensor& attn_mask, bool average_attn_weights,
                 bool is_causal, double dropout_p, bool batch_first) {
  constexpr const char* op = "nn::MultiheadAttention";
  const MhaArgs w{in_proj_weight, in_proj_bias,    q_proj_weight, k_proj_weight,
                  v_proj_weight,  out_proj_weight, out_proj_bias};
  std::vector<const DynTensor*> ts = w.all();
  ts.push_back(&key);
  ts.push_back(&value);
  const ScalarType st = one_dtype(op, query, ts);
  return dispatch_floating(st, op, [&]<class T>() -> py::tuple {
    const nn::MultiheadAttentionOutput<T> r = F::multi_head_attention_forward(
        query.as<T>(), key.as<T>(), value.as<T>(), num_heads, w.typed_weights<T>(),
        mask_of<T>(key_padding_mask, "key_padding_mask", op), need_weights,
        mask_of<T>(attn_mask, "attn_mask", op), average_attn_weights, is_causal, dropout_p,
        batch_first);
    if (!r.attn_weights.defined()) return py::make_tuple(DynTensor(r.attn_output), py::none());
    return py::make_tuple(DynTensor(r.attn_output), DynTensor(r.attn_weights));
  });
}

// One TransformerEncoderLayer. `params` is the layer's state_dict values in torch's
// order, None for an absent bias or norm weight: in_proj_weight, in_proj_bias,
// out_proj.weight, out_proj.bias, linear1.weight, linear1.bias, linear2.weight,
// linear2.bias, norm1.weight, norm1.bias, norm2.weight, norm2.bias.
DynTensor encoder_layer_of(const DynTensor& src, const std::vector<OptTensor>& params,
                           int64_t nhead, const std::string& activation, double layer_norm_eps,
                           bool batch_first, bool norm_first, const std::vector<double>& dropouts,
                           const OptTensor& src_mask, const OptTensor& src_key_padding_mask,
                           bool is_causal) {
  constexpr const char* op = "nn::TransformerEncoderLayer";
  KILN_CHECK(params.size() == 12 && dropouts.size() == 4, ValueError, "[", op,
             "] expected 12 parameters and 4 dropout probabilities, got ", params.size(), " and ",
             dropouts.size());
  std::vector<const DynTensor*> ts;
  for (const OptTensor& p : params) ts.push_back(ptr(p));
  const ScalarType st = one_dtype(op, src, ts);
  const nn::EncoderLayerConfig c{.nhead = nhead,
                                 .activation = activation,
                                 .layer_norm_eps = layer_norm_eps,
                                 .batch_first = batch_first,
                                 .norm_first = norm_first,
                                 .attn_dropout = dropouts[0],
                                 .ff_dropout = dropouts[1],
                                 .dropout1 = dropouts[2],
                                 .dropout2 = dropouts[3]};
  return dispatch_floating(st, op, [&]<class T>() {
    auto p = [&](size_t i) { return typed<T>(params[i]); };
    const nn::TransformerEncoderLayerWeights<T> w{
        {p(0), {}, {}, {}, p(1), p(2), p(3)}, p(4), p(5), p(6), p(7), p(8), p(9), p(10), p(11)};
    return DynTensor(F::transformer_encoder_layer(
        src.as<T>(), w, c, mask_of<T>(src_mask, "src_mask", op),
        mask_of<T>(src_key_padding_mask, "src_key_padding_mask", op), is_causal));
  });
}

}  // namespace

void bind_nn_sequence(py::module_& m) {
  using py::arg;
  m.def("_lstm", &lstm_of, arg("input"), arg("hx"), arg("params"), arg("has_biases"),
        arg("num_layers"), arg("dropout"), arg("train"), arg("bidirectional"), arg("batch_first"));
  m.def("_gru", &gru_of, arg("input"), arg("hx"), arg("params"), arg("has_biases"),
        arg("num_layers"), arg("dropout"), arg("train"), arg("bidirectional"), arg("batch_first"));
  m.def("_lstm_cell", &lstm_cell_of, arg("input"), arg("hx"), arg("w_ih"), arg("w_hh"),
        arg("b_ih") = py::none(), arg("b_hh") = py::none());
  m.def("_gru_cell", &gru_cell_of, arg("input"), arg("hx"), arg("w_ih"), arg("w_hh"),
        arg("b_ih") = py::none(), arg("b_hh") = py::none());
  m.def("_scaled_dot_product_attention", &sdpa_of, arg("query"), arg("key"), arg("value"),
        arg("attn_mask") = py::none(), arg("dropout_p") = 0.0, arg("is_causal") = false,
        arg("scale") = py::none());
  m.def("_multi_head_attention_forward", &mha_of, arg("query"), arg("key"), arg("value"),
        arg("num_heads"), arg("in_proj_weight"), arg("in_proj_bias"), arg("q_proj_weight"),
        arg("k_proj_weight"), arg("v_proj_weight"), arg("out_proj_weight"), arg("out_proj_bias"),
        arg("key_padding_mask"), arg("need_weights"), arg("attn_mask"), arg("average_attn_weights"),
        arg("is_causal"), arg("dropout_p"), arg("batch_first"));
  m.def("_transformer_encoder_layer", &encoder_layer_of, arg("src"), arg("params"), arg("nhead"),
        arg("activation"), arg("layer_norm_eps"), arg("batch_first"), arg("norm_first"),
        arg("dropouts"), arg("src_mask"), arg("src_key_padding_mask"), arg("is_causal"));
}

}  // namespace kiln::python
