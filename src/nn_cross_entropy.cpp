// SPDX-License-Identifier: BSD-3-Clause
// cross_entropy (class indices) and nll_loss: one fused pass over the logits forward and
// one backward (Note [Fused cross entropy]).
#include <cmath>
#include <limits>
#include <vector>

#include "kiln/core/parallel.hpp"
#include "kiln/nn/functional.hpp"  // with tensor.hpp: Tensor, autograd's record and GradMode
#include "kiln/tensor/factories.hpp"

// Note [Fused cross entropy]
// For logits x [N, C], targets t and class weights w (all 1 when not given), with
// label smoothing e, the loss of row i is
//   l_i = -sum_c q_ic log_softmax(x_i)_c,  q_ic = (1 - e) w_t [c == t] + e / C w_c,
// which is (1 - e) times torch's weighted NLL plus e / C times its smoothing term. With
// lse_i = logsumexp(x_i), l_i = S_i lse_i - sum_c q_ic x_ic where S_i = sum_c q_ic, and
//   d l_i / d x_ic = S_i softmax(x_i)_c - q_ic.
// The forward computes lse_i and l_i in one pass per row and keeps lse (N values) for the
// backward, which recomputes softmax from the saved logits in one more pass: log_softmax
// is never materialised. Rows whose target is ignore_index have q = 0. The mean reduction
// divides by sum_i w_{t_i} over counted rows (torch's weighted mean). nll_loss is the same
// with the input taken as log-probabilities: l_i = -w_t x_it, e = 0.
// Under create_graph the backward is written with recorded ops (softmax, products)
// instead, so the loss stays differentiable to any order.

