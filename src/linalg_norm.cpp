// SPDX-License-Identifier: BSD-3-Clause
// kiln::linalg norms: vector_norm and the elementwise matrix norms compose kiln's fused
// reductions; nuc and +-2 reduce singular values.
#include <cmath>

#include "kiln/expr/ops.hpp"
#include "kiln/linalg.hpp"
#include "kiln/ops/reduce.hpp"

namespace kiln::linalg {

NormOrd::NormOrd(std::string_view name) : kind_(Kind::Number) {
  if (name == "fro") {
    kind_ = Kind::Fro;
  } else if (name == "nuc") {
    kind_ = Kind::Nuc;
  } else {
    KILN_CHECK(false, ValueError, "[linalg.norm] ord must be a number, 'fro' or 'nuc', got '", name,
               "'");
  }
}

std::ostream& operator<<(std::ostream& os, const NormOrd& o) {
  switch (o.kind()) {
    case NormOrd::Kind::Fro:
      return os << "'fro'";
    case NormOrd::Kind::Nuc:
      return os << "'nuc'";
    case NormOrd::Kind::Number:
      break;
  }
  return os << o.p();
}

namespace {

// Checks that reducing `mask` of `s` with a reduction that has no identity (max, min, a
// negative power) is possible: each output must see at least one element.
void check_identity_free(const Shape& s, uint32_t mask, const NormOrd& ord, const char* op) {
  const bool empty = kiln::detail::reduced_count(s, mask) == 0 &&
                     numel_of(kiln::detail::reduced_shape(s, mask, false)) > 0;
  KILN_CHECK(!empty, ValueError, "[", op, "] cannot compute the ", ord,
             " norm of an empty input (shape ", s,
             ") because the operation does not have an identity");
}

}  // namespace

template <class T>
Tensor<detail::linalg_t<T>> vector_norm(const Tensor<T>& x, double ord, const Dims& dims,
                                        bool keepdim) {
  const uint32_t mask = kiln::detail::reduce_mask(dims, x.dim(), "linalg.vector_norm");
  KILN_CHECK(!std::isnan(ord), ValueError, "[linalg.vector_norm] ord must not be NaN");
  if (ord < 0 || std::isinf(ord)) check_identity_free(x.shape(), mask, ord, "linalg.vector_norm");
  if (ord >= 0) return kiln::norm(x, ord, dims, keepdim);
  if (std::isinf(ord)) return amin(abs(x), dims, keepdim);
  // (sum |x|^p)^(1/p) for p < 0: a zero element gives |0|^p = inf and the norm 0, as in torch.
  return Tensor<T>(pow(sum(pow(abs(x), ord), dims, keepdim), 1.0 / ord));
}

template <class T>
Tensor<detail::linalg_t<T>> matrix_norm(const Tensor<T>& A, NormOrd ord, const Dims& dims,
                                        bool keepdim) {
  const char* op = "linalg.matrix_norm";
  KILN_CHECK(A.dim() >= 2, ShapeError, "[", op,
             "] A must have at least 2 dimensions (a matrix or a batch of matrices), got shape ",
             A.shape());
  KILN_CHECK(dims.size() == 2, ValueError, "[", op, "] dims must name 2 dims, got ", dims);
  const int d0 = wrap_dim(dims[0], A.dim(), op), d1 = wrap_dim(dims[1], A.dim(), op);
  KILN_CHECK(d0 != d1, ValueError, "[", op, "] dims must be different, got ", dims);
  const double p = ord.p();
  KILN_CHECK(!ord.is_number() || std::abs(p) == 1 || std::abs(p) == 2 || std::isinf(p), ValueError,
             "[", op, "] order ", ord,
             " is not supported; use 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2");
  if (ord.kind() == NormOrd::Kind::Fro) return kiln::norm(A, 2.0, Dims{d0, d1}, keepdim);
  if (ord.is_number()) check_identity_free(A.shape(), (1u << d0) | (1u << d1), ord, op);

  // The matrix dims without keepdim (d0 and d1 removed).
  Shape kept;
  for (int d = 0; d < A.dim(); ++d)
    if (d != d0 && d != d1) kept.push_back(A.shape()[d]);

  if (ord.is_number() && std::abs(p) != 2) {
    // 1: the largest column sum (sum over rows d0, then max over columns d1); inf: the
    // largest row sum. Negative orders take the smallest.
    const int sum_dim = std::abs(p) == 1 ? d0 : d1, ext_dim = std::abs(p) == 1 ? d1 : d0;
    const Tensor<T> sums = sum(abs(A), Dims{sum_dim}, /*keepdim=*/true);
    const Tensor<T> r = p > 0 ? amax(sums, Dims{ext_dim}, true) : amin(sums, Dims{ext_dim}, true);
    return keepdim ? r : r.reshape(kept);
  }
  // nuc, 2, -2: from the singular values of the matrices moved to the last two dims.
  Dims perm;
  for (int d = 0; d < A.dim(); ++d)
    if (d != d0 && d != d1) perm.push_back(d);
  perm.push_back(d0);
  perm.push_back(d1);
  const Tensor<T> sv = svdvals(A.permute(perm));  // [kept..., k]
  Tensor<T> r = ord.kind() == NormOrd::Kind::Nuc ? sum(sv, Dims{-1})
                : p > 0                          ? amax(sv, Dims{-1})
                                                 : amin(sv, Dims{-1});
  if (keepdim) r = r.unsqueeze(std::min(d0, d1)).unsqueeze(std::max(d0, d1));
  return r;
}

template <class T>
Tensor<detail::linalg_t<T>> norm(const Tensor<T>& x, std::optional<NormOrd> ord,
                                 std::optional<Dims> dims, bool keepdim) {
  if (dims) {
    KILN_CHECK(dims->size() == 1 || dims->size() == 2, ValueError,
               "[linalg.norm] dims must name 1 dim (a vector norm) or 2 (a matrix norm), got ",
               *dims);
    if (dims->size() == 2) return matrix_norm(x, ord.value_or("fro"), *dims, keepdim);
    KILN_CHECK(!ord || ord->is_number(), ValueError, "[linalg.norm] order ", *ord,
               " is a matrix norm, but dims ", *dims, " name one dim");
    return vector_norm(x, ord ? ord->p() : 2.0, *dims, keepdim);
  }
  if (!ord) return vector_norm(x, 2.0, Dims{}, keepdim);
  KILN_CHECK(x.dim() == 1 || x.dim() == 2, ValueError,
             "[linalg.norm] x must be 1-D or 2-D when ord is given without dims, got shape ",
             x.shape());
  if (x.dim() == 2) return matrix_norm(x, *ord, Dims{0, 1}, keepdim);
  KILN_CHECK(ord->is_number(), ValueError, "[linalg.norm] order ", *ord,
             " is a matrix norm, but x is 1-D (shape ", x.shape(), ")");
  return vector_norm(x, ord->p(), Dims{}, keepdim);
}

#define KILN_LINALG_NORM(T)                                                        \
  template Tensor<T> vector_norm<T>(const Tensor<T>&, double, const Dims&, bool);  \
  template Tensor<T> matrix_norm<T>(const Tensor<T>&, NormOrd, const Dims&, bool); \
  template Tensor<T> norm<T>(const Tensor<T>&, std::optional<NormOrd>, std::optional<Dims>, bool);
KILN_LINALG_NORM(float)
KILN_LINALG_NORM(double)
#undef KILN_LINALG_NORM

}  // namespace kiln::linalg
