// SPDX-License-Identifier: BSD-3-Clause
// kiln::io: safetensors files and model/optimizer checkpoints.
#pragma once

#include "kiln/io/checkpoint.hpp"
#include "kiln/io/safetensors.hpp"
