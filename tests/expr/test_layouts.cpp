// SPDX-License-Identifier: BSD-3-Clause
// The CPU executor on every layout: contiguous sizes around the SIMD width and the
// threading grain, transposed, stepped, broadcast, empty, size-1 and permuted operands,
// non-contiguous outputs and scalar operands, single- and multi-threaded. A representative
// set of ops (a transcendental, a binary op, where, a 4-deep chain) is checked against a
// reference that reads every operand through its own shape and strides.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/kiln.hpp"

namespace {

template <class T>
using Ten = kiln::Tensor<T>;
using kiln::Shape;

/// Restores the thread count when a test that changed it ends.
struct ThreadGuard {
  int saved = kiln::get_num_threads();
  explicit ThreadGuard(int n) { kiln::set_num_threads(n); }
  ~ThreadGuard() { kiln::set_num_threads(saved); }
  ThreadGuard(const ThreadGuard&) = delete;
  ThreadGuard& operator=(const ThreadGuard&) = delete;
};

template <class T>
Ten<T> rand_tensor(const Shape& shape, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-2, 2);
  Ten<T> t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(u(gen));
  return t;
}

// NumPy broadcasting, written out independently of kiln.
Shape broadcast(std::initializer_list<Shape> shapes) {
  int nd = 0;
  for (const Shape& s : shapes) nd = std::max(nd, s.size());
  Shape out(nd, 1);
  for (const Shape& s : shapes)
    for (int i = 0; i < s.size(); ++i) {
      const int o = nd - s.size() + i;
      if (s[i] != 1) out[o] = s[i];
    }
  return out;
}

// The element of `t` that output index `idx` reads when t is broadcast to idx's rank:
// computed from t's own shape, strides and data pointer.
template <class T>
T elem(const Ten<T>& t, const std::vector<int64_t>& idx) {
  const int off = static_cast<int>(idx.size()) - t.dim();
  int64_t p = 0;
  for (int d = 0; d < t.dim(); ++d)
    if (t.shape()[d] != 1) p += idx[static_cast<std::size_t>(d + off)] * t.strides()[d];
  return t.data()[p];
}

// Calls f(idx) for every multi-index of `shape`, in row-major order.
template <class F>
void for_each_index(const Shape& shape, F&& f) {
  if (kiln::numel_of(shape) == 0) return;
  std::vector<int64_t> idx(static_cast<std::size_t>(shape.size()), 0);
  while (true) {
    f(idx);
    int d = shape.size() - 1;
    for (; d >= 0; --d) {
      if (++idx[static_cast<std::size_t>(d)] < shape[d]) break;
      idx[static_cast<std::size_t>(d)] = 0;
    }
    if (d < 0) return;
  }
}

enum class Op { Sin, Mul, Where, Chain };
constexpr Op kOps[] = {Op::Sin, Op::Mul, Op::Where, Op::Chain};
const char* op_name(Op op) {
  switch (op) {
    case Op::Sin:
      return "sin(a)";
    case Op::Mul:
      return "a * b";
    case Op::Where:
      return "where(a > b, a, b * 2)";
    case Op::Chain:
      return "a * b + c * d - sin(e)";
  }
  return "?";
}

// Up to five operands of any layout; the ops use the first one, two or all five.
template <class T>
struct Inputs {
  Ten<T> a, b, c, d, e;
  Inputs(Ten<T> a_, Ten<T> b_) : Inputs(a_, b_, a_, b_, a_) {}
  Inputs(Ten<T> a_, Ten<T> b_, Ten<T> c_, Ten<T> d_, Ten<T> e_)
      : a(std::move(a_)), b(std::move(b_)), c(std::move(c_)), d(std::move(d_)), e(std::move(e_)) {}
};

template <class T>
auto expr_of(Op op, const Inputs<T>& in) {
  // One return type for every op keeps the instantiations down: evaluate right here.
  switch (op) {
    case Op::Sin:
      return Ten<T>(kiln::sin(in.a));
    case Op::Mul:
      return Ten<T>(in.a * in.b);
    case Op::Where:
      return Ten<T>(kiln::where(in.a > in.b, in.a, in.b * 2));
    case Op::Chain:
      return Ten<T>(in.a * in.b + in.c * in.d - kiln::sin(in.e));
  }
  return Ten<T>();
}

