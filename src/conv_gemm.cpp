// SPDX-License-Identifier: BSD-3-Clause
// Convolution as im2col + GEMM: the path for double (oneDNN has no f64 convolution), the
// fallback for float shapes oneDNN declines, and an independent cross-check of oneDNN.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "conv_impl.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/ops/blas.hpp"

namespace kiln::conv_impl {
namespace {

// Columns ox of an output row whose input column ox * sw + off lies inside [0, w).
struct ColRange {
  int64_t lo, hi;
};
ColRange valid_cols(int64_t off, int64_t sw, int64_t w, int64_t ow) {
  const int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  const int64_t hi = off <= w - 1 ? std::min(ow, (w - 1 - off) / sw + 1) : 0;
  return {std::min(lo, ow), std::max(std::min(lo, ow), hi)};
}

// im2col of one group of one sample: rows [r_lo, r_hi) of col [k, oh * ow], row
// r = (ci * kh + i) * kw + j holding x[ci, oy * sh - ph + i * dh, ox * sw - pw + j * dw]
// (0 outside the input). x points at the group's first channel.
template <class T>
void im2col(const Geom& g, const T* x, T* col, int64_t r_lo, int64_t r_hi) {
  const int64_t P = g.plane(), kk = g.kh * g.kw;
  for (int64_t r = r_lo; r < r_hi; ++r) {
    const int64_t ci = r / kk, i = r / g.kw % g.kh, j = r % g.kw;
    const T* xc = x + ci * g.h * g.w;
    T* dst = col + r * P;
    const int64_t off = j * g.dw - g.pw;
    const ColRange cr = valid_cols(off, g.sw, g.w, g.ow);
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      T* d = dst + oy * g.ow;
      const int64_t iy = oy * g.sh - g.ph + i * g.dh;
      if (iy < 0 || iy >= g.h) {
        std::fill(d, d + g.ow, T(0));
        continue;
      }
      const T* s = xc + iy * g.w + off;
      std::fill(d, d + cr.lo, T(0));
      if (g.sw == 1) {
        std::copy(s + cr.lo, s + cr.hi, d + cr.lo);
      } else {
        for (int64_t ox = cr.lo; ox < cr.hi; ++ox) d[ox] = s[ox * g.sw];
      }
      std::fill(d + cr.hi, d + g.ow, T(0));
    }
  }
}

// The adjoint of im2col: adds col into channels [c_lo, c_hi) of one group of one sample
// (x zeroed by the caller). Each channel is written by one thread in a fixed order, so the
// sums do not depend on the thread count.
template <class T>
void col2im(const Geom& g, const T* col, T* x, int64_t c_lo, int64_t c_hi) {
  const int64_t P = g.plane();
  for (int64_t ci = c_lo; ci < c_hi; ++ci) {
    T* xc = x + ci * g.h * g.w;
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* src = col + ((ci * g.kh + i) * g.kw + j) * P;
        const int64_t off = j * g.dw - g.pw;
        const ColRange cr = valid_cols(off, g.sw, g.w, g.ow);
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t iy = oy * g.sh - g.ph + i * g.dh;
          if (iy < 0 || iy >= g.h) continue;
          T* d = xc + iy * g.w + off;
          const T* s = src + oy * g.ow;
          if (g.sw == 1) {
            for (int64_t ox = cr.lo; ox < cr.hi; ++ox) d[ox] += s[ox];
          } else {
            for (int64_t ox = cr.lo; ox < cr.hi; ++ox) d[ox * g.sw] += s[ox];
          }
        }
      }
  }
}

// Splits `rows` rows of `row_len` elements across threads (serially inside a region).
// The scratch slot of the calling thread inside parallel_for: its number in the team that
// parallel_for started, or 0 when parallel_for ran inline (called from inside an outer
// region, where omp_get_thread_num() numbers the outer team and could pass the slots).
inline std::size_t scratch_slot(int outer_level) {
  return omp_get_level() > outer_level ? static_cast<std::size_t>(omp_get_thread_num()) : 0;
}

template <class F>
void rows_parallel(int64_t rows, int64_t row_len, F&& f) {
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(row_len, 1)), 1, f);
}

// Runs f(sample, scratch, inner_parallel) for every sample. With several samples and
// threads, each thread takes whole samples with its own scratch of `scratch_len` elements
// and single-threaded GEMMs (called inside a parallel region, blas::gemm stays on its
// thread); otherwise samples run one after another, each using every thread.
template <class T, class F>
void for_each_sample(int64_t n, std::size_t scratch_len, F&& f) {
  const int nt = get_num_threads();
  if (n >= 2 && nt > 1) {
    Scratch<T> buf(scratch_len * static_cast<std::size_t>(nt));
    const int level = omp_get_level();
    parallel_for(n, 1, 1, [&](int64_t lo, int64_t hi) {
      T* mine = buf.get() + scratch_len * scratch_slot(level);
      for (int64_t s = lo; s < hi; ++s) f(s, mine, false);
    });
  } else {
    Scratch<T> buf(scratch_len);
    for (int64_t s = 0; s < n; ++s) f(s, buf.get(), true);
  }
}

}  // namespace

