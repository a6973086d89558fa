// SPDX-License-Identifier: BSD-3-Clause
// 2-D pooling, its backward kernels and autograd (include/kiln/ops/pool.hpp): plain loops over
// (N * C) planes split across threads. Pooling reads each input element a few times and
// is memory-bound, so the loops stay simple; each plane is written by one thread in a
// fixed order, so results do not depend on the thread count.
#include "kiln/ops/pool.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kiln/core/parallel.hpp"
#include "kiln/tensor/factories.hpp"

namespace kiln {
namespace {

struct Geom {
  int64_t planes, h, w, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// torch's pooling_output_shape: with ceil_mode, a last window that would start in the
// right padding is dropped.
int64_t pool_out(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t d, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * pad - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

// Rank 3 (unbatched) or 4, with non-empty channels, height and width (torch's rule: only
// the batch may be empty). Returns whether the input is batched.
bool check_input(const char* op, const char* what, const Shape& s) {
  KILN_CHECK(s.size() == 3 || s.size() == 4, ShapeError, "[", op, "] expected ", what,
             " to be 3-D (unbatched) or 4-D (batched), got shape ", s);
  const int first = s.size() == 4 ? 1 : 0;
  for (int d = first; d < s.size(); ++d)
    KILN_CHECK(s[d] > 0, ShapeError, "[", op, "] expected ", what,
               " with non-zero channels, height and width (only the batch may be empty), got "
               "shape ",
               s);
  return s.size() == 4;
}

IntPair need(const char* op, const char* what, IntPair v) {
  KILN_CHECK(!v.empty(), ValueError, "[", op, "] ", what, " needs one or two values, got none");
  return v;
}

Geom pool_geom(const char* op, const char* what, const Shape& s, IntPair kernel, IntPair stride,
               IntPair padding, IntPair dilation, bool ceil_mode) {
  check_input(op, what, s);
  need(op, "kernel_size", kernel);
  if (stride.empty()) stride = kernel;
  need(op, "padding", padding);
  need(op, "dilation", dilation);
  KILN_CHECK(kernel.h() > 0 && kernel.w() > 0, ValueError, "[", op,
             "] kernel_size must be positive, got ", kernel);
  KILN_CHECK(stride.h() > 0 && stride.w() > 0, ValueError, "[", op,
             "] stride must be positive, got ", stride);
  KILN_CHECK(dilation.h() > 0 && dilation.w() > 0, ValueError, "[", op,
             "] dilation must be positive, got ", dilation);
  KILN_CHECK(padding.h() >= 0 && padding.w() >= 0, ValueError, "[", op,
             "] padding must be non-negative, got ", padding);
  KILN_CHECK(padding.h() <= kernel.h() / 2 && padding.w() <= kernel.w() / 2, ValueError, "[", op,
             "] padding ", padding, " must be at most half the kernel size ", kernel);
  const int64_t h = s[s.size() - 2], w = s[s.size() - 1];
  const int64_t oh = pool_out(h, kernel.h(), padding.h(), stride.h(), dilation.h(), ceil_mode);
  const int64_t ow = pool_out(w, kernel.w(), padding.w(), stride.w(), dilation.w(), ceil_mode);
  KILN_CHECK(oh >= 1 && ow >= 1, ShapeError, "[", op, "] output size is too small: input ", s,
             " gives [", oh, ", ", ow, "] per channel (kernel_size ", kernel, ", stride ", stride,
             ", padding ", padding, ", dilation ", dilation, ")");
  return Geom{numel_of(s) / (h * w),
              h,
              w,
              oh,
              ow,
              kernel.h(),
              kernel.w(),
              stride.h(),
              stride.w(),
              padding.h(),
              padding.w(),
              dilation.h(),
              dilation.w()};
}

Shape out_shape(const Shape& in, int64_t oh, int64_t ow) {
  Shape r = in;
  r[r.size() - 2] = oh;
  r[r.size() - 1] = ow;
  return r;
}

// Runs f(plane) for every plane, splitting planes across threads.
template <class F>
void for_planes(int64_t planes, int64_t plane_work, F&& f) {
  parallel_for(planes, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(plane_work, 1)), 1,
               [&](int64_t lo, int64_t hi) {
                 for (int64_t p = lo; p < hi; ++p) f(p);
               });
}

// The first row (or column) of a window inside the input and its end, stepping by d.
struct Span {
  int64_t lo, hi;
};
Span dilated_span(int64_t o, int64_t k, int64_t s, int64_t pad, int64_t d, int64_t n) {
  int64_t lo = o * s - pad;
  const int64_t hi = std::min(lo + (k - 1) * d + 1, n);
  while (lo < 0) lo += d;
  return {lo, hi};
}

// Note [Empty max-pool windows]: with dilation, a window can hold no input element (e.g.
// H = 2, kernel 2, dilation 3, padding 1: rows -1 and 2). torch returns -inf with an index
// outside the plane there; kiln returns -inf with index -1, which max_pool2d_backward skips.
//
// A plane is pooled a block of one output row at a time: for each input element of the
// window shape, in torch's order (window rows, then columns), every output of the block is
// updated with a select. The compiler vectorises these loops — indices are kept as 32-bit
// lanes beside the 32-bit floats while a block is pooled — so there is no branch to
// mispredict on random data (a per-window loop with branches ran 7x slower).
template <class T, class I, bool WithIndices>
void max_pool_block(const Geom& g, const T* xp, int64_t oy, int64_t x_lo, int64_t x_hi, T* out,
                    int64_t* out_idx) {
  constexpr int64_t kBlock = 256;
  T best[kBlock];
  I at[kBlock];
  const int64_t n = x_hi - x_lo;
  const Span r = dilated_span(oy, g.kh, g.sh, g.ph, g.dh, g.h);
  // torch's rule: the first maximum, or the last NaN; the first element when every value is
  // -inf.
  for (int64_t k = 0; k < n; ++k) {
    best[k] = -std::numeric_limits<T>::infinity();
    if constexpr (WithIndices) {
      const Span c = dilated_span(x_lo + k, g.kw, g.sw, g.pw, g.dw, g.w);
      at[k] = static_cast<I>(r.lo < r.hi && c.lo < c.hi ? r.lo * g.w + c.lo : -1);
    }
  }
  for (int64_t iy = r.lo; iy < r.hi; iy += g.dh)
    for (int64_t j = 0; j < g.kw; ++j) {
      // Outputs whose column j lies inside the input: ox * sw - pw + j * dw in [0, w).
      const int64_t off = j * g.dw - g.pw;
      const int64_t lo = std::max(x_lo, off >= 0 ? 0 : (-off + g.sw - 1) / g.sw);
      const int64_t hi = std::min(x_hi, off < g.w ? (g.w - 1 - off) / g.sw + 1 : 0);
      const T* src = xp + iy * g.w + off;
      const I base = static_cast<I>(iy * g.w + off);
      for (int64_t ox = lo; ox < hi; ++ox) {
        const T v = src[ox * g.sw];
        const int64_t k = ox - x_lo;
        const bool take = (v > best[k]) | std::isnan(v);
        best[k] = take ? v : best[k];
        if constexpr (WithIndices) at[k] = take ? base + static_cast<I>(ox * g.sw) : at[k];
      }
    }
  for (int64_t k = 0; k < n; ++k) {
    out[k] = best[k];
    if constexpr (WithIndices) out_idx[k] = at[k];
  }
}

template <class T, bool WithIndices>
void max_pool(const Geom& g, const T* x, T* y, int64_t* idx) {
  constexpr int64_t kBlock = 256;
  // 32-bit index lanes match float's, which keeps the loop vectorised; planes too large
  // for them (and double) use 64-bit lanes.
  const bool narrow = std::is_same_v<T, float> && g.h * g.w <= INT32_MAX;
  for_planes(g.planes, g.oh * g.ow * g.kh * g.kw, [&](int64_t p) {
    const T* xp = x + p * g.h * g.w;
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t x0 = 0; x0 < g.ow; x0 += kBlock) {
        const int64_t x1 = std::min(g.ow, x0 + kBlock), o = (p * g.oh + oy) * g.ow + x0;
        int64_t* oi = WithIndices ? idx + o : nullptr;
        if (narrow)
          max_pool_block<T, int32_t, WithIndices>(g, xp, oy, x0, x1, y + o, oi);
        else
          max_pool_block<T, int64_t, WithIndices>(g, xp, oy, x0, x1, y + o, oi);
      }
  });
}

// Sum of n contiguous values in a fixed order: 16 interleaved partial sums (which the
// compiler keeps in vector registers, so long rows are not bound by the latency of one
// chain of adds), added up in lane order, then the tail.
template <class T>
T contiguous_sum(const T* p, int64_t n) {
  constexpr int kLanes = 16;
  if (n < kLanes) {
    T s = 0;
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return s;
  }
  T acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += p[i + l];
  T s = 0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < n; ++i) s += p[i];
  return s;
}

// Sum of the window rows [y0, y1) x columns [x0, x1) of a plane with row length w; a
// window of whole rows is one contiguous run.
template <class T>
T window_sum(const T* plane, int64_t w, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  if (x0 == 0 && x1 == w) return contiguous_sum(plane + y0 * w, (y1 - y0) * w);
  T s = 0;
  for (int64_t iy = y0; iy < y1; ++iy) s += contiguous_sum(plane + iy * w + x0, x1 - x0);
  return s;
}

struct AvgArgs {
  bool count_include_pad;
  std::optional<int64_t> divisor;
};

// Calls f(output offset, iy0, iy1, ix0, ix1, divisor) for every window of a plane, with
// the window clipped to the input (torch's avg_pool2d rules).
template <class F>
void avg_windows(const Geom& g, const AvgArgs& a, F&& f) {
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    int64_t y0 = oy * g.sh - g.ph, y1 = std::min(y0 + g.kh, g.h + g.ph);
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      int64_t x0 = ox * g.sw - g.pw, x1 = std::min(x0 + g.kw, g.w + g.pw);
      const int64_t padded = (y1 - y0) * (x1 - x0);
      const int64_t cy0 = std::max<int64_t>(y0, 0), cy1 = std::min(y1, g.h);
      const int64_t cx0 = std::max<int64_t>(x0, 0), cx1 = std::min(x1, g.w);
      const int64_t div = a.divisor             ? *a.divisor
                          : a.count_include_pad ? padded
                                                : (cy1 - cy0) * (cx1 - cx0);
      f(oy * g.ow + ox, cy0, cy1, cx0, cx1, div);
    }
  }
}

