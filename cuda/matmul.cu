// SPDX-License-Identifier: BSD-3-Clause
// The matmul family on CUDA tensors: torch.matmul's shape rules (src/matmul_forward.hpp,
// shared with the CPU) over cuBLAS's strided batched GEMM.
#include <cublas_v2.h>

#include <climits>
#include <unordered_map>

#include "../src/matmul_forward.hpp"
#include "device_scope.hpp"
#include "kiln/cuda/copy.hpp"
#include "kiln/cuda/gemm.hpp"

namespace kiln::cuda::detail {

// Note [cuBLAS calls]
// - Handles: one per (thread, device), created on first use and kept for the thread's
//   life (cuBLAS handles are not thread-safe, and creating one costs milliseconds). Each
//   call binds the handle to the thread's current stream, so GEMMs are ordered with the
//   kernels around them.
// - Layout: kiln is row-major and cuBLAS column-major. Row-major C = A·B is column-major
//   Cᵀ = Bᵀ·Aᵀ, and a row-major matrix read column-major is its transpose, so the call
//   passes B first, then A, with m and n swapped: no copy. A transposed view (a .t(), a
//   column slice) is the other op (Note [Matmul operands]).
// - Precision: float is computed in float (no TF32, as torch's default), half and
//   bfloat16 accumulate in float, double in double.

namespace {

void check_cublas(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) [[likely]]
    return;
  ::kiln::detail::throw_message<DeviceError>({"[cublas] ", what,
                                              " failed: ", cublasGetStatusName(status), ": ",
                                              cublasGetStatusString(status)});
}

class HandlePool {
 public:
  ~HandlePool() {
    for (auto& [device, handle] : handles_) cublasDestroy(handle);
  }
  cublasHandle_t get(int device) {
    auto it = handles_.find(device);
    if (it != handles_.end()) return it->second;
    cublasHandle_t h = nullptr;
    check_cublas(cublasCreate(&h), "cublasCreate");
    handles_.emplace(device, h);
    return h;
  }

 private:
  std::unordered_map<int, cublasHandle_t> handles_;
};

cublasHandle_t cublas_handle(int device) {
  thread_local HandlePool pool;
  cublasHandle_t h = pool.get(device);
  check_cublas(cublasSetStream(h, current_stream_handle(device)), "cublasSetStream");
  return h;
}

template <class T>
struct GemmTypes;
template <>
struct GemmTypes<float> {
  static constexpr cudaDataType_t data = CUDA_R_32F;
  static constexpr cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  using Scale = float;
};
template <>
struct GemmTypes<double> {
  static constexpr cudaDataType_t data = CUDA_R_64F;
  static constexpr cublasComputeType_t compute = CUBLAS_COMPUTE_64F;
  using Scale = double;
};
template <>
struct GemmTypes<half> {
  static constexpr cudaDataType_t data = CUDA_R_16F;
  static constexpr cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  using Scale = float;
};
template <>
struct GemmTypes<bfloat16> {
  static constexpr cudaDataType_t data = CUDA_R_16BF;
  static constexpr cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  using Scale = float;
};

int checked_int(int64_t v, const char* what) {
  KILN_CHECK(v >= 0 && v <= INT_MAX, ValueError, "[matmul] ", what, " = ", v,
             " exceeds cuBLAS's 32-bit limit");
  return static_cast<int>(v);
}

}  // namespace

