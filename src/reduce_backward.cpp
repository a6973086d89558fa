// SPDX-License-Identifier: BSD-3-Clause
// The backward of the reductions recorded with reduce_recorded (include/kiln/ops/reduce.hpp,
// Note [Reduction backward]): one node type and one set of formulas per dtype, compiled
// here instead of in every file that calls prod, amax, var, std, logsumexp or norm.
#include <algorithm>
#include <cmath>

#include "kiln/kiln.hpp"

namespace kiln::detail {
namespace {

// d prod / d x_i = product of the others. Without zeros that is y / x_i. With zeros and
// no create_graph, the product p of the non-zero elements gives it: p / x_i in a slice
// without zeros, p at the only zero of a slice with one, 0 elsewhere. With create_graph
// (where that formula's second derivative would be wrong) each element's product of the
// others is an explicit prod over its slice with the element set to 1, O(n^2) per slice.
template <class T>
Tensor<T, CPU> prod_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                             const Tensor<T, CPU>& y, uint32_t mask) {
  const Shape& in = x.shape();
  const int nd = in.size();
  const Shape keep = reduced_shape(in, mask, true);
  const Tensor<T, CPU> gk = g.reshape(keep);
  bool has_zero;
  {
    AutoGradMode off(false);
    has_zero = x.numel() > 0 && any(x == T(0)).item();
  }
  if (!has_zero) return Tensor<T, CPU>(gk * (y.reshape(keep) / x));
  const Dims dims = mask_dims(mask, nd);
  if (!autograd::GradMode::is_enabled()) {
    const Tensor<bool, CPU> z = x == T(0);
    const Tensor<int64_t, CPU> nz = sum(z, dims, true);
    const Tensor<T, CPU> p = prod(where(z, T(1), x), dims, true);
    return Tensor<T, CPU>(gk *
                          where(nz == int64_t(0), p / x, where(z && nz == int64_t(1), p, T(0))));
  }
  // x as rows [r, n] (kept dims first), each repeated n times with the diagonal set to 1.
  Dims perm, inv(nd);
  Shape pshape;
  int64_t r = 1, n = 1;
  for (int pass = 0; pass < 2; ++pass)
    for (int d = 0; d < nd; ++d)
      if (static_cast<int>(mask >> d & 1u) == pass) {
        inv[d] = perm.size();
        perm.push_back(d);
        pshape.push_back(in[d]);
        (pass ? n : r) *= in[d];
      }
  Tensor<bool, CPU> eye({n, n});
  for (int64_t i = 0; i < n * n; ++i) eye.data()[i] = i % (n + 1) == 0;
  const Tensor<T, CPU> rows = x.permute(perm).reshape({r, 1, n}).expand({r, n, n});
  const Tensor<T, CPU> others = prod(where(eye, T(1), rows), Dims{2});
  return Tensor<T, CPU>(gk * others.reshape(pshape).permute(inv));
}

// amax/amin: g / (number of ties) at each element equal to the extremum.
template <class T>
Tensor<T, CPU> extremum_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                                 const Tensor<T, CPU>& y, uint32_t mask) {
  const Shape keep = reduced_shape(x.shape(), mask, true);
  Tensor<T, CPU> w;
  {
    AutoGradMode off(false);
    const Tensor<T, CPU> hit = cast<T>(x == y.reshape(keep));
    w = hit / sum(hit, mask_dims(mask, x.dim()), true);
  }
  return Tensor<T, CPU>(g.reshape(keep) * w);
}

// var: g * 2 (x - mean(x)) / (n - correction).
template <class T>
Tensor<T, CPU> var_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x, uint32_t mask,
                            int64_t correction) {
  const Shape keep = reduced_shape(x.shape(), mask, true);
  const int64_t n = reduced_count(x.shape(), mask);
  const double c = 2.0 / static_cast<double>(std::max<int64_t>(n - correction, 0));
  const Tensor<T, CPU> m = mean(x, mask_dims(mask, x.dim()), true);
  return Tensor<T, CPU>(g.reshape(keep) * (x - m) * T(c));
}

