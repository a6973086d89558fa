// SPDX-License-Identifier: BSD-3-Clause
// Views share storage: slice, select, narrow, transpose, t, permute, view, reshape, flatten,
// expand, squeeze, unsqueeze; and the copies: contiguous, clone, to<U>(). Each is checked
// element by element against index arithmetic on the base.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::Shape;
using kiln::Strides;
using kiln::Tensor;

namespace {

using kiln_test::thrown_message;

// 0, 1, 2, ... laid out contiguously in `shape`.
Tensor<float> iota(const Shape& shape) {
  Tensor<float> t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i);
  return t;
}

template <class T>
std::vector<T> values_of(const Tensor<T>& t) {
  std::vector<T> out;
  std::vector<int64_t> idx(static_cast<std::size_t>(t.dim()), 0);
  for (int64_t k = 0; k < t.numel(); ++k) {
    out.push_back(t.at(std::span<const int64_t>(idx.data(), idx.size())));
    for (int d = t.dim() - 1; d >= 0; --d) {
      if (++idx[static_cast<std::size_t>(d)] < t.shape()[d]) break;
      idx[static_cast<std::size_t>(d)] = 0;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("slice takes Python-style bounds and steps", "[tensor][views]") {
  const auto a = iota({10});
  SECTION("step") {
    const auto s = a.slice(0, 2, 8, 2);
    CHECK(values_of(s) == std::vector<float>{2, 4, 6});
    CHECK(s.stride(0) == 2);
    CHECK(s.storage_offset() == 2);
    CHECK(s.is_alias_of(a));
    CHECK(values_of(a.slice(0, 1, 10, 3)) == std::vector<float>{1, 4, 7});
  }
  SECTION("negative and clamped bounds") {
    CHECK(values_of(a.slice(0, -3, 100)) == std::vector<float>{7, 8, 9});
    CHECK(values_of(a.slice(0, -100, 3)) == std::vector<float>{0, 1, 2});
    CHECK(values_of(a.slice(0, 2, -5)) == std::vector<float>{2, 3, 4});
    CHECK(a.slice(0, 5, 2).numel() == 0);  // end before start: empty
    CHECK(a.slice(0, 20, 30).numel() == 0);
  }
  SECTION("along an inner dim") {
    const auto m = iota({3, 5});
    const auto s = m.slice(1, 1, 5, 2);  // columns 1 and 3
    REQUIRE(s.shape() == Shape{3, 2});
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 2; ++j) CHECK(s(i, j) == static_cast<float>(5 * i + 1 + 2 * j));
    CHECK(s.slice(-1, -1, 2)(2, 0) == 13.0f);  // negative dim
  }
  SECTION("step must be positive") {
    CHECK_THAT(thrown_message<kiln::ValueError>([&] { (void)a.slice(0, 0, 5, 0); }),
               Contains("[slice]") && Contains("step"));
  }
}

TEST_CASE("select and narrow", "[tensor][views]") {
  const auto a = iota({2, 3, 4});
  const auto s = a.select(1, -1);  // index 2 of dim 1
  REQUIRE(s.shape() == Shape{2, 4});
  CHECK(s.is_alias_of(a));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t k = 0; k < 4; ++k) CHECK(s(i, k) == static_cast<float>(12 * i + 8 + k));
  const auto s0 = a.select(-3, 1);
  CHECK(s0.shape() == Shape{3, 4});
  CHECK(s0(0, 0) == 12.0f);
  CHECK(a.select(2, 3).select(0, 0).select(0, 1).item() == 7.0f);  // down to 0-d

  CHECK_THAT(
      thrown_message<kiln::IndexError>([&] { (void)a.select(1, 3); }),
      Contains("[select]") && Contains("index 3") && Contains("size 3") && Contains("[2, 3, 4]"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { (void)a.select(1, -4); }),
             Contains("[select]"));

  const auto n = a.narrow(2, 1, 2);
  REQUIRE(n.shape() == Shape{2, 3, 2});
  CHECK(n(1, 2, 1) == 22.0f);
  CHECK(a.narrow(2, -2, 2)(0, 0, 0) == 2.0f);
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { (void)a.narrow(2, 3, 2); }),
             Contains("[narrow]") && Contains("start 3") && Contains("length 2"));
}

