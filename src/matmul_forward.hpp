// SPDX-License-Identifier: BSD-3-Clause
// The matmul family's forward shape logic for any device: torch.matmul's broadcasting,
// batch dims merged into strided batched GEMMs, addmm/baddbmm and linear. Each device
// supplies the product of 3-D operands (src/matmul.cpp: BLAS on the CPU; cuda/matmul.cu:
// cuBLAS), so the rules are written once.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kiln/ops/matmul.hpp"

namespace kiln::detail::gemm_shapes {

// How a BLAS reads a [rows, cols] matrix with strides (s0, s1): see Note [Matmul operands].
struct BlasView {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};
inline BlasView blas_view(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  if ((cols <= 1 || s1 == 1) && (rows <= 1 || s0 >= std::max<int64_t>(cols, 1)))
    return {true, false, rows <= 1 ? std::max<int64_t>(cols, 1) : s0};
  if ((rows <= 1 || s0 == 1) && (cols <= 1 || s1 >= std::max<int64_t>(rows, 1)))
    return {true, true, cols <= 1 ? std::max<int64_t>(rows, 1) : s1};
  return {};
}

// A [batch, rows, cols] operand: the matrix layout a BLAS sees and the batch stride.
template <class T, class D>
struct Operand {
  const T* data;
  int64_t batch_stride;
  BlasView view;
  Tensor<T, D> keep;  // owns a contiguous copy when the view was not BLAS-readable
};
template <class T, class D>
Operand<T, D> operand(const Tensor<T, D>& t3) {
  const int64_t r = t3.shape()[1], c = t3.shape()[2];
  const BlasView v = blas_view(r, c, t3.strides()[1], t3.strides()[2]);
  if (v.ok) return {t3.data(), t3.strides()[0], v, t3};
  Tensor<T, D> copy = t3.clone();
  return {copy.data(), r * c, blas_view(r, c, c, 1), copy};
}

inline Shape batch_of(const Shape& s) {
  Shape out;
  for (int d = 0; d + 2 < s.size(); ++d) out.push_back(s[d]);
  return out;
}
inline Shape with_matrix(Shape s, int64_t r, int64_t c) {
  s.push_back(r);
  s.push_back(c);
  return s;
}

inline void check_inner(const Shape& as, const Shape& bs, int64_t ka, int64_t kb, const char* op) {
  KILN_CHECK(ka == kb, ShapeError, "[", op, "] shapes cannot be multiplied: ", as, " and ", bs,
             " (inner dims ", ka, " and ", kb, " differ)");
}

// `Product` computes c[batch, m, n] (contiguous; holds the beta addend when beta != 0) =
// beta * c + alpha * a[batch, m, k] · b[batch, k, n] for strided a and b:
//   product(a, b, c, alpha, beta)

// a [batch..., m, k] · b [batch..., k, n] with equal batch shapes (strides may be 0): the
// batch dims are merged where both operands allow, the innermost run goes to one batched
// GEMM and any outer dims are looped over.
template <class T, class D, class Product>
Tensor<T, D> product_nd(const Tensor<T, D>& a, const Tensor<T, D>& b, const Tensor<T, D>& c,
                        double alpha, double beta, Product product) {
  const int nb = a.dim() - 2;
  const int64_t m = a.shape()[nb], k = a.shape()[nb + 1], n = b.shape()[nb + 1];
  // Merged batch dims: sizes and the strides of a and b (c is contiguous).
  std::vector<int64_t> size, sa, sb;
  for (int d = 0; d < nb; ++d) {
    const int64_t z = a.shape()[d];
    if (z == 1) continue;
    if (!size.empty() && sa.back() == a.strides()[d] * z && sb.back() == b.strides()[d] * z) {
      size.back() *= z;
      sa.back() = a.strides()[d];
      sb.back() = b.strides()[d];
    } else {
      size.push_back(z);
      sa.push_back(a.strides()[d]);
      sb.push_back(b.strides()[d]);
    }
  }
  if (size.empty()) {
    size.push_back(1);
    sa.push_back(0);
    sb.push_back(0);
  }
  const int outer_dims = static_cast<int>(size.size()) - 1;
  const int64_t inner = size.back();
  int64_t outer = 1;
  for (int d = 0; d < outer_dims; ++d) outer *= size[d];
  std::vector<int64_t> idx(outer_dims, 0);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t oa = a.storage_offset(), ob = b.storage_offset();
    for (int d = 0; d < outer_dims; ++d) {
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    const Tensor<T, D> a3(a.storage(), oa, {inner, m, k},
                          {sa.back(), a.strides()[nb], a.strides()[nb + 1]});
    const Tensor<T, D> b3(b.storage(), ob, {inner, k, n},
                          {sb.back(), b.strides()[nb], b.strides()[nb + 1]});
    const Tensor<T, D> c3(c.storage(), c.storage_offset() + o * inner * m * n, {inner, m, n},
                          {m * n, n, 1});
    product(a3, b3, c3, alpha, beta);
    for (int d = outer_dims - 1; d >= 0 && ++idx[d] == size[d]; --d) idx[d] = 0;
  }
  return c;
}

template <class T, class D, class Product>
Tensor<T, D> matmul_forward(const Tensor<T, D>& a, const Tensor<T, D>& b, Product product) {
  const int da = a.dim(), db = b.dim();
  KILN_CHECK(da >= 1 && db >= 1, ShapeError,
             "[matmul] both arguments need at least 1 dim, got shapes ", a.shape(), " and ",
             b.shape());
  if constexpr (std::is_same_v<D, CPU>)
    if (da == 1 && db == 1) return kiln::dot(a, b);
  const Tensor<T, D> a2 = da == 1 ? a.unsqueeze(0) : a;
  const Tensor<T, D> b2 = db == 1 ? b.unsqueeze(1) : b;
  const int64_t m = a2.shape()[a2.dim() - 2], k = a2.shape()[a2.dim() - 1];
  const int64_t kb = b2.shape()[b2.dim() - 2], n = b2.shape()[b2.dim() - 1];
  check_inner(a.shape(), b.shape(), k, kb, "matmul");
  const Shape batch = broadcast_shapes(batch_of(a2.shape()), batch_of(b2.shape()), "matmul");
  Tensor<T, D> c(with_matrix(batch, m, n));
  product_nd(a2.expand(with_matrix(batch, m, k)), b2.expand(with_matrix(batch, k, n)), c, 1.0, 0.0,
             product);
  // Drop the dims that stood in for a 1-D operand.
  Shape out = batch;
  if (da != 1) out.push_back(m);
  if (db != 1) out.push_back(n);
  return c.view(out);
}

template <class T, class D, class Product>
Tensor<T, D> bmm_forward(const Tensor<T, D>& a, const Tensor<T, D>& b, const char* op,
                         Product product) {
  KILN_CHECK(a.dim() == 3 && b.dim() == 3, ShapeError, "[", op,
             "] expects 3-D operands [batch, n, k] and [batch, k, m], got shapes ", a.shape(),
             " and ", b.shape());
  KILN_CHECK(a.shape()[0] == b.shape()[0], ShapeError, "[", op, "] batch sizes differ: shapes ",
             a.shape(), " and ", b.shape());
  check_inner(a.shape(), b.shape(), a.shape()[2], b.shape()[1], op);
  Tensor<T, D> c({a.shape()[0], a.shape()[1], b.shape()[2]});
  product(a, b, c, 1.0, 0.0);
  return c;
}

template <class T, class D, class Product>
Tensor<T, D> addmm_forward(const Tensor<T, D>& input, const Tensor<T, D>& a, const Tensor<T, D>& b,
                           double beta, double alpha, bool batched, Product product) {
  const char* op = batched ? "baddbmm" : "addmm";
  if constexpr (std::is_integral_v<T>)
    KILN_CHECK(beta == std::trunc(beta) && alpha == std::trunc(alpha), ValueError, "[", op,
               "] for integer tensors, beta and alpha must be whole numbers, got beta=", beta,
               ", alpha=", alpha);
  const int rank = batched ? 3 : 2;
  KILN_CHECK(a.dim() == rank && b.dim() == rank, ShapeError, "[", op, "] expects ", rank,
             "-D operands, got shapes ", a.shape(), " and ", b.shape());
  KILN_CHECK(!batched || a.shape()[0] == b.shape()[0], ShapeError, "[", op,
             "] batch sizes differ: shapes ", a.shape(), " and ", b.shape());
  check_inner(a.shape(), b.shape(), a.shape()[rank - 1], b.shape()[rank - 2], op);
  Shape out_shape = batched ? Shape{a.shape()[0]} : Shape{};
  out_shape.push_back(a.shape()[rank - 2]);
  out_shape.push_back(b.shape()[rank - 1]);
  KILN_CHECK(broadcasts_to(input.shape(), out_shape), ShapeError, "[", op, "] input of shape ",
             input.shape(), " does not broadcast to the product's shape ", out_shape);
  // With beta == 0 the input is ignored, NaN included (torch's rule).
  const Tensor<T, D> c = beta != 0 ? input.expand(out_shape).clone() : Tensor<T, D>(out_shape);
  if (batched)
    product(a, b, c, alpha, beta);
  else
    product(a.unsqueeze(0), b.unsqueeze(0), c.unsqueeze(0), alpha, beta);
  return c;
}

// linear's operands checked and flattened: x2 [rows, in_f] · wᵀ -> c [rows, out_f], viewed
// as `out` (x's shape with the last dim out_f).
template <class T, class D>
struct LinearShapes {
  Tensor<T, D> x2;
  int64_t rows, out_f, in_f;
  Shape c_shape, out;
};
template <class T, class D>
LinearShapes<T, D> linear_shapes(const Tensor<T, D>& x, const Tensor<T, D>& w,
                                 const Tensor<T, D>* bias) {
  KILN_CHECK(w.dim() == 2, ShapeError,
             "[linear] weight must be 2-D [out_features, in_features], got ", w.shape());
  const int64_t out_f = w.shape()[0], in_f = w.shape()[1];
  KILN_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == in_f, ShapeError,
             "[linear] input's last dim must equal in_features: input ", x.shape(), ", weight ",
             w.shape());
  KILN_CHECK(!bias || (bias->dim() == 1 && bias->shape()[0] == out_f), ShapeError,
             "[linear] bias must be 1-D of length out_features = ", out_f, ", got ",
             bias ? bias->shape() : Shape{});
  int64_t rows = 1;
  for (int d = 0; d + 1 < x.dim(); ++d) rows *= x.shape()[d];
  Shape out = x.shape();
  out[out.size() - 1] = out_f;
  return {x.reshape({rows, in_f}), rows, out_f, in_f, Shape{rows, out_f}, out};
}

/// linear as a GEMM whose C starts as the broadcast bias.
template <class T, class D, class Product>
Tensor<T, D> linear_forward(const LinearShapes<T, D>& s, const Tensor<T, D>& w,
                            const Tensor<T, D>* bias, Product product) {
  const Tensor<T, D> c = bias ? bias->expand(s.c_shape).clone() : Tensor<T, D>(s.c_shape);
  product(s.x2.unsqueeze(0), w.t().unsqueeze(0), c.unsqueeze(0), 1.0, bias ? 1.0 : 0.0);
  return c.view(s.out);
}

}  // namespace kiln::detail::gemm_shapes
