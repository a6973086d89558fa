// SPDX-License-Identifier: BSD-3-Clause
// Backward-program kernels for the baseline ISA the library is built for.
#define KILN_KERNEL_NS kernel_default
#include "program_kernel.hpp"
