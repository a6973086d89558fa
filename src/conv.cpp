// SPDX-License-Identifier: BSD-3-Clause
// conv1d, conv2d, conv_transpose2d and their backward kernels: argument checks, shapes,
// the choice of engine, and autograd (include/kiln/ops/conv.hpp declares them).
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

// ---- the forward ops, without autograd ----------------------------------------------------------

template <class T>
Tensor<T, CPU> conv2d_plain(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                            const Tensor<T, CPU>& bias, IntPair stride, IntPair padding,
                            IntPair dilation, int64_t groups) {
  if constexpr (is_reduced_float_v<T>) {
    return conv2d_plain(input.template to<float>(), weight.template to<float>(), to_float(bias),
                        stride, padding, dilation, groups)
        .template to<T>();
  } else {
    const Params p = make_params("conv2d", stride, padding, dilation, 0, groups, 2);
    return conv_forward("conv2d", input, weight, bias, p);
  }
}

template <class T>
Tensor<T, CPU> conv1d_plain(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                            const Tensor<T, CPU>& bias, int64_t stride, int64_t padding,
                            int64_t dilation, int64_t groups) {
  if constexpr (is_reduced_float_v<T>) {
    return conv1d_plain(input.template to<float>(), weight.template to<float>(), to_float(bias),
                        stride, padding, dilation, groups)
        .template to<T>();
  } else {
    const Params p = make_params("conv1d", {1, stride}, {0, padding}, {1, dilation}, 0, groups, 1);
    return conv_forward("conv1d", input, weight, bias, p);
  }
}

