// SPDX-License-Identifier: BSD-3-Clause
// Tensor factories: empty, zeros, ones, full, arange, linspace, eye, tensor, from_vector,
// from_blob and the *_like variants, checked against plain loops.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Shape;

namespace {

// The message of the exception of type E that f() throws; fails the test otherwise.
using kiln_test::thrown_message;

// Every element of a tensor of any rank, in row-major order, via at().
template <class T>
std::vector<T> values_of(const kiln::Tensor<T>& t) {
  std::vector<T> out;
  const int64_t n = t.numel();
  std::vector<int64_t> idx(static_cast<std::size_t>(t.dim()), 0);
  for (int64_t k = 0; k < n; ++k) {
    out.push_back(t.at(std::span<const int64_t>(idx.data(), idx.size())));
    for (int d = t.dim() - 1; d >= 0; --d) {
      if (++idx[static_cast<std::size_t>(d)] < t.shape()[d]) break;
      idx[static_cast<std::size_t>(d)] = 0;
    }
  }
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("zeros, ones and full fill every element", "[tensor][factories]", float, double,
                   int32_t, int64_t, uint8_t, kiln::half, kiln::bfloat16) {
  const Shape s{2, 3, 4};
  const auto z = kiln::zeros<TestType>(s);
  const auto o = kiln::ones<TestType>(s);
  const auto f = kiln::full<TestType>(s, TestType(7));
  for (const auto* t : {&z, &o, &f}) {
    CHECK(t->shape() == s);
    CHECK(t->numel() == 24);
    CHECK(t->is_contiguous());
    CHECK(t->strides() == kiln::Strides{12, 4, 1});
    CHECK(t->dtype() == kiln::scalar_type_v<TestType>);
  }
  for (int64_t i = 0; i < 24; ++i) {
    CHECK(static_cast<double>(z.data()[i]) == 0.0);
    CHECK(static_cast<double>(o.data()[i]) == 1.0);
    CHECK(static_cast<double>(f.data()[i]) == 7.0);
  }
}

TEST_CASE("zeros and full of a 0-d and an empty shape", "[tensor][factories]") {
  const auto s = kiln::full<float>(Shape{}, 2.5f);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 2.5f);
  const auto e = kiln::zeros<float>({0, 3});
  CHECK(e.numel() == 0);
  CHECK(e.shape() == Shape{0, 3});
  CHECK(e.is_contiguous());
  const auto sc = kiln::scalar_tensor<int64_t>(-4);
  CHECK(sc.dim() == 0);
  CHECK(sc.item() == -4);
}

TEST_CASE("empty allocates the shape without initialising", "[tensor][factories]") {
  const auto t = kiln::empty<double>({3, 5});
  CHECK(t.defined());
  CHECK(t.shape() == Shape{3, 5});
  CHECK(t.strides() == kiln::Strides{5, 1});
  CHECK(t.storage().nbytes() >= 15 * sizeof(double));
  CHECK(t.storage_offset() == 0);
  // Writable everywhere.
  for (int64_t i = 0; i < 15; ++i) t.data()[i] = static_cast<double>(i);
  CHECK(t(2, 4) == 14.0);

  const std::string msg = thrown_message<kiln::ShapeError>([] {
    (void)kiln::empty<float>({2, -1, 3});
  });
  CHECK_THAT(msg, Contains("[empty]") && Contains("negative") && Contains("[2, -1, 3]"));
}

TEST_CASE("arange matches torch.arange", "[tensor][factories]") {
  SECTION("integer end") {
    const auto t = kiln::arange(5);
    STATIC_REQUIRE(std::is_same_v<decltype(t), const kiln::Tensor<int64_t>>);
    CHECK(values_of(t) == std::vector<int64_t>{0, 1, 2, 3, 4});
  }
  SECTION("start, end, step") {
    CHECK(values_of(kiln::arange(2, 11, 3)) == std::vector<int64_t>{2, 5, 8});
    CHECK(kiln::arange(3, 3).numel() == 0);
  }
  SECTION("negative step") {
    CHECK(values_of(kiln::arange(5, 0, -1)) == std::vector<int64_t>{5, 4, 3, 2, 1});
    CHECK(values_of(kiln::arange(5, -4, -3)) == std::vector<int64_t>{5, 2, -1});
    CHECK(values_of(kiln::arange<float>(0, -1, -0.25)) ==
          std::vector<float>{0, -0.25f, -0.5f, -0.75f});
  }
  SECTION("float step") {
    CHECK(values_of(kiln::arange<float>(1, 2, 0.25)) == std::vector<float>{1, 1.25f, 1.5f, 1.75f});
    const auto t = kiln::arange<double>(0, 1, 0.1);
    REQUIRE(t.numel() == 10);  // ceil((1 - 0) / 0.1) = 10, like torch
    for (int64_t i = 0; i < 10; ++i) CHECK(t(i) == Approx(0.1 * static_cast<double>(i)));
    // A non-integer length rounds up: 0, 0.4, 0.8 for [0, 1) step 0.4.
    CHECK(kiln::arange<float>(0, 1, 0.4).numel() == 3);
  }
  SECTION("errors name the op and the bounds") {
    CHECK_THAT(thrown_message<kiln::ValueError>([] { (void)kiln::arange(0, 5, 0); }),
               Contains("[arange]") && Contains("step"));
    CHECK_THAT(thrown_message<kiln::ValueError>([] { (void)kiln::arange(0, 5, -1); }),
               Contains("[arange]") && Contains("start 0") && Contains("end 5"));
  }
}

TEST_CASE("linspace matches torch.linspace", "[tensor][factories]") {
  SECTION("steps 0 and 1") {
    const auto e = kiln::linspace(0, 1, 0);
    CHECK(e.shape() == Shape{0});
    const auto one = kiln::linspace(3, 7, 1);
    CHECK(values_of(one) == std::vector<float>{3});
  }
  SECTION("evenly spaced, both ends included") {
    CHECK(values_of(kiln::linspace(0, 1, 5)) == std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1});
    const auto t = kiln::linspace<double>(-1, 2, 7);
    for (int64_t i = 0; i < 7; ++i) CHECK(t(i) == Approx(-1 + 0.5 * static_cast<double>(i)));
    CHECK(t(0) == -1.0);
    CHECK(t(6) == 2.0);
  }
  SECTION("decreasing") {
    const auto t = kiln::linspace<double>(10, 0, 11);
    for (int64_t i = 0; i < 11; ++i) CHECK(t(i) == Approx(10.0 - static_cast<double>(i)));
    CHECK(t(10) == 0.0);
  }
  SECTION("negative steps throw") {
    CHECK_THAT(thrown_message<kiln::ValueError>([] { (void)kiln::linspace(0, 1, -2); }),
               Contains("[linspace]") && Contains("-2"));
  }
}

