// SPDX-License-Identifier: BSD-3-Clause
// Ordering ops: sort, argsort, topk and unique. The row loops are compiled once per dtype
// in src/sort.cpp (std::sort instantiations are slow to compile and gain nothing inline).
#pragma once

#include <cstdint>
#include <type_traits>

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

template <class E>
constexpr void require_cpu(const char* /*op*/) {
  static_assert(std::is_same_v<expr::device_t<E>, CPU>,
                "kiln: sort/topk/unique on CUDA tensors need the CUDA backend (kiln::cuda), not "
                "built yet");
}
}  // namespace detail

/// Sorts along `dim`: {values, indices}, where indices (int64) are the positions of the
/// values in the input. NaN sorts as the largest value (last ascending, first descending),
/// as in torch. Equal values always keep their input order, so `stable` only selects the
/// algorithm (std::stable_sort instead of std::sort); the result is the same.
template <expr::Expr E>
ValuesIndices<expr::value_t<E>> sort(const E& x, int64_t dim = -1, bool descending = false,
                                     bool stable = false) {
  detail::require_cpu<E>("sort");
  using T = expr::value_t<E>;
  return detail::sort_impl(Tensor<T, CPU>(x), dim, descending, stable, /*want_values=*/true);
}

/// The indices that sort `x` along `dim` (sort(x, ...).indices without the values).
template <expr::Expr E>
Tensor<int64_t, CPU> argsort(const E& x, int64_t dim = -1, bool descending = false,
                             bool stable = false) {
  detail::require_cpu<E>("argsort");
  using T = expr::value_t<E>;
  return detail::sort_impl(Tensor<T, CPU>(x), dim, descending, stable, /*want_values=*/false)
      .indices;
}

/// The `k` largest (or, with largest = false, smallest) elements along `dim` and their
/// indices; NaN counts as the largest. With `sorted` they come in order (largest first
/// for largest = true), otherwise in an unspecified order. Throws ValueError unless
/// 0 <= k <= size(dim).
template <expr::Expr E>
ValuesIndices<expr::value_t<E>> topk(const E& x, int64_t k, int64_t dim = -1, bool largest = true,
                                     bool sorted = true) {
  detail::require_cpu<E>("topk");
  using T = expr::value_t<E>;
  return detail::topk_impl(Tensor<T, CPU>(x), k, dim, largest, sorted);
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
