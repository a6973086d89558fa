// SPDX-License-Identifier: BSD-3-Clause
// index_select, gather, scatter(_), scatter_add(_), index_add(_), take_along_dim, index and
// index_put(_), one_hot, embedding and the backward helpers, against plain coordinate loops.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "ops/index_check.hpp"
#include "support/throws.hpp"

namespace {

using Catch::Contains;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::check_equal;
using kiln_test::Coord;
using kiln_test::el;
using kiln_test::for_each_coord;
using kiln_test::random_index;
using kiln_test::thrown_message;
using TI = Tensor<int64_t>;

Coord with(Coord c, int d, int64_t v) {
  c[static_cast<std::size_t>(d)] = v;
  return c;
}

// ---- references: one element at a time, in row-major order -------------------------------------
template <class T>
Tensor<T> ref_gather(const Tensor<T>& x, int d, const TI& index) {
  Tensor<T> out(index.shape());
  for_each_coord(index.shape(),
                 [&](const Coord& c) { el(out, c) = el(x, with(c, d, el(index, c))); });
  return out;
}
template <class T>
Tensor<T> ref_index_select(const Tensor<T>& x, int d, const TI& index) {
  Shape s = x.shape();
  s[d] = index.numel();
  Tensor<T> out(s);
  const TI flat = index.reshape({-1});
  for_each_coord(s, [&](const Coord& c) {
    el(out, c) = el(x, with(c, d, flat(c[static_cast<std::size_t>(d)])));
  });
  return out;
}
template <class T>
T plus(T a, T b) {
  if constexpr (std::is_same_v<T, bool>)
    return a || b;
  else if constexpr (kiln::is_reduced_float_v<T>)
    return T(static_cast<float>(a) + static_cast<float>(b));
  else
    return static_cast<T>(a + b);
}
// scatter (add = false) or scatter_add (add = true) of src into a copy of x.
template <class T>
Tensor<T> ref_scatter(const Tensor<T>& x, int d, const TI& index, const Tensor<T>& src, bool add) {
  Tensor<T> out = x.clone();
  for_each_coord(index.shape(), [&](const Coord& c) {
    T& o = el(out, with(c, d, el(index, c)));
    o = add ? plus(o, el(src, c)) : el(src, c);
  });
  return out;
}
template <class T>
Tensor<T> ref_index_add(const Tensor<T>& x, int d, const TI& index, const Tensor<T>& src, T alpha) {
  Tensor<T> out = x.clone();
  const TI flat = index.reshape({-1});
  for_each_coord(src.shape(), [&](const Coord& c) {
    T& o = el(out, with(c, d, flat(c[static_cast<std::size_t>(d)])));
    o = plus(o, static_cast<T>(alpha * el(src, c)));
  });
  return out;
}

template <class T>
double dot(const Tensor<T>& a, const Tensor<T>& b) {
  REQUIRE(a.shape() == b.shape());
  double s = 0;
  for_each_coord(a.shape(), [&](const Coord& c) { s += el(a, c) * el(b, c); });
  return s;
}

}  // namespace

// ---- index_select / gather ----------------------------------------------------------------------
TEMPLATE_TEST_CASE("index_select matches a loop on every layout", "[ops][index]", float, double,
                   int64_t) {
  using T = TestType;
  kiln::manual_seed(1);
  for (auto& [name, x] : kiln_test::layouts3<T>({4, 5, 3}, /*expanded=*/true)) {
    for (int d = 0; d < 3; ++d) {
      const int64_t n = x.size(d);
      const std::vector<std::pair<std::string, TI>> indices = {
          {"contiguous with duplicates", kiln::randint<int64_t>(0, n, {7})},
          {"stepped", kiln::randint<int64_t>(0, n, {9}).slice(0, 1, 9, 3)},
          {"every position", kiln::arange<int64_t>(n)},
          {"empty", kiln::zeros<int64_t>({0})},
          {"0-d", kiln::scalar_tensor<int64_t>(n - 1)}};
      for (auto& [iname, index] : indices) {
        INFO(name << ", dim " << d << ", index " << iname);
        const Tensor<T> got = kiln::index_select(x, d, index);
        check_equal(got, ref_index_select(x, d, index));
        CHECK(got.is_contiguous());
      }
    }
    // Negative dims wrap.
    const TI i = kiln::tensor<int64_t>({2, 0});
    check_equal(kiln::index_select(x, -1, i), ref_index_select(x, 2, i));
  }
  // 0-d input: the index must hold one 0.
  const Tensor<T> s = kiln::scalar_tensor<T>(T(4));
  CHECK(kiln::index_select(s, 0, kiln::tensor<int64_t>({0})).shape() == Shape{});
  CHECK(kiln::index_select(s, -1, kiln::scalar_tensor<int64_t>(0)).item() == T(4));
}

TEMPLATE_TEST_CASE("gather matches a loop on every layout", "[ops][index]", float, double,
                   int64_t) {
  using T = TestType;
  kiln::manual_seed(2);
  for (auto& [name, x] : kiln_test::layouts3<T>({4, 5, 6}, /*expanded=*/true)) {
    for (int d = 0; d < 3; ++d) {
      // index: smaller than x off dim, any length along dim (here longer), two layouts.
      Shape s{3, 4, 5};
      s[d] = 8;
      for (bool transposed : {false, true}) {
        INFO(name << ", dim " << d << (transposed ? ", transposed index" : ""));
        const TI index = random_index(s, x.size(d), transposed);
        check_equal(kiln::gather(x, d, index), ref_gather(x, d, index));
      }
    }
    // A stepped index, negative dim.
    const TI stepped = kiln::randint<int64_t>(0, 6, {4, 5, 12}).slice(2, 0, 12, 4);
    check_equal(kiln::gather(x, -1, stepped), ref_gather(x, 2, stepped));
  }
  // Size-0 dims: an empty index gives an empty result of its shape (torch checks no more).
  const Tensor<T> x = kiln_test::random_values<T>({3, 4});
  CHECK(kiln::gather(x, 1, kiln::zeros<int64_t>({3, 0})).shape() == Shape{3, 0});
  CHECK(kiln::gather(x, 0, kiln::zeros<int64_t>({0, 9, 9})).shape() == Shape{0, 9, 9});
  CHECK(kiln::gather(kiln::zeros<T>({0, 4}), 0, kiln::zeros<int64_t>({2, 0})).shape() ==
        Shape{2, 0});
  // 0-d input and index.
  CHECK(kiln::gather(kiln::scalar_tensor<T>(T(3)), 0, kiln::scalar_tensor<int64_t>(0)).item() ==
        T(3));
}

