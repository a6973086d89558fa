// SPDX-License-Identifier: BSD-3-Clause
// The loops behind include/kiln/ops/index.hpp, instantiated once for every dtype.
#include "kiln/ops/index.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "index_loops.hpp"

namespace kiln::detail {

void check_defined(bool defined, const char* op, const char* what) {
  KILN_CHECK(defined, ValueError, "[", op, "] ", what, " is an undefined tensor");
}

void check_index_range(const Tensor<int64_t, CPU>& index, int64_t size, int dim, const char* op) {
  const int64_t n = index.numel();
  if (n == 0) return;
  const int64_t* p = index.data();
  const std::array<Strides, 1> st{index.strides()};
  const auto bound = static_cast<uint64_t>(size);  // a negative index wraps far above it
  std::atomic<int64_t> first_bad{n};
  parallel_for(n, kParallelGrain, 1, [&](int64_t b, int64_t e) {
    int64_t pos = b, bad = -1;
    walk<1>(index.shape(), st, b, e, [&](const Offsets<1>& off, const Offsets<1>& in, int64_t run) {
      if (bad >= 0) return;
      bool any = false;
      for (int64_t j = 0; j < run; ++j)
        any |= static_cast<uint64_t>(p[off[0] + j * in[0]]) >= bound;
      if (any)
        for (int64_t j = 0; bad < 0; ++j)
          if (static_cast<uint64_t>(p[off[0] + j * in[0]]) >= bound) bad = pos + j;
      pos += run;
    });
    if (bad < 0) return;
    int64_t cur = first_bad.load();
    while (bad < cur && !first_bad.compare_exchange_weak(cur, bad)) {
    }
  });
  const int64_t bad = first_bad.load();
  if (bad == n) return;
  int64_t value = 0;
  walk<1>(index.shape(), st, bad, bad + 1,
          [&](const Offsets<1>& off, const Offsets<1>&, int64_t) { value = p[off[0]]; });
  throw IndexError(str_cat("[", op, "] index ", value, " is out of bounds for dimension ", dim,
                           " with size ", size));
}

namespace {

// 0-d tensors index like [1] (Note [Index checks]).
template <class T>
Tensor<T, CPU> nonempty(const Tensor<T, CPU>& t) {
  return t.dim() == 0 ? t.view({1}) : t;
}

// out (contiguous, index's shape) [p] = x[p with coordinate d replaced by index[p]].
// index has x's rank; its indices have been checked.
template <class T>
void gather_kernel(T* out, const Tensor<T, CPU>& x, int d, const Tensor<int64_t, CPU>& index) {
  const Shape& s = index.shape();
  Strides xst = x.strides();
  const int64_t xd = xst[d];
  xst[d] = 0;
  const T* xp = x.data();
  const int64_t* ip = index.data();
  parallel_walk<3>(s, {contiguous_strides(s), index.strides(), xst},
                   [&](const Offsets<3>& off, const Offsets<3>& in, int64_t run) {
                     T* o = out + off[0];
                     const int64_t* ix = ip + off[1];
                     const T* src = xp + off[2];
                     if (in[1] == 0) {  // one index for the whole row (index_select, embedding)
                       const T* row = src + ix[0] * xd;
                       for (int64_t j = 0; j < run; ++j) o[j] = row[j * in[2]];
                     } else {
                       for (int64_t j = 0; j < run; ++j) o[j] = src[j * in[2] + ix[j * in[1]] * xd];
                     }
                   });
}

// acc(self[p with coordinate d replaced by index[p]], src[p]) for every position p of
// index's shape, deterministically (Note [Deterministic scatter]). self and index have
// the same rank; src is read with strides src_st over index's shape.
template <class T, class Acc>
void scatter_kernel(const Tensor<T, CPU>& self, int d, const Tensor<int64_t, CPU>& index,
                    const T* src, const Strides& src_st, Acc acc) {
  Shape outer = index.shape();
  outer.erase(d);
  const int64_t n = index.shape()[d], n_outer = numel_of(outer);
  if (n == 0 || n_outer == 0) return;
  const std::array<Strides, 3> st{erase_dim(self.strides(), d), erase_dim(index.strides(), d),
                                  erase_dim(src_st, d)};
  const int64_t sd = self.strides()[d], id = index.strides()[d], rd = src_st[d];
  T* sp = self.data();
  const int64_t* ip = index.data();
  // Walk dim innermost when the index and source are laid out along it (no other dim
  // steps through them more cheaply); otherwise a tile of outer positions is walked
  // once per j, so that the innermost loop runs along the cheaper outer dims. Either
  // way each position's updates come in increasing j.
  bool dim_inner = true;
  for (int e = 0; e < index.dim(); ++e)
    if (e != d && index.shape()[e] > 1 &&
        std::abs(index.strides()[e]) + std::abs(src_st[e]) < std::abs(id) + std::abs(rd))
      dim_inner = false;
  parallel_for(n_outer, std::max<int64_t>(1, kParallelGrain / n), 1, [&](int64_t b, int64_t e) {
    if (dim_inner) {
      walk<3>(outer, st, b, e, [&](const Offsets<3>& off, const Offsets<3>& in, int64_t run) {
        for (int64_t q = 0; q < run; ++q) {
          T* s = sp + off[0] + q * in[0];
          const int64_t* ix = ip + off[1] + q * in[1];
          const T* r = src + off[2] + q * in[2];
          for (int64_t j = 0; j < n; ++j) acc(s[ix[j * id] * sd], r[j * rd]);
        }
      });
      return;
    }
    constexpr int64_t kTile = 256;
    Offsets<3> tile[kTile];
    for (int64_t t = b; t < e; t += kTile) {
      int64_t m = 0;
      walk<3>(outer, st, t, std::min(e, t + kTile),
              [&](const Offsets<3>& off, const Offsets<3>& in, int64_t run) {
                for (int64_t j = 0; j < run; ++j)
                  tile[m++] = {off[0] + j * in[0], off[1] + j * in[1], off[2] + j * in[2]};
              });
      for (int64_t j = 0; j < n; ++j)
        for (int64_t q = 0; q < m; ++q)
          acc(sp[tile[q][0] + ip[tile[q][1] + j * id] * sd], src[tile[q][2] + j * rd]);
    }
  });
}

// a + alpha * b: in float for half/bfloat16, wrapping for integers, OR for bool.
template <class T>
T add_scaled(T a, T b, T alpha) {
  if constexpr (std::is_same_v<T, bool>) {
    return a || (alpha && b);
  } else if constexpr (std::is_integral_v<T>) {
    return math::add(a, math::mul(alpha, b));
  } else {
    using O = opmath_t<T>;
    return static_cast<T>(static_cast<O>(a) + static_cast<O>(alpha) * static_cast<O>(b));
  }
}

// torch's scatter_shape_check on non-empty (0-d as [1]) shapes; src may be null.
void scatter_shape_check(const Shape& self, int d, const Shape& index, const Shape* src,
                         const Shape& self0, const Shape& index0, const Shape* src0,
                         const char* op) {
  KILN_CHECK(index.size() == self.size(), ShapeError, "[", op,
             "] index tensor must have the same number of dimensions as self tensor: index ",
             index0, " vs self ", self0);
  if (src)
    KILN_CHECK(index.size() == src->size(), ShapeError, "[", op,
               "] index tensor must have the same number of dimensions as src tensor: index ",
               index0, " vs src ", *src0);
  bool ok = true;
  for (int e = 0; e < index.size(); ++e) {
    if (e != d && index[e] > self[e]) ok = false;
    if (src && index[e] > (*src)[e]) ok = false;
  }
  if (src)
    KILN_CHECK(ok, ShapeError, "[", op, "] expected index ", index0, " to be no larger than self ",
               self0, " apart from dimension ", d, " and no larger than src ", *src0);
  else
    KILN_CHECK(ok, ShapeError, "[", op, "] expected index ", index0, " to be no larger than self ",
               self0, " apart from dimension ", d);
}

// The shared part of scatter_, scatter_value_ and scatter_add_: checks, aliasing copies,
// then the kernel. src is null for the value form (read with zero strides from `value`).
template <class T, class Acc>
void scatter_impl(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                  const Tensor<T, CPU>* src, const T* value, const char* op, Acc acc) {
  check_defined(self.defined(), op, "self");
  check_defined(index.defined(), op, "index");
  if (src) check_defined(src->defined(), op, "src");
  const int d = wrap_dim(dim, self.dim(), op);
  check_no_internal_overlap(self.shape(), self.strides(), op);
  if (index.numel() == 0) return;  // torch checks nothing more for an empty index
  const Tensor<T, CPU> sn = nonempty(self);
  Tensor<int64_t, CPU> in = nonempty(index);
  Tensor<T, CPU> rn = src ? nonempty(*src) : Tensor<T, CPU>();
  scatter_shape_check(sn.shape(), d, in.shape(), src ? &rn.shape() : nullptr, self.shape(),
                      index.shape(), src ? &src->shape() : nullptr, op);
  if (shares_storage(in, sn)) in = in.clone();
  check_index_range(in, sn.size(d), d, op);
  if (src) {
    if (shares_storage(rn, sn)) rn = rn.clone();
    scatter_kernel(sn, d, in, rn.data(), rn.strides(), acc);
  } else {
    scatter_kernel(sn, d, in, value, Strides(in.dim(), 0), acc);
  }
  self.storage().bump_version();
}

// Offsets (in elements) of every position of `shape`, in row-major order, read with `st`.
std::vector<int64_t> offsets_of(const Shape& shape, const Strides& st) {
  std::vector<int64_t> off(static_cast<std::size_t>(numel_of(shape)));
  std::size_t i = 0;
  walk<1>(shape, {st}, 0, numel_of(shape),
          [&](const Offsets<1>& o, const Offsets<1>& in, int64_t run) {
            for (int64_t j = 0; j < run; ++j) off[i++] = o[0] + j * in[0];
          });
  return off;
}

// Whether offsets are 0, 1, 2, ... (a row that is contiguous in memory).
bool is_dense(const std::vector<int64_t>& off) {
  for (std::size_t i = 0; i < off.size(); ++i)
    if (off[i] != static_cast<int64_t>(i)) return false;
  return true;
}

// x[indices] as [P, B, Q] (Note [Advanced indexing]): the result's shape, which of its
// dims are P, B and Q, and the offsets into x of each position of P, B and Q.
struct AdvancedPlan {
  Shape out_shape;
  int n_pre = 0, n_b = 0;  // out_shape is [P dims..., B dims..., Q dims...]
  std::vector<int64_t> pre_off, b_off, post_off;
};

AdvancedPlan plan_advanced(const Shape& xs, const Strides& xst, const IndexList& indices,
                           const char* op) {
  KILN_CHECK(static_cast<int64_t>(indices.size()) <= xs.size(), IndexError, "[", op,
             "] too many indices for tensor of dimension ", xs.size(), " (got ", indices.size(),
             ")");
  std::vector<int> dims;
  for (std::size_t d = 0; d < indices.size(); ++d) {
    if (!indices[d]) continue;
    check_defined(indices[d]->defined(), op, "an index");
    dims.push_back(static_cast<int>(d));
  }
  KILN_CHECK(!dims.empty(), ValueError, "[", op,
             "] expected at least one index tensor (every entry is a whole dim)");
  Shape b = indices[dims[0]]->shape();
  for (int d : dims) {
    const Shape& s = indices[d]->shape();
    bool ok = true;
    const int n = std::max(b.size(), s.size());
    for (int i = 0; i < n && ok; ++i) {
      const int ib = i - (n - b.size()), is = i - (n - s.size());
      const int64_t eb = ib >= 0 ? b[ib] : 1, es = is >= 0 ? s[is] : 1;
      ok = eb == es || eb == 1 || es == 1;
    }
    if (!ok) {
      std::string shapes;
      for (int e : dims) shapes += (shapes.empty() ? "" : ", ") + indices[e]->shape().str();
      throw IndexError(str_cat("[", op,
                               "] shape mismatch: indexing tensors could not be broadcast "
                               "together with shapes ",
                               shapes));
    }
    b = broadcast_shapes(b, s, op);
  }
  const bool adjacent = dims.back() - dims.front() + 1 == static_cast<int>(dims.size());
  // The whole dims before the indexed ones (adjacent case) and after them.
  Shape pre, post;
  Strides pre_st, post_st;
  for (int d = 0; d < xs.size(); ++d) {
    const bool indexed = d < static_cast<int>(indices.size()) && indices[d].has_value();
    if (indexed) continue;
    if (adjacent && d < dims.front()) {
      pre.push_back(xs[d]);
      pre_st.push_back(xst[d]);
    } else {
      post.push_back(xs[d]);
      post_st.push_back(xst[d]);
    }
  }
  AdvancedPlan p;
  for (int64_t e : pre) p.out_shape.push_back(e);
  for (int64_t e : b) p.out_shape.push_back(e);
  for (int64_t e : post) p.out_shape.push_back(e);
  p.n_pre = pre.size();
  p.n_b = b.size();
  p.pre_off = offsets_of(pre, pre_st);
  p.post_off = offsets_of(post, post_st);

  // One offset per position of B: the sum over indexed dims of position * stride, each
  // position checked against its dim's size and wrapped when negative.
  const int64_t nb = numel_of(b);
  p.b_off.assign(static_cast<std::size_t>(nb), 0);
  for (int d : dims) {
    const Tensor<int64_t, CPU>& ix = *indices[d];
    const int64_t size = xs[d], stride = xst[d];
    const int64_t* ip = ix.data();
    const std::array<Strides, 1> st{broadcast_strides(ix.shape(), ix.strides(), b)};
    std::atomic<int64_t> first_bad{nb};
    parallel_for(nb, kParallelGrain, 1, [&](int64_t lo, int64_t hi) {
      int64_t pos = lo, bad = -1;
      walk<1>(b, st, lo, hi, [&](const Offsets<1>& off, const Offsets<1>& in, int64_t run) {
        for (int64_t j = 0; j < run; ++j) {
          int64_t v = ip[off[0] + j * in[0]];
          if (v < -size || v >= size) {
            if (bad < 0) bad = pos + j;
            continue;
          }
          if (v < 0) v += size;
          p.b_off[static_cast<std::size_t>(pos + j)] += v * stride;
        }
        pos += run;
      });
      if (bad < 0) return;
      int64_t cur = first_bad.load();
      while (bad < cur && !first_bad.compare_exchange_weak(cur, bad)) {
      }
    });
    const int64_t bad = first_bad.load();
    if (bad == nb) continue;
    int64_t value = 0;
    walk<1>(b, st, bad, bad + 1,
            [&](const Offsets<1>& off, const Offsets<1>&, int64_t) { value = ip[off[0]]; });
    throw IndexError(str_cat("[", op, "] index ", value, " is out of bounds for dimension ", d,
                             " with size ", size));
  }
  return p;
}

}  // namespace

template <class T>
Tensor<T, CPU> gather(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index,
                      const char* op) {
  check_defined(x.defined(), op, "input");
  check_defined(index.defined(), op, "index");
  const int d = wrap_dim(dim, x.dim(), op);
  Tensor<T, CPU> out(index.shape());
  if (index.numel() == 0) return out;  // torch checks nothing more for an empty index
  const Tensor<T, CPU> xn = nonempty(x);
  const Tensor<int64_t, CPU> in = nonempty(index);
  KILN_CHECK(xn.dim() == in.dim(), ShapeError, "[", op,
             "] index tensor must have the same number of dimensions as input tensor: index ",
             index.shape(), " vs input ", x.shape());
  for (int e = 0; e < xn.dim(); ++e)
    KILN_CHECK(e == d || in.size(e) <= xn.size(e), ShapeError, "[", op,
               "] size does not match at dimension ", e, ": expected index ", index.shape(),
               " to be no larger than input ", x.shape(), " apart from dimension ", d);
  check_index_range(in, xn.size(d), d, op);
  gather_kernel(out.data(), xn, d, in);
  return out;
}

template <class T>
Tensor<T, CPU> index_select(const Tensor<T, CPU>& x, int64_t dim, const Tensor<int64_t, CPU>& index,
                            const char* op) {
  check_defined(x.defined(), op, "input");
  check_defined(index.defined(), op, "index");
  const int d = wrap_dim(dim, x.dim(), op);
  KILN_CHECK(index.dim() <= 1, ShapeError, "[", op,
             "] index is supposed to be a vector (0-d or 1-d), got shape ", index.shape());
  const int64_t n = index.numel();
  KILN_CHECK(x.dim() > 0 || n == 1, ShapeError, "[", op,
             "] index into a 0-d tensor can have only 1 value, got ", n);
  const Tensor<T, CPU> xn = nonempty(x);
  check_index_range(index, xn.size(d), d, op);
  Shape s = xn.shape();
  s[d] = n;
  Tensor<T, CPU> out(x.dim() == 0 ? Shape{} : s);
  if (out.numel() == 0) return out;
  // The index read along d and broadcast over the other dims turns this into a gather.
  Strides ist(s.size(), 0);
  ist[d] = index.dim() == 1 ? index.strides()[0] : 0;
  gather_kernel(out.data(), xn, d,
                Tensor<int64_t, CPU>(index.storage(), index.storage_offset(), s, ist));
  return out;
}

template <class T>
void scatter_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
              const Tensor<T, CPU>& src, const char* op) {
  scatter_impl(self, dim, index, &src, static_cast<const T*>(nullptr), op,
               [](T& o, T v) { o = v; });
}

