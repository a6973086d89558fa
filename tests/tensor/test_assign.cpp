// SPDX-License-Identifier: BSD-3-Clause
// Writing results: `Tensor y = expr`, `y = expr` (storage reuse when y is the only owner,
// rebinding otherwise), copy_ through views with broadcasting and dtype conversion,
// compound assignment, the in-place methods, and expressions that outlive their operands.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

using TF = kiln::Tensor<float>;
using TD = kiln::Tensor<double>;

template <class T, class D>
std::vector<T> values(const kiln::Tensor<T, D>& t) {
  const kiln::Tensor<T, D> c = t.contiguous();
  return std::vector<T>(c.data(), c.data() + c.numel());
}

TF seq(const kiln::Shape& shape, float start = 0, float step = 1) {
  TF t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = start + step * static_cast<float>(i);
  return t;
}

}  // namespace

TEST_CASE("constructing a Tensor from an expression evaluates it", "[tensor][assign]") {
  const TF a = seq({2, 3}), b = seq({2, 3}, 10);
  const TF y = a * b + 1;
  CHECK(y.shape() == kiln::Shape{2, 3});
  CHECK(values(y) == std::vector<float>{1, 12, 25, 40, 57, 76});
  kiln::Tensor z = a - b;  // deduces Tensor<float>
  static_assert(std::is_same_v<decltype(z), TF>);
  CHECK(values(z) == std::vector<float>(6, -10.0f));
  CHECK(!z.is_alias_of(a));
  const auto e = kiln::eval(a + b);
  static_assert(std::is_same_v<std::remove_const_t<decltype(e)>, TF>);
  CHECK(values(e) == std::vector<float>{10, 12, 14, 16, 18, 20});
  const TD d = kiln::eval(kiln::cast<double>(a) / 2);
  CHECK(values(d) == std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5});
}

TEST_CASE("y = expr reuses y's storage when y is its only owner", "[tensor][assign]") {
  const TF a = seq({64}), b = seq({64}, 1, 0.5f);
  TF y = kiln::zeros<float>({64});
  float* const p = y.data();

  SECTION("an expression without y") {
    y = a * b + 1;
    CHECK(y.data() == p);
    for (int i = 0; i < 64; ++i) CHECK(y.data()[i] == a.data()[i] * b.data()[i] + 1);
  }
  SECTION("an expression reading y elementwise") {
    y.fill_(3);
    y = y + b;
    CHECK(y.data() == p);
    for (int i = 0; i < 64; ++i) CHECK(y.data()[i] == 3 + b.data()[i]);
  }
  SECTION("a nested expression reading y (y = y * beta + g, the optimizer update)") {
    y.fill_(2);
    y = y * 0.5f + b;
    CHECK(y.data() == p);
    for (int i = 0; i < 64; ++i) CHECK(y.data()[i] == 1 + b.data()[i]);
    float* const q = y.data();  // (the caching allocator may hand a freed block back)
    y = kiln::sqrt(y * y) - a * 2;
    CHECK(y.data() == q);
    for (int i = 0; i < 64; ++i) CHECK(y.data()[i] == 1 + b.data()[i] - 2 * a.data()[i]);
  }
  SECTION("a 0-d result broadcast is not reused: the shape differs") {
    y = kiln::scalar_tensor<float>(1.0f) + 1;
    CHECK(y.shape() == kiln::Shape{});
    CHECK(y.item() == 2.0f);
  }
}

TEST_CASE("y = expr rebinds y when other handles share its storage", "[tensor][assign]") {
  const TF b = seq({4}, 1);
  SECTION("another handle") {
    TF y = seq({4});
    const TF other = y;
    float* const p = y.data();
    y = y * 10 + b;
    CHECK(y.data() != p);
    CHECK(values(y) == std::vector<float>{1, 12, 23, 34});
    CHECK(values(other) == std::vector<float>{0, 1, 2, 3});  // the old values, untouched
    CHECK(other.data() == p);
  }
  SECTION("a view") {
    TF y = seq({4});
    const TF view = y.slice(0, 1, 3);
    y = b * 2;
    CHECK(values(view) == std::vector<float>{1, 2});
    CHECK(values(y) == std::vector<float>{2, 4, 6, 8});
    CHECK(!y.is_alias_of(view));
  }
  SECTION("y is itself a view: the base is not written") {
    const TF base = seq({2, 2});
    TF y = base.t();
    y = b.view({2, 2}) + 0;
    CHECK(values(base) == std::vector<float>{0, 1, 2, 3});
    CHECK(values(y) == std::vector<float>{1, 2, 3, 4});
    CHECK(y.is_contiguous());
  }
  SECTION("a different shape") {
    TF y = kiln::zeros<float>({2, 2});
    y = b + 1;
    CHECK(y.shape() == kiln::Shape{4});
    CHECK(values(y) == std::vector<float>{2, 3, 4, 5});
  }
  SECTION("an undefined tensor") {
    TF y;
    CHECK_FALSE(y.defined());
    y = b * b;
    CHECK(values(y) == std::vector<float>{1, 4, 9, 16});
  }
  SECTION("plain handle assignment shares") {
    TF y = seq({4});
    TF z;
    z = y;
    CHECK(z.is_alias_of(y));
    y.fill_(7);
    CHECK(values(z) == std::vector<float>(4, 7.0f));
  }
}

