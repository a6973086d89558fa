// SPDX-License-Identifier: BSD-3-Clause
// The matmul family against a plain triple loop in double, over layouts, dtypes and errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "kiln/kiln.hpp"
#include "kiln/ops/blas.hpp"
#include "support/throws.hpp"

namespace {

using kiln::Shape;
using kiln::Tensor;
using kiln_test::thrown_message;

// Small integers keep every product exact in float, so comparisons can be tight.
template <class T>
Tensor<T> ints(const Shape& s, int64_t lo = -4, int64_t hi = 5) {
  return kiln::randint<T>(lo, hi, s);
}

template <class T>
double at_d(const Tensor<T>& t, std::initializer_list<int64_t> idx) {
  return static_cast<double>(static_cast<float>(t.at(idx)));
}
template <>
double at_d(const Tensor<double>& t, std::initializer_list<int64_t> idx) {
  return t.at(idx);
}
template <>
double at_d(const Tensor<int64_t>& t, std::initializer_list<int64_t> idx) {
  return static_cast<double>(t.at(idx));
}

// Reference: c[i, j] = sum_p a[i, p] * b[p, j] for 2-D a and b.
template <class T>
std::vector<double> ref_mm(const Tensor<T>& a, const Tensor<T>& b) {
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  std::vector<double> c(static_cast<std::size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += at_d(a, {i, p}) * at_d(b, {p, j});
      c[static_cast<std::size_t>(i * n + j)] = s;
    }
  return c;
}

template <class T>
void require_matrix(const Tensor<T>& c, const std::vector<double>& ref, double tol = 0) {
  REQUIRE(c.dim() == 2);
  const int64_t n = c.size(1);
  for (int64_t i = 0; i < c.size(0); ++i)
    for (int64_t j = 0; j < n; ++j) {
      const double want = ref[static_cast<std::size_t>(i * n + j)];
      INFO("at [" << i << ", " << j << "]");
      REQUIRE(std::abs(at_d(c, {i, j}) - want) <= tol * (1 + std::abs(want)));
    }
}

}  // namespace

TEMPLATE_TEST_CASE("mm matches the triple loop on every operand layout", "[matmul]", float, double,
                   int64_t) {
  kiln::manual_seed(1);
  const Tensor<TestType> a = ints<TestType>({37, 29}), b = ints<TestType>({29, 23});
  require_matrix(kiln::mm(a, b), ref_mm(a, b));
  // Transposed views go to BLAS as transposes; stepped slices are copied first.
  const Tensor<TestType> at = ints<TestType>({29, 37}).t(), bt = ints<TestType>({23, 29}).t();
  require_matrix(kiln::mm(at, bt), ref_mm(at, bt));
  require_matrix(kiln::mm(a, bt), ref_mm(a, bt));
  const Tensor<TestType> stepped = ints<TestType>({40, 60}).slice(0, 1, 38, 1).slice(1, 0, 58, 2);
  REQUIRE(stepped.shape() == Shape{37, 29});
  require_matrix(kiln::mm(stepped, b), ref_mm(stepped, b));
  // Row-sliced views keep their row stride as the leading dimension.
  const Tensor<TestType> rows = ints<TestType>({37, 50}).narrow(1, 3, 29);
  require_matrix(kiln::mm(rows, b), ref_mm(rows, b));
  // Broadcast (stride-0) operands.
  const Tensor<TestType> bc = ints<TestType>({1, 23}).expand({29, 23});
  require_matrix(kiln::mm(a, bc), ref_mm(a, bc));
  // Expressions are evaluated first.
  require_matrix(kiln::mm(a * TestType(2), b), ref_mm(Tensor<TestType>(a * TestType(2)), b));
}

TEST_CASE("mm on large float matrices matches a double loop to float accuracy", "[matmul]") {
  kiln::manual_seed(2);
  const Tensor<float> a = kiln::randn<float>({130, 257}), b = kiln::randn<float>({257, 65});
  require_matrix(kiln::mm(a, b), ref_mm(a, b), 1e-4);
  const Tensor<double> ad = a.to<double>(), bd = b.to<double>();
  require_matrix(kiln::mm(ad.t().contiguous().t(), bd), ref_mm(ad, bd), 1e-12);
}

