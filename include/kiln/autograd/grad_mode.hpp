// SPDX-License-Identifier: BSD-3-Clause
// Whether ops record the autograd graph (per thread), and anomaly detection (global).
#pragma once

namespace kiln {

namespace autograd {
/// Whether differentiable ops on this thread record nodes. On by default; the engine
/// turns it off while running a backward pass unless create_graph is set.
class GradMode {
 public:
  static bool is_enabled() { return enabled_; }
  static void set_enabled(bool on) { enabled_ = on; }

 private:
  static inline thread_local bool enabled_ = true;
};

/// Whether the engine checks every node's outputs for NaN (torch.autograd.detect_anomaly).
class AnomalyMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool on);
};

/// Turns anomaly detection on for its lifetime: a backward node that produces NaN throws
/// an AutogradError naming the forward op it belongs to.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool on = true) : prev_(AnomalyMode::is_enabled()) {
    AnomalyMode::set_enabled(on);
  }
  ~DetectAnomalyGuard() { AnomalyMode::set_enabled(prev_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool prev_;
};
}  // namespace autograd

/// Sets grad mode for its lifetime and restores the previous mode after.
class AutoGradMode {
 public:
  explicit AutoGradMode(bool on) : prev_(autograd::GradMode::is_enabled()) {
    autograd::GradMode::set_enabled(on);
  }
  ~AutoGradMode() { autograd::GradMode::set_enabled(prev_); }
  AutoGradMode(const AutoGradMode&) = delete;
  AutoGradMode& operator=(const AutoGradMode&) = delete;

 private:
  bool prev_;
};

/// Nothing in its scope is recorded (torch.no_grad): optimizer steps, evaluation.
struct NoGradGuard : AutoGradMode {
  NoGradGuard() : AutoGradMode(false) {}
};
/// Recording on in its scope, even inside a NoGradGuard (torch.enable_grad).
struct EnableGradGuard : AutoGradMode {
  EnableGradGuard() : AutoGradMode(true) {}
};

}  // namespace kiln
