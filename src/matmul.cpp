// SPDX-License-Identifier: BSD-3-Clause
// The matmul family's bodies (declared in kiln/ops/matmul.hpp) and their backward
// (Note [Matmul backward]), instantiated per dtype.
#include "kiln/ops/matmul.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "gemm_dnnl.hpp"
#include "kiln/ops/blas.hpp"

namespace kiln::detail {
namespace {

// How BLAS reads a [rows, cols] matrix with strides (s0, s1): see Note [Matmul operands].
struct BlasView {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};
BlasView blas_view(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  if ((cols <= 1 || s1 == 1) && (rows <= 1 || s0 >= std::max<int64_t>(cols, 1)))
    return {true, false, rows <= 1 ? std::max<int64_t>(cols, 1) : s0};
  if ((rows <= 1 || s0 == 1) && (cols <= 1 || s1 >= std::max<int64_t>(rows, 1)))
    return {true, true, cols <= 1 ? std::max<int64_t>(rows, 1) : s1};
  return {};
}

// A [batch, rows, cols] operand: the matrix layout BLAS sees and the batch stride.
template <class T>
struct Operand {
  const T* data;
  int64_t batch_stride;
  BlasView view;
  Tensor<T, CPU> keep;  // owns a contiguous copy when the view was not BLAS-readable
};
template <class T>
Operand<T> operand(const Tensor<T, CPU>& t3) {
  const int64_t r = t3.shape()[1], c = t3.shape()[2];
  BlasView v = blas_view(r, c, t3.strides()[1], t3.strides()[2]);
  if (v.ok) return {t3.data(), t3.strides()[0], v, t3};
  Tensor<T, CPU> copy = t3.clone();
  return {copy.data(), r * c, blas_view(r, c, c, 1), copy};
}

// Integer product: C = beta * C + alpha * A·B with wrapping arithmetic, strided operands.
template <class T>
void int_gemm(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, T* c, T alpha, T beta) {
  const int64_t batch = a.shape()[0], m = a.shape()[1], k = a.shape()[2], n = b.shape()[2];
  const auto as = a.strides(), bs = b.strides();
  const T* ap = a.data();
  const T* bp = b.data();
  // Unsigned arithmetic wraps like torch's; at least 32 bits so that products of narrow
  // types do not promote to (overflowing) int.
  using U = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
  kiln::parallel_for(batch * m, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, n * k)),
                     1, [&](int64_t lo, int64_t hi) {
                       std::vector<U> acc(n);
                       for (int64_t row = lo; row < hi; ++row) {
                         const int64_t bi = row / m, i = row % m;
                         std::fill(acc.begin(), acc.end(), U(0));
                         for (int64_t p = 0; p < k; ++p) {
                           const U av = U(ap[bi * as[0] + i * as[1] + p * as[2]]);
                           const T* brow = bp + bi * bs[0] + p * bs[1];
                           for (int64_t j = 0; j < n; ++j) acc[j] += av * U(brow[j * bs[2]]);
                         }
                         T* crow = c + row * n;
                         for (int64_t j = 0; j < n; ++j)
                           crow[j] = T(U(beta) * U(crow[j]) + U(alpha) * acc[j]);
                       }
                     });
}

// c[batch, m, n] (contiguous; holds the beta addend when beta != 0) =
// beta * c + alpha * a[batch, m, k] · b[batch, k, n]; a and b may be any strided views.
template <class T>
void product(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, const Tensor<T, CPU>& c,
             double alpha, double beta) {
  const int64_t batch = a.shape()[0], m = a.shape()[1], k = a.shape()[2], n = b.shape()[2];
  if (batch == 0 || m == 0 || n == 0) return;
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    const Operand<T> A = operand(a), B = operand(b);
    blas::gemm_batched<T>(A.view.trans, B.view.trans, batch, m, n, k, T(alpha), A.data, A.view.ld,
                          A.batch_stride, B.data, B.view.ld, B.batch_stride, T(beta), c.data(), n,
                          m * n);
  } else if constexpr (is_reduced_float_v<T>) {
    // Multiply in float and round once (Note [Matmul operands]).
    const Tensor<float, CPU> cf =
        beta != 0 ? c.template to<float>() : Tensor<float, CPU>(c.shape());
    product<float>(a.template to<float>(), b.template to<float>(), cf, alpha, beta);
    c.copy_(kiln::cast<T>(cf));
  } else {
    int_gemm<T>(a, b, c.data(), T(static_cast<int64_t>(alpha)), T(static_cast<int64_t>(beta)));
  }
}

