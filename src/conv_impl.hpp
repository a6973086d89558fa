// SPDX-License-Identifier: BSD-3-Clause
// Private to src/: the geometry of one 2-D convolution and the engines that run it
// (im2col + GEMM in conv_gemm.cpp, oneDNN primitives in conv_dnnl.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kiln/core/allocator.hpp"

namespace kiln::conv_impl {

// y = conv(x, w): x [n, c, h, w], w [o, c / groups, kh, kw], y [n, o, oh, ow], all
// contiguous. oh/ow may be smaller than the largest output the input allows: a transposed
// convolution's backward uses that (Note [Transposed convolution] in conv.cpp).
struct Geom {
  int64_t n, c, h, w;
  int64_t o, kh, kw;
  int64_t oh, ow;
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t groups;

  int64_t cg() const { return c / groups; }     // input channels per group
  int64_t og() const { return o / groups; }     // output channels per group
  int64_t k() const { return cg() * kh * kw; }  // GEMM reduction length
  int64_t plane() const { return oh * ow; }
  int64_t x_numel() const { return n * c * h * w; }
  int64_t y_numel() const { return n * o * oh * ow; }
  int64_t w_numel() const { return o * k(); }
  // 1x1, stride 1, no padding: the input itself is the im2col matrix.
  bool pointwise() const {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && oh == h && ow == w;
  }
};

// im2col + GEMM, float and double. y, gx, gw are overwritten.
template <class T>
void forward_gemm(const Geom& g, const T* x, const T* w, const T* bias, T* y);
template <class T>
void backward_input_gemm(const Geom& g, const T* gy, const T* w, T* gx);
template <class T>
void backward_weight_gemm(const Geom& g, const T* x, const T* gy, T* gw);

// oneDNN primitives, float only. Each returns false (having written nothing) when oneDNN
// has no implementation for the shape; the caller then takes the GEMM path.
bool forward_dnnl(const Geom& g, const float* x, const float* w, const float* bias, float* y);
bool backward_input_dnnl(const Geom& g, const float* gy, const float* w, float* gx);
bool backward_weight_dnnl(const Geom& g, const float* x, const float* gy, float* gw);
int64_t dnnl_cache_size();

// A scratch buffer from kiln's caching allocator (warm pages, no first-touch faults).
// Allocate before a parallel region: an exception cannot leave one.
template <class T>
class Scratch {
 public:
  explicit Scratch(std::size_t n) : n_(n), p_(static_cast<T*>(cpu::allocate(n * sizeof(T)))) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { cpu::deallocate(p_, n_ * sizeof(T)); }
  T* get() const { return p_; }

 private:
  std::size_t n_;
  T* p_;
};

}  // namespace kiln::conv_impl