TEST_CASE("transpose, t and permute reorder dims without copying", "[tensor][views]") {
  const auto a = iota({2, 3, 4});
  const auto tr = a.transpose(0, -1);
  REQUIRE(tr.shape() == Shape{4, 3, 2});
  CHECK(tr.strides() == Strides{1, 4, 12});
  CHECK(tr.is_alias_of(a));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 2; ++k) CHECK(tr(i, j, k) == a(k, j, i));

  const auto p = a.permute({1, 2, 0});
  REQUIRE(p.shape() == Shape{3, 4, 2});
  CHECK(!p.is_contiguous());
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 2; ++k) CHECK(p(i, j, k) == a(k, i, j));
  CHECK(a.permute({-3, -2, -1}).strides() == a.strides());

  const auto m = iota({2, 3});
  const auto mt = m.t();
  REQUIRE(mt.shape() == Shape{3, 2});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j) CHECK(mt(i, j) == m(j, i));
  CHECK(iota({5}).t().shape() == Shape{5});
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { (void)a.t(); }),
             Contains("[t]") && Contains("[2, 3, 4]"));

  SECTION("permute errors") {
    CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
                 (void)a.permute({0, 1, 0});
               }),
               Contains("[permute]") && Contains("repeat") && Contains("[0, 1, 0]"));
    CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
                 (void)a.permute({0, 1});
               }),
               Contains("[permute]") && Contains("[2, 3, 4]") && Contains("[0, 1]"));
    CHECK_THAT(thrown_message<kiln::IndexError>([&] {
                 (void)a.permute({0, 1, 3});
               }),
               Contains("[permute]") && Contains("out of range") && Contains("got 3"));
  }
}

TEST_CASE("view and reshape", "[tensor][views]") {
  const auto a = iota({2, 3, 4});
  SECTION("view infers -1 and shares storage") {
    const auto v = a.view({4, -1});
    CHECK(v.shape() == Shape{4, 6});
    CHECK(v.is_alias_of(a));
    CHECK(v(3, 5) == 23.0f);
    CHECK(a.view({-1}).shape() == Shape{24});
    CHECK(a.view({2, 1, 12}).strides() == Strides{12, 12, 1});
  }
  SECTION("reshape views when it can, copies when it must") {
    const auto r = a.reshape({6, 4});
    CHECK(r.is_alias_of(a));
    const auto tr = a.transpose(1, 2);  // [2, 4, 3], not viewable as [2, 12]
    const auto c = tr.reshape({2, 12});
    CHECK(!c.is_alias_of(a));
    CHECK(c.is_contiguous());
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 4; ++j)
        for (int64_t k = 0; k < 3; ++k) CHECK(c(i, j * 3 + k) == a(i, k, j));
    // Merging only dims that stay adjacent in memory is still a view.
    CHECK(tr.reshape({2, 4, 3, 1}).is_alias_of(a));
    CHECK(a.transpose(0, 1).reshape({3, 2, 2, 2}).is_alias_of(a));
  }
  SECTION("a view that needs a copy is a ShapeError suggesting reshape") {
    const auto tr = a.transpose(1, 2);
    CHECK_THAT(
        thrown_message<kiln::ShapeError>([&] {
          (void)tr.view({2, 12});
        }),
        Contains("[view]") && Contains("[2, 4, 3]") && Contains("[2, 12]") && Contains("reshape"));
  }
  SECTION("wrong element counts name both shapes") {
    CHECK_THAT(
        thrown_message<kiln::ShapeError>([&] {
          (void)a.reshape({5, 5});
        }),
        Contains("[reshape]") && Contains("[5, 5]") && Contains("[2, 3, 4]") && Contains("24"));
    CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
                 (void)a.view({7, -1});
               }),
               Contains("[view]") && Contains("[7, -1]") && Contains("[2, 3, 4]"));
    CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
                 (void)a.view({-1, -1});
               }),
               Contains("[view]") && Contains("only one dimension"));
  }
  SECTION("flatten") {
    CHECK(a.flatten().shape() == Shape{24});
    CHECK(a.flatten().is_alias_of(a));
    CHECK(a.flatten(1).shape() == Shape{2, 12});
    CHECK(a.flatten(0, 1).shape() == Shape{6, 4});
    CHECK(a.flatten(-2, -1)(1, 11) == 23.0f);
    const auto ft = a.transpose(0, 2).flatten();
    CHECK(!ft.is_alias_of(a));
    for (int64_t i = 0; i < 24; ++i) CHECK(ft(i) == a(i % 2, (i / 2) % 3, i / 6));
    CHECK(kiln::full<float>(Shape{}, 3.0f).flatten().shape() == Shape{1});
  }
}

