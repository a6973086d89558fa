// SPDX-License-Identifier: BSD-3-Clause
// cat, stack, split, split_with_sizes, chunk, unbind against index arithmetic on plain
// arrays, over layouts, dims, dtypes and empty dims; views share storage; every error.
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <vector>

#include "kiln/kiln.hpp"
#include "shape_ref.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::thrown_message;
using shape_ref::Array;
using shape_ref::Index;

namespace {

// Reference cat of arrays along d (legacy [0] inputs skipped by the caller).
template <class T>
Array<T> ref_cat(const std::vector<Array<T>>& in, int d) {
  Shape s = in[0].shape;
  s[d] = 0;
  for (const auto& a : in) s[d] += a.shape[d];
  return shape_ref::build<T>(s, [&](const Index& i) {
    Index j = i;
    for (const auto& a : in) {
      if (j[static_cast<std::size_t>(d)] < a.shape[d]) return a(j);
      j[static_cast<std::size_t>(d)] -= a.shape[d];
    }
    FAIL("index past the end");
    return T{};
  });
}

template <class T>
void check_pieces(const std::vector<Tensor<T>>& pieces, const Tensor<T>& x, int d,
                  const std::vector<int64_t>& lengths) {
  REQUIRE(pieces.size() == lengths.size());
  const Array<T> a = shape_ref::to_array(x);
  int64_t start = 0;
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    INFO("piece " << k);
    Shape s = x.shape();
    s[d] = lengths[k];
    shape_ref::check_equal(pieces[k], shape_ref::build<T>(s, [&](const Index& i) {
                             Index j = i;
                             j[static_cast<std::size_t>(d)] += start;
                             return a(j);
                           }));
    if (pieces[k].numel() > 0) CHECK(pieces[k].is_alias_of(x));
    start += lengths[k];
  }
}

}  // namespace

TEMPLATE_TEST_CASE("cat matches a reference on every layout and dim", "[ops][shapeops][cat]", float,
                   int64_t, bool) {
  using T = TestType;
  const Shape base{3, 4, 2};
  for (int d = -1; d < 3; ++d) {
    const int w = d < 0 ? d + 3 : d;
    std::vector<Tensor<T>> ins;
    std::vector<Array<T>> refs;
    int k = 0;
    for (int64_t len : {2, 0, 3, 1}) {
      Shape s = base;
      s[w] = len;
      auto ls = shape_ref::layouts<T>(s, k);
      ins.push_back(ls[static_cast<std::size_t>(k) % ls.size()].second);
      refs.push_back(shape_ref::to_array(ins.back()));
      ++k;
    }
    INFO("dim " << d);
    const Tensor<T> out = kiln::cat(ins, d);
    CHECK(out.is_contiguous());
    shape_ref::check_equal(out, ref_cat(refs, w));
  }
}

TEST_CASE("cat of large inputs takes the threaded strided path", "[ops][shapeops][cat]") {
  const Tensor<float> a = shape_ref::sample<float>({300, 200}, 1);
  const Tensor<float> b = shape_ref::sample<float>({150, 300}, 2).t();  // [300, 150] strided
  const Tensor<float> out = kiln::cat({a, b}, 1);
  shape_ref::check_equal(out, ref_cat<float>({shape_ref::to_array(a), shape_ref::to_array(b)}, 1));
  const Tensor<float> rows = kiln::cat({a, a}, 0);
  shape_ref::check_equal(rows, ref_cat<float>({shape_ref::to_array(a), shape_ref::to_array(a)}, 0));
}

TEST_CASE("cat skips legacy empty [0] tensors and takes an initializer list",
          "[ops][shapeops][cat]") {
  const auto a = shape_ref::sample<double>({2, 3}, 0), b = shape_ref::sample<double>({2, 1}, 5);
  const Tensor<double> e(Shape{0});
  const Tensor<double> out = kiln::cat({e, a, e, b}, 1);
  shape_ref::check_equal(out, ref_cat<double>({shape_ref::to_array(a), shape_ref::to_array(b)}, 1));
  // Only legacy empties: [0], whatever dim says (as torch).
  CHECK(kiln::cat({e, e}, 0).shape() == Shape{0});
  // A single input is copied, not aliased.
  const Tensor<double> one = kiln::cat(std::vector<Tensor<double>>{a}, 0);
  CHECK_FALSE(one.is_alias_of(a));
  shape_ref::check_equal(one, shape_ref::to_array(a));
  // half instantiates too.
  const Tensor<kiln::half> h = a.to<kiln::half>();
  shape_ref::check_equal(kiln::cat({h, h}, 0),
                         ref_cat<kiln::half>({shape_ref::to_array(h), shape_ref::to_array(h)}, 0));
}

