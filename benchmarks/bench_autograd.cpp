// SPDX-License-Identifier: BSD-3-Clause
// Autograd: kiln's fused backward against a hand-written loop, an MLP training step, and
// the engine's cost per node. torch_autograd.py times the same cases with PyTorch;
// compare_autograd.py alternates both programs and prints kiln / torch ratios.
//   chain backward   y = a*b + c*d - sin(e) on 16M floats: the backward reads g and the
//                    five inputs and writes five gradients (11 arrays) in one pass.
//                    Target: <= 1.3x the hand loop's time.
//   MLP step         784-256-128-10, batch 128, relu, log_softmax + NLL loss: forward and
//                    backward (and zeroing the grads) per step.
//   engine per node  a chain of 1,000 `y = y * 1.0001` on 16 floats, forward (record)
//                    and backward, per node.
// Run: build/bench/benchmarks/bench_autograd [--quick]

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "harness.hpp"
#include "kiln/kiln.hpp"
#include "loops.hpp"

namespace {

using kiln::Tensor;
namespace ref = kbench::ref;

Tensor<float> filled(const kiln::Shape& s, float lo, float hi) {
  return kiln::rand<float>(s) * (hi - lo) + lo;
}

// ---- fused chain ---------------------------------------------------------------------------

void chain_case(int threads, int64_t n, kbench::Verdicts& v) {
  kiln::set_num_threads(threads);
  std::vector<Tensor<float>> in;
  for (int k = 0; k < 5; ++k) in.push_back(filled({n}, -1, 1).requires_grad_());
  Tensor<float> g = filled({n}, -1, 1);
  std::vector<Tensor<float>> ref_grads;
  for (int k = 0; k < 5; ++k) ref_grads.emplace_back(kiln::Shape{n});
  Tensor<float> dst(kiln::Shape{n});

  auto forward = [&] { return Tensor<float>(in[0] * in[1] + in[2] * in[3] - kiln::sin(in[4])); };
  // Backward alone: the graph is built outside the timed region of each sample.
  std::vector<double> bwd;
  const int reps = 9;
  for (int r = 0; r < reps + 2; ++r) {
    for (auto& x : in) x.zero_grad();
    Tensor<float> y = forward();
    const double t0 = kbench::now_s();
    y.backward(g);
    const double t = kbench::now_s() - t0;
    if (r >= 2) bwd.push_back(t);
  }
  const kbench::Stats sb = kbench::summarize(bwd);

  kbench::Suite s("chain y = a*b + c*d - sin(e), n = " + std::to_string(n) + ", " +
                      std::to_string(threads) + " thread(s)",
                  2, reps);
  const double arr = static_cast<double>(n) * sizeof(float);
  const int copy = s.add(
      "copy (1 read + 1 write)", [&] { dst.copy_(g); }, 2 * arr);
  const int hand = s.add(
      "hand fused backward loop",
      [&] {
        ref::fm::chain_backward(ref_grads[0].data(), ref_grads[1].data(), ref_grads[2].data(),
                                ref_grads[3].data(), ref_grads[4].data(), g.data(), in[0].data(),
                                in[1].data(), in[2].data(), in[3].data(), in[4].data(), n);
      },
      11 * arr);
  const int fwd = s.add(
      "kiln forward (recording)", [&] { kbench::do_not_optimize(forward()); }, 6 * arr);
  const int both = s.add(
      "kiln forward + backward",
      [&] {
        for (auto& x : in) x.zero_grad();
        forward().backward(g);
      },
      17 * arr);
  s.run();
  s.print(hand);
  const double bwd_gbps = 11 * arr / sb.median * 1e-9;
  std::printf("  %-32s %11.3f ms (min %.3f)  %.1f GB/s = %.0f%% of copy, %.2fx the hand loop\n",
              "kiln backward alone", sb.median * 1e3, sb.min * 1e3, bwd_gbps,
              100 * bwd_gbps / s.gbps(copy), sb.median / s.median(hand));
  std::printf("  summary chain backward %d thread(s) %.4f\n", threads, sb.median * 1e3);
  (void)fwd;
  (void)both;

  // Validation against the hand loop's gradients.
  for (auto& x : in) x.zero_grad();
  forward().backward(g);
  double err = 0;
  for (int k = 0; k < 5; ++k) {
    const float* a = in[k].grad().data();
    const float* b = ref_grads[k].data();
    for (int64_t i = 0; i < n; i += 997) err = std::max(err, std::fabs(double(a[i]) - b[i]));
  }
  v.check("chain gradients vs the hand loop", err, 1e-5);
  v.target("chain backward / hand loop, " + std::to_string(threads) + " thread(s)",
           sb.median / s.median(hand), "<=", 1.3);
}

// ---- MLP ---------------------------------------------------------------------------------

struct Mlp {
  Tensor<float> w1, b1, w2, b2, w3, b3;
  Mlp() {
    auto init = [](int64_t out, int64_t in) {
      const float bound = 1.0f / std::sqrt(static_cast<float>(in));
      return filled({out, in}, -bound, bound).requires_grad_();
    };
    w1 = init(256, 784);
    b1 = filled({256}, -0.03f, 0.03f).requires_grad_();
    w2 = init(128, 256);
    b2 = filled({128}, -0.06f, 0.06f).requires_grad_();
    w3 = init(10, 128);
    b3 = filled({10}, -0.08f, 0.08f).requires_grad_();
  }
  Tensor<float> loss(const Tensor<float>& x, const Tensor<float>& onehot) const {
    Tensor<float> h1 = kiln::relu(kiln::linear(x, w1, b1));
    Tensor<float> h2 = kiln::relu(kiln::linear(h1, w2, b2));
    Tensor<float> logp = kiln::log_softmax(kiln::linear(h2, w3, b3), 1);
    return kiln::mean(kiln::sum(logp * onehot, 1)) * -1.0f;
  }
  void zero_grad() {
    for (Tensor<float>* p : {&w1, &b1, &w2, &b2, &w3, &b3}) p->zero_grad();
  }
};

void mlp_case(int threads, int reps) {
  kiln::set_num_threads(threads);
  Mlp m;
  Tensor<float> x = filled({128, 784}, 0, 1);
  Tensor<float> onehot({128, 10});
  onehot.zero_();
  for (int64_t i = 0; i < 128; ++i) onehot(i, i % 10) = 1.0f;
  kbench::Suite s("MLP 784-256-128-10, batch 128, " + std::to_string(threads) + " thread(s)", 5,
                  reps);
  const int fwd = s.add("kiln forward", [&] {
    kiln::NoGradGuard ng;
    kbench::do_not_optimize(m.loss(x, onehot));
  });
  const int step = s.add("kiln forward + backward", [&] {
    m.zero_grad();
    m.loss(x, onehot).backward();
  });
  s.run();
  s.print(step);
  (void)fwd;
  std::printf("  summary MLP step %d thread(s) %.4f\n", threads, s.median(step) * 1e3);
}

// ---- engine overhead ---------------------------------------------------------------------------

void node_case(int reps) {
  kiln::set_num_threads(1);
  constexpr int kNodes = 1000;
  Tensor<float> x = filled({16}, -1, 1).requires_grad_();
  std::vector<double> f, b;
  for (int r = 0; r < reps + 2; ++r) {
    x.zero_grad();
    const double t0 = kbench::now_s();
    Tensor<float> y = x;
    for (int i = 0; i < kNodes; ++i) y = y * 1.0001f;
    Tensor<float> l = kiln::sum(y);
    const double t1 = kbench::now_s();
    l.backward();
    const double t2 = kbench::now_s();
    if (r >= 2) {
      f.push_back((t1 - t0) / kNodes);
      b.push_back((t2 - t1) / kNodes);
    }
  }
  const kbench::Stats sf = kbench::summarize(f), sb = kbench::summarize(b);
  std::printf("\nengine cost per node (chain of %d `y = y * 1.0001` on 16 floats, 1 thread)\n",
              kNodes);
  std::printf("  forward (eval + record)   %8.0f ns/node (min %.0f)\n", sf.median * 1e9,
              sf.min * 1e9);
  std::printf("  backward                  %8.0f ns/node (min %.0f)\n", sb.median * 1e9,
              sb.min * 1e9);
  std::printf("  summary node forward 1 thread(s) %.1f\n", sf.median * 1e9);
  std::printf("  summary node backward 1 thread(s) %.1f\n", sb.median * 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  kbench::print_header("bench_autograd", "fused backward, MLP training step, engine overhead");
  kbench::Verdicts v;
  const int64_t n = quick ? (1 << 20) : (16 << 20);
  std::printf("   chain: %s\n", kbench::working_set(17.0 * n * sizeof(float)).c_str());
  for (int t : {1, 2}) chain_case(t, n, v);
  for (int t : {1, 2}) mlp_case(t, quick ? 5 : 30);
  node_case(quick ? 3 : 15);
  return v.finish("bench_autograd");
}
