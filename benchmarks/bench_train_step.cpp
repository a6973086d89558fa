// SPDX-License-Identifier: BSD-3-Clause
// One training step of the Fashion-MNIST demo's models (examples/fashion_mnist): forward,
// cross entropy, backward and an Adam update, batch 64, at 1 and 2 threads.
// torch_train_step.py times the same steps with PyTorch; compare_train_step.py alternates
// both programs and prints kiln / torch ratios (issue target: <= 0.9).
//   CNN   conv 1->32 3x3 pad 1, relu, maxpool 2, conv 32->64 3x3 pad 1, relu, maxpool 2,
//         linear 3136->128, relu, dropout 0.25, linear 128->10 (demo::make_cnn)
//   MLP   784-256-128-10 with relu (demo::make_mlp)
// Run: build/bench/benchmarks/bench_train_step [--quick]

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "../examples/fashion_mnist/models.hpp"  // the demo's models, exactly
#include "harness.hpp"
#include "kiln/nn.hpp"
#include "kiln/optim.hpp"

namespace {

using kiln::Tensor;
namespace nn = kiln::nn;

void step_case(const char* name, std::shared_ptr<nn::Sequential<>> model, int threads, int reps) {
  kiln::set_num_threads(threads);
  kiln::manual_seed(0);
  const Tensor<float> x = kiln::randn<float>({64, 1, 28, 28});
  const Tensor<int64_t> y = kiln::randint<int64_t>(0, 10, {64});
  kiln::optim::Adam<float> opt(model->parameters(), {.lr = 1e-3});
  kbench::Suite s(
      std::string(name) + " training step, batch 64, " + std::to_string(threads) + " thread(s)", 5,
      reps);
  const int step = s.add("kiln step (forward, loss, backward, Adam)", [&] {
    opt.zero_grad();
    Tensor<float> loss = kiln::nn::functional::cross_entropy((*model)(x), y);
    loss.backward();
    opt.step();
  });
  s.run();
  s.print(step);
  std::printf("  summary %s step %d thread(s) %.4f\n", name, threads, s.median(step) * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  kbench::print_header("bench_train_step", "Fashion-MNIST demo models: one training step");
  for (int t : {1, 2}) {
    step_case("CNN", demo::make_cnn(), t, quick ? 5 : 30);
    step_case("MLP", demo::make_mlp(), t, quick ? 5 : 60);
  }
  return 0;
}
