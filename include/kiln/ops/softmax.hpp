// SPDX-License-Identifier: BSD-3-Clause
// softmax and log_softmax along a dim (two passes over memory), and their backward kernels.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "kiln/core/parallel.hpp"
#include "kiln/expr/math.hpp"
#include "kiln/expr/simd.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/ops/rows.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

namespace detail {

// Note [Two-pass softmax]
// softmax(x)_j = exp(x_j - m) / s with m = max(x) and s = sum(exp(x - m)). Each row is
// read from memory at most twice, and exp is evaluated once per element:
//  pass 1 walks the row in blocks of kSoftmaxBlock elements. It takes a block's maximum
//    (the block is then in L1), raises the running maximum m to it, rescaling the running
//    sum s by exp(m_old - m_new) (online softmax), and adds exp(x - m) over the block.
//    softmax also writes those exponentials to the output and remembers the m of the block.
//  pass 2: softmax rescales each output block by exp(m_block - m) / s; log_softmax writes
//    (x - m) - log(s).
// Subtracting the maximum keeps exp's argument <= 0, so rows like [1000, -1000] neither
// overflow nor lose their small entries. A NaN anywhere in a row makes the row NaN, and
// so does an all -inf row (0/0), as in torch. Rows that are strided or not float/double
// are copied into a contiguous opmath buffer first (half/bfloat16 compute in float), and
// strided output rows are written from that buffer.
inline constexpr int64_t kSoftmaxBlock = 2048;

/// Maximum of x[j0, j1), NaN propagating.
template <class A>
A softmax_max(const A* x, int64_t j0, int64_t j1) {
  A m = -std::numeric_limits<A>::infinity();
  int64_t j = j0;
#if KILN_SIMD
  if constexpr (simd::has_vec_v<A>) {
    constexpr int L = simd::lanes_v<A>;
    if (j1 - j >= 2 * L) {
      auto m0 = simd::splat<A>(m), m1 = m0;
      for (; j + 2 * L <= j1; j += 2 * L) {
        m0 = math::max(m0, simd::loadu(x + j));
        m1 = math::max(m1, simd::loadu(x + j + L));
      }
      m0 = math::max(m0, m1);
      for (int k = 0; k < L; ++k) m = math::max(m, m0[k]);
    }
  }
#endif
  for (; j < j1; ++j) m = math::max(m, x[j]);
  return m;
}

/// Sum of exp(x - m) over [j0, j1); with Store the exponentials are also written to y.
template <bool Store, class A>
A softmax_exp_sum(const A* x, A* y, int64_t j0, int64_t j1, A m) {
  A s = 0;
  int64_t j = j0;
#if KILN_SIMD
  if constexpr (simd::has_vec_v<A>) {
    constexpr int L = simd::lanes_v<A>;
    using V = simd::vec_t<A>;
    const V vm = simd::splat<A>(m);
    V s0 = simd::splat<A>(A(0)), s1 = s0;
    for (; j + 2 * L <= j1; j += 2 * L) {
      const V e0 = math::exp(simd::loadu(x + j) - vm);
      const V e1 = math::exp(simd::loadu(x + j + L) - vm);
      if constexpr (Store) {
        simd::storeu(y + j, e0);
        simd::storeu(y + j + L, e1);
      }
      s0 += e0;
      s1 += e1;
    }
    for (; j + L <= j1; j += L) {
      const V e = math::exp(simd::loadu(x + j) - vm);
      if constexpr (Store) simd::storeu(y + j, e);
      s0 += e;
    }
    s0 += s1;
    for (int k = 0; k < L; ++k) s += s0[k];
    // The tail as a partial packet, so every element comes from the same exp.
    if (j < j1) {
      const int r = static_cast<int>(j1 - j);
      const V e = math::exp(simd::load_partial(x + j, r) - vm);
      if constexpr (Store) simd::store_partial(y + j, e, r);
      for (int k = 0; k < r; ++k) s += e[k];
      j = j1;
    }
  }
#endif
  for (; j < j1; ++j) {
    const A e = math::exp(x[j] - m);
    if constexpr (Store) y[j] = e;
    s += e;
  }
  return s;
}

/// y[j0, j1) = y * c (Log: y = (x - m) - c).
template <bool Log, class A>
void softmax_finish(const A* x, A* y, int64_t j0, int64_t j1, A m, A c) {
  int64_t j = j0;
#if KILN_SIMD
  if constexpr (simd::has_vec_v<A>) {
    constexpr int L = simd::lanes_v<A>;
    const auto vm = simd::splat<A>(m), vc = simd::splat<A>(c);
    for (; j + L <= j1; j += L) {
      if constexpr (Log)
        simd::storeu(y + j, (simd::loadu(x + j) - vm) - vc);
      else
        simd::storeu(y + j, simd::loadu(y + j) * vc);
    }
  }
#endif
  for (; j < j1; ++j) {
    if constexpr (Log)
      y[j] = (x[j] - m) - c;
    else
      y[j] *= c;
  }
}

/// softmax (Log: log_softmax) of the contiguous row x[0, n) into y[0, n); y may be x.
/// `block_m` has room for one value per kSoftmaxBlock elements (Note [Two-pass softmax]).
template <bool Log, class A>
void softmax_row(const A* x, A* y, int64_t n, A* block_m) {
  A m = -std::numeric_limits<A>::infinity(), s = 0;
  int64_t blk = 0;
  for (int64_t b0 = 0; b0 < n; b0 += kSoftmaxBlock, ++blk) {
    const int64_t b1 = std::min(n, b0 + kSoftmaxBlock);
    const A bm = softmax_max(x, b0, b1);
    if (bm > m || bm != bm) {
      s *= math::exp(m - bm);  // exp(-inf) = 0 for the first block; NaN spreads
      m = bm;
    }
    block_m[blk] = m;
    if (m == -std::numeric_limits<A>::infinity()) {
      // Only -inf so far (a masked prefix): each exp(x - m) is 0, not exp(-inf + inf).
      if constexpr (!Log) std::fill(y + b0, y + b1, A(0));
      continue;
    }
    s += softmax_exp_sum<!Log>(x, y, b0, b1, m);
  }
  if constexpr (Log) {
    softmax_finish<true>(x, y, 0, n, m, math::log(s));
  } else {
    const A inv = A(1) / s;
    blk = 0;
    for (int64_t b0 = 0; b0 < n; b0 += kSoftmaxBlock, ++blk) {
      const A c = block_m[blk] == m ? inv : math::exp(block_m[blk] - m) * inv;
      softmax_finish<false>(x, y, b0, std::min(n, b0 + kSoftmaxBlock), m, c);
    }
  }
}

// Note [Softmax down columns]
// A contiguous tensor taken along a dim that is not its last is a stack of [n, w] blocks
// (w: the product of the later dims) whose columns are the rows to normalise. Walking
// one column at a time would touch a cache line and often a page per element, so whole
// row segments of up to kColumnWidth columns are processed together, with one running
// maximum and sum per column: pass 1 takes the maxima of a tile of kColumnTile rows
// (rescaling the sums where a maximum rises, as in Note [Two-pass softmax]) and then
// adds the tile's exponentials, summed on their own first; pass 2 writes exp(x - m) / s
// or (x - m) - log(s), evaluating exp once more instead of storing per-tile maxima for
// every column.
inline constexpr int64_t kColumnTile = 16;
inline constexpr int64_t kColumnWidth = 512;

// Calls f(j, V{}) for the column packets of [0, w) (V a SIMD packet of A), then
// f(j, A{}) for the remaining columns one by one.
template <class A, class F>
KILN_INLINE void over_columns(int64_t w, F&& f) {
  int64_t j = 0;
#if KILN_SIMD
  if constexpr (simd::has_vec_v<A>) {
    constexpr int L = simd::lanes_v<A>;
    for (; j + L <= w; j += L) f(j, simd::vec_t<A>{});
  }
#endif
  for (; j < w; ++j) f(j, A{});
}
template <class V, class A>
KILN_INLINE V load_as(const A* p) {
  if constexpr (std::is_same_v<V, A>) {
    return *p;
  } else {
#if KILN_SIMD
    return simd::loadu(p);
#endif
  }
}
template <class V, class A>
KILN_INLINE void store_as(A* p, V v) {
  if constexpr (std::is_same_v<V, A>) {
    *p = v;
  } else {
#if KILN_SIMD
    simd::storeu(p, v);
#endif
  }
}

/// softmax (Log: log_softmax) down each column of the [n, w] block x with row stride ld,
/// into y (same layout); m and s have room for w values (Note [Softmax down columns]).
template <bool Log, class A>
void softmax_columns(const A* x, A* y, int64_t n, int64_t ld, int64_t w, A* m, A* s) {
  std::fill(m, m + w, -std::numeric_limits<A>::infinity());
  std::fill(s, s + w, A(0));
  for (int64_t k0 = 0; k0 < n; k0 += kColumnTile) {
    const int64_t k1 = std::min(n, k0 + kColumnTile);
    over_columns<A>(w, [&](int64_t j, auto v) {
      using V = decltype(v);
      const V old = load_as<V>(m + j), sv = load_as<V>(s + j);
      V mx = old;
      for (int64_t k = k0; k < k1; ++k) mx = math::max(mx, load_as<V>(x + k * ld + j));
      // The tile's sum on its own, then added: rounding grows with n / kColumnTile, not n.
      V t = math::lit<V>(0);
      for (int64_t k = k0; k < k1; ++k) t += math::exp(load_as<V>(x + k * ld + j) - mx);
      // A column that is -inf so far adds 0 (not exp(-inf + inf)).
      t = math::select(mx == math::lit<V>(-std::numeric_limits<A>::infinity()), math::lit<V>(0), t);
      store_as(s + j, math::select(mx > old, sv * math::exp(old - mx), sv) + t);
      store_as(m + j, mx);
    });
  }
  over_columns<A>(w, [&](int64_t j, auto v) {  // s becomes log(s) or 1 / s
    using V = decltype(v);
    const V sv = load_as<V>(s + j);
    store_as(s + j, Log ? math::log(sv) : math::lit<V>(1) / sv);
  });
  for (int64_t k = 0; k < n; ++k)
    over_columns<A>(w, [&](int64_t j, auto v) {
      using V = decltype(v);
      const V d = load_as<V>(x + k * ld + j) - load_as<V>(m + j), c = load_as<V>(s + j);
      store_as(y + k * ld + j, Log ? d - c : math::exp(d) * c);
    });
}

// Strided rows (softmax over a leading dim) are copied in up to kSoftmaxLanes at a time,
// one element of each per step: neighbouring rows are then usually neighbours in memory,
// so every cache line and page touched serves all of them. The staging buffer holds at
// most kSoftmaxStage elements.
inline constexpr int kSoftmaxLanes = 16;
inline constexpr int64_t kSoftmaxStage = int64_t{1} << 16;

template <bool Log, class T>
Tensor<T, CPU> softmax_impl(const Tensor<T, CPU>& x, int64_t dim, const char* op) {
  using A = opmath_t<T>;
  const int d = wrap_row_dim(dim, x.shape(), op);
  Tensor<T, CPU> out(x.shape());
  if (out.numel() == 0) return out;
  const DimRows rr = dim_rows(x.shape(), x.strides(), d);
  const int64_t n = rr.n, step = rr.step, inner = rr.inner;
  // float/double rows with unit stride are read (written) directly; the others are staged.
  constexpr bool native = std::is_same_v<T, A>;
  const T* xd = x.data();
  T* od = out.data();
  if constexpr (native) {
    if (x.is_contiguous() && inner > 1) {  // Note [Softmax down columns]
      const int64_t outer = rr.rows / inner;
      const int64_t chunks = (inner + kColumnWidth - 1) / kColumnWidth;
      parallel_for(outer * chunks, row_grain(n * kColumnWidth), 1, [&](int64_t i0, int64_t i1) {
        std::vector<A> m(kColumnWidth), s(kColumnWidth);
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t o = i / chunks, j0 = i % chunks * kColumnWidth;
          const int64_t base = o * n * inner + j0;
          softmax_columns<Log>(xd + base, od + base, n, inner, std::min(kColumnWidth, inner - j0),
                               m.data(), s.data());
        }
      });
      return out;
    }
  }
  const bool direct_in = native && step == 1, direct_out = native && inner == 1;
  const int lanes =
      direct_in ? 1 : static_cast<int>(std::clamp<int64_t>(kSoftmaxStage / n, 1, kSoftmaxLanes));
  const int64_t n_tiles = (rr.rows + lanes - 1) / lanes;
  parallel_for(n_tiles, row_grain(n * lanes), 1, [&](int64_t t0, int64_t t1) {
    std::vector<A> stage(direct_in && direct_out ? 0 : static_cast<std::size_t>(n * lanes));
    std::vector<A> block_m(static_cast<std::size_t>((n + kSoftmaxBlock - 1) / kSoftmaxBlock));
    int64_t in_off[kSoftmaxLanes], out_off[kSoftmaxLanes];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t r0 = t * lanes;
      const int nl = static_cast<int>(std::min<int64_t>(lanes, rr.rows - r0));
      for (int l = 0; l < nl; ++l) {
        in_off[l] = rr.in_offset(r0 + l);
        out_off[l] = rr.out_offset(r0 + l, n);
      }
      if (!direct_in)
        for (int64_t k = 0; k < n; ++k)
          for (int l = 0; l < nl; ++l) stage[l * n + k] = static_cast<A>(xd[in_off[l] + k * step]);
      for (int l = 0; l < nl; ++l) {
        const A* src = stage.data() + l * n;
        A* dst = stage.data() + l * n;
        if constexpr (native) {
          if (direct_in) src = xd + in_off[l];
          if (direct_out) dst = od + out_off[l];
        }
        softmax_row<Log>(src, dst, n, block_m.data());
      }
      if (!direct_out)
        for (int64_t k = 0; k < n; ++k)
          for (int l = 0; l < nl; ++l)
            od[out_off[l] + k * inner] = static_cast<T>(stage[l * n + k]);
    }
  });
  return out;
}

