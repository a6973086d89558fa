// SPDX-License-Identifier: BSD-3-Clause
// Tensor<T, Device>: storage + offset + shape + strides, a leaf of every expression.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/autograd/fwd.hpp"
#include "kiln/core/device.hpp"
#include "kiln/core/dtype.hpp"
#include "kiln/core/error.hpp"
#include "kiln/core/half.hpp"
#include "kiln/core/shape.hpp"
#include "kiln/core/storage.hpp"
#include "kiln/expr/eval_cpu.hpp"
#include "kiln/expr/functors/unary.hpp"
#include "kiln/expr/make.hpp"
#include "kiln/expr/node.hpp"

namespace kiln {

template <class T, class D = CPU>
class Tensor;

namespace detail {
/// Strides for viewing (shape, strides) as `new_shape` without a copy, if possible
/// (PyTorch's computeStride).
std::optional<Strides> view_strides(const Shape& shape, const Strides& strides,
                                    const Shape& new_shape);
/// Resolves one -1 in a requested shape and checks the element count.
Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from);
/// Whether writing through `out` could race with reading `in` (both views of one buffer).
/// Whether the byte ranges spanned by two views of one buffer intersect (offsets and
/// strides in elements of the given sizes).
bool may_overlap(int64_t a_offset, const Shape& a_shape, const Strides& a_strides,
                 std::size_t a_elem, int64_t b_offset, const Shape& b_shape,
                 const Strides& b_strides, std::size_t b_elem);
}  // namespace detail

namespace detail {
// Defined in tensor/cuda_write.hpp: copies between host and device, and evaluation of an
// expression into a CUDA tensor.
template <class Dst, class T, class Src>
Tensor<T, Dst> copy_to_device(const Tensor<T, Src>& x, bool non_blocking);
template <class T, class E>
void write_cuda(const Tensor<T, CUDA>& out, const E& e, const char* op);
}  // namespace detail

template <class T, class D>
class Tensor : public expr::ExprBase {
  static_assert(is_dtype_v<T>,
                "kiln::Tensor<T>: T must be bool, uint8_t, int8_t, int16_t, int32_t, int64_t, "
                "kiln::half, kiln::bfloat16, float or double");
  static_assert(is_device_v<D>, "kiln::Tensor<T, D>: D must be kiln::CPU or kiln::CUDA");

 public:
  using value_type = T;
  using device_type = D;
  using lane_type = T;
  static constexpr bool packet_ok = expr::has_packets_v<T>;

  /// An undefined tensor (no storage); `defined()` is false.
  Tensor() = default;
  /// A new tensor of `shape` with uninitialised contents (kiln::empty).
  explicit Tensor(const Shape& shape)
      : storage_(Storage<D>::allocate(static_cast<std::size_t>(checked_numel(shape)) * sizeof(T))),
        shape_(shape),
        strides_(contiguous_strides(shape)) {}
  /// A view of `storage` (no copy). Checks that the view stays inside the buffer.
  Tensor(Storage<D> storage, int64_t offset, const Shape& shape, const Strides& strides)
      : storage_(std::move(storage)), offset_(offset), shape_(shape), strides_(strides) {
    KILN_CHECK(shape.size() == strides.size(), ShapeError, "[Tensor] shape ", shape,
               " and strides ", strides, " have different ranks");
    check_in_bounds("Tensor");
  }
  /// Evaluates an expression into a new tensor, in one pass.
  template <expr::Expr E>
  requires(!std::is_same_v<std::remove_cvref_t<E>, Tensor>) Tensor(const E& e)
      : Tensor(e.shape()) {  // NOLINT: implicit like torch's eager results
    static_assert(std::is_same_v<expr::value_t<E>, T>,
                  "kiln: the expression's dtype differs from the tensor's; cast explicitly with "
                  "kiln::cast<T>(expr) or tensor.to<T>()");
    static_assert(std::is_same_v<expr::device_t<E>, D>,
                  "kiln: the expression lives on another device; move it with .to<Device>()");
    write(e, "assign");
    if constexpr (is_floating_v<T>)
      if (autograd::expr_needs_grad(e)) autograd::record_fused(*this, e);
  }

