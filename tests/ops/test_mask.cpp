// SPDX-License-Identifier: BSD-3-Clause
// masked_fill, masked_select, masked_scatter, nonzero/argwhere, masked_select_backward and
// where's broadcasting of all three operands, against plain coordinate loops.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "ops/index_check.hpp"
#include "support/throws.hpp"

namespace {

using Catch::Contains;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::check_equal;
using kiln_test::Coord;
using kiln_test::el;
using kiln_test::for_each_coord;
using kiln_test::thrown_message;
using TB = Tensor<bool>;
using TI = Tensor<int64_t>;

// Masks of several shapes and layouts that broadcast to [4, 5, 6].
std::vector<std::pair<std::string, TB>> masks() {
  std::vector<std::pair<std::string, TB>> out;
  out.emplace_back("full", kiln::randint<bool>(0, 2, {4, 5, 6}));
  out.emplace_back("permuted", kiln::randint<bool>(0, 2, {6, 5, 4}).permute({2, 1, 0}));
  out.emplace_back("broadcast [5, 1]", kiln::randint<bool>(0, 2, {5, 1}));
  out.emplace_back("broadcast [4, 1, 6] stepped",
                   kiln::randint<bool>(0, 2, {4, 1, 12}).slice(2, 0, 12, 2));
  out.emplace_back("0-d true", kiln::scalar_tensor<bool>(true));
  out.emplace_back("all false", kiln::zeros<bool>({6}));
  return out;
}

template <class T>
Tensor<T> ref_masked_fill(const Tensor<T>& x, const TB& mask, T value) {
  const Shape s = kiln::broadcast_shapes(x.shape(), mask.shape(), "ref");
  Tensor<T> out(s);
  const Tensor<T> xb = x.expand(s);
  const TB mb = mask.expand(s);
  for_each_coord(s, [&](const Coord& c) { el(out, c) = el(mb, c) ? value : el(xb, c); });
  return out;
}
template <class T>
Tensor<T> ref_masked_select(const Tensor<T>& x, const TB& mask) {
  const Shape s = kiln::broadcast_shapes(x.shape(), mask.shape(), "ref");
  std::vector<T> v;
  const Tensor<T> xb = x.expand(s);
  const TB mb = mask.expand(s);
  for_each_coord(s, [&](const Coord& c) {
    if (el(mb, c)) v.push_back(el(xb, c));
  });
  return kiln::from_vector<T>(v);
}
template <class T>
Tensor<T> ref_masked_scatter(const Tensor<T>& x, const TB& mask, const Tensor<T>& source) {
  const Shape s = kiln::broadcast_shapes(x.shape(), mask.shape(), "ref");
  Tensor<T> out = x.expand(s).clone();
  const TB mb = mask.expand(s);
  const Tensor<T> flat = source.reshape({-1});
  int64_t k = 0;
  for_each_coord(s, [&](const Coord& c) {
    if (el(mb, c)) el(out, c) = flat(k++);
  });
  return out;
}
template <class T>
TI ref_nonzero(const Tensor<T>& x) {
  std::vector<int64_t> v;
  int64_t n = 0;
  for_each_coord(x.shape(), [&](const Coord& c) {
    if (kiln_test::to_double(el(x, c)) != 0 || std::isnan(kiln_test::to_double(el(x, c)))) {
      v.insert(v.end(), c.begin(), c.end());
      ++n;
    }
  });
  return kiln::from_vector<int64_t>(v, {n, x.dim()});
}

}  // namespace