template <class E>
constexpr void require_softmax_input() {
  static_assert(is_floating_v<expr::value_t<E>>,
                "kiln: softmax/log_softmax need a floating-point tensor; cast with x.to<float>()");
}

template <class T>
void check_same_shape(const Tensor<T, CPU>& g, const Tensor<T, CPU>& y, const char* op) {
  KILN_CHECK(g.shape() == y.shape(), ShapeError, "[", op, "] grad_out has shape ", g.shape(),
             " but the forward output has shape ", y.shape());
}

/// softmax (Log: log_softmax) of x, recorded when x needs a gradient. The backward is
/// softmax_backward / log_softmax_backward, which are written with differentiable ops
/// (a fused sum and a fused expression of the saved output), so create_graph works.
template <bool Log, class T>
Tensor<T, CPU> softmax_recorded(const Tensor<T, CPU>& x, int64_t dim);

/// The CUDA kernels (cuda/softmax.cu, Note [CUDA softmax]); not recorded by autograd yet.
template <bool Log, class T>
Tensor<T, CUDA> softmax_cuda(const Tensor<T, CUDA>& x, int64_t dim);

template <bool Log, class E>
auto softmax_any(const E& x, int64_t dim) {
  require_softmax_input<E>();
  using T = expr::value_t<E>;
  using D = expr::device_t<E>;
  if constexpr (std::is_same_v<D, CPU>)
    return softmax_recorded<Log>(Tensor<T, CPU>(x), dim);
  else
    return softmax_cuda<Log>(Tensor<T, CUDA>(x), dim);
}
}  // namespace detail