TEST_CASE("index ops move half, bfloat16, bool, int32 and uint8 exactly", "[ops][index]") {
  kiln::manual_seed(3);
  const TI index = kiln::randint<int64_t>(0, 5, {4, 5});
  const auto run = [&](auto tag) {
    using T = decltype(tag);
    INFO(kiln::dtype_name_v<T>);
    const Tensor<T> x = kiln_test::random_values<T>({5, 6}).t();  // [6, 5], transposed
    check_equal(kiln::gather(x, 1, index), ref_gather(x, 1, index));
    check_equal(kiln::index_select(x, 0, kiln::tensor<int64_t>({5, 0, 5})),
                ref_index_select(x, 0, kiln::tensor<int64_t>({5, 0, 5})));
    const Tensor<T> src = kiln_test::random_values<T>({4, 5});
    check_equal(kiln::scatter(x, 1, index, src), ref_scatter(x, 1, index, src, false));
    check_equal(kiln::scatter_add(x, 1, index, src), ref_scatter(x, 1, index, src, true));
  };
  run(kiln::half{});
  run(kiln::bfloat16{});
  run(bool{});
  run(int32_t{});
  run(uint8_t{});
}

// ---- scatter ------------------------------------------------------------------------------------
TEMPLATE_TEST_CASE("scatter and scatter_add match a loop, duplicates included", "[ops][index]",
                   float, double, int64_t) {
  using T = TestType;
  kiln::manual_seed(4);
  for (auto& [name, x] : kiln_test::layouts3<T>({4, 5, 6})) {
    for (int d = 0; d < 3; ++d) {
      Shape s{3, 4, 5};
      s[d] = 9;  // more entries than x.size(d): duplicates are certain
      for (auto& [sname, src] : kiln_test::layouts3<T>({3, 4, 5}, /*expanded=*/true)) {
        for (bool transposed : {false, true}) {
          INFO(name << " x, " << sname << " src, dim " << d << (transposed ? ", transposed" : ""));
          const TI index = random_index(s, x.size(d), transposed);
          // src is at least as large as the index in every dim: use its leading part.
          Tensor<T> src_big = kiln_test::random_values<T>({9, 9, 9});
          const Tensor<T> part = src_big.slice(0, 0, s[0]).slice(1, 0, s[1]).slice(2, 0, s[2]);
          check_equal(kiln::scatter(x, d, index, part), ref_scatter(x, d, index, part, false));
          check_equal(kiln::scatter_add(x, d, index, part), ref_scatter(x, d, index, part, true));
          if (d != 0) continue;
          // The same with src larger than index in every dim, and the value form.
          const TI small = index.slice(0, 0, 2);
          check_equal(kiln::scatter(x, d, small, src), ref_scatter(x, d, small, src, false));
          check_equal(kiln::scatter(x, d, index, T(7)),
                      ref_scatter(x, d, index, kiln::full<T>(s, T(7)), false));
        }
      }
    }
  }
}

TEST_CASE("scatter_ and friends write through views in place", "[ops][index]") {
  kiln::manual_seed(5);
  Tensor<float> base = kiln::zeros<float>({6, 8});
  const Tensor<float> view = base.slice(1, 1, 8, 2);  // [6, 4], stride 2 on dim 1
  const TI index = kiln::tensor<int64_t>({{0, 1, 2, 3}, {3, 3, 3, 3}});
  const Tensor<float> src = kiln::tensor<float>({{1, 2, 3, 4}, {5, 6, 7, 8}});
  const Tensor<float> want = ref_scatter(view, 1, index, src, true);
  const auto v0 = base.storage().version();
  const Tensor<float> r = kiln::scatter_add_(view, 1, index, src);
  CHECK(r.data() == view.data());
  CHECK(base.storage().version() > v0);
  check_equal(view, want);
  // Columns outside the view stay zero.
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 8; j += 2) CHECK(base(i, j) == 0.0f);

  kiln::scatter_(view, 0, kiln::tensor<int64_t>({{5, 4, 3, 2}}), kiln::full<float>({1, 4}, -1.0f));
  CHECK(view(5, 0) == -1.0f);
  CHECK(view(2, 3) == -1.0f);
  kiln::scatter_(view, 0, kiln::tensor<int64_t>({{0}}), 9.0f);
  CHECK(view(0, 0) == 9.0f);
  kiln::index_add_(view, 0, kiln::tensor<int64_t>({1, 1}), kiln::ones<float>({2, 4}), 0.5f);
  CHECK(view(1, 2) == 1.0f);
}

TEST_CASE("scatter with src or index aliasing the destination", "[ops][index]") {
  // src is a view of self: every source value is read before any is overwritten.
  Tensor<float> x = kiln::arange<float>(6).view({2, 3}).contiguous();
  const Tensor<float> want =
      ref_scatter(x, 1, kiln::tensor<int64_t>({{2, 1, 0}, {2, 1, 0}}), x.clone(), false);
  kiln::scatter_(x, 1, kiln::tensor<int64_t>({{2, 1, 0}, {2, 1, 0}}), x);
  check_equal(x, want);
  // index_add_ with source = self.
  Tensor<double> y = kiln::tensor<double>({1, 2, 3});
  kiln::index_add_(y, 0, kiln::tensor<int64_t>({1, 2, 0}), y);
  check_equal(y, kiln::tensor<double>({4, 3, 5}));
  // int64 self whose index is a view of itself.
  TI z = kiln::tensor<int64_t>({1, 0, 2});
  kiln::scatter_(z, 0, z, kiln::tensor<int64_t>({10, 20, 30}));
  check_equal(z, kiln::tensor<int64_t>({20, 10, 30}));
}

