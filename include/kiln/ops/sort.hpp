// SPDX-License-Identifier: BSD-3-Clause
// Ordering ops: sort, argsort, topk and unique. The row loops are compiled once per dtype
// in src/sort.cpp (std::sort instantiations are slow to compile and gain nothing inline).
#pragma once

#include <cstdint>
#include <type_traits>

#include "kiln/ops/pick.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

/// unique's results. `inverse` (the index into `values` of each input element, shaped
/// like the input) and `counts` are undefined tensors unless asked for.
template <class T>
struct UniqueResult {
  Tensor<T, CPU> values;
  Tensor<int64_t, CPU> inverse;
  Tensor<int64_t, CPU> counts;
};

namespace detail {
// Defined in src/sort.cpp for every dtype (Note [Sort order] there).
template <class T>
ValuesIndices<T> sort_impl(const Tensor<T, CPU>& x, int64_t dim, bool descending, bool stable,
                           bool want_values);
template <class T>
ValuesIndices<T> topk_impl(const Tensor<T, CPU>& x, int64_t k, int64_t dim, bool largest,
                           bool sorted);
template <class T>
UniqueResult<T> unique_impl(const Tensor<T, CPU>& x, bool return_inverse, bool return_counts);

/// Records r.values (a selection of x along dim at r.indices) with the gradient scattered
/// back to the indices (unpick, differentiable to any order).
template <class T>
void record_selection(const char* name, ValuesIndices<T>& r, const Tensor<T, CPU>& x, int64_t dim,
                      const char* op) {
  if constexpr (is_floating_v<T>) {
    if (!autograd::needs_grad(x)) return;
    const int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), op);
    autograd::record(
        name, r.values, autograd::collect_edges(x),
        [si = autograd::save(r.indices), d, shape = x.shape()](std::vector<AnyTensor>& g) {
          const Tensor<T, CPU>& go = g[0].as<T, CPU>();
          if (shape.size() == 0) return autograd::grads(go);
          return autograd::grads(unpick(go, d, si.unpack(), shape));
        });
  }
}

template <class E>
constexpr void require_cpu(const char* /*op*/) {
  static_assert(std::is_same_v<expr::device_t<E>, CPU>,
                "kiln: unique of CUDA tensors is not built yet; copy with .to<kiln::CPU>()");
}

/// CUB's segmented radix sort (cuda/sort.cu, Note [CUDA sort]); stable. Not recorded by
/// autograd yet.
template <class T>
ValuesIndices<T, CUDA> sort_cuda(const Tensor<T, CUDA>& x, int64_t dim, bool descending);

/// topk on CUDA: the sorted row's first k (NaN counts as the largest, as on the CPU).
template <class T>
ValuesIndices<T, CUDA> topk_cuda(const Tensor<T, CUDA>& x, int64_t k, int64_t dim, bool largest) {
  const int d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), "topk");
  const int64_t n = x.dim() == 0 ? 1 : x.shape()[d];
  KILN_CHECK(k >= 0 && k <= n, ValueError, "[topk] selected index k out of range: k = ", k,
             " but dimension ", d, " has size ", n, " (shape ", x.shape(), ")");
  ValuesIndices<T, CUDA> r = sort_cuda(x, d, largest);
  if (x.dim() == 0) return r;
  return {r.values.narrow(d, 0, k), r.indices.narrow(d, 0, k)};
}

template <class T>
ValuesIndices<T> sort_cpu(const Tensor<T, CPU>& xt, int64_t dim, bool descending, bool stable) {
  ValuesIndices<T> r;
  {
    AutoGradMode off(false);
    r = detail::sort_impl(xt, dim, descending, stable, /*want_values=*/true);
  }
  detail::record_selection("SortBackward", r, xt, dim, "sort");
  return r;
}

template <class T>
ValuesIndices<T> topk_cpu(const Tensor<T, CPU>& xt, int64_t k, int64_t dim, bool largest,
                          bool sorted) {
  ValuesIndices<T> r;
  {
    AutoGradMode off(false);
    r = detail::topk_impl(xt, k, dim, largest, sorted);
  }
  detail::record_selection("TopkBackward", r, xt, dim, "topk");
  return r;
}
}  // namespace detail

/// Sorts along `dim`: {values, indices}, where indices (int64) are the positions of the
/// values in the input; the gradient of the values goes back to those positions. NaN sorts as the
/// largest value (last ascending, first descending), as in torch. Equal values always keep their
/// input order, so `stable` only selects the algorithm (std::stable_sort instead of std::sort); the
/// result is the same.
template <expr::Expr E>
ValuesIndices<expr::value_t<E>, expr::device_t<E>> sort(const E& x, int64_t dim = -1,
                                                        bool descending = false,
                                                        bool stable = false) {
  using T = expr::value_t<E>;
  if constexpr (std::is_same_v<expr::device_t<E>, CUDA>)
    return detail::sort_cuda(Tensor<T, CUDA>(x), dim, descending);  // always stable
  else
    return detail::sort_cpu(Tensor<T, CPU>(x), dim, descending, stable);
}

/// The indices that sort `x` along `dim` (sort(x, ...).indices without the values).
template <expr::Expr E>
Tensor<int64_t, expr::device_t<E>> argsort(const E& x, int64_t dim = -1, bool descending = false,
                                           bool stable = false) {
  using T = expr::value_t<E>;
  if constexpr (std::is_same_v<expr::device_t<E>, CUDA>)
    return detail::sort_cuda(Tensor<T, CUDA>(x), dim, descending).indices;
  else
    return detail::sort_impl(Tensor<T, CPU>(x), dim, descending, stable, /*want_values=*/false)
        .indices;
}

/// The `k` largest (or, with largest = false, smallest) elements along `dim` and their
/// indices; NaN counts as the largest. With `sorted` they come in order (largest first
/// for largest = true), otherwise in an unspecified order. Throws ValueError unless
/// 0 <= k <= size(dim).
template <expr::Expr E>
ValuesIndices<expr::value_t<E>, expr::device_t<E>> topk(const E& x, int64_t k, int64_t dim = -1,
                                                        bool largest = true, bool sorted = true) {
  using T = expr::value_t<E>;
  if constexpr (std::is_same_v<expr::device_t<E>, CUDA>)
    return detail::topk_cuda(Tensor<T, CUDA>(x), k, dim, largest);  // always sorted
  else
    return detail::topk_cpu(Tensor<T, CPU>(x), k, dim, largest, sorted);
}

/// The distinct elements of the flattened input, in ascending order (also when `sorted`
/// is false: sorting is how they are found). Every NaN is distinct, as in torch. With
/// return_inverse, `inverse` maps each input element to its entry in `values`; with
/// return_counts, `counts` says how often each value occurs.
template <expr::Expr E>
UniqueResult<expr::value_t<E>> unique(const E& x, bool sorted = true, bool return_inverse = false,
                                      bool return_counts = false) {
  detail::require_cpu<E>("unique");
  (void)sorted;
  using T = expr::value_t<E>;
  return detail::unique_impl(Tensor<T, CPU>(x), return_inverse, return_counts);
}

}  // namespace kiln
