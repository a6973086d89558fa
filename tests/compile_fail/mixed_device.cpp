// expect: different devices
// Mixing devices in one expression is a compile error: move one operand first.
#include <kiln/kiln.hpp>

void f(const kiln::Tensor<float, kiln::CPU>& a, const kiln::Tensor<float, kiln::CUDA>& b) {
  auto ok = b * 2;  // one device: fine
  auto bad = a + b;  // kiln-compile-fail: the offending line
  (void)ok;
  (void)bad;
}

int main() {}