TEMPLATE_TEST_CASE("index_add matches a loop, duplicates and alpha included", "[ops][index]", float,
                   double, int64_t) {
  using T = TestType;
  kiln::manual_seed(6);
  for (auto& [name, x] : kiln_test::layouts3<T>({4, 5, 6})) {
    for (int d = 0; d < 3; ++d) {
      Shape s = x.shape();
      s[d] = 4;
      for (auto& [sname, src0] : kiln_test::layouts3<T>({4, 5, 6}, /*expanded=*/true)) {
        const Tensor<T> src = src0.narrow(d, 0, 4);
        for (const TI& index : {kiln::tensor<int64_t>({1, 1, 0, 1}),
                                kiln::randint<int64_t>(0, x.size(d), {8}).slice(0, 0, 8, 2)}) {
          INFO(name << " x, " << sname << " src, dim " << d << ", index " << index.strides());
          check_equal(kiln::index_add(x, d, index, src), ref_index_add(x, d, index, src, T(1)));
          check_equal(kiln::index_add(x, d, index, src, T(3)),
                      ref_index_add(x, d, index, src, T(3)));
        }
      }
    }
  }
  // Empty index along dim, 0-d self and source.
  const Tensor<T> x = kiln_test::random_values<T>({3, 2});
  check_equal(kiln::index_add(x, 1, kiln::zeros<int64_t>({0}), kiln::zeros<T>({3, 0})), x);
  const Tensor<T> s0 = kiln::index_add(kiln::scalar_tensor<T>(T(2)), 0, kiln::tensor<int64_t>({0}),
                                       kiln::scalar_tensor<T>(T(5)));
  CHECK(s0.shape() == Shape{});
  CHECK(s0.item() == T(7));
}

TEST_CASE("scatter_add and index_add give the same bits for any thread count", "[ops][index]") {
  kiln::manual_seed(7);
  // 20000 source rows land on 50 destination rows: every destination gets ~400 terms.
  const TI index = kiln::randint<int64_t>(0, 50, {20000, 64});
  const TI rows = kiln::randint<int64_t>(0, 50, {20000});
  const Tensor<float> src = kiln::randn<float>({20000, 64});
  const Tensor<float> self = kiln::randn<float>({50, 64});
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(1);
  const Tensor<float> a1 = kiln::scatter_add(self, 0, index, src);
  const Tensor<float> b1 = kiln::index_add(self, 0, rows, src, 0.25f);
  const Tensor<float> c1 = kiln::scatter_add(self.t(), 1, index.t(), src.t());
  // Laid out along dim: each thread walks dim innermost.
  const Tensor<float> st = self.t().contiguous(), srct = src.t().contiguous();
  const TI it = index.t().contiguous();
  const Tensor<float> d1 = kiln::scatter_add(st, 1, it, srct);
  kiln::set_num_threads(std::max(saved, 4));
  const Tensor<float> d4 = kiln::scatter_add(st, 1, it, srct);
  const Tensor<float> a4 = kiln::scatter_add(self, 0, index, src);
  const Tensor<float> b4 = kiln::index_add(self, 0, rows, src, 0.25f);
  const Tensor<float> c4 = kiln::scatter_add(self.t(), 1, index.t(), src.t());
  kiln::set_num_threads(saved);
  check_equal(a1, a4);
  check_equal(b1, b4);
  check_equal(c1, c4);
  check_equal(d1, d4);
  check_equal(c1.t().contiguous(), a1);
  check_equal(d1.t().contiguous(), a1);
  // Sums are added in index order, like the reference loop.
  check_equal(a1, ref_scatter(self, 0, index, src, true));
}

TEST_CASE("scatter_add and index_add on reduced floats, bools and wrapping ints", "[ops][index]") {
  // half accumulates each addition in float and rounds once per addition.
  const Tensor<kiln::half> h = kiln::zeros<kiln::half>({1});
  kiln::index_add_(h, 0, kiln::zeros<int64_t>({3}),
                   kiln::tensor<kiln::half>({kiln::half(0.1f), kiln::half(0.2f), kiln::half(0.3f)}),
                   kiln::half(2.0f));
  float want = 0;
  for (float v : {0.1f, 0.2f, 0.3f})
    want = static_cast<float>(kiln::half(want + 2.0f * static_cast<float>(kiln::half(v))));
  CHECK(static_cast<float>(h(0)) == want);
  // bool adds as OR.
  const Tensor<bool> b =
      kiln::scatter_add(kiln::tensor<bool>({false, false, true}), 0, kiln::tensor<int64_t>({0, 0}),
                        kiln::tensor<bool>({true, true}));
  check_equal(b, kiln::tensor<bool>({true, false, true}));
  // int32 wraps.
  const Tensor<int32_t> w = kiln::index_add(kiln::tensor<int32_t>({2147483647}), 0,
                                            kiln::tensor<int64_t>({0}), kiln::tensor<int32_t>({1}));
  CHECK(w(0) == -2147483647 - 1);
}

// ---- index / index_put (advanced indexing) ------------------------------------------------------
namespace {

// numpy's rule, one element at a time: the indexed dims of x, the broadcast shape of the
// index tensors, where it goes in the output, and the source coordinate of each output one.
struct RefAdvanced {
  std::vector<int> dims;  // indexed dims of x
  Shape b;                // broadcast shape of the index tensors
  Shape out;
  bool adjacent = true;
  std::vector<TI> expanded;  // each index tensor expanded to b

