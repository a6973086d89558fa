// SPDX-License-Identifier: BSD-3-Clause
// kiln::optim: optimizers and learning-rate schedulers (torch.optim).
#pragma once

#include "kiln/optim/adam.hpp"
#include "kiln/optim/fused_update.hpp"
#include "kiln/optim/lr_scheduler.hpp"
#include "kiln/optim/optimizer.hpp"
#include "kiln/optim/rmsprop.hpp"
#include "kiln/optim/sgd.hpp"