template <class T>
Tensor<T, CPU> conv_transpose2d_plain(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                                      const Tensor<T, CPU>& bias, IntPair stride, IntPair padding,
                                      IntPair output_padding, int64_t groups, IntPair dilation) {
  if constexpr (is_reduced_float_v<T>) {
    return conv_transpose2d_plain(input.template to<float>(), weight.template to<float>(),
                                  to_float(bias), stride, padding, output_padding, groups, dilation)
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

}  // namespace

// ---- conv2d / conv1d backward kernels -----------------------------------------------------------

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

// ---- autograd -----------------------------------------------------------------------------------

// Note [Convolution autograd]
// conv1d, conv2d and conv_transpose2d record one node each. A first-order backward (the
// engine runs it with grad mode off) calls the backward kernels above, so training costs
// exactly what the kernels cost. Under create_graph the same gradients are built from
// recorded ops instead, so they are differentiable in turn (to any order):
//   conv input gradient        conv_transpose2d(gy, w), with the output_padding that
//                              gives back the input's size (it is < stride)
//   conv weight gradient       a grouped conv2d of the input (batch and channels swapped)
//                              with gy as the kernel, stride and dilation swapping roles,
//                              cut to the kernel size (conv_weight_grad_ops)
//   transposed input gradient  conv2d(gy, w), cut to the input's size
//   transposed weight gradient the conv weight gradient with gy as the input and x as
//                              the output gradient (Note [Transposed convolution])
//   bias gradients             gy summed over N and the spatial dims
// 1-D and unbatched operands are viewed as [N, C, 1, L] and [1, C, H, W] first.

namespace {

IntPair hw(int64_t h, int64_t w) { return IntPair(h, w); }

// Whether a backward closure must build its gradients from recorded ops (create_graph).
template <class T>
bool recording_backward(const Tensor<T, CPU>& gy, const Tensor<T, CPU>& a,
                        const Tensor<T, CPU>& b) {
  return autograd::GradMode::is_enabled() &&
         (gy.requires_grad() || a.requires_grad() || b.requires_grad());
}

// t as [N, C, H, W] (recorded views): unbatched gets N = 1, 1-D gets H = 1.
template <class T>
Tensor<T, CPU> nchw(const Tensor<T, CPU>& t, bool batched, int sdims) {
  const Tensor<T, CPU> r = batched ? t : t.unsqueeze(0);
  return sdims == 1 ? r.unsqueeze(2) : r;
}

// The input gradient of conv(x, w) (x [N, C, h, w]) as a recorded transposed convolution.
template <class T>
Tensor<T, CPU> conv_input_grad_ops(const Tensor<T, CPU>& gy, const Tensor<T, CPU>& w, int64_t h,
                                   int64_t wd, const Params& p) {
  const int64_t oph = h + 2 * p.ph - p.dh * (w.size(2) - 1) - 1 - (gy.size(2) - 1) * p.sh;
  const int64_t opw = wd + 2 * p.pw - p.dw * (w.size(3) - 1) - 1 - (gy.size(3) - 1) * p.sw;
  return conv_transpose2d(gy, w, Tensor<T, CPU>(), hw(p.sh, p.sw), hw(p.ph, p.pw), hw(oph, opw),
                          p.groups, hw(p.dh, p.dw));
}

// The weight gradient [G * Og, Cg, kh, kw] of conv(x, w) with x [N, G * Cg, H, W] and
// gy [N, G * Og, OH, OW], as a recorded convolution: gw[o, c, i, j] = sum over n, a, b of
// gy[n, o, a, b] * x_padded[n, c, a * sh + i * dh, b * sw + j * dw] is a convolution of
// x (channels c as the batch, (group, n) as channels) with kernel gy ((group, o) as
// output channels, n as input channels), stride dh and dilation sh.
template <class T>
Tensor<T, CPU> conv_weight_grad_ops(const Tensor<T, CPU>& x, const Tensor<T, CPU>& gy, int64_t kh,
                                    int64_t kw, const Params& p) {
  const int64_t n = x.size(0), g = p.groups, cg = x.size(1) / g, og = gy.size(1) / g;
  const int64_t h = x.size(2), w = x.size(3), oh = gy.size(2), ow = gy.size(3);
  const Tensor<T, CPU> in =
      x.reshape({n, g, cg, h, w}).permute({2, 1, 0, 3, 4}).reshape({cg, g * n, h, w});
  const Tensor<T, CPU> k =
      gy.reshape({n, g, og, oh, ow}).permute({1, 2, 0, 3, 4}).reshape({g * og, n, oh, ow});
  const Tensor<T, CPU> r =
      conv2d(in, k, Tensor<T, CPU>(), hw(p.dh, p.dw), hw(p.ph, p.pw), hw(p.sh, p.sw), g);
  return r.narrow(2, 0, kh).narrow(3, 0, kw).transpose(0, 1);
}

// Records out = conv1d / conv2d(input, weight, bias) (Note [Convolution autograd]).
template <class T>
void record_conv(Tensor<T, CPU>& out, const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                 const Tensor<T, CPU>& bias, const Params& p) {
  const bool need_x = input.requires_grad(), need_w = weight.requires_grad();
  const bool need_b = bias.requires_grad();
  autograd::record(
      "ConvolutionBackward", out, autograd::collect_edges(input, weight, bias),
      [sx = need_w ? autograd::save(input) : autograd::SavedTensor<T, CPU>(),
       sw = need_x ? autograd::save(weight) : autograd::SavedTensor<T, CPU>(), xs = input.shape(),
       ws = weight.shape(), p, need_x, need_w, need_b](std::vector<AnyTensor>& g) {
        const Tensor<T, CPU>& gy = g[0].as<T, CPU>();
        const Tensor<T, CPU> x = sx.unpack(), w = sw.unpack();
        const int sd = p.sdims;
        Tensor<T, CPU> gx, gw, gb;
        if (recording_backward(gy, x, w)) {
          const bool batched = xs.size() == sd + 2;
          const Shape x4 = as_nchw(xs, sd), w4 = as_oikk(ws, sd);
          const Tensor<T, CPU> gy4 = nchw(gy, batched, sd);
          if (need_x)
            gx =
                conv_input_grad_ops(gy4, sd == 1 ? w.unsqueeze(2) : w, x4[2], x4[3], p).reshape(xs);
          if (need_w)
            gw = conv_weight_grad_ops(nchw(x, batched, sd), gy4, w4[2], w4[3], p).reshape(ws);
        } else if (sd == 1) {
          if (need_x) gx = conv1d_backward_input(gy, w, xs, p.sw, p.pw, p.dw, p.groups);
          if (need_w) gw = conv1d_backward_weight(gy, x, ws, p.sw, p.pw, p.dw, p.groups);
        } else {
          const IntPair s = hw(p.sh, p.sw), pad = hw(p.ph, p.pw), d = hw(p.dh, p.dw);
          if (need_x) gx = conv2d_backward_input(gy, w, xs, s, pad, d, p.groups);
          if (need_w) gw = conv2d_backward_weight(gy, x, ws, s, pad, d, p.groups);
        }
        // A sum: recorded under create_graph.
        if (need_b) gb = conv_backward_bias("convolution_backward", gy, sd);
        return autograd::grads(std::move(gx), std::move(gw), std::move(gb));
      });
}

// Records out = conv_transpose2d(input, weight, bias) (Note [Convolution autograd]).
template <class T>
void record_conv_transpose(Tensor<T, CPU>& out, const Tensor<T, CPU>& input,
                           const Tensor<T, CPU>& weight, const Tensor<T, CPU>& bias,
                           const Params& p) {
  const bool need_x = input.requires_grad(), need_w = weight.requires_grad();
  const bool need_b = bias.requires_grad();
  autograd::record(
      "ConvolutionTransposeBackward", out, autograd::collect_edges(input, weight, bias),
      [sx = need_w ? autograd::save(input) : autograd::SavedTensor<T, CPU>(),
       sw = need_x ? autograd::save(weight) : autograd::SavedTensor<T, CPU>(), xs = input.shape(),
       ws = weight.shape(), p, need_x, need_w, need_b](std::vector<AnyTensor>& g) {
        const Tensor<T, CPU>& gy = g[0].as<T, CPU>();
        const Tensor<T, CPU> x = sx.unpack(), w = sw.unpack();
        const IntPair s = hw(p.sh, p.sw), pad = hw(p.ph, p.pw), d = hw(p.dh, p.dw);
        Tensor<T, CPU> gx, gw, gb;
        if (recording_backward(gy, x, w)) {
          const bool batched = xs.size() == 4;
          const Shape x4 = as_nchw(xs, 2);
          const Tensor<T, CPU> gy4 = nchw(gy, batched, 2);
          if (need_x) {
            Tensor<T, CPU> r = conv2d(gy4, w, Tensor<T, CPU>(), s, pad, d, p.groups);
            if (r.size(2) != x4[2]) r = r.narrow(2, 0, x4[2]);
            if (r.size(3) != x4[3]) r = r.narrow(3, 0, x4[3]);
            gx = r.reshape(xs);
          }
          if (need_w) gw = conv_weight_grad_ops(gy4, nchw(x, batched, 2), ws[2], ws[3], p);
        } else {
          const IntPair op = hw(p.oph, p.opw);
          if (need_x) gx = conv_transpose2d_backward_input(gy, w, xs, s, pad, op, p.groups, d);
          if (need_w) gw = conv_transpose2d_backward_weight(gy, x, ws, s, pad, op, p.groups, d);
        }
        if (need_b) gb = conv_backward_bias("convolution_transpose_backward", gy, 2);
        return autograd::grads(std::move(gx), std::move(gw), std::move(gb));
      });
}

}  // namespace

template <ConvDType T>
Tensor<T, CPU> conv2d(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                      const Tensor<T, CPU>& bias, IntPair stride, IntPair padding, IntPair dilation,
                      int64_t groups) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = conv2d_plain(input, weight, bias, stride, padding, dilation, groups);
  }
  if (autograd::needs_grad(input, weight, bias))
    record_conv(out, input, weight, bias,
                make_params("conv2d", stride, padding, dilation, 0, groups, 2));
  return out;
}

template <ConvDType T>
Tensor<T, CPU> conv1d(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                      const Tensor<T, CPU>& bias, int64_t stride, int64_t padding, int64_t dilation,
                      int64_t groups) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = conv1d_plain(input, weight, bias, stride, padding, dilation, groups);
  }
  if (autograd::needs_grad(input, weight, bias))
    record_conv(out, input, weight, bias,
                make_params("conv1d", {1, stride}, {0, padding}, {1, dilation}, 0, groups, 1));
  return out;
}

template <ConvDType T>
Tensor<T, CPU> conv_transpose2d(const Tensor<T, CPU>& input, const Tensor<T, CPU>& weight,
                                const Tensor<T, CPU>& bias, IntPair stride, IntPair padding,
                                IntPair output_padding, int64_t groups, IntPair dilation) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = conv_transpose2d_plain(input, weight, bias, stride, padding, output_padding, groups,
                                 dilation);
  }
  if (autograd::needs_grad(input, weight, bias))
    record_conv_transpose(
        out, input, weight, bias,
        make_params("conv_transpose2d", stride, padding, dilation, output_padding, groups, 2));
  return out;
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
