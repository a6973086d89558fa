// SPDX-License-Identifier: BSD-3-Clause
// gradcheck / gradgradcheck: analytic gradients against central finite differences.
#pragma once

#include <cmath>
#include <sstream>
#include <type_traits>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln::autograd {

namespace detail {
inline std::vector<Tensor<double>> as_outputs(Tensor<double> t) { return {std::move(t)}; }
inline std::vector<Tensor<double>> as_outputs(std::vector<Tensor<double>> v) { return v; }

// Coordinates of flat index k in `shape` (row-major).
inline std::vector<int64_t> unravel(int64_t k, const Shape& shape) {
  std::vector<int64_t> c(shape.size());
  for (int d = shape.size() - 1; d >= 0; --d) {
    c[d] = k % shape[d];
    k /= shape[d];
  }
  return c;
}
inline std::string coords_str(const std::vector<int64_t>& c) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < c.size(); ++i) os << (i ? ", " : "") << c[i];
  os << ")";
  return os.str();
}
}  // namespace detail

/// Checks the gradients of `fn` (inputs -> Tensor<double> or vector of them) at `inputs`
/// against central differences with step `eps`: every Jacobian entry must satisfy
/// |analytic - numeric| <= atol + rtol * |numeric|. Only inputs that require grad are
/// checked; they may be non-contiguous views, but must not overlap themselves (no expanded
/// inputs: pass the small tensor and let the op broadcast). Returns true, or throws
/// AutogradError naming the output, the input and the element that disagree.
template <class F>
bool gradcheck(F fn, const std::vector<Tensor<double>>& inputs, double eps = 1e-6,
               double atol = 1e-5, double rtol = 1e-3) {
  std::vector<size_t> diff;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) diff.push_back(i);
  KILN_CHECK(!diff.empty(), ValueError, "[gradcheck] no input requires grad");
  std::vector<Tensor<double>> outs = detail::as_outputs(fn(inputs));
  std::vector<Tensor<double>> diff_inputs;
  for (size_t i : diff) diff_inputs.push_back(inputs[i]);

  // Numerical Jacobian, one column per input element: 2 evaluations of fn per element.
  // Grad mode stays on: gradgradcheck's fn computes a gradient itself.
  std::vector<std::vector<std::vector<double>>> num(diff.size());  // [input][element][flat out]
  for (size_t j = 0; j < diff.size(); ++j) {
    const Tensor<double>& x = inputs[diff[j]];
    num[j].resize(static_cast<size_t>(x.numel()));
    for (int64_t m = 0; m < x.numel(); ++m) {
      double& cell = x.at(detail::unravel(m, x.shape()));
      const double orig = cell;
      // Values are copied out at once: an output may alias an input (a gradient that is
      // the incoming one passed through), which the next perturbation changes.
      auto values = [&] {
        std::vector<double> v;
        for (const Tensor<double>& t : detail::as_outputs(fn(inputs))) {
          const Tensor<double> c = t.contiguous();
          v.insert(v.end(), c.data(), c.data() + c.numel());
        }
        return v;
      };
      cell = orig + eps;
      const std::vector<double> plus = values();
      cell = orig - eps;
      const std::vector<double> minus = values();
      cell = orig;
      std::vector<double>& col = num[j][static_cast<size_t>(m)];
      for (size_t k = 0; k < plus.size(); ++k) col.push_back((plus[k] - minus[k]) / (2 * eps));
    }
  }

  int64_t base = 0;  // offset of output o in a column
  for (size_t o = 0; o < outs.size(); ++o) {
    const Tensor<double>& out = outs[o];
    for (int64_t k = 0; k < out.numel(); ++k) {
      // An output outside the graph has a zero analytic Jacobian: the finite differences
      // must then be zero too (a backward that is not recorded fails here).
      std::vector<Tensor<double>> an(diff.size());
      if (out.requires_grad()) {
        Tensor<double> go(out.shape());
        go.zero_();
        go.data()[k] = 1.0;
        an = grad<double, CPU>({out}, diff_inputs, {go}, true, false, true);
      }
      for (size_t j = 0; j < diff.size(); ++j) {
        const Tensor<double>& x = inputs[diff[j]];
        for (int64_t m = 0; m < x.numel(); ++m) {
          const std::vector<int64_t> c = detail::unravel(m, x.shape());
          const double n = num[j][static_cast<size_t>(m)][static_cast<size_t>(base + k)];
          const double a = an[j].defined() ? an[j].at(c) : 0.0;
          KILN_CHECK(
              std::abs(a - n) <= atol + rtol * std::abs(n) || (std::isnan(a) && std::isnan(n)),
              AutogradError, "[gradcheck] Jacobian mismatch for output ", o,
              " with respect to input ", diff[j], ": d out",
              detail::coords_str(detail::unravel(k, out.shape())), " / d in", detail::coords_str(c),
              " numerical ", n, ", analytical ", a);
        }
      }
    }
    base += out.numel();
  }
  return true;
}

/// Checks second derivatives: gradcheck of (inputs, v) -> grad(fn(inputs), inputs, v)
/// computed with create_graph, for a random v per output.
template <class F>
bool gradgradcheck(F fn, const std::vector<Tensor<double>>& inputs, double eps = 1e-6,
                   double atol = 1e-5, double rtol = 1e-3) {
  std::vector<size_t> diff;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].requires_grad()) diff.push_back(i);
  KILN_CHECK(!diff.empty(), ValueError, "[gradgradcheck] no input requires grad");
  const std::vector<Tensor<double>> outs = detail::as_outputs(fn(inputs));
  std::vector<Tensor<double>> all = inputs;
  for (const Tensor<double>& o : outs) {
    Tensor<double> v(o.shape());
    for (int64_t k = 0; k < v.numel(); ++k) v.data()[k] = 0.5 + 0.37 * static_cast<double>(k % 7);
    all.push_back(v.requires_grad_());
  }
  const size_t n_in = inputs.size();
  auto first = [fn, n_in, diff](const std::vector<Tensor<double>>& xs) {
    std::vector<Tensor<double>> in(xs.begin(), xs.begin() + static_cast<long>(n_in));
    std::vector<Tensor<double>> vs(xs.begin() + static_cast<long>(n_in), xs.end());
    std::vector<Tensor<double>> o = detail::as_outputs(fn(in));
    std::vector<Tensor<double>> d;
    for (size_t i : diff) d.push_back(in[i]);
    std::vector<Tensor<double>> keep_o, keep_v;
    for (size_t k = 0; k < o.size(); ++k)
      if (o[k].requires_grad()) {
        keep_o.push_back(o[k]);
        keep_v.push_back(vs[k]);
      }
    std::vector<Tensor<double>> g;
    if (!keep_o.empty()) g = grad<double, CPU>(keep_o, d, keep_v, true, true, true);
    std::vector<Tensor<double>> r;
    for (size_t k = 0; k < d.size(); ++k) {
      if (k < g.size() && g[k].defined()) {
        r.push_back(g[k]);
      } else {
        Tensor<double> z(d[k].shape());
        z.zero_();
        r.push_back(z);
      }
    }
    return r;
  };
  return gradcheck(first, all, eps, atol, rtol);
}

}  // namespace kiln::autograd
