// SPDX-License-Identifier: BSD-3-Clause
// Reductions against plain reference loops in double, over layouts, dims and dtypes.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

using kiln::Dims;
using kiln::Shape;

// Row-major values of any tensor (through its strides), as double.
template <class T>
std::vector<double> values_of(const kiln::Tensor<T>& t) {
  kiln::Tensor<T> c = t.contiguous();
  std::vector<double> v(static_cast<std::size_t>(c.numel()));
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<double>(static_cast<float>(c.data()[i]));
  if constexpr (std::is_same_v<T, double> || std::is_integral_v<T>)
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(c.data()[i]);
  return v;
}

// Reference: groups the elements of `v` (shape `s`) by their kept coordinates, in
// row-major order of the reduced ones, and applies `f` to each group.
std::vector<double> ref_reduce(const std::vector<double>& v, const Shape& s, uint32_t mask,
                               const std::function<double(const std::vector<double>&)>& f) {
  Shape kept;
  for (int d = 0; d < s.size(); ++d)
    if (!(mask >> d & 1u)) kept.push_back(s[d]);
  const int64_t n_out = kiln::numel_of(kept);
  std::vector<std::vector<double>> groups(static_cast<std::size_t>(n_out));
  const int64_t n = kiln::numel_of(s);
  for (int64_t i = 0; i < n; ++i) {
    int64_t rem = i, o = 0, mult = 1;
    for (int d = s.size() - 1; d >= 0; --d) {
      const int64_t c = rem % s[d];
      rem /= s[d];
      if (!(mask >> d & 1u)) {
        o += c * mult;
        mult *= s[d];
      }
    }
    groups[static_cast<std::size_t>(o)].push_back(v[static_cast<std::size_t>(i)]);
  }
  std::vector<double> out;
  for (auto& g : groups) out.push_back(f(g));
  return out;
}

uint32_t mask_of(const Dims& dims, int nd) {
  if (dims.empty()) return (1u << nd) - 1u;
  uint32_t m = 0;
  for (int64_t d : dims) m |= 1u << (d < 0 ? d + nd : d);
  return m;
}

double r_sum(const std::vector<double>& g) {
  double s = 0;
  for (double x : g) s += x;
  return s;
}
double r_prod(const std::vector<double>& g) {
  double s = 1;
  for (double x : g) s *= x;
  return s;
}
double r_max(const std::vector<double>& g) {
  double m = -INFINITY;
  for (double x : g) m = std::isnan(x) || x > m ? x : m;
  return m;
}
double r_min(const std::vector<double>& g) {
  double m = INFINITY;
  for (double x : g) m = std::isnan(x) || x < m ? x : m;
  return m;
}
double r_mean(const std::vector<double>& g) { return r_sum(g) / static_cast<double>(g.size()); }
double r_var(const std::vector<double>& g) {
  const double m = r_mean(g);
  double s = 0;
  for (double x : g) s += (x - m) * (x - m);
  return s / static_cast<double>(g.size() - 1);
}
double r_lse(const std::vector<double>& g) {
  double s = 0;
  for (double x : g) s += std::exp(x);
  return std::log(s);
}
double r_argmax(const std::vector<double>& g) {
  std::size_t b = 0;
  for (std::size_t i = 1; i < g.size(); ++i)
    if (g[i] > g[b]) b = i;
  return static_cast<double>(b);
}
double r_argmin(const std::vector<double>& g) {
  std::size_t b = 0;
  for (std::size_t i = 1; i < g.size(); ++i)
    if (g[i] < g[b]) b = i;
  return static_cast<double>(b);
}

template <class T>
void check_close(const kiln::Tensor<T>& got, const std::vector<double>& want, double rtol,
                 double atol) {
  const auto g = values_of(got);
  REQUIRE(g.size() == want.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    INFO("element " << i << ": got " << g[i] << ", want " << want[i]);
    if (std::isnan(want[i])) {
      CHECK(std::isnan(g[i]));
    } else {
      CHECK(std::abs(g[i] - want[i]) <= atol + rtol * std::abs(want[i]));
    }
  }
}

// The layouts every reduction is run on: contiguous, transposed, stepped, permuted 3-D.
template <class T>
std::vector<std::pair<std::string, kiln::Tensor<T>>> layouts() {
  kiln::manual_seed(7);
  std::vector<std::pair<std::string, kiln::Tensor<T>>> out;
  auto base = [](const Shape& s) {
    kiln::Tensor<float> r = kiln::rand<float>(s) * 4.0f - 2.0f;
    if constexpr (std::is_integral_v<T>)
      return kiln::Tensor<T>(kiln::cast<T>(kiln::round(r * 3.0f)));
    else
      return r.to<T>();
  };
  out.emplace_back("contiguous [3,4,5]", base({3, 4, 5}));
  out.emplace_back("transposed [5,4]", base({4, 5}).t());
  out.emplace_back("stepped [6,3]", base({6, 9}).slice(1, 1, 9, 3));
  out.emplace_back("permuted [5,3,4]", base({3, 4, 5}).permute({2, 0, 1}));
  out.emplace_back("size-1 dims [1,7,1]", base({1, 7, 1}));
  out.emplace_back("long rows [3,5000]", base({3, 5000}));
  out.emplace_back("0-d", base({}));
  return out;
}

