// SPDX-License-Identifier: BSD-3-Clause
// Shape/Strides (Dims) and the shape helpers: numel, contiguous strides and layout,
// wrap_dim, broadcasting.
#include <catch2/catch.hpp>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/core/shape.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Dims;
using kiln::Shape;
using kiln::Strides;

namespace {

using kiln_test::thrown_message;

}  // namespace

TEST_CASE("Dims holds up to 8 extents inline", "[core][shape]") {
  Dims d{2, 3, 4};
  CHECK(d.size() == 3);
  CHECK(!d.empty());
  CHECK(d[0] == 2);
  CHECK(d.back() == 4);
  CHECK(std::vector<int64_t>(d.begin(), d.end()) == std::vector<int64_t>{2, 3, 4});
  d.push_back(5);
  d.insert(0, 1);
  d.insert(3, 7);
  CHECK(d == Dims{1, 2, 3, 7, 4, 5});
  d.erase(3);
  d.erase(0);
  CHECK(d == Dims{2, 3, 4, 5});
  CHECK(d != Dims{2, 3, 4});
  CHECK(Dims(3, 9) == Dims{9, 9, 9});
  CHECK(Dims().empty());
  const std::vector<int64_t> v{6, 7};
  CHECK(Dims(std::span<const int64_t>(v)) == Dims{6, 7});
  STATIC_REQUIRE(std::is_trivially_copyable_v<Dims>);

  std::ostringstream os;
  os << Dims{2, 3} << Dims{} << Dims{5};
  CHECK(os.str() == "[2, 3][][5]");
  CHECK(Dims{-1, 4}.str() == "[-1, 4]");
}

TEST_CASE("more than 8 dims is a ShapeError", "[core][shape]") {
  CHECK_THAT(thrown_message<kiln::ShapeError>([] { Dims d{1, 1, 1, 1, 1, 1, 1, 1, 1}; }),
             Contains("at most 8 dimensions") && Contains("got 9"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([] { Dims d(10); }), Contains("got 10"));
  Dims full(8, 1);
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { full.push_back(1); }), Contains("got 9"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { full.insert(0, 1); }), Contains("got 9"));
  CHECK(full.size() == 8);
}

TEST_CASE("numel_of and contiguous_strides", "[core][shape]") {
  CHECK(kiln::numel_of(Shape{}) == 1);
  CHECK(kiln::numel_of(Shape{2, 3, 4}) == 24);
  CHECK(kiln::numel_of(Shape{2, 0, 4}) == 0);
  CHECK(kiln::contiguous_strides(Shape{2, 3, 4}) == Strides{12, 4, 1});
  CHECK(kiln::contiguous_strides(Shape{}) == Strides{});
  CHECK(kiln::contiguous_strides(Shape{5}) == Strides{1});
  // A 0 extent counts as 1 so that strides stay positive.
  CHECK(kiln::contiguous_strides(Shape{2, 0, 3}) == Strides{3, 3, 1});
}

TEST_CASE("is_contiguous_layout", "[core][shape]") {
  CHECK(kiln::is_contiguous_layout(Shape{2, 3}, Strides{3, 1}));
  CHECK(!kiln::is_contiguous_layout(Shape{2, 3}, Strides{1, 2}));
  CHECK(!kiln::is_contiguous_layout(Shape{2, 3}, Strides{6, 2}));
  CHECK(kiln::is_contiguous_layout(Shape{2, 1, 3}, Strides{3, 99, 1}));  // size-1 dims: any stride
  CHECK(kiln::is_contiguous_layout(Shape{3, 0}, Strides{7, 5}));         // empty
  CHECK(kiln::is_contiguous_layout(Shape{}, Strides{}));
  CHECK(!kiln::is_contiguous_layout(Shape{4}, Strides{0}));
}

// torch: a tensor without elements is contiguous whatever its strides. is_contiguous_layout
// returns false when a dim after the 0 has an unusual stride, e.g. arange(12).view({3, 4}).t()
// .slice(0, 0, 0): shape [0, 3], strides [1, 4].
TEST_CASE("is_contiguous_layout of an empty shape with any strides", "[core][shape]") {
  CHECK(kiln::is_contiguous_layout(Shape{0, 3}, Strides{1, 4}));
  CHECK(kiln::is_contiguous_layout(Shape{2, 0, 3}, Strides{0, 0, 7}));
}

TEST_CASE("wrap_dim accepts [-n, n) and names the op otherwise", "[core][shape]") {
  CHECK(kiln::wrap_dim(0, 3, "op") == 0);
  CHECK(kiln::wrap_dim(2, 3, "op") == 2);
  CHECK(kiln::wrap_dim(-1, 3, "op") == 2);
  CHECK(kiln::wrap_dim(-3, 3, "op") == 0);
  // A 0-d tensor accepts 0 and -1, like torch.
  CHECK(kiln::wrap_dim(0, 0, "op") == 0);
  CHECK(kiln::wrap_dim(-1, 0, "op") == 0);
  CHECK_THAT(thrown_message<kiln::IndexError>([] { kiln::wrap_dim(3, 3, "sum"); }),
             Contains("[sum]") && Contains("[-3, 2]") && Contains("got 3"));
  CHECK_THAT(thrown_message<kiln::IndexError>([] { kiln::wrap_dim(-4, 3, "mean"); }),
             Contains("[mean]") && Contains("got -4"));
}

TEST_CASE("broadcast_shapes follows NumPy's rules", "[core][shape]") {
  CHECK(kiln::broadcast_shapes({2, 1, 4}, {3, 1}, "add") == Shape{2, 3, 4});
  CHECK(kiln::broadcast_shapes({}, {5}, "add") == Shape{5});
  CHECK(kiln::broadcast_shapes({0, 1}, {1, 3}, "add") == Shape{0, 3});
  CHECK(kiln::broadcast_shapes({4}, {4}, "add") == Shape{4});
  CHECK_THAT(thrown_message<kiln::ShapeError>([] {
               (void)kiln::broadcast_shapes({2, 3}, {4, 3}, "mul");
             }),
             Contains("[mul]") && Contains("[2, 3]") && Contains("[4, 3]") && Contains("2 vs 4"));

  CHECK(kiln::broadcasts_to({3, 1}, {2, 3, 4}));
  CHECK(kiln::broadcasts_to({}, {2}));
  CHECK(!kiln::broadcasts_to({2, 3, 4}, {3, 4}));
  CHECK(!kiln::broadcasts_to({3}, {3, 4}));

  CHECK(kiln::broadcast_strides({3, 1}, {1, 1}, {2, 3, 4}) == Strides{0, 1, 0});
  CHECK(kiln::broadcast_strides({4}, {2}, {3, 4}) == Strides{0, 2});
}
