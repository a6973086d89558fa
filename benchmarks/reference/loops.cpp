// SPDX-License-Identifier: BSD-3-Clause
// The reference loops built with -ffast-math (see loops.inc).
#ifndef __FAST_MATH__
#error "loops.cpp must be compiled with -ffast-math (see benchmarks/CMakeLists.txt)"
#endif
#define KBENCH_REF_NS fm
#include "loops.inc"
