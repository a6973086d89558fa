// SPDX-License-Identifier: BSD-3-Clause
// The row loops behind sort, argsort, topk and unique (declared in include/kiln/ops/sort.hpp),
// compiled once for every dtype.
#include "kiln/ops/sort.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kiln/core/parallel.hpp"
#include "kiln/ops/rows.hpp"

namespace kiln::detail {
namespace {

// Note [Sort order]
// Each element is sorted as an (unsigned key, input position) pair. The key maps the
// value's order onto unsigned integers: signed integers have their sign bit flipped; floats
// (half/bfloat16 via float) map their bits so that -inf < ... < -0 = 0 < ... < +inf, with
// -0 folded onto 0 and every NaN onto the largest key, because NaN sorts as the largest
// value in torch; a descending sort complements the key. Equal keys are ordered by
// position, which makes the order total: std::sort, std::nth_element and
// std::stable_sort all agree, ties keep their input order, and results are
// deterministic. Comparing two integers is also several times cheaper than comparing
// floats with NaN checks. Values are read back from the input by position, so -0 and
// NaN payloads come out as they went in.
template <class T>
auto sort_key(T v) {
  if constexpr (std::is_same_v<T, bool>) {
    return static_cast<uint8_t>(v);
  } else if constexpr (std::is_unsigned_v<T>) {
    return v;
  } else if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<U>(static_cast<U>(v) ^ (U{1} << (8 * sizeof(T) - 1)));
  } else {
    using F = opmath_t<T>;  // float or double
    using U = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;
    F f = static_cast<F>(v);
    if (f != f) return std::numeric_limits<U>::max();
    if (f == 0) f = 0;  // -0 == 0
    const U u = std::bit_cast<U>(f);
    constexpr U sign = U{1} << (8 * sizeof(U) - 1);
    return (u & sign) ? static_cast<U>(~u) : static_cast<U>(u | sign);
  }
}
template <class T>
using key_t = decltype(sort_key(T{}));

template <class K>
struct Entry {
  K key;
  int64_t index;
  friend bool operator<(const Entry& a, const Entry& b) {
    return a.key < b.key || (a.key == b.key && a.index < b.index);
  }
};

template <class T>
bool is_nan(T v) {
  if constexpr (is_floating_v<T>)
    return static_cast<opmath_t<T>>(v) != static_cast<opmath_t<T>>(v);
  else
    return false;
}

/// Rows per thread chunk: sorting costs several elementwise ops per element.
int64_t sort_grain(int64_t n) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(n, 1)); }

// Strided rows (a sort along a leading dim) are gathered, and their results written, up
// to kSortLanes rows at a time, one element of each per step: neighbouring rows are
// usually neighbours in memory, so each cache line and page touched serves all of them.
constexpr int kSortLanes = 16;
constexpr int64_t kSortStage = int64_t{1} << 14;  // entries staged at most

/// Puts each row of x along d in (key, position) order with order(first, last), which
/// must leave the wanted entries in front (keys complemented when `flip`), then writes
/// the first `len` positions to idx and their values to vals (when not null), both
/// contiguous outputs whose dim d has length len.
template <class T, class Order>
void sort_rows(const Tensor<T, CPU>& x, int d, int64_t len, bool flip, T* vals, int64_t* idx,
               Order order) {
  using K = key_t<T>;
  const DimRows rr = dim_rows(x.shape(), x.strides(), d);
  const int64_t n = rr.n, step = rr.step, inner = rr.inner;
  const T* xd = x.data();
  const K mask = flip ? static_cast<K>(~K{0}) : K{0};
  const int lanes =
      step == 1 ? 1 : static_cast<int>(std::clamp<int64_t>(kSortStage / n, 1, kSortLanes));
  const int64_t n_tiles = (rr.rows + lanes - 1) / lanes;
  parallel_for(n_tiles, sort_grain(n * lanes), 1, [&](int64_t t0, int64_t t1) {
    std::vector<Entry<K>> buf(static_cast<std::size_t>(n * lanes));
    std::vector<T> staged(vals ? static_cast<std::size_t>(n * lanes) : 0);
    const T* row[kSortLanes];
    int64_t out[kSortLanes];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * lanes;
      const int nl = static_cast<int>(std::min<int64_t>(lanes, rr.rows - r0));
      for (int l = 0; l < nl; ++l) {
        row[l] = xd + rr.in_offset(r0 + l);
        out[l] = rr.out_offset(r0 + l, len);
      }
      for (int64_t k = 0; k < n; ++k)
        for (int l = 0; l < nl; ++l) {
          const T v = row[l][k * step];
          buf[l * n + k] = {static_cast<K>(sort_key(v) ^ mask), k};
          if (vals) staged[l * n + k] = v;
        }
      for (int l = 0; l < nl; ++l) order(buf.begin() + l * n, buf.begin() + (l + 1) * n);
      for (int64_t j = 0; j < len; ++j)
        for (int l = 0; l < nl; ++l) {
          const int64_t i = buf[l * n + j].index;
          idx[out[l] + j * inner] = i;
          if (vals) vals[out[l] + j * inner] = staged[l * n + i];
        }
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
  using It = typename std::vector<Entry<K>>::iterator;
  if (stable)
    sort_rows(x, d, n, descending, vals, idx, [](It b, It e) {
      std::stable_sort(b, e, [](const Entry<K>& p, const Entry<K>& q) { return p.key < q.key; });
    });
  else
    sort_rows(x, d, n, descending, vals, idx, [](It b, It e) { std::sort(b, e); });
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
  // The k largest come first in a descending order: flip the keys.
  using It = typename std::vector<Entry<K>>::iterator;
  sort_rows(x, d, k, largest, r.values.data(), r.indices.data(), [&](It b, It e) {
    // A heap of k entries rejects most elements with one comparison when k is small;
    // otherwise a selection, then a sort of the first k.
    if (sorted && k < n / 16) {
      std::partial_sort(b, b + k, e);
    } else {
      if (k < n) std::nth_element(b, b + k, e);
      if (sorted) std::sort(b, b + k);
    }
  });
  return r;
}

template <class T>
UniqueResult<T> unique_impl(const Tensor<T, CPU>& x, bool return_inverse, bool return_counts) {
  using K = key_t<T>;
  const Tensor<T, CPU> c = x.contiguous();
  const T* v = c.data();
  const int64_t n = c.numel();
  std::vector<Entry<K>> buf(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) buf[i] = {sort_key(v[i]), i};
  std::sort(buf.begin(), buf.end());
  // A new value starts where the key changes, and at every NaN (NaN != NaN, as in torch).
  std::vector<int64_t> starts;
  for (int64_t i = 0; i < n; ++i)
    if (i == 0 || buf[i].key != buf[i - 1].key || is_nan(v[buf[i].index])) starts.push_back(i);
  const int64_t m = static_cast<int64_t>(starts.size());
  UniqueResult<T> r;
  r.values = Tensor<T, CPU>(Shape{m});
  for (int64_t g = 0; g < m; ++g) r.values.data()[g] = v[buf[starts[g]].index];
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