TEST_CASE("cat errors", "[ops][shapeops][cat]") {
  const Tensor<float> a(Shape{2, 3}), b(Shape{2, 4}), c(Shape{2, 3, 1}), s(Shape{});
  CHECK_THAT(thrown_message<kiln::ValueError>([] { kiln::cat(std::vector<Tensor<float>>{}); }),
             Contains("[cat]") && Contains("non-empty"));
  auto m = thrown_message<kiln::ShapeError>([&] { kiln::cat({a, b}, 0); });
  CHECK_THAT(m, Contains("[cat]") && Contains("[2, 3]") && Contains("[2, 4]") &&
                    Contains("except in dimension 0"));
  m = thrown_message<kiln::ShapeError>([&] { kiln::cat({a, c}, 1); });
  CHECK_THAT(m,
             Contains("[cat]") && Contains("[2, 3]") && Contains("[2, 3, 1]") && Contains("dim 1"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::cat({a, s}, 0);
             }),
             Contains("[cat]") && Contains("zero-dimensional") && Contains("position 1"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] {
               kiln::cat({a, a}, 2);
             }),
             Contains("[cat]") && Contains("out of range"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { kiln::cat({a, a}, -3); }), Contains("[cat]"));
  CHECK_NOTHROW(kiln::cat({a, b}, -1));
}

TEMPLATE_TEST_CASE("stack matches a reference on every layout and dim", "[ops][shapeops][stack]",
                   float, int64_t, bool) {
  using T = TestType;
  for (const Shape& s : {Shape{3, 2}, Shape{0, 2}, Shape{4}}) {
    auto ls = shape_ref::layouts<T>(s, 3);
    std::vector<Tensor<T>> ins;
    std::vector<Array<T>> refs;
    for (auto& [name, t] : ls) {
      ins.push_back(t);
      refs.push_back(shape_ref::to_array(t));
    }
    const int r = s.size();
    for (int d = -(r + 1); d <= r; ++d) {
      const int w = d < 0 ? d + r + 1 : d;
      INFO("shape " << s << ", dim " << d);
      Shape os = s;
      os.insert(w, static_cast<int64_t>(ins.size()));
      const Tensor<T> out = kiln::stack(ins, d);
      shape_ref::check_equal(out, shape_ref::build<T>(os, [&](const Index& i) {
                               Index j = i;
                               const int64_t which = j[static_cast<std::size_t>(w)];
                               j.erase(j.begin() + w);
                               return refs[static_cast<std::size_t>(which)](j);
                             }));
    }
  }
  // stack of 0-d tensors is 1-D.
  const Tensor<T> z0 = kiln::full<T>(Shape{}, T(1)), z1 = kiln::full<T>(Shape{}, T(0));
  shape_ref::check_equal(kiln::stack({z0, z1}),
                         shape_ref::build<T>(Shape{2}, [](const Index& i) { return i[0] == 0; }));
}

TEST_CASE("stack errors", "[ops][shapeops][stack]") {
  const Tensor<float> a(Shape{2, 3}), b(Shape{3, 2});
  CHECK_THAT(thrown_message<kiln::ValueError>([] { kiln::stack(std::vector<Tensor<float>>{}); }),
             Contains("[stack]") && Contains("non-empty"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::stack({a, a, b}, 1);
             }),
             Contains("[stack]") && Contains("[2, 3]") && Contains("[3, 2]") &&
                 Contains("entry 2") && Contains("dim 1"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] {
               kiln::stack({a, a}, 3);
             }),
             Contains("[stack]"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] {
               kiln::stack({a, a}, -4);
             }),
             Contains("[stack]"));
}

