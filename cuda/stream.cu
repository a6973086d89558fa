// SPDX-License-Identifier: BSD-3-Clause
// Streams, events and the per-thread current stream (include/kiln/cuda/stream.hpp).
#include <cuda_runtime.h>

#include <vector>

#include "device_scope.hpp"
#include "kiln/cuda/runtime.hpp"
#include "kiln/cuda/stream.hpp"

namespace kiln::cuda {
namespace {

using detail::DeviceScope;
using detail::resolve_device;

// The current stream of each device on this thread; nullptr is the default stream.
std::vector<cudaStream_t>& current_streams() {
  thread_local std::vector<cudaStream_t> streams;
  const auto n = static_cast<std::size_t>(device_count());
  if (streams.size() < n) streams.resize(n, nullptr);
  return streams;
}

}  // namespace

Stream::Stream(int device, int priority) {
  device_ = resolve_device(device, "cuda.Stream");
  DeviceScope scope(device_);
  cudaStream_t s = nullptr;
  detail::check(cudaStreamCreateWithPriority(&s, cudaStreamNonBlocking, priority),
                "cudaStreamCreateWithPriority");
  handle_ = s;
  // Destroying a stream with work queued is allowed: CUDA releases it once the work is done.
  owner_ =
      std::shared_ptr<void>(s, [](void* p) { cudaStreamDestroy(static_cast<cudaStream_t>(p)); });
}

Stream Stream::default_stream(int device) {
  return Stream(nullptr, resolve_device(device, "cuda.default_stream"), nullptr);
}

void Stream::synchronize() const {
  DeviceScope scope(device_);
  detail::check(cudaStreamSynchronize(handle_), "cudaStreamSynchronize");
}

bool Stream::query() const { return detail::ready(cudaStreamQuery(handle_), "cudaStreamQuery"); }

void Stream::wait_event(const Event& e) const {
  if (!e.handle()) return;  // never recorded: nothing to wait for
  DeviceScope scope(device_);
  detail::check(cudaStreamWaitEvent(handle_, e.handle(), 0), "cudaStreamWaitEvent");
}

void Stream::wait_stream(const Stream& other) const {
  if (other == *this) return;
  Event e;
  e.record(other);
  wait_event(e);
}

Event::Event(bool enable_timing) : timing_(enable_timing) {}

void Event::record(const Stream& stream) {
  if (!handle_) {
    DeviceScope scope(stream.device());
    cudaEvent_t e = nullptr;
    detail::check(cudaEventCreateWithFlags(&e, timing_ ? cudaEventDefault : cudaEventDisableTiming),
                  "cudaEventCreate");
    handle_ = e;
    device_ = stream.device();
    owner_ =
        std::shared_ptr<void>(e, [](void* p) { cudaEventDestroy(static_cast<cudaEvent_t>(p)); });
  }
  KILN_CHECK(device_ == stream.device(), DeviceError,
             "[cuda.Event.record] the event belongs to device ", device_,
             " but the stream to device ", stream.device());
  detail::check(cudaEventRecord(handle_, stream.handle()), "cudaEventRecord");
}

void Event::record() { record(current_stream()); }

void Event::synchronize() const {
  if (handle_) detail::check(cudaEventSynchronize(handle_), "cudaEventSynchronize");
}

bool Event::query() const {
  if (!handle_) return true;
  return detail::ready(cudaEventQuery(handle_), "cudaEventQuery");
}

float Event::elapsed_time(const Event& end) const {
  KILN_CHECK(timing_ && end.timing_, DeviceError,
             "[cuda.Event.elapsed_time] both events need enable_timing=true");
  KILN_CHECK(handle_ && end.handle_, DeviceError,
             "[cuda.Event.elapsed_time] both events must be recorded first");
  float ms = 0;
  detail::check(cudaEventElapsedTime(&ms, handle_, end.handle_), "cudaEventElapsedTime");
  return ms;
}

Stream current_stream(int device) {
  device = resolve_device(device, "cuda.current_stream");
  return Stream(current_streams()[device], device, nullptr);
}

void synchronize(int device) {
  DeviceScope scope(resolve_device(device, "cuda.synchronize"));
  detail::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

StreamGuard::StreamGuard(const Stream& s)
    : current_(s), previous_(current_stream(s.device())), previous_device_(current_device()) {
  current_streams()[s.device()] = static_cast<cudaStream_t>(s.handle());
  if (s.device() != previous_device_) set_device(s.device());
}

StreamGuard::~StreamGuard() {
  current_streams()[current_.device()] = static_cast<cudaStream_t>(previous_.handle());
  if (current_device() != previous_device_) {
    try {
      set_device(previous_device_);
    } catch (...) {  // a destructor must not throw; the device existed when the guard began
    }
  }
}

}  // namespace kiln::cuda
