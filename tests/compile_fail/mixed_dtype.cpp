// expect: different dtypes
// Mixing dtypes in one expression is a compile error with a readable message: cast first.
#include <kiln/kiln.hpp>

int main() {
  const kiln::Tensor<float> a = kiln::zeros<float>({2});
  const kiln::Tensor<double> b = kiln::zeros<double>({2});
  const kiln::Tensor<double> ok = kiln::cast<double>(a) + b;  // the explicit way
  auto bad = a + b;  // kiln-compile-fail: the offending line
  (void)ok;
  (void)bad;
}
