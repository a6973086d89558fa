// SPDX-License-Identifier: BSD-3-Clause
// conv1d, conv2d, conv_transpose2d and their backward kernels against direct nested loops
// in double, adjoint identities and finite differences; both float engines (oneDNN and
// im2col + GEMM); layouts, empty batches and every error path.
#include <omp.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "ops/nchw_check.hpp"
#include "support/throws.hpp"

namespace {

using kiln::IntPair;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::dot;
using kiln_test::random;
using kiln_test::thrown_message;
using kiln_test::values_of;
using Backend = kiln::detail::ConvBackend;

template <class T>
void check_close(const Tensor<T>& got, const Shape& want_shape, const std::vector<double>& want,
                 double tol) {
  REQUIRE(got.shape() == want_shape);
  const auto g = values_of(got);
  REQUIRE(g.size() == want.size());
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double e = std::abs(g[i] - want[i]) / (1 + std::abs(want[i]));
    if (!(e <= worst)) worst = e, at = i;  // NaN counts as the worst
  }
  INFO("worst element " << at << ": got " << (g.empty() ? 0 : g[at]) << ", want "
                        << (g.empty() ? 0 : want[at]));
  CHECK(worst <= tol);
}

template <class T>
double tol_for() {
  return std::is_same_v<T, float> ? 2e-5 : 1e-12;
}

// Sets the float engine for a scope.
struct BackendGuard {
  explicit BackendGuard(Backend b) { kiln::detail::set_conv_backend(b); }
  ~BackendGuard() { kiln::detail::set_conv_backend(Backend::Auto); }
};
template <class T>
std::vector<Backend> backends() {
  if constexpr (std::is_same_v<T, float>) return {Backend::Auto, Backend::Gemm};
  return {Backend::Auto};
}
const char* name_of(Backend b) { return b == Backend::Auto ? "auto (oneDNN)" : "im2col+GEMM"; }

// ---- the reference: every product term of a 2-D convolution, straight from the definition ----

struct Ref {
  int64_t n, c, h, w, o, kh, kw;  // x [n, c, h, w], w [o, c / g, kh, kw]
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, g = 1;
  int64_t oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int64_t ow() const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
  Shape y_shape() const { return {n, o, oh(), ow()}; }

  // f(x index, w index, y index) for every term x * w that y = conv(x, w) sums.
  template <class F>
  void terms(F f) const {
    const int64_t cg = c / g, og = o / g, OH = oh(), OW = ow();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t oc = 0; oc < o; ++oc)
        for (int64_t y = 0; y < OH; ++y)
          for (int64_t x = 0; x < OW; ++x)
            for (int64_t cc = 0; cc < cg; ++cc)
              for (int64_t i = 0; i < kh; ++i)
                for (int64_t j = 0; j < kw; ++j) {
                  const int64_t iy = y * sh - ph + i * dh, ix = x * sw - pw + j * dw;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  const int64_t ic = oc / og * cg + cc;
                  f(((b * c + ic) * h + iy) * w + ix, ((oc * cg + cc) * kh + i) * kw + j,
                    ((b * o + oc) * OH + y) * OW + x);
                }
  }
  std::vector<double> forward(const std::vector<double>& xv, const std::vector<double>& wv,
                              const std::vector<double>* bias) const {
    std::vector<double> y(static_cast<std::size_t>(n * o * oh() * ow()), 0.0);
    if (bias)
      for (std::size_t i = 0; i < y.size(); ++i)
        y[i] = (*bias)[i / static_cast<std::size_t>(oh() * ow()) % static_cast<std::size_t>(o)];
    terms([&](int64_t xi, int64_t wi, int64_t yi) { y[yi] += xv[xi] * wv[wi]; });
    return y;
  }
  std::vector<double> backward_input(const std::vector<double>& gy,
                                     const std::vector<double>& wv) const {
    std::vector<double> gx(static_cast<std::size_t>(n * c * h * w), 0.0);
    terms([&](int64_t xi, int64_t wi, int64_t yi) { gx[xi] += gy[yi] * wv[wi]; });
    return gx;
  }
  std::vector<double> backward_weight(const std::vector<double>& gy,
                                      const std::vector<double>& xv) const {
    std::vector<double> gw(static_cast<std::size_t>(o * (c / g) * kh * kw), 0.0);
    terms([&](int64_t xi, int64_t wi, int64_t yi) { gw[wi] += gy[yi] * xv[xi]; });
    return gw;
  }
  std::vector<double> backward_bias(const std::vector<double>& gy) const {
    std::vector<double> gb(static_cast<std::size_t>(o), 0.0);
    const int64_t plane = oh() * ow();
    for (std::size_t i = 0; i < gy.size(); ++i) gb[i / plane % o] += gy[i];
    return gb;
  }
};

