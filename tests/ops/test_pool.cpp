// SPDX-License-Identifier: BSD-3-Clause
// max_pool2d, avg_pool2d, adaptive_avg_pool2d and their backward kernels against direct
// loops in double, adjoint identities, finite differences, torch's output sizes and every
// error path.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <optional>
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

template <class T>
void check_close(const Tensor<T>& got, const Shape& want_shape, const std::vector<double>& want,
                 double tol) {
  REQUIRE(got.shape() == want_shape);
  const auto g = values_of(got);
  REQUIRE(g.size() == want.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i << ": got " << g[i] << ", want " << want[i]);
    if (std::isnan(want[i]))
      CHECK(std::isnan(g[i]));
    else
      CHECK(std::abs(g[i] - want[i]) <= tol * (1 + std::abs(want[i])));
  }
}

template <class T>
double tol_for() {
  return std::is_same_v<T, float> ? 1e-6 : 1e-14;
}

struct Pool {
  int64_t kh, kw, sh, sw, ph, pw, dh = 1, dw = 1;
  bool ceil = false;
};

// Output sizes as torch documents them, by counting windows (not the library's formula):
// windows start at i * s - p; without ceil_mode a window must fit in the padded input; with
// it, windows are added until one reaches the end of the padded input, and a window that
// would start in the right padding is dropped.
int64_t out_size(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil) {
  const int64_t span = d * (k - 1) + 1;
  int64_t count = 0;
  for (int64_t i = 0;; ++i) {
    const int64_t start = i * s - p;
    const bool fits = start + span <= n + p;
    const bool previous_short = i == 0 || start - s + span < n + p;
    if (ceil ? !(previous_short && start < n) : !fits) break;
    ++count;
  }
  return count;
}

// For each output of one plane: the input offsets its window covers (inside the input) and
// the number of window positions inside the padded input.
struct Window {
  std::vector<int64_t> cells;
  int64_t padded = 0;
};
std::vector<Window> windows(int64_t h, int64_t w, const Pool& p, int64_t oh, int64_t ow) {
  std::vector<Window> out;
  for (int64_t oy = 0; oy < oh; ++oy)
    for (int64_t ox = 0; ox < ow; ++ox) {
      Window win;
      for (int64_t i = 0; i < p.kh; ++i)
        for (int64_t j = 0; j < p.kw; ++j) {
          const int64_t y = oy * p.sh - p.ph + i * p.dh, x = ox * p.sw - p.pw + j * p.dw;
          if (y >= -p.ph && y < h + p.ph && x >= -p.pw && x < w + p.pw) ++win.padded;
          if (y >= 0 && y < h && x >= 0 && x < w) win.cells.push_back(y * w + x);
        }
      out.push_back(win);
    }
  return out;
}

struct MaxRef {
  std::vector<double> values;
  std::vector<int64_t> indices;
};
// torch's rule: the first maximum; a NaN wins and a later NaN replaces it.
MaxRef ref_max(const std::vector<double>& x, int64_t planes, int64_t h, int64_t w,
               const std::vector<Window>& wins) {
  MaxRef r;
  for (int64_t p = 0; p < planes; ++p)
    for (const Window& win : wins) {
      double best = -INFINITY;
      int64_t at = win.cells.empty() ? -1 : win.cells.front();
      for (int64_t c : win.cells) {
        const double v = x[p * h * w + c];
        if (v > best || std::isnan(v)) best = v, at = c;
      }
      r.values.push_back(best);
      r.indices.push_back(at);
    }
  return r;
}

struct PoolCase {
  const char* name;
  Shape x;
  Pool p;
};

std::vector<PoolCase> max_cases() {
  return {
      {"2x2 stride 2", {2, 3, 8, 6}, {2, 2, 2, 2, 0, 0}},
      {"3x3 stride 2 pad 1", {2, 2, 7, 7}, {3, 3, 2, 2, 1, 1}},
      {"(3,2) stride (2,1) pad (1,0) dilation (2,1)", {1, 3, 9, 5}, {3, 2, 2, 1, 1, 0, 2, 1}},
      {"ceil_mode, partial last window", {2, 2, 4, 7}, {3, 3, 2, 2, 0, 0, 1, 1, true}},
      {"ceil_mode, window starting in the padding dropped",
       {1, 2, 3, 3},
       {2, 2, 2, 2, 1, 1, 1, 1, true}},
      {"stride 1, overlapping", {2, 1, 5, 5}, {2, 3, 1, 1, 1, 1}},
      {"rows wider than a block of 256 outputs", {1, 2, 3, 700}, {2, 3, 1, 2, 1, 1}},
      {"empty batch", {0, 3, 4, 4}, {2, 2, 2, 2, 0, 0}},
  };
}

}  // namespace