Shape batch_of(const Shape& s) {
  Shape out;
  for (int d = 0; d + 2 < s.size(); ++d) out.push_back(s[d]);
  return out;
}
Shape with_matrix(Shape s, int64_t r, int64_t c) {
  s.push_back(r);
  s.push_back(c);
  return s;
}

// a [batch..., m, k] · b [batch..., k, n] with equal batch shapes (strides may be 0): the
// batch dims are merged where both operands allow, the innermost run goes to one batched
// GEMM and any outer dims are looped over.
template <class T>
Tensor<T, CPU> product_nd(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, const Tensor<T, CPU>& c,
                          double alpha, double beta) {
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
    const Tensor<T, CPU> a3(a.storage(), oa, {inner, m, k},
                            {sa.back(), a.strides()[nb], a.strides()[nb + 1]});
    const Tensor<T, CPU> b3(b.storage(), ob, {inner, k, n},
                            {sb.back(), b.strides()[nb], b.strides()[nb + 1]});
    const Tensor<T, CPU> c3(c.storage(), c.storage_offset() + o * inner * m * n, {inner, m, n},
                            {m * n, n, 1});
    product(a3, b3, c3, alpha, beta);
    for (int d = outer_dims - 1; d >= 0 && ++idx[d] == size[d]; --d) idx[d] = 0;
  }
  return c;
}

void check_inner(const Shape& as, const Shape& bs, int64_t ka, int64_t kb, const char* op) {
  KILN_CHECK(ka == kb, ShapeError, "[", op, "] shapes cannot be multiplied: ", as, " and ", bs,
             " (inner dims ", ka, " and ", kb, " differ)");
}

template <class T>
Tensor<T, CPU> matmul_forward(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b) {
  const int da = a.dim(), db = b.dim();
  KILN_CHECK(da >= 1 && db >= 1, ShapeError,
             "[matmul] both arguments need at least 1 dim, got shapes ", a.shape(), " and ",
             b.shape());
  if (da == 1 && db == 1) return kiln::dot(a, b);
  const Tensor<T, CPU> a2 = da == 1 ? a.unsqueeze(0) : a;
  const Tensor<T, CPU> b2 = db == 1 ? b.unsqueeze(1) : b;
  const int64_t m = a2.shape()[a2.dim() - 2], k = a2.shape()[a2.dim() - 1];
  const int64_t kb = b2.shape()[b2.dim() - 2], n = b2.shape()[b2.dim() - 1];
  check_inner(a.shape(), b.shape(), k, kb, "matmul");
  const Shape batch = broadcast_shapes(batch_of(a2.shape()), batch_of(b2.shape()), "matmul");
  Tensor<T, CPU> c(with_matrix(batch, m, n));
  product_nd(a2.expand(with_matrix(batch, m, k)), b2.expand(with_matrix(batch, k, n)), c, 1.0, 0.0);
  // Drop the dims that stood in for a 1-D operand.
  Shape out = batch;
  if (da != 1) out.push_back(m);
  if (db != 1) out.push_back(n);
  return c.view(out);
}

