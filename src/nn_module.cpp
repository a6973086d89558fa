// SPDX-License-Identifier: BSD-3-Clause
// nn::Module compiled once per floating dtype on the CPU (see module_impl.hpp).
#include "kiln/nn/module.hpp"

namespace kiln::nn {
template class Module<float, CPU>;
template class Module<double, CPU>;
template class Module<half, CPU>;
template class Module<bfloat16, CPU>;
}  // namespace kiln::nn
