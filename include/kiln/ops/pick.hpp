// SPDX-License-Identifier: BSD-3-Clause
// pick / unpick: gather along a dim and its adjoint (scatter-add into zeros), each recorded
// with the other as its backward, for the gradients of max/min, sort and topk.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/tensor.hpp"

namespace kiln::detail {

// Defined in src/index.cpp for every dtype (declared again here: index.hpp includes
// reduce.hpp, which needs these).
template <class T>
Tensor<T, CPU> gather(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index,
                      const char* op);
template <class T>
void scatter_add_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                  const Tensor<T, CPU>& src, const char* op);

template <class T>
Tensor<T, CPU> unpick(const Tensor<T, CPU>& g, int dim, const Tensor<int64_t, CPU>& index,
                      const Shape& shape);

/// gather(x, dim, index), differentiable to any order: its backward is unpick.
template <class T>
Tensor<T, CPU> pick(const Tensor<T, CPU>& x, int dim, const Tensor<int64_t, CPU>& index) {
  Tensor<T, CPU> out;
  {
    AutoGradMode off(false);
    out = gather(x, dim, index, "pick");
  }
  if (autograd::needs_grad(x))
    autograd::record(
        "GatherBackward", out, autograd::collect_edges(x),
        [dim, si = autograd::save(index), shape = x.shape()](std::vector<AnyTensor>& g) {
          return autograd::grads(unpick(g[0].as<T, CPU>(), dim, si.unpack(), shape));
        });
  return out;
}

/// A zero tensor of `shape` with g (index's shape) added at the positions `index` selects
/// along `dim`: the gradient of pick, differentiable to any order (its backward is pick).
template <class T>
Tensor<T, CPU> unpick(const Tensor<T, CPU>& g, int dim, const Tensor<int64_t, CPU>& index,
                      const Shape& shape) {
  Tensor<T, CPU> out(shape);
  {
    AutoGradMode off(false);
    out.zero_();
    if (g.numel() > 0) scatter_add_(out, dim, index, g, "unpick");
  }
  if (autograd::needs_grad(g))
    autograd::record("ScatterAddBackward", out, autograd::collect_edges(g),
                     [dim, si = autograd::save(index)](std::vector<AnyTensor>& gs) {
                       return autograd::grads(pick(gs[0].as<T, CPU>(), dim, si.unpack()));
                     });
  return out;
}

}  // namespace kiln::detail