template <class T>
Tensor<T, CPU> bmm_forward(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, const char* op) {
  KILN_CHECK(a.dim() == 3 && b.dim() == 3, ShapeError, "[", op,
             "] expects 3-D operands [batch, n, k] and [batch, k, m], got shapes ", a.shape(),
             " and ", b.shape());
  KILN_CHECK(a.shape()[0] == b.shape()[0], ShapeError, "[", op, "] batch sizes differ: shapes ",
             a.shape(), " and ", b.shape());
  check_inner(a.shape(), b.shape(), a.shape()[2], b.shape()[1], op);
  Tensor<T, CPU> c({a.shape()[0], a.shape()[1], b.shape()[2]});
  product(a, b, c, 1.0, 0.0);
  return c;
}

template <class T>
Tensor<T, CPU> addmm_forward(const Tensor<T, CPU>& input, const Tensor<T, CPU>& a,
                             const Tensor<T, CPU>& b, double beta, double alpha, bool batched) {
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
  const Tensor<T, CPU> c = beta != 0 ? input.expand(out_shape).clone() : Tensor<T, CPU>(out_shape);
  if (batched)
    product(a, b, c, alpha, beta);
  else
    product(a.unsqueeze(0), b.unsqueeze(0), c.unsqueeze(0), alpha, beta);
  return c;
}

template <class T>
Tensor<T, CPU> linear_forward(const Tensor<T, CPU>& x, const Tensor<T, CPU>& w,
                              const Tensor<T, CPU>* bias) {
  KILN_CHECK(w.dim() == 2, ShapeError,
             "[linear] weight must be 2-D [out_features, in_features], got ", w.shape());
  const int64_t out_f = w.shape()[0], in_f = w.shape()[1];
  KILN_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == in_f, ShapeError,
             "[linear] input's last dim must equal in_features: input ", x.shape(), ", weight ",
             w.shape());
  KILN_CHECK(!bias || (bias->dim() == 1 && bias->shape()[0] == out_f), ShapeError,
             "[linear] bias must be 1-D of length out_features = ", out_f, ", got ",
             bias ? bias->shape() : Shape{});
  int64_t rows_of_shape = 1;
  for (int d = 0; d + 1 < x.dim(); ++d) rows_of_shape *= x.shape()[d];
  const Tensor<T, CPU> x2 = x.reshape({rows_of_shape, in_f});
  const Shape c_shape{rows_of_shape, out_f};
  Shape out = x.shape();
  out[out.size() - 1] = out_f;
  if constexpr (std::is_same_v<T, float>) {
    // The bias in the GEMM's epilogue: no pass over C to preload it. oneDNN 2.6 reads a
    // strided bias as if it were dense (the test caught it), so only a contiguous one.
    if (bias && bias->numel() > 0 && bias->is_contiguous()) {
      const Operand<T> A = operand(x2.unsqueeze(0)), B = operand(w.t().unsqueeze(0));
      Tensor<T, CPU> c(c_shape);
      if (blas::detail::sgemm_bias(A.view.trans, B.view.trans, rows_of_shape, out_f, in_f, A.data,
                                   A.view.ld, B.data, B.view.ld, bias->data(), c.data(), out_f))
        return c.view(out);
    }
  }
  const Tensor<T, CPU> c = bias ? bias->expand(c_shape).clone() : Tensor<T, CPU>(c_shape);
  product(x2.unsqueeze(0), w.t().unsqueeze(0), c.unsqueeze(0), 1.0, bias ? 1.0 : 0.0);
  return c.view(out);
}

// Note [Matmul backward]
// For c = a · b with a [..., m, k] and b [..., k, n] (a 1-D a read as [1, k], a 1-D b as
// [k, 1], and the gradient g given back the dims the result dropped):
//   ga = sum_to(g · bᵀ, a's shape)      gb = sum_to(aᵀ · g, b's shape)
// where sum_to reduces the batch dims an operand was broadcast over. mm, mv, bmm, dot (a
// matmul of 1-D operands), addmm, baddbmm and linear are this product with scalar factors
// alpha and beta. The formulas are written with matmul, transpose, unsqueeze, reshape and
// sum_to, all recorded ops, so under create_graph the backward records a graph of its
// own and every product is differentiable to any order. Each operand is saved only when
// the other one needs a gradient.

