// SPDX-License-Identifier: BSD-3-Clause
// CUDA elementwise benchmark: y = a*b + c*d - sin(e) on 64M floats as one fused kernel,
// against the device-to-device copy bandwidth measured by the same program and against
// the same expression evaluated op by op (one kernel and one temporary per operator).
// Prints bandwidths and ratios; the targets are fused >= 85% of copy, >= 2.5x op-by-op.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "kiln/cuda/runtime.hpp"
#include "kiln/cuda/stream.hpp"
#include "kiln/kiln.hpp"

namespace {

// Median milliseconds of `reps` timed runs after `warmup` untimed ones.
double time_ms(const std::function<void()>& f, int warmup = 3, int reps = 15) {
  for (int i = 0; i < warmup; ++i) f();
  kiln::cuda::synchronize();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    kiln::cuda::Event start(true), stop(true);
    start.record();
    f();
    stop.record();
    stop.synchronize();
    ms.push_back(start.elapsed_time(stop));
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

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

  std::printf("| what | ms | GB/s | ratio |\n|---|---|---|---|\n");
  std::printf("| D2D copy (reference) | %.3f | %.0f | 1.00 |\n", copy_ms, copy_gbs);
  std::printf("| fused a*b + c*d - sin(e) | %.3f | %.0f | %.2f of copy bandwidth |\n", fused_ms,
              fused_gbs, fused_gbs / copy_gbs);
  std::printf("| op by op (5 kernels) | %.3f | | fused is %.2fx faster |\n", eager_ms,
              eager_ms / fused_ms);
  std::printf("max |error| vs CPU on a sample: %.3g\n", err);
  return err < 1e-4 ? 0 : 1;
}