TEMPLATE_TEST_CASE("split, split_with_sizes and chunk return views of the right pieces",
                   "[ops][shapeops][split]", float, int64_t, bool) {
  using T = TestType;
  for (auto& [name, x] : shape_ref::layouts<T>({7, 5})) {
    INFO(name);
    check_pieces(kiln::split(x, 3), x, 0, {3, 3, 1});
    check_pieces(kiln::split(x, 2, 1), x, 1, {2, 2, 1});
    check_pieces(kiln::split(x, 5, -1), x, 1, {5});
    check_pieces(kiln::split(x, 100, 0), x, 0, {7});
    check_pieces(kiln::split(x, std::vector<int64_t>{1, 0, 6}, 0), x, 0, {1, 0, 6});
    check_pieces(kiln::split_with_sizes(x, {5}, 1), x, 1, {5});
    check_pieces(kiln::chunk(x, 3, 0), x, 0, {3, 3, 1});
    check_pieces(kiln::chunk(x, 4, 0), x, 0, {2, 2, 2, 1});
    check_pieces(kiln::chunk(x, 4, 1), x, 1, {2, 2, 1});  // fewer pieces than asked, as torch
    check_pieces(kiln::chunk(x, 9, 1), x, 1, {1, 1, 1, 1, 1});
    // Huge counts and sizes: no overflow in the rounding up, no wrap-around in the sum.
    constexpr int64_t big = std::numeric_limits<int64_t>::max();
    check_pieces(kiln::chunk(x, big, 1), x, 1, {1, 1, 1, 1, 1});
    check_pieces(kiln::split(x, big, 0), x, 0, {7});
    CHECK_THROWS_AS(kiln::split_with_sizes(x, {big, big, 9}, 0), kiln::ValueError);
  }
  // Empty dims: split gives one empty piece, chunk gives `chunks` of them.
  const Tensor<T> e = shape_ref::sample<T>({0, 3});
  check_pieces(kiln::split(e, 2, 0), e, 0, {0});
  check_pieces(kiln::split(e, 0, 0), e, 0, {0});
  check_pieces(kiln::chunk(e, 3, 0), e, 0, {0, 0, 0});
  check_pieces(kiln::split_with_sizes(e, {0, 0}, 0), e, 0, {0, 0});
}

TEST_CASE("split pieces share storage with the input", "[ops][shapeops][split]") {
  Tensor<float> x = shape_ref::sample<float>({4, 6});
  auto pieces = kiln::split(x, 4, 1);
  pieces[1].fill_(42.0f);  // columns 4 and 5
  CHECK(x(0, 4) == 42.0f);
  CHECK(x(3, 5) == 42.0f);
  CHECK(x(3, 3) != 42.0f);
  auto ch = kiln::chunk(x, 2, 0);
  ch[1](0, 0) = -1.0f;
  CHECK(x(2, 0) == -1.0f);
}

TEST_CASE("unbind gives views of every index", "[ops][shapeops][split]") {
  const Tensor<int64_t> x = shape_ref::sample<int64_t>({3, 4});
  auto rows = kiln::unbind(x, 1);
  REQUIRE(rows.size() == 4);
  for (int64_t j = 0; j < 4; ++j) {
    CHECK(rows[static_cast<std::size_t>(j)].shape() == Shape{3});
    CHECK(rows[static_cast<std::size_t>(j)].is_alias_of(x));
    for (int64_t i = 0; i < 3; ++i) CHECK(rows[static_cast<std::size_t>(j)](i) == x(i, j));
  }
  shape_ref::check_equal(kiln::stack(rows, 1), shape_ref::to_array(x));
}

TEST_CASE("split and chunk errors", "[ops][shapeops][split]") {
  const Tensor<float> x(Shape{4, 6}), s(Shape{});
  CHECK_THAT(thrown_message<kiln::ValueError>([&] { kiln::split(x, 0, 1); }),
             Contains("[split]") && Contains("split_size") && Contains("[4, 6]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] { kiln::split(x, -2, 1); }),
             Contains("[split]") && Contains("-2"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::split(x, std::vector<int64_t>{2, 3}, 1);
             }),
             Contains("[split_with_sizes]") && Contains("[2, 3]") && Contains("sum to 5") &&
                 Contains("size 6"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::split_with_sizes(x, {7, -1}, 1);
             }),
             Contains("[split_with_sizes]") && Contains("non-negative"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] { kiln::chunk(x, 0, 1); }),
             Contains("[chunk]") && Contains("greater than 0") && Contains("got 0"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] { kiln::chunk(x, -3, 1); }), Contains("[chunk]"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { kiln::split(x, 2, 2); }), Contains("[split]"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { kiln::chunk(x, 2, -3); }), Contains("[chunk]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { kiln::split(s, 1); }),
             Contains("[split]") && Contains("at least one dimension"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { kiln::chunk(s, 1); }), Contains("[chunk]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { kiln::unbind(s); }), Contains("[unbind]"));
}
