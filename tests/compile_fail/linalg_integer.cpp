// expect: linalg needs float or double
// kiln::linalg computes in float or double; an integer matrix must be converted first.
#include <kiln/kiln.hpp>

int main() {
  const kiln::Tensor<int32_t> a = kiln::zeros<int32_t>({2, 2});
  auto ok = kiln::linalg::det(a.to<float>());  // the explicit way
  auto bad = kiln::linalg::det(a);             // kiln-compile-fail: the offending line
  (void)ok;
  (void)bad;
}