template <class T>
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t batch, int64_t m, int64_t n,
                          int64_t k, double alpha, const T* a, int64_t lda, int64_t stride_a,
                          const T* b, int64_t ldb, int64_t stride_b, double beta, T* c, int64_t ldc,
                          int64_t stride_c, int device) {
  if (batch == 0 || m == 0 || n == 0) return;
  using G = GemmTypes<T>;
  const typename G::Scale al = static_cast<typename G::Scale>(alpha);
  const typename G::Scale be = static_cast<typename G::Scale>(beta);
  DeviceScope scope(device);
  cublasHandle_t h = cublas_handle(device);
  // Column-major Cᵀ[n, m] = op(B)ᵀ · op(A)ᵀ (Note [cuBLAS calls]). k = 0 still scales C.
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int in = checked_int(n, "n"), im = checked_int(m, "m"), ik = checked_int(k, "k");
  const int ia = checked_int(std::max<int64_t>(lda, 1), "lda");
  const int ib = checked_int(std::max<int64_t>(ldb, 1), "ldb");
  const int ic = checked_int(std::max<int64_t>(ldc, 1), "ldc");
  if (batch == 1) {  // the plain GEMM: the same kernels as a direct cublasGemmEx call
    check_cublas(cublasGemmEx(h, op_b, op_a, in, im, ik, &al, b, G::data, ib, a, G::data, ia, &be,
                              c, G::data, ic, G::compute, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
    return;
  }
  check_cublas(
      cublasGemmStridedBatchedEx(h, op_b, op_a, in, im, ik, &al, b, G::data, ib, stride_b, a,
                                 G::data, ia, stride_a, &be, c, G::data, ic, stride_c,
                                 checked_int(batch, "batch"), G::compute, CUBLAS_GEMM_DEFAULT),
      "cublasGemmStridedBatchedEx");
}

#define KILN_GEMM_INSTANTIATE(T)                                                                \
  template void gemm_strided_batched<T>(bool, bool, int64_t, int64_t, int64_t, int64_t, double, \
                                        const T*, int64_t, int64_t, const T*, int64_t, int64_t, \
                                        double, T*, int64_t, int64_t, int);
KILN_GEMM_INSTANTIATE(float)
KILN_GEMM_INSTANTIATE(double)
KILN_GEMM_INSTANTIATE(half)
KILN_GEMM_INSTANTIATE(bfloat16)
#undef KILN_GEMM_INSTANTIATE

}  // namespace kiln::cuda::detail

namespace kiln::detail {
namespace {

using gemm_shapes::operand;

// The `Product` of matmul_forward.hpp: one strided batched GEMM.
struct CudaProduct {
  template <class T>
  void operator()(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b, const Tensor<T, CUDA>& c,
                  double alpha, double beta) const {
    const int64_t batch = a.shape()[0], m = a.shape()[1], k = a.shape()[2], n = b.shape()[2];
    if (batch == 0 || m == 0 || n == 0) return;
    const auto A = operand(a), B = operand(b);
    cuda::detail::gemm_strided_batched<T>(A.view.trans, B.view.trans, batch, m, n, k, alpha, A.data,
                                          A.view.ld, A.batch_stride, B.data, B.view.ld,
                                          B.batch_stride, beta, c.data(), n, m * n, c.get_device());
  }
};

// Checks that a and b are on one device, and makes it current: the result is allocated
// there.
template <class T>
cuda::detail::DeviceScope on_device_of(const char* op, const Tensor<T, CUDA>& a,
                                       const Tensor<T, CUDA>& b) {
  check_same_device(op, a, b);
  return cuda::detail::DeviceScope(a.get_device());
}

}  // namespace

// Gradients of CUDA tensors are not recorded yet (autograd/fwd.hpp refuses requires_grad_
// on them), so these are the forward passes only.
template <class T>
Tensor<T, CUDA> matmul_impl(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b) {
  const auto scope = on_device_of("matmul", a, b);
  return gemm_shapes::matmul_forward(a, b, CudaProduct{});
}
template <class T>
Tensor<T, CUDA> bmm_impl(const Tensor<T, CUDA>& a, const Tensor<T, CUDA>& b, const char* op) {
  const auto scope = on_device_of(op, a, b);
  return gemm_shapes::bmm_forward(a, b, op, CudaProduct{});
}
template <class T>
Tensor<T, CUDA> addmm_impl(const Tensor<T, CUDA>& input, const Tensor<T, CUDA>& a,
                           const Tensor<T, CUDA>& b, double beta, double alpha, bool batched) {
  check_same_device(batched ? "baddbmm" : "addmm", input, a);
  const auto scope = on_device_of(batched ? "baddbmm" : "addmm", a, b);
  return gemm_shapes::addmm_forward(input, a, b, beta, alpha, batched, CudaProduct{});
}
template <class T>
Tensor<T, CUDA> linear_impl(const Tensor<T, CUDA>& x, const Tensor<T, CUDA>& w,
                            const Tensor<T, CUDA>* bias) {
  if (bias) check_same_device("linear", *bias, w);
  const auto scope = on_device_of("linear", x, w);
  return gemm_shapes::linear_forward(gemm_shapes::linear_shapes(x, w, bias), w, bias,
                                     CudaProduct{});
}

#define KILN_CUDA_MATMUL_INSTANTIATE(T)                                                    \
  template Tensor<T, CUDA> matmul_impl<T>(const Tensor<T, CUDA>&, const Tensor<T, CUDA>&); \
  template Tensor<T, CUDA> bmm_impl<T>(const Tensor<T, CUDA>&, const Tensor<T, CUDA>&,     \
                                       const char*);                                       \
  template Tensor<T, CUDA> addmm_impl<T>(const Tensor<T, CUDA>&, const Tensor<T, CUDA>&,   \
                                         const Tensor<T, CUDA>&, double, double, bool);    \
  template Tensor<T, CUDA> linear_impl<T>(const Tensor<T, CUDA>&, const Tensor<T, CUDA>&,  \
                                          const Tensor<T, CUDA>*);
KILN_CUDA_MATMUL_INSTANTIATE(float)
KILN_CUDA_MATMUL_INSTANTIATE(double)
KILN_CUDA_MATMUL_INSTANTIATE(half)
KILN_CUDA_MATMUL_INSTANTIATE(bfloat16)
#undef KILN_CUDA_MATMUL_INSTANTIATE

}  // namespace kiln::detail
