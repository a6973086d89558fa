// SPDX-License-Identifier: BSD-3-Clause
// Uses an installed kiln through find_package(kiln) and kiln::kiln: a fused expression,
// a reduction, matrix products, printing, an error, and a module saved to and loaded from
// a safetensors file, each checked against the expected value.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <kiln/io.hpp>
#include <kiln/kiln.hpp>
#include <kiln/nn.hpp>
#include <sstream>
#include <string>

int main() {
  const auto x = kiln::arange<float>(0, 6).reshape({2, 3});
  const kiln::Tensor<float> y = x * 2.0f + kiln::sin(x);  // packets + SLEEF/libmvec
  const kiln::Tensor<float> s = kiln::sum(y, 1);
  double want0 = 0, want1 = 0;
  for (int i = 0; i < 3; ++i) {
    want0 += 2.0 * i + std::sin(static_cast<double>(i));
    want1 += 2.0 * (i + 3) + std::sin(static_cast<double>(i + 3));
  }
  if (std::abs(s(0) - want0) > 1e-4 || std::abs(s(1) - want1) > 1e-4) {
    std::printf("kiln consumer: wrong sums %g %g (want %g %g)\n", s(0), s(1), want0, want1);
    return 1;
  }
  // Matrix products reach oneDNN (float) and OpenBLAS (double) through libkiln.
  const kiln::Tensor<float> p = kiln::matmul(x, x.t());  // [[5, 14], [14, 50]]
  const kiln::Tensor<double> pd = kiln::matmul(x.to<double>().t(), x.to<double>());
  if (p(0, 1) != 14.f || p(1, 1) != 50.f || pd(2, 2) != 29.0) {
    std::printf("kiln consumer: wrong products %g %g %g\n", p(0, 1), p(1, 1), pd(2, 2));
    return 1;
  }
  std::ostringstream os;
  os << kiln::tensor<float>({1, 2});
  if (os.str() != "tensor([1., 2.])") {
    std::printf("kiln consumer: printed '%s'\n", os.str().c_str());
    return 1;
  }
  // nn and io through the installed library (its zlib and JSON dependencies included).
  kiln::nn::Linear<float> a(3, 2), b(3, 2);
  const std::string path = "/tmp/kiln_consumer_" + std::to_string(::getpid()) + ".safetensors";
  kiln::io::save(path, a);
  kiln::io::load(path, b);
  std::remove(path.c_str());
  const kiln::Tensor<float> in = kiln::ones<float>({1, 3});
  if (kiln::amax(kiln::abs(a(in) - b(in))).item() != 0.0f) {
    std::printf("kiln consumer: a loaded Linear differs from the saved one\n");
    return 1;
  }
  try {
    auto bad = kiln::ones<float>({2, 3}) + kiln::ones<float>({4});
    (void)bad;
  } catch (const kiln::ShapeError& e) {
    std::printf("kiln consumer: ok (%s)\n", e.what());
    return 0;
  }
  std::printf("kiln consumer: broadcasting [2, 3] with [4] did not throw\n");
  return 1;
}