  RefAdvanced(const Shape& xs, const kiln::IndexList& idx) {
    for (std::size_t d = 0; d < idx.size(); ++d)
      if (idx[d]) {
        dims.push_back(static_cast<int>(d));
        b = dims.size() == 1 ? idx[d]->shape() : kiln::broadcast_shapes(b, idx[d]->shape(), "ref");
      }
    for (std::size_t k = 1; k < dims.size(); ++k) adjacent = adjacent && dims[k] == dims[k - 1] + 1;
    for (int d : dims) expanded.push_back(idx[static_cast<std::size_t>(d)]->expand(b));
    if (adjacent)
      for (int d = 0; d < dims.front(); ++d) out.push_back(xs[d]);
    for (int64_t e : b) out.push_back(e);
    for (int d = adjacent ? dims.front() : 0; d < xs.size(); ++d)
      if (!is_indexed(d)) out.push_back(xs[d]);
  }
  bool is_indexed(int d) const { return std::find(dims.begin(), dims.end(), d) != dims.end(); }
  // The coordinate of x that output coordinate c reads.
  Coord source(const Shape& xs, const Coord& c) const {
    const int lead = adjacent ? dims.front() : 0;
    Coord bc(c.begin() + lead, c.begin() + lead + b.size());
    Coord src(static_cast<std::size_t>(xs.size()));
    std::size_t next = 0;  // the next output coordinate of a whole dim
    for (int d = 0; d < xs.size(); ++d) {
      if (is_indexed(d)) {
        const auto k =
            static_cast<std::size_t>(std::find(dims.begin(), dims.end(), d) - dims.begin());
        const int64_t v = el(expanded[k], bc);
        src[static_cast<std::size_t>(d)] = v < 0 ? v + xs[d] : v;
      } else {
        if (next == static_cast<std::size_t>(lead) && (!adjacent || d > dims.front()))
          next += static_cast<std::size_t>(b.size());  // skip B's coordinates
        src[static_cast<std::size_t>(d)] = c[next++];
      }
    }
    return src;
  }
};

template <class T>
Tensor<T> ref_index(const Tensor<T>& x, const kiln::IndexList& idx) {
  const RefAdvanced r(x.shape(), idx);
  Tensor<T> out(r.out);
  for_each_coord(r.out, [&](const Coord& c) { el(out, c) = el(x, r.source(x.shape(), c)); });
  return out;
}
template <class T>
Tensor<T> ref_index_put(const Tensor<T>& x, const kiln::IndexList& idx, const Tensor<T>& values,
                        bool accumulate) {
  const RefAdvanced r(x.shape(), idx);
  Tensor<T> out = x.clone();
  const Tensor<T> v = values.expand(r.out);
  for_each_coord(r.out, [&](const Coord& c) {
    T& dst = el(out, r.source(x.shape(), c));
    dst = accumulate ? plus(dst, el(v, c)) : el(v, c);
  });
  return out;
}

// Index lists for x of shape [4, 5, 3]: duplicates and negative positions, broadcasting,
// adjacent and separated indexed dims, 0-d, empty and non-contiguous index tensors.
std::vector<std::pair<std::string, kiln::IndexList>> index_lists() {
  const auto pos = [](int64_t n, const Shape& s) { return kiln::randint<int64_t>(-n, n, s); };
  const std::optional<TI> all;
  return {
      {"dim 0", {pos(4, {7})}},
      {"dim 1 after a whole dim", {all, pos(5, {2, 3})}},
      {"dims 0, 1 broadcast", {pos(4, {2, 1}), pos(5, {3})}},
      {"dims 1, 2 adjacent", {all, pos(5, {4}), pos(3, {1})}},
      {"dims 0, 2 separated", {pos(4, {3, 2}), all, pos(3, {2})}},
      {"every dim", {pos(4, {6}), pos(5, {6}), pos(3, {1, 6})}},
      {"0-d", {all, kiln::scalar_tensor<int64_t>(-1)}},
      {"0-d and separated", {kiln::scalar_tensor<int64_t>(2), all, pos(3, {4})}},
      {"empty", {kiln::zeros<int64_t>({0}), all, pos(3, {1})}},
      {"transposed", {all, pos(5, {3, 2}).t(), pos(3, {3, 1}).t()}},
  };
}

}  // namespace

TEMPLATE_TEST_CASE("index matches numpy's rule on every layout", "[ops][index]", float, double,
                   int64_t) {
  using T = TestType;
  kiln::manual_seed(11);
  for (auto& [name, x] : kiln_test::layouts3<T>({4, 5, 3}, /*expanded=*/true)) {
    for (auto& [iname, idx] : index_lists()) {
      INFO(name << ", " << iname);
      const Tensor<T> got = kiln::index(x, idx);
      check_equal(got, ref_index(x, idx));
      CHECK(got.is_contiguous());
    }
  }
  // The result layouts: in place when adjacent, first when separated.
  const Tensor<T> x = kiln::zeros<T>({2, 5, 6, 7});
  const TI i = kiln::zeros<int64_t>({3, 1}), j = kiln::zeros<int64_t>({4});
  CHECK(kiln::index(x, {std::nullopt, i, j}).shape() == Shape{2, 3, 4, 7});
  CHECK(kiln::index(x, {std::nullopt, i, std::nullopt, j}).shape() == Shape{3, 4, 2, 6});
  CHECK(kiln::index(x, {i}).shape() == Shape{3, 1, 5, 6, 7});
}

TEMPLATE_TEST_CASE("index_put_ matches a loop, duplicates and accumulation included",
                   "[ops][index]", float, double, int64_t) {
  using T = TestType;
  kiln::manual_seed(12);
  for (bool accumulate : {false, true}) {
    for (auto& [name, x] : kiln_test::layouts3<T>({4, 5, 3})) {
      for (auto& [iname, idx] : index_lists()) {
        const Shape out = kiln::index(x, idx).shape();
        Shape last;  // values broadcast along all but the last dim
        if (!out.empty()) last.push_back(out.back());
        for (const Tensor<T>& values :
             {kiln_test::random_values<T>(out), kiln_test::random_values<T>(last),
              kiln::scalar_tensor<T>(T(3))}) {
          INFO(name << ", " << iname << ", values " << values.shape() << ", accumulate "
                    << accumulate);
          const Tensor<T> want = ref_index_put(x, idx, values, accumulate);
          check_equal(kiln::index_put(x, idx, values, accumulate), want);
          // In place, through x's own (possibly strided) layout.
          const uint64_t version = x.version();
          CHECK(kiln::index_put_(x, idx, values, accumulate).data() == x.data());
          check_equal(x, want);
          CHECK(x.version() > version);
        }
      }
    }
  }
}

