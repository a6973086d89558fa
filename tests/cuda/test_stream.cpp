// SPDX-License-Identifier: BSD-3-Clause
// CUDA streams, events and the current-stream guard. Without a GPU only the errors run.
#include <catch2/catch.hpp>

#if defined(KILN_WITH_CUDA) && KILN_WITH_CUDA
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "kiln/core/error.hpp"
#include "kiln/cuda/runtime.hpp"
#include "kiln/cuda/stream.hpp"

TEST_CASE("CUDA streams: without that device, streams and synchronize throw", "[cuda]") {
  const int n = kiln::cuda::device_count();
  CHECK_THROWS_AS(kiln::cuda::Stream(n), kiln::DeviceError);
  CHECK_THROWS_AS(kiln::cuda::current_stream(n), kiln::DeviceError);
  CHECK_THROWS_AS(kiln::cuda::synchronize(n), kiln::DeviceError);
  kiln::cuda::Event never_recorded;
  CHECK(never_recorded.query());
  never_recorded.synchronize();  // nothing to wait for
}

TEST_CASE("CUDA streams: the guard sets the current stream for its scope", "[cuda]") {
  if (!kiln::cuda::is_available()) {
    WARN("no CUDA device: stream test skipped");
    return;
  }
  using namespace kiln::cuda;
  const Stream def = Stream::default_stream();
  CHECK(current_stream() == def);
  Stream s;
  CHECK(!(s == def));
  {
    StreamGuard g(s);
    CHECK(current_stream() == s);
    Stream inner;
    {
      StreamGuard g2(inner);
      CHECK(current_stream() == inner);
    }
    CHECK(current_stream() == s);
  }
  CHECK(current_stream() == def);
}

TEST_CASE("CUDA streams: events order streams and time work", "[cuda]") {
  if (!kiln::cuda::is_available()) {
    WARN("no CUDA device: event test skipped");
    return;
  }
  using namespace kiln::cuda;
  constexpr std::size_t n = std::size_t{64} << 20;
  Stream producer, consumer;
  void* buf = allocate(n, 0, producer.handle());
  std::uint8_t* host = nullptr;
  REQUIRE(cudaMallocHost(&host, n) == cudaSuccess);

  Event start(true), stop(true);
  start.record(producer);
  REQUIRE(cudaMemsetAsync(buf, 0, n, producer.handle()) == cudaSuccess);
  REQUIRE(cudaMemsetAsync(buf, 7, n, producer.handle()) == cudaSuccess);
  stop.record(producer);
  // The consumer reads only after the producer's writes: wait_stream orders them.
  consumer.wait_stream(producer);
  record_stream(buf, 0, consumer.handle());
  REQUIRE(cudaMemcpyAsync(host, buf, n, cudaMemcpyDeviceToHost, consumer.handle()) == cudaSuccess);
  consumer.synchronize();
  CHECK(consumer.query());
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < n; i += 4093) wrong += host[i] != 7;
  CHECK(wrong == 0);
  CHECK(stop.query());
  CHECK(start.elapsed_time(stop) > 0.0f);
  Event untimed;
  untimed.record(producer);
  CHECK_THROWS_AS(start.elapsed_time(untimed), kiln::DeviceError);

  deallocate(buf, 0);
  cudaFreeHost(host);
  synchronize();
}
#endif