struct Case {
  const char* name;
  Ref r;
  bool bias;
};

std::vector<Case> conv2d_cases() {
  // {n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, g}
  return {
      {"3x3 pad 1", {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1}, true},
      {"stride (2,1) pad (1,0) dilation (1,2) groups 2",
       {3, 4, 9, 8, 6, 3, 2, 2, 1, 1, 0, 1, 2, 2},
       true},
      {"depthwise, stride 2", {2, 4, 6, 6, 4, 3, 3, 2, 2, 1, 1, 1, 1, 4}, false},
      {"depthwise x2 channels, dilation 2", {1, 3, 5, 7, 6, 2, 3, 1, 1, 0, 0, 2, 2, 3}, true},
      {"1x1 pointwise", {2, 5, 4, 4, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1}, true},
      {"kernel equal to the padded input", {2, 2, 3, 3, 3, 5, 5, 1, 1, 1, 1, 1, 1, 1}, false},
      {"stride larger than kernel", {2, 3, 8, 8, 2, 2, 2, 3, 3, 0, 0, 1, 1, 1}, false},
      {"padding larger than kernel", {1, 2, 3, 3, 2, 2, 2, 1, 1, 3, 3, 1, 1, 1}, true},
      {"batch of 1, blocked channels", {1, 8, 10, 10, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1}, true},
      {"batch of 4, 16 -> 32 channels", {4, 16, 12, 12, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1}, true},
      {"5x5 stride 2 groups 4", {3, 8, 11, 9, 8, 5, 5, 2, 2, 2, 2, 1, 1, 4}, false},
      {"empty batch", {0, 3, 5, 5, 2, 3, 3, 1, 1, 0, 0, 1, 1, 1}, true},
  };
}

}  // namespace

TEMPLATE_TEST_CASE("conv2d and its backward kernels match direct loops", "[ops][conv]", float,
                   double) {
  using T = TestType;
  for (const Case& cs : conv2d_cases()) {
    const Ref& r = cs.r;
    const Shape xs{r.n, r.c, r.h, r.w}, ws{r.o, r.c / r.g, r.kh, r.kw};
    const Tensor<T> x = random<T>(xs, 1), w = random<T>(ws, 2), gy = random<T>(r.y_shape(), 3);
    const Tensor<T> b = cs.bias ? random<T>({r.o}, 4) : Tensor<T>();
    const auto xv = values_of(x), wv = values_of(w), gv = values_of(gy);
    const auto bv = cs.bias ? values_of(b) : std::vector<double>();
    const IntPair s{r.sh, r.sw}, p{r.ph, r.pw}, d{r.dh, r.dw};
    for (Backend be : backends<T>()) {
      INFO(cs.name << ", " << name_of(be));
      BackendGuard guard(be);
      check_close(kiln::conv2d(x, w, b, s, p, d, r.g), r.y_shape(),
                  r.forward(xv, wv, cs.bias ? &bv : nullptr), tol_for<T>());
      check_close(kiln::conv2d_backward_input(gy, w, xs, s, p, d, r.g), xs,
                  r.backward_input(gv, wv), tol_for<T>());
      check_close(kiln::conv2d_backward_weight(gy, x, ws, s, p, d, r.g), ws,
                  r.backward_weight(gv, xv), tol_for<T>() * 4);
      check_close(kiln::conv2d_backward_bias(gy), Shape{r.o}, r.backward_bias(gv), tol_for<T>());
    }
  }
}