namespace kiln::nn::functional::detail {
namespace {

// [N, C, d1, ...] viewed as [N, d1, ..., C] (other ranks as they are), and back: rows of
// the class dim become the rows the kernels walk.
template <class T>
Tensor<T, CPU> class_dim_last(const Tensor<T, CPU>& x) {
  if (x.dim() <= 2) return x;
  Dims perm;
  perm.push_back(0);
  for (int d = 2; d < x.dim(); ++d) perm.push_back(d);
  perm.push_back(1);
  return x.permute(perm);
}
// g [rows, C] in the layout of `shape` (the inverse of class_dim_last, made contiguous).
template <class T>
Tensor<T, CPU> class_dim_back(const Tensor<T, CPU>& g, const Shape& shape) {
  if (shape.size() <= 2) return g.reshape(shape);
  Shape moved;
  moved.push_back(shape[0]);
  for (int d = 2; d < shape.size(); ++d) moved.push_back(shape[d]);
  moved.push_back(shape[1]);
  Dims back;  // the inverse of (0, 2, ..., k - 1, 1)
  back.push_back(0);
  back.push_back(shape.size() - 1);
  for (int d = 1; d + 1 < shape.size(); ++d) back.push_back(d);
  return g.reshape(moved).permute(back).contiguous();
}

template <class T>
struct Prepared {
  Tensor<T, CPU> x2;        // [N, C] contiguous view of the logits
  Tensor<int64_t, CPU> t1;  // [N] contiguous targets
  Shape none_shape;         // shape of the unreduced loss
  int64_t n = 0, c = 0;
};

template <class T>
Prepared<T> prepare(const Tensor<T, CPU>& input, const Tensor<int64_t, CPU>& target,
                    const char* op) {
  Prepared<T> p;
  KILN_CHECK(input.dim() >= 1, ShapeError, "[", op, "] input must have a class dim, got shape ",
             input.shape());
  if (input.dim() == 1) {
    KILN_CHECK(target.dim() == 0, ShapeError, "[", op,
               "] an unbatched input [C] needs a 0-d target, got target shape ", target.shape(),
               " for input ", input.shape());
    p.c = input.shape()[0];
    p.n = 1;
    p.x2 = input.reshape({1, p.c}).contiguous();
    p.t1 = target.reshape({1}).contiguous();
    p.none_shape = Shape{};
    return p;
  }
  // [N, C, d1, ...] with target [N, d1, ...]: the class dim moves last.
  Shape want;
  for (int d = 0; d < input.dim(); ++d)
    if (d != 1) want.push_back(input.shape()[d]);
  KILN_CHECK(target.shape() == want, ShapeError, "[", op, "] target shape ", target.shape(),
             " does not match input shape ", input.shape(), " (expected target ", want, ")");
  p.c = input.shape()[1];
  p.n = input.numel() / std::max<int64_t>(p.c, 1);
  p.x2 = class_dim_last(input).contiguous().reshape({p.n, p.c});
  p.t1 = target.contiguous().reshape({p.n});
  p.none_shape = want;
  return p;
}

template <class T>
struct Forward {
  std::vector<T> loss;    // per row
  std::vector<T> lse;     // per row (cross entropy)
  double weight_sum = 0;  // sum of w_t over counted rows
};

template <class T>
Forward<T> run_forward(const Prepared<T>& p, const T* w, int64_t ignore, double eps, bool logp,
                       const char* op) {
  Forward<T> f;
  f.loss.assign(static_cast<std::size_t>(p.n), T(0));
  f.lse.assign(static_cast<std::size_t>(p.n), T(0));
  const T* x = p.x2.data();
  const int64_t* t = p.t1.data();
  const int64_t C = p.c;
  for (int64_t i = 0; i < p.n; ++i)  // checked before the parallel loop: it may throw
    KILN_CHECK(t[i] == ignore || (t[i] >= 0 && t[i] < C), IndexError, "[", op, "] target ", t[i],
               " is out of bounds for ", C, " classes (row ", i, ")");
  double w_all = 0;  // sum_c w_c
  for (int64_t c = 0; c < C; ++c) w_all += w ? double(w[c]) : 1.0;
  std::vector<double> wrow(static_cast<std::size_t>(p.n), 0.0);
  parallel_for(p.n, std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1)), 1,
               [&](int64_t b, int64_t e) {
                 for (int64_t i = b; i < e; ++i) {
                   if (t[i] == ignore) continue;
                   const T* xi = x + i * C;
                   const double wt = w ? double(w[t[i]]) : 1.0;
                   wrow[std::size_t(i)] = wt;
                   if (logp) {
                     f.loss[std::size_t(i)] = T(-wt * double(xi[t[i]]));
                     continue;
                   }
                   double m = -std::numeric_limits<double>::infinity();
                   for (int64_t c = 0; c < C; ++c) m = std::max(m, double(xi[c]));
                   double s = 0, wx = 0;
                   for (int64_t c = 0; c < C; ++c) {
                     s += std::exp(double(xi[c]) - m);
                     if (eps > 0) wx += (w ? double(w[c]) : 1.0) * double(xi[c]);
                   }
                   const double lse = m + std::log(s);
                   f.lse[std::size_t(i)] = T(lse);
                   // S lse - sum_c q_c x_c
                   const double S = (1 - eps) * wt + eps / double(C) * w_all;
                   const double qx = (1 - eps) * wt * double(xi[t[i]]) + eps / double(C) * wx;
                   f.loss[std::size_t(i)] = T(S * lse - qx);
                 }
               });
  for (double v : wrow) f.weight_sum += v;
  return f;
}

}  // namespace