  Tensor(const Tensor&) = default;
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(const Tensor&) = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  /// Rebinds this handle to the value of `e` (PyTorch's `y = expr`). When this handle is
  /// the only owner of contiguous storage of the right shape, the result is written
  /// straight into it — no allocation. Other handles never observe the difference.
  template <expr::Expr E>
  requires(!std::is_same_v<std::remove_cvref_t<E>, Tensor>) Tensor& operator=(const E& e) {
    static_assert(std::is_same_v<expr::value_t<E>, T>,
                  "kiln: the expression's dtype differs from the tensor's; cast explicitly with "
                  "kiln::cast<T>(expr) or tensor.to<T>()");
    static_assert(std::is_same_v<expr::device_t<E>, D>,
                  "kiln: the expression lives on another device; move it with .to<Device>()");
    // A recorded expression saves its leaves, so it never overwrites one of them.
    if (defined() && shape_ == e.shape() && is_contiguous() && sole_owner_besides(e) &&
        !autograd::expr_needs_grad(e)) {
      write(e, "assign");
      meta_.reset();
    } else {
      *this = Tensor(e);
    }
    return *this;
  }

  // ---- metadata ------------------------------------------------------------------------
  bool defined() const { return storage_.defined(); }
  int64_t numel() const { return numel_of(shape_); }
  int dim() const { return shape_.size(); }
  const Shape& shape() const { return shape_; }
  const Shape& sizes() const { return shape_; }
  int64_t size(int64_t d) const { return shape_[wrap_dim(d, dim(), "size")]; }
  const Strides& strides() const { return strides_; }
  int64_t stride(int64_t d) const { return strides_[wrap_dim(d, dim(), "stride")]; }
  int64_t storage_offset() const { return offset_; }
  const Storage<D>& storage() const { return storage_; }
  bool is_contiguous() const { return is_contiguous_layout(shape_, strides_); }
  static constexpr ScalarType dtype() { return scalar_type_v<T>; }
  static constexpr std::size_t element_size() { return sizeof(T); }
  /// Pointer to the first element (this view's offset applied).
  T* data() const { return static_cast<T*>(storage_.data()) + offset_; }
  /// The CUDA device index of a CUDA tensor; -1 for a CPU tensor (torch's get_device).
  int get_device() const { return std::is_same_v<D, CPU> ? -1 : storage_.device(); }
  /// Whether two tensors are views of the same buffer.
  bool is_alias_of(const Tensor& o) const { return defined() && storage_ == o.storage_; }

  // ---- element access ----------------------------------------------------------------------
  /// The value of a one-element tensor (copied to the host for a CUDA tensor, which waits
  /// for the work queued before it, as in torch).
  T item() const {
    KILN_CHECK(numel() == 1, ValueError, "[item] a Tensor with ", numel(), " elements (shape ",
               shape_, ") cannot be converted to a scalar");
    if constexpr (std::is_same_v<D, CPU>)
      return *data();
    else
      return to<CPU>().item();
  }
  /// Reference to one element; every index is checked (negative indices count from the end).
  template <class... I>
  requires(std::is_integral_v<I>&&...) T& operator()(I... idx) const {
    const int64_t v[] = {static_cast<int64_t>(idx)..., 0};
    return at(std::span<const int64_t>(v, sizeof...(I)));
  }
  T& at(std::span<const int64_t> idx) const {
    cpu_only("at");
    KILN_CHECK(static_cast<int>(idx.size()) == dim(), IndexError, "[at] expected ", dim(),
               " indices for a tensor of shape ", shape_, ", got ", idx.size());
    int64_t off = offset_;
    for (int d = 0; d < dim(); ++d) {
      int64_t i = idx[d];
      KILN_CHECK(i >= -shape_[d] && i < shape_[d], IndexError, "[at] index ", i,
                 " is out of bounds for dimension ", d, " with size ", shape_[d], " (shape ",
                 shape_, ")");
      if (i < 0) i += shape_[d];
      off += i * strides_[d];
    }
    return static_cast<T*>(storage_.data())[off];
  }
  T& at(std::initializer_list<int64_t> idx) const {
    return at(std::span<const int64_t>(idx.begin(), idx.size()));
  }

