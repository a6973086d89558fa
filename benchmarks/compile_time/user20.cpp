// SPDX-License-Identifier: BSD-3-Clause
// A realistic user file for measuring compile time: one include of <kiln/kiln.hpp> and
// about twenty different ops (factories, views, elementwise, reductions) in main().
// Timed by measure.sh; it also links and runs (against the kiln library).
#include <cstdio>
#include <kiln/kiln.hpp>

int main() {
  // factories
  const kiln::Tensor<float> x =
      kiln::linspace<float>(-3.0, 3.0, 64 * 32).reshape({64, 32});  // [64, 32]
  const kiln::Tensor<float> w = kiln::full<float>({32}, 0.5f);
  const kiln::Tensor<float> bias = kiln::arange<float>(0, 32).reshape({1, 32}) * 0.01f;
  const kiln::Tensor<float> id = kiln::eye<float>(32);
  const kiln::Tensor<float> zero = kiln::zeros<float>({64, 32});

  // elementwise, fused: a linear layer's bias + activation, a clamp, a where
  kiln::Tensor<float> h = kiln::gelu(x * w + bias);
  h = kiln::clamp(h, -1.0, 2.0) + kiln::tanh(x) * 0.1f;
  const kiln::Tensor<float> pos = kiln::where(x > 0.0f, kiln::sqrt(kiln::abs(x)), zero);
  const kiln::Tensor<float> z = kiln::exp(x * x * -0.5f) / (1.0f + kiln::sigmoid(x));

  // views
  const kiln::Tensor<float> ht = h.transpose(0, 1);                // [32, 64]
  const kiln::Tensor<float> top = h.slice(0, 0, 8);                // [8, 32]
  const kiln::Tensor<float> col = w.unsqueeze(1).expand({32, 4});  // [32, 4]

  // reductions
  const kiln::Tensor<float> row_sum = kiln::sum(h * id.slice(0, 0, 1), 1);  // [64]
  const kiln::Tensor<float> lse = kiln::logsumexp(x, 1);                    // [64]
  const kiln::Tensor<float> m = kiln::mean(ht, 1);                          // [32]
  const kiln::Tensor<float> v = kiln::var(z);                               // []
  const kiln::Tensor<float> mx = kiln::amax(pos, {0});                      // [32]
  const kiln::Tensor<int64_t> am = kiln::argmax(kiln::log(1.0f + z), 1);    // [64]

  std::printf("h[0,0]=%g sum(top)=%g col=%g rows=%g lse=%g mean=%g var=%g max=%g argmax=%lld\n",
              static_cast<double>(h(0, 0)), static_cast<double>(kiln::sum(top).item()),
              static_cast<double>(kiln::sum(col).item()),
              static_cast<double>(kiln::sum(row_sum).item()), static_cast<double>(lse(0)),
              static_cast<double>(m(0)), static_cast<double>(v.item()), static_cast<double>(mx(0)),
              static_cast<long long>(am(0)));
  return 0;
}
