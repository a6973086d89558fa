// SPDX-License-Identifier: BSD-3-Clause
// A contiguous tensor seen as [outer, n, inner] around one dim: how the kernels that work
// along a dim (softmax, scans) address it, and what they set up before launching.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "device_scope.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/cuda/copy.hpp"
#include "kiln/ops/rows.hpp"
#include "kiln/tensor.hpp"

namespace kiln::cuda::detail {

struct DimSplit {
  int64_t outer = 1;  // product of the dims before d
  int64_t n = 1;      // size of d (1 for a 0-d tensor)
  int64_t inner = 1;  // product of the dims after d: the stride of d
};

inline DimSplit split_at(const Shape& shape, int d) {
  DimSplit s;
  if (shape.size() == 0) return s;
  for (int k = 0; k < d; ++k) s.outer *= shape[k];
  s.n = shape[d];
  for (int k = d + 1; k < shape.size(); ++k) s.inner *= shape[k];
  return s;
}

/// What a kernel along `dim` of x needs: the [outer, n, inner] split (the dim checked
/// first), x's device current for the scope (so that what follows is allocated there), x
/// contiguous, an output of x's shape and dtype O, and the device's current stream.
template <class O, class T>
struct AlongDim {
  AlongDim(const Tensor<T, CUDA>& x, int64_t dim, const char* op)
      : split(split_at(x.shape(), ::kiln::detail::wrap_row_dim(dim, x.shape(), op))),
        scope(x.get_device()),
        in(x.contiguous()),
        out(x.shape()),
        stream(current_stream_handle(x.get_device())) {}
  DimSplit split;
  DeviceScope scope;
  Tensor<T, CUDA> in;
  Tensor<O, CUDA> out;
  cudaStream_t stream;
};

}  // namespace kiln::cuda::detail