// Writes op(inputs) through `out` (any view) with copy_.
template <class T>
void copy_into(Op op, const Inputs<T>& in, const Ten<T>& out) {
  switch (op) {
    case Op::Sin:
      out.copy_(kiln::sin(in.a));
      break;
    case Op::Mul:
      out.copy_(in.a * in.b);
      break;
    case Op::Where:
      out.copy_(kiln::where(in.a > in.b, in.a, in.b * 2));
      break;
    case Op::Chain:
      out.copy_(in.a * in.b + in.c * in.d - kiln::sin(in.e));
      break;
  }
}

template <class T>
Shape out_shape(Op op, const Inputs<T>& in) {
  switch (op) {
    case Op::Sin:
      return in.a.shape();
    case Op::Mul:
    case Op::Where:
      return broadcast({in.a.shape(), in.b.shape()});
    case Op::Chain:
      return broadcast({in.a.shape(), in.b.shape(), in.c.shape(), in.d.shape(), in.e.shape()});
  }
  return {};
}

// Whether `got` matches the op at output index idx, computed in double.
template <class T>
bool matches(Op op, const Inputs<T>& in, const std::vector<int64_t>& idx, T got) {
  const double eps = std::numeric_limits<T>::epsilon();
  const double a = elem(in.a, idx);
  if (op == Op::Sin)
    return std::fabs(got - std::sin(a)) <= 4 * eps * std::fabs(std::sin(a)) + 1e-300;
  const double b = elem(in.b, idx);
  if (op == Op::Mul) return got == static_cast<T>(a * b);  // a product of two T is exact in double
  if (op == Op::Where) return got == static_cast<T>(a > b ? a : b * 2);
  const double c = elem(in.c, idx), d = elem(in.d, idx), e = elem(in.e, idx);
  const double want = a * b + c * d - std::sin(e);
  return std::fabs(got - want) <= 8 * eps * (std::fabs(a * b) + std::fabs(c * d) + 1);
}

// Every op on `in`, into a new tensor and (when `out` is given) through copy_ into `out`.
template <class T>
void check_ops(const Inputs<T>& in, const Ten<T>* out = nullptr) {
  for (Op op : kOps) {
    INFO(op_name(op));
    Shape shape = out_shape(op, in);
    Ten<T> result;
    if (out) {  // copy_ broadcasts the expression to the output's shape
      REQUIRE(broadcast({out->shape(), shape}) == out->shape());
      shape = out->shape();
      copy_into(op, in, *out);
      result = *out;
    } else {
      result = expr_of(op, in);
      REQUIRE(result.shape() == shape);
      CHECK(result.is_contiguous());
    }
    int bad = 0;
    for_each_index(shape, [&](const std::vector<int64_t>& idx) {
      const T got = elem(result, idx);
      if (!matches(op, in, idx, got) && bad++ < 5) {
        std::string at;
        for (int64_t i : idx) at += std::to_string(i) + " ";
        FAIL_CHECK("mismatch at [ " << at << "]: got " << got);
      }
    });
    CHECK(bad == 0);
  }
}

}  // namespace

TEMPLATE_TEST_CASE("contiguous operands of every size around the SIMD width and the grain",
                   "[expr][layout]", float, double) {
  using T = TestType;
  // 100003 > the 32768-element grain: several threads, each with its own SIMD tail.
  for (int64_t n : {0, 1, 7, 15, 16, 17, 33, 1000, 100003}) {
    DYNAMIC_SECTION("n = " << n) {
      check_ops(Inputs<T>(rand_tensor<T>({n}, 1), rand_tensor<T>({n}, 2), rand_tensor<T>({n}, 3),
                          rand_tensor<T>({n}, 4), rand_tensor<T>({n}, 5)));
    }
  }
}