template <class T>
void avg_pool(const Geom& g, const AvgArgs& a, const T* x, T* y) {
  for_planes(g.planes, g.oh * g.ow * g.kh * g.kw, [&](int64_t p) {
    const T* xp = x + p * g.h * g.w;
    T* yp = y + p * g.oh * g.ow;
    avg_windows(g, a, [&](int64_t o, int64_t y0, int64_t y1, int64_t x0, int64_t x1, int64_t d) {
      if (y0 >= y1 || x0 >= x1) {
        yp[o] = T(0);
        return;
      }
      yp[o] = window_sum(xp, g.w, y0, y1, x0, x1) / static_cast<T>(d);
    });
  });
}

template <class T>
void avg_pool_backward(const Geom& g, const AvgArgs& a, const T* gy, T* gx) {
  for_planes(g.planes, g.oh * g.ow * g.kh * g.kw, [&](int64_t p) {
    const T* gp = gy + p * g.oh * g.ow;
    T* xp = gx + p * g.h * g.w;
    std::fill(xp, xp + g.h * g.w, T(0));
    avg_windows(g, a, [&](int64_t o, int64_t y0, int64_t y1, int64_t x0, int64_t x1, int64_t d) {
      const T v = gp[o] / static_cast<T>(d);
      for (int64_t iy = y0; iy < y1; ++iy)
        for (int64_t ix = x0; ix < x1; ++ix) xp[iy * g.w + ix] += v;
    });
  });
}

