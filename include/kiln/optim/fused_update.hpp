// SPDX-License-Identifier: BSD-3-Clause
// update(out_0 = e_0, out_1 = e_1, ...): several same-shape tensors written in ONE pass
// over memory, what an optimizer step needs (Adam writes m, v and the parameter).
#pragma once

#include <array>
#include <tuple>
#include <utility>

#include "kiln/autograd/grad_mode.hpp"
#include "kiln/expr/eval_cpu.hpp"
#include "kiln/tensor.hpp"

namespace kiln::optim {

// Note [Fused optimizer updates]
// An optimizer step is a handful of elementwise updates per parameter (Adam: m, v, then
// p from the new m and v). Written as separate assignments each reads and writes its
// arrays again; here all of them run in one loop: element i (a SIMD packet at a time)
// computes out_0[i], then out_1[i] (which may read the new out_0[i]), and so on. Every
// expression reads only element i of each operand, so this equals running the
// assignments one after another. It needs every output and operand contiguous in the
// same shape (or a scalar), which parameters, gradients and optimizer state are; anything
// else falls back to the assignments in sequence, with the same results.

/// One output of a fused update: `out` receives `e`.
template <class T, class E>
struct Assign {
  const Tensor<T, CPU>& out;
  E e;
};
template <class T, class E>
Assign<T, std::remove_cvref_t<E>> assign(const Tensor<T, CPU>& out, E&& e) {
  return {out, std::forward<E>(e)};
}

namespace detail {
template <class T, class E>
bool fusable(const Tensor<T, CPU>& out, const E& e, const Shape& shape) {
  return out.shape() == shape && out.is_contiguous() && e.shape() == shape &&
         e.leaves_contiguous(shape);
}
}  // namespace detail

/// Runs the assignments as one pass (Note [Fused optimizer updates]), without recording
/// them for autograd. All outputs must have the same shape.
template <class T, class... E>
void update(const Assign<T, E>&... a) {
  static_assert(sizeof...(E) >= 1);
  NoGradGuard no_grad;
  const auto& first = std::get<0>(std::forward_as_tuple(a...));
  const Shape& shape = first.out.shape();
  const bool fused = (detail::fusable(a.out, a.e, shape) && ...);
  if (!fused) {
    (a.out.copy_(a.e), ...);
    return;
  }
  const int64_t n = first.out.numel();
  if (n == 0) return;
  expr::Layout l;
  l.out_shape = shape;
  l.linear = true;
  l.nd = 1;
  l.extent[0] = n;
  const auto plans = std::make_tuple(a.e.plan(l)...);
  const std::array<T*, sizeof...(E)> outs{a.out.data()...};
#if KILN_SIMD
  constexpr bool packets = (expr::root_packet_v<E> && ...);
#else
  constexpr bool packets = false;
#endif
  parallel_for(n, kParallelGrain, 64, [&](int64_t b, int64_t end) {
    auto ps = plans;
    auto run = [&]<std::size_t... K>(std::index_sequence<K...>) {
      int64_t i = b;
#if KILN_SIMD
      if constexpr (packets) {
        constexpr int L = simd::lanes_v<T>;
        for (; i + L <= end; i += L)
          ((simd::storeu(outs[K] + i, std::get<K>(ps).template packet<false, true>(i, L))), ...);
      }
#endif
      for (; i < end; ++i) ((outs[K][i] = std::get<K>(ps).template eval<false>(i)), ...);
    };
    run(std::index_sequence_for<E...>{});
  });
  (a.out.storage().bump_version(), ...);
}

}  // namespace kiln::optim
