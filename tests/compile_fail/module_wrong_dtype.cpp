// expect: differs from the module
// A module's dtype is part of its type: a float model fed a double tensor does not compile.
#include <kiln/nn.hpp>

int main() {
  kiln::nn::Linear<float> fc(4, 2);
  const kiln::Tensor<float> ok = fc(kiln::zeros<float>({3, 4}));  // the right dtype
  const kiln::Tensor<double> x = kiln::zeros<double>({3, 4});
  auto bad = fc(x);  // kiln-compile-fail: the offending line
  (void)ok;
  (void)bad;
}
