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
#include "matmul_forward.hpp"

namespace kiln::detail {
namespace {

using gemm_shapes::linear_shapes;
using gemm_shapes::LinearShapes;
using gemm_shapes::operand;

// The CPU's product of 3-D operands (the `Product` of matmul_forward.hpp).
template <class T>
void product(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, const Tensor<T, CPU>& c,
             double alpha, double beta);
struct CpuProduct {
  template <class T>
  void operator()(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, const Tensor<T, CPU>& c,
                  double alpha, double beta) const {
    product(a, b, c, alpha, beta);
  }
};

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
    const auto A = operand(a), B = operand(b);
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

template <class T>
Tensor<T, CPU> matmul_forward(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b) {
  return gemm_shapes::matmul_forward(a, b, CpuProduct{});
}
template <class T>
Tensor<T, CPU> bmm_forward(const Tensor<T, CPU>& a, const Tensor<T, CPU>& b, const char* op) {
  return gemm_shapes::bmm_forward(a, b, op, CpuProduct{});
}
template <class T>
Tensor<T, CPU> addmm_forward(const Tensor<T, CPU>& input, const Tensor<T, CPU>& a,
                             const Tensor<T, CPU>& b, double beta, double alpha, bool batched) {
  return gemm_shapes::addmm_forward(input, a, b, beta, alpha, batched, CpuProduct{});
}

template <class T>
Tensor<T, CPU> linear_forward(const Tensor<T, CPU>& x, const Tensor<T, CPU>& w,
                              const Tensor<T, CPU>* bias) {
  const LinearShapes<T, CPU> s = linear_shapes(x, w, bias);
  if constexpr (std::is_same_v<T, float>) {
    // The bias in the GEMM's epilogue: no pass over C to preload it. oneDNN 2.6 reads a
    // strided bias as if it were dense (the test caught it), so only a contiguous one.
    if (bias && bias->numel() > 0 && bias->is_contiguous()) {
      const auto A = operand(s.x2.unsqueeze(0)), B = operand(w.t().unsqueeze(0));
      Tensor<T, CPU> c(s.c_shape);
      if (blas::detail::sgemm_bias(A.view.trans, B.view.trans, s.rows, s.out_f, s.in_f, A.data,
                                   A.view.ld, B.data, B.view.ld, bias->data(), c.data(), s.out_f))
        return c.view(s.out);
    }
  }
  return gemm_shapes::linear_forward(s, w, bias, CpuProduct{});
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
