// SPDX-License-Identifier: BSD-3-Clause
// nn::Module: the registry and its hierarchical names, modes, zero_grad, state_dict and
// load_state_dict (all-or-nothing), repr as PyTorch prints it.
#include <catch2/catch.hpp>
#include <cmath>

#include "kiln/nn.hpp"
#include "support/throws.hpp"

namespace {

using kiln::Shape;
using kiln::Tensor;
namespace nn = kiln::nn;
using kiln_test::thrown_message;

// A model with a child Sequential, its own parameter and a buffer (like torch's
// nn.Module subclasses).
class Net : public nn::UnaryModule<double> {
 public:
  Net() : nn::UnaryModule<double>("Net") {
    features = register_module("features", std::make_shared<nn::Sequential<double>>(
                                               std::initializer_list<nn::Sequential<double>::Item>{
                                                   std::make_shared<nn::Linear<double>>(4, 3),
                                                   std::make_shared<nn::ReLU<double>>(),
                                                   std::make_shared<nn::Linear<double>>(3, 2)}));
    scale = register_parameter("scale", kiln::ones<double>({2}));
    count = register_buffer("count", kiln::zeros<double>({1}));
  }
  Tensor<double> forward(const Tensor<double>& x) override {
    return Tensor<double>((*features)(x)*scale);
  }
  std::shared_ptr<nn::Sequential<double>> features;
  Tensor<double> scale, count;
};

}  // namespace

TEST_CASE("named_parameters, buffers and modules use PyTorch's hierarchical names", "[nn]") {
  Net net;
  const auto params = net.named_parameters();
  REQUIRE(params.keys() == std::vector<std::string>{"scale", "features.0.weight", "features.0.bias",
                                                    "features.2.weight", "features.2.bias"});
  for (const auto& [name, p] : params) REQUIRE(p.requires_grad());
  REQUIRE(net.named_parameters(/*recurse=*/false).keys() == std::vector<std::string>{"scale"});
  REQUIRE(net.named_buffers().keys() == std::vector<std::string>{"count"});
  std::vector<std::string> mods;
  for (const auto& [name, m] : net.named_modules()) mods.push_back(name + ":" + m->type_name());
  REQUIRE(mods == std::vector<std::string>{":Net", "features:Sequential", "features.0:Linear",
                                           "features.1:ReLU", "features.2:Linear"});
  REQUIRE(net.children().size() == 1);
  // state_dict: each module's parameters, then its buffers, then its children.
  REQUIRE(net.state_dict().keys() ==
          std::vector<std::string>{"scale", "count", "features.0.weight", "features.0.bias",
                                   "features.2.weight", "features.2.bias"});
  // The registry aliases the members: an in-place update is seen through both.
  {
    kiln::NoGradGuard g;
    net.scale.fill_(3.0);
  }
  REQUIRE(net.named_parameters().at("scale")(0) == 3.0);
}

TEST_CASE("a tied parameter is listed once", "[nn]") {
  class Tied : public nn::Module<float> {
   public:
    Tied() : nn::Module<float>("Tied") {
      w = register_parameter("w", kiln::zeros<float>({2}));
      register_parameter("w_again", w);
    }
    Tensor<float> w;
  } tied;
  REQUIRE(tied.named_parameters().keys() == std::vector<std::string>{"w"});
  REQUIRE(tied.state_dict().size() == 2);  // state_dict keeps both names, as torch's
}

TEST_CASE("registration errors name the module and the attribute", "[nn]") {
  class Bad : public nn::Module<float> {
   public:
    Bad() : nn::Module<float>("Bad") {}
    void twice() {
      register_parameter("w", kiln::zeros<float>({1}));
      register_buffer("w", kiln::zeros<float>({1}));
    }
    void dotted() { register_parameter("a.b", kiln::zeros<float>({1})); }
  } bad;
  REQUIRE_THAT(thrown_message<kiln::ValueError>([&] { bad.twice(); }),
               Catch::Contains("Bad") && Catch::Contains("'w'"));
  REQUIRE_THROWS_AS(bad.dotted(), kiln::ValueError);
}

TEST_CASE("train/eval reach every descendant; zero_grad resets gradients", "[nn]") {
  Net net;
  REQUIRE(net.is_training());
  net.eval();
  for (const auto& [name, m] : net.named_modules()) REQUIRE_FALSE(m->is_training());
  net.train();
  for (const auto& [name, m] : net.named_modules()) REQUIRE(m->is_training());

  Tensor<double> loss = kiln::sum(net(kiln::ones<double>({5, 4})));
  loss.backward();
  for (const auto& p : net.parameters()) REQUIRE(p.grad().defined());
  net.zero_grad(/*set_to_none=*/false);
  for (const auto& p : net.parameters()) {
    REQUIRE(p.grad().defined());
    REQUIRE(kiln::amax(kiln::abs(p.grad())).item() == 0.0);
  }
  net.zero_grad();
  for (const auto& p : net.parameters()) REQUIRE_FALSE(p.grad().defined());
  net.requires_grad_(false);
  for (const auto& p : net.parameters()) REQUIRE_FALSE(p.requires_grad());
}

