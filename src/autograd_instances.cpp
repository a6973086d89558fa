// SPDX-License-Identifier: BSD-3-Clause
// The per-dtype parts of autograd that every user file would otherwise compile again:
// view nodes, leaf accumulators, sum_to, the type-erased gradient ops, Tensor::backward
// and autograd::grad, for the CPU floating dtypes (extern in autograd/record.hpp).
#include "kiln/tensor.hpp"

namespace kiln {
namespace autograd {
#define KILN_AUTOGRAD_INSTANTIATE(T)                                                               \
  template class ViewNode<T, CPU>;                                                                 \
  template void record_view_spec<T, CPU>(const Tensor<T, CPU>&, Tensor<T, CPU>&, const ViewSpec&); \
  template Tensor<T, CPU> sum_to<T, CPU>(const Tensor<T, CPU>&, const Shape&);                     \
  template class AccumulateGrad<T, CPU>;                                                           \
  template AnyTensor detail::any_add<T, CPU>(const AnyTensor&, const AnyTensor&);                  \
  template AnyTensor detail::any_zeros<T, CPU>(const Shape&);                                      \
  template bool detail::any_has_nan<T, CPU>(const AnyTensor&);                                     \
  template std::vector<Tensor<T, CPU>> grad<T, CPU>(                                               \
      const std::vector<Tensor<T, CPU>>&, const std::vector<Tensor<T, CPU>>&,                      \
      const std::vector<Tensor<T, CPU>>&, std::optional<bool>, bool, bool);
KILN_AUTOGRAD_INSTANTIATE(float)
KILN_AUTOGRAD_INSTANTIATE(double)
KILN_AUTOGRAD_INSTANTIATE(half)
KILN_AUTOGRAD_INSTANTIATE(bfloat16)
#undef KILN_AUTOGRAD_INSTANTIATE
}  // namespace autograd

#define KILN_TENSOR_AUTOGRAD_INSTANTIATE(T)                                                       \
  template void Tensor<T, CPU>::backward(const Tensor<T, CPU>&, std::optional<bool>, bool) const; \
  template void Tensor<T, CPU>::retain_grad() const;                                              \
  template void Tensor<T, CPU>::set_grad(const Tensor<T, CPU>&);                                  \
  template void Tensor<T, CPU>::zero_grad(bool) const;                                            \
  template Tensor<T, CPU>& Tensor<T, CPU>::requires_grad_(bool);
KILN_TENSOR_AUTOGRAD_INSTANTIATE(float)
KILN_TENSOR_AUTOGRAD_INSTANTIATE(double)
KILN_TENSOR_AUTOGRAD_INSTANTIATE(half)
KILN_TENSOR_AUTOGRAD_INSTANTIATE(bfloat16)
#undef KILN_TENSOR_AUTOGRAD_INSTANTIATE
}  // namespace kiln