TEMPLATE_TEST_CASE("conv2d reads any layout: permuted, stepped, broadcast, unbatched",
                   "[ops][conv]", float, double) {
  using T = TestType;
  const Ref r{3, 4, 6, 5, 6, 3, 3, 1, 2, 1, 1, 1, 1, 2};
  const Shape xs{3, 4, 6, 5}, ws{6, 2, 3, 3};
  // x from an NHWC tensor; w a stepped slice; bias every other element.
  const Tensor<T> x = random<T>({3, 6, 5, 4}, 5).permute({0, 3, 1, 2});
  const Tensor<T> w = random<T>({6, 2, 3, 6}, 6).slice(3, 0, 6, 2);
  const Tensor<T> b = random<T>({12}, 7).slice(0, 0, 12, 2);
  REQUIRE_FALSE(x.is_contiguous());
  REQUIRE_FALSE(w.is_contiguous());
  const auto bv = values_of(b);
  for (Backend be : backends<T>()) {
    INFO(name_of(be));
    BackendGuard guard(be);
    const Tensor<T> y = kiln::conv2d(x, w, b, {1, 2}, 1, 1, 2);
    check_close(y, r.y_shape(), r.forward(values_of(x), values_of(w), &bv), tol_for<T>());

    // A broadcast batch: every sample is the same image.
    const Tensor<T> one = random<T>({1, 4, 6, 5}, 8);
    const Tensor<T> xb = one.expand({3, 4, 6, 5});
    check_close(kiln::conv2d(xb, w, b, {1, 2}, 1, 1, 2), r.y_shape(),
                r.forward(values_of(xb), values_of(w), &bv), tol_for<T>());

    // Unbatched [C, H, W] gives [O, OH, OW], equal to the batched result's sample.
    const Tensor<T> yu = kiln::conv2d(x.select(0, 1), w, b, {1, 2}, 1, 1, 2);
    check_close(yu, Shape{6, r.oh(), r.ow()}, values_of(Tensor<T>(y.select(0, 1))), tol_for<T>());
    const Tensor<T> gy = random<T>({6, r.oh(), r.ow()}, 9);
    const Tensor<T> gx = kiln::conv2d_backward_input(gy, w, {4, 6, 5}, {1, 2}, 1, 1, 2);
    CHECK(gx.shape() == Shape{4, 6, 5});
    const Tensor<T> gw = kiln::conv2d_backward_weight(gy, x.select(0, 1), ws, {1, 2}, 1, 1, 2);
    CHECK(gw.shape() == ws);
    CHECK(kiln::conv2d_backward_bias(gy).shape() == Shape{6});
    // Unbatched backward equals the batched one with N = 1.
    check_close(
        gx, Shape{4, 6, 5},
        values_of(kiln::conv2d_backward_input(gy.unsqueeze(0), w, {1, 4, 6, 5}, {1, 2}, 1, 1, 2)),
        tol_for<T>());
  }
}

TEST_CASE("conv2d backward kernels are adjoints and match finite differences", "[ops][conv]") {
  // L(x, w, b) = <conv2d(x, w, b), g>: conv2d is linear in each argument, so the central
  // difference of L along a direction equals the gradient's inner product with it.
  const Ref r{2, 4, 5, 6, 4, 3, 2, 2, 1, 1, 1, 1, 2, 2};
  const Shape xs{2, 4, 5, 6}, ws{4, 2, 3, 2};
  const IntPair s{2, 1}, p = 1, d{1, 2};
  const Tensor<double> x = random<double>(xs, 11), w = random<double>(ws, 12),
                       b = random<double>({4}, 13), g = random<double>(r.y_shape(), 14);
  auto loss = [&](const Tensor<double>& xx, const Tensor<double>& ww, const Tensor<double>& bb) {
    return dot(values_of(kiln::conv2d(xx, ww, bb, s, p, d, 2)), values_of(g));
  };
  const auto gx = values_of(kiln::conv2d_backward_input(g, w, xs, s, p, d, 2));
  const auto gw = values_of(kiln::conv2d_backward_weight(g, x, ws, s, p, d, 2));
  const auto gb = values_of(kiln::conv2d_backward_bias(g));

  // Adjoint identities: <conv(x), g> = <x, conv_backward_input(g)> = <w, backward_weight(g)>.
  const double y_g = dot(values_of(kiln::conv2d(x, w, {}, s, p, d, 2)), values_of(g));
  CHECK(y_g == Approx(dot(values_of(x), gx)).epsilon(1e-12));
  CHECK(y_g == Approx(dot(values_of(w), gw)).epsilon(1e-12));

  // Finite differences, one element at a time.
  const double eps = 1e-3;
  auto bump = [](const Tensor<double>& t, int64_t i, double e) {
    Tensor<double> c = t.clone();
    c.data()[i] += e;
    return c;
  };
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double fd = (loss(bump(x, i, eps), w, b) - loss(bump(x, i, -eps), w, b)) / (2 * eps);
    CHECK(fd == Approx(gx[i]).margin(1e-8));
  }
  for (int64_t i = 0; i < w.numel(); ++i) {
    const double fd = (loss(x, bump(w, i, eps), b) - loss(x, bump(w, i, -eps), b)) / (2 * eps);
    CHECK(fd == Approx(gw[i]).margin(1e-8));
  }
  for (int64_t i = 0; i < b.numel(); ++i) {
    const double fd = (loss(x, w, bump(b, i, eps)) - loss(x, w, bump(b, i, -eps))) / (2 * eps);
    CHECK(fd == Approx(gb[i]).margin(1e-8));
  }
}