template <class T>
void scatter_value_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                    T value, const char* op) {
  scatter_impl(self, dim, index, static_cast<const Tensor<T, CPU>*>(nullptr), &value, op,
               [](T& o, T v) { o = v; });
}

template <class T>
void scatter_add_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                  const Tensor<T, CPU>& src, const char* op) {
  scatter_impl(self, dim, index, &src, static_cast<const T*>(nullptr), op,
               [](T& o, T v) { o = add_scaled(o, v, T(1)); });
}

template <class T>
void index_add_(const Tensor<T, CPU>& self, int64_t dim, const Tensor<int64_t, CPU>& index,
                const Tensor<T, CPU>& src, T alpha, const char* op) {
  check_defined(self.defined(), op, "self");
  check_defined(index.defined(), op, "index");
  check_defined(src.defined(), op, "source");
  const int d = wrap_dim(dim, self.dim(), op);
  check_no_internal_overlap(self.shape(), self.strides(), op);
  KILN_CHECK(index.dim() <= 1, ShapeError, "[", op,
             "] index is supposed to be a vector (0-d or 1-d), got shape ", index.shape());
  const Tensor<T, CPU> sn = nonempty(self);
  Tensor<T, CPU> rn = nonempty(src);
  bool same = rn.dim() == sn.dim();
  for (int e = 0; same && e < sn.dim(); ++e) same = e == d || rn.size(e) == sn.size(e);
  KILN_CHECK(same, ShapeError, "[", op,
             "] source tensor shape must match self tensor shape, excluding the specified "
             "dimension ",
             d, ": self ", self.shape(), " vs source ", src.shape());
  const int64_t n = index.numel();
  KILN_CHECK(n == rn.size(d), ShapeError, "[", op, "] number of indices (", n,
             ") should be equal to source.size(", d, ") (", rn.size(d), ")");
  if (rn.numel() == 0) return;
  Tensor<int64_t, CPU> in = shares_storage(index, sn) ? index.clone() : index;
  check_index_range(in, sn.size(d), d, op);
  if (shares_storage(rn, sn)) rn = rn.clone();
  // The index read along d and broadcast over the other dims turns this into scatter_add.
  Strides ist(rn.dim(), 0);
  ist[d] = in.dim() == 1 ? in.strides()[0] : 0;
  scatter_kernel(sn, d, Tensor<int64_t, CPU>(in.storage(), in.storage_offset(), rn.shape(), ist),
                 rn.data(), rn.strides(), [alpha](T& o, T v) { o = add_scaled(o, v, alpha); });
  self.storage().bump_version();
}

