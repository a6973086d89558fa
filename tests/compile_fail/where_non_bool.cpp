// expect: must be a bool
// where's condition must be a bool expression; a float mask needs an explicit comparison.
#include <kiln/kiln.hpp>

int main() {
  const kiln::Tensor<float> mask = kiln::zeros<float>({3});
  const kiln::Tensor<float> a = kiln::ones<float>({3}), b = kiln::zeros<float>({3});
  auto ok = kiln::where(mask != 0, a, b);  // the explicit way
  auto bad = kiln::where(mask, a, b);  // kiln-compile-fail: the offending line
  (void)ok;
  (void)bad;
}