TEMPLATE_TEST_CASE("conv1d and its backward kernels match direct loops", "[ops][conv]", float,
                   double) {
  using T = TestType;
  struct C1 {
    int64_t n, c, l, o, k, s, p, d, g;
    bool bias;
  };
  const C1 cases[] = {{2, 3, 10, 4, 3, 1, 1, 1, 1, true}, {3, 4, 17, 6, 3, 2, 2, 3, 2, false},
                      {1, 6, 9, 6, 4, 1, 0, 1, 6, true},  {2, 5, 8, 3, 1, 1, 0, 1, 1, false},
                      {0, 2, 5, 2, 2, 1, 0, 1, 1, true},  {2, 2, 3, 3, 5, 1, 1, 1, 1, false}};
  for (const C1& c : cases) {
    const Ref r{c.n, c.c, 1, c.l, c.o, 1, c.k, 1, c.s, 0, c.p, 1, c.d, c.g};
    const Shape xs{c.n, c.c, c.l}, ws{c.o, c.c / c.g, c.k}, ys{c.n, c.o, r.ow()};
    const Tensor<T> x = random<T>(xs, 21), w = random<T>(ws, 22), gy = random<T>(ys, 23);
    const Tensor<T> b = c.bias ? random<T>({c.o}, 24) : Tensor<T>();
    const auto bv = c.bias ? values_of(b) : std::vector<double>();
    for (Backend be : backends<T>()) {
      INFO("conv1d n=" << c.n << " c=" << c.c << " l=" << c.l << " k=" << c.k << " s=" << c.s
                       << " p=" << c.p << " d=" << c.d << " g=" << c.g << ", " << name_of(be));
      BackendGuard guard(be);
      check_close(kiln::conv1d(x, w, b, c.s, c.p, c.d, c.g), ys,
                  r.forward(values_of(x), values_of(w), c.bias ? &bv : nullptr), tol_for<T>());
      check_close(kiln::conv1d_backward_input(gy, w, xs, c.s, c.p, c.d, c.g), xs,
                  r.backward_input(values_of(gy), values_of(w)), tol_for<T>());
      check_close(kiln::conv1d_backward_weight(gy, x, ws, c.s, c.p, c.d, c.g), ws,
                  r.backward_weight(values_of(gy), values_of(x)), tol_for<T>() * 4);
      check_close(kiln::conv1d_backward_bias(gy), Shape{c.o}, r.backward_bias(values_of(gy)),
                  tol_for<T>());
    }
  }
  // Unbatched [C, L] and a transposed (non-contiguous) input.
  const Tensor<T> xt = random<T>({7, 3}, 25).t();  // [3, 7]
  const Tensor<T> w = random<T>({2, 3, 2}, 26);
  const Ref r{1, 3, 1, 7, 2, 1, 2, 1, 1, 0, 0, 1, 1, 1};
  check_close(kiln::conv1d(xt, w), Shape{2, 6}, r.forward(values_of(xt), values_of(w), nullptr),
              tol_for<T>());
}

// ---- conv_transpose2d ---------------------------------------------------------------------------

namespace {
struct TCase {
  const char* name;
  int64_t n, c, h, w, og, kh, kw;  // x [n, c, h, w], weight [c, og, kh, kw]
  int64_t sh, sw, ph, pw, oph, opw, dh, dw, g;
  bool bias;
};

// torch's definition: input pixel (iy, ix) of channel ic adds x * w[ic, oc', i, j] to output
// pixel (iy * sh - ph + i * dh, ix * sw - pw + j * dw) of channel (group of ic) * og + oc'.
std::vector<double> ref_transposed(const TCase& t, const std::vector<double>& x,
                                   const std::vector<double>& w, const std::vector<double>* b,
                                   Shape* out) {
  const int64_t O = t.og * t.g, cg = t.c / t.g;
  const int64_t OH = (t.h - 1) * t.sh - 2 * t.ph + t.dh * (t.kh - 1) + t.oph + 1;
  const int64_t OW = (t.w - 1) * t.sw - 2 * t.pw + t.dw * (t.kw - 1) + t.opw + 1;
  *out = {t.n, O, OH, OW};
  std::vector<double> y(static_cast<std::size_t>(t.n * O * OH * OW), 0.0);
  for (int64_t n = 0; n < t.n; ++n)
    for (int64_t oc = 0; oc < O; ++oc)
      for (int64_t i = 0; i < OH * OW; ++i) y[(n * O + oc) * OH * OW + i] = b ? (*b)[oc] : 0.0;
  for (int64_t n = 0; n < t.n; ++n)
    for (int64_t ic = 0; ic < t.c; ++ic)
      for (int64_t iy = 0; iy < t.h; ++iy)
        for (int64_t ix = 0; ix < t.w; ++ix)
          for (int64_t oo = 0; oo < t.og; ++oo)
            for (int64_t i = 0; i < t.kh; ++i)
              for (int64_t j = 0; j < t.kw; ++j) {
                const int64_t oy = iy * t.sh - t.ph + i * t.dh, ox = ix * t.sw - t.pw + j * t.dw;
                if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
                const int64_t oc = ic / cg * t.og + oo;
                y[((n * O + oc) * OH + oy) * OW + ox] +=
                    x[((n * t.c + ic) * t.h + iy) * t.w + ix] *
                    w[((ic * t.og + oo) * t.kh + i) * t.kw + j];
              }
  return y;
}
}  // namespace