TEST_CASE("one thread and several threads give the same results", "[expr][layout]") {
  for (int threads : {1, 2, 3}) {
    DYNAMIC_SECTION(threads << " threads") {
      ThreadGuard guard(threads);
      // Contiguous, and a strided layout whose rows (331) do not divide the thread chunks.
      check_ops(Inputs<float>(rand_tensor<float>({100003}, 6), rand_tensor<float>({100003}, 7)));
      check_ops(
          Inputs<float>(rand_tensor<float>({331, 317}, 8).t(), rand_tensor<float>({317, 331}, 9)));
      check_ops(Inputs<double>(rand_tensor<double>({2000, 50}, 10).slice(1, 1, 50, 3),
                               rand_tensor<double>({2000, 1}, 11)));
      // Small sizes stay on one thread whatever the setting.
      check_ops(Inputs<float>(rand_tensor<float>({1000}, 12), rand_tensor<float>({1000}, 13)));
    }
  }
}

TEST_CASE("transposed, stepped and permuted operands", "[expr][layout]") {
  SECTION("transposed with contiguous (mixed) and transposed with transposed") {
    const Ten<float> t1 = rand_tensor<float>({40, 30}, 1).t();  // [30, 40]
    const Ten<float> t2 = rand_tensor<float>({40, 30}, 2).t();
    const Ten<float> c = rand_tensor<float>({30, 40}, 3);
    REQUIRE_FALSE(t1.is_contiguous());
    check_ops(Inputs<float>(t1, c));
    check_ops(Inputs<float>(c, t1));
    check_ops(Inputs<float>(t1, t2, c, t1, t2));
  }
  SECTION("sliced with a step") {
    for (int64_t n : {10, 100, 300000}) {
      INFO("n = " << n);
      const Ten<float> s1 = rand_tensor<float>({n}, 4).slice(0, 1, n, 3);
      const Ten<float> s2 = rand_tensor<float>({n}, 5).slice(0, 1, n, 3);
      REQUIRE(s1.stride(0) == 3);
      check_ops(Inputs<float>(s1, s2));
      check_ops(Inputs<float>(s1, kiln::Tensor<float>(s2.clone())));
    }
    const Ten<double> m =
        rand_tensor<double>({20, 21}, 6).slice(1, 1, 20, 3);  // [20, 7], strides [21, 3]
    check_ops(Inputs<double>(m, rand_tensor<double>({20, 7}, 7)));
    check_ops(Inputs<double>(m.slice(0, 0, 20, 2), m.slice(0, 1, 20, 2)));
  }
  SECTION("3-D permuted") {
    const Ten<float> p = rand_tensor<float>({2, 3, 4}, 8).permute({2, 0, 1});  // [4, 2, 3]
    REQUIRE(p.shape() == Shape{4, 2, 3});
    check_ops(Inputs<float>(p, rand_tensor<float>({4, 2, 3}, 9)));
    check_ops(Inputs<float>(p, rand_tensor<float>({4, 1, 3}, 10)));
    check_ops(Inputs<float>(p, rand_tensor<float>({3, 4, 2}, 11).permute({1, 2, 0}), p, p, p));
    const Ten<float> big =
        rand_tensor<float>({40, 50, 60}, 12).permute({1, 2, 0});  // 120000 elements
    check_ops(Inputs<float>(big, rand_tensor<float>({50, 60, 40}, 13)));
  }
}