TEST_CASE("index_put_ with values aliasing the destination, and other dtypes", "[ops][index]") {
  // values read from the destination itself are copied first.
  const Tensor<float> x = kiln::arange<float>(6).reshape({2, 3});
  const Tensor<float> want = ref_index_put(x, {kiln::tensor<int64_t>({1, 0})}, x.clone(), false);
  kiln::index_put_(x, {kiln::tensor<int64_t>({1, 0})}, x, false);
  check_equal(x, want);
  // bool accumulates as OR, half in float, int32 wraps.
  const Tensor<bool> b = kiln::zeros<bool>({3});
  kiln::index_put_(b, {kiln::tensor<int64_t>({2, 2})}, kiln::tensor<bool>({true, false}), true);
  check_equal(b, kiln::tensor<bool>({false, false, true}));
  const Tensor<kiln::half> h = kiln::zeros<kiln::half>({2});
  kiln::index_put_(h, {kiln::tensor<int64_t>({1, 1})},
                   kiln::tensor<kiln::half>({kiln::half(0.1f), kiln::half(0.2f)}), true);
  CHECK(static_cast<float>(h(1)) ==
        static_cast<float>(kiln::half(static_cast<float>(kiln::half(0.1f)) +
                                      static_cast<float>(kiln::half(0.2f)))));
  const Tensor<int32_t> w = kiln::tensor<int32_t>({2147483647});
  kiln::index_put_(w, {kiln::tensor<int64_t>({0})}, kiln::tensor<int32_t>({1}), true);
  CHECK(w(0) == -2147483647 - 1);
}

TEST_CASE("index_put_ accumulates the same bits for any thread count", "[ops][index]") {
  kiln::manual_seed(8);
  const kiln::IndexList idx = {kiln::randint<int64_t>(0, 50, {20000})};
  const Tensor<float> values = kiln::randn<float>({20000, 64});
  const Tensor<float> self = kiln::randn<float>({50, 64});
  const int saved = kiln::get_num_threads();
  kiln::set_num_threads(1);
  const Tensor<float> a1 = kiln::index_put(self, idx, values, true);
  const Tensor<float> b1 = kiln::index_put(self.t(), {std::nullopt, idx[0]}, values.t(), true);
  kiln::set_num_threads(std::max(saved, 4));
  const Tensor<float> a4 = kiln::index_put(self, idx, values, true);
  const Tensor<float> b4 = kiln::index_put(self.t(), {std::nullopt, idx[0]}, values.t(), true);
  kiln::set_num_threads(saved);
  check_equal(a1, a4);
  check_equal(b1, b4);
  check_equal(a1, ref_index_put(self, idx, values, true));
  check_equal(b1.t().contiguous(), a1);
}

TEST_CASE("index and index_put_ reject bad positions and shapes", "[ops][index][errors]") {
  const Tensor<float> x = kiln::full<float>({3, 5}, 2.0f);
  const TI ok = kiln::tensor<int64_t>({0, 1});
  for (int64_t bad : {int64_t{5}, int64_t{-6}, int64_t{1} << 40}) {
    INFO("index " << bad);
    const TI i = kiln::tensor<int64_t>({0, 4, bad}).reshape({1, 3}).expand({2, 3}).t();
    auto msg = thrown_message<kiln::IndexError>([&] { (void)kiln::index(x, {std::nullopt, i}); });
    CHECK_THAT(msg, Contains("[index]") && Contains("index " + std::to_string(bad)) &&
                        Contains("dimension 1") && Contains("size 5"));
    msg = thrown_message<kiln::IndexError>([&] {
      kiln::index_put_(x, {std::nullopt, i}, kiln::zeros<float>({}), false);
    });
    CHECK_THAT(msg, Contains("[index_put_]") && Contains("index " + std::to_string(bad)));
  }
  check_equal(x, kiln::full<float>({3, 5}, 2.0f));  // untouched
  CHECK_THAT(thrown_message<kiln::IndexError>([&] {
               (void)kiln::index(x, {ok, kiln::tensor<int64_t>({0, 1, 2})});
             }),
             Contains("could not be broadcast together with shapes [2], [3]"));
  CHECK_THAT(thrown_message<kiln::IndexError>([&] {
               (void)kiln::index(x, {ok, ok, ok});
             }),
             Contains("too many indices for tensor of dimension 2"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::index_put_(x, {ok, ok}, kiln::zeros<float>({3}), false);
             }),
             Contains("value tensor of shape [3] cannot be broadcast to indexing result of "
                      "shape [2]"));
  CHECK_THROWS_AS(kiln::index(x, {std::nullopt, std::nullopt}), kiln::ValueError);
  CHECK_THROWS_AS(kiln::index(kiln::zeros<float>({0, 2}), {ok}), kiln::IndexError);
  CHECK_THROWS_AS(kiln::index_put_(kiln::zeros<float>({1, 3}).expand({2, 3}), {ok},
                                   kiln::zeros<float>({}), false),
                  kiln::ValueError);
  // Autograd: index_put_ refuses a leaf that requires grad, like every in-place op.
  const Tensor<double> leaf = kiln::zeros<double>({3}).requires_grad_();
  CHECK_THROWS_AS(kiln::index_put_(leaf, {ok}, kiln::zeros<double>({}), false),
                  kiln::AutogradError);
}