template <class T>
Tensor<T, CPU> index(const Tensor<T, CPU>& x, const IndexList& indices, const char* op) {
  check_defined(x.defined(), op, "input");
  const AdvancedPlan p = plan_advanced(x.shape(), x.strides(), indices, op);
  Tensor<T, CPU> out(p.out_shape);
  const int64_t np = static_cast<int64_t>(p.pre_off.size()),
                nb = static_cast<int64_t>(p.b_off.size()),
                nq = static_cast<int64_t>(p.post_off.size());
  if (out.numel() == 0) return out;
  const T* xp = x.data();
  T* op_ = out.data();
  const bool dense = is_dense(p.post_off);
  // Row r of the [P * B, Q] result is x at pre_off[r / nb] + b_off[r % nb], read along Q.
  parallel_for(np * nb, std::max<int64_t>(1, kParallelGrain / nq), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const T* src = xp + p.pre_off[static_cast<std::size_t>(r / nb)] +
                     p.b_off[static_cast<std::size_t>(r % nb)];
      T* o = op_ + r * nq;
      if (dense)
        std::copy(src, src + nq, o);
      else
        for (int64_t q = 0; q < nq; ++q) o[q] = src[p.post_off[static_cast<std::size_t>(q)]];
    }
  });
  return out;
}

