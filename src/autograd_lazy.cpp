// SPDX-License-Identifier: BSD-3-Clause
// Lazy values for the CPU floating dtypes (Note [Lazy values] in autograd/lazy.hpp).
#include "kiln/autograd/lazy_ops.hpp"

namespace kiln::autograd::detail {
template struct LazyMask<CPU>;
template struct Lazy<float, CPU>;
template struct Lazy<double, CPU>;
template struct Lazy<half, CPU>;
template struct Lazy<bfloat16, CPU>;
}  // namespace kiln::autograd::detail