TEMPLATE_TEST_CASE("conv_transpose2d and its backward kernels", "[ops][conv]", float, double) {
  using T = TestType;
  const TCase cases[] = {
      {"stride 2 pad 1 output_padding 1", 2, 4, 5, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true},
      {"groups 2, stride (2,3), dilation (1,2)", 1, 4, 3, 4, 2, 2, 3, 2, 3, 0, 1, 0, 2, 1, 2, 2,
       false},
      {"output_padding >= stride, < dilation", 2, 2, 4, 4, 3, 3, 3, 1, 1, 0, 0, 1, 1, 2, 2, 1,
       true},
      {"1x1, stride 1", 2, 3, 4, 4, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},
      {"depthwise", 2, 4, 6, 5, 1, 3, 3, 2, 2, 1, 1, 0, 1, 1, 1, 4, false},
      {"blocked channels", 3, 16, 7, 7, 8, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1, true},
      {"empty batch", 0, 2, 3, 3, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, true},
  };
  for (const TCase& t : cases) {
    const Shape xs{t.n, t.c, t.h, t.w}, ws{t.c, t.og, t.kh, t.kw};
    const Tensor<T> x = random<T>(xs, 31), w = random<T>(ws, 32);
    const Tensor<T> b = t.bias ? random<T>({t.og * t.g}, 33) : Tensor<T>();
    const auto bv = t.bias ? values_of(b) : std::vector<double>();
    Shape ys;
    const auto want = ref_transposed(t, values_of(x), values_of(w), t.bias ? &bv : nullptr, &ys);
    const Tensor<T> gy = random<T>(ys, 34);
    const IntPair s{t.sh, t.sw}, p{t.ph, t.pw}, op{t.oph, t.opw}, d{t.dh, t.dw};
    for (Backend be : backends<T>()) {
      INFO(t.name << ", " << name_of(be));
      BackendGuard guard(be);
      const Tensor<T> y = kiln::conv_transpose2d(x, w, b, s, p, op, t.g, d);
      check_close(y, ys, want, tol_for<T>());

      const Tensor<T> gx = kiln::conv_transpose2d_backward_input(gy, w, xs, s, p, op, t.g, d);
      const Tensor<T> gw = kiln::conv_transpose2d_backward_weight(gy, x, ws, s, p, op, t.g, d);
      const Tensor<T> gb = kiln::conv_transpose2d_backward_bias(gy);
      REQUIRE(gx.shape() == xs);
      REQUIRE(gw.shape() == ws);
      // Adjoints: <convT(x, w), gy> = <x, backward_input(gy)> = <w, backward_weight(gy, x)>.
      const auto yv = ref_transposed(t, values_of(x), values_of(w), nullptr, &ys);
      const double y_g = dot(yv, values_of(gy));
      const double scale = 1 + dot(values_of(gy), values_of(gy));
      CHECK(std::abs(y_g - dot(values_of(x), values_of(gx))) <= tol_for<T>() * 10 * scale);
      CHECK(std::abs(y_g - dot(values_of(w), values_of(gw))) <= tol_for<T>() * 10 * scale);
      // The bias gradient sums gy over batch and space.
      std::vector<double> sb(static_cast<std::size_t>(t.og * t.g), 0.0);
      const auto gyv = values_of(gy);
      for (std::size_t i = 0; i < gyv.size(); ++i) sb[i / (ys[2] * ys[3]) % sb.size()] += gyv[i];
      check_close(gb, Shape{t.og * t.g}, sb, tol_for<T>());
    }
  }
}