// Adaptive windows: output i covers [floor(i * n / m), ceil((i + 1) * n / m)).
int64_t start_index(int64_t i, int64_t m, int64_t n) { return i * n / m; }
int64_t end_index(int64_t i, int64_t m, int64_t n) { return ((i + 1) * n + m - 1) / m; }

template <class T, bool Backward>
void adaptive_avg(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const T* in,
                  T* out) {
  for_planes(planes, h * w, [&](int64_t p) {
    if constexpr (Backward) std::fill(out + p * h * w, out + (p + 1) * h * w, T(0));
    for (int64_t oy = 0; oy < oh; ++oy) {
      const int64_t y0 = start_index(oy, oh, h), y1 = end_index(oy, oh, h);
      for (int64_t ox = 0; ox < ow; ++ox) {
        const int64_t x0 = start_index(ox, ow, w), x1 = end_index(ox, ow, w);
        const T n = static_cast<T>((y1 - y0) * (x1 - x0));
        if constexpr (Backward) {
          T* xp = out + p * h * w;
          const T v = in[(p * oh + oy) * ow + ox] / n;
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) xp[iy * w + ix] += v;
        } else {
          out[(p * oh + oy) * ow + ox] = window_sum(in + p * h * w, w, y0, y1, x0, x1) / n;
        }
      }
    }
  });
}