TEST_CASE("pooling output sizes follow torch", "[ops][pool]") {
  // Values from torch.nn.functional.max_pool2d / avg_pool2d.
  struct S {
    int64_t n, k, s, p, d;
    bool ceil;
    int64_t want;
  };
  const S cases[] = {
      {5, 2, 2, 0, 1, false, 2}, {5, 2, 2, 0, 1, true, 3},  {3, 2, 2, 1, 1, true, 2},
      {3, 2, 2, 1, 1, false, 2}, {4, 3, 2, 0, 1, true, 2},  {4, 3, 2, 0, 1, false, 1},
      {6, 3, 2, 1, 1, true, 4},  {7, 3, 2, 1, 2, false, 3}, {1, 1, 1, 0, 1, false, 1}};
  for (const S& c : cases) {
    INFO("n=" << c.n << " k=" << c.k << " s=" << c.s << " p=" << c.p << " d=" << c.d
              << " ceil=" << c.ceil);
    const Tensor<float> x = kiln::zeros<float>({1, 1, c.n, 1});
    const auto y = kiln::max_pool2d(x, {c.k, 1}, {c.s, 1}, {c.p, 0}, {c.d, 1}, c.ceil);
    CHECK(y.size(2) == c.want);
    if (c.d == 1)
      CHECK(kiln::avg_pool2d(x, {c.k, 1}, {c.s, 1}, {c.p, 0}, c.ceil).size(2) == c.want);
  }
}

TEMPLATE_TEST_CASE("max_pool2d and its backward match direct loops", "[ops][pool]", float, double) {
  using T = TestType;
  for (const PoolCase& pc : max_cases()) {
    INFO(pc.name);
    const Pool& p = pc.p;
    const int64_t n = pc.x[0], c = pc.x[1], h = pc.x[2], w = pc.x[3];
    const int64_t oh = out_size(h, p.kh, p.sh, p.ph, p.dh, p.ceil);
    const int64_t ow = out_size(w, p.kw, p.sw, p.pw, p.dw, p.ceil);
    const auto wins = windows(h, w, p, oh, ow);
    const Tensor<T> x = random<T>(pc.x, 1);
    const MaxRef ref = ref_max(values_of(x), n * c, h, w, wins);
    const Shape ys{n, c, oh, ow};
    const auto r = kiln::max_pool2d_with_indices(x, {p.kh, p.kw}, {p.sh, p.sw}, {p.ph, p.pw},
                                                 {p.dh, p.dw}, p.ceil);
    check_close(r.values, ys, ref.values, 0);
    REQUIRE(r.indices.shape() == ys);
    CHECK(std::vector<int64_t>(r.indices.data(), r.indices.data() + r.indices.numel()) ==
          ref.indices);
    check_close(kiln::max_pool2d(x, {p.kh, p.kw}, {p.sh, p.sw}, {p.ph, p.pw}, {p.dh, p.dw}, p.ceil),
                ys, ref.values, 0);

    // Backward: each gradient goes to the element its index names.
    const Tensor<T> gy = random<T>(ys, 2);
    const auto gv = values_of(gy);
    std::vector<double> want(static_cast<std::size_t>(n * c * h * w), 0.0);
    for (std::size_t i = 0; i < gv.size(); ++i)
      want[(i / (oh * ow)) * h * w + ref.indices[i]] += gv[i];
    check_close(kiln::max_pool2d_backward(gy, r.indices, pc.x), pc.x, want, tol_for<T>());
  }
}