TEST_CASE("half, bfloat16 and small integer types multiply like float", "[matmul]") {
  kiln::manual_seed(3);
  const Tensor<float> a = ints<float>({9, 7}), b = ints<float>({7, 5});
  const auto ref = ref_mm(a, b);
  require_matrix(kiln::mm(a.to<kiln::half>(), b.to<kiln::half>()).to<float>(), ref);
  require_matrix(kiln::mm(a.to<kiln::bfloat16>(), b.to<kiln::bfloat16>()).to<float>(), ref);
  require_matrix(kiln::mm(a.to<int32_t>(), b.to<int32_t>()).to<float>(), ref);
  require_matrix(kiln::mm(a.to<int8_t>(), b.to<int8_t>()).to<float>(), ref);
  require_matrix(kiln::mm(a.to<int16_t>(), b.to<int16_t>()).to<float>(), ref);
}

TEST_CASE("integer products wrap like torch", "[matmul]") {
  Tensor<int32_t> a = kiln::full<int32_t>({1, 2}, 1 << 30), b = kiln::full<int32_t>({2, 1}, 4);
  // 2 * 2^30 * 4 = 2^33 wraps to 0 in 32 bits.
  REQUIRE(kiln::mm(a, b).item() == 0);
  Tensor<uint8_t> u = kiln::full<uint8_t>({1, 1}, 200);
  REQUIRE(int(kiln::mm(u, u).item()) == (200 * 200) % 256);
  // Narrow types wrap in their own width (products must not overflow int on the way).
  Tensor<int16_t> s = kiln::full<int16_t>({1, 2}, -32768), t = kiln::full<int16_t>({2, 1}, -32768);
  REQUIRE(kiln::mm(s, t).item() == 0);  // 2 * 2^30 wraps to 0 in 16 bits
  Tensor<int16_t> p = kiln::full<int16_t>({1, 2}, 300), q = kiln::full<int16_t>({2, 1}, 300);
  REQUIRE(kiln::mm(p, q).item() == int16_t(180000 - 3 * 65536));
}

TEST_CASE("matmul follows torch.matmul's rank rules", "[matmul]") {
  kiln::manual_seed(4);
  const Tensor<double> v = ints<double>({5}), w = ints<double>({5});
  const Tensor<double> m = ints<double>({3, 5}), mt = ints<double>({5, 4});
  SECTION("1-D · 1-D is a 0-d dot product") {
    const Tensor<double> d = kiln::matmul(v, w);
    REQUIRE(d.dim() == 0);
    double s = 0;
    for (int64_t i = 0; i < 5; ++i) s += v(i) * w(i);
    REQUIRE(d.item() == s);
    REQUIRE(kiln::dot(v, w).item() == s);
  }
  SECTION("2-D · 1-D and 1-D · 2-D drop the vector's dim") {
    const Tensor<double> mv = kiln::matmul(m, v);
    REQUIRE(mv.shape() == Shape{3});
    const auto ref = ref_mm(m, v.unsqueeze(1));
    for (int64_t i = 0; i < 3; ++i) REQUIRE(mv(i) == ref[static_cast<std::size_t>(i)]);
    REQUIRE(kiln::mv(m, v).shape() == Shape{3});
    const Tensor<double> vm = kiln::matmul(v, mt);
    REQUIRE(vm.shape() == Shape{4});
    const auto ref2 = ref_mm(v.unsqueeze(0), mt);
    for (int64_t j = 0; j < 4; ++j) REQUIRE(vm(j) == ref2[static_cast<std::size_t>(j)]);
  }
  SECTION("batch dims broadcast") {
    const Tensor<double> a = ints<double>({2, 1, 3, 5}), b = ints<double>({4, 5, 6});
    const Tensor<double> c = kiln::matmul(a, b);
    REQUIRE(c.shape() == Shape{2, 4, 3, 6});
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 4; ++j)
        require_matrix(Tensor<double>(c.select(0, i).select(0, j)),
                       ref_mm(a.select(0, i).select(0, 0), b.select(0, j)));
    // A batched matrix times a vector, and a vector times a batch.
    const Tensor<double> bv = kiln::matmul(b, ints<double>({6}));
    REQUIRE(bv.shape() == Shape{4, 5});
    const Tensor<double> vb = kiln::matmul(ints<double>({5}), b);
    REQUIRE(vb.shape() == Shape{4, 6});
  }
  SECTION("batch dims that cannot be merged are looped over") {
    // Permuted batch dims: strides that no single batch stride describes.
    const Tensor<double> a = ints<double>({3, 2, 4, 5}).permute({1, 0, 2, 3});
    const Tensor<double> b = ints<double>({5, 3, 2, 6}).permute({2, 1, 0, 3});
    REQUIRE(a.shape() == Shape{2, 3, 4, 5});
    REQUIRE(b.shape() == Shape{2, 3, 5, 6});
    const Tensor<double> c = kiln::matmul(a, b);
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        require_matrix(Tensor<double>(c.select(0, i).select(0, j)),
                       ref_mm(a.select(0, i).select(0, j), b.select(0, i).select(0, j)));
  }
}