// grad_output's leading dims (N, C or C) must match input_shape's.
void check_leading(const char* op, const Shape& grad, const Shape& input_shape) {
  bool ok = grad.size() == input_shape.size();
  for (int d = 0; ok && d + 2 < grad.size(); ++d) ok = grad[d] == input_shape[d];
  KILN_CHECK(ok, ShapeError, "[", op, "] grad_output of shape ", grad,
             " does not match input_shape ", input_shape,
             " in rank and leading (batch, channel) dims");
}

template <class T>
Tensor<float, CPU> f32(const Tensor<T, CPU>& t) {
  return t.template to<float>();
}

// ---- the forward ops, without autograd ----------------------------------------------------------

template <class T>
Tensor<T, CPU> max_pool2d_plain(const Tensor<T, CPU>& input, IntPair kernel_size, IntPair stride,
                                IntPair padding, IntPair dilation, bool ceil_mode) {
  if constexpr (is_reduced_float_v<T>) {
    return max_pool2d_plain(f32(input), kernel_size, stride, padding, dilation, ceil_mode)
        .template to<T>();
  } else {
    const Geom g = pool_geom("max_pool2d", "input", input.shape(), kernel_size, stride, padding,
                             dilation, ceil_mode);
    const Tensor<T, CPU> x = input.contiguous();
    Tensor<T, CPU> y(out_shape(input.shape(), g.oh, g.ow));
    max_pool<T, false>(g, x.data(), y.data(), nullptr);
    return y;
  }
}

template <class T>
ValuesIndices<T> max_pool2d_with_indices_plain(const Tensor<T, CPU>& input, IntPair kernel_size,
                                               IntPair stride, IntPair padding, IntPair dilation,
                                               bool ceil_mode, const char* op) {
  if constexpr (is_reduced_float_v<T>) {
    auto r = max_pool2d_with_indices_plain(f32(input), kernel_size, stride, padding, dilation,
                                           ceil_mode, op);
    return {r.values.template to<T>(), r.indices};
  } else {
    const Geom g =
        pool_geom(op, "input", input.shape(), kernel_size, stride, padding, dilation, ceil_mode);
    const Tensor<T, CPU> x = input.contiguous();
    const Shape os = out_shape(input.shape(), g.oh, g.ow);
    ValuesIndices<T> r{Tensor<T, CPU>(os), Tensor<int64_t, CPU>(os)};
    max_pool<T, true>(g, x.data(), r.values.data(), r.indices.data());
    return r;
  }
}

template <class T>
Tensor<T, CPU> avg_pool2d_plain(const Tensor<T, CPU>& input, IntPair kernel_size, IntPair stride,
                                IntPair padding, bool ceil_mode, bool count_include_pad,
                                std::optional<int64_t> divisor_override) {
  if constexpr (is_reduced_float_v<T>) {
    return avg_pool2d_plain(f32(input), kernel_size, stride, padding, ceil_mode, count_include_pad,
                            divisor_override)
        .template to<T>();
  } else {
    const char* op = "avg_pool2d";
    const Geom g =
        pool_geom(op, "input", input.shape(), kernel_size, stride, padding, 1, ceil_mode);
    KILN_CHECK(!divisor_override || *divisor_override != 0, ValueError, "[", op,
               "] divisor_override must be non-zero");
    const Tensor<T, CPU> x = input.contiguous();
    Tensor<T, CPU> y(out_shape(input.shape(), g.oh, g.ow));
    avg_pool(g, AvgArgs{count_include_pad, divisor_override}, x.data(), y.data());
    return y;
  }
}