template <class T>
Tensor<T, CPU> scaled(const Tensor<T, CPU>& t, double s) {
  return s == 1 ? t : Tensor<T, CPU>(t * s);
}

// The gradients of alpha * (a · b) given g (undefined where not needed); a is only read
// when need_b, b only when need_a.
template <class T>
std::pair<Tensor<T, CPU>, Tensor<T, CPU>> product_grads(const Tensor<T, CPU>& g,
                                                        const Tensor<T, CPU>& a,
                                                        const Tensor<T, CPU>& b, const Shape& as,
                                                        const Shape& bs, bool need_a, bool need_b,
                                                        double alpha) {
  // g2 [..., m, n]: the dims that stood in for a 1-D operand put back.
  Tensor<T, CPU> g2 = scaled(g, alpha);
  if (bs.size() == 1) g2 = g2.unsqueeze(g2.dim());
  if (as.size() == 1) g2 = g2.unsqueeze(g2.dim() - 1);
  Tensor<T, CPU> ga, gb;
  if (need_a) {
    const Tensor<T, CPU> b2 = bs.size() == 1 ? b.unsqueeze(1) : b;
    const Shape as2 = as.size() == 1 ? Shape{1, as[0]} : as;
    ga = autograd::sum_to(kiln::matmul(g2, b2.transpose(-2, -1)), as2).reshape(as);
  }
  if (need_b) {
    const Tensor<T, CPU> a2 = as.size() == 1 ? a.unsqueeze(0) : a;
    const Shape bs2 = bs.size() == 1 ? Shape{bs[0], 1} : bs;
    gb = autograd::sum_to(kiln::matmul(a2.transpose(-2, -1), g2), bs2).reshape(bs);
  }
  return {std::move(ga), std::move(gb)};
}

// Records out = a · b (Note [Matmul backward]).
template <class T>
void record_product(Tensor<T, CPU>& out, const Tensor<T, CPU>& a, const Tensor<T, CPU>& b,
                    const char* name) {
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  autograd::record(name, out, autograd::collect_edges(a, b),
                   [sa = need_b ? autograd::save(a) : autograd::SavedTensor<T, CPU>(),
                    sb = need_a ? autograd::save(b) : autograd::SavedTensor<T, CPU>(),
                    as = a.shape(), bs = b.shape(), need_a, need_b](std::vector<AnyTensor>& g) {
                     auto [ga, gb] = product_grads(g[0].as<T, CPU>(), sa.unpack(), sb.unpack(), as,
                                                   bs, need_a, need_b, 1.0);
                     return autograd::grads(std::move(ga), std::move(gb));
                   });
}

const char* product_name(int da, int db) {
  if (da == 1 && db == 1) return "DotBackward";
  if (da == 2 && db == 2) return "MmBackward";
  if (da == 2 && db == 1) return "MvBackward";
  return "MatmulBackward";
}

}  // namespace

template <class T>
Tensor<T, CPU> matmul_impl(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = matmul_forward(a, b);
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(a, b)) record_product(out, a, b, product_name(a.dim(), b.dim()));
  return out;
}

template <class T>
Tensor<T, CPU> bmm_impl(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, const char* op) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = bmm_forward(a, b, op);
  }
  if constexpr (is_floating_v<T>)
    if (autograd::needs_grad(a, b)) record_product(out, a, b, "BmmBackward");
  return out;
}

