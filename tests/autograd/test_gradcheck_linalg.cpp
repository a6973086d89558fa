// SPDX-License-Identifier: BSD-3-Clause
// gradcheck cases of kiln::linalg (src/linalg_autograd.cpp): well-conditioned matrices
// built inside each fn (a shifted diagonal, symmetric positive-definite A = X + X^T + 8 I),
// so that the gradient flows through the construction; every case but the singular det
// also runs gradgradcheck.
#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/gradcheck_registry.hpp"

namespace {
using kiln::Tensor;
using kiln::test::Inputs;
namespace k = kiln;
namespace la = kiln::linalg;

/// test::values() plus a term that is not a function of row plus column: values() alone is
/// 1.5 sin(a_i + b_j) for a matrix, of rank 2 whatever its size.
Tensor<double> full_rank(const kiln::Shape& s, uint64_t seed) {
  Tensor<double> t = k::test::values(s, seed);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data()[i] += 0.5 * std::cos(0.7 * static_cast<double>(i * i) + static_cast<double>(seed));
  return t;
}
/// A contiguous leaf of full-rank matrices.
Tensor<double> leaf(const kiln::Shape& s, uint64_t seed = 0) {
  return full_rank(s, seed).requires_grad_();
}
/// A non-contiguous 2-D leaf: the transpose of a [s[1], s[0]] tensor.
Tensor<double> leaf_t(const kiln::Shape& s, uint64_t seed = 0) {
  Tensor<double> t = full_rank({s[1], s[0]}, seed).t();
  return t.requires_grad_();
}

Tensor<double> mT(const Tensor<double>& x) { return x.transpose(-2, -1); }
/// x + c I: values() are at most 1.5, so c = 4 keeps a 3 x 3 x well conditioned.
Tensor<double> shift(const Tensor<double>& x, double c = 4) {
  return x + k::eye<double>(x.size(-1)) * c;
}
/// x + x^T + 8 I: symmetric positive-definite for the 3 x 3 test values.
Tensor<double> spd(const Tensor<double>& x) { return shift(Tensor<double>(x + mT(x)), 8); }
/// x + x^T, symmetric with distinct eigenvalues for the test values.
Tensor<double> sym(const Tensor<double>& x) { return x + mT(x); }
/// Columns of V [..., m, k] scaled by +-1 so that their first entries are positive: the
/// signs are constants, so the result is a smooth function of the input (singular and
/// eigen vectors are defined up to sign).
Tensor<double> fix_sign(const Tensor<double>& V) {
  const Tensor<double> first = V.detach().select(-2, 0).contiguous();
  Tensor<double> s(first.shape());
  for (int64_t i = 0; i < s.numel(); ++i) s.data()[i] = first.data()[i] < 0 ? -1.0 : 1.0;
  return V * s.unsqueeze(-2);
}
/// A singular 3 x 3 leaf (rank 2: its rows are 1 apart): det's cofactor branch.
Inputs singular() {
  Tensor<double> a({3, 3});
  for (int64_t i = 0; i < 9; ++i) a.data()[i] = 0.3 * static_cast<double>(i + 1);
  a.data()[4] = -0.7;  // rank 2: row 2 = 2 row 1 - row 0
  a.data()[7] = 2 * a.data()[4] - a.data()[1];
  return {a.requires_grad_()};
}

Inputs sq_t() { return {leaf_t({3, 3})}; }
Inputs batch() { return {leaf({2, 3, 3})}; }
Inputs solve_t() { return {leaf_t({3, 3}), leaf({3, 2}, 1)}; }
Inputs solve_bcast_a() { return {leaf({3, 3}), leaf({2, 3, 2}, 1)}; }
Inputs solve_vector() { return {leaf({2, 3, 3}), leaf({3}, 1)}; }
Inputs solve_bcast_both() { return {leaf({2, 1, 2, 2}), leaf({3, 2, 1}, 1)}; }
Inputs batch2() { return {leaf({2, 2, 2})}; }
Inputs tall_t() { return {leaf_t({4, 3})}; }
Inputs wide() { return {leaf({2, 4})}; }
Inputs thin_t() { return {leaf_t({3, 2})}; }
Inputs wide_batch() { return {leaf({2, 2, 3})}; }
Inputs vec() { return {leaf({3, 4})}; }
Inputs vec_t() { return {leaf_t({3, 4})}; }

KILN_GRADCHECK_CASES({
    // solve: transposed A; A broadcast over B's batch; B a vector; both batches broadcast.
    {"linalg.solve", solve_t, [](const Inputs& x) { return la::solve(shift(x[0]), x[1]); }, true},
    {"linalg.solve", solve_bcast_a, [](const Inputs& x) { return la::solve(shift(x[0]), x[1]); },
     true},
    {"linalg.solve", solve_vector, [](const Inputs& x) { return la::solve(shift(x[0]), x[1]); },
     true},
    {"linalg.solve", solve_bcast_both,
     [](const Inputs& x) { return la::solve(shift(x[0], 3), x[1]); }, true},
    // inv
    {"linalg.inv", sq_t, [](const Inputs& x) { return la::inv(shift(x[0])); }, true},
    {"linalg.inv", batch2, [](const Inputs& x) { return la::inv(shift(x[0], 3)); }, true},
    // det (and its singular branch, first order only)
    {"linalg.det", sq_t, [](const Inputs& x) { return la::det(shift(x[0], 2)); }, true},
    {"linalg.det", batch, [](const Inputs& x) { return la::det(x[0]); }, true},
    {"linalg.det", singular, [](const Inputs& x) { return la::det(x[0]); }},
    // slogdet: logabsdet (sign has no gradient); the second batch matrix has det < 0.
    {"linalg.slogdet", sq_t, [](const Inputs& x) { return la::slogdet(shift(x[0], 2)).logabsdet; },
     true},
    {"linalg.slogdet", batch, [](const Inputs& x) { return la::slogdet(x[0]).logabsdet; }, true},
    // cholesky, lower and upper
    {"linalg.cholesky", sq_t, [](const Inputs& x) { return la::cholesky(spd(x[0])); }, true},
    {"linalg.cholesky", batch, [](const Inputs& x) { return la::cholesky(spd(x[0]), true); }, true},
    // matrix_power: several bit patterns of n, negative n, n = 0
    {"linalg.matrix_power", sq_t,
     [](const Inputs& x) { return la::matrix_power(Tensor<double>(x[0] * 0.5), 3); }, true},
    {"linalg.matrix_power", batch,
     [](const Inputs& x) { return la::matrix_power(Tensor<double>(x[0] * 0.4), 6); }, true},
    {"linalg.matrix_power", sq_t, [](const Inputs& x) { return la::matrix_power(shift(x[0]), -2); },
     true},
    {"linalg.matrix_power", sq_t, [](const Inputs& x) { return la::matrix_power(x[0], 1); }, true},
    {"linalg.matrix_power", sq_t, [](const Inputs& x) { return la::matrix_power(x[0], 0); }, true},
    // qr: tall (reduced), wide, square complete; Q and R each.
    {"linalg.qr", tall_t, [](const Inputs& x) { return la::qr(x[0]).Q; }, true},
    {"linalg.qr", tall_t, [](const Inputs& x) { return la::qr(x[0]).R; }, true},
    {"linalg.qr", wide, [](const Inputs& x) { return la::qr(x[0]).Q; }, true},
    {"linalg.qr", wide, [](const Inputs& x) { return la::qr(x[0]).R; }, true},
    {"linalg.qr", batch, [](const Inputs& x) { return la::qr(x[0], "complete").Q; }, true},
    // eigh: eigenvalues, eigenvectors (sign-fixed), the upper triangle
    {"linalg.eigh", sq_t, [](const Inputs& x) { return la::eigh(sym(x[0])).eigenvalues; }, true},
    {"linalg.eigh", sq_t,
     [](const Inputs& x) { return fix_sign(la::eigh(sym(x[0])).eigenvectors); }, true},
    {"linalg.eigh", batch,
     [](const Inputs& x) { return fix_sign(la::eigh(sym(x[0]), 'U').eigenvectors); }, true},
    {"linalg.eigvalsh", batch, [](const Inputs& x) { return la::eigvalsh(sym(x[0])); }, true},
    // svd (thin; full on a square input), singular vectors sign-fixed
    {"linalg.svd", thin_t, [](const Inputs& x) { return la::svd(x[0], false).S; }, true},
    {"linalg.svd", tall_t, [](const Inputs& x) { return fix_sign(la::svd(x[0], false).U); }, true},
    {"linalg.svd", tall_t, [](const Inputs& x) { return fix_sign(mT(la::svd(x[0], false).Vh)); },
     true},
    {"linalg.svd", wide, [](const Inputs& x) { return fix_sign(la::svd(x[0], false).U); }, true},
    {"linalg.svd", wide, [](const Inputs& x) { return fix_sign(mT(la::svd(x[0], false).Vh)); },
     true},
    {"linalg.svd", sq_t, [](const Inputs& x) { return fix_sign(la::svd(x[0]).U); }, true},
    {"linalg.svdvals", wide_batch, [](const Inputs& x) { return la::svdvals(x[0]); }, true},
    {"linalg.svdvals", thin_t, [](const Inputs& x) { return la::svdvals(x[0]); }, true},
    // norms: compositions of svdvals, kiln::norm, amax/amin and the fused reductions
    {"linalg.vector_norm", vec_t, [](const Inputs& x) { return la::vector_norm(x[0]); }, true},
    {"linalg.vector_norm", vec, [](const Inputs& x) { return la::vector_norm(x[0], 1, {1}); },
     true},
    {"linalg.vector_norm", vec,
     [](const Inputs& x) { return la::vector_norm(x[0], INFINITY, {0}, true); }, true},
    {"linalg.vector_norm", vec, [](const Inputs& x) { return la::vector_norm(x[0], 3.0, {1}); },
     true},
    {"linalg.vector_norm", vec,
     [](const Inputs& x) { return la::vector_norm(x[0], -INFINITY, {1}); }, true},
    {"linalg.vector_norm", vec, [](const Inputs& x) { return la::vector_norm(x[0], -1.5, {1}); },
     true},
    {"linalg.matrix_norm", batch, [](const Inputs& x) { return la::matrix_norm(x[0]); }, true},
    {"linalg.matrix_norm", batch, [](const Inputs& x) { return la::matrix_norm(x[0], "nuc"); },
     true},
    {"linalg.matrix_norm", batch, [](const Inputs& x) { return la::matrix_norm(x[0], 2); }, true},
    {"linalg.matrix_norm", batch, [](const Inputs& x) { return la::matrix_norm(x[0], -2); }, true},
    {"linalg.matrix_norm", batch, [](const Inputs& x) { return la::matrix_norm(x[0], 1); }, true},
    {"linalg.matrix_norm", batch,
     [](const Inputs& x) {
       return la::matrix_norm(x[0], -INFINITY, {0, 2}, true);
     },
     true},
    {"linalg.norm", vec, [](const Inputs& x) { return la::norm(x[0], "fro"); }, true},
});
}  // namespace
