// SPDX-License-Identifier: BSD-3-Clause
// Note [Aliasing]: writes whose destination overlaps what the expression reads give the
// same result as evaluating into a fresh tensor first (torch's clone semantics), on one
// thread and on several; destinations where elements share memory are rejected.
#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

using TF = kiln::Tensor<float>;

template <class T>
std::vector<T> values(const kiln::Tensor<T>& t) {
  const kiln::Tensor<T> c = t.contiguous();
  return std::vector<T>(c.data(), c.data() + c.numel());
}

TF seq(const kiln::Shape& shape, float start = 0) {
  TF t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = start + static_cast<float>(i);
  return t;
}

struct ThreadGuard {
  int saved = kiln::get_num_threads();
  explicit ThreadGuard(int n) { kiln::set_num_threads(n); }
  ~ThreadGuard() { kiln::set_num_threads(saved); }
  ThreadGuard(const ThreadGuard&) = delete;
  ThreadGuard& operator=(const ThreadGuard&) = delete;
};

}  // namespace

TEST_CASE("an expression reading its own destination elementwise", "[tensor][aliasing]") {
  const TF b = seq({5}, 100);
  SECTION("a = a * 2 + b") {
    TF a = seq({5});
    a = a * 2 + b;
    CHECK(values(a) == std::vector<float>{100, 103, 106, 109, 112});
    const TF keep = a;  // shared: rebinds, keep sees the old values
    a = a * 2 + b;
    CHECK(values(a) == std::vector<float>{300, 307, 314, 321, 328});
    CHECK(values(keep) == std::vector<float>{100, 103, 106, 109, 112});
  }
  SECTION("a.copy_(a * 2) and a += a") {
    const TF a = seq({5});
    a.copy_(a * 2);
    CHECK(values(a) == std::vector<float>{0, 2, 4, 6, 8});
    a += a;
    CHECK(values(a) == std::vector<float>{0, 4, 8, 12, 16});
    a.copy_(a);
    CHECK(values(a) == std::vector<float>{0, 4, 8, 12, 16});
  }
}