TEST_CASE("max_pool2d: NaN, -inf, layouts, unbatched, finite differences", "[ops][pool]") {
  // NaN propagates (the last NaN's index), all -inf gives the first index.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = INFINITY;
  const Tensor<float> x =
      kiln::from_vector<float>({1, nan, 3, nan, -inf, -inf, -inf, -inf, 5, 2, 7, 7}, {1, 3, 2, 2});
  const auto r = kiln::max_pool2d_with_indices(x, 2);
  CHECK(std::isnan(r.values.data()[0]));
  CHECK(r.indices.data()[0] == 3);
  CHECK(r.values.data()[1] == -inf);
  CHECK(r.indices.data()[1] == 0);
  CHECK(r.values.data()[2] == 7);
  CHECK(r.indices.data()[2] == 2);  // the first of two equal maxima

  // A permuted (NHWC-backed) input and the unbatched form agree with a contiguous copy.
  const Tensor<double> nhwc = random<double>({2, 6, 5, 3}, 3);
  const Tensor<double> xp = nhwc.permute({0, 3, 1, 2});
  const auto a = kiln::max_pool2d_with_indices(xp, 3, 2, 1);
  const auto b = kiln::max_pool2d_with_indices(xp.contiguous(), 3, 2, 1);
  CHECK(values_of(a.values) == values_of(b.values));
  CHECK(values_of(a.indices) == values_of(b.indices));
  const auto u = kiln::max_pool2d_with_indices(xp.select(0, 1), 3, 2, 1);
  CHECK(u.values.shape() == Shape{3, 3, 3});
  CHECK(values_of(u.values) == values_of(Tensor<double>(a.values.select(0, 1))));
  CHECK(kiln::max_pool2d_backward(u.values, u.indices, {3, 6, 5}).shape() == Shape{3, 6, 5});

  // Finite differences (distinct values, so no ties flip under a small step).
  const Tensor<double> s = random<double>({1, 2, 5, 4}, 4);
  const Tensor<double> g = random<double>({1, 2, 3, 3}, 5);
  auto loss = [&](const Tensor<double>& t) {
    return dot(values_of(kiln::max_pool2d(t, 2, 2, 1, 1, true)), values_of(g));
  };
  const auto ri = kiln::max_pool2d_with_indices(s, 2, 2, 1, 1, true);
  REQUIRE(ri.values.shape() == g.shape());
  const auto gx = values_of(kiln::max_pool2d_backward(g, ri.indices, s.shape()));
  for (int64_t i = 0; i < s.numel(); ++i) {
    Tensor<double> hi = s.clone(), lo = s.clone();
    hi.data()[i] += 1e-6;
    lo.data()[i] -= 1e-6;
    CHECK((loss(hi) - loss(lo)) / 2e-6 == Approx(gx[i]).margin(1e-6));
  }

  // A dilated window that holds no input element: -inf, index -1, skipped by backward.
  const auto e =
      kiln::max_pool2d_with_indices(kiln::ones<float>({1, 1, 2, 1}), {2, 1}, 1, {1, 0}, {3, 1});
  REQUIRE(e.values.shape() == Shape{1, 1, 1, 1});
  CHECK(e.values.data()[0] == -inf);
  CHECK(e.indices.data()[0] == -1);
  CHECK(values_of(kiln::max_pool2d_backward(kiln::ones<float>({1, 1, 1, 1}), e.indices,
                                            {1, 1, 2, 1})) == std::vector<double>{0, 0});
}

