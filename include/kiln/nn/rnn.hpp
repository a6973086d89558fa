// SPDX-License-Identifier: BSD-3-Clause
// Recurrent layers: LSTM and GRU over sequences, LSTMCell and GRUCell for one step
// (torch.nn's names, parameter names and order, defaults, formulas and initialisation).
#pragma once

#include <any>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/autograd/function.hpp"
#include "kiln/expr/ops.hpp"
#include "kiln/nn/init.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/nn/repr_util.hpp"
#include "kiln/ops/dropout.hpp"
#include "kiln/ops/join.hpp"
#include "kiln/ops/matmul.hpp"

namespace kiln::nn {

// Note [Recurrent layers]
// The input-to-hidden product x_t · W_ihᵀ does not depend on the recurrence, so each layer
// and direction computes it for every time step in one GEMM over [L * N, H_in], and the
// time loop does only what must be sequential: one [N, H] · [H, G * H] GEMM and the gate
// math. The LSTM folds b_ih + b_hh into that projection; the GRU keeps b_hh in the step,
// as r multiplies W_hn h + b_hn. Each new state is one fused expression over views of the
// gate pre-activations (one evaluated tensor, one autograd node): c' = σ(f) c + σ(i)
// tanh(g), then h' = σ(o) tanh(c'); the GRU's h' = (h - n) z + n, as torch's CPU kernel
// writes it. (addmm with the projection as C would save the LSTM's add, but W_hhᵀ's
// gradient then reaches the leaf as a transposed view per step, and summing those
// strided made backward over 2x slower.)
// The projection is split into steps by detail::unbind_steps, not select: a select's
// backward writes its gradient into zeros of the whole input, so L steps cost O(L²) in
// backward (5x slower at L = 400); unbind_steps' backward stacks the step gradients once.
// Outputs are stacked (whose backward is views) in time order, so the reverse direction
// needs no flip.
// The whole stack runs in functional::lstm / gru from a list of RNNWeights (torch's
// _VF.lstm), which the modules call with their parameters and Python's nn.LSTM calls
// with its own: one call per forward, whatever the length.

/// Options of LSTM and GRU, torch's defaults, for designated initialisers:
/// `LSTM<float>(10, 20, {.num_layers = 2, .bidirectional = true})`.
struct RNNOptions {
  int64_t num_layers = 1;
  bool bias = true;
  /// Input and output are [N, L, H] instead of [L, N, H] (the state keeps its layout).
  bool batch_first = false;
  /// Dropout on the output of every layer but the last, in training mode.
  double dropout = 0.0;
  bool bidirectional = false;
};

/// The state of an LSTM: hidden h and cell c. Both undefined means zeros.
template <class T = float, class D = CPU>
struct LSTMState {
  Tensor<T, D> h, c;
};

/// LSTM's result: output [L, N, D * H] (D = 2 when bidirectional; [N, L, D * H] when
/// batch_first, [L, D * H] unbatched) and the final states h_n, c_n
/// [num_layers * D, N, H], layer-major, the reverse direction second.
template <class T = float, class D = CPU>
struct LSTMOutput {
  Tensor<T, D> output, h_n, c_n;
};

/// GRU's result: output as LSTMOutput's and the final hidden state h_n.
template <class T = float, class D = CPU>
struct GRUOutput {
  Tensor<T, D> output, h_n;
};

/// The parameters of one layer and direction (b_ih and b_hh undefined without bias).
template <class T = float, class D = CPU>
struct RNNWeights {
  Tensor<T, D> w_ih, w_hh, b_ih, b_hh;
};

namespace detail {

// unbind along `dim` whose backward is one stack of the step gradients (Note [Recurrent
// layers]); the engine zero-fills the gradients of steps that got none.
template <class T, class D>
struct UnbindSteps : autograd::Function<UnbindSteps<T, D>> {
  static constexpr const char* name = "UnbindSteps";
  static std::vector<Tensor<T, D>> forward(autograd::AutogradContext& ctx, const Tensor<T, D>& x,
                                           int64_t dim) {
    ctx.saved_data["dim"] = dim;
    return kiln::unbind(x, dim);
  }
  static std::vector<AnyTensor> backward(autograd::AutogradContext& ctx,
                                         std::vector<Tensor<T, D>> g) {
    return {AnyTensor(kiln::stack(g, std::any_cast<int64_t>(ctx.saved_data.at("dim"))))};
  }
};

template <class T, class D>
std::vector<Tensor<T, D>> unbind_steps(const Tensor<T, D>& x, int64_t dim) {
  return UnbindSteps<T, D>::apply(x, dim);
}

// xw: x_t · W_ihᵀ + b_ih + b_hh [N, 4H]; gate order i, f, g, o as torch's.
template <class T, class D>
LSTMState<T, D> lstm_step(const Tensor<T, D>& xw, const LSTMState<T, D>& s,
                          const Tensor<T, D>& w_hh) {
  const int64_t H = s.h.size(1);
  const Tensor<T, D> gates(xw + kiln::linear(s.h, w_hh));
  const Tensor<T, D> i = gates.narrow(1, 0, H), f = gates.narrow(1, H, H);
  const Tensor<T, D> g = gates.narrow(1, 2 * H, H), o = gates.narrow(1, 3 * H, H);
  Tensor<T, D> c(kiln::sigmoid(f) * s.c + kiln::sigmoid(i) * kiln::tanh(g));
  Tensor<T, D> h(kiln::sigmoid(o) * kiln::tanh(c));
  return {std::move(h), std::move(c)};
}

// xw: x_t · W_ihᵀ + b_ih [N, 3H]; gate order r, z, n as torch's.
template <class T, class D>
Tensor<T, D> gru_step(const Tensor<T, D>& xw, const Tensor<T, D>& h, const Tensor<T, D>& w_hh,
                      const Tensor<T, D>& b_hh) {
  const int64_t H = h.size(1);
  const Tensor<T, D> hw = b_hh.defined() ? kiln::linear(h, w_hh, b_hh) : kiln::linear(h, w_hh);
  auto r = kiln::sigmoid(xw.narrow(1, 0, H) + hw.narrow(1, 0, H));
  auto z = kiln::sigmoid(xw.narrow(1, H, H) + hw.narrow(1, H, H));
  auto n = kiln::tanh(xw.narrow(1, 2 * H, H) + r * hw.narrow(1, 2 * H, H));
  return Tensor<T, D>((h - n) * z + n);
}

// x · W_ihᵀ + b_ih for every row of x [..., H_in], plus b_hh when given (the LSTM folds
// it in here).
template <class T, class D>
Tensor<T, D> project(const Tensor<T, D>& x, const Tensor<T, D>& w_ih, const Tensor<T, D>& b_ih,
                     const Tensor<T, D>& b_hh = {}) {
  if (!b_ih.defined()) return kiln::linear(x, w_ih);
  if (!b_hh.defined()) return kiln::linear(x, w_ih, b_ih);
  return kiln::linear(x, w_ih, Tensor<T, D>(b_ih + b_hh));
}

template <class T, class D>
const Tensor<T, D>& hidden_of(const Tensor<T, D>& h) {
  return h;
}
template <class T, class D>
const Tensor<T, D>& hidden_of(const LSTMState<T, D>& s) {
  return s.h;
}

// The name torch gives a layer's parameter ("weight_ih_l1_reverse").
inline std::string rnn_param_name(const char* what, int64_t layer, bool reverse) {
  return std::string(what) + "_l" + std::to_string(layer) + (reverse ? "_reverse" : "");
}

// Checks the options and that `w` holds every layer's and direction's parameters in
// RNNBase's layout for a `gates`-gate layer; returns the hidden size.
template <class T, class D>
int64_t check_rnn_weights(std::span<const RNNWeights<T, D>> w, int64_t gates, const RNNOptions& o,
                          const char* op) {
  KILN_CHECK(o.num_layers > 0, ValueError, "[", op, "] num_layers must be positive, got ",
             o.num_layers);
  KILN_CHECK(o.dropout >= 0 && o.dropout <= 1, ValueError, "[", op,
             "] dropout must be a probability in [0, 1], got ", o.dropout);
  const int64_t dirs = o.bidirectional ? 2 : 1;
  KILN_CHECK(static_cast<int64_t>(w.size()) == o.num_layers * dirs, ValueError, "[", op,
             "] expected the weights of ", o.num_layers, " layer(s) x ", dirs,
             " direction(s), got ", w.size());
  KILN_CHECK(w[0].w_hh.defined() && w[0].w_hh.dim() == 2 && w[0].w_hh.size(1) > 0 &&
                 w[0].w_ih.defined() && w[0].w_ih.dim() == 2,
             ShapeError, "[", op, "] weight_ih_l0 and weight_hh_l0 must be matrices");
  const int64_t h = w[0].w_hh.size(1), g = gates * h;
  for (int64_t k = 0; k < o.num_layers; ++k)
    for (int64_t d = 0; d < dirs; ++d) {
      const RNNWeights<T, D>& p = w[static_cast<size_t>(k * dirs + d)];
      const Shape ih{g, k == 0 ? w[0].w_ih.size(1) : dirs * h}, hh{g, h}, b{g};
      auto check = [&](const Tensor<T, D>& t, const Shape& want, const char* what) {
        KILN_CHECK(t.defined() && t.shape() == want, ShapeError, "[", op, "] ",
                   rnn_param_name(what, k, d == 1), " must be ", want, ", got ",
                   t.defined() ? t.shape() : Shape{});
      };
      check(p.w_ih, ih, "weight_ih");
      check(p.w_hh, hh, "weight_hh");
      KILN_CHECK(p.b_ih.defined() == o.bias && p.b_hh.defined() == o.bias, ValueError, "[", op,
                 "] bias=", o.bias ? "true" : "false", " but layer ", k, d ? " (reverse)" : "",
                 o.bias ? " lacks" : " has", " bias_ih or bias_hh");
      if (o.bias) {
        check(p.b_ih, b, "bias_ih");
        check(p.b_hh, b, "bias_hh");
      }
    }
  return h;
}

// Checks the input and returns it batched ([L, N, H_in], or [N, L, H_in] batch_first),
// setting `batched` and the batch size.
template <class T, class D>
Tensor<T, D> rnn_batched_input(const Tensor<T, D>& x, int64_t input_size, bool batch_first,
                               const char* op, bool& batched, int64_t& batch) {
  KILN_CHECK((x.dim() == 2 || x.dim() == 3) && x.size(-1) == input_size, ShapeError, "[", op,
             "] expected input ", batch_first ? "[N, L, " : "[L, N, ", input_size,
             "] or unbatched [L, ", input_size, "], got ", x.shape());
  batched = x.dim() == 3;
  const Tensor<T, D> b = batched ? x : x.unsqueeze(batch_first ? 0 : 1);
  KILN_CHECK(b.size(batch_first ? 1 : 0) > 0, ShapeError, "[", op,
             "] expected a sequence length larger than 0, got input ", x.shape());
  batch = b.size(batch_first ? 0 : 1);
  return b;
}

// A given initial state (h_0 or c_0) checked against [k, N, H] ([k, H] unbatched) and
// split per layer and direction; zeros when undefined.
template <class T, class D>
std::vector<Tensor<T, D>> rnn_initial_state(const Tensor<T, D>& s, const char* what, bool batched,
                                            int64_t batch, int64_t k, int64_t hidden,
                                            const char* op) {
  if (!s.defined())
    return std::vector<Tensor<T, D>>(static_cast<size_t>(k), kiln::zeros<T>({batch, hidden}));
  const Shape want = batched ? Shape{k, batch, hidden} : Shape{k, hidden};
  KILN_CHECK(s.shape() == want, ShapeError, "[", op, "] expected ", what, " of shape ", want,
             " for ", batched ? "batched" : "unbatched", " input, got ", s.shape());
  return unbind_steps(batched ? s : s.unsqueeze(1), 0);
}

// Runs every layer and direction over x (batched); states[k] is the initial state of
// layer-direction k, step(x_t projection, state, weights) the next state. Returns the
// last layer's output and every final state.
template <class State, class T, class D, class Step>
std::pair<Tensor<T, D>, std::vector<State>> rnn_run(const Tensor<T, D>& x,
                                                    std::vector<State> states,
                                                    std::span<const RNNWeights<T, D>> weights,
                                                    const RNNOptions& o, bool training,
                                                    bool fold_b_hh, Step step) {
  const int64_t tdim = o.batch_first ? 1 : 0;
  const int64_t L = x.size(tdim), dirs = o.bidirectional ? 2 : 1;
  Tensor<T, D> layer_in = x;
  for (int64_t k = 0; k < o.num_layers; ++k) {
    if (k > 0) layer_in = kiln::dropout(layer_in, o.dropout, training);
    std::vector<Tensor<T, D>> outs;
    for (int64_t d = 0; d < dirs; ++d) {
      const RNNWeights<T, D>& w = weights[static_cast<size_t>(k * dirs + d)];
      const std::vector<Tensor<T, D>> xs = unbind_steps(
          project(layer_in, w.w_ih, w.b_ih, fold_b_hh ? w.b_hh : Tensor<T, D>()), tdim);
      std::vector<Tensor<T, D>> hs(static_cast<size_t>(L));
      State& s = states[static_cast<size_t>(k * dirs + d)];
      for (int64_t i = 0; i < L; ++i) {
        const auto t = static_cast<size_t>(d ? L - 1 - i : i);
        s = step(xs[t], s, w);
        hs[t] = hidden_of(s);
      }
      outs.push_back(kiln::stack(hs, tdim));
    }
    layer_in = dirs == 1 ? outs[0] : kiln::cat(outs, 2);
  }
  return {std::move(layer_in), std::move(states)};
}

// A cell's weights checked (weight_ih [G * H, H_in], weight_hh [G * H, H], both biases
// [G * H] or neither); returns H.
template <class T, class D>
int64_t check_cell_weights(const RNNWeights<T, D>& w, int64_t gates, const char* op) {
  KILN_CHECK(w.w_ih.defined() && w.w_hh.defined() && w.w_ih.dim() == 2 && w.w_hh.dim() == 2 &&
                 w.w_hh.size(1) > 0,
             ShapeError, "[", op, "] weight_ih and weight_hh must be matrices");
  const int64_t h = w.w_hh.size(1), g = gates * h;
  KILN_CHECK(w.w_ih.size(0) == g && w.w_hh.size(0) == g, ShapeError, "[", op,
             "] weight_ih and weight_hh must have ", gates, " * hidden_size = ", g,
             " rows, got weight_ih ", w.w_ih.shape(), " and weight_hh ", w.w_hh.shape());
  KILN_CHECK(w.b_ih.defined() == w.b_hh.defined(), ValueError, "[", op,
             "] bias_ih and bias_hh must be given together or not at all");
  KILN_CHECK(!w.b_ih.defined() || (w.b_ih.shape() == Shape{g} && w.b_hh.shape() == Shape{g}),
             ShapeError, "[", op, "] bias_ih and bias_hh must be [", g, "], got ", w.b_ih.shape(),
             " and ", w.b_hh.shape());
  return h;
}

// A cell's x [N, H_in] or [H_in], returned as [N, H_in].
template <class T, class D>
Tensor<T, D> cell_batched_input(const Tensor<T, D>& x, int64_t input_size, const char* op) {
  KILN_CHECK((x.dim() == 1 || x.dim() == 2) && x.size(-1) == input_size, ShapeError, "[", op,
             "] expected input [N, ", input_size, "] or [", input_size, "], got ", x.shape());
  return x.dim() == 2 ? x : x.unsqueeze(0);
}

// A cell's state (h or c) checked against [N, H] ([H] for an unbatched input), as [N, H];
// zeros when undefined.
template <class T, class D>
Tensor<T, D> cell_batched_state(const Tensor<T, D>& s, const Tensor<T, D>& input, int64_t hidden,
                                const char* what, const char* op) {
  const int64_t n = input.dim() == 2 ? input.size(0) : 1;
  if (!s.defined()) return kiln::zeros<T>({n, hidden});
  const Shape want = input.dim() == 2 ? Shape{n, hidden} : Shape{hidden};
  KILN_CHECK(s.shape() == want, ShapeError, "[", op, "] expected ", what, " of shape ", want,
             " for input ", input.shape(), ", got ", s.shape());
  return input.dim() == 2 ? s : s.unsqueeze(0);
}

}  // namespace detail

namespace functional {

/// torch's _VF.lstm: the LSTM whose parameters are `weights` (layer-major, the forward
/// direction first, as RNNBase::all_weights) over `input`, from the state hx (zeros when
/// undefined). options.num_layers, bias and bidirectional must describe `weights`;
/// batch_first sets the layout; dropout acts between layers when `training`. Shapes and
/// formulas as nn::LSTM's (Note [Recurrent layers]).
template <class T, class D>
LSTMOutput<T, D> lstm(const Tensor<T, D>& input, const LSTMState<T, D>& hx,
                      std::type_identity_t<std::span<const RNNWeights<T, D>>> weights,
                      const RNNOptions& options, bool training) {
  constexpr const char* op = "nn::LSTM";
  KILN_CHECK(hx.h.defined() == hx.c.defined(), ValueError, "[", op,
             "] h_0 and c_0 must be given together or not at all");
  const int64_t hidden = nn::detail::check_rnn_weights(weights, 4, options, op);
  const int64_t k = static_cast<int64_t>(weights.size());
  bool batched = false;
  int64_t batch = 0;
  const Tensor<T, D> x = nn::detail::rnn_batched_input(input, weights[0].w_ih.size(1),
                                                       options.batch_first, op, batched, batch);
  const std::vector<Tensor<T, D>> h0 =
      nn::detail::rnn_initial_state(hx.h, "h_0", batched, batch, k, hidden, op);
  const std::vector<Tensor<T, D>> c0 =
      nn::detail::rnn_initial_state(hx.c, "c_0", batched, batch, k, hidden, op);
  std::vector<LSTMState<T, D>> init;
  for (size_t i = 0; i < h0.size(); ++i) init.push_back({h0[i], c0[i]});
  auto [out, last] = nn::detail::rnn_run(
      x, std::move(init), weights, options, training, true,
      [](const Tensor<T, D>& xw, const LSTMState<T, D>& s, const RNNWeights<T, D>& w) {
        return nn::detail::lstm_step(xw, s, w.w_hh);
      });
  std::vector<Tensor<T, D>> hs, cs;
  for (const LSTMState<T, D>& s : last) {
    hs.push_back(s.h);
    cs.push_back(s.c);
  }
  Tensor<T, D> h_n = kiln::stack(hs), c_n = kiln::stack(cs);
  if (!batched) return {out.squeeze(options.batch_first ? 0 : 1), h_n.squeeze(1), c_n.squeeze(1)};
  return {std::move(out), std::move(h_n), std::move(c_n)};
}

/// torch's _VF.gru: as lstm, with the GRU's three gates and state h_0 alone.
template <class T, class D>
GRUOutput<T, D> gru(const Tensor<T, D>& input, const Tensor<T, D>& h_0,
                    std::type_identity_t<std::span<const RNNWeights<T, D>>> weights,
                    const RNNOptions& options, bool training) {
  constexpr const char* op = "nn::GRU";
  const int64_t hidden = nn::detail::check_rnn_weights(weights, 3, options, op);
  bool batched = false;
  int64_t batch = 0;
  const Tensor<T, D> x = nn::detail::rnn_batched_input(input, weights[0].w_ih.size(1),
                                                       options.batch_first, op, batched, batch);
  auto [out, last] = nn::detail::rnn_run(
      x,
      nn::detail::rnn_initial_state(h_0, "h_0", batched, batch,
                                    static_cast<int64_t>(weights.size()), hidden, op),
      weights, options, training, false,
      [](const Tensor<T, D>& xw, const Tensor<T, D>& h, const RNNWeights<T, D>& w) {
        return nn::detail::gru_step(xw, h, w.w_hh, w.b_hh);
      });
  Tensor<T, D> h_n = kiln::stack(last);
  if (!batched) return {out.squeeze(options.batch_first ? 0 : 1), h_n.squeeze(1)};
  return {std::move(out), std::move(h_n)};
}

/// torch.lstm_cell: one LSTM step of x [N, H_in] or [H_in] from hx = {h, c} ([N, H] or
/// [H], zeros when undefined) with w (weight_ih [4H, H_in], weight_hh [4H, H], both
/// biases [4H] or neither); returns {h', c'} of the state's shape.
template <class T, class D>
LSTMState<T, D> lstm_cell(const Tensor<T, D>& input, const LSTMState<T, D>& hx,
                          const RNNWeights<T, D>& w) {
  constexpr const char* op = "nn::LSTMCell";
  KILN_CHECK(hx.h.defined() == hx.c.defined(), ValueError, "[", op,
             "] h and c must be given together or not at all");
  const int64_t hidden = nn::detail::check_cell_weights(w, 4, op);
  const Tensor<T, D> x = nn::detail::cell_batched_input(input, w.w_ih.size(1), op);
  const LSTMState<T, D> s{nn::detail::cell_batched_state(hx.h, input, hidden, "h", op),
                          nn::detail::cell_batched_state(hx.c, input, hidden, "c", op)};
  LSTMState<T, D> r =
      nn::detail::lstm_step(nn::detail::project(x, w.w_ih, w.b_ih, w.b_hh), s, w.w_hh);
  if (input.dim() == 1) return {r.h.squeeze(0), r.c.squeeze(0)};
  return r;
}

/// torch.gru_cell: one GRU step of x [N, H_in] or [H_in] from h ([N, H] or [H], zeros
/// when undefined) with w (weight_ih [3H, H_in], weight_hh [3H, H], both biases [3H] or
/// neither); returns h'.
template <class T, class D>
Tensor<T, D> gru_cell(const Tensor<T, D>& input, const Tensor<T, D>& h, const RNNWeights<T, D>& w) {
  constexpr const char* op = "nn::GRUCell";
  const int64_t hidden = nn::detail::check_cell_weights(w, 3, op);
  const Tensor<T, D> x = nn::detail::cell_batched_input(input, w.w_ih.size(1), op);
  Tensor<T, D> r = nn::detail::gru_step(nn::detail::project(x, w.w_ih, w.b_ih),
                                        nn::detail::cell_batched_state(h, input, hidden, "h", op),
                                        w.w_hh, w.b_hh);
  return input.dim() == 1 ? r.squeeze(0) : r;
}

}  // namespace functional

/// What LSTM and GRU share (torch.nn.RNNBase): the parameters, for layer k and direction
/// d, weight_ih_l{k} [G * H, H_in of layer k], weight_hh_l{k} [G * H, H], bias_ih_l{k} and
/// bias_hh_l{k} [G * H], with the suffix "_reverse" for d = 1, registered layer by layer,
/// forward direction first (torch's state_dict order). Every one ~ U(-1/sqrt(H),
/// 1/sqrt(H)). G is the gate count: 4 for LSTM, 3 for GRU.
template <class T = float, class D = CPU>
class RNNBase : public Module<T, D> {
 public:
  /// The parameters of `layer` in the forward or reverse direction.
  const RNNWeights<T, D>& weights(int64_t layer, bool reverse = false) const {
    KILN_CHECK(layer >= 0 && layer < options.num_layers && (!reverse || options.bidirectional),
               IndexError, "[nn::", this->type_name(), "] no weights for layer ", layer,
               reverse ? " (reverse)" : "", " in a module of ", options.num_layers, " layers",
               options.bidirectional ? " (bidirectional)" : "");
    return all_weights[static_cast<size_t>(layer * num_directions() + (reverse ? 1 : 0))];
  }
  int64_t num_directions() const { return options.bidirectional ? 2 : 1; }

