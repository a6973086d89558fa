// expect: dtype differs
// A tensor cannot be initialised from an expression of another dtype without a cast.
#include <kiln/kiln.hpp>

int main() {
  const kiln::Tensor<double> d = kiln::zeros<double>({3});
  kiln::Tensor<float> ok = kiln::cast<float>(d * 2);  // the explicit way
  kiln::Tensor<float> bad = d * 2;  // kiln-compile-fail: the offending line
  (void)ok;
  (void)bad;
}
