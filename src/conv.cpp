// SPDX-License-Identifier: BSD-3-Clause
// conv1d, conv2d, conv_transpose2d and their backward kernels: argument checks, shapes,
// and the choice of engine (include/kiln/ops/conv.hpp declares them).
#include "kiln/ops/conv.hpp"

#include <algorithm>
#include <atomic>
#include <climits>

#include "conv_impl.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/ops/reduce.hpp"

// Note [Convolution backends]
// Every convolution here is one 2-D convolution y = conv(x, w) described by a
// conv_impl::Geom, run by one of two engines:
//   * float: oneDNN's convolution primitives (forward, backward data, backward weights),
//     as PyTorch uses on CPU — 1.05-1.5x faster than im2col + GEMM on the benchmarked
//     32-channel layers and 2.4-3x on depthwise ones, 1.15x slower on a 1-channel first
//     layer (docs/benchmarks.md, benchmarks/bench_conv.cpp). Shapes that oneDNN declines
//     (or serves only with its reference loops) and shapes with a zero-size dim fall back
//     to the GEMM engine.
//   * double (oneDNN has no f64 convolution): im2col + GEMM (src/conv_gemm.cpp).
// detail::set_conv_backend(ConvBackend::Gemm) sends float to the GEMM engine too, so tests
// and benchmarks can compare the two independent implementations.
// conv1d is conv2d with H = 1; half and bfloat16 are computed in float and rounded once.
//
// Note [Transposed convolution]
// conv_transpose2d(x, w) with w [C, O / groups, kH, kW] is the adjoint (in its input) of
// the convolution from O to C channels whose weight is w itself, read as
// [out = C, in / groups = O / groups, kH, kW]. With that convolution's Geom (input
// [N, O, OH, OW], output [N, C, H, W]):
//   conv_transpose2d(x)              = conv backward-input of x
//   its backward input, given gy     = conv forward of gy
//   its backward weight, given gy, x = conv backward-weight with gy as the convolution's
//                                      input and x as its output gradient.
// output_padding adds rows and columns at the end of the transposed output that no input
// reaches; when output_padding >= stride (allowed while < dilation) the convolution's
// largest output is larger than H, and the Geom's oh = H keeps only the rows that exist.

