// SPDX-License-Identifier: BSD-3-Clause
// CUDA streams and events as torch.cuda has them: kiln::cuda::Stream, Event, the current
// stream of each device and a guard that sets it for a scope (defined in cuda/stream.cu).
#pragma once

#include <memory>

#include "kiln/cuda/memory.hpp"

struct CUevent_st;

namespace kiln::cuda {

using EventHandle = CUevent_st*;

class Event;
class Stream;
Stream current_stream(int device);

/// A queue of device work. Copies share the queue; the last copy of a stream made with
/// the constructor destroys it once its work has finished. Kernels on one stream run in
/// order; work on different streams may overlap unless ordered with wait_event /
/// wait_stream.
class Stream {
 public:
  /// A new stream on `device` (-1: the current device); priority as cudaStreamCreateWithPriority
  /// takes it (lower is more urgent; 0 is the default).
  explicit Stream(int device = -1, int priority = 0);
  /// The device's default (legacy NULL) stream.
  static Stream default_stream(int device = -1);

  StreamHandle handle() const { return handle_; }
  int device() const { return device_; }
  /// Blocks the host until every kernel queued so far has finished.
  void synchronize() const;
  /// Whether every kernel queued so far has finished.
  bool query() const;
  /// Work queued on this stream from now on waits for `e`.
  void wait_event(const Event& e) const;
  /// Work queued on this stream from now on waits for what `other` has queued so far.
  void wait_stream(const Stream& other) const;

  friend bool operator==(const Stream& a, const Stream& b) {
    return a.handle_ == b.handle_ && a.device_ == b.device_;
  }

 private:
  friend Stream current_stream(int device);
  Stream(StreamHandle h, int device, std::shared_ptr<void> owner)
      : handle_(h), device_(device), owner_(std::move(owner)) {}
  StreamHandle handle_ = nullptr;
  int device_ = 0;
  std::shared_ptr<void> owner_;  // destroys a created stream; empty for the default one
};

/// A marker in a stream's work, for ordering streams and for timing.
class Event {
 public:
  explicit Event(bool enable_timing = false);
  /// Marks the work queued on `stream` so far (default: the current stream).
  void record(const Stream& stream);
  void record();
  /// Blocks the host until the recorded work has finished.
  void synchronize() const;
  /// Whether the recorded work has finished (true for an event never recorded).
  bool query() const;
  /// Milliseconds between this event and `end`; both must be recorded with timing on.
  float elapsed_time(const Event& end) const;
  EventHandle handle() const { return handle_; }

 private:
  EventHandle handle_ = nullptr;
  int device_ = -1;
  bool timing_ = false;
  std::shared_ptr<void> owner_;
};

/// The stream that kiln queues work on for `device` (-1: the current device) on this
/// thread: the default stream unless a StreamGuard says otherwise.
Stream current_stream(int device);
inline Stream current_stream() { return current_stream(-1); }
/// Blocks until every stream of `device` (-1: the current device) has finished.
void synchronize(int device = -1);

/// Makes `s` the current stream of its device (and its device the current one) for this
/// scope; restores both on exit (torch.cuda.stream(s)).
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& s);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream current_;  // kept alive while it is current
  Stream previous_;
  int previous_device_;
};

}  // namespace kiln::cuda
