// SPDX-License-Identifier: BSD-3-Clause
// Backward-program kernels for AVX2 and FMA (compiled with -mavx2 -mfma).
#define KILN_KERNEL_NS kernel_avx2
#include "program_kernel.hpp"