  // ---- writes ----------------------------------------------------------------------------
  /// Writes `e` (broadcast to this shape) through this view, like torch's copy_.
  template <expr::Expr E>
  const Tensor& copy_(const E& e) const {
    static_assert(std::is_same_v<expr::device_t<E>, D>,
                  "kiln: copy_ source lives on another device; move it with .to<Device>()");
    autograd::check_inplace(*this, "copy_", autograd::expr_needs_grad(e));
    if constexpr (std::is_same_v<expr::value_t<E>, T>) {
      write(e, "copy_");
    } else {
      write(expr::CastNode<T, std::remove_cvref_t<E>>(e), "copy_");
    }
    return *this;
  }
  const Tensor& fill_(T v) const {
    autograd::check_inplace(*this, "fill_");
    write(expr::ScalarNode<T, D>(v), "fill_");
    return *this;
  }
  const Tensor& zero_() const { return fill_(T(0)); }

  /// Applies an elementwise functor in place (the engine behind relu_() and friends).
  template <class Op>
  const Tensor& apply_(Op op) const {
    return copy_(expr::make_unary(op, *this));
  }
  const Tensor& neg_() const { return apply_(expr::op::Neg{}); }
  const Tensor& abs_() const { return apply_(expr::op::Abs{}); }
  const Tensor& relu_() const { return apply_(expr::op::Relu{}); }
  const Tensor& sigmoid_() const { return apply_(expr::op::Sigmoid{}); }
  const Tensor& tanh_() const { return apply_(expr::op::Tanh{}); }
  const Tensor& exp_() const { return apply_(expr::op::Exp{}); }
  const Tensor& log_() const { return apply_(expr::op::Log{}); }
  const Tensor& sqrt_() const { return apply_(expr::op::Sqrt{}); }
  const Tensor& square_() const { return apply_(expr::op::Square{}); }
  const Tensor& clamp_(double lo, double hi) const { return apply_(expr::op::Clamp{lo, hi}); }

