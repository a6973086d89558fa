// SPDX-License-Identifier: BSD-3-Clause
// The CUDA reductions' split of work (Note [CUDA reductions]), replayed on the CPU: the
// same geometry and the same per-thread walks the kernels run, with blocks and threads
// as loops, compared with the CPU reduction. Runs in every build (no GPU needed), so the
// index arithmetic of the kernels is tested where no GPU is present.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "kiln/expr/reduce_geometry.hpp"
#include "kiln/kiln.hpp"

namespace {

namespace kc = kiln::expr::cuda;
using kiln::Dims;
using kiln::Shape;

// What reduce_block_kernel / reduce_thread_kernel and combine_kernel compute, in order:
// lane accumulators are combined in lane order (CUB's tree order differs only in
// rounding).
template <class A, class RF, class E>
std::vector<A> replay(const E& e, uint32_t mask, RF rf, kc::ReduceGeometry* geometry = nullptr) {
  const Shape& shape = e.shape();
  const kc::ReduceGeometry g = kc::reduce_geometry(shape, mask, kiln::expr::leaf_strides(e, shape));
  if (geometry) *geometry = g;
  const int64_t n_out = g.rl.n_out, n_red = g.rl.n_red;
  std::vector<A> out(static_cast<std::size_t>(n_out), RF::template identity<A>());
  if (n_out == 0 || n_red == 0) return out;
  const auto plan = e.plan(g.rl.layout);
  std::vector<A> partial(static_cast<std::size_t>(n_out * g.pieces));
  for (int64_t item = 0; item < n_out * g.pieces; ++item) {
    if (g.per_thread) {
      const int64_t o = item % n_out, c = item / n_out;
      const int64_t r0 = c * g.piece, r1 = std::min(n_red, r0 + g.piece);
      auto p = plan;
      partial[static_cast<std::size_t>(o * g.pieces + c)] =
          kc::reduce_run<A>(p, g.dims, o, r0, r1, rf);
    } else {
      const int64_t o = item / g.pieces, r0 = (item % g.pieces) * g.piece;
      const int64_t r1 = std::min(n_red, r0 + g.piece);
      A total = RF::template identity<A>();
      for (int lane = 0; lane < kc::kReduceThreads; ++lane) {
        auto p = plan;
        total =
            rf(total, kc::reduce_strided<A>(p, g.dims, o, r0 + lane, r1, kc::kReduceThreads, rf));
      }
      partial[static_cast<std::size_t>(item)] = total;
    }
  }
  for (int64_t o = 0; o < n_out; ++o)
    for (int64_t c = 0; c < g.pieces; ++c)
      out[static_cast<std::size_t>(o)] =
          rf(out[static_cast<std::size_t>(o)], partial[static_cast<std::size_t>(o * g.pieces + c)]);
  return out;
}

template <class E>
void check_sum(const E& e, const Dims& dims) {
  const uint32_t mask = kiln::detail::reduce_mask(dims, e.shape().size(), "sum");
  const std::vector<double> got =
      replay<double>(kiln::cast<double>(e), mask, kiln::expr::op::SumReduce{});
  const kiln::Tensor<double> want = kiln::sum(kiln::cast<double>(e), dims);
  REQUIRE(static_cast<int64_t>(got.size()) == want.numel());
  for (std::size_t i = 0; i < got.size(); ++i)
    CHECK(got[i] == Approx(want.data()[i]).epsilon(1e-12).margin(1e-9));
}

}  // namespace

TEST_CASE("CUDA reduction geometry: the kernels' walk gives the CPU's sums", "[cuda][reduce]") {
  kiln::manual_seed(11);
  const auto x = kiln::randn<float>({7, 300, 5});
  for (const Dims& dims : {Dims{}, Dims{0}, Dims{1}, Dims{2}, Dims{0, 2}, Dims{1, 2}, Dims{0, 1}})
    check_sum(x, dims);
  // Non-contiguous and broadcast operands: a transposed view and a row broadcast over it.
  const auto m = kiln::randn<float>({90, 130});
  const auto row = kiln::randn<float>({1, 90});
  for (const Dims& dims : {Dims{}, Dims{0}, Dims{1}}) {
    check_sum(m.t(), dims);
    check_sum(m.t() * row, dims);
    check_sum(m.slice(1, 0, 130, 3), dims);
  }
  // Sizes 0 and 1.
  check_sum(kiln::randn<float>({1, 1}), Dims{});
  check_sum(kiln::randn<float>({4, 1}), Dims{1});
  check_sum(kiln::zeros<float>({0, 3}), Dims{0});
  check_sum(kiln::zeros<float>({3, 0}), Dims{0});
  // Several reduced dims that do not coalesce (the per-element coordinate path).
  const auto big = kiln::randn<float>({6, 40, 3, 70});
  check_sum(big.permute({0, 2, 1, 3}), Dims{1, 3});
  check_sum(big, Dims{0, 2});
  // Long ranges split into pieces, per thread and per block.
  check_sum(kiln::randn<float>({20000}), Dims{});
  check_sum(kiln::randn<float>({3000, 9}), Dims{0});
  check_sum(kiln::randn<float>({9, 3000}), Dims{1});
}