  void reset_parameters() {
    const double stdv = 1.0 / std::sqrt(double(hidden_size));
    for (const Tensor<T, D>& p : this->parameters(false)) init::uniform_(p, -stdv, stdv);
  }

  std::string extra_repr() const override {
    std::string s = std::to_string(input_size) + ", " + std::to_string(hidden_size);
    if (options.num_layers != 1) s += ", num_layers=" + std::to_string(options.num_layers);
    if (!options.bias) s += ", bias=False";
    if (options.batch_first) s += ", batch_first=True";
    if (options.dropout != 0) s += ", dropout=" + detail::py_float(options.dropout);
    if (options.bidirectional) s += ", bidirectional=True";
    return s;
  }

  int64_t input_size, hidden_size;
  RNNOptions options;
  /// Every layer's and direction's parameters, in registration order (aliases of the
  /// registered tensors).
  std::vector<RNNWeights<T, D>> all_weights;

 protected:
  RNNBase(std::string name, int64_t gates, int64_t input_size, int64_t hidden_size,
          RNNOptions options)
      : Module<T, D>(std::move(name)),
        input_size(input_size),
        hidden_size(hidden_size),
        options(options) {
    const std::string& n = this->type_name();
    KILN_CHECK(input_size > 0 && hidden_size > 0, ValueError, "[nn::", n,
               "] input_size and hidden_size must be positive, got ", input_size, " and ",
               hidden_size);
    KILN_CHECK(options.num_layers > 0, ValueError, "[nn::", n,
               "] num_layers must be positive, got ", options.num_layers);
    KILN_CHECK(options.dropout >= 0 && options.dropout <= 1, ValueError, "[nn::", n,
               "] dropout must be a probability in [0, 1], got ", options.dropout);
    const int64_t g = gates * hidden_size;
    for (int64_t k = 0; k < options.num_layers; ++k) {
      const int64_t in = k == 0 ? input_size : hidden_size * num_directions();
      for (int64_t d = 0; d < num_directions(); ++d) {
        const std::string sfx = "_l" + std::to_string(k) + (d ? "_reverse" : "");
        RNNWeights<T, D> w;
        w.w_ih = this->register_parameter("weight_ih" + sfx, Tensor<T, D>({g, in}));
        w.w_hh = this->register_parameter("weight_hh" + sfx, Tensor<T, D>({g, hidden_size}));
        if (options.bias) {
          w.b_ih = this->register_parameter("bias_ih" + sfx, Tensor<T, D>({g}));
          w.b_hh = this->register_parameter("bias_hh" + sfx, Tensor<T, D>({g}));
        }
        all_weights.push_back(std::move(w));
      }
    }
    reset_parameters();
  }
};

/// torch.nn.LSTM: a multi-layer long short-term memory over a sequence. For each step,
/// i, f, g, o = the four [H] chunks of x_t W_ihᵀ + b_ih + h W_hhᵀ + b_hh;
/// c' = σ(f) c + σ(i) tanh(g), h' = σ(o) tanh(c'). Input [L, N, H_in] ([N, L, H_in] with
/// batch_first, or unbatched [L, H_in]); h_0 and c_0 [num_layers * D, N, H] (zeros when
/// not given). See Note [Recurrent layers].
template <class T = float, class D = CPU>
class LSTM : public RNNBase<T, D> {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, RNNOptions options = {})
      : RNNBase<T, D>("LSTM", 4, input_size, hidden_size, options) {}