/// softmax along `dim` (negative dims count from the end): exp(x - max) / sum(exp(x - max)),
/// numerically stable, in two passes over memory (Note [Two-pass softmax]). float, double,
/// half and bfloat16 (computed in float). `x` may be any tensor view or expression.
template <expr::Expr E>
Tensor<expr::value_t<E>, expr::device_t<E>> softmax(const E& x, int64_t dim) {
  return detail::softmax_any<false>(x, dim);
}

/// log(softmax(x, dim)) computed as (x - max) - log(sum(exp(x - max))): accurate where
/// softmax underflows.
template <expr::Expr E>
Tensor<expr::value_t<E>, expr::device_t<E>> log_softmax(const E& x, int64_t dim) {
  return detail::softmax_any<true>(x, dim);
}

/// Gradient of softmax with respect to its input, from the incoming gradient `grad_out`
/// and the forward output `out` = softmax(x, dim): out * (grad_out - sum(grad_out * out, dim)).
template <class T>
Tensor<T, CPU> softmax_backward(const Tensor<T, CPU>& grad_out, const Tensor<T, CPU>& out,
                                int64_t dim) {
  detail::check_same_shape(grad_out, out, "softmax_backward");
  const int d = detail::wrap_row_dim(dim, out.shape(), "softmax_backward");
  const Tensor<T, CPU> dot = sum(grad_out * out, d, /*keepdim=*/true);
  return Tensor<T, CPU>(out * (grad_out - dot));
}