TEST_CASE("conv_transpose2d backward kernels match finite differences", "[ops][conv]") {
  const Shape xs{2, 4, 3, 3}, ws{4, 2, 3, 2};
  const IntPair s{2, 1}, p{1, 0}, op{1, 0}, d{1, 2};
  const Tensor<double> x = random<double>(xs, 41), w = random<double>(ws, 42);
  const Tensor<double> y = kiln::conv_transpose2d(x, w, {}, s, p, op, 2, d);
  const Tensor<double> g = random<double>(y.shape(), 43);
  const auto gx = values_of(kiln::conv_transpose2d_backward_input(g, w, xs, s, p, op, 2, d));
  const auto gw = values_of(kiln::conv_transpose2d_backward_weight(g, x, ws, s, p, op, 2, d));
  auto loss = [&](const Tensor<double>& xx, const Tensor<double>& ww) {
    return dot(values_of(kiln::conv_transpose2d(xx, ww, {}, s, p, op, 2, d)), values_of(g));
  };
  const double eps = 1e-3;
  for (int64_t i = 0; i < x.numel(); ++i) {
    Tensor<double> a = x.clone(), b = x.clone();
    a.data()[i] += eps;
    b.data()[i] -= eps;
    CHECK((loss(a, w) - loss(b, w)) / (2 * eps) == Approx(gx[i]).margin(1e-8));
  }
  for (int64_t i = 0; i < w.numel(); ++i) {
    Tensor<double> a = w.clone(), b = w.clone();
    a.data()[i] += eps;
    b.data()[i] -= eps;
    CHECK((loss(x, a) - loss(x, b)) / (2 * eps) == Approx(gw[i]).margin(1e-8));
  }
  // Unbatched input gives an unbatched output.
  CHECK(kiln::conv_transpose2d(x.select(0, 0), w, {}, s, p, op, 2, d).shape() ==
        Shape{y.size(1), y.size(2), y.size(3)});
}

TEST_CASE("conv results do not depend on the thread count (im2col + GEMM)", "[ops][conv]") {
  const Shape xs{6, 4, 9, 9}, ws{8, 2, 3, 3};
  const Tensor<double> x = random<double>(xs, 51), w = random<double>(ws, 52);
  const Tensor<double> gy = random<double>({6, 8, 9, 9}, 53);
  auto run = [&](int threads) {
    kiln::set_num_threads(threads);
    std::vector<std::vector<double>> r{
        values_of(kiln::conv2d(x, w, {}, 1, 1, 1, 2)),
        values_of(kiln::conv2d_backward_input(gy, w, xs, 1, 1, 1, 2)),
        values_of(kiln::conv2d_backward_weight(gy, x, ws, 1, 1, 1, 2))};
    return r;
  };
  const int before = kiln::get_num_threads();
  const auto one = run(1), two = run(2);
  kiln::set_num_threads(before);
  for (std::size_t i = 0; i < one.size(); ++i) CHECK(one[i] == two[i]);
}

TEST_CASE("oneDNN primitives are cached by shape", "[ops][conv]") {
  const Tensor<float> x = random<float>({2, 3, 13, 11}, 61), w = random<float>({5, 3, 3, 3}, 62);
  const int64_t before = kiln::detail::conv_primitive_cache_size();
  const Tensor<float> a = kiln::conv2d(x, w, {}, 1, 1);
  const int64_t after_first = kiln::detail::conv_primitive_cache_size();
  CHECK((after_first == before + 1 || after_first == 128));
  const Tensor<float> b = kiln::conv2d(x, w, {}, 1, 1);
  CHECK(kiln::detail::conv_primitive_cache_size() == after_first);
  CHECK(values_of(a) == values_of(b));
}

TEMPLATE_TEST_CASE("half and bfloat16 convolutions compute in float", "[ops][conv]", kiln::half,
                   kiln::bfloat16) {
  using T = TestType;
  const Tensor<T> x = random<T>({2, 3, 6, 6}, 71), w = random<T>({4, 3, 3, 3}, 72);
  const Tensor<T> b = random<T>({4}, 73);
  const Tensor<float> xf = x.template to<float>(), wf = w.template to<float>(),
                      bf = b.template to<float>();
  const double tol = std::is_same_v<T, kiln::half> ? 2e-3 : 1e-2;
  const Tensor<float> want = kiln::conv2d(xf, wf, bf, 2, 1);
  check_close(kiln::conv2d(x, w, b, 2, 1).template to<float>(), want.shape(), values_of(want), tol);
  const Tensor<float> wt = kiln::conv_transpose2d(xf, wf.transpose(0, 1).contiguous(), {}, 2);
  check_close(kiln::conv_transpose2d(x, Tensor<T>(w.transpose(0, 1).contiguous()), {}, 2)
                  .template to<float>(),
              wt.shape(), values_of(wt), tol);
}