  LSTMOutput<T, D> forward(const Tensor<T, D>& input, const LSTMState<T, D>& hx = {}) {
    return functional::lstm(input, hx, this->all_weights, this->options, this->is_training());
  }
  LSTMOutput<T, D> operator()(const Tensor<T, D>& input, const LSTMState<T, D>& hx = {}) {
    return forward(input, hx);
  }
};

/// torch.nn.GRU: a multi-layer gated recurrent unit over a sequence. For each step, with
/// the [H] chunks r, z, n of W_ih and W_hh (and their biases):
/// r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
/// n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h. Shapes as LSTM's.
template <class T = float, class D = CPU>
class GRU : public RNNBase<T, D> {
 public:
  GRU(int64_t input_size, int64_t hidden_size, RNNOptions options = {})
      : RNNBase<T, D>("GRU", 3, input_size, hidden_size, options) {}

  GRUOutput<T, D> forward(const Tensor<T, D>& input, const Tensor<T, D>& h_0 = {}) {
    return functional::gru(input, h_0, this->all_weights, this->options, this->is_training());
  }
  GRUOutput<T, D> operator()(const Tensor<T, D>& input, const Tensor<T, D>& h_0 = {}) {
    return forward(input, h_0);
  }
};

/// What LSTMCell and GRUCell share (torch.nn.RNNCellBase): weight_ih [G * H, H_in],
/// weight_hh [G * H, H], bias_ih and bias_hh [G * H], all ~ U(-1/sqrt(H), 1/sqrt(H)).
template <class T = float, class D = CPU>
class RNNCellBase : public Module<T, D> {
 public:
  void reset_parameters() {
    const double stdv = 1.0 / std::sqrt(double(hidden_size));
    for (const Tensor<T, D>& p : this->parameters(false)) init::uniform_(p, -stdv, stdv);
  }
  std::string extra_repr() const override {
    std::string s = std::to_string(input_size) + ", " + std::to_string(hidden_size);
    if (!bias_ih.defined()) s += ", bias=False";
    return s;
  }