TEST_CASE("copy_ writes through views, broadcasts and converts", "[tensor][assign]") {
  SECTION("through a view into its base") {
    const TF base = kiln::zeros<float>({3, 4});
    base.select(0, 1).copy_(seq({4}, 1));
    base.slice(1, 0, 4, 3).copy_(seq({3, 2}, -1, -1));  // columns 0 and 3
    CHECK(values(base) == std::vector<float>{-1, 0, 0, -2, -3, 2, 3, -4, -5, 0, 0, -6});
    base.t().copy_(seq({4, 3}));
    CHECK(values(base) == std::vector<float>{0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11});
  }
  SECTION("broadcasting a row into a matrix, and a 0-d into anything") {
    const TF m = kiln::zeros<float>({2, 3});
    m.copy_(seq({3}, 5));
    CHECK(values(m) == std::vector<float>{5, 6, 7, 5, 6, 7});
    m.copy_(seq({2, 1}, 8));
    CHECK(values(m) == std::vector<float>{8, 8, 8, 9, 9, 9});
    m.copy_(kiln::scalar_tensor<float>(-1));
    CHECK(values(m) == std::vector<float>(6, -1.0f));
  }
  SECTION("with dtype conversion") {
    const TF f = kiln::zeros<float>({3});
    f.copy_(kiln::tensor<double>({0.1, 2.5, 1e300}));
    CHECK(f.data()[0] == 0.1f);
    CHECK(f.data()[1] == 2.5f);
    CHECK(std::isinf(f.data()[2]));
    const kiln::Tensor<int32_t> i = kiln::zeros<int32_t>({3});
    i.copy_(kiln::tensor<float>({1.9f, -1.9f, 7.0f}) * 2);
    CHECK(values(i) == std::vector<int32_t>{3, -3, 14});
    f.copy_(kiln::tensor<int64_t>({1, 2, 3}) * 3);
    CHECK(values(f) == std::vector<float>{3, 6, 9});
    const kiln::Tensor<kiln::half> h = kiln::zeros<kiln::half>({2});
    h.copy_(kiln::tensor<float>({1.0f / 3, 65519.0f}));
    CHECK(static_cast<float>(h.data()[0]) == static_cast<float>(kiln::half(1.0f / 3)));
    CHECK(static_cast<float>(h.data()[1]) == 65504.0f);
  }
  SECTION("returns the destination, and bumps its version") {
    const TF t = kiln::zeros<float>({2});
    const auto v0 = t.storage().version();
    const TF& r = t.copy_(seq({2}));
    CHECK(&r == &t);
    CHECK(t.storage().version() > v0);
  }
}

TEST_CASE("compound assignment writes in place, with broadcast right-hand sides",
          "[tensor][assign]") {
  SECTION("whole tensors") {
    TF a = seq({2, 3});
    float* const p = a.data();
    const TF alias = a;
    a += seq({3}, 10);  // [2, 3] += [3]
    CHECK(values(a) == std::vector<float>{10, 12, 14, 13, 15, 17});
    a -= 1;
    CHECK(values(a) == std::vector<float>{9, 11, 13, 12, 14, 16});
    a *= seq({2, 1}, 1);  // rows times 1 and 2
    CHECK(values(a) == std::vector<float>{9, 11, 13, 24, 28, 32});
    a /= kiln::scalar_tensor<float>(2);
    CHECK(values(a) == std::vector<float>{4.5, 5.5, 6.5, 12, 14, 16});
    a += a * a;
    CHECK(values(a) == std::vector<float>{24.75, 35.75, 48.75, 156, 210, 272});
    CHECK(a.data() == p);
    CHECK(values(alias) == values(a));  // in place: every handle sees it
  }
  SECTION("views") {
    const TF base = kiln::zeros<float>({3, 4});
    TF col = base.select(1, 2);  // [3], stride 4
    col += seq({3}, 1);
    TF rows = base.slice(0, 1, 3);  // [2, 4]
    rows *= 2;
    rows -= seq({4});
    TF tr = base.t();  // [4, 3]
    tr /= seq({3}, 1);
    // base after: col 2 = [1, 2, 3]; rows 1-2 doubled then minus [0, 1, 2, 3]; columns / [1, 2, 3]
    const std::vector<float> want = {0, 0, 1, 0, 0, -0.5f, 1, -1.5f, 0, -1.0f / 3, 4.0f / 3, -1};
    const auto got = values(base);
    for (int i = 0; i < 12; ++i) CHECK(got[i] == Approx(want[i]));
  }
  SECTION("integer tensors") {
    kiln::Tensor<int32_t> i = kiln::tensor<int32_t>({1, 2, 3});
    i += 5;
    i *= kiln::tensor<int32_t>({2, 3, 4});
    i -= i;
    CHECK(values(i) == std::vector<int32_t>{0, 0, 0});
  }
}