// ---- take_along_dim -----------------------------------------------------------------------------
TEMPLATE_TEST_CASE("take_along_dim broadcasts like torch", "[ops][index]", float, int64_t) {
  using T = TestType;
  kiln::manual_seed(8);
  // x [3, 1, 5], indices [1, 4, 2], dim 2: x broadcasts to [3, 4, 5], indices to [3, 4, 2].
  const Tensor<T> x = kiln_test::random_values<T>({3, 1, 5});
  const TI i = kiln::randint<int64_t>(0, 5, {1, 4, 2});
  const Tensor<T> got = kiln::take_along_dim(x, i, 2);
  REQUIRE(got.shape() == Shape{3, 4, 2});
  for_each_coord(got.shape(),
                 [&](const Coord& c) { CHECK(el(got, c) == x(c[0], 0, i(0, c[1], c[2]))); });
  // Along dim 1: x [3, 1, 5] with indices [3, 6, 1] (only 0 is valid along x's dim of 1).
  const Tensor<T> g1 = kiln::take_along_dim(x, kiln::zeros<int64_t>({3, 6, 1}), 1);
  REQUIRE(g1.shape() == Shape{3, 6, 5});
  for_each_coord(g1.shape(), [&](const Coord& c) { CHECK(el(g1, c) == x(c[0], 0, c[2])); });
  // The argmax idiom: values at argmax == amax; non-contiguous x.
  const Tensor<float> f = kiln::randn<float>({6, 7}).t();
  check_equal(kiln::take_along_dim(f, kiln::argmax(f, 1, true), 1), kiln::amax(f, {1}, true));
  // dim = None: flattened.
  const Tensor<T> flat = kiln::take_along_dim(x, kiln::tensor<int64_t>({{14, 0}, {3, 3}}));
  check_equal(flat, kiln::tensor<T>({x(2, 0, 4), x(0, 0, 0), x(0, 0, 3), x(0, 0, 3)}));
  // 0-d.
  CHECK(kiln::take_along_dim(kiln::scalar_tensor<T>(T(5)), kiln::scalar_tensor<int64_t>(0), 0)
            .item() == T(5));
}

// ---- one_hot and embedding ----------------------------------------------------------------------
TEST_CASE("one_hot", "[ops][index]") {
  const TI idx = kiln::tensor<int64_t>({{0, 3}, {2, 2}, {1, 0}}).t();  // [2, 3], transposed
  const TI oh = kiln::one_hot(idx);
  REQUIRE(oh.shape() == Shape{2, 3, 4});
  for_each_coord(oh.shape(),
                 [&](const Coord& c) { CHECK(el(oh, c) == (idx(c[0], c[1]) == c[2] ? 1 : 0)); });
  CHECK(kiln::one_hot(idx, 6).shape() == Shape{2, 3, 6});
  check_equal(kiln::one_hot(kiln::scalar_tensor<int64_t>(1), 3), kiln::tensor<int64_t>({0, 1, 0}));
  CHECK(kiln::one_hot(kiln::zeros<int64_t>({0, 2}), 5).shape() == Shape{0, 2, 5});
  CHECK(kiln::one_hot(kiln::zeros<int64_t>({0}), 0).shape() == Shape{0, 0});
  CHECK_THROWS_AS(kiln::one_hot(kiln::zeros<int64_t>({2}), 0), kiln::IndexError);

  auto msg = thrown_message<kiln::IndexError>([&] { kiln::one_hot(idx, 3); });
  CHECK_THAT(msg, Contains("[one_hot]") && Contains("3") && Contains("num_classes 3"));
  msg = thrown_message<kiln::IndexError>([&] { kiln::one_hot(kiln::tensor<int64_t>({1, -2})); });
  CHECK_THAT(msg, Contains("[one_hot]") && Contains("-2"));
  msg = thrown_message<kiln::ValueError>([&] { kiln::one_hot(kiln::zeros<int64_t>({0})); });
  CHECK_THAT(msg, Contains("[one_hot]") && Contains("empty"));
  CHECK_THROWS_AS(kiln::one_hot(idx, -2), kiln::ValueError);
  // Inferring num_classes from the largest int64 would overflow.
  msg = thrown_message<kiln::IndexError>(
      [&] { kiln::one_hot(kiln::tensor<int64_t>({std::numeric_limits<int64_t>::max()})); });
  CHECK_THAT(msg, Contains("[one_hot]") && Contains("too large"));
}

TEMPLATE_TEST_CASE("embedding looks rows up for ids of any shape", "[ops][index]", float, double) {
  using T = TestType;
  kiln::manual_seed(9);
  const Tensor<T> w = kiln::randn<T>({4, 10}).t();  // [10, 4], transposed
  const TI ids = kiln::randint<int64_t>(0, 10, {3, 2, 5}).permute({0, 2, 1});  // [3, 5, 2]
  const Tensor<T> out = kiln::embedding(w, ids, /*padding_idx=*/-1);
  REQUIRE(out.shape() == Shape{3, 5, 2, 4});
  for_each_coord(out.shape(), [&](const Coord& c) {
    CHECK(el(out, c) == w(ids(c[0], c[1], c[2]), c[3]));  // padding rows are looked up too
  });
  CHECK(kiln::embedding(w, kiln::scalar_tensor<int64_t>(3)).shape() == Shape{4});
  CHECK(kiln::embedding(w, kiln::zeros<int64_t>({2, 0})).shape() == Shape{2, 0, 4});

  auto msg = thrown_message<kiln::IndexError>([&] {
    kiln::embedding(w, kiln::tensor<int64_t>({{1, 2}, {10, 0}}));
  });
  CHECK_THAT(msg, Contains("[embedding]") && Contains("index 10") && Contains("dimension 0") &&
                      Contains("size 10"));
  msg = thrown_message<kiln::IndexError>([&] { kiln::embedding(w, kiln::tensor<int64_t>({-1})); });
  CHECK_THAT(msg, Contains("[embedding]") && Contains("index -1"));
  msg = thrown_message<kiln::ShapeError>([&] { kiln::embedding(kiln::zeros<T>({40}), ids); });
  CHECK_THAT(msg, Contains("[embedding]") && Contains("[40]"));
  msg = thrown_message<kiln::IndexError>([&] { kiln::embedding(w, ids, 10); });
  CHECK_THAT(msg, Contains("[embedding]") && Contains("padding_idx 10"));
}

