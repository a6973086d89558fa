// SPDX-License-Identifier: BSD-3-Clause
// The reference loops built without -ffast-math: scalar libm calls (see loops.inc).
#ifdef __FAST_MATH__
#error "loops_nofm.cpp must be compiled without -ffast-math"
#endif
#define KBENCH_REF_NS nofm
#include "loops.inc"