TEST_CASE("broadcast operands", "[expr][layout]") {
  SECTION("[5, 1] with [1, 7]") {
    check_ops(Inputs<float>(rand_tensor<float>({5, 1}, 1), rand_tensor<float>({1, 7}, 2)));
    check_ops(Inputs<float>(rand_tensor<float>({1, 7}, 3), rand_tensor<float>({5, 1}, 4)));
  }
  SECTION("a row [7] with [5, 7], both ways") {
    check_ops(Inputs<float>(rand_tensor<float>({7}, 5), rand_tensor<float>({5, 7}, 6)));
    check_ops(Inputs<double>(rand_tensor<double>({5, 7}, 7), rand_tensor<double>({7}, 8)));
  }
  SECTION("a 0-d tensor with [3, 4]") {
    const Ten<float> s = kiln::scalar_tensor<float>(0.75f);
    check_ops(Inputs<float>(s, rand_tensor<float>({3, 4}, 9)));
    check_ops(Inputs<float>(rand_tensor<float>({3, 4}, 10), s));
    check_ops(Inputs<float>(s, s));
  }
  SECTION("all five operands broadcast differently") {
    check_ops(Inputs<float>(rand_tensor<float>({4, 1, 6}, 11), rand_tensor<float>({5, 1}, 12),
                            rand_tensor<float>({6}, 13), kiln::scalar_tensor<float>(1.5f),
                            rand_tensor<float>({4, 5, 6}, 14).permute({0, 1, 2})));
  }
  SECTION("large broadcast: a column against a row, multi-threaded") {
    ThreadGuard guard(2);
    check_ops(Inputs<float>(rand_tensor<float>({400, 1}, 15), rand_tensor<float>({1, 300}, 16)));
    check_ops(Inputs<float>(rand_tensor<float>({400}, 17), rand_tensor<float>({400, 300}, 18).t()));
  }
  SECTION("an expanded view as an operand") {
    const Ten<float> col = rand_tensor<float>({6, 1}, 19).expand({6, 9});
    REQUIRE(col.stride(1) == 0);
    check_ops(Inputs<float>(col, rand_tensor<float>({6, 9}, 20)));
  }
}

TEST_CASE("size-0 and size-1 dimensions", "[expr][layout]") {
  check_ops(Inputs<float>(rand_tensor<float>({0, 3}, 1), rand_tensor<float>({1, 3}, 2)));
  check_ops(Inputs<float>(rand_tensor<float>({3, 0}, 3), rand_tensor<float>({3, 1}, 4)));
  check_ops(Inputs<float>(rand_tensor<float>({0}, 5), kiln::scalar_tensor<float>(2.0f)));
  check_ops(Inputs<float>(rand_tensor<float>({1, 5}, 6), rand_tensor<float>({1, 5}, 7)));
  check_ops(Inputs<float>(rand_tensor<float>({5, 1, 1}, 8), rand_tensor<float>({1, 1, 4}, 9)));
  check_ops(Inputs<float>(rand_tensor<float>({1, 1, 1}, 10), rand_tensor<float>({1}, 11)));
  // A size-1 dim with an arbitrary stride (left over from a slice) is still contiguous.
  const Ten<float> row = rand_tensor<float>({4, 5}, 12).slice(0, 2, 3);  // [1, 5]
  check_ops(Inputs<float>(row, rand_tensor<float>({3, 5}, 13)));
  // Broadcasting a [0]-dim against a 1 keeps the 0.
  const Ten<float> empty =
      kiln::Tensor<float>(rand_tensor<float>({2, 0}, 14) + rand_tensor<float>({2, 1}, 15));
  CHECK(empty.shape() == Shape{2, 0});
  CHECK(empty.numel() == 0);
}

TEST_CASE("non-contiguous outputs through copy_", "[expr][layout]") {
  SECTION("into a transposed view") {
    Ten<float> base = kiln::zeros<float>({7, 5});
    const Ten<float> view = base.t();  // [5, 7]
    const Inputs<float> in(rand_tensor<float>({5, 7}, 1), rand_tensor<float>({5, 7}, 2));
    check_ops(in, &view);
    // The writes landed in base, transposed.
    const Ten<float> again = in.a * in.b;
    copy_into(Op::Mul, in, view);
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 7; ++j) CHECK(base(j, i) == again(i, j));
  }
  SECTION("into a stepped view: the elements in between are untouched") {
    for (int64_t n : {9, 100003}) {
      INFO("n = " << n);
      const Ten<double> base = kiln::full<double>({n}, -99.0);
      const Ten<double> view = base.slice(0, 0, n, 2);
      const int64_t m = view.numel();
      check_ops(Inputs<double>(rand_tensor<double>({m}, 3), rand_tensor<double>({m}, 4)), &view);
      for (int64_t i = 1; i < n; i += 2) REQUIRE(base.data()[i] == -99.0);
    }
  }
  SECTION("into column slices: contiguous rows with gaps, split mid-row across threads") {
    ThreadGuard guard(2);
    for (int64_t rows : {3, 3000}) {  // 3000 x 34 elements: over the grain
      INFO("rows = " << rows);
      const Ten<float> base = kiln::full<float>({rows, 40}, -99.0f);
      const Ten<float> view = base.slice(1, 3, 37);  // [rows, 34], strides [40, 1]
      check_ops(Inputs<float>(rand_tensor<float>({rows, 34}, 7), rand_tensor<float>({34}, 8)),
                &view);
      int untouched = 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c : {0, 1, 2, 37, 38, 39}) untouched += base(r, c) == -99.0f;
      CHECK(untouched == rows * 6);
    }
  }
  SECTION("into a permuted 3-D view from broadcast and transposed operands") {
    const Ten<float> base = kiln::zeros<float>({4, 3, 2});
    const Ten<float> view = base.permute({2, 1, 0});  // [2, 3, 4]
    check_ops(Inputs<float>(rand_tensor<float>({4}, 5),
                            rand_tensor<float>({4, 3, 2}, 6).permute({2, 1, 0})),
              &view);
  }
}