template <class T>
void index_put_(const Tensor<T, CPU>& self, const IndexList& indices, const Tensor<T, CPU>& values,
                bool accumulate, const char* op) {
  check_defined(self.defined(), op, "self");
  check_defined(values.defined(), op, "values");
  check_no_internal_overlap(self.shape(), self.strides(), op);
  const AdvancedPlan p = plan_advanced(self.shape(), self.strides(), indices, op);
  KILN_CHECK(broadcasts_to(values.shape(), p.out_shape), ShapeError, "[", op,
             "] shape mismatch: value tensor of shape ", values.shape(),
             " cannot be broadcast to indexing result of shape ", p.out_shape);
  const int64_t np = static_cast<int64_t>(p.pre_off.size()),
                nb = static_cast<int64_t>(p.b_off.size()),
                nq = static_cast<int64_t>(p.post_off.size());
  if (np * nb * nq == 0) {
    self.storage().bump_version();  // an in-place op, even when it writes nothing
    return;
  }
  const Tensor<T, CPU> v = shares_storage(values, self) ? values.clone() : values;
  // values read as [P, B, Q] through its broadcast strides.
  const Strides vst = broadcast_strides(v.shape(), v.strides(), p.out_shape);
  auto part = [&](int from, int to) {
    Shape s;
    Strides st;
    for (int d = from; d < to; ++d) {
      s.push_back(p.out_shape[d]);
      st.push_back(vst[d]);
    }
    return offsets_of(s, st);
  };
  const std::vector<int64_t> v_pre = part(0, p.n_pre), v_b = part(p.n_pre, p.n_pre + p.n_b),
                             v_post = part(p.n_pre + p.n_b, p.out_shape.size());
  T* sp = self.data();
  const T* vp = v.data();
  const bool dense = is_dense(p.post_off) && is_dense(v_post);
  auto run = [&](auto acc) {
    // Column c = (p, q) of the [P, Q] grid belongs to one thread, which visits B in order
    // (Note [Advanced indexing]).
    parallel_for(np * nq, std::max<int64_t>(1, kParallelGrain / nb), 1,
                 [&](int64_t lo, int64_t hi) {
                   for (int64_t c = lo; c < hi;) {
                     const int64_t pi = c / nq, q0 = c % nq, q1 = std::min(nq, q0 + (hi - c));
                     const auto pu = static_cast<std::size_t>(pi);
                     for (int64_t bi = 0; bi < nb; ++bi) {
                       const auto bu = static_cast<std::size_t>(bi);
                       T* s = sp + p.pre_off[pu] + p.b_off[bu];
                       const T* r = vp + v_pre[pu] + v_b[bu];
                       if (dense) {
                         for (int64_t q = q0; q < q1; ++q) acc(s[q], r[q]);
                       } else {
                         for (int64_t q = q0; q < q1; ++q) {
                           const auto qu = static_cast<std::size_t>(q);
                           acc(s[p.post_off[qu]], r[v_post[qu]]);
                         }
                       }
                     }
                     c += q1 - q0;
                   }
                 });
  };
  if (accumulate)
    run([](T& o, T x) { o = add_scaled(o, x, T(1)); });
  else
    run([](T& o, T x) { o = x; });
  self.storage().bump_version();
}