template <class T>
void forward_gemm(const Geom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t K = g.k(), P = g.plane(), og = g.og(), cg = g.cg(), hw = g.h * g.w;
  const bool direct = g.pointwise();
  const std::size_t scratch = direct ? 0 : static_cast<std::size_t>(K * P);
  for_each_sample<T>(g.n, scratch, [&](int64_t s, T* col, bool inner) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* xg = x + (s * g.c + grp * cg) * hw;
      const T* b = xg;
      if (!direct) {
        if (inner)
          rows_parallel(K, P, [&](int64_t lo, int64_t hi) { im2col(g, xg, col, lo, hi); });
        else
          im2col(g, xg, col, 0, K);
        b = col;
      }
      T* yg = y + (s * g.o + grp * og) * P;
      blas::gemm(false, false, og, P, K, T(1), w + grp * og * K, K, b, P, T(0), yg, P);
      if (bias)
        for (int64_t oc = 0; oc < og; ++oc) {
          const T v = bias[grp * og + oc];
          for (T *p = yg + oc * P, *e = p + P; p != e; ++p) *p += v;
        }
    }
  });
}

template <class T>
void backward_input_gemm(const Geom& g, const T* gy, const T* w, T* gx) {
  const int64_t K = g.k(), P = g.plane(), og = g.og(), cg = g.cg(), hw = g.h * g.w;
  const bool direct = g.pointwise();
  const std::size_t scratch = direct ? 0 : static_cast<std::size_t>(K * P);
  for_each_sample<T>(g.n, scratch, [&](int64_t s, T* col, bool inner) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* gyg = gy + (s * g.o + grp * og) * P;
      const T* wg = w + grp * og * K;
      T* gxg = gx + (s * g.c + grp * cg) * hw;
      if (direct) {  // gx_g [cg, hw] = w_g^T [cg, og] . gy_g [og, hw]
        blas::gemm(true, false, K, P, og, T(1), wg, K, gyg, P, T(0), gxg, P);
        continue;
      }
      blas::gemm(true, false, K, P, og, T(1), wg, K, gyg, P, T(0), col, P);
      auto scatter = [&](int64_t lo, int64_t hi) {
        std::fill(gxg + lo * hw, gxg + hi * hw, T(0));
        col2im(g, col, gxg, lo, hi);
      };
      if (inner)
        rows_parallel(cg, hw * g.kh * g.kw, scatter);
      else
        scatter(0, cg);
    }
  });
}

// Note [Deterministic weight gradients]
// The weight gradient sums over the batch. The batch is cut into a number of chunks that
// depends on the shapes only (at most 8, fewer when the partial sums would take more than
// 64 MiB); each chunk sums its samples in order into its own partial, and the partials are
// added in chunk order. Threads take whole chunks, so the result is the same for any
// thread count (given a GEMM whose result does not depend on it, as for one thread).
template <class T>
void backward_weight_gemm(const Geom& g, const T* x, const T* gy, T* gw) {
  const int64_t K = g.k(), P = g.plane(), og = g.og(), cg = g.cg(), hw = g.h * g.w;
  const int64_t wn = g.w_numel();
  const bool direct = g.pointwise();
  const std::size_t scratch = direct ? 0 : static_cast<std::size_t>(K * P);
  if (g.n == 0 || P == 0) {
    std::fill(gw, gw + wn, T(0));
    return;
  }
  int64_t chunks = std::min<int64_t>(g.n, 8);
  while (chunks > 1 && chunks * wn * static_cast<int64_t>(sizeof(T)) > (int64_t{64} << 20))
    --chunks;

  // Accumulates samples [lo, hi) into out [o, k].
  auto accumulate = [&](int64_t lo, int64_t hi, T* out, T* col, bool inner) {
    for (int64_t s = lo; s < hi; ++s)
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const T* xg = x + (s * g.c + grp * cg) * hw;
        const T* b = xg;
        if (!direct) {
          if (inner)
            rows_parallel(K, P, [&](int64_t a, int64_t e) { im2col(g, xg, col, a, e); });
          else
            im2col(g, xg, col, 0, K);
          b = col;
        }
        // gw_g [og, K] (+)= gy_g [og, P] . col^T [P, K]
        blas::gemm(false, true, og, K, P, T(1), gy + (s * g.o + grp * og) * P, P, b, P,
                   s == lo ? T(0) : T(1), out + grp * og * K, K);
      }
  };
  if (chunks == 1) {
    Scratch<T> col(scratch);
    accumulate(0, g.n, gw, col.get(), true);
    return;
  }
  const int nt = get_num_threads();
  Scratch<T> parts(static_cast<std::size_t>(chunks * wn));
  Scratch<T> cols(scratch * static_cast<std::size_t>(nt));
  const int level = omp_get_level();
  parallel_for(chunks, 1, 1, [&](int64_t lo, int64_t hi) {
    T* col = cols.get() + scratch * scratch_slot(level);
    for (int64_t c = lo; c < hi; ++c)
      accumulate(g.n * c / chunks, g.n * (c + 1) / chunks, parts.get() + c * wn, col, false);
  });
  parallel_for(wn, kParallelGrain, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T acc = parts.get()[i];
      for (int64_t c = 1; c < chunks; ++c) acc += parts.get()[c * wn + i];
      gw[i] = acc;
    }
  });
}

template void forward_gemm<float>(const Geom&, const float*, const float*, const float*, float*);
template void forward_gemm<double>(const Geom&, const double*, const double*, const double*,
                                   double*);
template void backward_input_gemm<float>(const Geom&, const float*, const float*, float*);
template void backward_input_gemm<double>(const Geom&, const double*, const double*, double*);
template void backward_weight_gemm<float>(const Geom&, const float*, const float*, float*);
template void backward_weight_gemm<double>(const Geom&, const double*, const double*, double*);

}  // namespace kiln::conv_impl