TEMPLATE_TEST_CASE("bmm, addmm, baddbmm, outer and linear", "[matmul]", float, double) {
  using T = TestType;
  kiln::manual_seed(5);
  SECTION("bmm on transposed batches") {
    const Tensor<T> a = ints<T>({3, 4, 6}), b = ints<T>({3, 5, 6}).transpose(1, 2);
    const Tensor<T> c = kiln::bmm(a, b);
    REQUIRE(c.shape() == Shape{3, 4, 5});
    for (int64_t i = 0; i < 3; ++i)
      require_matrix(Tensor<T>(c.select(0, i)), ref_mm(a.select(0, i), b.select(0, i)));
  }
  SECTION("addmm scales and adds a broadcast input; beta = 0 ignores NaN in it") {
    const Tensor<T> in = ints<T>({5}), a = ints<T>({4, 3}), b = ints<T>({3, 5});
    const Tensor<T> c = kiln::addmm(in, a, b, 0.5, 2.0);
    auto ref = ref_mm(a, b);
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 5; ++j)
        ref[std::size_t(i * 5 + j)] = 0.5 * double(in(j)) + 2 * ref[std::size_t(i * 5 + j)];
    require_matrix(c, ref);
    const Tensor<T> nan = kiln::full<T>({4, 5}, std::numeric_limits<T>::quiet_NaN());
    require_matrix(kiln::addmm(nan, a, b, 0.0, 1.0), ref_mm(a, b));
  }
  SECTION("baddbmm") {
    const Tensor<T> in = ints<T>({1, 4, 1}), a = ints<T>({2, 4, 3}), b = ints<T>({2, 3, 5});
    const Tensor<T> c = kiln::baddbmm(in, a, b, 1.0, -1.0);
    REQUIRE(c.shape() == Shape{2, 4, 5});
    for (int64_t bi = 0; bi < 2; ++bi) {
      auto ref = ref_mm(a.select(0, bi), b.select(0, bi));
      for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 5; ++j)
          ref[std::size_t(i * 5 + j)] = double(in(0, i, 0)) - ref[std::size_t(i * 5 + j)];
      require_matrix(Tensor<T>(c.select(0, bi)), ref);
    }
  }
  SECTION("outer") {
    const Tensor<T> a = ints<T>({4}), b = ints<T>({3});
    require_matrix(kiln::outer(a, b), ref_mm(a.unsqueeze(1), b.unsqueeze(0)));
  }
  SECTION("linear on a 3-D, non-contiguous input, with and without bias") {
    const Tensor<T> x = ints<T>({6, 2, 7}).transpose(0, 1);  // [2, 6, 7]
    const Tensor<T> w = ints<T>({3, 7}), bias = ints<T>({3});
    const Tensor<T> y = kiln::linear(x, w, bias), y0 = kiln::linear(x, w);
    REQUIRE(y.shape() == Shape{2, 6, 3});
    for (int64_t i = 0; i < 2; ++i) {
      auto ref = ref_mm(x.select(0, i), w.t());
      require_matrix(Tensor<T>(y0.select(0, i)), ref);
      for (int64_t r = 0; r < 6; ++r)
        for (int64_t j = 0; j < 3; ++j) ref[std::size_t(r * 3 + j)] += double(bias(j));
      require_matrix(Tensor<T>(y.select(0, i)), ref);
    }
    REQUIRE(kiln::linear(ints<T>({7}), w).shape() == Shape{3});
  }
}

TEST_CASE("products with empty dims", "[matmul]") {
  // k = 0: a sum over nothing is zero.
  const Tensor<float> c = kiln::mm(Tensor<float>({3, 0}), Tensor<float>({0, 4}));
  REQUIRE(c.shape() == Shape{3, 4});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) REQUIRE(c(i, j) == 0.f);
  REQUIRE(kiln::mm(Tensor<double>({0, 3}), Tensor<double>({3, 4})).shape() == Shape{0, 4});
  REQUIRE(kiln::matmul(Tensor<float>({0, 2, 3}), Tensor<float>({3, 4})).shape() == Shape{0, 2, 4});
  REQUIRE(kiln::sum(kiln::bmm(Tensor<int64_t>({2, 3, 0}), Tensor<int64_t>({2, 0, 1}))).item() == 0);
  REQUIRE(kiln::linear(Tensor<float>({0, 5}), Tensor<float>({2, 5})).shape() == Shape{0, 2});
  REQUIRE(kiln::dot(Tensor<float>({0}), Tensor<float>({0})).item() == 0.f);
}