#define KILN_INSTANTIATE_INDEX(T)                                                                \
  template Tensor<T, CPU> gather(const Tensor<T, CPU>&, int64_t, const Tensor<int64_t, CPU>&,    \
                                 const char*);                                                   \
  template Tensor<T, CPU> index_select(const Tensor<T, CPU>&, int64_t,                           \
                                       const Tensor<int64_t, CPU>&, const char*);                \
  template void scatter_(const Tensor<T, CPU>&, int64_t, const Tensor<int64_t, CPU>&,            \
                         const Tensor<T, CPU>&, const char*);                                    \
  template void scatter_value_(const Tensor<T, CPU>&, int64_t, const Tensor<int64_t, CPU>&, T,   \
                               const char*);                                                     \
  template void scatter_add_(const Tensor<T, CPU>&, int64_t, const Tensor<int64_t, CPU>&,        \
                             const Tensor<T, CPU>&, const char*);                                \
  template void index_add_(const Tensor<T, CPU>&, int64_t, const Tensor<int64_t, CPU>&,          \
                           const Tensor<T, CPU>&, T, const char*);                               \
  template Tensor<T, CPU> index(const Tensor<T, CPU>&, const IndexList&, const char*);           \
  template void index_put_(const Tensor<T, CPU>&, const IndexList&, const Tensor<T, CPU>&, bool, \
                           const char*);
