// SPDX-License-Identifier: BSD-3-Clause
// Build-wide macros: host/device markers, SIMD availability, version.
#pragma once

#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0

#if defined(__CUDACC__) || defined(__HIPCC__)
#define KILN_HD __host__ __device__
#define KILN_DEVICE_COMPILER 1
#else
#define KILN_HD
#define KILN_DEVICE_COMPILER 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define KILN_INLINE inline __attribute__((always_inline))
#define KILN_RESTRICT __restrict__
#else
#define KILN_INLINE inline
#define KILN_RESTRICT
#endif

// The CPU evaluator vectorises through GCC/Clang vector extensions plus SLEEF for
// transcendental functions. Device compilers and unknown targets use the scalar path.
#if !defined(KILN_SIMD)
#if !KILN_DEVICE_COMPILER && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__SSE2__) || defined(__aarch64__))
#define KILN_SIMD 1
#else
#define KILN_SIMD 0
#endif
#endif

namespace kiln {
// Maximum tensor rank: keeps shapes inline and evaluation plans trivially copyable
// (the same plan is what a CUDA kernel receives by value).
inline constexpr int kMaxDims = 8;
}  // namespace kiln