  int64_t input_size, hidden_size;
  Tensor<T, D> weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  RNNCellBase(std::string name, int64_t gates, int64_t input_size, int64_t hidden_size, bool bias)
      : Module<T, D>(std::move(name)), input_size(input_size), hidden_size(hidden_size) {
    KILN_CHECK(input_size > 0 && hidden_size > 0, ValueError, "[nn::", this->type_name(),
               "] input_size and hidden_size must be positive, got ", input_size, " and ",
               hidden_size);
    const int64_t g = gates * hidden_size;
    weight_ih = this->register_parameter("weight_ih", Tensor<T, D>({g, input_size}));
    weight_hh = this->register_parameter("weight_hh", Tensor<T, D>({g, hidden_size}));
    if (bias) {
      bias_ih = this->register_parameter("bias_ih", Tensor<T, D>({g}));
      bias_hh = this->register_parameter("bias_hh", Tensor<T, D>({g}));
    }
    reset_parameters();
  }
};

/// torch.nn.LSTMCell: one LSTM step. forward(x [N, H_in] or [H_in], {h, c} [N, H] or [H],
/// zeros when not given) returns {h', c'} of the state's shape.
template <class T = float, class D = CPU>
class LSTMCell : public RNNCellBase<T, D> {
 public:
  LSTMCell(int64_t input_size, int64_t hidden_size, bool bias = true)
      : RNNCellBase<T, D>("LSTMCell", 4, input_size, hidden_size, bias) {}

