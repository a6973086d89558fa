// SPDX-License-Identifier: BSD-3-Clause
// gradcheck cases of the views, copies and fused reductions.
#include <catch2/catch.hpp>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::Tensor;
using kiln::test::Inputs;
using kiln::test::leaf;
using kiln::test::leaf_t;
namespace k = kiln;

Inputs cube() { return {leaf({2, 3, 4})}; }
Inputs mat_t() { return {leaf_t({3, 4})}; }

// Views are multiplied by a weight so that the gradient differs per element.
Tensor<double> weigh(const Tensor<double>& v) {
  return Tensor<double>(v * k::test::values(v.shape(), 9));
}

KILN_GRADCHECK_CASES({
    {"slice", cube, [](const Inputs& x) { return weigh(x[0].slice(2, 1, 4, 2)); }, true},
    {"select", cube, [](const Inputs& x) { return weigh(x[0].select(1, -1)); }, true},
    {"narrow", mat_t, [](const Inputs& x) { return weigh(x[0].narrow(0, 1, 2)); }, true},
    {"transpose", cube, [](const Inputs& x) { return weigh(x[0].transpose(0, 2)); }, true},
    {"t", mat_t, [](const Inputs& x) { return weigh(x[0].t()); }, true},
    {"permute", cube, [](const Inputs& x) { return weigh(x[0].permute({2, 0, 1})); }, true},
    {"view", cube, [](const Inputs& x) { return weigh(x[0].view({6, 4})); }, true},
    {"reshape", mat_t, [](const Inputs& x) { return weigh(x[0].reshape({2, 6})); }, true},
    {"flatten", cube, [](const Inputs& x) { return weigh(x[0].flatten(1)); }, true},
    {"expand", [] { return Inputs{leaf({3, 1})}; },
     [](const Inputs& x) { return weigh(x[0].expand({2, 3, 4})); }, true},
    {"squeeze", [] { return Inputs{leaf({3, 1, 2})}; },
     [](const Inputs& x) { return weigh(x[0].squeeze(1)); }, true},
    {"squeeze", [] { return Inputs{leaf({1, 3, 1})}; },
     [](const Inputs& x) { return weigh(x[0].squeeze()); }, true},
    {"unsqueeze", mat_t, [](const Inputs& x) { return weigh(x[0].unsqueeze(1)); }, true},
    {"clone", mat_t, [](const Inputs& x) { return weigh(x[0].clone()); }, true},
    {"contiguous", mat_t, [](const Inputs& x) { return weigh(x[0].contiguous()); }, true},
    {"sum", cube, [](const Inputs& x) { return k::sum(x[0] * x[0], {0, 2}, true); }, true},
    {"sum", mat_t, [](const Inputs& x) { return k::sum(k::sin(x[0])); }, true},
    {"mean", cube, [](const Inputs& x) { return k::mean(k::exp(x[0]), 1); }, true},
    {"mean", mat_t, [](const Inputs& x) { return k::mean(x[0]); }, true},
});
}  // namespace
