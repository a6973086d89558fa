// SPDX-License-Identifier: BSD-3-Clause
// kiln::nn: modules, layers, initialisers and losses (torch.nn). Separate from
// <kiln/kiln.hpp> so that files that only compute with tensors do not parse it.
#pragma once

#include "kiln/kiln.hpp"
#include "kiln/nn/activation.hpp"
#include "kiln/nn/attention.hpp"
#include "kiln/nn/batchnorm.hpp"
#include "kiln/nn/clip_grad.hpp"
#include "kiln/nn/container.hpp"
#include "kiln/nn/conv.hpp"
#include "kiln/nn/dropout.hpp"
#include "kiln/nn/embedding.hpp"
#include "kiln/nn/functional.hpp"
#include "kiln/nn/init.hpp"
#include "kiln/nn/linear.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/nn/normalization.hpp"
#include "kiln/nn/rnn.hpp"
#include "kiln/nn/transformer.hpp"