template <class T>
Tensor<T, CPU> adaptive_avg_pool2d_plain(const Tensor<T, CPU>& input, IntPair output_size) {
  if constexpr (is_reduced_float_v<T>) {
    return adaptive_avg_pool2d_plain(f32(input), output_size).template to<T>();
  } else {
    const char* op = "adaptive_avg_pool2d";
    check_input(op, "input", input.shape());
    need(op, "output_size", output_size);
    KILN_CHECK(output_size.h() >= 0 && output_size.w() >= 0, ValueError, "[", op,
               "] output_size must be non-negative, got ", output_size);
    const Shape& s = input.shape();
    const int64_t h = s[s.size() - 2], w = s[s.size() - 1];
    const Tensor<T, CPU> x = input.contiguous();
    Tensor<T, CPU> y(out_shape(s, output_size.h(), output_size.w()));
    adaptive_avg<T, false>(numel_of(s) / (h * w), h, w, output_size.h(), output_size.w(), x.data(),
                           y.data());
    return y;
  }
}

}  // namespace

// ---- max pooling --------------------------------------------------------------------------------

template <ConvDType T>
Tensor<T, CPU> max_pool2d_backward(const Tensor<T, CPU>& grad_output,
                                   const Tensor<int64_t, CPU>& indices, const Shape& input_shape) {
  if constexpr (is_reduced_float_v<T>) {
    return max_pool2d_backward(f32(grad_output), indices, input_shape).template to<T>();
  } else {
    const char* op = "max_pool2d_backward";
    check_input(op, "input_shape", input_shape);
    KILN_CHECK(grad_output.shape() == indices.shape(), ShapeError, "[", op, "] grad_output ",
               grad_output.shape(), " and indices ", indices.shape(), " differ in shape");
    check_leading(op, grad_output.shape(), input_shape);
    const Shape& gs = grad_output.shape();
    const int64_t hw = input_shape[input_shape.size() - 2] * input_shape[input_shape.size() - 1];
    const int64_t ohw = gs[gs.size() - 2] * gs[gs.size() - 1];
    const int64_t planes = numel_of(input_shape) / hw;
    const Tensor<T, CPU> gy = grad_output.contiguous();
    const Tensor<int64_t, CPU> idx = indices.contiguous();
    Tensor<T, CPU> gx(input_shape);
    // An index outside the plane is never written; the first one found is reported after
    // the parallel loop (exceptions cannot leave it).
    std::atomic<int64_t> bad{-1};
    for_planes(planes, ohw, [&](int64_t p) {
      T* xp = gx.data() + p * hw;
      std::fill(xp, xp + hw, T(0));
      const T* gp = gy.data() + p * ohw;
      const int64_t* ip = idx.data() + p * ohw;
      for (int64_t j = 0; j < ohw; ++j) {
        const int64_t i = ip[j];
        if (i >= 0 && i < hw) {
          xp[i] += gp[j];
        } else if (i != -1) {  // -1: an empty window (Note [Empty max-pool windows])
          int64_t none = -1;
          bad.compare_exchange_strong(none, i);
        }
      }
    });
    KILN_CHECK(bad.load() == -1, IndexError, "[", op, "] index ", bad.load(),
               " is out of range for an input plane of ", hw, " elements (input_shape ",
               input_shape, ")");
    return gx;
  }
}

// ---- average pooling ----------------------------------------------------------------------------