TEST_CASE("expand and broadcast_to use stride 0", "[tensor][views]") {
  const auto col = iota({3, 1});
  const auto e = col.expand({2, 3, 4});
  REQUIRE(e.shape() == Shape{2, 3, 4});
  CHECK(e.strides() == Strides{0, 1, 0});
  CHECK(e.is_alias_of(col));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k) CHECK(e(i, j, k) == static_cast<float>(j));
  CHECK(col.expand({-1, 5}).shape() == Shape{3, 5});
  CHECK(col.broadcast_to({3, 2}).strides() == Strides{1, 0});
  col(1, 0) = 10;
  CHECK(e(1, 1, 3) == 10.0f);  // the expanded view reads the base

  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               (void)col.expand({3, 4, 2});
             }),
             Contains("[expand]") && Contains("3") && Contains("[3, 1]") && Contains("[3, 4, 2]"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { (void)col.expand({4}); }),
             Contains("[expand]"));
  // Writing into a stride-0 view would write one address many times.
  CHECK_THAT(thrown_message<kiln::ValueError>([&] { e.fill_(1.0f); }),
             Contains("single memory location"));
}

TEST_CASE("squeeze and unsqueeze", "[tensor][views]") {
  const auto a = iota({1, 3, 1, 2});
  CHECK(a.squeeze().shape() == Shape{3, 2});
  CHECK(a.squeeze().is_alias_of(a));
  CHECK(a.squeeze(0).shape() == Shape{3, 1, 2});
  CHECK(a.squeeze(-2).shape() == Shape{1, 3, 2});
  CHECK(a.squeeze(1).shape() == a.shape());  // size 3: unchanged, like torch
  CHECK(a.squeeze()(2, 1) == 5.0f);

  const auto b = iota({2, 3});
  CHECK(b.unsqueeze(0).shape() == Shape{1, 2, 3});
  CHECK(b.unsqueeze(1).shape() == Shape{2, 1, 3});
  CHECK(b.unsqueeze(2).shape() == Shape{2, 3, 1});
  CHECK(b.unsqueeze(-1).shape() == Shape{2, 3, 1});
  CHECK(b.unsqueeze(-3).shape() == Shape{1, 2, 3});
  CHECK(b.unsqueeze(1)(1, 0, 2) == 5.0f);
  CHECK(b.unsqueeze(1).is_contiguous());
  CHECK(b.t().unsqueeze(0)(0, 2, 1) == 5.0f);
  CHECK_THAT(thrown_message<kiln::IndexError>([&] { (void)b.unsqueeze(3); }),
             Contains("[unsqueeze]") && Contains("[-3, 2]") && Contains("got 3"));

  // kiln tensors have at most 8 dims.
  const auto eight = kiln::zeros<float>({1, 1, 1, 1, 1, 1, 1, 2});
  CHECK(eight.dim() == 8);
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] { (void)eight.unsqueeze(0); }),
             Contains("at most 8 dimensions") && Contains("got 9"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               (void)eight.view({1, 1, 1, 1, 1, 1, 1, 1, 2});
             }),
             Contains("at most 8 dimensions"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([] {
               (void)kiln::zeros<float>({1, 1, 1, 1, 1, 1, 1, 1, 1});
             }),
             Contains("at most 8 dimensions"));
}