std::vector<Dims> dim_sets(int nd) {
  std::vector<Dims> out{Dims{}};
  for (int d = 0; d < nd; ++d) out.push_back(Dims{d});
  if (nd >= 1) out.push_back(Dims{-1});
  if (nd >= 3) out.push_back(Dims{0, 2});
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("reductions match reference loops on every layout", "[ops][reduce]", float,
                   double) {
  using T = TestType;
  const double rtol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  for (auto& [name, x] : layouts<T>()) {
    const auto v = values_of(x);
    for (const Dims& dims : dim_sets(x.dim())) {
      for (bool keepdim : {false, true}) {
        INFO(name << ", dims " << dims << ", keepdim " << keepdim);
        const uint32_t m = mask_of(dims, x.dim());
        const Shape want_shape = kiln::detail::reduced_shape(x.shape(), m, keepdim);
        auto s = kiln::sum(x, dims, keepdim);
        CHECK(s.shape() == want_shape);
        check_close(s, ref_reduce(v, x.shape(), m, r_sum), rtol, rtol);
        check_close(kiln::mean(x, dims, keepdim), ref_reduce(v, x.shape(), m, r_mean), rtol, rtol);
        check_close(kiln::amax(x, dims, keepdim), ref_reduce(v, x.shape(), m, r_max), 0, 0);
        check_close(kiln::amin(x, dims, keepdim), ref_reduce(v, x.shape(), m, r_min), 0, 0);
        check_close(kiln::logsumexp(x, dims, keepdim), ref_reduce(v, x.shape(), m, r_lse), rtol,
                    rtol);
        if (kiln::detail::reduced_count(x.shape(), m) > 1)
          check_close(kiln::var(x, dims, 1, keepdim), ref_reduce(v, x.shape(), m, r_var),
                      1e2 * rtol, rtol);
        check_close(kiln::norm(x, 2.0, dims, keepdim),
                    ref_reduce(v, x.shape(), m,
                               [](auto& g) {
                                 double s = 0;
                                 for (double e : g) s += e * e;
                                 return std::sqrt(s);
                               }),
                    rtol, rtol);
        check_close(kiln::norm(x, 1.0, dims, keepdim),
                    ref_reduce(v, x.shape(), m,
                               [](auto& g) {
                                 double s = 0;
                                 for (double e : g) s += std::abs(e);
                                 return s;
                               }),
                    rtol, rtol);
        check_close(kiln::norm(x, INFINITY, dims, keepdim),
                    ref_reduce(v, x.shape(), m,
                               [](auto& g) {
                                 double s = 0;
                                 for (double e : g) s = std::max(s, std::abs(e));
                                 return s;
                               }),
                    0, 0);
        check_close(kiln::norm(x, 3.0, dims, keepdim),
                    ref_reduce(v, x.shape(), m,
                               [](auto& g) {
                                 double s = 0;
                                 for (double e : g) s += std::pow(std::abs(e), 3.0);
                                 return std::cbrt(s);
                               }),
                    1e2 * rtol, rtol);
        if (x.numel() <= 100) {  // products of thousands of values overflow
          check_close(kiln::prod(x, dims, keepdim), ref_reduce(v, x.shape(), m, r_prod), 1e2 * rtol,
                      rtol);
        }
      }
    }
    for (int d = 0; d < x.dim(); ++d) {
      INFO(name << ", arg reductions over dim " << d);
      check_close(kiln::argmax(x, d), ref_reduce(v, x.shape(), 1u << d, r_argmax), 0, 0);
      check_close(kiln::argmin(x, d), ref_reduce(v, x.shape(), 1u << d, r_argmin), 0, 0);
      const auto mx = kiln::max(x, d, /*keepdim=*/true);
      check_close(mx.values, ref_reduce(v, x.shape(), 1u << d, r_max), 0, 0);
      CHECK(mx.indices.shape() == mx.values.shape());
    }
    check_close(kiln::argmax(x), {r_argmax(v)}, 0, 0);
    check_close(kiln::argmin(x), {r_argmin(v)}, 0, 0);
  }
}

TEST_CASE("integer reductions accumulate in int64", "[ops][reduce]") {
  for (auto& [name, x] : layouts<int32_t>()) {
    INFO(name);
    const auto v = values_of(x);
    for (const Dims& dims : dim_sets(x.dim())) {
      const uint32_t m = mask_of(dims, x.dim());
      kiln::Tensor<int64_t> s = kiln::sum(x, dims);
      check_close(s, ref_reduce(v, x.shape(), m, r_sum), 0, 0);
      check_close(kiln::amax(x, dims), ref_reduce(v, x.shape(), m, r_max), 0, 0);
      check_close(kiln::amin(x, dims), ref_reduce(v, x.shape(), m, r_min), 0, 0);
    }
  }
  // int32 overflow would wrap; int64 accumulation does not.
  auto big = kiln::full<int32_t>({3}, 2000000000);
  CHECK(kiln::sum(big).item() == int64_t{6000000000});
  auto b = kiln::tensor<bool>({true, false, true, true});
  CHECK(kiln::sum(b).item() == 3);
}

TEST_CASE("all and any", "[ops][reduce]") {
  auto x = kiln::tensor<float>({{1, 0, 2}, {3, 4, 5}});
  CHECK_FALSE(kiln::all(x).item());
  CHECK(kiln::any(x).item());
  auto a1 = kiln::all(x, {1});
  CHECK_FALSE(a1(0));
  CHECK(a1(1));
  auto a0 = kiln::any(x == 0.0f, {0}, true);
  CHECK(a0.shape() == Shape{1, 3});
  CHECK(a0(0, 1));
  CHECK_FALSE(a0(0, 0));
  // NaN is nonzero, so it counts as true (as torch).
  CHECK(kiln::all(kiln::tensor<float>({NAN, 1})).item());
  // Empty reductions give the identity.
  CHECK(kiln::all(kiln::zeros<float>({0})).item());
  CHECK_FALSE(kiln::any(kiln::zeros<float>({0})).item());
}

TEST_CASE("reductions fuse with broadcast expressions", "[ops][reduce]") {
  kiln::manual_seed(3);
  auto a = kiln::rand<double>({4, 1, 6});
  auto b = kiln::rand<double>({5, 1});
  // a * b broadcasts to [4, 5, 6] without being materialised.
  kiln::Tensor<double> prod_ab = a * b;
  const auto v = values_of(prod_ab);
  for (const Dims& dims : {Dims{}, Dims{1}, Dims{0, 2}, Dims{2}}) {
    INFO("dims " << dims);
    const uint32_t m = mask_of(dims, 3);
    check_close(kiln::sum(a * b, dims), ref_reduce(v, prod_ab.shape(), m, r_sum), 1e-12, 1e-12);
    check_close(kiln::amax(a * b, dims), ref_reduce(v, prod_ab.shape(), m, r_max), 0, 0);
  }
  // A scalar expression and a 0-d tensor.
  check_close(kiln::sum(kiln::scalar_tensor<double>(2.5) * 2.0), {5.0}, 0, 0);
}

TEST_CASE("zero-size and size-1 reductions", "[ops][reduce]") {
  auto e = kiln::zeros<float>({0, 3});
  auto s0 = kiln::sum(e, 0);
  CHECK(s0.shape() == Shape{3});
  check_close(s0, {0, 0, 0}, 0, 0);
  CHECK(kiln::sum(e, 1).shape() == Shape{0});
  CHECK(kiln::sum(e).item() == 0.0f);
  CHECK(kiln::prod(e).item() == 1.0f);
  CHECK(std::isnan(kiln::mean(e).item()));
  CHECK(kiln::amax(e, {1}).shape() == Shape{0});  // nothing to reduce per (absent) output
  CHECK_THROWS_AS(kiln::amax(e), kiln::ValueError);
  CHECK_THROWS_AS(kiln::amax(e, {0}), kiln::ValueError);
  CHECK_THROWS_AS(kiln::argmax(e), kiln::ValueError);
  auto one = kiln::full<float>({1, 1}, 3.0f);
  CHECK(kiln::sum(one, 0).shape() == Shape{1});
  CHECK(kiln::amax(one).item() == 3.0f);
  CHECK(kiln::argmax(one, 1)(0) == 0);
}

TEST_CASE("NaN propagates through max/min/argmax and sums", "[ops][reduce]") {
  auto x = kiln::tensor<float>({{1, NAN, 3}, {4, 5, 6}});
  auto mx = kiln::amax(x, {1});
  CHECK(std::isnan(mx(0)));
  CHECK(mx(1) == 6.0f);
  CHECK(std::isnan(kiln::amin(x).item()));
  CHECK(kiln::argmax(x, 1)(0) == 1);
  CHECK(kiln::argmin(x, 1)(0) == 1);
  CHECK(std::isnan(kiln::sum(x).item()));
  // logsumexp of an all -inf slice is -inf, not NaN.
  auto ninf = kiln::full<float>({2, 3}, -INFINITY);
  CHECK(kiln::logsumexp(ninf, 1)(0) == -INFINITY);
  // and it is stable for large inputs.
  auto big = kiln::full<float>({4}, 1000.0f);
  CHECK(kiln::logsumexp(big, 0).item() == Approx(1000.0 + std::log(4.0)));
}

TEST_CASE("long float sums are accurate and independent of the thread count", "[ops][reduce]") {
  const int64_t n = 10'000'019;
  auto x = kiln::full<float>({n}, 0.1f);
  const double want = static_cast<double>(0.1f) * static_cast<double>(n);
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(1);
  const float s1 = kiln::sum(x).item();
  const float r1 = kiln::sum(x.reshape({10'000'019, 1}), 0).item();
  kiln::set_num_threads(2);
  const float s2 = kiln::sum(x).item();
  const float r2 = kiln::sum(x.reshape({10'000'019, 1}), 0).item();
  kiln::set_num_threads(saved);
  // A naive float loop would be off by ~1%; blocked pairwise summation is near exact.
  CHECK(std::abs(s1 - want) / want < 1e-6);
  CHECK(s1 == s2);
  CHECK(r1 == r2);
  CHECK(s1 == r1);
  // Column reductions (reduced dim strided, kept dim contiguous) take their own path.
  kiln::manual_seed(11);
  auto c = kiln::rand<float>({3001, 37});
  const auto cv = values_of(c);
  kiln::set_num_threads(1);
  kiln::Tensor<float> c1 = kiln::sum(c * 2.0f, 0);
  kiln::Tensor<float> c1max = kiln::amax(c, {0}, true);
  kiln::set_num_threads(2);
  kiln::Tensor<float> c2 = kiln::sum(c * 2.0f, 0);
  kiln::set_num_threads(saved);
  check_close(c1, ref_reduce(cv, c.shape(), 1u, [](auto& g) { return 2.0 * r_sum(g); }), 1e-6,
              1e-6);
  check_close(c1max, ref_reduce(cv, c.shape(), 1u, r_max), 0, 0);
  CHECK(c1max.shape() == Shape{1, 37});
  for (int j = 0; j < 37; ++j) CHECK(c1(j) == c2(j));
  // and the same over a 3-D tensor keeping the middle and last dims.
  auto c3 = kiln::rand<double>({50, 3, 20});
  check_close(kiln::mean(c3, {0}), ref_reduce(values_of(c3), c3.shape(), 1u, r_mean), 1e-12, 1e-12);
  check_close(kiln::sum(c3.permute({1, 0, 2}), {1}),
              ref_reduce(values_of(c3), c3.shape(), 1u, r_sum), 1e-12, 1e-12);
  // Sums along a dim: rows of different lengths, split across threads.
  auto m = kiln::full<float>({3, 3'000'001}, 0.1f);
  auto rows = kiln::sum(m, 1);
  for (int i = 0; i < 3; ++i) CHECK(std::abs(rows(i) - 0.1 * 3'000'001) / (0.1 * 3'000'001) < 1e-6);
}

TEST_CASE("half and bfloat16 reductions accumulate in float", "[ops][reduce]") {
  auto x = kiln::full<kiln::half>({4096}, kiln::half(0.5f));
  // 2048 is exactly representable; a half accumulator would stall at 1024 + ...
  CHECK(static_cast<float>(kiln::sum(x).item()) == 2048.0f);
  auto y = kiln::full<kiln::bfloat16>({1000}, kiln::bfloat16(1.0f));
  CHECK(static_cast<float>(kiln::mean(y).item()) == 1.0f);
  CHECK(static_cast<float>(kiln::amax(y).item()) == 1.0f);
}

TEST_CASE("reduction errors name the op and the dims", "[ops][reduce][errors]") {
  auto x = kiln::zeros<float>({2, 3});
  try {
    (void)kiln::sum(x, 2);
    FAIL("expected IndexError");
  } catch (const kiln::IndexError& e) {
    CHECK_THAT(e.what(), Catch::Contains("[sum]") && Catch::Contains("got 2"));
  }
  CHECK_THROWS_AS(kiln::mean(x, -3), kiln::IndexError);
  try {
    (void)kiln::sum(x, {1, -1});
    FAIL("expected ValueError");
  } catch (const kiln::ValueError& e) {
    CHECK_THAT(e.what(), Catch::Contains("[sum]") && Catch::Contains("multiple times"));
  }
  try {
    (void)kiln::amax(kiln::zeros<float>({2, 0}), {1});
    FAIL("expected ValueError");
  } catch (const kiln::ValueError& e) {
    CHECK_THAT(e.what(), Catch::Contains("[amax]") && Catch::Contains("[2, 0]"));
  }
  CHECK_THROWS_AS(kiln::norm(x, -1.0), kiln::ValueError);
}