TEST_CASE("CUDA reduction geometry: extrema and logsumexp accumulators", "[cuda][reduce]") {
  kiln::manual_seed(12);
  const auto x = kiln::randn<float>({40, 700});
  const auto got = replay<float>(x, 2u, kiln::expr::op::MaxReduce{});
  const kiln::Tensor<float> want = kiln::amax(x, Dims{1});
  for (int64_t i = 0; i < 40; ++i) CHECK(got[static_cast<std::size_t>(i)] == want.data()[i]);
  using L = kiln::expr::op::LseAcc<float>;
  const auto lse = replay<L>(x.t(), 1u, kiln::expr::op::LogSumExpReduce{});
  const kiln::Tensor<float> want_lse = kiln::logsumexp(x.t(), Dims{0});
  for (int64_t i = 0; i < 40; ++i)
    CHECK(kiln::expr::op::LogSumExpFin<float>{}(lse[static_cast<std::size_t>(i)], 700) ==
          Approx(want_lse.data()[i]).epsilon(1e-5));
}

TEST_CASE("CUDA reduction geometry: argmax and argmin, ties and NaN", "[cuda][reduce]") {
  // Small integers give many ties: the first index must win, in any walk.
  kiln::manual_seed(13);
  const kiln::Tensor<float> x = kiln::cast<float>(kiln::randint<int32_t>(0, 4, {30, 500}));
  x.select(0, 7).select(0, 123).fill_(NAN);  // a NaN wins its row, the first NaN the whole
  x.select(0, 9).select(0, 400).fill_(NAN);
  using A = kiln::expr::op::ArgAcc<float>;
  const kiln::expr::op::ArgIndexFin fin;
  for (const Dims& dims : {Dims{}, Dims{0}, Dims{1}}) {
    INFO("dims " << dims);
    const uint32_t mask = kiln::detail::reduce_mask(dims, 2, "argmax");
    const auto got_max = replay<A>(x, mask, kiln::expr::op::ArgReduce<true>{});
    const auto got_min = replay<A>(x.t(), mask, kiln::expr::op::ArgReduce<false>{});
    const kiln::Tensor<int64_t> want_max =
        dims.empty() ? kiln::argmax(x) : kiln::argmax(x, dims[0]);
    const kiln::Tensor<int64_t> want_min =
        dims.empty() ? kiln::argmin(x.t()) : kiln::argmin(x.t(), dims[0]);
    REQUIRE(static_cast<int64_t>(got_max.size()) == want_max.numel());
    REQUIRE(static_cast<int64_t>(got_min.size()) == want_min.numel());
    for (std::size_t i = 0; i < got_max.size(); ++i)
      CHECK(fin(got_max[i], 0) == want_max.data()[i]);
    for (std::size_t i = 0; i < got_min.size(); ++i)
      CHECK(fin(got_min[i], 0) == want_min.data()[i]);
  }
}

TEST_CASE("CUDA reduction geometry: which kernel and how many pieces", "[cuda][reduce]") {
  const auto geometry = [](const Shape& s, uint32_t mask, const kiln::Tensor<float>& t) {
    return kc::reduce_geometry(s, mask, {kiln::broadcast_strides(t.shape(), t.strides(), s)});
  };
  // Row sums of a big matrix: a block per row, no second pass.
  const kiln::Tensor<float> rows({8192, 8192});
  auto g = geometry(rows.shape(), 2u, rows);
  CHECK_FALSE(g.per_thread);
  CHECK(g.pieces == 1);
  // Everything into one number: enough pieces to fill a GPU, each a long run.
  const kiln::Tensor<float> flat({int64_t{1} << 26});
  g = geometry(flat.shape(), 1u, flat);
  CHECK_FALSE(g.per_thread);
  CHECK(g.pieces == 4096);
  CHECK(g.piece * g.pieces >= g.rl.n_red);
  // Column sums: a thread per output (coalesced across outputs), split along the rows.
  const kiln::Tensor<float> cols({4096, 4096});
  g = geometry(cols.shape(), 1u, cols);
  CHECK(g.per_thread);
  CHECK(g.pieces == 16);
  CHECK(g.piece == 256);
  // Short ranges: a thread per output.
  const kiln::Tensor<float> narrow({100000, 10});
  g = geometry(narrow.shape(), 2u, narrow);
  CHECK(g.per_thread);
  CHECK(g.pieces == 1);
}