TEST_CASE("load_state_dict copies values and checks everything before loading", "[nn]") {
  kiln::manual_seed(3);
  Net a, b;
  const Tensor<double> x = kiln::randn<double>({6, 4});
  REQUIRE(kiln::amax(kiln::abs(a(x) - b(x))).item() > 0);
  b.load_state_dict(a.state_dict());
  REQUIRE(kiln::amax(kiln::abs(a(x) - b(x))).item() == 0);
  // b's tensors were written in place: its members still alias its registry.
  REQUIRE(b.features->named_parameters().at("0.weight").data() ==
          b.named_parameters().at("features.0.weight").data());

  // Every problem is named at once, and nothing is loaded.
  Net c;
  const Tensor<double> before = c(x);
  auto sd = a.state_dict();
  nn::StateDict<double> bad;
  for (const auto& [k, v] : sd)
    if (k != "scale") bad.insert(k, v);
  bad.insert_or_assign("features.2.weight", kiln::zeros<double>({5, 5}));
  bad.insert("extra.weight", kiln::zeros<double>({1}));
  const std::string msg = thrown_message<kiln::ValueError>([&] { c.load_state_dict(bad); });
  REQUIRE_THAT(msg, Catch::Contains("missing keys: scale") &&
                        Catch::Contains("unexpected keys: extra.weight") &&
                        Catch::Contains("features.2.weight (expected shape [2, 3], got [5, 5])") &&
                        Catch::Contains("nothing was loaded"));
  REQUIRE(kiln::amax(kiln::abs(c(x) - before)).item() == 0);
  // strict=false tolerates missing and unexpected keys, never a wrong shape.
  REQUIRE_THROWS_AS(c.load_state_dict(bad, /*strict=*/false), kiln::ValueError);
  bad.insert_or_assign("features.2.weight", sd.at("features.2.weight"));
  c.load_state_dict(bad, /*strict=*/false);
  REQUIRE(kiln::amax(kiln::abs(c.features->forward(x) - a.features->forward(x))).item() == 0);
}

TEST_CASE("repr prints the module tree as PyTorch does", "[nn]") {
  nn::Sequential<float> s{
      std::make_shared<nn::Conv2d<float>>(1, 8, 3, nn::Conv2dOptions{.padding = 1}),
      std::make_shared<nn::ReLU<float>>(),
      std::make_shared<nn::MaxPool2d<float>>(2),
      std::make_shared<nn::Flatten<float>>(),
      std::make_shared<nn::Dropout<float>>(0.25),
      std::make_shared<nn::Linear<float>>(8 * 14 * 14, 10, false)};
  REQUIRE(s.repr() ==
          "Sequential(\n"
          "  (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
          "  (1): ReLU()\n"
          "  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
          "  (3): Flatten(start_dim=1, end_dim=-1)\n"
          "  (4): Dropout(p=0.25, inplace=False)\n"
          "  (5): Linear(in_features=1568, out_features=10, bias=False)\n"
          ")");
  Net net;
  REQUIRE(net.repr() ==
          "Net(\n"
          "  (features): Sequential(\n"
          "    (0): Linear(in_features=4, out_features=3, bias=True)\n"
          "    (1): ReLU()\n"
          "    (2): Linear(in_features=3, out_features=2, bias=True)\n"
          "  )\n"
          ")");
  REQUIRE(nn::LeakyReLU<float>(0.2).extra_repr() == "negative_slope=0.2");
  REQUIRE(nn::GELU<float>("tanh").extra_repr() == "approximate='tanh'");
}

TEST_CASE("Sequential and ModuleList index their modules", "[nn]") {
  nn::Sequential<float> s;
  REQUIRE(s.size() == 0);
  const Tensor<float> x = kiln::ones<float>({2, 3});
  REQUIRE(s(x).data() == x.data());  // empty: the identity
  s.push_back(std::make_shared<nn::Linear<float>>(3, 4));
  REQUIRE(s[0]->type_name() == "Linear");
  REQUIRE_THROWS_AS(s[1], kiln::IndexError);
  nn::ModuleList<float> list{std::make_shared<nn::Linear<float>>(2, 2),
                             std::make_shared<nn::Identity<float>>()};
  REQUIRE(list.named_parameters().keys() == std::vector<std::string>{"0.weight", "0.bias"});
}

TEST_CASE("ModuleDict registers modules by name", "[nn]") {
  nn::ModuleDict<float> heads{{"cls", std::make_shared<nn::Linear<float>>(4, 3)},
                              {"box", std::make_shared<nn::Linear<float>>(4, 2, false)}};
  heads.insert("act", std::make_shared<nn::ReLU<float>>());
  REQUIRE(heads.keys() == std::vector<std::string>{"cls", "box", "act"});
  REQUIRE(heads.named_parameters().keys() ==
          std::vector<std::string>{"cls.weight", "cls.bias", "box.weight"});
  REQUIRE(heads.contains("box"));
  REQUIRE(heads["box"]->type_name() == "Linear");
  REQUIRE(heads.get<nn::Linear<float>>("cls")->out_features == 3);
  REQUIRE_THROWS_AS(heads.get<nn::Linear<float>>("act"), kiln::ValueError);
  REQUIRE_THROWS_AS(heads["nope"], kiln::IndexError);
  REQUIRE_THROWS_AS(heads.insert("cls", std::make_shared<nn::ReLU<float>>()), kiln::ValueError);
  REQUIRE(heads.repr() ==
          "ModuleDict(\n"
          "  (cls): Linear(in_features=4, out_features=3, bias=True)\n"
          "  (box): Linear(in_features=4, out_features=2, bias=False)\n"
          "  (act): ReLU()\n"
          ")");
}