template <ConvDType T>
Tensor<T, CPU> avg_pool2d_backward(const Tensor<T, CPU>& grad_output, const Shape& input_shape,
                                   IntPair kernel_size, IntPair stride, IntPair padding,
                                   bool ceil_mode, bool count_include_pad,
                                   std::optional<int64_t> divisor_override) {
  if constexpr (is_reduced_float_v<T>) {
    return avg_pool2d_backward(f32(grad_output), input_shape, kernel_size, stride, padding,
                               ceil_mode, count_include_pad, divisor_override)
        .template to<T>();
  } else {
    const char* op = "avg_pool2d_backward";
    const Geom g =
        pool_geom(op, "input_shape", input_shape, kernel_size, stride, padding, 1, ceil_mode);
    KILN_CHECK(!divisor_override || *divisor_override != 0, ValueError, "[", op,
               "] divisor_override must be non-zero");
    const Shape want = out_shape(input_shape, g.oh, g.ow);
    KILN_CHECK(grad_output.shape() == want, ShapeError, "[", op, "] grad_output has shape ",
               grad_output.shape(), ", but avg_pool2d of an input ", input_shape, " gives ", want);
    const Tensor<T, CPU> gy = grad_output.contiguous();
    Tensor<T, CPU> gx(input_shape);
    avg_pool_backward(g, AvgArgs{count_include_pad, divisor_override}, gy.data(), gx.data());
    return gx;
  }
}

// ---- adaptive average pooling -------------------------------------------------------------------

template <ConvDType T>
Tensor<T, CPU> adaptive_avg_pool2d_backward(const Tensor<T, CPU>& grad_output,
                                            const Shape& input_shape) {
  if constexpr (is_reduced_float_v<T>) {
    return adaptive_avg_pool2d_backward(f32(grad_output), input_shape).template to<T>();
  } else {
    const char* op = "adaptive_avg_pool2d_backward";
    check_input(op, "input_shape", input_shape);
    check_leading(op, grad_output.shape(), input_shape);
    const Shape& gs = grad_output.shape();
    const int64_t h = input_shape[input_shape.size() - 2], w = input_shape[input_shape.size() - 1];
    const int64_t oh = gs[gs.size() - 2], ow = gs[gs.size() - 1];
    const Tensor<T, CPU> gy = grad_output.contiguous();
    Tensor<T, CPU> gx(input_shape);
    if (oh == 0 || ow == 0) {
      gx.zero_();
      return gx;
    }
    adaptive_avg<T, true>(numel_of(input_shape) / (h * w), h, w, oh, ow, gy.data(), gx.data());
    return gx;
  }
}

// ---- autograd -----------------------------------------------------------------------------------

// Note [Pooling autograd]
// Given its windows (for max pooling: given the indices of the maxima, which are piecewise
// constant in the input and pass no gradient), each pooling op is a linear map of its
// input, and its backward kernel is the adjoint of that map. So the gradient of a backward
// kernel in its grad_output is the forward map again:
//   max_pool2d           gx = scatter of gy to the indices; its adjoint gathers at them
//   avg_pool2d           gx = avg_pool2d_backward(gy); its adjoint is avg_pool2d
//   adaptive_avg_pool2d  gx = adaptive_avg_pool2d_backward(gy); its adjoint is the pool
// A first-order backward (grad mode off) runs the kernels and nothing else. Under
// create_graph the kernels' results are recorded with these adjoints, themselves recorded,
// so pooling is differentiable to any order.

