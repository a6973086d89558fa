// SPDX-License-Identifier: BSD-3-Clause
// pad (constant, reflect, replicate, circular) and pad_backward against index arithmetic
// on plain arrays, over layouts, dtypes and empty dims; every error.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"
#include "shape_ref.hpp"
#include "support/throws.hpp"

using Catch::Matchers::Contains;
using kiln::PadMode;
using kiln::Shape;
using kiln::Tensor;
using kiln_test::thrown_message;
using shape_ref::Array;
using shape_ref::Index;

namespace {

std::size_t u(int64_t i) { return static_cast<std::size_t>(i); }

struct Padded {
  Shape out;
  std::vector<int64_t> lo;  // per input dim
};
Padded padded_shape(const Shape& in, const std::vector<int64_t>& pads) {
  Padded p{in, std::vector<int64_t>(u(in.size()), 0)};
  for (std::size_t i = 0; i < pads.size() / 2; ++i) {
    const int d = in.size() - 1 - static_cast<int>(i);
    p.lo[u(d)] = pads[2 * i];
    p.out[d] += pads[2 * i] + pads[2 * i + 1];
  }
  return p;
}

// The input index that output index `o` reads, or false for a constant border.
bool source_of(const Shape& in, const Padded& p, PadMode mode, const Index& o, Index& i) {
  i = o;
  for (int d = 0; d < in.size(); ++d) {
    const int64_t n = in[d];
    int64_t q = o[u(d)] - p.lo[u(d)];
    if (q < 0 || q >= n) {
      switch (mode) {
        case PadMode::Constant:
          return false;
        case PadMode::Reflect:
          q = q < 0 ? -q : 2 * (n - 1) - q;
          break;
        case PadMode::Replicate:
          q = q < 0 ? 0 : n - 1;
          break;
        case PadMode::Circular:
          q = (q % n + n) % n;
          break;
      }
    }
    i[u(d)] = q;
  }
  return true;
}

template <class T>
Array<T> ref_pad(const Array<T>& a, const std::vector<int64_t>& pads, PadMode mode, T value) {
  const Padded p = padded_shape(a.shape, pads);
  return shape_ref::build<T>(p.out, [&](const Index& o) {
    Index i;
    return source_of(a.shape, p, mode, o, i) ? a(i) : value;
  });
}

const char* name_of(PadMode m) {
  switch (m) {
    case PadMode::Constant:
      return "constant";
    case PadMode::Reflect:
      return "reflect";
    case PadMode::Replicate:
      return "replicate";
    default:
      return "circular";
  }
}

}  // namespace

TEMPLATE_TEST_CASE("pad matches a reference in every mode", "[ops][shapeops][pad]", float, int64_t,
                   bool) {
  using T = TestType;
  const std::vector<std::vector<int64_t>> all_pads{
      {1, 2}, {2, 0, 1, 1}, {0, 0, 2, 1}, {1, 1, 1, 1, 1, 1}, {0, 0}, {}};
  for (const Shape& s : {Shape{3, 4, 5}, Shape{2, 3, 3}}) {
    for (auto& [name, x] : shape_ref::layouts<T>(s)) {
      const Array<T> a = shape_ref::to_array(x);
      for (PadMode mode :
           {PadMode::Constant, PadMode::Reflect, PadMode::Replicate, PadMode::Circular}) {
        for (const auto& pads : all_pads) {
          INFO(name << " " << s << " " << name_of(mode) << " pads " << kiln::Dims(pads));
          const double value = mode == PadMode::Constant ? 1.0 : 0.0;
          const Tensor<T> got = kiln::pad(x, pads, mode, value);
          CHECK(got.is_contiguous());
          CHECK_FALSE(got.is_alias_of(x));
          shape_ref::check_equal(got, ref_pad(a, pads, mode, static_cast<T>(value)));
          shape_ref::check_equal(kiln::pad(x, pads, name_of(mode), value),
                                 shape_ref::to_array(got));
        }
      }
      // Negative constant pads crop, as torch.
      for (const std::vector<int64_t>& pads : std::vector<std::vector<int64_t>>{
               {-1, 2}, {-1, -1, 2, 0}, {0, -3}, {-3, 0}, {3, -3, 0, 0}, {-2, -1}}) {
        INFO(name << " constant pads " << kiln::Dims(pads));
        shape_ref::check_equal(kiln::pad(x, pads), ref_pad(a, pads, PadMode::Constant, T(0)));
      }
    }
  }
}

TEST_CASE("pad on empty, size-1 and large inputs", "[ops][shapeops][pad]") {
  // An empty non-padded dim: an empty result in every mode.
  const Tensor<float> e = shape_ref::sample<float>({0, 3});
  CHECK(kiln::pad(e, {1, 1}, PadMode::Reflect).shape() == Shape{0, 5});
  CHECK(kiln::pad(e, {2, 2}, PadMode::Replicate).shape() == Shape{0, 7});
  // Constant padding of an empty dim is all value.
  const Array<float> ea = shape_ref::to_array(e);
  shape_ref::check_equal(kiln::pad(e, {0, 0, 1, 2}, PadMode::Constant, 3.0),
                         ref_pad(ea, {0, 0, 1, 2}, PadMode::Constant, 3.0f));
  // Size-1 dims replicate and wrap.
  const Tensor<double> one = shape_ref::sample<double>({2, 1});
  for (PadMode m : {PadMode::Replicate, PadMode::Circular}) {
    const std::vector<int64_t> pads =
        m == PadMode::Circular ? std::vector<int64_t>{1, 0} : std::vector<int64_t>{3, 2};
    shape_ref::check_equal(kiln::pad(one, pads, m),
                           ref_pad(shape_ref::to_array(one), pads, m, 0.0));
  }
  // Large: threaded copies of every block.
  const Tensor<float> big = shape_ref::sample<float>({64, 40, 30}).permute({0, 2, 1});
  for (PadMode m : {PadMode::Constant, PadMode::Reflect, PadMode::Replicate, PadMode::Circular})
    shape_ref::check_equal(kiln::pad(big, {3, 4, 5, 2}, m),
                           ref_pad(shape_ref::to_array(big), {3, 4, 5, 2}, m, 0.0f));
  // half instantiates.
  const Tensor<kiln::half> h = shape_ref::sample<kiln::half>({2, 4});
  shape_ref::check_equal(kiln::pad(h, {2, 1}, "reflect"),
                         ref_pad(shape_ref::to_array(h), {2, 1}, PadMode::Reflect, kiln::half(0)));
}