TEMPLATE_TEST_CASE("masked_fill broadcasts the mask, and x, like torch", "[ops][index][mask]",
                   float, double, int64_t) {
  using T = TestType;
  kiln::manual_seed(21);
  for (auto& [name, x] : kiln_test::layouts3<T>({4, 5, 6}, /*expanded=*/true)) {
    for (auto& [mname, mask] : masks()) {
      INFO(name << " x, mask " << mname);
      const Tensor<T> got = kiln::masked_fill(x, mask, T(-7));
      check_equal(got, ref_masked_fill(x, mask, T(-7)));
      if (name == "expanded") continue;
      Tensor<T> y = x.clone();
      const Tensor<T> view = name == "stepped" ? kiln::zeros<T>({4, 5, 12}).slice(2, 0, 12, 2) : y;
      view.copy_(x);
      const Tensor<T> r = kiln::masked_fill_(view, mask, T(3));
      CHECK(r.data() == view.data());
      check_equal(view, ref_masked_fill(x, mask, T(3)));
    }
  }
  // x broadcasts up to the mask's shape out of place.
  const Tensor<T> small = kiln_test::random_values<T>({5, 1});
  const TB big = kiln::randint<bool>(0, 2, {4, 5, 6});
  const Tensor<T> grown = kiln::masked_fill(small, big, T(1));
  CHECK(grown.shape() == Shape{4, 5, 6});
  check_equal(grown, ref_masked_fill(small, big, T(1)));
  // A bool expression as the mask; size-0 dims.
  const Tensor<T> v = kiln_test::random_values<T>({3, 7});
  check_equal(kiln::masked_fill(v, v < T(0), T(0)), ref_masked_fill(v, TB(v < T(0)), T(0)));
  CHECK(kiln::masked_fill(kiln::zeros<T>({0, 3}), kiln::ones<bool>({3}), T(1)).shape() ==
        Shape{0, 3});
}

TEST_CASE("masked_fill on bool, half and int8 tensors", "[ops][index][mask]") {
  kiln::manual_seed(22);
  const TB m = kiln::randint<bool>(0, 2, {3, 4});
  const auto run = [&](auto value) {
    using T = decltype(value);
    INFO(kiln::dtype_name_v<T>);
    const Tensor<T> x = kiln_test::random_values<T>({4, 3}).t();
    check_equal(kiln::masked_fill(x, m, value), ref_masked_fill(x, m, value));
  };
  run(true);
  run(kiln::half(2.5f));
  run(kiln::bfloat16(-1.0f));
  run(int8_t{-3});
}

TEMPLATE_TEST_CASE("masked_select and masked_scatter match a loop", "[ops][index][mask]", float,
                   int64_t) {
  using T = TestType;
  kiln::manual_seed(23);
  for (auto& [name, x] : kiln_test::layouts3<T>({4, 5, 6}, /*expanded=*/true)) {
    for (auto& [mname, mask] : masks()) {
      INFO(name << " x, mask " << mname);
      const Tensor<T> sel = kiln::masked_select(x, mask);
      CHECK(sel.dim() == 1);
      check_equal(sel, ref_masked_select(x, mask));
      // source: transposed, more elements than needed.
      const Tensor<T> source = kiln_test::random_values<T>({12, 11}).t();
      check_equal(kiln::masked_scatter(x, mask, source), ref_masked_scatter(x, mask, source));
      if (name == "expanded") continue;
      const Tensor<T> y = x.clone();
      kiln::masked_scatter_(y, mask, source);
      check_equal(y, ref_masked_scatter(x, mask, source));
    }
  }
  // x broadcast up to the mask's shape; mask broadcast up to x's.
  const Tensor<T> row = kiln_test::random_values<T>({6});
  const TB m = kiln::randint<bool>(0, 2, {3, 1, 6});
  check_equal(kiln::masked_select(row, m), ref_masked_select(row, m));
  const TB col = kiln::tensor<bool>({true, false, true}).view({3, 1});
  const Tensor<T> src = kiln_test::random_values<T>({20});
  check_equal(kiln::masked_scatter(row, col, src), ref_masked_scatter(row, col, src));
  // Size 0.
  CHECK(kiln::masked_select(kiln::zeros<T>({0, 4}), kiln::ones<bool>({4})).shape() == Shape{0});
  CHECK(kiln::masked_select(row, kiln::zeros<bool>({6})).shape() == Shape{0});
  check_equal(kiln::masked_scatter(row, kiln::zeros<bool>({6}), kiln::zeros<T>({0})), row);
}