template <class T>
Tensor<T, CPU> cross_entropy_rows(const Tensor<T, CPU>& input, const Tensor<int64_t, CPU>& target,
                                  const ClassLossOptions<T>& options, bool log_probs_input,
                                  const char* op) {
  const double eps = options.label_smoothing;
  KILN_CHECK(eps >= 0 && eps <= 1, ValueError, "[", op, "] label_smoothing must be in [0, 1], got ",
             eps);
  const Prepared<T> p = prepare(input, target, op);
  Tensor<T, CPU> w;
  if (options.weight.defined()) {
    KILN_CHECK(options.weight.shape() == Shape{p.c}, ShapeError, "[", op,
               "] weight must be [C] = [", p.c, "], got ", options.weight.shape());
    w = options.weight.contiguous();
  }
  const Reduction red = options.reduction;
  const int64_t ignore = options.ignore_index;
  Forward<T> f = run_forward(p, w.defined() ? w.data() : nullptr, ignore, eps, log_probs_input, op);

  Tensor<T, CPU> out;
  if (red == Reduction::none) {
    out = Tensor<T, CPU>(p.none_shape);
    std::copy(f.loss.begin(), f.loss.end(), out.data());
  } else {
    double total = 0;
    for (T v : f.loss) total += double(v);
    if (red == Reduction::mean) total /= f.weight_sum;  // 0 / 0 = NaN when all are ignored
    out = kiln::full<T>({}, static_cast<T>(total));
  }

  if (autograd::needs_grad(input)) {
    // Per-row scale of the incoming gradient (1 / weight_sum for mean).
    const double scale = red == Reduction::mean ? 1.0 / f.weight_sum : 1.0;
    Tensor<T, CPU> lse({p.n});
    std::copy(f.lse.begin(), f.lse.end(), lse.data());
    autograd::record(
        log_probs_input ? "NllLossBackward" : "CrossEntropyLossBackward", out,
        autograd::collect_edges(input),
        [sx = autograd::save(input), st = autograd::save(p.t1), sw = autograd::save(w), lse, red,
         scale, eps, ignore, log_probs_input, n = p.n, c = p.c,
         in_shape = input.shape()](std::vector<AnyTensor>& g) {
          const Tensor<T, CPU>& go = g[0].as<T, CPU>();
          const Tensor<T, CPU> xin = sx.unpack();
          const Tensor<int64_t, CPU> t = st.unpack();
          const Tensor<T, CPU> wt = sw.unpack();
          // q [N, C] (constant): the target distribution of each row, 0 for ignored rows.
          Tensor<T, CPU> q({n, c});
          q.zero_();
          {
            T* qd = q.data();
            const int64_t* td = t.data();
            for (int64_t i = 0; i < n; ++i) {
              if (td[i] == ignore) continue;
              const double wti = wt.defined() ? double(wt.data()[td[i]]) : 1.0;
              qd[i * c + td[i]] += T((1 - eps) * wti);
              if (eps > 0)
                for (int64_t k = 0; k < c; ++k)
                  qd[i * c + k] += T(eps / double(c) * (wt.defined() ? double(wt.data()[k]) : 1.0));
            }
          }
          // The incoming gradient per row: [N, 1].
          Tensor<T, CPU> gr;
          if (red == Reduction::none)
            gr = go.reshape({n, 1});
          else
            gr = Tensor<T, CPU>(go.reshape({1, 1}).expand({n, 1}) * static_cast<T>(scale));
          const Tensor<T, CPU> x2 = class_dim_last(xin).reshape({n, c});
          Tensor<T, CPU> gx;
          if (log_probs_input) {
            gx = Tensor<T, CPU>(-(q * gr));
          } else if (autograd::GradMode::is_enabled()) {
            // create_graph: recorded ops, differentiable again.
            const Tensor<T, CPU> S = kiln::sum(q, 1, /*keepdim=*/true);
            gx = Tensor<T, CPU>((kiln::softmax(x2, 1) * S - q) * gr);
          } else {
            // The fused pass: S softmax(x) - q, scaled, from the saved lse.
            gx = Tensor<T, CPU>({n, c});
            const Tensor<T, CPU> xc = x2.contiguous();
            const T* xd = xc.data();
            const T* qd = q.data();
            const T* ld = lse.data();
            const Tensor<T, CPU> grc = gr.contiguous();
            const T* gd = grc.data();
            T* od = gx.data();
            parallel_for(n, std::max<int64_t>(1, 8192 / std::max<int64_t>(c, 1)), 1,
                         [&](int64_t b, int64_t e) {
                           for (int64_t i = b; i < e; ++i) {
                             double S = 0;
                             for (int64_t k = 0; k < c; ++k) S += double(qd[i * c + k]);
                             const double gi = double(gd[i]);
                             for (int64_t k = 0; k < c; ++k)
                               od[i * c + k] =
                                   T(gi * (S * std::exp(double(xd[i * c + k]) - double(ld[i])) -
                                           double(qd[i * c + k])));
                           }
                         });
          }
          return autograd::grads(class_dim_back(gx, in_shape));
        });
  }
  return out;
}

template Tensor<float, CPU> cross_entropy_rows<float>(const Tensor<float, CPU>&,
                                                      const Tensor<int64_t, CPU>&,
                                                      const ClassLossOptions<float>&, bool,
                                                      const char*);
template Tensor<double, CPU> cross_entropy_rows<double>(const Tensor<double, CPU>&,
                                                        const Tensor<int64_t, CPU>&,
                                                        const ClassLossOptions<double>&, bool,
                                                        const char*);

}  // namespace kiln::nn::functional::detail
