// SPDX-License-Identifier: BSD-3-Clause
// kiln::data: datasets, samplers and the DataLoader (torch.utils.data), and FashionMNIST.
#pragma once

#include "kiln/data/dataloader.hpp"
#include "kiln/data/dataset.hpp"
#include "kiln/data/fashion_mnist.hpp"
#include "kiln/data/sampler.hpp"
