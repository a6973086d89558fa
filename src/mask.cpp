// SPDX-License-Identifier: BSD-3-Clause
// The loops behind include/kiln/ops/mask.hpp, instantiated once for every dtype.
#include "kiln/ops/mask.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

#include "index_loops.hpp"

namespace kiln::detail {
namespace {

// Note [Mask order]: block bounds are fixed, independent of the thread count.
constexpr int64_t kMaskBlock = 16384;
constexpr int64_t kBlockGrain = std::max<int64_t>(1, kParallelGrain / kMaskBlock);

// starts[k] = how many elements of `shape` (row-major, operand strides st) before block
// k satisfy pred(offset); starts.back() is the total.
template <class Pred>
std::vector<int64_t> block_starts(const Shape& shape, const Strides& st, Pred pred) {
  const int64_t n = numel_of(shape), nb = (n + kMaskBlock - 1) / kMaskBlock;
  std::vector<int64_t> starts(static_cast<std::size_t>(nb + 1), 0);
  const std::array<Strides, 1> sts{st};
  parallel_for(nb, kBlockGrain, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      int64_t c = 0;
      walk<1>(shape, sts, k * kMaskBlock, std::min(n, (k + 1) * kMaskBlock),
              [&](const Offsets<1>& off, const Offsets<1>& in, int64_t run) {
                for (int64_t j = 0; j < run; ++j) c += pred(off[0] + j * in[0]) ? 1 : 0;
              });
      starts[static_cast<std::size_t>(k + 1)] = c;
    }
  });
  std::partial_sum(starts.begin(), starts.end(), starts.begin());
  return starts;
}

// Calls f(position among the selected, linear index, offsets) for every element whose
// operand-0 offset satisfies pred; blocks run in parallel.
template <std::size_t N, class Pred, class F>
void for_each_selected(const Shape& shape, const std::array<Strides, N>& st,
                       const std::vector<int64_t>& starts, Pred pred, F f) {
  const int64_t n = numel_of(shape), nb = static_cast<int64_t>(starts.size()) - 1;
  parallel_for(nb, kBlockGrain, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      int64_t pos = starts[static_cast<std::size_t>(k)], i = k * kMaskBlock;
      if (pos == starts[static_cast<std::size_t>(k + 1)]) continue;
      walk<N>(shape, st, i, std::min(n, (k + 1) * kMaskBlock),
              [&](const Offsets<N>& off, const Offsets<N>& in, int64_t run) {
                for (int64_t j = 0; j < run; ++j) {
                  Offsets<N> o;
                  for (std::size_t q = 0; q < N; ++q) o[q] = off[q] + j * in[q];
                  if (pred(o[0])) f(pos++, i + j, o);
                }
                i += run;
              });
    }
  });
}

template <class T>
bool is_nonzero(T v) {
  if constexpr (std::is_same_v<T, bool>)
    return v;
  else if constexpr (is_reduced_float_v<T>)
    return static_cast<float>(v) != 0.0f;  // NaN is nonzero
  else
    return v != T(0);
}

}  // namespace

template <class T>
Tensor<T, CPU> masked_select(const Tensor<T, CPU>& x, const Tensor<bool, CPU>& mask) {
  check_defined(x.defined(), "masked_select", "input");
  check_defined(mask.defined(), "masked_select", "mask");
  const Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_select");
  const std::array<Strides, 2> st{broadcast_strides(mask.shape(), mask.strides(), s),
                                  broadcast_strides(x.shape(), x.strides(), s)};
  const bool* m = mask.data();
  const T* xp = x.data();
  const auto pred = [m](int64_t o) { return m[o]; };
  const std::vector<int64_t> starts = block_starts(s, st[0], pred);
  Tensor<T, CPU> out(Shape{starts.back()});
  T* op = out.data();
  for_each_selected(s, st, starts, pred,
                    [&](int64_t pos, int64_t, const Offsets<2>& o) { op[pos] = xp[o[1]]; });
  return out;
}

template <class T>
void masked_scatter_(const Tensor<T, CPU>& self, const Tensor<bool, CPU>& mask,
                     const Tensor<T, CPU>& source, const char* op) {
  check_defined(self.defined(), op, "self");
  check_defined(mask.defined(), op, "mask");
  check_defined(source.defined(), op, "source");
  KILN_CHECK(broadcasts_to(mask.shape(), self.shape()), ShapeError, "[", op, "] mask of shape ",
             mask.shape(), " cannot be broadcast to self of shape ", self.shape());
  check_no_internal_overlap(self.shape(), self.strides(), op);
  const Shape& s = self.shape();
  const Tensor<bool, CPU> mk = shares_storage(mask, self) ? mask.clone() : mask;
  const std::array<Strides, 2> st{broadcast_strides(mk.shape(), mk.strides(), s), self.strides()};
  const bool* m = mk.data();
  const auto pred = [m](int64_t o) { return m[o]; };
  const std::vector<int64_t> starts = block_starts(s, st[0], pred);
  const int64_t total = starts.back();
  KILN_CHECK(source.numel() >= total, ShapeError, "[", op, "] the mask (shape ", mask.shape(),
             ") selects ", total, " elements but source (shape ", source.shape(), ") has only ",
             source.numel());
  if (total == 0) return;
  const Tensor<T, CPU> src = shares_storage(source, self) ? source.clone() : source.contiguous();
  T* sp = self.data();
  const T* rp = src.data();
  for_each_selected(s, st, starts, pred,
                    [&](int64_t pos, int64_t, const Offsets<2>& o) { sp[o[1]] = rp[pos]; });
  self.storage().bump_version();
}

template <class T>
Tensor<int64_t, CPU> nonzero(const Tensor<T, CPU>& x, const char* op) {
  check_defined(x.defined(), op, "input");
  const Shape& s = x.shape();
  const int nd = s.size();
  const T* xp = x.data();
  const auto pred = [xp](int64_t o) { return is_nonzero(xp[o]); };
  const std::array<Strides, 1> st{x.strides()};
  const std::vector<int64_t> starts = block_starts(s, st[0], pred);
  Tensor<int64_t, CPU> out(Shape{starts.back(), nd});
  int64_t* out_p = out.data();
  for_each_selected(s, st, starts, pred, [&](int64_t pos, int64_t i, const Offsets<1>&) {
    int64_t* row = out_p + pos * nd;
    for (int d = nd - 1; d >= 0; --d) {
      row[d] = i % s[d];
      i /= s[d];
    }
  });
  return out;
}

#define KILN_INSTANTIATE_MASK(T)                                                          \
  template Tensor<T, CPU> masked_select(const Tensor<T, CPU>&, const Tensor<bool, CPU>&); \
  template void masked_scatter_(const Tensor<T, CPU>&, const Tensor<bool, CPU>&,          \
                                const Tensor<T, CPU>&, const char*);                      \
  template Tensor<int64_t, CPU> nonzero(const Tensor<T, CPU>&, const char*);
KILN_INDEX_FOR_EACH_DTYPE(KILN_INSTANTIATE_MASK)
#undef KILN_INSTANTIATE_MASK

}  // namespace kiln::detail
