// SPDX-License-Identifier: BSD-3-Clause
// Matrix products: matmul (torch.matmul's rules), mm, bmm, mv, dot, outer, addmm, baddbmm,
// linear. float/double run on the GEMM libraries of ops/blas.hpp; see Note [Matmul operands].
// All are differentiable to any order (Note [Matmul backward] in src/matmul.cpp).
#pragma once

#include <type_traits>

#include "kiln/expr/ops.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/tensor.hpp"

namespace kiln {

// Note [Matmul operands]
// A 2-D operand whose rows or columns are unit-stride goes to BLAS as it is: row-major
// with its row stride as the leading dimension, or transposed (a .t() view, a column
// slice) with its column stride — no copy. Other layouts (steps in both dims, broadcast
// stride 0 inside a matrix) are copied to a contiguous buffer first. Batch dims may have
// any strides, including 0 from broadcasting: each batch entry is a pointer offset.
// half and bfloat16 are multiplied in float and rounded once at the end; integer types
// use a plain loop (no BLAS has integer GEMM), wrapping like torch.

namespace detail {
template <class T>
inline constexpr bool matmul_dtype_v = !std::is_same_v<T, bool>;

template <class T>
Tensor<T, CPU> matmul_impl(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b);
template <class T>
Tensor<T, CPU> bmm_impl(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, const char* op);
template <class T>
Tensor<T, CPU> addmm_impl(const Tensor<T, CPU>& input, const Tensor<T, CPU>& a,
                          const Tensor<T, CPU>& b, double beta, double alpha, bool batched);
template <class T>
Tensor<T, CPU> linear_impl(const Tensor<T, CPU>& x, const Tensor<T, CPU>& w,
                           const Tensor<T, CPU>* bias);

#define KILN_MATMUL_EXTERN(T)                                                                  \
  extern template Tensor<T, CPU> matmul_impl<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&); \
  extern template Tensor<T, CPU> bmm_impl<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,     \
                                             const char*);                                     \
  extern template Tensor<T, CPU> addmm_impl<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,   \
                                               const Tensor<T, CPU>&, double, double, bool);   \
  extern template Tensor<T, CPU> linear_impl<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,  \
                                                const Tensor<T, CPU>*);
KILN_MATMUL_EXTERN(float)
KILN_MATMUL_EXTERN(double)
KILN_MATMUL_EXTERN(half)
KILN_MATMUL_EXTERN(bfloat16)
KILN_MATMUL_EXTERN(uint8_t)
KILN_MATMUL_EXTERN(int8_t)
KILN_MATMUL_EXTERN(int16_t)
KILN_MATMUL_EXTERN(int32_t)
KILN_MATMUL_EXTERN(int64_t)
#undef KILN_MATMUL_EXTERN

// CUDA products run on cuBLAS (cuda/matmul.cu, compiled into kiln::cuda) for the
// floating dtypes; the shape rules are the CPU's (src/matmul_forward.hpp).
template <class T>
inline constexpr bool cuda_matmul_dtype_v = is_floating_v<T>;
template <class T>
Tensor<T, CUDA> matmul_impl(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b);
template <class T>
Tensor<T, CUDA> bmm_impl(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b, const char* op);
template <class T>
Tensor<T, CUDA> addmm_impl(const Tensor<T, CUDA>& input, const Tensor<T, CUDA>& a,
                           const Tensor<T, CUDA>& b, double beta, double alpha, bool batched);
template <class T>
Tensor<T, CUDA> linear_impl(const Tensor<T, CUDA>& x, const Tensor<T, CUDA>& w,
                            const Tensor<T, CUDA>* bias);

// Evaluates an operand (a Tensor passes through) and checks what every product needs.
template <class A, class B>
constexpr void check_product_operands() {
  static_assert(std::is_same_v<expr::value_t<A>, expr::value_t<B>>,
                "kiln: matrix products need operands of one dtype; cast one with .to<U>()");
  static_assert(std::is_same_v<expr::device_t<A>, expr::device_t<B>>,
                "kiln: matrix products need operands on one device; move one with .to<Device>()");
  static_assert(matmul_dtype_v<expr::value_t<A>>,
                "kiln: matrix products are not defined for bool tensors");
  static_assert(!std::is_same_v<expr::device_t<A>, CUDA> || cuda_matmul_dtype_v<expr::value_t<A>>,
                "kiln: matrix products of CUDA tensors are defined for float, double, half and "
                "bfloat16 (cuBLAS)");
}
/// Both operands of a CUDA product on the same device.
template <class T, class D>
void check_same_device(const char* op, const Tensor<T, D>& a, const Tensor<T, D>& b) {
  if constexpr (std::is_same_v<D, CUDA>)
    KILN_CHECK(a.get_device() == b.get_device(), DeviceError, "[", op,
               "] operands are on CUDA devices ", a.get_device(), " and ", b.get_device());
}
}  // namespace detail