KILN_INDEX_FOR_EACH_DTYPE(KILN_INSTANTIATE_INDEX)
#undef KILN_INSTANTIATE_INDEX

}  // namespace kiln::detail

namespace kiln {

Tensor<int64_t, CPU> one_hot(const Tensor<int64_t, CPU>& idx, int64_t num_classes) {
  detail::check_defined(idx.defined(), "one_hot", "input");
  KILN_CHECK(num_classes >= -1, ValueError,
             "[one_hot] num_classes must be non-negative or -1 (inferred), got ", num_classes);
  if (idx.numel() > 0) {
    const int64_t lo = amin(idx).item();
    KILN_CHECK(lo >= 0, IndexError, "[one_hot] class values must be non-negative, got ", lo,
               " (input shape ", idx.shape(), ")");
    const int64_t hi = amax(idx).item();
    KILN_CHECK(num_classes != -1 || hi < std::numeric_limits<int64_t>::max(), IndexError,
               "[one_hot] class value ", hi, " is too large to infer num_classes from");
    if (num_classes == -1) num_classes = hi + 1;
    KILN_CHECK(hi < num_classes, IndexError, "[one_hot] class value ", hi,
               " is out of range for num_classes ", num_classes, " (input shape ", idx.shape(),
               ")");
  } else {
    KILN_CHECK(num_classes != -1, ValueError,
               "[one_hot] cannot infer the number of classes from an empty tensor (shape ",
               idx.shape(), "); pass num_classes");
  }
  Shape s = idx.shape();
  s.push_back(num_classes);
  Tensor<int64_t, CPU> out = zeros<int64_t>(s);
  if (out.numel() == 0) return out;
  int64_t* op = out.data();
  const int64_t* ip = idx.data();
  detail::parallel_walk<2>(
      idx.shape(), {idx.strides(), contiguous_strides(idx.shape())},
      [&](const detail::Offsets<2>& off, const detail::Offsets<2>& in, int64_t run) {
        for (int64_t j = 0; j < run; ++j)
          op[(off[1] + j * in[1]) * num_classes + ip[off[0] + j * in[0]]] = 1;
      });
  return out;
}

}  // namespace kiln