// ---- backward helpers: <op(x), g> == <x, op_backward(g)> for linear ops -------------------------
TEST_CASE("backward helpers are the adjoints of their ops", "[ops][index]") {
  kiln::manual_seed(10);
  using TD = Tensor<double>;
  const TD x = kiln::randn<double>({4, 5, 6});
  SECTION("gather") {
    for (int d = 0; d < 3; ++d) {
      Shape s{3, 4, 5};
      s[d] = 7;
      const TI index = random_index(s, x.size(d), d == 1);
      const TD g = kiln::randn<double>(s);
      const TD gx = kiln::gather_backward(g, d, index, x.shape());
      CHECK(gx.shape() == x.shape());
      CHECK(dot(kiln::gather(x, d, index), g) == Approx(dot(x, gx)).epsilon(1e-12).margin(1e-12));
    }
  }
  SECTION("index_select") {
    const TI index = kiln::tensor<int64_t>({4, 0, 4, 4, 2});
    const TD g = kiln::randn<double>({4, 5, 6});
    const TD gx = kiln::index_select_backward(g, 1, index, x.shape());
    CHECK(dot(kiln::index_select(x, 1, index), g) ==
          Approx(dot(x, gx)).epsilon(1e-12).margin(1e-12));
  }
  SECTION("take_along_dim with broadcasting") {
    const TD xs = kiln::randn<double>({3, 1, 5});
    const TI i = kiln::randint<int64_t>(0, 5, {1, 4, 2});
    const TD g = kiln::randn<double>({3, 4, 2});
    const TD gx = kiln::take_along_dim_backward(g, i, 2, xs.shape());
    REQUIRE(gx.shape() == xs.shape());
    CHECK(dot(kiln::take_along_dim(xs, i, 2), g) ==
          Approx(dot(xs, gx)).epsilon(1e-12).margin(1e-12));
    const TI fi = kiln::randint<int64_t>(0, 15, {4, 4});
    const TD fg = kiln::randn<double>({16});
    const TD fgx = kiln::take_along_dim_backward(fg.view({4, 4}), fi, xs.shape());
    CHECK(dot(kiln::take_along_dim(xs, fi), fg) ==
          Approx(dot(xs, fgx)).epsilon(1e-12).margin(1e-12));
  }
  SECTION("embedding, with and without padding_idx") {
    const TD w = kiln::randn<double>({7, 3});
    const TI ids = kiln::tensor<int64_t>({{1, 6, 1}, {0, 6, 6}});
    const TD g = kiln::randn<double>({2, 3, 3});
    const TD gw = kiln::embedding_backward(g, ids, 7);
    CHECK(dot(kiln::embedding(w, ids), g) == Approx(dot(w, gw)).epsilon(1e-12).margin(1e-12));
    // padding_idx = -1 (row 6): no gradient flows into it, as if it were a constant.
    const TD gp = kiln::embedding_backward(g, ids, 7, -1);
    for (int j = 0; j < 3; ++j) CHECK(gp(6, j) == 0.0);
    TD wz = w.clone();
    wz.select(0, 6).zero_();
    CHECK(dot(kiln::embedding(wz, ids), g) == Approx(dot(w, gp)).epsilon(1e-12).margin(1e-12));
    CHECK_THROWS_AS(kiln::embedding_backward(g, ids.t(), 7), kiln::ShapeError);
  }
}

// ---- errors -------------------------------------------------------------------------------------
TEST_CASE("out-of-range indices throw IndexError naming op, index, dim and size",
          "[ops][index][errors]") {
  const Tensor<float> x = kiln::zeros<float>({3, 5});
  const Tensor<float> src = kiln::ones<float>({3, 5});
  struct Case {
    const char* op;
    int64_t bad;
    std::function<void(const TI&)> call;
  };
  // The bad value sits last, after valid ones, in a non-contiguous index.
  const auto index_with = [](int64_t bad) {
    TI i = kiln::zeros<int64_t>({4, 3});
    i(3, 2) = bad;
    return i.t();  // [3, 4]: bad at (2, 3), the last element in row-major order
  };
  for (int64_t bad : {int64_t{5}, int64_t{-1}, int64_t{1} << 40}) {
    const TI idx = index_with(bad);
    const std::vector<Case> cases = {
        {"gather", bad, [&](const TI& i) { kiln::gather(x, 1, i); }},
        {"index_select", bad, [&](const TI& i) { kiln::index_select(x, 1, i.select(0, 2)); }},
        {"scatter", bad,
         [&](const TI& i) {
           kiln::scatter(x, 1, i, kiln::ones<float>({3, 4}));
         }},
        {"scatter", bad, [&](const TI& i) { kiln::scatter(x, 1, i, 2.0f); }},
        {"scatter_add", bad,
         [&](const TI& i) {
           kiln::scatter_add(x, 1, i, kiln::ones<float>({3, 4}));
         }},
        {"index_add", bad,
         [&](const TI& i) {
           kiln::index_add(x, 1, i.select(0, 2), kiln::ones<float>({3, 4}));
         }},
        {"take_along_dim", bad, [&](const TI& i) { kiln::take_along_dim(x, i, 1); }},
        {"gather_backward", bad,
         [&](const TI& i) {
           kiln::gather_backward(kiln::ones<float>({3, 4}), 1, i, x.shape());
         }},
    };
    for (const auto& c : cases) {
      INFO(c.op << " with index " << bad);
      const auto msg = thrown_message<kiln::IndexError>([&] { c.call(idx); });
      CHECK_THAT(msg, Contains(std::string("[") + c.op + "]") &&
                          Contains("index " + std::to_string(bad)) && Contains("dimension 1") &&
                          Contains("size 5"));
    }
  }
  // In place: a bad index leaves the destination untouched.
  const Tensor<float> y = kiln::full<float>({3, 5}, 2.0f);
  CHECK_THROWS_AS(kiln::scatter_add_(y, 1, index_with(7), kiln::ones<float>({3, 4})),
                  kiln::IndexError);
  CHECK_THROWS_AS(kiln::scatter_(y, 1, index_with(7), 0.0f), kiln::IndexError);
  CHECK_THROWS_AS(kiln::index_add_(y, 0, kiln::tensor<int64_t>({0, 1, 3}), src), kiln::IndexError);
  check_equal(y, kiln::full<float>({3, 5}, 2.0f));
  // Along a size-0 dim every index is out of range.
  CHECK_THROWS_AS(kiln::index_select(kiln::zeros<float>({0, 2}), 0, kiln::tensor<int64_t>({0})),
                  kiln::IndexError);
}