TEST_CASE("matrix products reject mismatched shapes with both shapes named", "[matmul]") {
  const Tensor<float> a({2, 3}), b({4, 5});
  std::string msg = thrown_message<kiln::ShapeError>([&] { kiln::matmul(a, b); });
  CHECK_THAT(msg,
             Catch::Contains("[matmul]") && Catch::Contains("[2, 3]") && Catch::Contains("[4, 5]"));
  msg = thrown_message<kiln::ShapeError>([&] { kiln::mm(Tensor<float>({2, 3, 4}), b); });
  CHECK_THAT(msg, Catch::Contains("[mm]") && Catch::Contains("2-D"));
  msg = thrown_message<kiln::ShapeError>([&] {
    kiln::bmm(Tensor<float>({2, 3, 4}), Tensor<float>({3, 4, 5}));
  });
  CHECK_THAT(msg, Catch::Contains("[bmm]") && Catch::Contains("batch"));
  msg = thrown_message<kiln::ShapeError>([&] {
    kiln::matmul(Tensor<float>({2, 3, 4}), Tensor<float>({5, 4, 2}));
  });
  CHECK_THAT(msg, Catch::Contains("[matmul]"));
  msg = thrown_message<kiln::ShapeError>([&] { kiln::matmul(Tensor<float>(Shape{}), a); });
  CHECK_THAT(msg, Catch::Contains("at least 1 dim"));
  msg =
      thrown_message<kiln::ShapeError>([&] { kiln::dot(Tensor<float>({3}), Tensor<float>({4})); });
  CHECK_THAT(msg, Catch::Contains("[dot]"));
  msg = thrown_message<kiln::ShapeError>([&] {
    kiln::linear(Tensor<float>({2, 6}), Tensor<float>({3, 7}));
  });
  CHECK_THAT(msg,
             Catch::Contains("[linear]") && Catch::Contains("[2, 6]") && Catch::Contains("[3, 7]"));
  msg = thrown_message<kiln::ShapeError>([&] {
    kiln::linear(Tensor<float>({2, 7}), Tensor<float>({3, 7}), Tensor<float>({4}));
  });
  CHECK_THAT(msg, Catch::Contains("bias"));
  msg = thrown_message<kiln::ShapeError>([&] {
    kiln::addmm(Tensor<float>({3}), Tensor<float>({2, 4}), Tensor<float>({4, 5}));
  });
  CHECK_THAT(msg, Catch::Contains("[addmm]") && Catch::Contains("[2, 5]"));
  const Tensor<int32_t> ia = kiln::ones<int32_t>({2, 2});
  msg = thrown_message<kiln::ValueError>([&] { kiln::addmm(ia, ia, ia, 0.5); });
  CHECK_THAT(msg, Catch::Contains("[addmm]") && Catch::Contains("beta=0.5"));
  msg = thrown_message<kiln::ValueError>(
      [&] { kiln::baddbmm(ia.unsqueeze(0), ia.unsqueeze(0), ia.unsqueeze(0), 1, 2.5); });
  CHECK_THAT(msg, Catch::Contains("[baddbmm]") && Catch::Contains("alpha=2.5"));
  REQUIRE(kiln::addmm(ia, ia, ia, 2, 3)(0, 0) == 2 + 3 * 2);
}

TEST_CASE("GEMM threads: kiln's thread count governs, nested calls stay correct", "[matmul]") {
  CHECK_THAT(kiln::blas::backend_info(), Catch::Contains("oneDNN") && Catch::Contains("OpenBLAS"));
  kiln::manual_seed(6);
  // Many small products split across threads, one GEMM per thread.
  const Tensor<float> a = kiln::randn<float>({64, 16, 16}), b = kiln::randn<float>({64, 16, 16});
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(2);
  const Tensor<float> c2 = kiln::bmm(a, b);
  kiln::set_num_threads(1);
  const Tensor<float> c1 = kiln::bmm(a, b);
  kiln::set_num_threads(saved);
  for (int64_t i = 0; i < 64; ++i)
    require_matrix(Tensor<float>(c2.select(0, i)), ref_mm(a.select(0, i), b.select(0, i)), 1e-5);
  REQUIRE(kiln::allclose(c1, c2, 0, 0));
}

