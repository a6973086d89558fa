// SPDX-License-Identifier: BSD-3-Clause
// The complete training loop of docs/nn.md, run: a doc snippet that does not work fails here.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "kiln/data.hpp"
#include "kiln/io.hpp"
#include "kiln/nn.hpp"
#include "kiln/optim.hpp"

namespace nn = kiln::nn;
namespace F = kiln::nn::functional;

// A model: modules register their parameters and children, as torch's attributes do.
class Classifier : public nn::UnaryModule<float> {
 public:
  Classifier(int64_t in, int64_t hidden, int64_t classes) : nn::UnaryModule<float>("Classifier") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear<float>>(in, hidden));
    fc2 = register_module("fc2", std::make_shared<nn::Linear<float>>(hidden, classes));
  }
  kiln::Tensor<float> forward(const kiln::Tensor<float>& x) override {
    return (*fc2)(kiln::relu((*fc1)(x)));
  }
  std::shared_ptr<nn::Linear<float>> fc1, fc2;
};

double train_classifier(const std::string& checkpoint) {
  kiln::manual_seed(0);
  // 512 points in 2-D, labelled by quadrant.
  const kiln::Tensor<float> x = kiln::randn<float>({512, 2});
  const kiln::Tensor<int64_t> y =
      kiln::cast<int64_t>(x.select(1, 0) > 0.0f) * 2 + kiln::cast<int64_t>(x.select(1, 1) > 0.0f);
  auto dataset = std::make_shared<kiln::data::TensorDataset<float, int64_t>>(x, y);
  kiln::data::DataLoader<kiln::data::Pair<float, int64_t>> loader(
      dataset, {.batch_size = 32, .shuffle = true, .seed = 1});

  auto model = std::make_shared<Classifier>(2, 32, 4);
  kiln::optim::Adam<float> opt(model->parameters(), {.lr = 0.01});
  kiln::optim::StepLR<float> sched(opt, /*step_size=*/10, /*gamma=*/0.5);
  for (int epoch = 0; epoch < 20; ++epoch) {
    model->train();
    for (const auto& [xb, yb] : loader) {
      opt.zero_grad();
      kiln::Tensor<float> loss = F::cross_entropy((*model)(xb), yb);
      loss.backward();
      opt.step();
    }
    sched.step();
  }
  model->eval();
  kiln::NoGradGuard no_grad;
  const kiln::Tensor<int64_t> pred = kiln::argmax((*model)(x), 1);
  const double accuracy = kiln::mean(kiln::cast<double>(pred == y)).item();
  kiln::io::save(checkpoint, *model);  // "fc1.weight", "fc1.bias", ...
  return accuracy;                     // about 0.99
}

TEST_CASE("the training loop in docs/nn.md learns and saves", "[nn][doc]") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("kiln_doc_" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  REQUIRE(train_classifier(path) > 0.97);
  REQUIRE(kiln::io::load<float>(path).keys() ==
          std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  std::filesystem::remove(path);
}