namespace {

struct AvgPoolParams {
  IntPair kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;
  std::optional<int64_t> divisor_override;
};

// out[..., j] = the element of x's plane at indices[..., j] (0 for the -1 of an empty
// window): the adjoint of max_pool2d_backward. x [..., H, W], indices [..., OH, OW].
template <class T>
Tensor<T, CPU> gather_planes(const Tensor<T, CPU>& x, const Tensor<int64_t, CPU>& indices) {
  const Shape& xs = x.shape();
  const Shape& is = indices.shape();
  const int64_t hw = xs[xs.size() - 2] * xs[xs.size() - 1];
  const int64_t ohw = is[is.size() - 2] * is[is.size() - 1];
  const Tensor<T, CPU> xc = x.contiguous();
  const Tensor<int64_t, CPU> ic = indices.contiguous();
  Tensor<T, CPU> y(is);
  for_planes(hw == 0 ? 0 : x.numel() / hw, ohw, [&](int64_t p) {
    const T* xp = xc.data() + p * hw;
    const int64_t* ip = ic.data() + p * ohw;
    T* yp = y.data() + p * ohw;
    for (int64_t j = 0; j < ohw; ++j) yp[j] = ip[j] >= 0 && ip[j] < hw ? xp[ip[j]] : T(0);
  });
  return y;
}

template <class T>
Tensor<T, CPU> max_pool_gather(const Tensor<T, CPU>& x,
                               const autograd::SavedTensor<int64_t, CPU>& indices);

// max_pool2d_backward(gy), recorded when gy requires grad (Note [Pooling autograd]).
template <class T>
Tensor<T, CPU> max_pool_scatter(const Tensor<T, CPU>& gy,
                                const autograd::SavedTensor<int64_t, CPU>& indices,
                                const Shape& input_shape) {
  Tensor<T, CPU> gx;
  {
    AutoGradMode off(false);
    gx = max_pool2d_backward(gy, indices.unpack(), input_shape);
  }
  if (autograd::needs_grad(gy))
    autograd::record("MaxPool2DBackwardBackward", gx, autograd::collect_edges(gy),
                     [indices](std::vector<AnyTensor>& g) {
                       return autograd::grads(max_pool_gather(g[0].as<T, CPU>(), indices));
                     });
  return gx;
}

template <class T>
Tensor<T, CPU> max_pool_gather(const Tensor<T, CPU>& x,
                               const autograd::SavedTensor<int64_t, CPU>& indices) {
  Tensor<T, CPU> y;
  {
    AutoGradMode off(false);
    y = gather_planes(x, indices.unpack());
  }
  if (autograd::needs_grad(x))
    autograd::record("MaxPool2DGatherBackward", y, autograd::collect_edges(x),
                     [indices, xs = x.shape()](std::vector<AnyTensor>& g) {
                       return autograd::grads(max_pool_scatter(g[0].as<T, CPU>(), indices, xs));
                     });
  return y;
}

// avg_pool2d_backward(gy), recorded when gy requires grad.
template <class T>
Tensor<T, CPU> avg_pool_adjoint(const Tensor<T, CPU>& gy, const Shape& input_shape,
                                const AvgPoolParams& a) {
  Tensor<T, CPU> gx;
  {
    AutoGradMode off(false);
    gx = avg_pool2d_backward(gy, input_shape, a.kernel_size, a.stride, a.padding, a.ceil_mode,
                             a.count_include_pad, a.divisor_override);
  }
  if (autograd::needs_grad(gy))
    autograd::record(
        "AvgPool2DBackwardBackward", gx, autograd::collect_edges(gy),
        [a](std::vector<AnyTensor>& g) {
          return autograd::grads(avg_pool2d(g[0].as<T, CPU>(), a.kernel_size, a.stride, a.padding,
                                            a.ceil_mode, a.count_include_pad, a.divisor_override));
        });
  return gx;
}

// adaptive_avg_pool2d_backward(gy), recorded when gy requires grad.
template <class T>
Tensor<T, CPU> adaptive_avg_pool_adjoint(const Tensor<T, CPU>& gy, const Shape& input_shape) {
  Tensor<T, CPU> gx;
  {
    AutoGradMode off(false);
    gx = adaptive_avg_pool2d_backward(gy, input_shape);
  }
  if (autograd::needs_grad(gy)) {
    const IntPair out(gy.size(-2), gy.size(-1));
    autograd::record("AdaptiveAvgPool2DBackwardBackward", gx, autograd::collect_edges(gy),
                     [out](std::vector<AnyTensor>& g) {
                       return autograd::grads(adaptive_avg_pool2d(g[0].as<T, CPU>(), out));
                     });
  }
  return gx;
}

}  // namespace

template <ConvDType T>
Tensor<T, CPU> max_pool2d(const Tensor<T, CPU>& input, IntPair kernel_size, IntPair stride,
                          IntPair padding, IntPair dilation, bool ceil_mode) {
  if (!autograd::needs_grad(input))
    return max_pool2d_plain(input, kernel_size, stride, padding, dilation, ceil_mode);
  // The backward needs the indices.
  ValuesIndices<T> r;
  {
    AutoGradMode off(false);
    r = max_pool2d_with_indices_plain(input, kernel_size, stride, padding, dilation, ceil_mode,
                                      "max_pool2d");
  }
  autograd::record("MaxPool2DWithIndicesBackward", r.values, autograd::collect_edges(input),
                   [si = autograd::save(r.indices), xs = input.shape()](std::vector<AnyTensor>& g) {
                     return autograd::grads(max_pool_scatter(g[0].as<T, CPU>(), si, xs));
                   });
  return r.values;
}

