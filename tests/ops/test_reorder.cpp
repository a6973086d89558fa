// SPDX-License-Identifier: BSD-3-Clause
// flip, roll, repeat, tile and repeat_backward against index arithmetic on plain arrays,
// over layouts, dtypes and empty/size-1 dims; every error.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "kiln/kiln.hpp"
#include "shape_ref.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Dims;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::thrown_message;
using shape_ref::Array;
using shape_ref::Index;

namespace {

std::size_t u(int64_t i) { return static_cast<std::size_t>(i); }

template <class T>
Array<T> ref_flip(const Array<T>& a, const std::vector<int>& dims) {
  return shape_ref::build<T>(a.shape, [&](const Index& i) {
    Index j = i;
    for (int d : dims) j[u(d)] = a.shape[d] - 1 - i[u(d)];
    return a(j);
  });
}

// out[i] = a[i - shift] along each dim (mod size), applied for each (shift, dim) in turn.
template <class T>
Array<T> ref_roll(const Array<T>& a, const std::vector<std::pair<int64_t, int>>& sd) {
  Array<T> cur = a;
  for (auto [shift, d] : sd) {
    const int64_t n = cur.shape[d];
    cur = shape_ref::build<T>(cur.shape, [&](const Index& i) {
      Index j = i;
      j[u(d)] = (((i[u(d)] - shift) % n) + n) % n;
      return cur(j);
    });
  }
  return cur;
}

template <class T>
Array<T> ref_repeat(const Array<T>& a, const std::vector<int64_t>& reps) {
  const int extra = static_cast<int>(reps.size()) - a.shape.size();
  Shape s;
  for (std::size_t d = 0; d < reps.size(); ++d) {
    const int ad = static_cast<int>(d) - extra;
    s.push_back((ad >= 0 ? a.shape[ad] : 1) * reps[d]);
  }
  return shape_ref::build<T>(s, [&](const Index& i) {
    Index j;
    for (int ad = 0; ad < a.shape.size(); ++ad) j.push_back(i[u(ad + extra)] % a.shape[ad]);
    return a(j);
  });
}

}  // namespace

TEMPLATE_TEST_CASE("flip matches a reference", "[ops][shapeops][flip]", float, int64_t, bool) {
  using T = TestType;
  for (const Shape& s : {Shape{3, 4, 5}, Shape{1, 4, 0}, Shape{2, 1, 3}}) {
    for (auto& [name, x] : shape_ref::layouts<T>(s)) {
      const Array<T> a = shape_ref::to_array(x);
      INFO(name << " " << s);
      shape_ref::check_equal(kiln::flip(x, {0}), ref_flip(a, {0}));
      shape_ref::check_equal(kiln::flip(x, {-1}), ref_flip(a, {2}));
      shape_ref::check_equal(kiln::flip(x, {2, 0}), ref_flip(a, {0, 2}));
      shape_ref::check_equal(kiln::flip(x, {0, 1, 2}), ref_flip(a, {0, 1, 2}));
      const Tensor<T> same = kiln::flip(x, {});
      CHECK_FALSE(same.is_alias_of(x));
      CHECK(same.is_contiguous());
      shape_ref::check_equal(same, a);
    }
  }
  const Tensor<T> z = kiln::full<T>(Shape{}, T(1));
  shape_ref::check_equal(kiln::flip(z, {0}), shape_ref::to_array(z));
}

TEST_CASE("flip of a large tensor (threaded, negative strides) and its self-inverse",
          "[ops][shapeops][flip]") {
  const Tensor<double> x = shape_ref::sample<double>({200, 300});
  const Tensor<double> f = kiln::flip(x, {1});
  shape_ref::check_equal(f, ref_flip(shape_ref::to_array(x), {1}));
  // flip's backward is flip: applying it twice gives the input back.
  shape_ref::check_equal(kiln::flip(f, {1}), shape_ref::to_array(x));
}