TEST_CASE("eye, square and not", "[tensor][factories]") {
  for (auto [n, m] : {std::pair<int64_t, int64_t>{3, -1}, {2, 4}, {4, 2}, {0, 3}, {1, 1}}) {
    const auto t = kiln::eye<float>(n, m);
    const int64_t cols = m < 0 ? n : m;
    REQUIRE(t.shape() == Shape{n, cols});
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < cols; ++j) CHECK(t(i, j) == (i == j ? 1.0f : 0.0f));
  }
  CHECK_THROWS_AS(kiln::eye(-1), kiln::ValueError);
}

TEST_CASE("tensor({...}) and from_vector copy values", "[tensor][factories]") {
  const auto a = kiln::tensor<float>({1.5f, -2, 3});
  CHECK(a.shape() == Shape{3});
  CHECK(values_of(a) == std::vector<float>{1.5f, -2, 3});

  const auto b = kiln::tensor<int32_t>({{1, 2, 3}, {4, 5, 6}});
  CHECK(b.shape() == Shape{2, 3});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) CHECK(b(i, j) == static_cast<int32_t>(3 * i + j + 1));

  CHECK_THAT(thrown_message<kiln::ShapeError>([] {
               (void)kiln::tensor<float>({{1, 2}, {3}});
             }),
             Contains("[tensor]") && Contains("expected 2") && Contains("got 1"));

  std::vector<double> v{1, 2, 3, 4, 5, 6};
  const auto c = kiln::from_vector(v, {3, 2});
  CHECK(c.shape() == Shape{3, 2});
  CHECK(c(2, 1) == 6.0);
  v[0] = 100;  // a copy: the vector no longer matters
  CHECK(c(0, 0) == 1.0);
  CHECK(kiln::from_vector(v).shape() == Shape{6});

  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               (void)kiln::from_vector(v, {4, 2});
             }),
             Contains("[from_vector]") && Contains("6 values") && Contains("[4, 2]"));
}

