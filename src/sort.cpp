// SPDX-License-Identifier: BSD-3-Clause
// The row loops behind sort, argsort, topk and unique (declared in include/kiln/ops/sort.hpp),
// compiled once for every dtype.
#include "kiln/ops/sort.hpp"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kiln/core/parallel.hpp"
#include "kiln/ops/rows.hpp"

namespace kiln::detail {
namespace {

// Note [Sort order]
// Elements are sorted as (key, index) pairs; half/bfloat16 compare as float. NaN ranks
// above every number, as in torch: last in an ascending sort, first in a descending one,
// selected first by topk(largest=true). Keys that compare equal (including -0 and 0, and
// two NaNs) keep their input order: the comparators break ties by index, which makes the
// order total, so std::sort, std::nth_element and std::stable_sort all agree and every
// result is deterministic.
template <class T>
using key_t = opmath_t<T>;

template <class K>
struct Entry {
  K key;
  int64_t index;
};

template <class K>
bool is_nan(K k) {
  if constexpr (std::is_floating_point_v<K>)
    return k != k;
  else
    return false;
}

/// a ranks above b, NaN above everything else.
template <class K>
bool above(K a, K b) {
  if constexpr (std::is_floating_point_v<K>) {
    if (is_nan(a)) return !is_nan(b);
    if (is_nan(b)) return false;
  }
  return a > b;
}

/// Strict order of entries: by key (descending or ascending, NaN largest), then, with
/// Ties, by input position.
template <class K, bool Ties>
struct Before {
  bool descending;
  bool operator()(const Entry<K>& a, const Entry<K>& b) const {
    const bool first = descending ? above(a.key, b.key) : above(b.key, a.key);
    if constexpr (!Ties) {
      return first;
    } else {
      if (first) return true;
      const bool second = descending ? above(b.key, a.key) : above(a.key, b.key);
      return !second && a.index < b.index;
    }
  }
};

/// Rows per thread chunk: sorting costs several elementwise ops per element.
int64_t sort_grain(int64_t n) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)); }

/// Calls f(entries, out_row, out_step) for each row of x along d, with entries holding the
/// row's (key, index) pairs; out_row is the offset of the row in a contiguous output whose
/// dim d has length `len`, and out_step its stride along d.
template <class T, class F>
void for_each_row(const Tensor<T, CPU>& x, int d, int64_t len, F&& f) {
  using K = key_t<T>;
  const DimRows rr = dim_rows(x.shape(), x.strides(), d);
  const T* xd = x.data();
  parallel_for(rr.rows, sort_grain(rr.n), 1, [&](int64_t r0, int64_t r1) {
    std::vector<Entry<K>> buf(static_cast<std::size_t>(rr.n));
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = xd + rr.in_offset(r);
      for (int64_t k = 0; k < rr.n; ++k) buf[k] = {static_cast<K>(xr[k * rr.step]), k};
      f(buf, rr.out_offset(r, len), rr.inner);
    }
  });
}

}  // namespace

template <class T>
ValuesIndices<T> sort_impl(const Tensor<T, CPU>& x, int64_t dim, bool descending, bool stable,
                           bool want_values) {
  using K = key_t<T>;
  const int d = wrap_row_dim(dim, x.shape(), want_values ? "sort" : "argsort");
  ValuesIndices<T> r;
  if (want_values) r.values = Tensor<T, CPU>(x.shape());
  r.indices = Tensor<int64_t, CPU>(x.shape());
  if (x.numel() == 0) return r;
  T* vals = want_values ? r.values.data() : nullptr;
  int64_t* idx = r.indices.data();
  const int64_t n = x.dim() == 0 ? 1 : x.shape()[d];
  for_each_row(x, d, n, [&](std::vector<Entry<K>>& buf, int64_t o, int64_t step) {
    if (stable)
      std::stable_sort(buf.begin(), buf.end(), Before<K, false>{descending});
    else
      std::sort(buf.begin(), buf.end(), Before<K, true>{descending});
    for (int64_t k = 0; k < n; ++k) {
      idx[o + k * step] = buf[k].index;
      if (vals) vals[o + k * step] = static_cast<T>(buf[k].key);
    }
  });
  return r;
}