TEST_CASE("writing through a view changes the base", "[tensor][views]") {
  auto a = kiln::zeros<float>({3, 4});
  a.select(0, 1).fill_(1.0f);
  a.slice(1, 0, 4, 3).fill_(2.0f);  // columns 0 and 3
  a.t()(2, 2) = 5.0f;               // element (2, 2)
  a.view({12})(11) = 7.0f;          // element (2, 3)
  const float expected[3][4] = {{2, 0, 0, 2}, {2, 1, 1, 2}, {2, 0, 5, 7}};
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) CHECK(a(i, j) == expected[i][j]);
  // copy_ from a tensor through a transposed view
  a.t().copy_(iota({4, 3}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) CHECK(a(i, j) == static_cast<float>(3 * j + i));
}

TEST_CASE("contiguous, clone and to<U>()", "[tensor][views]") {
  const auto a = iota({2, 3});
  CHECK(a.contiguous().is_alias_of(a));
  const auto tc = a.t().contiguous();
  CHECK(!tc.is_alias_of(a));
  CHECK(tc.is_contiguous());
  CHECK(tc.strides() == Strides{2, 1});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j) CHECK(tc(i, j) == a(j, i));

  const auto c = a.clone();
  CHECK(!c.is_alias_of(a));
  CHECK(values_of(c) == values_of(a));
  c(0, 0) = 100;
  CHECK(a(0, 0) == 0.0f);

  SECTION("to<T>() of the same dtype is the tensor itself") { CHECK(a.to<float>().is_alias_of(a)); }
  SECTION("float to int truncates toward zero") {
    const auto f = kiln::tensor<float>({2.7f, -2.7f, 0.5f, -0.5f, 100.99f});
    const auto i = f.to<int32_t>();
    CHECK(values_of(i) == std::vector<int32_t>{2, -2, 0, 0, 100});
    CHECK(values_of(f.to<int64_t>()) == std::vector<int64_t>{2, -2, 0, 0, 100});
  }
  SECTION("int to half rounds to nearest even") {
    const auto h = kiln::tensor<int64_t>({3, -7, 2049, 2051, 65504, 70000}).to<kiln::half>();
    std::vector<float> got;
    for (auto v : values_of(h)) got.push_back(static_cast<float>(v));
    CHECK(got ==
          std::vector<float>{3, -7, 2048, 2052, 65504, std::numeric_limits<float>::infinity()});
  }
  SECTION("to bool: anything nonzero, NaN included, is true") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const auto b = kiln::tensor<float>({0.0f, -0.0f, 1.0f, nan, -3.0f, 1e-30f}).to<bool>();
    CHECK(values_of(b) == std::vector<bool>{false, false, true, true, true, true});
  }
  SECTION("a strided source converts element by element") {
    const auto d = a.t().to<double>();
    CHECK(d.shape() == Shape{3, 2});
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 2; ++j) CHECK(d(i, j) == static_cast<double>(a(j, i)));
  }
}

TEST_CASE("size-0 and size-1 dims", "[tensor][views]") {
  const auto e = kiln::zeros<float>({0, 3});
  CHECK(e.numel() == 0);
  CHECK(e.is_contiguous());
  CHECK(e.view({3, 0}).shape() == Shape{3, 0});
  // -1 next to a 0 could be anything: ambiguous, as in torch.
  CHECK_THROWS_AS(e.reshape({0, -1, 1}), kiln::ShapeError);
  CHECK(e.t().shape() == Shape{3, 0});
  CHECK(e.t().contiguous().numel() == 0);
  CHECK(e.clone().shape() == Shape{0, 3});
  CHECK(e.unsqueeze(0).shape() == Shape{1, 0, 3});
  CHECK(e.slice(1, 1, 2).shape() == Shape{0, 1});
  CHECK_THROWS_AS(e.select(0, 0), kiln::IndexError);

  const auto one = iota({1, 1, 1});
  CHECK(one.item() == 0.0f);
  CHECK(one.squeeze().dim() == 0);
  CHECK(one.expand({4, 1, 5}).shape() == Shape{4, 1, 5});
  CHECK(one.view({}).dim() == 0);
  const auto s = iota({4}).slice(0, 1, 2);  // [1], offset 1
  CHECK(s.is_contiguous());
  CHECK(s.item() == 1.0f);
}