  // ---- views (share storage) -------------------------------------------------------------
  /// Elements [start, end) of `dim` taking every `step`-th; start/end are clamped like
  /// Python slices and may be negative.
  Tensor slice(int64_t dim_, int64_t start, int64_t end, int64_t step = 1) const {
    KILN_CHECK(dim() > 0, IndexError, "[slice] cannot be applied to a 0-d tensor");
    const int d = wrap_dim(dim_, this->dim(), "slice");
    KILN_CHECK(step > 0, ValueError, "[slice] step must be positive, got ", step);
    const int64_t n = shape_[d];
    if (start < 0) start += n;
    if (end < 0) end += n;
    start = std::clamp<int64_t>(start, 0, n);
    end = std::clamp<int64_t>(end, start, n);
    Tensor r = *this;
    r.offset_ += start * strides_[d];
    r.shape_[d] = (end - start + step - 1) / step;
    r.strides_[d] *= step;
    autograd::record_view_spec(
        *this, r, {autograd::ViewSpec::Kind::slice, "SliceBackward", shape_, d, start, end, step});
    return r;
  }
  /// The slice at `index` along `dim`, with that dim removed.
  Tensor select(int64_t dim_, int64_t index) const {
    const int d = wrap_dim(dim_, this->dim(), "select");
    KILN_CHECK(dim() > 0, IndexError, "[select] cannot select from a 0-d tensor");
    KILN_CHECK(index >= -shape_[d] && index < shape_[d], IndexError, "[select] index ", index,
               " is out of range for dimension ", d, " with size ", shape_[d], " (shape ", shape_,
               ")");
    if (index < 0) index += shape_[d];
    Tensor r = *this;
    r.offset_ += index * strides_[d];
    r.shape_.erase(d);
    r.strides_.erase(d);
    autograd::record_view_spec(
        *this, r, {autograd::ViewSpec::Kind::select, "SelectBackward", shape_, d, index});
    return r;
  }
  Tensor narrow(int64_t dim_, int64_t start, int64_t length) const {
    KILN_CHECK(dim() > 0, IndexError, "[narrow] cannot be applied to a 0-d tensor");
    const int d = wrap_dim(dim_, this->dim(), "narrow");
    const int64_t n = shape_[d];
    if (start < 0) start += n;
    KILN_CHECK(start >= 0 && length >= 0 && start + length <= n, IndexError, "[narrow] start ",
               start, " + length ", length, " exceeds dimension ", d, " of size ", n, " (shape ",
               shape_, ")");
    return slice(d, start, start + length);
  }
  Tensor transpose(int64_t d0, int64_t d1) const {
    const int a = wrap_dim(d0, dim(), "transpose"), b = wrap_dim(d1, dim(), "transpose");
    Tensor r = *this;
    if (dim() > 0) {
      std::swap(r.shape_[a], r.shape_[b]);
      std::swap(r.strides_[a], r.strides_[b]);
    }
    autograd::record_view_spec(
        *this, r, {autograd::ViewSpec::Kind::transpose, "TransposeBackward", shape_, a, b});
    return r;
  }
  /// Transpose of a tensor of rank <= 2.
  Tensor t() const {
    KILN_CHECK(dim() <= 2, ShapeError, "[t] expects a tensor with <= 2 dimensions, but got shape ",
               shape_);
    return dim() < 2 ? *this : transpose(0, 1);
  }
  Tensor permute(const Dims& dims) const {
    KILN_CHECK(dims.size() == dim(), ShapeError,
               "[permute] number of dims don't match: tensor of shape ", shape_, " permuted with ",
               dims);
    Tensor r = *this;
    bool seen[kMaxDims] = {};
    for (int i = 0; i < dim(); ++i) {
      const int d = wrap_dim(dims[i], dim(), "permute");
      KILN_CHECK(!seen[d], ShapeError, "[permute] dim ", d, " repeats in ", dims);
      seen[d] = true;
      r.shape_[i] = shape_[d];
      r.strides_[i] = strides_[d];
    }
    autograd::record_view_spec(
        *this, r, {autograd::ViewSpec::Kind::permute, "PermuteBackward", shape_, 0, 0, 0, 1, dims});
    return r;
  }
  /// A view with a new shape (one entry may be -1); throws if the strides forbid it.
  Tensor view(const Shape& new_shape) const {
    const Shape s = detail::infer_shape(new_shape, numel(), "view", shape_);
    auto st = detail::view_strides(shape_, strides_, s);
    KILN_CHECK(
        st.has_value(), ShapeError,
        "[view] view size is not compatible with input tensor's size and stride (shape ", shape_,
        ", strides ", strides_, ", requested ", s,
        "): at least one dimension spans two contiguous subspaces; use .reshape(...) instead");
    Tensor r = *this;
    r.shape_ = s;
    r.strides_ = *st;
    autograd::record_view_spec(*this, r,
                               {autograd::ViewSpec::Kind::reshape, "ViewBackward", shape_});
    return r;
  }
  /// view() when the strides allow it, otherwise a contiguous copy reshaped.
  Tensor reshape(const Shape& new_shape) const {
    const Shape s = detail::infer_shape(new_shape, numel(), "reshape", shape_);
    if (auto st = detail::view_strides(shape_, strides_, s)) {
      Tensor r = *this;
      r.shape_ = s;
      r.strides_ = *st;
      autograd::record_view_spec(*this, r,
                                 {autograd::ViewSpec::Kind::reshape, "ReshapeBackward", shape_});
      return r;
    }
    return contiguous().view(s);
  }
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const {
    if (dim() == 0) return reshape({1});
    const int a = wrap_dim(start_dim, dim(), "flatten"), b = wrap_dim(end_dim, dim(), "flatten");
    KILN_CHECK(a <= b, ValueError, "[flatten] start_dim ", a, " cannot come after end_dim ", b);
    Shape s;
    for (int i = 0; i < a; ++i) s.push_back(shape_[i]);
    int64_t m = 1;
    for (int i = a; i <= b; ++i) m *= shape_[i];
    s.push_back(m);
    for (int i = b + 1; i < dim(); ++i) s.push_back(shape_[i]);
    return reshape(s);
  }
  /// A broadcast view of `new_shape` (-1 keeps a dim); expanded dims get stride 0.
  Tensor expand(const Shape& new_shape) const {
    KILN_CHECK(new_shape.size() >= dim(), ShapeError, "[expand] the number of sizes provided (",
               new_shape.size(),
               ") must be greater or equal to the number of dimensions in the tensor (", dim(),
               "), shape ", shape_);
    Tensor r = *this;
    r.shape_ = Shape(new_shape.size());
    r.strides_ = Strides(new_shape.size());
    const int off = new_shape.size() - dim();
    for (int i = 0; i < new_shape.size(); ++i) {
      const int j = i - off;
      int64_t want = new_shape[i];
      if (j < 0) {
        KILN_CHECK(want >= 0, ShapeError,
                   "[expand] -1 is not allowed in a leading, new dimension (", new_shape, ")");
        r.shape_[i] = want;
        r.strides_[i] = 0;
        continue;
      }
      if (want == -1) want = shape_[j];
      KILN_CHECK(want >= 0, ShapeError, "[expand] invalid size ", want, " in ", new_shape,
                 " (shape ", shape_, ")");
      KILN_CHECK(shape_[j] == want || shape_[j] == 1, ShapeError, "[expand] the expanded size ",
                 want, " must match the existing size ", shape_[j], " at non-singleton dimension ",
                 i, " (shape ", shape_, " to ", new_shape, ")");
      r.shape_[i] = want;
      r.strides_[i] = shape_[j] == want ? strides_[j] : 0;
    }
    autograd::record_view_spec(*this, r,
                               {autograd::ViewSpec::Kind::expand, "ExpandBackward", shape_});
    return r;
  }
  Tensor broadcast_to(const Shape& s) const { return expand(s); }
  /// Removes every size-1 dim.
  Tensor squeeze() const {
    Tensor r = *this;
    r.shape_ = Shape();
    r.strides_ = Strides();
    for (int i = 0; i < dim(); ++i)
      if (shape_[i] != 1) {
        r.shape_.push_back(shape_[i]);
        r.strides_.push_back(strides_[i]);
      }
    autograd::record_view_spec(*this, r,
                               {autograd::ViewSpec::Kind::reshape, "SqueezeBackward", shape_});
    return r;
  }
  /// Removes `dim` if it has size 1 (otherwise returns the same view, like torch).
  Tensor squeeze(int64_t dim_) const {
    if (dim() == 0) return *this;
    const int d = wrap_dim(dim_, dim(), "squeeze");
    if (shape_[d] != 1) return *this;
    Tensor r = *this;
    r.shape_.erase(d);
    r.strides_.erase(d);
    autograd::record_view_spec(*this, r,
                               {autograd::ViewSpec::Kind::reshape, "SqueezeBackward", shape_});
    return r;
  }
  Tensor unsqueeze(int64_t dim_) const {
    const int d = wrap_dim(dim_, dim() + 1, "unsqueeze");
    Tensor r = *this;
    const int64_t st = d < dim() ? shape_[d] * strides_[d] : 1;
    r.shape_.insert(d, 1);
    r.strides_.insert(d, st);
    autograd::record_view_spec(*this, r,
                               {autograd::ViewSpec::Kind::reshape, "UnsqueezeBackward", shape_});
    return r;
  }

