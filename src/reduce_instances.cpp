// SPDX-License-Identifier: BSD-3-Clause
// Reductions of plain float and double tensors, compiled once (Note [Compiled reductions
// of plain tensors] in kiln/ops/reduce.hpp).
#include "kiln/ops/reduce.hpp"

namespace kiln::detail {

template <class T>
Tensor<T, CPU> sum_tensor(const Tensor<T, CPU>& e, const Dims& dims, bool keepdim) {
  return sum_any(e, dims, keepdim);
}
template <class T>
Tensor<T, CPU> mean_tensor(const Tensor<T, CPU>& e, const Dims& dims, bool keepdim) {
  return mean_any(e, dims, keepdim);
}
template <class T>
Tensor<T, CPU> prod_tensor(const Tensor<T, CPU>& e, const Dims& dims, bool keepdim) {
  return prod_any(e, dims, keepdim);
}
template <class T>
Tensor<T, CPU> amax_tensor(const Tensor<T, CPU>& e, const Dims& dims, bool keepdim) {
  return amax_any(e, dims, keepdim);
}
template <class T>
Tensor<T, CPU> amin_tensor(const Tensor<T, CPU>& e, const Dims& dims, bool keepdim) {
  return amin_any(e, dims, keepdim);
}
template <class T>
Tensor<T, CPU> var_tensor(const Tensor<T, CPU>& e, const Dims& dims, int64_t correction,
                          bool keepdim) {
  return var_any(e, dims, correction, keepdim);
}
template <class T>
Tensor<T, CPU> std_tensor(const Tensor<T, CPU>& e, const Dims& dims, int64_t correction,
                          bool keepdim) {
  return std_any(e, dims, correction, keepdim);
}
template <class T>
Tensor<T, CPU> logsumexp_tensor(const Tensor<T, CPU>& e, const Dims& dims, bool keepdim) {
  return logsumexp_any(e, dims, keepdim);
}
template <class T>
Tensor<T, CPU> norm_tensor(const Tensor<T, CPU>& e, double p, const Dims& dims, bool keepdim) {
  return norm_any(e, p, dims, keepdim);
}

#define KILN_REDUCTION_INSTANCES(T)                                                         \
  template Tensor<T, CPU> sum_tensor<T>(const Tensor<T, CPU>&, const Dims&, bool);          \
  template Tensor<T, CPU> mean_tensor<T>(const Tensor<T, CPU>&, const Dims&, bool);         \
  template Tensor<T, CPU> prod_tensor<T>(const Tensor<T, CPU>&, const Dims&, bool);         \
  template Tensor<T, CPU> amax_tensor<T>(const Tensor<T, CPU>&, const Dims&, bool);         \
  template Tensor<T, CPU> amin_tensor<T>(const Tensor<T, CPU>&, const Dims&, bool);         \
  template Tensor<T, CPU> var_tensor<T>(const Tensor<T, CPU>&, const Dims&, int64_t, bool); \
  template Tensor<T, CPU> std_tensor<T>(const Tensor<T, CPU>&, const Dims&, int64_t, bool); \
  template Tensor<T, CPU> logsumexp_tensor<T>(const Tensor<T, CPU>&, const Dims&, bool);    \
  template Tensor<T, CPU> norm_tensor<T>(const Tensor<T, CPU>&, double, const Dims&, bool);
KILN_REDUCTION_INSTANCES(float)
KILN_REDUCTION_INSTANCES(double)
#undef KILN_REDUCTION_INSTANCES

}  // namespace kiln::detail
