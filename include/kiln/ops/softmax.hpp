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
// are copied into a contiguous opmath buffer first (half/bfloat16 compute in float).
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
    if (bm > m) {
      s *= math::exp(m - bm);  // exp(-inf) = 0 for the first block
      m = bm;
    }
    block_m[blk] = m;
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

template <bool Log, class T>
Tensor<T, CPU> softmax_impl(const Tensor<T, CPU>& x, int64_t dim, const char* op) {
  using A = opmath_t<T>;
  const int d = wrap_row_dim(dim, x.shape(), op);
  Tensor<T, CPU> out(x.shape());
  if (out.numel() == 0) return out;
  const DimRows rr = dim_rows(x.shape(), x.strides(), d);
  const int64_t n = rr.n;
  // Rows read and written in place when they are contiguous float/double rows.
  constexpr bool native = std::is_same_v<T, A>;
  const bool direct_in = native && rr.step == 1, direct_out = native && rr.inner == 1;
  const T* xd = x.data();
  T* od = out.data();
  parallel_for(rr.rows, row_grain(n), 1, [&](int64_t r0, int64_t r1) {
    std::vector<A> stage(direct_in && direct_out ? 0 : static_cast<std::size_t>(n));
    std::vector<A> block_m(static_cast<std::size_t>((n + kSoftmaxBlock - 1) / kSoftmaxBlock));
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = xd + rr.in_offset(r);
      T* yr = od + rr.out_offset(r, n);
      const A* src = nullptr;
      if constexpr (native) {
        if (direct_in) src = xr;
      }
      if (!src) {
        for (int64_t k = 0; k < n; ++k) stage[k] = static_cast<A>(xr[k * rr.step]);
        src = stage.data();
      }
      A* dst = nullptr;
      if constexpr (native) {
        if (direct_out) dst = yr;
      }
      if (!dst) dst = stage.data();
      softmax_row<Log>(src, dst, n, block_m.data());
      if (dst == stage.data())
        for (int64_t k = 0; k < n; ++k) yr[k * rr.inner] = static_cast<T>(stage[k]);
    }
  });
  return out;
}

template <class E>
constexpr void require_softmax_input() {
  static_assert(std::is_same_v<expr::device_t<E>, CPU>,
                "kiln: softmax on CUDA tensors needs the CUDA backend (kiln::cuda), not built yet");
  static_assert(is_floating_v<expr::value_t<E>>,
                "kiln: softmax/log_softmax need a floating-point tensor; cast with x.to<float>()");
}

template <class T>
void check_same_shape(const Tensor<T, CPU>& g, const Tensor<T, CPU>& y, const char* op) {
  KILN_CHECK(g.shape() == y.shape(), ShapeError, "[", op, "] grad_out has shape ", g.shape(),
             " but the forward output has shape ", y.shape());
}
}  // namespace detail

/// softmax along `dim` (negative dims count from the end): exp(x - max) / sum(exp(x - max)),
/// numerically stable, in two passes over memory (Note [Two-pass softmax]). float, double,
/// half and bfloat16 (computed in float). `x` may be any tensor view or expression.
template <expr::Expr E>
Tensor<expr::value_t<E>, CPU> softmax(const E& x, int64_t dim) {
  detail::require_softmax_input<E>();
  return detail::softmax_impl<false>(Tensor<expr::value_t<E>, CPU>(x), dim, "softmax");
}

/// log(softmax(x, dim)) computed as (x - max) - log(sum(exp(x - max))): accurate where
/// softmax underflows.
template <expr::Expr E>
Tensor<expr::value_t<E>, CPU> log_softmax(const E& x, int64_t dim) {
  detail::require_softmax_input<E>();
  return detail::softmax_impl<true>(Tensor<expr::value_t<E>, CPU>(x), dim, "log_softmax");
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

}  // namespace kiln
