// SPDX-License-Identifier: BSD-3-Clause
// A short tour of the kiln tensor API. Run it with `scripts/demo`.
#include <iostream>
#include <kiln/kiln.hpp>

int main() {
  kiln::manual_seed(0);

  std::cout << "== Factories ==\n";
  kiln::Tensor<float> a = kiln::arange<float>(0, 6).reshape({2, 3});
  std::cout << "a = " << a << "\n";
  std::cout << "zeros(2, 2) = " << kiln::zeros<float>({2, 2}) << "\n";
  std::cout << "eye(3, dtype=float64) = " << kiln::eye<double>(3) << "\n";
  std::cout << "randn(2, 3) = " << kiln::randn<float>({2, 3}) << "\n";

  std::cout << "\n== Views share storage ==\n";
  kiln::Tensor<float> at = a.t();  // [3, 2], no copy
  std::cout << "a.t() = " << at << "  contiguous: " << at.is_contiguous() << "\n";
  at(0, 1) = 100.0f;  // writes through to a
  std::cout << "after a.t()(0, 1) = 100: a = " << a << "\n";
  std::cout << "a.slice(1, 0, 3, 2) = " << a.slice(1, 0, 3, 2) << "\n";
  std::cout << "a.unsqueeze(0).shape() = " << a.unsqueeze(0).shape() << "\n";

  std::cout << "\n== Fused expressions: one pass, no temporaries ==\n";
  auto x = kiln::linspace<float>(-2, 2, 5);
  auto e = x * x + 1.0f - kiln::sin(x);  // a lazy expression tree, nothing computed yet
  kiln::Tensor<float> y = e;             // evaluated here, in one loop
  std::cout << "x = " << x << "\ny = x*x + 1 - sin(x) = " << y << "\n";
  std::cout << "gelu(x) = " << kiln::Tensor<float>(kiln::gelu(x)) << "\n";
  std::cout << "where(x > 0, x, 0.1 * x) = "
            << kiln::Tensor<float>(kiln::where(x > 0.0f, x, 0.1f * x)) << "\n";

  std::cout << "\n== Broadcasting ==\n";
  auto col = kiln::tensor<float>({{1}, {2}});    // [2, 1]
  auto row = kiln::tensor<float>({10, 20, 30});  // [3]
  std::cout << "col + row = " << kiln::Tensor<float>(col + row) << "\n";

  std::cout << "\n== In place ==\n";
  kiln::Tensor<float> z = kiln::ones<float>({2, 3});
  z += a;
  z.relu_();
  std::cout << "ones + a, relu_ = " << z << "\n";

  std::cout << "\n== Reductions fuse with their producer ==\n";
  auto m = kiln::arange<float>(0, 12).reshape({3, 4});
  std::cout << "m = " << m << "\n";
  std::cout << "sum(m * m) = " << kiln::sum(m * m) << "\n";
  std::cout << "sum(m * m, 1) = " << kiln::sum(m * m, 1) << "\n";
  std::cout << "mean(m, 0) = " << kiln::mean(m, 0) << "\n";
  std::cout << "max(m, 1).indices = " << kiln::max(m, 1).indices << "\n";
  std::cout << "logsumexp(m, 1) = " << kiln::logsumexp(m, 1) << "\n";
  std::cout << "std(m, {1}) = " << kiln::std(m, {1}) << "\n";

  std::cout << "\n== Dtypes and promotion ==\n";
  auto i = kiln::arange<int32_t>(0, 4);
  std::cout << "int32 tensor: " << i << "\n";
  std::cout << "i / 2 (true division gives float) = " << kiln::eval(i / 2) << "\n";
  std::cout << "i.to<kiln::half>() = " << i.to<kiln::half>() << "\n";

  std::cout << "\n== Errors name the problem ==\n";
  try {
    auto bad = kiln::ones<float>({2, 3}) + kiln::ones<float>({4});
    (void)bad;
  } catch (const kiln::ShapeError& err) {
    std::cout << "ShapeError: " << err.what() << "\n";
  }
  try {
    (void)a.reshape({4, 4});
  } catch (const kiln::ShapeError& err) {
    std::cout << "ShapeError: " << err.what() << "\n";
  }
  return 0;
}
