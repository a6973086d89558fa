// SPDX-License-Identifier: BSD-3-Clause
// Backward-program kernels for AVX-512 F/DQ/BW/VL (compiled with -mavx512f -mavx512dq -mavx512bw
// -mavx512vl -mfma).
#define KILN_KERNEL_NS kernel_avx512
#include "program_kernel.hpp"