TEST_CASE("index ops reject wrong ranks, shapes and dims", "[ops][index][errors]") {
  const Tensor<float> x = kiln::zeros<float>({3, 5});
  const TI i2 = kiln::zeros<int64_t>({2, 2});
  const auto shape_error = [](auto f, std::vector<std::string> parts) {
    const auto msg = thrown_message<kiln::ShapeError>(f);
    for (const auto& p : parts) CHECK_THAT(msg, Contains(p));
  };
  // gather: rank and size rules.
  shape_error([&] { kiln::gather(x, 1, kiln::zeros<int64_t>({3})); },
              {"[gather]", "[3]", "[3, 5]"});
  shape_error(
      [&] {
        kiln::gather(x, 1, kiln::zeros<int64_t>({4, 2}));
      },
      {"[gather]", "[4, 2]", "[3, 5]", "dimension 0"});
  // index_select: the index must be a vector; a 0-d input takes one index.
  shape_error([&] { kiln::index_select(x, 0, i2); }, {"[index_select]", "[2, 2]"});
  shape_error(
      [&] { kiln::index_select(kiln::scalar_tensor<float>(1), 0, kiln::zeros<int64_t>({2})); },
      {"[index_select]", "0-d"});
  // scatter: rank of index and src, index larger than src or than self off dim.
  shape_error([&] { kiln::scatter(x, 0, kiln::zeros<int64_t>({3}), x); },
              {"[scatter]", "[3]", "[3, 5]"});
  shape_error([&] { kiln::scatter(x, 0, i2, kiln::zeros<float>({6})); },
              {"[scatter]", "[2, 2]", "[6]"});
  shape_error(
      [&] {
        kiln::scatter_add(x, 0, i2, kiln::zeros<float>({2, 1}));
      },
      {"[scatter_add]", "[2, 2]", "[2, 1]", "src"});
  shape_error(
      [&] {
        kiln::scatter(x, 0, kiln::zeros<int64_t>({2, 6}), kiln::zeros<float>({9, 9}));
      },
      {"[scatter]", "[2, 6]", "[3, 5]"});
  shape_error(
      [&] {
        kiln::scatter_(x, 1, kiln::zeros<int64_t>({4, 1}), 1.0f);
      },
      {"[scatter_]", "[4, 1]", "[3, 5]"});
  // index_add: index a vector of source.size(dim) entries, source like self off dim.
  shape_error([&] { kiln::index_add(x, 0, i2, x); }, {"[index_add]", "[2, 2]"});
  shape_error([&] { kiln::index_add(x, 0, kiln::zeros<int64_t>({2}), x); },
              {"[index_add]", "(2)", "(3)"});
  shape_error(
      [&] {
        kiln::index_add(x, 0, kiln::zeros<int64_t>({3}), kiln::zeros<float>({3, 4}));
      },
      {"[index_add]", "[3, 5]", "[3, 4]"});
  shape_error([&] { kiln::index_add(x, 1, kiln::zeros<int64_t>({3}), kiln::zeros<float>({3})); },
              {"[index_add]", "[3, 5]", "[3]"});
  // take_along_dim: same rank, broadcastable off dim.
  shape_error([&] { kiln::take_along_dim(x, kiln::zeros<int64_t>({3}), 1); },
              {"[take_along_dim]", "[3]", "[3, 5]"});
  shape_error(
      [&] {
        kiln::take_along_dim(x, kiln::zeros<int64_t>({2, 5}), 1);
      },
      {"[take_along_dim]", "[2, 5]"});
  // backward helpers.
  shape_error(
      [&] {
        kiln::gather_backward(kiln::zeros<float>({2, 3}), 0, i2, x.shape());
      },
      {"[gather_backward]", "[2, 3]", "[2, 2]"});
  // Dims out of range.
  auto msg = thrown_message<kiln::IndexError>([&] { kiln::gather(x, 2, i2); });
  CHECK_THAT(msg, Contains("[gather]") && Contains("got 2"));
  CHECK_THROWS_AS(kiln::index_select(x, -3, kiln::zeros<int64_t>({1})), kiln::IndexError);
  CHECK_THROWS_AS(kiln::scatter_add(x, 5, i2, x), kiln::IndexError);
  CHECK_THROWS_AS(kiln::index_add(x, 2, kiln::zeros<int64_t>({1}), x), kiln::IndexError);
  // Writing into an expanded view.
  msg = thrown_message<kiln::ValueError>([&] {
    kiln::scatter_(kiln::zeros<float>({1, 5}).expand({3, 5}), 0, i2, 1.0f);
  });
  CHECK_THAT(msg, Contains("[scatter_]") && Contains("single memory location"));
  CHECK_THROWS_AS(kiln::index_add_(kiln::zeros<float>({5}).expand({3, 5}), 1,
                                   kiln::zeros<int64_t>({5}), kiln::zeros<float>({3, 5})),
                  kiln::ValueError);
  // Undefined tensors.
  msg = thrown_message<kiln::ValueError>([&] { kiln::gather(Tensor<float>(), 0, i2); });
  CHECK_THAT(msg, Contains("[gather]") && Contains("undefined"));
}
