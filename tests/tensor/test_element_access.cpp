// SPDX-License-Identifier: BSD-3-Clause
// Element access: operator(), at(), item(), data(), size()/stride() — values, negative
// indices, bounds and the errors they raise.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "kiln/kiln.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Shape;
using kiln::Tensor;

namespace {

using kiln_test::thrown_message;

Tensor<int64_t> iota(const Shape& shape) {
  Tensor<int64_t> t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = i;
  return t;
}

}  // namespace

TEST_CASE("operator() reads and writes elements, negative indices count from the end",
          "[tensor][access]") {
  const auto a = iota({2, 3, 4});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) {
        CHECK(a(i, j, k) == 12 * i + 4 * j + k);
        CHECK(a(i - 2, j - 3, k - 4) == 12 * i + 4 * j + k);
      }
  a(1, -1, 0) = -5;
  CHECK(a.data()[20] == -5);
  // Mixed integer types as indices.
  CHECK(a(int8_t{0}, 2u, int64_t{3}) == 11);
  CHECK(a.at({1, 0, -1}) == 15);
  // A 0-d tensor takes no index.
  const auto s = kiln::scalar_tensor<float>(2.5f);
  CHECK(s() == 2.5f);
}

TEST_CASE("element access on views applies offset and strides", "[tensor][access]") {
  const auto a = iota({4, 5});
  const auto v = a.slice(0, 1, 4, 2).slice(1, -3, 5).t();  // rows 1, 3; columns 2..4; transposed
  REQUIRE(v.shape() == Shape{3, 2});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j) CHECK(v(i, j) == 5 * (1 + 2 * j) + 2 + i);
  CHECK(v.data() == a.data() + 7);
  CHECK(*v.data() == 7);
  v(2, 1) = 100;
  CHECK(a(3, 4) == 100);
}

TEST_CASE("out-of-range indices throw IndexError naming the dim and size", "[tensor][access]") {
  const auto a = iota({2, 3});
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { (void)a(0, 3); }),
             Contains("[at]") && Contains("index 3") && Contains("dimension 1") &&
                 Contains("size 3") && Contains("[2, 3]"));
  CHECK_THAT(
      thrown_message<kiln::IndexError>([&] { (void)a(-3, 0); }),
      Contains("[at]") && Contains("index -3") && Contains("dimension 0") && Contains("size 2"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { (void)a(1); }),
             Contains("[at]") && Contains("expected 2 indices") && Contains("got 1"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] {
               (void)a.at({0, 0, 0});
             }),
             Contains("expected 2 indices") && Contains("got 3"));
  CHECK_THROWS_AS(kiln::zeros<float>({0})(0), kiln::IndexError);
}

TEST_CASE("item() returns the single element", "[tensor][access]") {
  CHECK(kiln::scalar_tensor<double>(-1.25).item() == -1.25);
  CHECK(kiln::full<int32_t>({1}, 9).item() == 9);
  CHECK(kiln::full<float>({1, 1, 1}, 4.0f).item() == 4.0f);
  CHECK(iota({5}).select(0, 3).item() == 3);
  CHECK(iota({3, 4}).slice(0, 2, 3).slice(1, 1, 2).item() == 9);
  CHECK(kiln::tensor<bool>({true}).item());
  CHECK(static_cast<float>(kiln::full<kiln::half>({1}, kiln::half(1.5f)).item()) == 1.5f);

  CHECK_THAT(thrown_message<kiln::ValueError>([] {
               (void)iota({2, 3}).item();
             }),
             Contains("[item]") && Contains("6 elements") && Contains("[2, 3]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([] { (void)kiln::zeros<float>({0}).item(); }),
             Contains("[item]") && Contains("0 elements"));
}

TEST_CASE("size(), stride() and dim out of range", "[tensor][access]") {
  const auto a = iota({2, 3, 4});
  CHECK(a.dim() == 3);
  CHECK(a.size(0) == 2);
  CHECK(a.size(-1) == 4);
  CHECK(a.stride(0) == 12);
  CHECK(a.stride(-2) == 4);
  CHECK(a.sizes() == Shape{2, 3, 4});
  CHECK(a.element_size() == sizeof(int64_t));
  CHECK_THAT(
      thrown_message<kiln::IndexError>([&] { (void)a.size(3); }),
      Contains("[size]") && Contains("out of range") && Contains("[-3, 2]") && Contains("got 3"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { (void)a.stride(-4); }),
             Contains("[stride]") && Contains("got -4"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { (void)a.transpose(0, 5); }),
             Contains("[transpose]") && Contains("got 5"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { (void)a.squeeze(-4); }), Contains("[squeeze]"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { (void)a.flatten(0, 3); }),
             Contains("[flatten]"));
}

TEST_CASE("an undefined tensor", "[tensor][access]") {
  const Tensor<float> u;
  CHECK(!u.defined());
  CHECK(u.data() == nullptr);
  CHECK(!u.is_alias_of(u));
  CHECK_THROWS_AS(u.fill_(1.0f), kiln::ValueError);
}