TEST_CASE("masked_select, masked_scatter and nonzero over many blocks and threads",
          "[ops][index][mask]") {
  kiln::manual_seed(24);
  // 300 x 1001 elements: several fixed blocks, some of them with no selected element.
  Tensor<float> x = kiln::randn<float>({1001, 300}).t();
  x.slice(1, 0, 400).zero_();
  const TB mask = x > 0.5f;
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(1);
  const Tensor<float> s1 = kiln::masked_select(x, mask);
  const TI n1 = kiln::nonzero(x);
  kiln::set_num_threads(std::max(saved, 4));
  const Tensor<float> s4 = kiln::masked_select(x, mask);
  const TI n4 = kiln::nonzero(x);
  const Tensor<float> sc = kiln::masked_scatter(x, mask, kiln::arange<float>(300 * 1001));
  kiln::set_num_threads(saved);
  check_equal(s1, ref_masked_select(x, TB(mask)));
  check_equal(s4, s1);
  check_equal(n1, ref_nonzero(x));
  check_equal(n4, n1);
  check_equal(sc, ref_masked_scatter(x, mask, kiln::arange<float>(300 * 1001)));
}

TEST_CASE("nonzero and argwhere", "[ops][index][mask]") {
  const Tensor<float> x =
      kiln::tensor<float>({{0.0f, -0.0f, 1.0f}, {NAN, 0.0f, -2.0f}}).t();  // [3, 2]
  const TI nz = kiln::nonzero(x);
  check_equal(nz, kiln::tensor<int64_t>({{0, 1}, {2, 0}, {2, 1}}));
  check_equal(kiln::argwhere(x), nz);
  check_equal(kiln::nonzero(kiln::tensor<bool>({false, true, true})),
              kiln::tensor<int64_t>({{1}, {2}}));
  const Tensor<kiln::half> h =
      kiln::tensor<kiln::half>({kiln::half(0.0f), kiln::half(-0.0f), kiln::half(1e-7f)});
  check_equal(kiln::nonzero(h), kiln::tensor<int64_t>({{2}}));  // 1e-7 rounds to a subnormal
  const Tensor<int32_t> r = kiln_test::random_values<int32_t>({2, 3, 4}).permute({1, 2, 0});
  check_equal(kiln::nonzero(r), ref_nonzero(r));
  // 0-d: [1, 0] or [0, 0]; size-0 input: [0, ndim].
  CHECK(kiln::nonzero(kiln::scalar_tensor<float>(3)).shape() == Shape{1, 0});
  CHECK(kiln::nonzero(kiln::scalar_tensor<float>(0)).shape() == Shape{0, 0});
  CHECK(kiln::nonzero(kiln::zeros<double>({2, 0, 3})).shape() == Shape{0, 3});
  CHECK(kiln::nonzero(kiln::zeros<double>({4})).shape() == Shape{0, 1});
}

TEST_CASE("masked_select_backward is masked_select's adjoint", "[ops][index][mask]") {
  kiln::manual_seed(25);
  const Tensor<double> x = kiln::randn<double>({1, 5});  // broadcast along dim 0
  const TB mask = kiln::randint<bool>(0, 2, {4, 5});
  const Tensor<double> sel = kiln::masked_select(x, mask);
  const Tensor<double> g = kiln::randn<double>({sel.numel()});
  const Tensor<double> gx = kiln::masked_select_backward(g, mask, x.shape());
  REQUIRE(gx.shape() == x.shape());
  double lhs = 0, rhs = 0;
  for (int64_t i = 0; i < sel.numel(); ++i) lhs += sel(i) * g(i);
  for (int64_t j = 0; j < 5; ++j) rhs += x(0, j) * gx(0, j);
  CHECK(lhs == Approx(rhs).epsilon(1e-12).margin(1e-12));
  CHECK_THROWS_AS(kiln::masked_select_backward(g.view({1, -1}), mask, x.shape()), kiln::ShapeError);
}