TEMPLATE_TEST_CASE("avg_pool2d and its backward match direct loops", "[ops][pool]", float, double) {
  using T = TestType;
  struct AvgCase {
    const char* name;
    Shape x;
    Pool p;
    bool include_pad;
    std::optional<int64_t> divisor;
  };
  const AvgCase cases[] = {
      {"2x2", {2, 3, 6, 6}, {2, 2, 2, 2, 0, 0}, true, std::nullopt},
      {"3x3 stride 2 pad 1, with pad", {2, 2, 7, 6}, {3, 3, 2, 2, 1, 1}, true, std::nullopt},
      {"3x3 stride 2 pad 1, without pad", {2, 2, 7, 6}, {3, 3, 2, 2, 1, 1}, false, std::nullopt},
      {"ceil_mode with pad", {1, 2, 5, 5}, {2, 2, 2, 2, 1, 1, 1, 1, true}, true, std::nullopt},
      {"ceil_mode without pad", {1, 2, 5, 5}, {2, 2, 2, 2, 1, 1, 1, 1, true}, false, std::nullopt},
      {"ceil_mode, no padding", {1, 1, 4, 7}, {3, 3, 2, 2, 0, 0, 1, 1, true}, true, std::nullopt},
      {"(3,2) stride (1,2) divisor 5", {2, 1, 5, 6}, {3, 2, 1, 2, 1, 1}, true, 5},
      {"empty batch", {0, 2, 4, 4}, {2, 2, 2, 2, 0, 0}, true, std::nullopt},
  };
  for (const AvgCase& ac : cases) {
    INFO(ac.name);
    const Pool& p = ac.p;
    const int64_t n = ac.x[0], c = ac.x[1], h = ac.x[2], w = ac.x[3];
    const int64_t oh = out_size(h, p.kh, p.sh, p.ph, 1, p.ceil);
    const int64_t ow = out_size(w, p.kw, p.sw, p.pw, 1, p.ceil);
    const Shape ys{n, c, oh, ow};
    // ceil_mode windows may reach past the right padding; torch's divisor then counts only
    // the part inside the padded input.
    const auto wins = windows(h, w, p, oh, ow);
    const Tensor<T> x = random<T>(ac.x, 6), gy = random<T>(ys, 7);
    const auto xv = values_of(x), gv = values_of(gy);
    std::vector<double> want, gx_want(xv.size(), 0.0);
    for (int64_t pl = 0; pl < n * c; ++pl)
      for (std::size_t o = 0; o < wins.size(); ++o) {
        const Window& win = wins[o];
        const double div = ac.divisor          ? double(*ac.divisor)
                           : ac.include_pad    ? double(win.padded)
                           : win.cells.empty() ? 1.0
                                               : double(win.cells.size());
        double s = 0;
        for (int64_t cell : win.cells) s += xv[pl * h * w + cell];
        want.push_back(win.cells.empty() ? 0.0 : s / div);
        for (int64_t cell : win.cells)
          gx_want[pl * h * w + cell] += gv[pl * oh * ow + static_cast<int64_t>(o)] / div;
      }
    const IntPair k{p.kh, p.kw}, s{p.sh, p.sw}, pad{p.ph, p.pw};
    const Tensor<T> y = kiln::avg_pool2d(x, k, s, pad, p.ceil, ac.include_pad, ac.divisor);
    check_close(y, ys, want, tol_for<T>() * 4);
    const Tensor<T> gx =
        kiln::avg_pool2d_backward(gy, ac.x, k, s, pad, p.ceil, ac.include_pad, ac.divisor);
    check_close(gx, ac.x, gx_want, tol_for<T>() * 4);
    // avg_pool2d is linear: its backward is its adjoint.
    CHECK(dot(values_of(y), gv) == Approx(dot(xv, values_of(gx))).epsilon(tol_for<T>() * 100));
  }
  // stride defaults to the kernel; unbatched and permuted inputs.
  const Tensor<T> xp = random<T>({2, 5, 4, 3}, 8).permute({0, 3, 1, 2});  // [2, 3, 5, 4]
  check_close(kiln::avg_pool2d(xp, 2), Shape{2, 3, 2, 2},
              values_of(kiln::avg_pool2d(xp.contiguous(), 2, 2)), 0);
  check_close(kiln::avg_pool2d(xp.select(0, 0), 2), Shape{3, 2, 2},
              values_of(Tensor<T>(kiln::avg_pool2d(xp, 2).select(0, 0))), 0);
}

