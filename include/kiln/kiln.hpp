// SPDX-License-Identifier: BSD-3-Clause
// The umbrella header: everything a kiln user needs.
#pragma once

#include "kiln/core/allocator.hpp"
#include "kiln/core/device.hpp"
#include "kiln/core/dtype.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/generator.hpp"
#include "kiln/core/half.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/expr/ops.hpp"
#include "kiln/ops/conv.hpp"
#include "kiln/ops/pool.hpp"
#include "kiln/ops/reduce.hpp"
#include "kiln/tensor.hpp"
#include "kiln/tensor/factories.hpp"
#include "kiln/tensor/inplace.hpp"
#include "kiln/tensor/print.hpp"
#include "kiln/tensor/random.hpp"