  // ---- copies ----------------------------------------------------------------------------
  /// This tensor if already contiguous, else a contiguous copy.
  Tensor contiguous() const { return is_contiguous() ? *this : clone(); }
  /// A contiguous copy with its own storage.
  Tensor clone() const {
    Tensor r(shape_);
    r.write(*this, "clone");
    autograd::record_view_spec(*this, r,
                               {autograd::ViewSpec::Kind::identity, "CloneBackward", shape_});
    return r;
  }
  /// A copy converted to dtype U, or moved to device U (kiln::CPU, kiln::CUDA: the
  /// thread's current device); this tensor itself when nothing changes, like torch.
  /// `non_blocking` (device moves only), as torch's: from pinned host memory the copy to
  /// CUDA is queued without waiting; to the CPU the result is pinned memory that the copy
  /// fills later, readable after kiln::cuda::synchronize() (docs/cuda.md).
  template <class U>
  auto to(bool non_blocking = false) const {
    if constexpr (is_device_v<U>) {
      if constexpr (std::is_same_v<U, D>)
        return *this;
      else
        return detail::copy_to_device<U>(*this, non_blocking);
    } else if constexpr (std::is_same_v<U, T>) {
      return *this;
    } else {
      return Tensor<U, D>(expr::CastNode<U, Tensor>(*this));
    }
  }