template <class T>
Tensor<T, CPU> norm_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                             const Tensor<T, CPU>& y, double p, uint32_t mask) {
  const Shape keep = reduced_shape(x.shape(), mask, true);
  const Tensor<T, CPU> gk = g.reshape(keep), yk = y.reshape(keep);
  if (p == 0.0) return {};
  if (p == 1.0) return Tensor<T, CPU>(gk * sign(x));
  // Comparison masks are evaluated first (Note [Reduction backward]).
  const Tensor<bool, CPU> zero = yk == T(0);
  if (p == 2.0) return Tensor<T, CPU>(gk * x / where(zero, T(1), yk));
  if (std::isinf(p))
    return Tensor<T, CPU>(sign(x) * extremum_backward(g, Tensor<T, CPU>(abs(x)), y, mask));
  // |x|^(p-1) sign(x) / y^(p-1); for p < 1 the gradient at x = 0 is taken as 0.
  const Tensor<T, CPU> scaled = Tensor<T, CPU>(sign(x) * pow(abs(x), p - 1));
  const Tensor<T, CPU> s =
      p < 1 ? Tensor<T, CPU>(where(Tensor<bool, CPU>(x == T(0)), T(0), scaled)) : scaled;
  return Tensor<T, CPU>(gk * s / where(zero, T(1), pow(yk, p - 1)));
}

// std = sqrt(var): the gradient of var scaled by 1 / (2 std); 0 where std is 0.
template <class T>
Tensor<T, CPU> std_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                            const Tensor<T, CPU>& y, uint32_t mask, int64_t correction) {
  const Tensor<bool, CPU> zero = y == T(0);  // Note [Reduction backward]
  const Tensor<T, CPU> gv = where(zero, T(0), g / (y * T(2)));
  return var_backward(gv, x, mask, correction);
}

template <class T>
Tensor<T, CPU> logsumexp_backward(const Tensor<T, CPU>& g, const Tensor<T, CPU>& x,
                                  const Tensor<T, CPU>& y, uint32_t mask) {
  const Shape keep = reduced_shape(x.shape(), mask, true);
  return Tensor<T, CPU>(g.reshape(keep) * exp(x - y.reshape(keep)));
}

template <class T>
Tensor<T, CPU> reduction_backward(const ReductionGrad& r, const Tensor<T, CPU>& g,
                                  const Tensor<T, CPU>& x, const Tensor<T, CPU>& y) {
  using K = ReductionGrad::Kind;
  switch (r.kind) {
    case K::prod:
      return prod_backward(g, x, y, r.mask);
    case K::extremum:
      return extremum_backward(g, x, y, r.mask);
    case K::var:
      return var_backward(g, x, r.mask, r.correction);
    case K::std:
      return std_backward(g, x, y, r.mask, r.correction);
    case K::logsumexp:
      return logsumexp_backward(g, x, y, r.mask);
    case K::norm:
      break;
  }
  return norm_backward(g, x, y, r.p, r.mask);
}

}  // namespace

template <class T>
void record_reduction(const char* name, Tensor<T, CPU>& out, const Tensor<T, CPU>& x,
                      const ReductionGrad& grad) {
  autograd::record_with_output(
      name, out, autograd::collect_edges(x),
      [sx = autograd::save(x), grad](std::vector<AnyTensor>& g, const Tensor<T, CPU>& y) {
        return autograd::grads(reduction_backward(grad, g[0].as<T, CPU>(), sx.unpack(), y));
      });
}

#define KILN_INSTANTIATE(T)                                                              \
  template void record_reduction<T>(const char*, Tensor<T, CPU>&, const Tensor<T, CPU>&, \
                                    const ReductionGrad&);
KILN_INSTANTIATE(float)
KILN_INSTANTIATE(double)
KILN_INSTANTIATE(half)
KILN_INSTANTIATE(bfloat16)
#undef KILN_INSTANTIATE

}  // namespace kiln::detail