TEMPLATE_TEST_CASE("roll matches a reference", "[ops][shapeops][roll]", float, int64_t, bool) {
  using T = TestType;
  for (const Shape& s : {Shape{3, 4, 5}, Shape{2, 0, 3}, Shape{1, 6, 1}}) {
    for (auto& [name, x] : shape_ref::layouts<T>(s)) {
      const Array<T> a = shape_ref::to_array(x);
      INFO(name << " " << s);
      shape_ref::check_equal(kiln::roll(x, 1, 0), ref_roll(a, {{1, 0}}));
      shape_ref::check_equal(kiln::roll(x, -2, -1), ref_roll(a, {{-2, 2}}));
      shape_ref::check_equal(kiln::roll(x, 13, 1), ref_roll(a, {{13, 1}}));
      shape_ref::check_equal(kiln::roll(x, {2, -1, 7}, {0, 1, 2}),
                             ref_roll(a, {{2, 0}, {-1, 1}, {7, 2}}));
      // A repeated dim rolls twice, as torch.
      shape_ref::check_equal(kiln::roll(x, {1, 2}, {1, 1}), ref_roll(a, {{3, 1}}));
      // Without dims: the flattened tensor is rolled.
      const Array<T> flat{Shape{x.numel()}, a.v};
      Array<T> want = ref_roll(flat, {{x.numel() == 0 ? 0 : 5, 0}});
      want.shape = s;
      shape_ref::check_equal(kiln::roll(x, 5), want);
    }
  }
  const Tensor<T> z = kiln::full<T>(Shape{}, T(1));
  shape_ref::check_equal(kiln::roll(z, 3, 0), shape_ref::to_array(z));
  shape_ref::check_equal(kiln::roll(z, -1), shape_ref::to_array(z));
}

TEST_CASE("roll by the negated shifts undoes roll (its backward)", "[ops][shapeops][roll]") {
  const Tensor<float> x = shape_ref::sample<float>({300, 130});
  const Tensor<float> r = kiln::roll(x, {17, -40}, {0, 1});
  shape_ref::check_equal(r, ref_roll(shape_ref::to_array(x), {{17, 0}, {-40, 1}}));
  shape_ref::check_equal(kiln::roll(r, {-17, 40}, {0, 1}), shape_ref::to_array(x));
}

TEMPLATE_TEST_CASE("repeat and tile match a reference", "[ops][shapeops][repeat]", float, int64_t,
                   bool) {
  using T = TestType;
  for (const Shape& s : {Shape{2, 3}, Shape{1, 4}, Shape{3, 0}}) {
    for (auto& [name, x] : shape_ref::layouts<T>(s)) {
      const Array<T> a = shape_ref::to_array(x);
      INFO(name << " " << s);
      for (const std::vector<int64_t>& r : std::vector<std::vector<int64_t>>{
               {1, 1}, {2, 3}, {3, 1}, {1, 2}, {0, 2}, {2, 1, 3}, {2, 2, 2, 2}}) {
        INFO("repeats " << Dims(r));
        const Tensor<T> got = kiln::repeat(x, Dims(r));
        CHECK(got.is_contiguous());
        shape_ref::check_equal(got, ref_repeat(a, r));
      }
      // tile pads short reps with leading ones.
      shape_ref::check_equal(kiln::tile(x, {3}), ref_repeat(a, {1, 3}));
      shape_ref::check_equal(kiln::tile(x, {2, 1, 2}), ref_repeat(a, {2, 1, 2}));
    }
  }
  const Tensor<T> z = kiln::full<T>(Shape{}, T(1));
  shape_ref::check_equal(kiln::repeat(z, {}), shape_ref::to_array(z));
  shape_ref::check_equal(kiln::repeat(z, {3, 2}), ref_repeat(shape_ref::to_array(z), {3, 2}));
}

TEST_CASE("repeat beyond kMaxDims interleaved dims loops over repeats", "[ops][shapeops][repeat]") {
  // Five dims all repeated and of size > 1: the [r, s] view would need 10 dims.
  const Tensor<int64_t> x = shape_ref::sample<int64_t>({2, 3, 2, 2, 3}).permute({4, 3, 2, 1, 0});
  const std::vector<int64_t> r{2, 2, 3, 2, 2};
  shape_ref::check_equal(kiln::repeat(x, Dims(r)), ref_repeat(shape_ref::to_array(x), r));
  const std::vector<int64_t> r8{2, 2, 2, 2, 2, 1, 1, 2};
  const Tensor<int64_t> y = shape_ref::sample<int64_t>({2, 2, 2, 2, 2, 3, 2});
  shape_ref::check_equal(kiln::repeat(y, Dims(r8)), ref_repeat(shape_ref::to_array(y), r8));
}

