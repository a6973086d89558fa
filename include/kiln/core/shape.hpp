// SPDX-License-Identifier: BSD-3-Clause
// Shape and Strides: small inline vectors of int64, plus broadcasting and dim helpers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>

#include "kiln/core/config.hpp"
#include "kiln/core/error.hpp"

namespace kiln {

/// A rank-bounded list of extents or strides, stored inline (no heap), trivially copyable.
class Dims {
 public:
  constexpr Dims() = default;
  Dims(std::initializer_list<int64_t> v) { assign(v.begin(), v.size()); }
  Dims(std::span<const int64_t> v) { assign(v.data(), v.size()); }
  explicit Dims(int n, int64_t fill = 0) {
    check_rank(n);
    n_ = n;
    std::fill(d_, d_ + n, fill);
  }

  KILN_HD constexpr int size() const { return n_; }
  KILN_HD constexpr bool empty() const { return n_ == 0; }
  KILN_HD constexpr int64_t& operator[](int i) { return d_[i]; }
  KILN_HD constexpr int64_t operator[](int i) const { return d_[i]; }
  constexpr int64_t* begin() { return d_; }
  constexpr int64_t* end() { return d_ + n_; }
  constexpr const int64_t* begin() const { return d_; }
  constexpr const int64_t* end() const { return d_ + n_; }
  constexpr const int64_t* data() const { return d_; }
  int64_t back() const { return d_[n_ - 1]; }

  void push_back(int64_t v) {
    check_rank(n_ + 1);
    d_[n_++] = v;
  }
  void insert(int pos, int64_t v) {
    check_rank(n_ + 1);
    for (int i = n_; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = v;
    ++n_;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
    --n_;
  }

  friend bool operator==(const Dims& a, const Dims& b) {
    if (a.n_ != b.n_) return false;
    for (int i = 0; i < a.n_; ++i)  // a plain loop: std::equal becomes a memcmp call
      if (a.d_[i] != b.d_[i]) return false;
    return true;
  }
  friend std::ostream& operator<<(std::ostream& os, const Dims& d) {
    os << '[';
    for (int i = 0; i < d.n_; ++i) os << (i ? ", " : "") << d.d_[i];
    return os << ']';
  }
  std::string str() const { return detail::str_cat(*this); }

 private:
  // Inline so the compiler sees that no index past kMaxDims survives the check (a
  // checker in another function trips GCC's -Warray-bounds on the stores after it).
  static void check_rank(std::size_t n) {
    if (n > static_cast<std::size_t>(kMaxDims)) [[unlikely]]
      throw_rank(n);
  }
  [[noreturn]] static void throw_rank(std::size_t n) {
    throw ShapeError(
        detail::str_cat("kiln tensors have at most ", kMaxDims, " dimensions, got ", n));
  }
  void assign(const int64_t* p, std::size_t n) {
    check_rank(n);
    n_ = static_cast<int>(n);
    std::copy(p, p + n, d_);
  }
  int64_t d_[kMaxDims] = {};
  int n_ = 0;
};

using Shape = Dims;
using Strides = Dims;

/// Number of elements of a shape (1 for rank 0).
inline int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t e : s) n *= e;
  return n;
}

/// Row-major strides, in elements. Size-1 dims get the stride they would have anyway.
inline Strides contiguous_strides(const Shape& s) {
  Strides st(s.size());
  int64_t acc = 1;
  for (int i = s.size() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

/// Whether (shape, strides) is row-major contiguous; size-1 dims may have any stride.
inline bool is_contiguous_layout(const Shape& s, const Strides& st) {
  for (int64_t e : s)
    if (e == 0) return true;
  int64_t expected = 1;
  for (int i = s.size() - 1; i >= 0; --i) {
    if (s[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

/// Wraps a possibly negative dim into [0, ndim); throws IndexError naming the op.
inline int wrap_dim(int64_t dim, int ndim, const char* op) {
  const int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  KILN_CHECK(dim >= lo && dim <= hi, IndexError, "[", op,
             "] dimension out of range (expected to be in [", lo, ", ", hi, "], but got ", dim,
             ")");
  return static_cast<int>(dim < 0 ? dim + std::max(ndim, 1) : dim);
}

/// NumPy/PyTorch broadcasting of two shapes; throws ShapeError naming both.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  const int n = std::max(a.size(), b.size());
  Shape out(n);
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - a.size()), ib = i - (n - b.size());
    const int64_t ea = ia >= 0 ? a[ia] : 1, eb = ib >= 0 ? b[ib] : 1;
    KILN_CHECK(ea == eb || ea == 1 || eb == 1, ShapeError, "[", op, "] shapes ", a, " and ", b,
               " cannot be broadcast together (dimension ", i, ": ", ea, " vs ", eb, ")");
    out[i] = ea == 1 ? eb : ea;
  }
  return out;
}

/// Whether `from` broadcasts to exactly `to` (to is not changed).
inline bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const int off = to.size() - from.size();
  for (int i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[i + off]) return false;
  return true;
}

/// Strides that read a tensor of (shape, strides) as if expanded to `to` (0 on broadcast dims).
inline Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& to) {
  Strides out(to.size());
  const int off = to.size() - shape.size();
  for (int i = 0; i < to.size(); ++i) {
    const int j = i - off;
    out[i] = (j < 0 || shape[j] == 1) ? 0 : strides[j];
  }
  return out;
}

}  // namespace kiln
