// SPDX-License-Identifier: BSD-3-Clause
// The CUDA runtime queries and a device self-test of the shared functors and plans.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kiln/core/error.hpp"
#include "kiln/cuda/check.cuh"
#include "kiln/cuda/runtime.hpp"
#include "kiln/expr/functors/binary.hpp"
#include "kiln/expr/functors/ternary.hpp"
#include "kiln/expr/functors/unary.hpp"
#include "kiln/expr/node.hpp"

namespace kiln::cuda {
namespace {

// The plans are exactly those the CPU executor uses (Note [Expressions and plans]).
template <class Plan, class T>
__global__ void eval_plan(Plan p, T* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = p.template eval<false>(i);
}

template <class T>
expr::LeafPlan<T> leaf(const T* p) {
  expr::LeafPlan<T> l{};
  l.base = p;
  l.row = p;
  l.nd = 1;
  l.st[0] = 1;
  return l;
}

template <class T, class MakePlan>
double run_case(const std::vector<T>& x, MakePlan make_plan) {
  const auto n = static_cast<int64_t>(x.size());
  T *dx = nullptr, *dy = nullptr;
  detail::check(cudaMalloc(&dx, n * sizeof(T)), "cudaMalloc");
  detail::check(cudaMalloc(&dy, n * sizeof(T)), "cudaMalloc");
  detail::check(cudaMemcpy(dx, x.data(), n * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  eval_plan<<<static_cast<unsigned>((n + 255) / 256), 256>>>(make_plan(dx), dy, n);
  detail::check(cudaGetLastError(), "kernel launch");
  std::vector<T> y(x.size());
  detail::check(cudaMemcpy(y.data(), dy, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
  cudaFree(dx);
  cudaFree(dy);
  const auto host = make_plan(x.data());
  double err = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = static_cast<double>(static_cast<float>(y[i]));
    const double b = static_cast<double>(static_cast<float>(host.template eval<false>(i)));
    err = std::max(err, std::abs(a - b) / std::max(1.0, std::abs(b)));
  }
  return err;
}

template <class T>
double run_all(long n) {
  std::vector<T> x(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i)
    x[i] = static_cast<T>(-4.0f + 8.0f * static_cast<float>(i) / static_cast<float>(n));
  double err = 0;
  err = std::max(err, run_case(x, [](const T* p) {
                   return expr::UnaryPlan<expr::op::Sin, T, expr::LeafPlan<T>>{{}, leaf(p)};
                 }));
  err = std::max(err, run_case(x, [](const T* p) {
                   return expr::UnaryPlan<expr::op::Gelu, T, expr::LeafPlan<T>>{{}, leaf(p)};
                 }));
  err = std::max(err, run_case(x, [](const T* p) {
                   return expr::UnaryPlan<expr::op::Sigmoid, T, expr::LeafPlan<T>>{{}, leaf(p)};
                 }));
  err = std::max(
      err, run_case(x, [](const T* p) {
        using Cond = expr::BinaryPlan<expr::op::Gt, bool, expr::LeafPlan<T>, expr::ScalarPlan<T>>;
        using Neg = expr::BinaryPlan<expr::op::Mul, T, expr::LeafPlan<T>, expr::ScalarPlan<T>>;
        return expr::TernaryPlan<expr::op::Where, T, Cond, expr::LeafPlan<T>, Neg>{
            {}, Cond{{}, leaf(p), {T(0)}}, leaf(p), Neg{{}, leaf(p), {T(0.1f)}}};
      }));
  return err;
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

namespace detail {
double functor_device_selftest(long n) {
  KILN_CHECK(device_count() > 0, DeviceError, "[cuda] no CUDA device is available");
  return std::max(run_all<float>(n), run_all<half>(n));
}
}  // namespace detail

}  // namespace kiln::cuda