TEMPLATE_TEST_CASE("pad_backward adds each output gradient to the input it read",
                   "[ops][shapeops][pad]", float, double) {
  using T = TestType;
  struct Case {
    Shape in;
    std::vector<int64_t> pads;
  };
  for (PadMode mode :
       {PadMode::Constant, PadMode::Reflect, PadMode::Replicate, PadMode::Circular}) {
    for (const Case& c : {Case{{3, 4, 5}, {2, 3}}, Case{{3, 4, 5}, {1, 2, 3, 1}},
                          Case{{2, 3, 4, 3}, {2, 2, 1, 2, 1, 1}}, Case{{3, 4}, {0, 0}},
                          Case{{2, 1, 4}, {0, 0, 1, 0}}}) {
      if (mode == PadMode::Reflect && c.in == Shape{2, 1, 4}) continue;  // needs pad < 1
      INFO(name_of(mode) << " input " << c.in << " pads " << kiln::Dims(c.pads));
      const Padded p = padded_shape(c.in, c.pads);
      Shape big = p.out;
      big[0] *= 2;
      const Tensor<T> g = shape_ref::sample<T>(big, 3).slice(0, 1, big[0], 2);  // strided
      REQUIRE(g.shape() == p.out);
      const Array<T> ga = shape_ref::to_array(g);
      Array<T> want = shape_ref::build<T>(c.in, [](const Index&) { return 0; });
      shape_ref::for_each_index(p.out, [&](const Index& o) {
        Index i;
        if (!source_of(c.in, p, mode, o, i)) return;
        int64_t flat = 0;
        for (int d = 0; d < c.in.size(); ++d) flat = flat * c.in[d] + i[u(d)];
        want.v[u(flat)] += ga(o);
      });
      const Tensor<T> got = kiln::pad_backward(g, c.pads, mode, c.in);
      REQUIRE(got.shape() == c.in);
      const Array<T> gv = shape_ref::to_array(got);
      for (std::size_t k = 0; k < want.v.size(); ++k)
        CHECK(static_cast<double>(gv.v[k]) == Approx(static_cast<double>(want.v[k])));
    }
  }
  // Constant with cropping: cropped inputs get no gradient.
  const Tensor<T> g = shape_ref::sample<T>({3, 4});
  const Tensor<T> got = kiln::pad_backward(g, {-1, 2, 1, -2}, PadMode::Constant, Shape{4, 3});
  shape_ref::check_equal(got, shape_ref::build<T>(Shape{4, 3}, [&](const Index& i) {
                           // output (o0, o1) reads input (o0 - 1, o1 + 1).
                           const int64_t r = i[0] + 1, col = i[1] - 1;
                           return i[0] < 2 && i[1] >= 1 ? g(r, col) : T(0);
                         }));
}

TEST_CASE("pad errors", "[ops][shapeops][pad]") {
  const Tensor<float> x(Shape{2, 3});
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(x, {1, 1, 1});
             }),
             Contains("[pad]") && Contains("divisible by 2") && Contains("[1, 1, 1]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(x, {1, 1, 1, 1, 1, 1});
             }),
             Contains("[pad]") && Contains("too large") && Contains("[2, 3]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(x, {3, 1}, PadMode::Reflect);
             }),
             Contains("[pad]") && Contains("reflect padding (3, 1)") && Contains("size 3") &&
                 Contains("dimension 1"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(x, {0, 0, 0, 2}, "reflect");
             }),
             Contains("reflect padding (0, 2)") && Contains("size 2") && Contains("dimension 0"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(x, {-1, 1}, PadMode::Replicate);
             }),
             Contains("[pad]") && Contains("negative padding") && Contains("replicate"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(x, {4, 0}, PadMode::Circular);
             }),
             Contains("[pad]") && Contains("circular padding (4, 0)") && Contains("size 3"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(Tensor<float>(Shape{2, 0}), {1, 0}, PadMode::Replicate);
             }),
             Contains("[pad]") && Contains("non-empty dimension 1"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(x, {1, 1}, PadMode::Reflect, 2.0);
             }),
             Contains("[pad]") && Contains("reflect") && Contains("value"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(x, {1, 1}, "mirror");
             }),
             Contains("[pad]") && Contains("mirror"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad(x, {-2, -2});
             }),
             Contains("[pad]") && Contains("(-2, -2)") && Contains("size 3"));
  CHECK_THAT(thrown_message<kiln::ShapeError>([&] {
               kiln::pad_backward(x, {1, 1}, PadMode::Reflect, Shape{2, 3});
             }),
             Contains("[pad_backward]") && Contains("[2, 3]") && Contains("[2, 5]"));
  CHECK_THAT(thrown_message<kiln::ValueError>([&] {
               kiln::pad_backward(x, {2, 2}, PadMode::Reflect, Shape{2, 2});
             }),
             Contains("[pad_backward]") && Contains("reflect padding (2, 2)"));
}