template <class T>
ValuesIndices<T> topk_impl(const Tensor<T, CPU>& x, int64_t k, int64_t dim, bool largest,
                           bool sorted) {
  using K = key_t<T>;
  const int d = wrap_row_dim(dim, x.shape(), "topk");
  const int64_t n = x.dim() == 0 ? 1 : x.shape()[d];
  KILN_CHECK(k >= 0 && k <= n && (x.dim() > 0 || k == 1), ValueError,
             "[topk] selected index k out of range: k = ", k, " but dimension ", d, " has size ", n,
             " (shape ", x.shape(), ")");
  Shape out_shape = x.shape();
  if (x.dim() > 0) out_shape[d] = k;
  ValuesIndices<T> r{Tensor<T, CPU>(out_shape), Tensor<int64_t, CPU>(out_shape)};
  if (r.values.numel() == 0) return r;
  T* vals = r.values.data();
  int64_t* idx = r.indices.data();
  const Before<K, true> before{largest};
  for_each_row(x, d, k, [&](std::vector<Entry<K>>& buf, int64_t o, int64_t step) {
    const auto kth = buf.begin() + k;
    // A heap of k entries rejects most elements with one comparison when k is small;
    // otherwise a selection and a sort of the first k.
    if (sorted && k < n / 16) {
      std::partial_sort(buf.begin(), kth, buf.end(), before);
    } else {
      if (k < n) std::nth_element(buf.begin(), kth, buf.end(), before);
      if (sorted) std::sort(buf.begin(), kth, before);
    }
    for (int64_t j = 0; j < k; ++j) {
      idx[o + j * step] = buf[j].index;
      vals[o + j * step] = static_cast<T>(buf[j].key);
    }
  });
  return r;
}

template <class T>
UniqueResult<T> unique_impl(const Tensor<T, CPU>& x, bool return_inverse, bool return_counts) {
  using K = key_t<T>;
  const Tensor<T, CPU> c = x.contiguous();
  const int64_t n = c.numel();
  std::vector<Entry<K>> buf(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) buf[i] = {static_cast<K>(c.data()[i]), i};
  std::sort(buf.begin(), buf.end(), Before<K, true>{false});
  // A new value starts wherever the key differs from the previous one (NaN != NaN).
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < n; ++i)
    if (i == 0 || !(buf[i].key == buf[i - 1].key)) starts.push_back(i);
  const int64_t m = static_cast<int64_t>(starts.size());
  UniqueResult<T> r;
  r.values = Tensor<T, CPU>(Shape{m});
  for (int64_t g = 0; g < m; ++g) r.values.data()[g] = static_cast<T>(buf[starts[g]].key);
  if (return_counts) {
    r.counts = Tensor<int64_t, CPU>(Shape{m});
    for (int64_t g = 0; g < m; ++g)
      r.counts.data()[g] = (g + 1 < m ? starts[g + 1] : n) - starts[g];
  }
  if (return_inverse) {
    r.inverse = Tensor<int64_t, CPU>(x.shape());
    int64_t g = -1;
    for (int64_t i = 0; i < n; ++i) {
      if (g + 1 < m && starts[g + 1] == i) ++g;
      r.inverse.data()[buf[i].index] = g;
    }
  }
  return r;
}

#define KILN_SORT_INSTANTIATE(T)                                                               \
  template ValuesIndices<T> sort_impl<T>(const Tensor<T, CPU>&, int64_t, bool, bool, bool);    \
  template ValuesIndices<T> topk_impl<T>(const Tensor<T, CPU>&, int64_t, int64_t, bool, bool); \
  template UniqueResult<T> unique_impl<T>(const Tensor<T, CPU>&, bool, bool);
KILN_SORT_INSTANTIATE(bool)
KILN_SORT_INSTANTIATE(uint8_t)
KILN_SORT_INSTANTIATE(int8_t)
KILN_SORT_INSTANTIATE(int16_t)
KILN_SORT_INSTANTIATE(int32_t)
KILN_SORT_INSTANTIATE(int64_t)
KILN_SORT_INSTANTIATE(half)
KILN_SORT_INSTANTIATE(bfloat16)
KILN_SORT_INSTANTIATE(float)
KILN_SORT_INSTANTIATE(double)
#undef KILN_SORT_INSTANTIATE

}  // namespace kiln::detail