TEST_CASE("conv errors name the op and the shapes", "[ops][conv]") {
  using kiln::ShapeError;
  using kiln::ValueError;
  const Tensor<float> x = kiln::zeros<float>({2, 4, 5, 5}), w = kiln::zeros<float>({6, 2, 3, 3});
  auto has = [](const std::string& msg, std::initializer_list<const char*> parts) {
    for (const char* p : parts) {
      INFO("message: " << msg << "\nmissing: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
  };
  // Ranks.
  has(thrown_message<ShapeError>([&] {
        kiln::conv2d(kiln::zeros<float>({4, 5}), w);
      }),
      {"[conv2d]", "3-D (unbatched) or 4-D", "[4, 5]"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv2d(x, kiln::zeros<float>({6, 2, 3}));
      }),
      {"[conv2d]", "weight must be 4-D", "[6, 2, 3]"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv1d(kiln::zeros<float>({2, 4, 5, 5}), kiln::zeros<float>({6, 4, 3}));
      }),
      {"[conv1d]", "2-D (unbatched) or 3-D", "[2, 4, 5, 5]"});
  // Channels and groups.
  has(thrown_message<ShapeError>([&] { kiln::conv2d(x, w, {}, 1, 0, 1, 3); }),
      {"[conv2d]", "input channels (4)", "groups (3)", "[2, 4, 5, 5]"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv2d(x, kiln::zeros<float>({5, 2, 3, 3}), {}, 1, 0, 1, 2);
      }),
      {"[conv2d]", "out channels (weight.size(0) = 5)", "groups (2)", "[5, 2, 3, 3]"});
  has(thrown_message<ShapeError>([&] { kiln::conv2d(x, w); }),
      {"[conv2d]", "weight [6, 2, 3, 3]", "expects an input with 2 channels", "[2, 4, 5, 5]"});
  has(thrown_message<ValueError>([&] { kiln::conv2d(x, w, {}, 1, 0, 1, 0); }),
      {"[conv2d]", "groups must be positive, got 0"});
  // Kernel against the padded input.
  has(thrown_message<ShapeError>([&] {
        kiln::conv2d(x, kiln::zeros<float>({6, 4, 4, 4}), {}, 1, 0, 2);
      }),
      {"[conv2d]", "kernel is larger than the padded input", "padded input size per channel [5, 5]",
       "effective kernel size", "[7, 7]", "[2, 4, 5, 5]", "[6, 4, 4, 4]"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv1d(kiln::zeros<float>({1, 2, 3}), kiln::zeros<float>({1, 2, 4}));
      }),
      {"[conv1d]", "padded input size per channel 3",
       "effective kernel size (dilation * "
       "(kernel - 1) + 1) 4"});
  // Parameters.
  has(thrown_message<ValueError>([&] {
        kiln::conv2d(x, kiln::zeros<float>({6, 4, 3, 3}), {}, {1, 0});
      }),
      {"[conv2d]", "stride must be positive", "[1, 0]"});
  has(thrown_message<ValueError>([&] {
        kiln::conv2d(x, kiln::zeros<float>({6, 4, 3, 3}), {}, 1, -1);
      }),
      {"[conv2d]", "padding must be non-negative", "[-1, -1]"});
  has(thrown_message<ValueError>([&] {
        kiln::conv2d(x, kiln::zeros<float>({6, 4, 3, 3}), {}, 1, 0, {0, 1});
      }),
      {"[conv2d]", "dilation must be positive", "[0, 1]"});
  has(thrown_message<ValueError>([&] {
        kiln::conv2d(x, kiln::zeros<float>({6, 4, 3, 3}), {}, IntPair{});
      }),
      {"[conv2d]", "stride needs one or two values"});
  has(thrown_message<ValueError>([&] {
        kiln::conv1d(kiln::zeros<float>({1, 2, 8}), kiln::zeros<float>({1, 2, 3}), {}, 0);
      }),
      {"[conv1d]", "stride must be positive, got 0"});
  // Bias.
  has(thrown_message<ShapeError>([&] {
        kiln::conv2d(x, kiln::zeros<float>({6, 4, 3, 3}), kiln::zeros<float>({5}));
      }),
      {"[conv2d]", "bias must be 1-D with 6 elements", "[6, 4, 3, 3]", "got shape [5]"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv2d(x, kiln::zeros<float>({6, 4, 3, 3}), kiln::zeros<float>({6, 1}));
      }),
      {"[conv2d]", "bias must be 1-D", "[6, 1]"});
  // Transposed.
  const Tensor<float> wt = kiln::zeros<float>({4, 3, 3, 3});
  has(thrown_message<ValueError>([&] { kiln::conv_transpose2d(x, wt, {}, 2, 0, 2); }),
      {"[conv_transpose2d]", "output_padding must be smaller than either stride or dilation",
       "output_padding [2, 2]", "stride [2, 2]", "dilation [1, 1]"});
  has(thrown_message<ValueError>([&] { kiln::conv_transpose2d(x, wt, {}, 1, 0, -1); }),
      {"[conv_transpose2d]", "output_padding must be non-negative"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv_transpose2d(x, kiln::zeros<float>({3, 3, 3, 3}));
      }),
      {"[conv_transpose2d]", "weight [3, 3, 3, 3]", "expects an input with 3 channels",
       "[2, 4, 5, 5]"});
  has(thrown_message<ShapeError>([&] { kiln::conv_transpose2d(x, wt, {}, 1, 0, 0, 3); }),
      {"[conv_transpose2d]", "in channels (weight.size(0) = 4)", "groups (3)"});
  has(thrown_message<ShapeError>([&] { kiln::conv_transpose2d(x, wt, kiln::zeros<float>({4})); }),
      {"[conv_transpose2d]", "bias must be 1-D with 3 elements"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv_transpose2d(kiln::zeros<float>({1, 4, 1, 1}), kiln::zeros<float>({4, 1, 1, 1}),
                               {}, 1, 1);
      }),
      {"[conv_transpose2d]", "output would have size [-1, -1]", "too small"});
  // Backward shapes.
  const Tensor<float> w4 = kiln::zeros<float>({6, 4, 3, 3});
  has(thrown_message<ShapeError>([&] {
        kiln::conv2d_backward_input(kiln::zeros<float>({2, 6, 4, 4}), w4, {2, 4, 5, 5});
      }),
      {"[conv2d_backward_input]", "grad_output has shape [2, 6, 4, 4]", "[2, 6, 3, 3]",
       "[2, 4, 5, 5]", "[6, 4, 3, 3]"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv2d_backward_weight(kiln::zeros<float>({2, 6, 3, 3}), x, {6, 4, 3});
      }),
      {"[conv2d_backward_weight]", "weight_shape must be 4-D", "[6, 4, 3]"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv2d_backward_bias(kiln::zeros<float>({6, 3}));
      }),
      {"[conv2d_backward_bias]", "grad_output", "[6, 3]"});
  has(thrown_message<ShapeError>([&] {
        kiln::conv_transpose2d_backward_input(kiln::zeros<float>({2, 3, 5, 5}), wt, {2, 4, 5, 5});
      }),
      {"[conv_transpose2d_backward_input]", "grad_output has shape [2, 3, 5, 5]", "[2, 3, 7, 7]"});
}