TEST_CASE("from_blob wraps user memory without copying", "[tensor][factories]") {
  SECTION("reads and writes go through to the buffer") {
    float buf[6] = {0, 1, 2, 3, 4, 5};
    const auto t = kiln::from_blob(buf, {2, 3});
    CHECK(t.data() == buf);
    CHECK(t(1, 2) == 5.0f);
    t(0, 1) = 42;
    CHECK(buf[1] == 42.0f);
    buf[5] = -1;
    CHECK(t(1, 2) == -1.0f);
    t.select(0, 1).fill_(9);  // a view of the blob writes through too
    CHECK(buf[3] == 9.0f);
    CHECK(buf[4] == 9.0f);
    CHECK(buf[5] == 9.0f);
    CHECK(buf[2] == 2.0f);
  }
  SECTION("explicit strides") {
    int64_t buf[12];
    for (int i = 0; i < 12; ++i) buf[i] = i;
    const auto t = kiln::from_blob(buf, {3, 2}, {4, 2});  // every other element of 3 rows of 4
    CHECK(!t.is_contiguous());
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 2; ++j) CHECK(t(i, j) == 4 * i + 2 * j);
  }
  SECTION("the deleter runs exactly once, when the last view dies") {
    int calls = 0;
    void* seen = nullptr;
    auto* buf = new double[8]();
    {
      kiln::Tensor<double> view;
      {
        auto t = kiln::from_blob(buf, {2, 4}, [&](void* p) {
          ++calls;
          seen = p;
          delete[] static_cast<double*>(p);
        });
        auto copy = t;
        view = t.slice(1, 1, 3).t();
        CHECK(view.is_alias_of(t));
      }
      CHECK(calls == 0);  // `view` still holds the storage
      view(0, 1) = 3.0;
      CHECK(buf[5] == 3.0);
    }
    CHECK(calls == 1);
    CHECK(seen == buf);
  }
  SECTION("a null pointer is a ValueError naming from_blob") {
    CHECK_THAT(thrown_message<kiln::ValueError>([] {
                 (void)kiln::from_blob<float>(nullptr, {2, 2});
               }),
               Contains("[from_blob]") && Contains("null") && Contains("[2, 2]"));
  }
}

TEST_CASE("*_like factories copy the shape, not the storage", "[tensor][factories]") {
  const auto base = kiln::arange<float>(6).view({2, 3}).t();  // non-contiguous [3, 2]
  const auto z = kiln::zeros_like(base);
  const auto o = kiln::ones_like(base);
  const auto f = kiln::full_like(base, 2.5f);
  const auto e = kiln::empty_like(base);
  for (const auto* t : {&z, &o, &f, &e}) {
    CHECK(t->shape() == Shape{3, 2});
    CHECK(t->is_contiguous());
    CHECK(!t->is_alias_of(base));
  }
  for (int64_t i = 0; i < 6; ++i) {
    CHECK(z.data()[i] == 0.0f);
    CHECK(o.data()[i] == 1.0f);
    CHECK(f.data()[i] == 2.5f);
  }
  const auto zi = kiln::zeros_like(kiln::arange(4));
  STATIC_REQUIRE(std::is_same_v<decltype(zi), const kiln::Tensor<int64_t>>);
}