TEST_CASE("repeat of a large tensor", "[ops][shapeops][repeat]") {
  const Tensor<float> x = shape_ref::sample<float>({100, 70}).t();
  const std::vector<int64_t> r{3, 4};
  shape_ref::check_equal(kiln::repeat(x, Dims(r)), ref_repeat(shape_ref::to_array(x), r));
}

TEMPLATE_TEST_CASE("repeat_backward sums the gradient over the repeats", "[ops][shapeops][repeat]",
                   float, double) {
  using T = TestType;
  struct Case {
    Shape in;
    std::vector<int64_t> reps;
  };
  for (const Case& c : {Case{{2, 3}, {2, 2}}, Case{{2, 3}, {1, 1}}, Case{{1, 3}, {4, 1}},
                        Case{{3}, {2, 2, 3}}, Case{{2, 0}, {2, 3}}, Case{{2, 3}, {0, 2}},
                        Case{{2, 3, 2, 2, 3}, {2, 2, 3, 2, 2}}, Case{{}, {3, 2}},
                        // more copies than kRepeatAddLimit: summed by the reduction
                        Case{{2, 3}, {5, 4}}, Case{{1, 2}, {20, 1}}, Case{{3, 1}, {2, 9, 3}}}) {
    INFO("input " << c.in << ", repeats " << Dims(c.reps));
    Shape os;
    const int extra = static_cast<int>(c.reps.size()) - c.in.size();
    for (std::size_t d = 0; d < c.reps.size(); ++d) {
      const int ad = static_cast<int>(d) - extra;
      os.push_back((ad >= 0 ? c.in[ad] : 1) * c.reps[d]);
    }
    // A strided gradient.
    Shape big = os;
    big[big.size() - 1] *= 2;
    Tensor<T> g = shape_ref::sample<T>(big).slice(-1, 0, big.back(), 2);
    if (os.back() == 0) g = shape_ref::sample<T>(os);
    REQUIRE(g.shape() == os);
    const Array<T> ga = shape_ref::to_array(g);
    // Reference: every output element adds into the input element it copied.
    Array<T> want = shape_ref::build<T>(c.in, [](const Index&) { return 0; });
    shape_ref::for_each_index(os, [&](const Index& i) {
      int64_t flat = 0;
      for (int ad = 0; ad < c.in.size(); ++ad) flat = flat * c.in[ad] + i[u(ad + extra)] % c.in[ad];
      want.v[u(flat)] += ga(i);
    });
    const Tensor<T> got = kiln::repeat_backward(g, c.in, Dims(c.reps));
    REQUIRE(got.shape() == c.in);
    const Array<T> ga2 = shape_ref::to_array(got);
    for (std::size_t k = 0; k < want.v.size(); ++k)
      CHECK(static_cast<double>(ga2.v[k]) == Approx(static_cast<double>(want.v[k])));
  }
}

TEST_CASE("flip, roll, repeat and tile errors", "[ops][shapeops][flip][roll][repeat]") {
  const Tensor<float> x(Shape{2, 3});
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::flip(x, {0, -2});
             }),
             Contains("[flip]") && Contains("multiple times"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { kiln::flip(x, {2}); }), Contains("[flip]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::roll(x, {1, 2}, {0});
             }),
             Contains("[roll]") && Contains("align") && Contains("[1, 2]") && Contains("[2, 3]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::roll(x, {1, 2}, {});
             }),
             Contains("[roll]") && Contains("one entry"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { kiln::roll(x, 1, 2); }), Contains("[roll]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { kiln::repeat(x, {2}); }),
             Contains("[repeat]") && Contains("[2]") && Contains("[2, 3]") &&
                 Contains("smaller than the number of dimensions"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::repeat(x, {2, -1});
             }),
             Contains("[repeat]") && Contains("non-negative") && Contains("[2, -1]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] { kiln::tile(x, {-1}); }), Contains("[repeat]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::repeat(x, {1, 1, 1, 1, 1, 1, 1, 1, 1});
             }),
             Contains("at most 8"));
  const Tensor<float> g(Shape{4, 3});
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::repeat_backward(g, Shape{2, 3}, Dims{2, 2});
             }),
             Contains("[repeat_backward]") && Contains("[4, 3]") && Contains("[4, 6]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::repeat_backward(g, Shape{2, 3}, Dims{2});
             }),
             Contains("[repeat_backward]") && Contains("smaller"));
}