TEST_CASE("conv2d called from inside an outer OpenMP region uses its own scratch", "[conv]") {
  // The im2col path gives each thread of its own team a scratch slot; called from an outer
  // team larger than kiln's thread count it must run inline on one slot, not index past
  // the buffer by the outer thread number.
  kiln::manual_seed(41);
  const Tensor<double> x = kiln::randn<double>({3, 2, 6, 6}), w = kiln::randn<double>({4, 2, 3, 3});
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(2);
  const Tensor<double> y = kiln::conv2d(x, w, {}, 1, 1);
  const Tensor<double> gw = kiln::conv2d_backward_weight(y, x, w.shape(), 1, 1);
  constexpr int kOuter = 4;
  std::vector<Tensor<double>> ys(kOuter), gws(kOuter);
#pragma omp parallel num_threads(kOuter)
  {
    const int t = omp_get_thread_num();
    ys[t] = kiln::conv2d(x, w, {}, 1, 1);
    gws[t] = kiln::conv2d_backward_weight(y, x, w.shape(), 1, 1);
  }
  kiln::set_num_threads(saved);
  for (int t = 0; t < kOuter; ++t) {
    REQUIRE(kiln::allclose(ys[t], y, 1e-12, 1e-12));
    REQUIRE(kiln::allclose(gws[t], gw, 1e-12, 1e-12));
  }
}
