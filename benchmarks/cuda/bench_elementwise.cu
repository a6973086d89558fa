// SPDX-License-Identifier: BSD-3-Clause
// CUDA elementwise and reduction benchmark: y = a*b + c*d - sin(e) on 64M floats as one
// fused kernel, against the device-to-device copy bandwidth measured by the same program
// and against the same expression evaluated op by op (one kernel and one temporary per
// operator); then sum(a*b, 1) on [8192, 8192] (the same arrays viewed as matrices) and
// sum(a) against the same copy bandwidth. Prints bandwidths and ratios; the targets are
// fused >= 85% of copy and >= 2.5x op-by-op, sum(a*b, 1) >= 85% of copy.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "kiln/cuda/runtime.hpp"
#include "kiln/cuda/stream.hpp"
#include "kiln/kiln.hpp"
#include "timing.hpp"

using kiln_bench::time_ms;

int main(int argc, char** argv) {
  if (!kiln::cuda::is_available()) {
    std::printf("bench_cuda_elementwise: no CUDA device, nothing to measure\n");
    return 0;
  }
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : int64_t{64} << 20;
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s, %d SMs; n = %lld floats\n", prop.name, prop.multiProcessorCount,
              static_cast<long long>(n));

  kiln::manual_seed(0);
  auto gen = [&] { return kiln::randn<float>({n}).to<kiln::CUDA>(); };
  const auto a = gen(), b = gen(), c = gen(), d = gen(), e = gen();
  kiln::Tensor<float, kiln::CUDA> y(kiln::Shape{n});
  const double bytes = static_cast<double>(n) * sizeof(float);

  // The reference: a device-to-device copy of one array (reads n, writes n).
  const double copy_ms = time_ms([&] {
    cudaMemcpyAsync(y.data(), a.data(), n * sizeof(float), cudaMemcpyDeviceToDevice,
                    kiln::cuda::current_stream().handle());
  });
  const double copy_gbs = 2 * bytes / copy_ms / 1e6;

  // Fused: reads 5 arrays, writes 1, in one kernel.
  const double fused_ms = time_ms([&] { y = a * b + c * d - kiln::sin(e); });
  const double fused_gbs = 6 * bytes / fused_ms / 1e6;

  // Op by op: each operator is evaluated into a temporary, as an eager library does.
  const double eager_ms = time_ms([&] {
    const kiln::Tensor<float, kiln::CUDA> t1 = a * b;
    const kiln::Tensor<float, kiln::CUDA> t2 = c * d;
    const kiln::Tensor<float, kiln::CUDA> t3 = kiln::sin(e);
    const kiln::Tensor<float, kiln::CUDA> t4 = t1 + t2;
    y = t4 - t3;
  });

  // Correctness on a sample, against the CPU.
  const auto host = y.to<kiln::CPU>();
  const auto ha = a.to<kiln::CPU>(), hb = b.to<kiln::CPU>(), hc = c.to<kiln::CPU>(),
             hd = d.to<kiln::CPU>(), he = e.to<kiln::CPU>();
  double err = 0;
  for (int64_t i = 0; i < n; i += 9973) {
    const double want = double(ha.data()[i]) * hb.data()[i] + double(hc.data()[i]) * hd.data()[i] -
                        std::sin(double(he.data()[i]));
    err = std::max(err, std::abs(want - host.data()[i]));
  }

  // Reductions fused with their producer: sum(a*b, 1) reads a and b once, writes rows.
  const int64_t side = 8192;
  const bool square = n == side * side;
  double rows_ms = 0, all_ms = 0, rows_err = 0;
  if (square) {
    const auto am = a.view({side, side}), bm = b.view({side, side});
    kiln::Tensor<float, kiln::CUDA> r;
    rows_ms = time_ms([&] { r = kiln::sum(am * bm, 1); });
    all_ms = time_ms([&] { r = kiln::sum(a); });
    const auto rows = kiln::sum(am * bm, 1).to<kiln::CPU>();
    for (int64_t i = 0; i < side; i += 997) {
      double want = 0;
      for (int64_t j = 0; j < side; ++j)
        want += double(ha.data()[i * side + j]) * hb.data()[i * side + j];
      rows_err =
          std::max(rows_err, std::abs(want - rows.data()[i]) / std::max(1.0, std::abs(want)));
    }
  }

  std::printf("| what | ms | GB/s | ratio |\n|---|---|---|---|\n");
  std::printf("| D2D copy (reference) | %.3f | %.0f | 1.00 |\n", copy_ms, copy_gbs);
  std::printf("| fused a*b + c*d - sin(e) | %.3f | %.0f | %.2f of copy bandwidth |\n", fused_ms,
              fused_gbs, fused_gbs / copy_gbs);
  std::printf("| op by op (5 kernels) | %.3f | | fused is %.2fx faster |\n", eager_ms,
              eager_ms / fused_ms);
  if (square) {
    const double rows_gbs = 2 * bytes / rows_ms / 1e6, all_gbs = bytes / all_ms / 1e6;
    std::printf("| sum(a*b, 1) on [8192, 8192] | %.3f | %.0f | %.2f of copy bandwidth |\n", rows_ms,
                rows_gbs, rows_gbs / copy_gbs);
    std::printf("| sum(a), 64M floats | %.3f | %.0f | %.2f of copy bandwidth |\n", all_ms, all_gbs,
                all_gbs / copy_gbs);
  }
  std::printf("max |error| vs CPU on a sample: %.3g (elementwise), %.3g (row sums, relative)\n",
              err, rows_err);
  return err < 1e-4 && rows_err < 1e-4 ? 0 : 1;
}