  // ---- autograd (bodies in autograd/record.hpp; see Note [Autograd graph]) -----------------
  /// Whether gradients flow to this tensor.
  bool requires_grad() const;
  /// Marks a leaf as needing gradients (floating-point dtypes only); returns *this. The
  /// flag belongs to this handle and the copies made after it, like torch parameters
  /// marked right after creation.
  Tensor& requires_grad_(bool on = true);
  /// The accumulated gradient (undefined until a backward reaches this tensor).
  Tensor grad() const;
  /// Replaces the gradient (an undefined tensor resets it, like `x.grad = None`).
  void set_grad(const Tensor& g);
  /// Resets the gradient: to undefined, or to zeros in place when !set_to_none.
  void zero_grad(bool set_to_none = true) const;
  /// The node that produced this tensor (null for leaves).
  std::shared_ptr<autograd::Node> grad_fn() const;
  bool is_leaf() const;
  /// Which output of grad_fn() this tensor is.
  uint32_t output_nr() const;
  /// This tensor's data, outside the graph (shares storage; never requires grad).
  Tensor detach() const;
  /// Computes the gradient of this tensor w.r.t. the graph leaves and accumulates it into
  /// their grad(). `gradient` may be omitted for one-element tensors; retain_graph
  /// defaults to create_graph.
  void backward(const Tensor& gradient = Tensor(), std::optional<bool> retain_graph = {},
                bool create_graph = false) const;
  /// Also keep grad() for this non-leaf tensor.
  void retain_grad() const;
  bool retains_grad() const;
  /// Calls hook(grad) each time a gradient for this tensor is computed; a hook that
  /// returns a defined Tensor replaces the gradient.
  template <class F>
  void register_hook(F hook) const;
  /// The storage's write counter (what saved-tensor checks compare).
  uint64_t version() const { return storage_.version(); }
  const std::shared_ptr<autograd::AutogradMeta>& autograd_meta() const { return meta_; }
  void set_autograd_meta(std::shared_ptr<autograd::AutogradMeta> m) { meta_ = std::move(m); }

  // ---- expression leaf interface (see Note [Expressions and plans]) --------------------------
  bool leaves_contiguous(const Shape& s) const { return shape_ == s && is_contiguous(); }
  template <class F>
  void for_each_leaf(F&& f) const {
    f(*this);
  }
  expr::LeafPlan<T> plan(const expr::Layout& l) const {
    expr::LeafPlan<T> p{};
    p.base = data();
    p.row = p.base;
    p.nd = l.nd;
    if (!l.linear) expr::layout_strides(l, broadcast_strides(shape_, strides_, l.out_shape), p.st);
    return p;
  }

 private:
  static int64_t checked_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t e : s) {
      KILN_CHECK(e >= 0, ShapeError, "[empty] negative dimension in shape ", s);
      n *= e;
    }
    return n;
  }
  static void cpu_only(const char* op) {
    KILN_CHECK((std::is_same_v<D, CPU>), DeviceError, "[", op,
               "] reads device memory from the host; copy the tensor with .to<kiln::CPU>() first");
  }
  void check_in_bounds(const char* op) const {
    if (numel() == 0) return;
    int64_t lo = offset_, hi = offset_;
    for (int d = 0; d < dim(); ++d) {
      const int64_t span = (shape_[d] - 1) * strides_[d];
      (span < 0 ? lo : hi) += span;
    }
    KILN_CHECK(lo >= 0 && static_cast<std::size_t>(hi + 1) * sizeof(T) <= storage_.nbytes(),
               IndexError, "[", op, "] view (offset ", offset_, ", shape ", shape_, ", strides ",
               strides_, ") reaches outside its storage of ", storage_.nbytes(), " bytes");
  }

  // Whether every other owner of this storage is a leaf of `e` (which reads elementwise
  // and is checked for overlap by write()).
  template <class E>
  bool sole_owner_besides(const E& e) const {
    long in_expr = 0;
    e.for_each_leaf([&](const auto& leaf) {
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(leaf)>, Tensor>)
        if (leaf.storage_ == storage_) ++in_expr;
    });
    return storage_.use_count() == 1 + in_expr;
  }

  template <class E>
  void write(const E& e, const char* op) const;

  template <class U, class D2>
  friend class Tensor;

  Storage<D> storage_;
  int64_t offset_ = 0;
  Shape shape_;
  Strides strides_;
  std::shared_ptr<autograd::AutogradMeta> meta_;
};