TEST_CASE("in-place methods act on the tensor's own storage", "[tensor][assign]") {
  const std::vector<float> xs = {-2.0f, -0.5f, 0.0f, 0.25f, 1.0f, 3.0f};
  auto fresh = [&] { return kiln::from_vector<float>(xs); };
  struct Row {
    const char* name;
    void (*apply)(const TF&);
    double (*ref)(double);
  };
  const Row rows[] = {
      {"relu_", [](const TF& t) { t.relu_(); }, [](double x) { return x < 0 ? 0.0 : x; }},
      {"neg_", [](const TF& t) { t.neg_(); }, [](double x) { return -x; }},
      {"abs_", [](const TF& t) { t.abs_(); }, [](double x) { return std::fabs(x); }},
      {"sigmoid_", [](const TF& t) { t.sigmoid_(); },
       [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"tanh_", [](const TF& t) { t.tanh_(); }, [](double x) { return std::tanh(x); }},
      {"exp_", [](const TF& t) { t.exp_(); }, [](double x) { return std::exp(x); }},
      {"square_", [](const TF& t) { t.square_(); }, [](double x) { return x * x; }},
      {"clamp_", [](const TF& t) { t.clamp_(-1, 0.5); },
       [](double x) { return std::fmin(std::fmax(x, -1), 0.5); }},
      {"fill_", [](const TF& t) { t.fill_(4.5f); }, [](double) { return 4.5; }},
      {"zero_", [](const TF& t) { t.zero_(); }, [](double) { return 0.0; }},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    const TF t = fresh();
    float* const p = t.data();
    r.apply(t);
    CHECK(t.data() == p);
    for (std::size_t i = 0; i < xs.size(); ++i)
      CHECK(t.data()[i] == Approx(r.ref(xs[i])).epsilon(1e-6).margin(1e-7));
    // Through a stepped view: the elements in between stay.
    const TF base = fresh();
    r.apply(base.slice(0, 0, 6, 2));
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double want = i % 2 == 0 ? r.ref(xs[i]) : xs[i];
      CHECK(base.data()[i] == Approx(want).epsilon(1e-6).margin(1e-7));
    }
  }
  SECTION("log_ and sqrt_ on positive values") {
    const TF t = kiln::tensor<float>({0.25f, 1.0f, 4.0f, 100.0f});
    const TF u = t.clone();
    t.log_();
    u.sqrt_();
    for (int i = 0; i < 4; ++i) {
      const double x = std::vector<double>{0.25, 1, 4, 100}[static_cast<std::size_t>(i)];
      CHECK(t.data()[i] == Approx(std::log(x)).epsilon(1e-6));
      CHECK(u.data()[i] == static_cast<float>(std::sqrt(x)));
    }
  }
  SECTION("chained in-place calls and integer tensors") {
    const TF t = fresh();
    t.neg_().relu_().square_();
    CHECK(values(t) == std::vector<float>{4, 0.25, 0, 0, 0, 0});
    const kiln::Tensor<int32_t> i = kiln::tensor<int32_t>({-3, 5, -7});
    i.abs_().clamp_(4, 6);
    CHECK(values(i) == std::vector<int32_t>{4, 5, 6});
  }
}

TEST_CASE("expressions hold their operands by value", "[tensor][assign]") {
  auto make = [] {
    const TF a = seq({5}, 1), b = seq({5}, 2);
    return a * b + 1;  // a and b go out of scope here
  };
  const auto e = make();
  const TF y = e;
  CHECK(values(y) == std::vector<float>{3, 7, 13, 21, 31});
  auto e2 = kiln::sin(make()) * 0 + make();  // nested temporaries
  CHECK(values(TF(e2)) == values(y));
  // The expression still reads the live storage: a later write is seen on re-evaluation.
  TF a = seq({3});
  const auto e3 = a * 2;
  a.fill_(1);
  CHECK(values(kiln::eval(e3)) == std::vector<float>{2, 2, 2});
  // ...but rebinding the handle does not change the expression's operand.
  a = kiln::full<float>({3}, 5.0f) + 0;
  CHECK(values(kiln::eval(e3)) == std::vector<float>{2, 2, 2});
}