TEMPLATE_TEST_CASE("adaptive_avg_pool2d and its backward match direct loops", "[ops][pool]", float,
                   double) {
  using T = TestType;
  struct AC {
    Shape x;
    int64_t oh, ow;
  };
  const AC cases[] = {{{2, 3, 7, 5}, 3, 2}, {{1, 2, 4, 4}, 4, 4}, {{2, 2, 5, 6}, 1, 1},
                      {{1, 2, 3, 3}, 5, 4}, {{0, 2, 4, 4}, 2, 2}, {{2, 1, 6, 10}, 4, 3}};
  for (const AC& ac : cases) {
    INFO("input " << ac.x << " -> " << ac.oh << "x" << ac.ow);
    const int64_t n = ac.x[0], c = ac.x[1], h = ac.x[2], w = ac.x[3];
    const Shape ys{n, c, ac.oh, ac.ow};
    const Tensor<T> x = random<T>(ac.x, 9), gy = random<T>(ys, 10);
    const auto xv = values_of(x), gv = values_of(gy);
    std::vector<double> want, gx_want(xv.size(), 0.0);
    for (int64_t pl = 0; pl < n * c; ++pl)
      for (int64_t oy = 0; oy < ac.oh; ++oy)
        for (int64_t ox = 0; ox < ac.ow; ++ox) {
          const auto y0 = static_cast<int64_t>(std::floor(double(oy * h) / double(ac.oh)));
          const auto y1 = static_cast<int64_t>(std::ceil(double((oy + 1) * h) / double(ac.oh)));
          const auto x0 = static_cast<int64_t>(std::floor(double(ox * w) / double(ac.ow)));
          const auto x1 = static_cast<int64_t>(std::ceil(double((ox + 1) * w) / double(ac.ow)));
          const double cnt = double((y1 - y0) * (x1 - x0));
          double s = 0;
          for (int64_t i = y0; i < y1; ++i)
            for (int64_t j = x0; j < x1; ++j) {
              s += xv[(pl * h + i) * w + j];
              gx_want[(pl * h + i) * w + j] += gv[(pl * ac.oh + oy) * ac.ow + ox] / cnt;
            }
          want.push_back(s / cnt);
        }
    check_close(kiln::adaptive_avg_pool2d(x, {ac.oh, ac.ow}), ys, want, tol_for<T>() * 4);
    check_close(kiln::adaptive_avg_pool2d_backward(gy, ac.x), ac.x, gx_want, tol_for<T>() * 4);
  }
  // Unbatched, non-contiguous, a single int for a square output, an empty output.
  const Tensor<T> xt = random<T>({6, 7, 2}, 11).permute({2, 0, 1});  // [2, 6, 7]
  check_close(kiln::adaptive_avg_pool2d(xt, 3), Shape{2, 3, 3},
              values_of(kiln::adaptive_avg_pool2d(xt.contiguous(), {3, 3})), 0);
  CHECK(kiln::adaptive_avg_pool2d(xt, {0, 2}).shape() == Shape{2, 0, 2});
  const Tensor<T> g0 = kiln::adaptive_avg_pool2d_backward(kiln::zeros<T>({2, 0, 2}), {2, 6, 7});
  CHECK(values_of(g0) == std::vector<double>(84, 0.0));
}

TEMPLATE_TEST_CASE("half and bfloat16 pooling compute in float", "[ops][pool]", kiln::half,
                   kiln::bfloat16) {
  using T = TestType;
  const Tensor<T> x = random<T>({2, 3, 6, 6}, 12);
  const Tensor<float> xf = x.template to<float>();
  const double tol = std::is_same_v<T, kiln::half> ? 1e-3 : 8e-3;
  const auto m = kiln::max_pool2d_with_indices(x, 3, 2, 1);
  const auto mf = kiln::max_pool2d_with_indices(xf, 3, 2, 1);
  check_close(m.values.template to<float>(), mf.values.shape(), values_of(mf.values), 0);
  CHECK(values_of(m.indices) == values_of(mf.indices));
  const Tensor<float> af = kiln::avg_pool2d(xf, 2);
  check_close(kiln::avg_pool2d(x, 2).template to<float>(), af.shape(), values_of(af), tol);
  const Tensor<float> adf = kiln::adaptive_avg_pool2d(xf, {4, 5});
  check_close(kiln::adaptive_avg_pool2d(x, {4, 5}).template to<float>(), adf.shape(),
              values_of(adf), tol);
}