template <class T>
Tensor<T, CPU> addmm_impl(const Tensor<T, CPU>& input, const Tensor<T, CPU>& a,
                          const Tensor<T, CPU>& b, double beta, double alpha, bool batched) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = addmm_forward(input, a, b, beta, alpha, batched);
  }
  if constexpr (is_floating_v<T>) {
    if (autograd::needs_grad(input, a, b)) {
      // With beta == 0 the input is not read, and its gradient is zero.
      const bool need_in = input.requires_grad() && beta != 0;
      const bool need_a = a.requires_grad(), need_b = b.requires_grad();
      autograd::record(
          batched ? "BaddbmmBackward" : "AddmmBackward", out, autograd::collect_edges(input, a, b),
          [sa = need_b ? autograd::save(a) : autograd::SavedTensor<T, CPU>(),
           sb = need_a ? autograd::save(b) : autograd::SavedTensor<T, CPU>(),
           in_shape = input.shape(), as = a.shape(), bs = b.shape(), need_in, need_a, need_b, beta,
           alpha](std::vector<AnyTensor>& g) {
            const Tensor<T, CPU>& go = g[0].as<T, CPU>();
            Tensor<T, CPU> gi;
            if (need_in) gi = autograd::sum_to(scaled(go, beta), in_shape);
            auto [ga, gb] =
                product_grads(go, sa.unpack(), sb.unpack(), as, bs, need_a, need_b, alpha);
            return autograd::grads(std::move(gi), std::move(ga), std::move(gb));
          });
    }
  }
  return out;
}

template <class T>
Tensor<T, CPU> linear_impl(const Tensor<T, CPU>& x, const Tensor<T, CPU>& w,
                           const Tensor<T, CPU>* bias) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = linear_forward(x, w, bias);
  }
  if constexpr (is_floating_v<T>) {
    const Tensor<T, CPU> b = bias ? *bias : Tensor<T, CPU>();
    if (autograd::needs_grad(x, w, b)) {
      // y = x · wᵀ + b: gx = g · w, gw = gᵀ · x over all rows, gb = g summed over rows.
      const bool need_x = x.requires_grad(), need_w = w.requires_grad();
      const bool need_b = b.requires_grad();
      autograd::record(
          "LinearBackward", out, autograd::collect_edges(x, w, b),
          [sx = need_w ? autograd::save(x) : autograd::SavedTensor<T, CPU>(),
           sw = need_x ? autograd::save(w) : autograd::SavedTensor<T, CPU>(), out_f = w.shape()[0],
           in_f = w.shape()[1], need_x, need_w, need_b](std::vector<AnyTensor>& g) {
            const Tensor<T, CPU>& go = g[0].as<T, CPU>();  // [..., out_f]
            Tensor<T, CPU> gx, gw, gb;
            if (need_x) gx = kiln::matmul(go, sw.unpack());
            if (need_w)
              gw = kiln::matmul(go.reshape({-1, out_f}).t(), sx.unpack().reshape({-1, in_f}));
            if (need_b) gb = autograd::sum_to(go, Shape{out_f});
            return autograd::grads(std::move(gx), std::move(gw), std::move(gb));
          });
    }
  }
  return out;
}

#define KILN_MATMUL_INSTANTIATE(T)                                                                \
  template Tensor<T, CPU> matmul_impl<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&);           \
  template Tensor<T, CPU> bmm_impl<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&, const char*); \
  template Tensor<T, CPU> addmm_impl<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,             \
                                        const Tensor<T, CPU>&, double, double, bool);             \
  template Tensor<T, CPU> linear_impl<T>(const Tensor<T, CPU>&, const Tensor<T, CPU>&,            \
                                         const Tensor<T, CPU>*);
KILN_MATMUL_INSTANTIATE(float)
KILN_MATMUL_INSTANTIATE(double)
KILN_MATMUL_INSTANTIATE(half)
KILN_MATMUL_INSTANTIATE(bfloat16)
KILN_MATMUL_INSTANTIATE(uint8_t)
KILN_MATMUL_INSTANTIATE(int8_t)
KILN_MATMUL_INSTANTIATE(int16_t)
KILN_MATMUL_INSTANTIATE(int32_t)
KILN_MATMUL_INSTANTIATE(int64_t)

}  // namespace kiln::detail