template <ConvDType T>
ValuesIndices<T> max_pool2d_with_indices(const Tensor<T, CPU>& input, IntPair kernel_size,
                                         IntPair stride, IntPair padding, IntPair dilation,
                                         bool ceil_mode) {
  ValuesIndices<T> r;
  {
    AutoGradMode off(false);
    r = max_pool2d_with_indices_plain(input, kernel_size, stride, padding, dilation, ceil_mode,
                                      "max_pool2d_with_indices");
  }
  if (autograd::needs_grad(input))
    autograd::record(
        "MaxPool2DWithIndicesBackward", r.values, autograd::collect_edges(input),
        [si = autograd::save(r.indices), xs = input.shape()](std::vector<AnyTensor>& g) {
          return autograd::grads(max_pool_scatter(g[0].as<T, CPU>(), si, xs));
        });
  return r;
}

template <ConvDType T>
Tensor<T, CPU> avg_pool2d(const Tensor<T, CPU>& input, IntPair kernel_size, IntPair stride,
                          IntPair padding, bool ceil_mode, bool count_include_pad,
                          std::optional<int64_t> divisor_override) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = avg_pool2d_plain(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                           divisor_override);
  }
  if (autograd::needs_grad(input)) {
    const AvgPoolParams a{kernel_size,       stride,          padding, ceil_mode,
                          count_include_pad, divisor_override};
    autograd::record("AvgPool2DBackward", out, autograd::collect_edges(input),
                     [a, xs = input.shape()](std::vector<AnyTensor>& g) {
                       return autograd::grads(avg_pool_adjoint(g[0].as<T, CPU>(), xs, a));
                     });
  }
  return out;
}

template <ConvDType T>
Tensor<T, CPU> adaptive_avg_pool2d(const Tensor<T, CPU>& input, IntPair output_size) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = adaptive_avg_pool2d_plain(input, output_size);
  }
  if (autograd::needs_grad(input))
    autograd::record("AdaptiveAvgPool2DBackward", out, autograd::collect_edges(input),
                     [xs = input.shape()](std::vector<AnyTensor>& g) {
                       return autograd::grads(adaptive_avg_pool_adjoint(g[0].as<T, CPU>(), xs));
                     });
  return out;
}

#define KILN_INSTANTIATE_POOL(T)                                                                   \
  template Tensor<T, CPU> max_pool2d<T>(const Tensor<T, CPU>&, IntPair, IntPair, IntPair, IntPair, \
                                        bool);                                                     \
  template ValuesIndices<T> max_pool2d_with_indices<T>(const Tensor<T, CPU>&, IntPair, IntPair,    \
                                                       IntPair, IntPair, bool);                    \
  template Tensor<T, CPU> max_pool2d_backward<T>(const Tensor<T, CPU>&,                            \
                                                 const Tensor<int64_t, CPU>&, const Shape&);       \
  template Tensor<T, CPU> avg_pool2d<T>(const Tensor<T, CPU>&, IntPair, IntPair, IntPair, bool,    \
                                        bool, std::optional<int64_t>);                             \
  template Tensor<T, CPU> avg_pool2d_backward<T>(const Tensor<T, CPU>&, const Shape&, IntPair,     \
                                                 IntPair, IntPair, bool, bool,                     \
                                                 std::optional<int64_t>);                          \
  template Tensor<T, CPU> adaptive_avg_pool2d<T>(const Tensor<T, CPU>&, IntPair);                  \
  template Tensor<T, CPU> adaptive_avg_pool2d_backward<T>(const Tensor<T, CPU>&, const Shape&);

KILN_INSTANTIATE_POOL(float)
KILN_INSTANTIATE_POOL(double)
KILN_INSTANTIATE_POOL(half)
KILN_INSTANTIATE_POOL(bfloat16)

}  // namespace kiln