/// torch.matmul: 1-D·1-D is a dot product (0-d result); 2-D·2-D a matrix product; a 1-D
/// operand is treated as a row (left) or column (right) vector and that dim is dropped
/// from the result; with 3 or more dims the leading (batch) dims broadcast. Throws
/// ShapeError naming both shapes when the inner dims differ.
template <expr::Expr A, expr::Expr B>
auto matmul(const A& a, const B& b) {
  detail::check_product_operands<A, B>();
  return detail::matmul_impl(eval(a), eval(b));
}

/// [n, k] · [k, m] -> [n, m]; both operands must be 2-D.
template <expr::Expr A, expr::Expr B>
auto mm(const A& a, const B& b) {
  detail::check_product_operands<A, B>();
  KILN_CHECK(a.shape().size() == 2 && b.shape().size() == 2, ShapeError,
             "[mm] expects 2-D operands, got shapes ", a.shape(), " and ", b.shape());
  return detail::matmul_impl(eval(a), eval(b));
}

/// [B, n, k] · [B, k, m] -> [B, n, m] (no broadcasting of B, as in torch.bmm).
template <expr::Expr A, expr::Expr B>
auto bmm(const A& a, const B& b) {
  detail::check_product_operands<A, B>();
  return detail::bmm_impl(eval(a), eval(b), "bmm");
}

/// Matrix [n, k] times vector [k] -> [n].
template <expr::Expr A, expr::Expr B>
auto mv(const A& a, const B& v) {
  detail::check_product_operands<A, B>();
  KILN_CHECK(a.shape().size() == 2 && v.shape().size() == 1, ShapeError,
             "[mv] expects a 2-D matrix and a 1-D vector, got shapes ", a.shape(), " and ",
             v.shape());
  return detail::matmul_impl(eval(a), eval(v));
}

/// Inner product of two 1-D tensors of equal length (a 0-d tensor), summed in the
/// accumulator type with kiln's deterministic reduction.
template <expr::Expr A, expr::Expr B>
auto dot(const A& a, const B& b) {
  detail::check_product_operands<A, B>();
  using T = expr::value_t<A>;
  KILN_CHECK(a.shape().size() == 1 && b.shape().size() == 1, ShapeError,
             "[dot] expects 1-D tensors, got shapes ", a.shape(), " and ", b.shape());
  KILN_CHECK(a.shape()[0] == b.shape()[0], ShapeError,
             "[dot] inconsistent tensor size: expected the two tensors to have the same number "
             "of elements, got shapes ",
             a.shape(), " and ", b.shape());
  auto s = kiln::sum(a * b);
  if constexpr (std::is_same_v<expr::value_t<decltype(s)>, T>)
    return s;
  else
    return s.template to<T>();  // integer sums accumulate in int64; torch keeps the dtype
}

/// Outer product of 1-D a [n] and b [m] -> [n, m], one fused pass.
template <expr::Expr A, expr::Expr B>
auto outer(const A& a, const B& b) {
  detail::check_product_operands<A, B>();
  KILN_CHECK(a.shape().size() == 1 && b.shape().size() == 1, ShapeError,
             "[outer] expects 1-D tensors, got shapes ", a.shape(), " and ", b.shape());
  return eval(eval(a).unsqueeze(1) * eval(b).unsqueeze(0));
}

/// beta * input + alpha * (m1 · m2), with input broadcast to [n, m]. When beta is 0,
/// input is not read (NaN in it does not propagate), as in torch.
template <class T, class D>
Tensor<T, D> addmm(const Tensor<T, D>& input, const Tensor<T, D>& m1, const Tensor<T, D>& m2,
                   double beta = 1, double alpha = 1) {
  detail::check_product_operands<Tensor<T, D>, Tensor<T, D>>();
  return detail::addmm_impl(input, m1, m2, beta, alpha, false);
}

/// beta * input + alpha * bmm(b1, b2), with input broadcast to [B, n, m].
template <class T, class D>
Tensor<T, D> baddbmm(const Tensor<T, D>& input, const Tensor<T, D>& b1, const Tensor<T, D>& b2,
                     double beta = 1, double alpha = 1) {
  detail::check_product_operands<Tensor<T, D>, Tensor<T, D>>();
  return detail::addmm_impl(input, b1, b2, beta, alpha, true);
}

/// y = x · wᵀ + bias, as torch.nn.functional.linear: x [..., in], w [out, in], bias [out].
/// w is read through its transpose in place (no copy) and the bias is the GEMM's C.
template <class T, class D>
Tensor<T, D> linear(const Tensor<T, D>& x, const Tensor<T, D>& w, const Tensor<T, D>& bias) {
  detail::check_product_operands<Tensor<T, D>, Tensor<T, D>>();
  return detail::linear_impl(x, w, &bias);
}
/// y = x · wᵀ (no bias).
template <class T, class D>
Tensor<T, D> linear(const Tensor<T, D>& x, const Tensor<T, D>& w) {
  detail::check_product_operands<Tensor<T, D>, Tensor<T, D>>();
  return detail::linear_impl<T>(x, w, nullptr);
}

}  // namespace kiln