TEST_CASE("a transposed read of the destination goes through a temporary", "[tensor][aliasing]") {
  for (int threads : {1, 2}) {
    ThreadGuard guard(threads);
    for (int64_t n : {3, 17, 300}) {  // 300 x 300: over the threading grain
      INFO("threads = " << threads << ", n = " << n);
      const TF orig = seq({n, n});
      auto check_transposed = [&](const TF& got, float scale, float shift) {
        int bad = 0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < n; ++j) bad += got(i, j) != orig(j, i) * scale + shift;
        CHECK(bad == 0);
      };
      const TF a = orig.clone();
      a.copy_(a.t());
      check_transposed(a, 1, 0);

      const TF b = orig.clone();
      b.t().copy_(b * 3);  // the destination is the transposed view
      check_transposed(b, 3, 0);

      TF c = orig.clone();
      c = c.t() + 1;  // y = expr with y the only owner: the in-place path must not race
      check_transposed(c, 1, 1);

      const TF d = orig.clone();
      d += d.t();
      int bad = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) bad += d(i, j) != orig(i, j) + orig(j, i);
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("copy_ between overlapping shifted views of one buffer", "[tensor][aliasing]") {
  for (int threads : {1, 2}) {
    ThreadGuard guard(threads);
    for (int64_t n : {10, 100003}) {
      INFO("threads = " << threads << ", n = " << n);
      const TF orig = seq({n});
      {
        INFO("shift right: x[1:] = x[:-1]");
        const TF x = orig.clone();
        x.slice(0, 1, n).copy_(x.slice(0, 0, n - 1));
        CHECK(x.data()[0] == 0);
        int bad = 0;
        for (int64_t i = 1; i < n; ++i) bad += x.data()[i] != orig.data()[i - 1];
        CHECK(bad == 0);
      }
      {
        INFO("shift left: x[:-1] = x[1:]");
        const TF x = orig.clone();
        x.slice(0, 0, n - 1).copy_(x.slice(0, 1, n));
        int bad = 0;
        for (int64_t i = 0; i + 1 < n; ++i) bad += x.data()[i] != orig.data()[i + 1];
        CHECK(bad == 0);
        CHECK(x.data()[n - 1] == orig.data()[n - 1]);
      }
      {
        INFO("an expression of two overlapping views: x[1:] = x[:-1] + x[1:]");
        const TF x = orig.clone();
        x.slice(0, 1, n).copy_(x.slice(0, 0, n - 1) + x.slice(0, 1, n));
        int bad = 0;
        for (int64_t i = 1; i < n; ++i) bad += x.data()[i] != orig.data()[i - 1] + orig.data()[i];
        CHECK(bad == 0);
      }
      {
        INFO("compound assignment: x[2:] += x[:-2]");
        const TF x = orig.clone();
        x.slice(0, 2, n) += x.slice(0, 0, n - 2);
        int bad = 0;
        for (int64_t i = 2; i < n; ++i) bad += x.data()[i] != orig.data()[i] + orig.data()[i - 2];
        CHECK(bad == 0);
      }
      {
        INFO("interleaved: evens = odds * 2");
        const TF x = orig.clone();
        const int64_t even_n = n / 2 * 2;
        x.slice(0, 0, even_n, 2).copy_(x.slice(0, 1, even_n, 2) * 2);
        int bad = 0;
        for (int64_t i = 0; i + 1 < n; i += 2)
          bad += x.data()[i] != 2 * orig.data()[i + 1] || x.data()[i + 1] != orig.data()[i + 1];
        CHECK(bad == 0);
      }
      {
        INFO("2-D: rows shifted down by one");
        const TF m = seq({300, 400});
        m.slice(0, 1, 300).copy_(m.slice(0, 0, 299));
        int bad = 0;
        for (int64_t i = 1; i < 300; ++i)
          for (int64_t j = 0; j < 400; ++j) bad += m(i, j) != (i - 1) * 400 + j;
        CHECK(bad == 0);
      }
    }
  }
}

TEST_CASE("a broadcast read of part of the destination", "[tensor][aliasing]") {
  for (int64_t rows : {3, 40000}) {  // 40000 x 4: over the grain
    INFO("rows = " << rows);
    const TF orig = seq({rows, 4});
    const TF x = orig.clone();
    x.copy_(x.slice(0, 0, 1) * 2);  // every row = 2 * the original first row
    int bad = 0;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < 4; ++j) bad += x(i, j) != 2 * orig(0, j);
    CHECK(bad == 0);
    const TF y = orig.clone();
    y += y.select(1, 0).unsqueeze(1);  // add each row's first element to the row
    bad = 0;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < 4; ++j) bad += y(i, j) != orig(i, j) + orig(i, 0);
    CHECK(bad == 0);
  }
}

TEST_CASE("writes into a non-overlapping part of the same buffer", "[tensor][aliasing]") {
  for (int64_t n : {8, 200000}) {
    INFO("n = " << n);
    const TF orig = seq({n});
    const TF x = orig.clone();
    x.slice(0, 0, n / 2).copy_(x.slice(0, n / 2, n) * 2 + 1);
    int bad = 0;
    for (int64_t i = 0; i < n / 2; ++i) bad += x.data()[i] != 2 * orig.data()[i + n / 2] + 1;
    for (int64_t i = n / 2; i < n; ++i)
      bad += x.data()[i] != orig.data()[i];  // the source half stays
    CHECK(bad == 0);
    // Two halves of a matrix, one as the transposed read of the other.
    const TF m = seq({2, 4, 4}).clone();
    m.select(0, 0).copy_(m.select(0, 1).t());
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) CHECK(m(0, i, j) == 16 + j * 4 + i);
  }
}

TEST_CASE("writing into an expanded view throws ValueError", "[tensor][aliasing]") {
  const TF row = seq({1, 4});
  const TF wide = row.expand({3, 4});  // three rows share one row of memory
  CHECK_THROWS_AS(wide.copy_(seq({3, 4})), kiln::ValueError);
  CHECK_THROWS_AS(wide.fill_(1), kiln::ValueError);
  CHECK_THROWS_AS(wide.relu_(), kiln::ValueError);
  CHECK_THROWS_AS(wide += 1, kiln::ValueError);
  CHECK_THROWS_WITH(wide.copy_(seq({3, 4})),
                    Catch::Contains("[copy_]") && Catch::Contains("[3, 4]"));
  CHECK(values(row) == std::vector<float>{0, 1, 2, 3});  // nothing was written
  // A broadcast dim of size 1 is fine to write through.
  const TF one = seq({4}).expand({1, 4});
  one.copy_(seq({1, 4}, 10));
  CHECK(values(one) == std::vector<float>{10, 11, 12, 13});
}