/// Builds a Tensor from an expression: `kiln::Tensor t = a + b;` deduces Tensor<float>.
template <expr::Expr E>
Tensor(const E&) -> Tensor<expr::value_t<E>, expr::device_t<E>>;

/// Evaluates an expression now (a Tensor is returned as is).
template <expr::Expr E>
auto eval(const E& e) {
  return Tensor<expr::value_t<E>, expr::device_t<E>>(e);
}

// Note [Aliasing]
// `a = a * 2 + b` and `a.copy_(a.t())` must be correct. A leaf that is a view of the
// output's buffer is safe when it reads exactly the element being written (same offset,
// shape and strides); a leaf whose memory range merely lies elsewhere in the buffer is
// safe too. Anything else may read an element after it was overwritten, so the
// expression is evaluated into a temporary first. Outputs where two elements share one
// address (expanded views) are rejected.
template <class T, class D>
template <class E>
void Tensor<T, D>::write(const E& e, const char* op) const {
  static_assert(std::is_same_v<expr::value_t<E>, T>);
  KILN_CHECK(defined(), ValueError, "[", op, "] the destination tensor is undefined");
  KILN_CHECK(broadcasts_to(e.shape(), shape_), ShapeError, "[", op, "] an expression of shape ",
             e.shape(), " cannot be written to a tensor of shape ", shape_);
  for (int d = 0; d < dim(); ++d)
    KILN_CHECK(strides_[d] != 0 || shape_[d] <= 1, ValueError, "[", op,
               "] unsupported operation: more than one element of the written-to tensor (shape ",
               shape_, ", strides ", strides_,
               ") refers to a single memory location; call .clone() first");
  if (numel() == 0) return;
  {
    bool needs_temp = false;
    e.for_each_leaf([&](const auto& leaf) {
      using L = std::remove_cvref_t<decltype(leaf)>;
      if (leaf.storage().impl() != storage_.impl() || leaf.numel() == 0) return;
      const bool same_view =
          leaf.storage_offset() == offset_ && leaf.shape() == shape_ &&
          (leaf.strides() == strides_ || (is_contiguous() && leaf.is_contiguous()));
      if (same_view && sizeof(typename L::value_type) == sizeof(T)) return;
      if (detail::may_overlap(offset_, shape_, strides_, sizeof(T), leaf.storage_offset(),
                              leaf.shape(), leaf.strides(), sizeof(typename L::value_type)))
        needs_temp = true;
    });
    if (needs_temp) {
      // Not `Tensor tmp(e)`: for a bare Tensor `e` that is the copy constructor, an alias.
      Tensor tmp(shape_);
      tmp.write(e, op);
      write(tmp, op);
    } else if constexpr (std::is_same_v<D, CUDA>) {
      detail::write_cuda(*this, e, op);
    } else if (is_contiguous() && e.leaves_contiguous(shape_)) {
      expr::run_linear(data(), numel(), e);
    } else {
      std::vector<Strides> all{strides_};
      e.for_each_leaf([&](const auto& leaf) {
        all.push_back(broadcast_strides(leaf.shape(), leaf.strides(), shape_));
      });
      const expr::Layout l = expr::coalesce_layout(shape_, all);
      expr::run_strided(data(), strides_, l, e, expr::wants_tiles(l, all));
    }
    storage_.bump_version();
  }
}

}  // namespace kiln

#include "kiln/tensor/cuda_write.hpp"
#include "kiln/autograd/record.hpp"
#include "kiln/autograd/lazy.hpp"
#include "kiln/autograd/fused.hpp"
