// SPDX-License-Identifier: BSD-3-Clause
// CUDA GEMM benchmark: kiln::matmul on [4096, 4096] float and bfloat16 CUDA tensors
// against cublasGemmEx called directly with the same types, in one run on one GPU.
// kiln's products are cuBLAS underneath (cuda/matmul.cu): this measures what kiln's
// shape handling, allocation and dispatch cost on top. Target: >= 0.95x cuBLAS.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#include "kiln/cuda/runtime.hpp"
#include "kiln/cuda/stream.hpp"
#include "kiln/kiln.hpp"
#include "timing.hpp"

namespace {

template <class T>
struct CublasType;
template <>
struct CublasType<float> {
  static constexpr cudaDataType_t value = CUDA_R_32F;
  static constexpr const char* name = "float";
};
template <>
struct CublasType<kiln::bfloat16> {
  static constexpr cudaDataType_t value = CUDA_R_16BF;
  static constexpr const char* name = "bfloat16";
};

// Prints one row; returns false when kiln's product differs from cuBLAS's.
template <class T>
bool compare(cublasHandle_t handle, int64_t n) {
  kiln::manual_seed(0);
  const auto a = kiln::randn<T>({n, n}).template to<kiln::CUDA>();
  const auto b = kiln::randn<T>({n, n}).template to<kiln::CUDA>();
  kiln::Tensor<T, kiln::CUDA> c({n, n});
  kiln::Tensor<T, kiln::CUDA> k;
  const float one = 1, zero = 0;
  const int in = static_cast<int>(n);
  // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: B first.
  auto direct = [&] {
    cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, in, in, in, &one, b.data(), CublasType<T>::value,
                 in, a.data(), CublasType<T>::value, in, &zero, c.data(), CublasType<T>::value, in,
                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  };
  const double cublas_ms = kiln_bench::time_ms(direct);
  const double kiln_ms = kiln_bench::time_ms([&] { k = kiln::matmul(a, b); });
  const double flop = 2.0 * n * n * n;
  const auto kh = k.template to<kiln::CPU>(), ch = c.template to<kiln::CPU>();
  double diff = 0, scale = 1;
  for (int64_t i = 0; i < kh.numel(); ++i) {
    diff = std::max(diff, std::abs(double(kh.data()[i]) - double(ch.data()[i])));
    scale = std::max(scale, std::abs(double(ch.data()[i])));
  }
  std::printf("| %s %lld | %.3f | %.1f | %.3f | %.1f | %.3f |\n", CublasType<T>::name,
              static_cast<long long>(n), kiln_ms, flop / kiln_ms / 1e9, cublas_ms,
              flop / cublas_ms / 1e9, cublas_ms / kiln_ms);
  return diff / scale < (std::is_same_v<T, float> ? 1e-5 : 1e-2);
}

}  // namespace

int main(int argc, char** argv) {
  if (!kiln::cuda::is_available()) {
    std::printf("bench_cuda_gemm: no CUDA device, nothing to measure\n");
    return 0;
  }
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 4096;
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s\n", prop.name);
  cublasHandle_t handle = nullptr;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return 1;
  cublasSetStream(handle, kiln::cuda::current_stream().handle());
  std::printf(
      "| dtype n | kiln ms | kiln TFLOP/s | cuBLAS ms | cuBLAS TFLOP/s | kiln speed vs cuBLAS |\n");
  std::printf("|---|---|---|---|---|---|\n");
  bool same = compare<float>(handle, n);
  same = compare<kiln::bfloat16>(handle, n) && same;
  cublasDestroy(handle);
  std::printf("kiln's products %s cuBLAS's\n", same ? "match" : "DIFFER from");
  return same ? 0 : 1;
}