TEMPLATE_TEST_CASE("where broadcasts condition and both operands", "[ops][index][mask][where]",
                   float, int64_t) {
  using T = TestType;
  kiln::manual_seed(26);
  // cond [3, 1, 1], a [1, 4, 1] (stepped), b [5] (a 0-d number too), all to [3, 4, 5].
  const TB c = kiln::randint<bool>(0, 2, {3, 1, 1});
  const Tensor<T> a = kiln_test::random_values<T>({1, 8, 1}).slice(1, 0, 8, 2);
  const Tensor<T> b = kiln_test::random_values<T>({5});
  const Tensor<T> out = kiln::where(c, a, b);
  REQUIRE(out.shape() == Shape{3, 4, 5});
  for_each_coord(out.shape(), [&](const Coord& k) {
    CHECK(el(out, k) == (c(k[0], 0, 0) ? a(0, k[1], 0) : b(k[2])));
  });
  // Every operand broadcast along some dim, a transposed condition, a 0-d operand.
  const TB ct = kiln::randint<bool>(0, 2, {5, 4}).t();  // [4, 5]
  const Tensor<T> a3 = kiln_test::random_values<T>({3, 1, 1});
  const Tensor<T> zero_d = kiln::scalar_tensor<T>(T(9));
  const Tensor<T> o2 = kiln::where(ct, a3, zero_d);
  REQUIRE(o2.shape() == Shape{3, 4, 5});
  for_each_coord(o2.shape(), [&](const Coord& k) {
    CHECK(el(o2, k) == (ct(k[1], k[2]) ? a3(k[0], 0, 0) : T(9)));
  });
  // Size-0 dims broadcast like any other.
  CHECK(Tensor<T>(kiln::where(kiln::zeros<bool>({0, 1}), a3, b)).shape() == Shape{3, 0, 5});
  // Mismatched shapes name where and the shapes.
  const auto msg =
      thrown_message<kiln::ShapeError>([&] { (void)kiln::where(ct, a3, kiln::zeros<T>({4})); });
  CHECK_THAT(msg, Contains("[where]") && Contains("[3, 4, 5]") && Contains("[4]"));
}

TEST_CASE("mask ops reject masks of the wrong shape", "[ops][index][mask][errors]") {
  const Tensor<float> x = kiln::zeros<float>({4, 5});
  auto msg =
      thrown_message<kiln::ShapeError>([&] { kiln::masked_fill(x, kiln::ones<bool>({4}), 1.0f); });
  CHECK_THAT(msg, Contains("[masked_fill]") && Contains("[4, 5]") && Contains("[4]"));
  // In place the mask may not grow x.
  msg = thrown_message<kiln::ShapeError>([&] {
    kiln::masked_fill_(kiln::zeros<float>({5}), kiln::ones<bool>({4, 5}), 1.0f);
  });
  CHECK_THAT(msg, Contains("[masked_fill_]") && Contains("[4, 5]") && Contains("[5]"));
  msg = thrown_message<kiln::ShapeError>([&] { kiln::masked_select(x, kiln::ones<bool>({2, 5})); });
  CHECK_THAT(msg, Contains("[masked_select]") && Contains("[4, 5]") && Contains("[2, 5]"));
  msg = thrown_message<kiln::ShapeError>(
      [&] { kiln::masked_scatter(x, kiln::ones<bool>({3}), kiln::zeros<float>({20})); });
  CHECK_THAT(msg, Contains("[masked_scatter]") && Contains("[3]"));
  msg = thrown_message<kiln::ShapeError>([&] {
    kiln::masked_scatter_(kiln::zeros<float>({5}), kiln::ones<bool>({2, 5}), x);
  });
  CHECK_THAT(msg, Contains("[masked_scatter_]") && Contains("[2, 5]") && Contains("[5]"));
  // Too few source elements: nothing is written.
  const Tensor<float> y = kiln::zeros<float>({4, 5});
  msg = thrown_message<kiln::ShapeError>([&] {
    kiln::masked_scatter_(y, kiln::ones<bool>({5}), kiln::ones<float>({3, 6}));
  });
  CHECK_THAT(msg, Contains("[masked_scatter_]") && Contains("20") && Contains("18"));
  check_equal(y, kiln::zeros<float>({4, 5}));
  // Writing through an expanded view.
  msg = thrown_message<kiln::ValueError>([&] {
    kiln::masked_fill_(kiln::zeros<float>({5}).expand({4, 5}), kiln::ones<bool>({5}), 1.0f);
  });
  CHECK_THAT(msg, Contains("[masked_fill_]") && Contains("single memory location"));
  CHECK_THROWS_AS(kiln::masked_scatter_(kiln::zeros<float>({5}).expand({4, 5}),
                                        kiln::ones<bool>({5}), kiln::zeros<float>({20})),
                  kiln::ValueError);
  msg = thrown_message<kiln::ValueError>([&] { kiln::nonzero(Tensor<float>()); });
  CHECK_THAT(msg, Contains("[nonzero]") && Contains("undefined"));
}