TEST_CASE("scalar operands on either side", "[expr][layout]") {
  const Ten<float> a = rand_tensor<float>({6, 5}, 1);
  for (const Ten<float>& x : {a, a.t()}) {  // contiguous and transposed
    INFO("contiguous: " << x.is_contiguous());
    const Ten<float> l = 2 - x, r = x / 2, m = 0.5 * x + 1;
    for_each_index(x.shape(), [&](const std::vector<int64_t>& idx) {
      const float v = elem(x, idx);
      CHECK(elem(l, idx) == 2 - v);
      CHECK(elem(r, idx) == v / 2);
      CHECK(elem(m, idx) == 0.5f * v + 1);
    });
  }
  const Ten<int32_t> i = kiln::arange<int32_t>(-5, 7).view({3, 4});
  static_assert(std::is_same_v<kiln::expr::value_t<decltype(i * 0.5)>, float>);
  static_assert(std::is_same_v<kiln::expr::value_t<decltype(2 - i)>, int32_t>);
  for (const Ten<int32_t>& x : {i, i.t()}) {
    const Ten<float> half = x * 0.5;
    const Ten<int32_t> rsub = 2 - x;
    const Ten<float> quot = x / 2;
    for_each_index(x.shape(), [&](const std::vector<int64_t>& idx) {
      const int32_t v = elem(x, idx);
      CHECK(elem(half, idx) == static_cast<float>(v) * 0.5f);
      CHECK(elem(rsub, idx) == 2 - v);
      CHECK(elem(quot, idx) == static_cast<float>(v) / 2.0f);
    });
  }
}

TEST_CASE("transposed operands take the tiled path and give every element once", "[expr][layout]") {
  // Note [Tiled strided rows]: rows wide enough to tile, row counts that are not multiples
  // of the tile, thread ranges that split rows, and a 3-D case whose blocks stop at the
  // end of dim 1.
  kiln::manual_seed(77);
  const int saved = kiln::get_num_threads();
  for (int threads : {1, 2}) {
    kiln::set_num_threads(threads);
    const kiln::Tensor<float> a = kiln::randn<float>({700, 613});
    kiln::Tensor<float> o({613, 700});
    o.copy_(a.t() * 2.0f + 1.0f);
    for (int64_t i = 0; i < 613; ++i)
      for (int64_t j = 0; j < 700; ++j) REQUIRE(o(i, j) == a(j, i) * 2.0f + 1.0f);
    const kiln::Tensor<double> b = kiln::randn<double>({3, 530, 37});
    const kiln::Tensor<double> t = b.permute({0, 2, 1}) - 1.0;  // [3, 37, 530]
    for (int64_t k = 0; k < 3; ++k)
      for (int64_t i = 0; i < 37; ++i)
        for (int64_t j = 0; j < 530; ++j) REQUIRE(t(k, i, j) == b(k, j, i) - 1.0);
  }
  kiln::set_num_threads(saved);
}