TEST_CASE("pooling errors name the op and the shapes", "[ops][pool]") {
  using kiln::IndexError;
  using kiln::ShapeError;
  using kiln::ValueError;
  const Tensor<float> x = kiln::zeros<float>({2, 3, 5, 5});
  auto has = [](const std::string& msg, std::initializer_list<const char*> parts) {
    for (const char* p : parts) {
      INFO("message: " << msg << "\nmissing: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
  };
  has(thrown_message<ShapeError>([&] {
        kiln::max_pool2d(kiln::zeros<float>({5, 5}), 2);
      }),
      {"[max_pool2d]", "3-D (unbatched) or 4-D", "[5, 5]"});
  has(thrown_message<ShapeError>([&] {
        kiln::avg_pool2d(kiln::zeros<float>({2, 0, 5, 5}), 2);
      }),
      {"[avg_pool2d]", "non-zero channels, height and width", "[2, 0, 5, 5]"});
  has(thrown_message<ValueError>([&] { kiln::max_pool2d(x, 3, 1, 2); }),
      {"[max_pool2d]", "padding [2, 2] must be at most half the kernel size [3, 3]"});
  has(thrown_message<ValueError>([&] {
        kiln::avg_pool2d(x, {2, 4}, {}, {1, 3});
      }),
      {"[avg_pool2d]", "padding [1, 3]", "kernel size [2, 4]"});
  has(thrown_message<ValueError>([&] {
        kiln::max_pool2d(x, {0, 2});
      }),
      {"[max_pool2d]", "kernel_size must be positive", "[0, 2]"});
  has(thrown_message<ValueError>([&] {
        kiln::max_pool2d(x, 2, {1, 0});
      }),
      {"[max_pool2d]", "stride must be positive", "[1, 0]"});
  has(thrown_message<ValueError>([&] { kiln::max_pool2d(x, 2, 2, 0, 0); }),
      {"[max_pool2d]", "dilation must be positive"});
  has(thrown_message<ValueError>([&] { kiln::avg_pool2d(x, 2, 2, -1); }),
      {"[avg_pool2d]", "padding must be non-negative"});
  has(thrown_message<ValueError>([&] { kiln::max_pool2d(x, IntPair{}); }),
      {"[max_pool2d]", "kernel_size needs one or two values"});
  has(thrown_message<ShapeError>([&] { kiln::max_pool2d(x, 6); }),
      {"[max_pool2d]", "output size is too small", "[2, 3, 5, 5]", "[0, 0]"});
  has(thrown_message<ValueError>([&] { kiln::avg_pool2d(x, 2, 2, 0, false, true, 0); }),
      {"[avg_pool2d]", "divisor_override must be non-zero"});
  has(thrown_message<ValueError>([&] {
        kiln::adaptive_avg_pool2d(x, {-1, 2});
      }),
      {"[adaptive_avg_pool2d]", "output_size must be non-negative", "[-1, 2]"});
  has(thrown_message<ShapeError>([&] {
        kiln::adaptive_avg_pool2d(kiln::zeros<float>({2, 3, 0, 5}), 2);
      }),
      {"[adaptive_avg_pool2d]", "[2, 3, 0, 5]"});

  // Backward shapes and indices.
  const auto r = kiln::max_pool2d_with_indices(x, 2);  // [2, 3, 2, 2]
  has(thrown_message<ShapeError>([&] {
        kiln::max_pool2d_backward(kiln::zeros<float>({2, 3, 2, 3}), r.indices, {2, 3, 5, 5});
      }),
      {"[max_pool2d_backward]", "grad_output [2, 3, 2, 3]", "indices [2, 3, 2, 2]"});
  has(thrown_message<ShapeError>([&] {
        kiln::max_pool2d_backward(r.values, r.indices, {2, 4, 5, 5});
      }),
      {"[max_pool2d_backward]", "[2, 3, 2, 2]", "input_shape [2, 4, 5, 5]"});
  Tensor<int64_t> bad = r.indices.clone();
  bad.data()[5] = 25;
  has(thrown_message<IndexError>([&] {
        kiln::max_pool2d_backward(r.values, bad, {2, 3, 5, 5});
      }),
      {"[max_pool2d_backward]", "index 25 is out of range", "25 elements", "[2, 3, 5, 5]"});
  bad.data()[5] = -2;
  has(thrown_message<IndexError>([&] {
        kiln::max_pool2d_backward(r.values, bad, {2, 3, 5, 5});
      }),
      {"[max_pool2d_backward]", "index -2"});
  has(thrown_message<ShapeError>([&] {
        kiln::avg_pool2d_backward(kiln::zeros<float>({2, 3, 3, 3}), {2, 3, 5, 5}, 2);
      }),
      {"[avg_pool2d_backward]", "grad_output has shape [2, 3, 3, 3]", "[2, 3, 2, 2]"});
  has(thrown_message<ShapeError>([&] {
        kiln::adaptive_avg_pool2d_backward(kiln::zeros<float>({2, 3, 2}), {2, 3, 5, 5});
      }),
      {"[adaptive_avg_pool2d_backward]", "[2, 3, 2]", "[2, 3, 5, 5]"});
}