  LSTMState<T, D> forward(const Tensor<T, D>& input, const LSTMState<T, D>& hx = {}) {
    return functional::lstm_cell(input, hx,
                                 {this->weight_ih, this->weight_hh, this->bias_ih, this->bias_hh});
  }
  LSTMState<T, D> operator()(const Tensor<T, D>& input, const LSTMState<T, D>& hx = {}) {
    return forward(input, hx);
  }
};

/// torch.nn.GRUCell: one GRU step. forward(x [N, H_in] or [H_in], h [N, H] or [H], zeros
/// when not given) returns h'.
template <class T = float, class D = CPU>
class GRUCell : public RNNCellBase<T, D> {
 public:
  GRUCell(int64_t input_size, int64_t hidden_size, bool bias = true)
      : RNNCellBase<T, D>("GRUCell", 3, input_size, hidden_size, bias) {}

  Tensor<T, D> forward(const Tensor<T, D>& input, const Tensor<T, D>& h = {}) {
    return functional::gru_cell(input, h,
                                {this->weight_ih, this->weight_hh, this->bias_ih, this->bias_hh});
  }
  Tensor<T, D> operator()(const Tensor<T, D>& input, const Tensor<T, D>& h = {}) {
    return forward(input, h);
  }
};

}  // namespace kiln::nn