namespace kiln {
namespace {

using conv_impl::Geom;

std::atomic<detail::ConvBackend> g_backend{detail::ConvBackend::Auto};

struct Params {
  int64_t sh, sw, ph, pw, dh, dw, oph, opw, groups;
  int sdims;  // 1 for conv1d (only the W values are the user's), 2 otherwise
};

// A pair as the user wrote it: one number for 1-D ops, [h, w] otherwise.
struct Show {
  int64_t h, w;
  int sdims;
  friend std::ostream& operator<<(std::ostream& os, const Show& s) {
    if (s.sdims == 1) return os << s.w;
    return os << '[' << s.h << ", " << s.w << ']';
  }
};

IntPair need(const char* op, const char* what, IntPair v) {
  KILN_CHECK(!v.empty(), ValueError, "[", op, "] ", what, " needs one or two values, got none");
  return v;
}

Params make_params(const char* op, IntPair stride, IntPair padding, IntPair dilation,
                   IntPair output_padding, int64_t groups, int sdims) {
  need(op, "stride", stride);
  need(op, "padding", padding);
  need(op, "dilation", dilation);
  need(op, "output_padding", output_padding);
  const Params p{stride.h(),   stride.w(),         padding.h(),        padding.w(), dilation.h(),
                 dilation.w(), output_padding.h(), output_padding.w(), groups,      sdims};
  KILN_CHECK(p.sh > 0 && p.sw > 0, ValueError, "[", op, "] stride must be positive, got ",
             Show{p.sh, p.sw, sdims});
  KILN_CHECK(p.ph >= 0 && p.pw >= 0, ValueError, "[", op, "] padding must be non-negative, got ",
             Show{p.ph, p.pw, sdims});
  KILN_CHECK(p.dh > 0 && p.dw > 0, ValueError, "[", op, "] dilation must be positive, got ",
             Show{p.dh, p.dw, sdims});
  KILN_CHECK(p.oph >= 0 && p.opw >= 0, ValueError, "[", op,
             "] output_padding must be non-negative, got ", Show{p.oph, p.opw, sdims});
  KILN_CHECK(groups > 0, ValueError, "[", op, "] groups must be positive, got ", groups);
  return p;
}

// 1 for conv1d's [N, C, L] and [C, L], 2 for [N, C, H, W] and [C, H, W].
bool is_batched(const char* op, const char* what, const Shape& s, int sdims) {
  KILN_CHECK(s.size() == sdims + 1 || s.size() == sdims + 2, ShapeError, "[", op, "] expected ",
             what, " to be ", sdims + 1, "-D (unbatched) or ", sdims + 2,
             "-D (batched), got shape ", s);
  return s.size() == sdims + 2;
}

void check_weight_rank(const char* op, const char* what, const Shape& w, int sdims,
                       bool transposed) {
  KILN_CHECK(w.size() == sdims + 2, ShapeError, "[", op, "] ", what, " must be ", sdims + 2, "-D ",
             transposed ? "[in_channels, out_channels / groups, "
                        : "[out_channels, in_channels / groups, ",
             sdims == 1 ? "kL]" : "kH, kW]", ", got shape ", w);
}

// [N, C, H, W] from a user's input shape (unbatched and/or 1-D).
Shape as_nchw(const Shape& s, int sdims) {
  Shape r = s;
  if (r.size() == sdims + 1) r.insert(0, 1);
  if (sdims == 1) r.insert(2, 1);
  return r;
}
// [O, Cg, kH, kW] from a weight shape (1-D: kH = 1).
Shape as_oikk(const Shape& w, int sdims) {
  Shape r = w;
  if (sdims == 1) r.insert(2, 1);
  return r;
}
// The user-facing shape of a result [N, C, H, W] (unbatched and/or 1-D removed).
Shape user_shape(int64_t n, int64_t c, int64_t h, int64_t w, bool batched, int sdims) {
  Shape r;
  if (batched) r.push_back(n);
  r.push_back(c);
  if (sdims == 2) r.push_back(h);
  r.push_back(w);
  return r;
}

// The convolution from x (user shape xs) through w (user shape ws).
Geom conv_geom(const char* op, const Shape& xs, const Shape& ws, const Params& p) {
  const Shape x = as_nchw(xs, p.sdims), w = as_oikk(ws, p.sdims);
  const int64_t g = p.groups, C = x[1], O = w[0];
  KILN_CHECK(C % g == 0, ShapeError, "[", op, "] input channels (", C,
             ") must be divisible by groups (", g, "); input ", xs, ", weight ", ws);
  KILN_CHECK(O % g == 0, ShapeError, "[", op, "] out channels (weight.size(0) = ", O,
             ") must be divisible by groups (", g, "); weight ", ws);
  KILN_CHECK(C == w[1] * g, ShapeError, "[", op, "] weight ", ws, " with groups=", g,
             " expects an input with ", w[1] * g, " channels (weight.size(1) * groups), but input ",
             xs, " has ", C);
  KILN_CHECK(w[2] > 0 && w[3] > 0, ShapeError, "[", op, "] weight ", ws,
             " has a kernel of size zero");
  const int64_t eh = p.dh * (w[2] - 1) + 1, ew = p.dw * (w[3] - 1) + 1;
  const int64_t hp = x[2] + 2 * p.ph, wp = x[3] + 2 * p.pw;
  KILN_CHECK(hp >= eh && wp >= ew, ShapeError, "[", op,
             "] kernel is larger than the padded input: padded input size per channel ",
             Show{hp, wp, p.sdims}, ", effective kernel size (dilation * (kernel - 1) + 1) ",
             Show{eh, ew, p.sdims}, "; input ", xs, ", weight ", ws, ", padding ",
             Show{p.ph, p.pw, p.sdims}, ", dilation ", Show{p.dh, p.dw, p.sdims});
  return Geom{x[0], x[1], x[2], x[3], O,    w[2], w[3], (hp - eh) / p.sh + 1, (wp - ew) / p.sw + 1,
              p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, g};
}

// The convolution whose input-adjoint is conv_transpose2d(x through w): Note [Transposed
// convolution].
Geom transposed_geom(const char* op, const Shape& xs, const Shape& ws, const Params& p) {
  const Shape x = as_nchw(xs, p.sdims);
  const int64_t g = p.groups, C = x[1];
  KILN_CHECK(ws[0] % g == 0, ShapeError, "[", op, "] in channels (weight.size(0) = ", ws[0],
             ") must be divisible by groups (", g, "); weight ", ws);
  KILN_CHECK(C == ws[0], ShapeError, "[", op, "] weight ", ws, " expects an input with ", ws[0],
             " channels (weight.size(0)), but input ", xs, " has ", C);
  KILN_CHECK(ws[2] > 0 && ws[3] > 0, ShapeError, "[", op, "] weight ", ws,
             " has a kernel of size zero");
  KILN_CHECK((p.oph < p.sh || p.oph < p.dh) && (p.opw < p.sw || p.opw < p.dw), ValueError, "[", op,
             "] output_padding must be smaller than either stride or dilation, got "
             "output_padding ",
             Show{p.oph, p.opw, 2}, ", stride ", Show{p.sh, p.sw, 2}, ", dilation ",
             Show{p.dh, p.dw, 2});
  const int64_t oh = (x[2] - 1) * p.sh - 2 * p.ph + p.dh * (ws[2] - 1) + p.oph + 1;
  const int64_t ow = (x[3] - 1) * p.sw - 2 * p.pw + p.dw * (ws[3] - 1) + p.opw + 1;
  KILN_CHECK(oh > 0 && ow > 0, ShapeError, "[", op, "] the output would have size ",
             Show{oh, ow, 2}, " per channel, which is too small; input ", xs, ", weight ", ws,
             ", stride ", Show{p.sh, p.sw, 2}, ", padding ", Show{p.ph, p.pw, 2}, ", dilation ",
             Show{p.dh, p.dw, 2}, ", output_padding ", Show{p.oph, p.opw, 2});
  return Geom{x[0], ws[1] * g, oh,   ow,   C,    ws[2], ws[3], x[2],
              x[3], p.sh,      p.sw, p.ph, p.pw, p.dh,  p.dw,  g};
}

template <class T>
void check_bias(const char* op, const Tensor<T, CPU>& bias, int64_t out_channels, const Shape& ws) {
  if (!bias.defined()) return;
  KILN_CHECK(bias.dim() == 1 && bias.size(0) == out_channels, ShapeError, "[", op,
             "] bias must be 1-D with ", out_channels, " elements (the out channels of weight ", ws,
             "), got shape ", bias.shape());
}

void check_grad(const char* op, const Shape& grad, const Shape& want, const char* what) {
  KILN_CHECK(grad == want, ShapeError, "[", op, "] grad_output has shape ", grad, ", but ", what,
             " gives an output of shape ", want);
}

// GEMM sizes must fit BLAS's int (checked here, outside any parallel region).
void check_gemm_sizes(const char* op, const Geom& g) {
  KILN_CHECK(std::max({g.k(), g.plane(), g.og(), g.h * g.w}) <= INT_MAX, ValueError, "[", op,
             "] a per-sample matrix dimension exceeds 2^31-1 (in channels x kernel = ", g.k(),
             ", output plane = ", g.plane(), ")");
}

template <class T>
bool try_dnnl(const Geom& g) {
  return std::is_same_v<T, float> && g_backend.load() == detail::ConvBackend::Auto && g.n > 0 &&
         g.c > 0 && g.h > 0 && g.w > 0 && g.o > 0 && g.oh > 0 && g.ow > 0;
}

template <class T>
void run_forward(const char* op, const Geom& g, const T* x, const T* w, const T* b, T* y) {
  if (g.y_numel() == 0) return;
  if constexpr (std::is_same_v<T, float>)
    if (try_dnnl<T>(g) && conv_impl::forward_dnnl(g, x, w, b, y)) return;
  check_gemm_sizes(op, g);
  conv_impl::forward_gemm(g, x, w, b, y);
}
template <class T>
void run_backward_input(const char* op, const Geom& g, const T* gy, const T* w, T* gx) {
  if (g.x_numel() == 0) return;
  if (g.y_numel() == 0) {
    std::fill(gx, gx + g.x_numel(), T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (try_dnnl<T>(g) && conv_impl::backward_input_dnnl(g, gy, w, gx)) return;
  check_gemm_sizes(op, g);
  conv_impl::backward_input_gemm(g, gy, w, gx);
}
template <class T>
void run_backward_weight(const char* op, const Geom& g, const T* x, const T* gy, T* gw) {
  if (g.w_numel() == 0) return;
  if (g.y_numel() == 0) {
    std::fill(gw, gw + g.w_numel(), T(0));
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (try_dnnl<T>(g) && conv_impl::backward_weight_dnnl(g, x, gy, gw)) return;
  check_gemm_sizes(op, g);
  conv_impl::backward_weight_gemm(g, x, gy, gw);
}

template <class T>
void add_bias(T* y, const T* b, int64_t n, int64_t c, int64_t plane) {
  parallel_for(n * c, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(plane, 1)), 1,
               [&](int64_t lo, int64_t hi) {
                 for (int64_t i = lo; i < hi; ++i) {
                   const T v = b[i % c];
                   for (T *p = y + i * plane, *e = p + plane; p != e; ++p) *p += v;
                 }
               });
}

template <class T>
Tensor<float, CPU> to_float(const Tensor<T, CPU>& t) {
  return t.defined() ? t.template to<float>() : Tensor<float, CPU>();
}

// ---- the shared bodies of the 1-D and 2-D ops ---------------------------------------------------

template <class T>
Tensor<T, CPU> conv_forward(const char* op, const Tensor<T, CPU>& input,
                            const Tensor<T, CPU>& weight, const Tensor<T, CPU>& bias,
                            const Params& p) {
  const bool batched = is_batched(op, "input", input.shape(), p.sdims);
  check_weight_rank(op, "weight", weight.shape(), p.sdims, false);
  const Geom g = conv_geom(op, input.shape(), weight.shape(), p);
  check_bias(op, bias, g.o, weight.shape());
  const Tensor<T, CPU> x = input.contiguous(), w = weight.contiguous();
  const Tensor<T, CPU> b = bias.defined() ? bias.contiguous() : bias;
  Tensor<T, CPU> y(user_shape(g.n, g.o, g.oh, g.ow, batched, p.sdims));
  run_forward(op, g, x.data(), w.data(), b.defined() ? b.data() : nullptr, y.data());
  return y;
}

template <class T>
Tensor<T, CPU> conv_backward_input(const char* op, const Tensor<T, CPU>& grad_output,
                                   const Tensor<T, CPU>& weight, const Shape& input_shape,
                                   const Params& p, const char* fwd) {
  const bool batched = is_batched(op, "input_shape", input_shape, p.sdims);
  check_weight_rank(op, "weight", weight.shape(), p.sdims, false);
  const Geom g = conv_geom(op, input_shape, weight.shape(), p);
  check_grad(
      op, grad_output.shape(), user_shape(g.n, g.o, g.oh, g.ow, batched, p.sdims),
      detail::str_cat(fwd, " of an input ", input_shape, " with weight ", weight.shape()).c_str());
  const Tensor<T, CPU> gy = grad_output.contiguous(), w = weight.contiguous();
  Tensor<T, CPU> gx(input_shape);
  run_backward_input(op, g, gy.data(), w.data(), gx.data());
  return gx;
}

template <class T>
Tensor<T, CPU> conv_backward_weight(const char* op, const Tensor<T, CPU>& grad_output,
                                    const Tensor<T, CPU>& input, const Shape& weight_shape,
                                    const Params& p, const char* fwd) {
  const bool batched = is_batched(op, "input", input.shape(), p.sdims);
  check_weight_rank(op, "weight_shape", weight_shape, p.sdims, false);
  const Geom g = conv_geom(op, input.shape(), weight_shape, p);
  check_grad(
      op, grad_output.shape(), user_shape(g.n, g.o, g.oh, g.ow, batched, p.sdims),
      detail::str_cat(fwd, " of an input ", input.shape(), " with weight ", weight_shape).c_str());
  const Tensor<T, CPU> gy = grad_output.contiguous(), x = input.contiguous();
  Tensor<T, CPU> gw(weight_shape);
  run_backward_weight(op, g, x.data(), gy.data(), gw.data());
  return gw;
}

template <class T>
Tensor<T, CPU> conv_backward_bias(const char* op, const Tensor<T, CPU>& grad_output, int sdims) {
  const bool batched = is_batched(op, "grad_output", grad_output.shape(), sdims);
  Dims dims;
  for (int d = 0; d < grad_output.dim(); ++d)
    if (d != (batched ? 1 : 0)) dims.push_back(d);
  return kiln::sum(grad_output, dims);
}

}  // namespace

// ---- conv2d / conv1d ----------------------------------------------------------------------------

template <ConvDType T>
Tensor<T, CPU> conv2d(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                      const Tensor<T, CPU>& bias, IntPair stride, IntPair padding, IntPair dilation,
                      int64_t groups) {
  if constexpr (is_reduced_float_v<T>) {
    return conv2d(input.template to<float>(), weight.template to<float>(), to_float(bias), stride,
                  padding, dilation, groups)
        .template to<T>();
  } else {
    const Params p = make_params("conv2d", stride, padding, dilation, 0, groups, 2);
    return conv_forward("conv2d", input, weight, bias, p);
  }
}

template <ConvDType T>
Tensor<T, CPU> conv1d(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                      const Tensor<T, CPU>& bias, int64_t stride, int64_t padding, int64_t dilation,
                      int64_t groups) {
  if constexpr (is_reduced_float_v<T>) {
    return conv1d(input.template to<float>(), weight.template to<float>(), to_float(bias), stride,
                  padding, dilation, groups)
        .template to<T>();
  } else {
    const Params p = make_params("conv1d", {1, stride}, {0, padding}, {1, dilation}, 0, groups, 1);
    return conv_forward("conv1d", input, weight, bias, p);
  }
}

template <ConvDType T>
Tensor<T, CPU> conv2d_backward_input(const Tensor<T, CPU>& grad_output,
                                     const Tensor<T, CPU>& weight, const Shape& input_shape,
                                     IntPair stride, IntPair padding, IntPair dilation,
                                     int64_t groups) {
  if constexpr (is_reduced_float_v<T>) {
    return conv2d_backward_input(grad_output.template to<float>(), weight.template to<float>(),
                                 input_shape, stride, padding, dilation, groups)
        .template to<T>();
  } else {
    const char* op = "conv2d_backward_input";
    const Params p = make_params(op, stride, padding, dilation, 0, groups, 2);
    return conv_backward_input(op, grad_output, weight, input_shape, p, "conv2d");
  }
}

template <ConvDType T>
Tensor<T, CPU> conv2d_backward_weight(const Tensor<T, CPU>& grad_output,
                                      const Tensor<T, CPU>& input, const Shape& weight_shape,
                                      IntPair stride, IntPair padding, IntPair dilation,
                                      int64_t groups) {
  if constexpr (is_reduced_float_v<T>) {
    return conv2d_backward_weight(grad_output.template to<float>(), input.template to<float>(),
                                  weight_shape, stride, padding, dilation, groups)
        .template to<T>();
  } else {
    const char* op = "conv2d_backward_weight";
    const Params p = make_params(op, stride, padding, dilation, 0, groups, 2);
    return conv_backward_weight(op, grad_output, input, weight_shape, p, "conv2d");
  }
}

template <ConvDType T>
Tensor<T, CPU> conv2d_backward_bias(const Tensor<T, CPU>& grad_output) {
  return conv_backward_bias("conv2d_backward_bias", grad_output, 2);
}

template <ConvDType T>
Tensor<T, CPU> conv1d_backward_input(const Tensor<T, CPU>& grad_output,
                                     const Tensor<T, CPU>& weight, const Shape& input_shape,
                                     int64_t stride, int64_t padding, int64_t dilation,
                                     int64_t groups) {
  if constexpr (is_reduced_float_v<T>) {
    return conv1d_backward_input(grad_output.template to<float>(), weight.template to<float>(),
                                 input_shape, stride, padding, dilation, groups)
        .template to<T>();
  } else {
    const char* op = "conv1d_backward_input";
    const Params p = make_params(op, {1, stride}, {0, padding}, {1, dilation}, 0, groups, 1);
    return conv_backward_input(op, grad_output, weight, input_shape, p, "conv1d");
  }
}

template <ConvDType T>
Tensor<T, CPU> conv1d_backward_weight(const Tensor<T, CPU>& grad_output,
                                      const Tensor<T, CPU>& input, const Shape& weight_shape,
                                      int64_t stride, int64_t padding, int64_t dilation,
                                      int64_t groups) {
  if constexpr (is_reduced_float_v<T>) {
    return conv1d_backward_weight(grad_output.template to<float>(), input.template to<float>(),
                                  weight_shape, stride, padding, dilation, groups)
        .template to<T>();
  } else {
    const char* op = "conv1d_backward_weight";
    const Params p = make_params(op, {1, stride}, {0, padding}, {1, dilation}, 0, groups, 1);
    return conv_backward_weight(op, grad_output, input, weight_shape, p, "conv1d");
  }
}

template <ConvDType T>
Tensor<T, CPU> conv1d_backward_bias(const Tensor<T, CPU>& grad_output) {
  return conv_backward_bias("conv1d_backward_bias", grad_output, 1);
}

// ---- conv_transpose2d (Note [Transposed convolution]) -------------------------------------------

template <ConvDType T>
Tensor<T, CPU> conv_transpose2d(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                                const Tensor<T, CPU>& bias, IntPair stride, IntPair padding,
                                IntPair output_padding, int64_t groups, IntPair dilation) {
  if constexpr (is_reduced_float_v<T>) {
    return conv_transpose2d(input.template to<float>(), weight.template to<float>(), to_float(bias),
                            stride, padding, output_padding, groups, dilation)
        .template to<T>();
  } else {
    const char* op = "conv_transpose2d";
    const Params p = make_params(op, stride, padding, dilation, output_padding, groups, 2);
    const bool batched = is_batched(op, "input", input.shape(), 2);
    check_weight_rank(op, "weight", weight.shape(), 2, true);
    const Geom g = transposed_geom(op, input.shape(), weight.shape(), p);
    check_bias(op, bias, g.c, weight.shape());
    const Tensor<T, CPU> x = input.contiguous(), w = weight.contiguous();
    Tensor<T, CPU> y(user_shape(g.n, g.c, g.h, g.w, batched, 2));
    run_backward_input(op, g, x.data(), w.data(), y.data());
    if (bias.defined() && y.numel() > 0)
      add_bias(y.data(), bias.contiguous().data(), g.n, g.c, g.h * g.w);
    return y;
  }
}

template <ConvDType T>
Tensor<T, CPU> conv_transpose2d_backward_input(const Tensor<T, CPU>& grad_output,
                                               const Tensor<T, CPU>& weight,
                                               const Shape& input_shape, IntPair stride,
                                               IntPair padding, IntPair output_padding,
                                               int64_t groups, IntPair dilation) {
  if constexpr (is_reduced_float_v<T>) {
    return conv_transpose2d_backward_input(grad_output.template to<float>(),
                                           weight.template to<float>(), input_shape, stride,
                                           padding, output_padding, groups, dilation)
        .template to<T>();
  } else {
    const char* op = "conv_transpose2d_backward_input";
    const Params p = make_params(op, stride, padding, dilation, output_padding, groups, 2);
    const bool batched = is_batched(op, "input_shape", input_shape, 2);
    check_weight_rank(op, "weight", weight.shape(), 2, true);
    const Geom g = transposed_geom(op, input_shape, weight.shape(), p);
    check_grad(op, grad_output.shape(), user_shape(g.n, g.c, g.h, g.w, batched, 2),
               detail::str_cat("conv_transpose2d of an input ", input_shape, " with weight ",
                               weight.shape())
                   .c_str());
    const Tensor<T, CPU> gy = grad_output.contiguous(), w = weight.contiguous();
    Tensor<T, CPU> gx(input_shape);
    run_forward(op, g, gy.data(), w.data(), static_cast<const T*>(nullptr), gx.data());
    return gx;
  }
}

template <ConvDType T>
Tensor<T, CPU> conv_transpose2d_backward_weight(const Tensor<T, CPU>& grad_output,
                                                const Tensor<T, CPU>& input,
                                                const Shape& weight_shape, IntPair stride,
                                                IntPair padding, IntPair output_padding,
                                                int64_t groups, IntPair dilation) {
  if constexpr (is_reduced_float_v<T>) {
    return conv_transpose2d_backward_weight(grad_output.template to<float>(),
                                            input.template to<float>(), weight_shape, stride,
                                            padding, output_padding, groups, dilation)
        .template to<T>();
  } else {
    const char* op = "conv_transpose2d_backward_weight";
    const Params p = make_params(op, stride, padding, dilation, output_padding, groups, 2);
    const bool batched = is_batched(op, "input", input.shape(), 2);
    check_weight_rank(op, "weight_shape", weight_shape, 2, true);
    const Geom g = transposed_geom(op, input.shape(), weight_shape, p);
    check_grad(op, grad_output.shape(), user_shape(g.n, g.c, g.h, g.w, batched, 2),
               detail::str_cat("conv_transpose2d of an input ", input.shape(), " with weight ",
                               weight_shape)
                   .c_str());
    const Tensor<T, CPU> gy = grad_output.contiguous(), x = input.contiguous();
    Tensor<T, CPU> gw(weight_shape);
    // The convolution's input is gy, its output gradient is x.
    run_backward_weight(op, g, gy.data(), x.data(), gw.data());
    return gw;
  }
}

template <ConvDType T>
Tensor<T, CPU> conv_transpose2d_backward_bias(const Tensor<T, CPU>& grad_output) {
  return conv_backward_bias("conv_transpose2d_backward_bias", grad_output, 2);
}

namespace detail {
void set_conv_backend(ConvBackend b) { g_backend.store(b); }
ConvBackend get_conv_backend() { return g_backend.load(); }
int64_t conv_primitive_cache_size() { return conv_impl::dnnl_cache_size(); }
}  // namespace detail

#define KILN_INSTANTIATE_CONV(T)                                                                  \
  template Tensor<T, CPU> conv2d<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,                 \
                                    const Tensor<T, CPU>&, IntPair, IntPair, IntPair, int64_t);   \
  template Tensor<T, CPU> conv1d<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,                 \
                                    const Tensor<T, CPU>&, int64_t, int64_t, int64_t, int64_t);   \
  template Tensor<T, CPU> conv_transpose2d<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,       \
                                              const Tensor<T, CPU>&, IntPair, IntPair, IntPair,   \
                                              int64_t, IntPair);                                  \
  template Tensor<T, CPU> conv2d_backward_input<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,  \
                                                   const Shape&, IntPair, IntPair, IntPair,       \
                                                   int64_t);                                      \
  template Tensor<T, CPU> conv2d_backward_weight<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&, \
                                                    const Shape&, IntPair, IntPair, IntPair,      \
                                                    int64_t);                                     \
  template Tensor<T, CPU> conv2d_backward_bias<T>(const Tensor<T, CPU>&);                         \
  template Tensor<T, CPU> conv1d_backward_input<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,  \
                                                   const Shape&, int64_t, int64_t, int64_t,       \
                                                   int64_t);                                      \
  template Tensor<T, CPU> conv1d_backward_weight<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&, \
                                                    const Shape&, int64_t, int64_t, int64_t,      \
                                                    int64_t);                                     \
  template Tensor<T, CPU> conv1d_backward_bias<T>(const Tensor<T, CPU>&);                         \
  template Tensor<T, CPU> conv_transpose2d_backward_input<T>(                                     \
      const Tensor<T, CPU>&, const Tensor<T, CPU>&, const Shape&, IntPair, IntPair, IntPair,      \
      int64_t, IntPair);                                                                          \
  template Tensor<T, CPU> conv_transpose2d_backward_weight<T>(                                    \
      const Tensor<T, CPU>&, const Tensor<T, CPU>&, const Shape&, IntPair, IntPair, IntPair,      \
      int64_t, IntPair);                                                                          \
  template Tensor<T, CPU> conv_transpose2d_backward_bias<T>(const Tensor<T, CPU>&);

KILN_INSTANTIATE_CONV(float)
KILN_INSTANTIATE_CONV(double)
KILN_INSTANTIATE_CONV(half)
KILN_INSTANTIATE_CONV(bfloat16)

}  // namespace kiln