// Products between 2^18 and 2^25 multiply-adds run on oneDNN's matmul primitive (cached
// per shape), larger ones on dnnl_sgemm, smaller ones on OpenBLAS: each path, every
// transpose, padded leading dimensions, alpha and beta, and a second call that reuses the
// cached primitive.
TEST_CASE("float GEMM on every backend path: transposes, leading dims, alpha, beta", "[matmul]") {
  kiln::manual_seed(11);
  const int64_t sizes[][3] = {{70, 50, 90}, {30, 20, 40}, {330, 330, 330}};
  for (const auto& s : sizes) {
    const int64_t m = s[0], n = s[1], k = s[2];
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
        const Tensor<float> a = ints<float>({ta ? k : m, lda}), b = ints<float>({tb ? n : k, ldb});
        // The product by a plain loop over raw pointers (fast enough under sanitizers).
        std::vector<double> ref(static_cast<std::size_t>(m * n), 0.0);
        const float* ap = a.data();
        const float* bp = b.data();
        for (int64_t i = 0; i < m; ++i)
          for (int64_t p = 0; p < k; ++p) {
            const double av = ta ? ap[p * lda + i] : ap[i * lda + p];
            for (int64_t j = 0; j < n; ++j)
              ref[std::size_t(i * n + j)] += av * (tb ? bp[j * ldb + p] : bp[p * ldb + j]);
          }
        for (float beta : {0.f, 1.f, 0.5f}) {
          INFO("m=" << m << " n=" << n << " k=" << k << " ta=" << ta << " tb=" << tb
                    << " beta=" << beta);
          Tensor<float> c0 = ints<float>({m, ldc});
          if (beta == 0.f) c0.fill_(std::numeric_limits<float>::quiet_NaN());
          for (int call = 0; call < 2; ++call) {  // the second reuses a cached primitive
            Tensor<float> c = c0.clone();
            kiln::blas::gemm(ta, tb, m, n, k, 2.f, a.data(), lda, b.data(), ldb, beta, c.data(),
                             ldc);
            const float* cp = c.data();
            const float* c0p = c0.data();
            int64_t wrong = 0;
            for (int64_t i = 0; i < m; ++i) {
              for (int64_t j = 0; j < n; ++j) {
                const double want = 2 * ref[std::size_t(i * n + j)] +
                                    (beta == 0.f ? 0.0 : double(beta) * double(c0p[i * ldc + j]));
                wrong += double(cp[i * ldc + j]) != want;  // small integers: every path is exact
              }
              // Padding past n is never written.
              for (int64_t j = n; j < ldc; ++j)
                wrong += !(std::isnan(c0p[i * ldc + j]) ? std::isnan(cp[i * ldc + j])
                                                        : cp[i * ldc + j] == c0p[i * ldc + j]);
            }
            REQUIRE(wrong == 0);
          }
        }
      }
  }
}

TEST_CASE("float linear adds its bias in the GEMM, strided bias included", "[matmul]") {
  kiln::manual_seed(12);
  // 120 rows x 50 outputs x 70 inputs: the matmul-primitive path with the bias in its
  // epilogue; 4 x 3 x 5: the OpenBLAS path that preloads the bias.
  for (auto [rows, out_f, in_f] : {std::tuple<int64_t, int64_t, int64_t>{120, 50, 70},
                                   std::tuple<int64_t, int64_t, int64_t>{4, 3, 5}}) {
    const Tensor<float> x = ints<float>({rows, in_f}), w = ints<float>({out_f, in_f});
    const Tensor<float> bias_storage = ints<float>({2 * out_f});
    const Tensor<float> bias = bias_storage.slice(0, 0, 2 * out_f, 2);  // stride 2
    REQUIRE(bias.strides()[0] == 2);
    for (const Tensor<float>& bv : {bias, bias.contiguous()}) {
      const Tensor<float> y = kiln::linear(x, w, bv);
      REQUIRE(y.shape() == Shape{rows, out_f});
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < out_f; ++j) {
          double want = double(bv(j));
          for (int64_t p = 0; p < in_f; ++p) want += double(x(i, p)) * double(w(j, p));
          INFO("rows " << rows << " bias stride " << bv.strides()[0] << " at " << i << ", " << j);
          REQUIRE(double(y(i, j)) == want);
        }
    }
  }
}