/// Gradient of log_softmax from `grad_out` and the forward output `out` = log_softmax(x, dim):
/// grad_out - exp(out) * sum(grad_out, dim).
template <class T>
Tensor<T, CPU> log_softmax_backward(const Tensor<T, CPU>& grad_out, const Tensor<T, CPU>& out,
                                    int64_t dim) {
  detail::check_same_shape(grad_out, out, "log_softmax_backward");
  const int d = detail::wrap_row_dim(dim, out.shape(), "log_softmax_backward");
  const Tensor<T, CPU> total = sum(grad_out, d, /*keepdim=*/true);
  return Tensor<T, CPU>(grad_out - exp(out) * total);
}

namespace detail {
template <bool Log, class T>
Tensor<T, CPU> softmax_recorded(const Tensor<T, CPU>& x, int64_t dim) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = softmax_impl<Log>(x, dim, Log ? "log_softmax" : "softmax");
  }
  if (autograd::needs_grad(x))
    autograd::record_with_output(Log ? "LogSoftmaxBackward" : "SoftmaxBackward", out,
                                 autograd::collect_edges(x),
                                 [dim](std::vector<AnyTensor>& g, const Tensor<T, CPU>& y) {
                                   const Tensor<T, CPU>& go = g[0].as<T, CPU>();
                                   if constexpr (Log)
                                     return autograd::grads(log_softmax_backward(go, y, dim));
                                   else
                                     return autograd::grads(softmax_backward(go, y, dim));
                                 });
  return out;
}
}  // namespace detail

}  // namespace kiln
