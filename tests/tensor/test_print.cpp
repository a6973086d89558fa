// SPDX-License-Identifier: BSD-3-Clause
// Printing: every expected string is what `print(t)` shows in PyTorch for the same tensor
// (torch.* in the dtype suffix reads kiln.*).
#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kiln/kiln.hpp"

using kiln::Shape;
using kiln::Tensor;
using kiln::to_string;

namespace {

// Restores the print options a test changed.
struct PrintOptionsGuard {
  kiln::PrintOptions saved = kiln::get_printoptions();
  ~PrintOptionsGuard() { kiln::set_printoptions(saved); }
};

template <class T>
Tensor<T> iota(const Shape& shape) {
  Tensor<T> t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(i);
  return t;
}

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

}  // namespace

TEST_CASE("print: floats with integer values print with a trailing point", "[tensor][print]") {
  CHECK(to_string(kiln::tensor<float>({1, 2, 3})) == "tensor([1., 2., 3.])");
  CHECK(to_string(kiln::tensor<float>({1, -2, 100})) == "tensor([  1.,  -2., 100.])");
  CHECK(to_string(kiln::tensor<float>({0, 10})) ==
        "tensor([ 0., 10.])");  // 0 does not set the width
  CHECK(to_string(kiln::tensor<float>({0, 0})) == "tensor([0., 0.])");
  CHECK(to_string(kiln::tensor<float>({-0.0f, 1})) == "tensor([-0., 1.])");
}

TEST_CASE("print: fixed point with 4 decimals", "[tensor][print]") {
  CHECK(to_string(kiln::tensor<float>({0.1f, 2.5f})) == "tensor([0.1000, 2.5000])");
  CHECK(to_string(kiln::tensor<float>({0.5f, -12.25f})) == "tensor([  0.5000, -12.2500])");
  CHECK(to_string(kiln::tensor<float>({0, 0.5f})) == "tensor([0.0000, 0.5000])");
  CHECK(to_string(kiln::tensor<float>({1.23456f, 999.5f})) == "tensor([  1.2346, 999.5000])");
}

TEST_CASE("print: scientific notation when torch uses it", "[tensor][print]") {
  // max / min > 1000
  CHECK(to_string(kiln::tensor<float>({1e-5f, 1e8f})) == "tensor([1.0000e-05, 1.0000e+08])");
  CHECK(to_string(kiln::tensor<float>({1, 10000})) == "tensor([1.0000e+00, 1.0000e+04])");
  CHECK(to_string(kiln::tensor<float>({0.5f, -1000})) == "tensor([ 5.0000e-01, -1.0000e+03])");
  // max > 1e8
  CHECK(to_string(kiln::tensor<float>({1e9f, 2e9f})) == "tensor([1.0000e+09, 2.0000e+09])");
  // min < 1e-4 (non-integers only)
  CHECK(to_string(kiln::tensor<float>({1e-5f, 2e-5f})) == "tensor([1.0000e-05, 2.0000e-05])");
  // ratio exactly 1000 stays fixed
  CHECK(to_string(kiln::tensor<float>({0.5f, 500})) == "tensor([  0.5000, 500.0000])");
  CHECK(to_string(kiln::tensor<float>({0, 1e-5f})) == "tensor([0.0000e+00, 1.0000e-05])");
}

TEST_CASE("print: nan and inf", "[tensor][print]") {
  CHECK(to_string(kiln::tensor<float>({kNan, 1})) == "tensor([nan, 1.])");
  CHECK(to_string(kiln::tensor<float>({1.5f, kInf, -kInf, kNan})) ==
        "tensor([1.5000,    inf,   -inf,    nan])");
  CHECK(to_string(kiln::tensor<float>({kNan, kInf, -kInf})) == "tensor([nan, inf, -inf])");
  CHECK(to_string(kiln::tensor<float>({-kNan, 1e-5f, 1e5f})) ==
        "tensor([       nan, 1.0000e-05, 1.0000e+05])");
  CHECK(to_string(kiln::tensor<double>({kNan, 2.5})) ==
        "tensor([   nan, 2.5000], dtype=kiln.float64)");
}

TEST_CASE("print: nested brackets and indentation", "[tensor][print]") {
  CHECK(to_string(kiln::tensor<float>({{1, 2}, {3, 4}})) ==
        "tensor([[1., 2.],\n"
        "        [3., 4.]])");
  CHECK(to_string(iota<float>({2, 3, 4})) ==
        "tensor([[[ 0.,  1.,  2.,  3.],\n"
        "         [ 4.,  5.,  6.,  7.],\n"
        "         [ 8.,  9., 10., 11.]],\n"
        "\n"
        "        [[12., 13., 14., 15.],\n"
        "         [16., 17., 18., 19.],\n"
        "         [20., 21., 22., 23.]]])");
  CHECK(to_string(iota<int64_t>({2, 1, 1, 2})) ==
        "tensor([[[[0, 1]]],\n"
        "\n"
        "\n"
        "        [[[2, 3]]]])");
  CHECK(to_string(iota<float>({1, 3}) / 4.0f) == "tensor([[0.0000, 0.2500, 0.5000]])");
}

TEST_CASE("print: long rows wrap at 80 columns", "[tensor][print]") {
  std::vector<float> v;
  for (int i = 0; i < 30; ++i) v.push_back(static_cast<float>(i) / 7.0f);
  CHECK(to_string(kiln::from_vector(v)) ==
        "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
        "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
        "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
        "        3.8571, 4.0000, 4.1429])");
  CHECK(to_string(kiln::arange(40)) ==
        "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
        "        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,\n"
        "        36, 37, 38, 39])");
  // Rows of a matrix wrap one column further in.
  CHECK(to_string(iota<int64_t>({2, 20}) * int64_t{100}) ==
        "tensor([[   0,  100,  200,  300,  400,  500,  600,  700,  800,  900, 1000, 1100,\n"
        "         1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900],\n"
        "        [2000, 2100, 2200, 2300, 2400, 2500, 2600, 2700, 2800, 2900, 3000, 3100,\n"
        "         3200, 3300, 3400, 3500, 3600, 3700, 3800, 3900]])");
}

TEST_CASE("print: 0-d tensors", "[tensor][print]") {
  CHECK(to_string(kiln::scalar_tensor<float>(3.5f)) == "tensor(3.5000)");
  CHECK(to_string(kiln::scalar_tensor<float>(3)) == "tensor(3.)");
  CHECK(to_string(kiln::scalar_tensor<int64_t>(-7)) == "tensor(-7)");
  CHECK(to_string(kiln::scalar_tensor<bool>(true)) == "tensor(True)");
  CHECK(to_string(kiln::scalar_tensor<double>(1e-7)) == "tensor(1.0000e-07, dtype=kiln.float64)");
  CHECK(to_string(kiln::scalar_tensor<int32_t>(5)) == "tensor(5, dtype=kiln.int32)");
}

TEST_CASE("print: empty tensors", "[tensor][print]") {
  CHECK(to_string(kiln::zeros<float>({0})) == "tensor([])");
  CHECK(to_string(kiln::zeros<float>({0, 3})) == "tensor([], size=(0, 3))");
  // No element shows the dtype, so every non-float32 empty tensor names it (int64 too).
  CHECK(to_string(kiln::zeros<int64_t>({0})) == "tensor([], dtype=kiln.int64)");
  CHECK(to_string(kiln::zeros<bool>({0})) == "tensor([], dtype=kiln.bool)");
  CHECK(to_string(kiln::zeros<double>({2, 0, 1})) ==
        "tensor([], size=(2, 0, 1), dtype=kiln.float64)");
  CHECK(to_string(iota<float>({4}).slice(0, 3, 1)) == "tensor([])");
}

TEST_CASE("print: bool and integer dtypes", "[tensor][print]") {
  CHECK(to_string(kiln::tensor<bool>({true, false})) == "tensor([ True, False])");
  CHECK(to_string(kiln::tensor<bool>({true, true})) == "tensor([True, True])");
  CHECK(to_string(kiln::tensor<bool>({{true, false}, {false, true}})) ==
        "tensor([[ True, False],\n"
        "        [False,  True]])");
  CHECK(to_string(kiln::tensor<int64_t>({1, 2, 3})) == "tensor([1, 2, 3])");
  CHECK(to_string(kiln::tensor<int64_t>({-1, 10, 3})) == "tensor([-1, 10,  3])");
  CHECK(to_string(kiln::tensor<int64_t>({std::numeric_limits<int64_t>::min(), 0})) ==
        "tensor([-9223372036854775808,                    0])");
  CHECK(to_string(kiln::tensor<int32_t>({1, 2})) == "tensor([1, 2], dtype=kiln.int32)");
  CHECK(to_string(kiln::tensor<int16_t>({1, 2})) == "tensor([1, 2], dtype=kiln.int16)");
  CHECK(to_string(kiln::tensor<int8_t>({-1, 2})) == "tensor([-1,  2], dtype=kiln.int8)");
  CHECK(to_string(kiln::tensor<uint8_t>({255, 0})) == "tensor([255,   0], dtype=kiln.uint8)");
}

TEST_CASE("print: non-default float dtypes carry a suffix", "[tensor][print]") {
  CHECK(to_string(kiln::tensor<double>({1, 2})) == "tensor([1., 2.], dtype=kiln.float64)");
  CHECK(to_string(kiln::tensor<kiln::half>({kiln::half(1.5f), kiln::half(2.0f)})) ==
        "tensor([1.5000, 2.0000], dtype=kiln.float16)");
  CHECK(to_string(kiln::tensor<kiln::bfloat16>({kiln::bfloat16(1.0f), kiln::bfloat16(-2.0f)})) ==
        "tensor([ 1., -2.], dtype=kiln.bfloat16)");
  // half prints its own value (0.1 is not representable): 0.0999755859375
  CHECK(to_string(kiln::tensor<kiln::half>({kiln::half(0.1f)})) ==
        "tensor([0.1000], dtype=kiln.float16)");
  CHECK(to_string(kiln::tensor<kiln::half>({kiln::half(1000.3f)})) ==
        "tensor([1000.5000], dtype=kiln.float16)");
  // A suffix that would pass column 80 moves to its own line.
  std::vector<double> v;
  for (int i = 0; i < 9; ++i) v.push_back(i / 8.0);
  CHECK(to_string(kiln::from_vector(v)) ==
        "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000],\n"
        "       dtype=kiln.float64)");
}

TEST_CASE("print: elements copied from a CUDA device carry torch's device suffix",
          "[tensor][print]") {
  // What to_string prints for a CUDA tensor once its elements are on the host.
  CHECK(kiln::detail::format_host(kiln::tensor<float>({1, 2}), 0) ==
        "tensor([1., 2.], device='cuda:0')");
  CHECK(kiln::detail::format_host(kiln::tensor<int32_t>({3}), 1) ==
        "tensor([3], device='cuda:1', dtype=kiln.int32)");
  CHECK(kiln::detail::format_host(kiln::zeros<double>({0, 2}), 0) ==
        "tensor([], device='cuda:0', size=(0, 2), dtype=kiln.float64)");
}

TEST_CASE("print: more than 1000 elements are summarised", "[tensor][print]") {
  SECTION("1-d int64") {
    CHECK(to_string(kiln::arange(2000)) == "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
    CHECK(to_string(kiln::arange(1000)).size() > 1000);  // 1000 is not more than the threshold
  }
  SECTION("1-d float: the format comes from the shown elements only") {
    CHECK(to_string(iota<float>({2000})) ==
          "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
          "        1.9990e+03])");
    std::vector<float> v;
    for (int i = 0; i < 2000; ++i) v.push_back(static_cast<float>(i + 1000) / 1000.0f);
    v[1000] = 1e-9f;  // hidden in the middle: does not switch to scientific
    CHECK(to_string(kiln::from_vector(v)) ==
          "tensor([1.0000, 1.0010, 1.0020,  ..., 2.9970, 2.9980, 2.9990])");
  }
  SECTION("2-d") {
    CHECK(to_string(kiln::arange(10000).view({100, 100})) ==
          "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n"
          "        [ 100,  101,  102,  ...,  197,  198,  199],\n"
          "        [ 200,  201,  202,  ...,  297,  298,  299],\n"
          "        ...,\n"
          "        [9700, 9701, 9702,  ..., 9797, 9798, 9799],\n"
          "        [9800, 9801, 9802,  ..., 9897, 9898, 9899],\n"
          "        [9900, 9901, 9902,  ..., 9997, 9998, 9999]])");
    CHECK(to_string(iota<float>({100, 100})) ==
          "tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 9.7000e+01, 9.8000e+01,\n"
          "         9.9000e+01],\n"
          "        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.9700e+02, 1.9800e+02,\n"
          "         1.9900e+02],\n"
          "        [2.0000e+02, 2.0100e+02, 2.0200e+02,  ..., 2.9700e+02, 2.9800e+02,\n"
          "         2.9900e+02],\n"
          "        ...,\n"
          "        [9.7000e+03, 9.7010e+03, 9.7020e+03,  ..., 9.7970e+03, 9.7980e+03,\n"
          "         9.7990e+03],\n"
          "        [9.8000e+03, 9.8010e+03, 9.8020e+03,  ..., 9.8970e+03, 9.8980e+03,\n"
          "         9.8990e+03],\n"
          "        [9.9000e+03, 9.9010e+03, 9.9020e+03,  ..., 9.9970e+03, 9.9980e+03,\n"
          "         9.9990e+03]])");
    // Only the long dim is cut.
    CHECK(to_string(kiln::arange(1200).view({2, 600})) ==
          "tensor([[   0,    1,    2,  ...,  597,  598,  599],\n"
          "        [ 600,  601,  602,  ..., 1197, 1198, 1199]])");
  }
  SECTION("3-d") {
    CHECK(to_string(kiln::arange(1120).view({8, 2, 70})) ==
          "tensor([[[   0,    1,    2,  ...,   67,   68,   69],\n"
          "         [  70,   71,   72,  ...,  137,  138,  139]],\n"
          "\n"
          "        [[ 140,  141,  142,  ...,  207,  208,  209],\n"
          "         [ 210,  211,  212,  ...,  277,  278,  279]],\n"
          "\n"
          "        [[ 280,  281,  282,  ...,  347,  348,  349],\n"
          "         [ 350,  351,  352,  ...,  417,  418,  419]],\n"
          "\n"
          "        ...,\n"
          "\n"
          "        [[ 700,  701,  702,  ...,  767,  768,  769],\n"
          "         [ 770,  771,  772,  ...,  837,  838,  839]],\n"
          "\n"
          "        [[ 840,  841,  842,  ...,  907,  908,  909],\n"
          "         [ 910,  911,  912,  ...,  977,  978,  979]],\n"
          "\n"
          "        [[ 980,  981,  982,  ..., 1047, 1048, 1049],\n"
          "         [1050, 1051, 1052,  ..., 1117, 1118, 1119]]])");
  }
}

TEST_CASE("print: views print their logical contents", "[tensor][print]") {
  const auto m = kiln::tensor<float>({{1, 2, 3}, {4, 5, 6}});
  CHECK(to_string(m.t()) ==
        "tensor([[1., 4.],\n"
        "        [2., 5.],\n"
        "        [3., 6.]])");
  CHECK(to_string(m.slice(1, 0, 3, 2)) ==
        "tensor([[1., 3.],\n"
        "        [4., 6.]])");
  CHECK(to_string(m.select(1, -1)) == "tensor([3., 6.])");
  CHECK(to_string(kiln::tensor<int64_t>({7, 8}).unsqueeze(1).expand({2, 3})) ==
        "tensor([[7, 7, 7],\n"
        "        [8, 8, 8]])");
  // Summarised and strided: the transposed 100 x 100 matrix.
  CHECK(to_string(kiln::arange(10000).view({100, 100}).t()) ==
        "tensor([[   0,  100,  200,  ..., 9700, 9800, 9900],\n"
        "        [   1,  101,  201,  ..., 9701, 9801, 9901],\n"
        "        [   2,  102,  202,  ..., 9702, 9802, 9902],\n"
        "        ...,\n"
        "        [  97,  197,  297,  ..., 9797, 9897, 9997],\n"
        "        [  98,  198,  298,  ..., 9798, 9898, 9998],\n"
        "        [  99,  199,  299,  ..., 9799, 9899, 9999]])");
}

TEST_CASE("print: operator<<, expressions and undefined tensors", "[tensor][print]") {
  const auto a = kiln::tensor<float>({1, 2});
  std::ostringstream os;
  os << a << ";" << a * 2.5f;
  CHECK(os.str() == "tensor([1., 2.]);tensor([2.5000, 5.0000])");
  CHECK(to_string(a + a) == "tensor([2., 4.])");
  CHECK(to_string(Tensor<float>()) == "tensor(undefined)");
}

TEST_CASE("print: set_printoptions", "[tensor][print]") {
  PrintOptionsGuard guard;
  SECTION("precision") {
    kiln::PrintOptions o;
    o.precision = 2;
    kiln::set_printoptions(o);
    CHECK(to_string(kiln::tensor<float>({1.12345f})) == "tensor([1.12])");
    CHECK(to_string(kiln::tensor<float>({1e-5f, 1})) == "tensor([1.00e-05, 1.00e+00])");
  }
  SECTION("threshold and edgeitems") {
    kiln::PrintOptions o;
    o.threshold = 5;
    kiln::set_printoptions(o);
    CHECK(to_string(kiln::arange(10)) == "tensor([0, 1, 2,  ..., 7, 8, 9])");
    CHECK(to_string(kiln::arange(6)) == "tensor([0, 1, 2, 3, 4, 5])");
    o.edgeitems = 1;
    kiln::set_printoptions(o);
    CHECK(to_string(kiln::arange(10)) == "tensor([0,  ..., 9])");
    CHECK(to_string(kiln::arange(9).view({3, 3})) ==
          "tensor([[0,  ..., 2],\n"
          "        ...,\n"
          "        [6,  ..., 8]])");
  }
  SECTION("linewidth") {
    kiln::PrintOptions o;
    o.linewidth = 20;
    kiln::set_printoptions(o);
    CHECK(to_string(kiln::arange(10)) ==
          "tensor([0, 1, 2, 3,\n"
          "        4, 5, 6, 7,\n"
          "        8, 9])");
  }
  SECTION("sci_mode forced on and off") {
    kiln::PrintOptions o;
    o.sci_mode = true;
    kiln::set_printoptions(o);
    CHECK(to_string(kiln::tensor<float>({1, 2})) == "tensor([1.0000e+00, 2.0000e+00])");
    o.sci_mode = false;
    kiln::set_printoptions(o);
    CHECK(to_string(kiln::tensor<float>({1e-5f, 1e8f})) == "tensor([    0.0000, 100000000.0000])");
  }
  SECTION("defaults and invalid values") {
    const kiln::PrintOptions d = kiln::get_printoptions();
    CHECK(d.precision == 4);
    CHECK(d.threshold == 1000);
    CHECK(d.edgeitems == 3);
    CHECK(d.linewidth == 80);
    CHECK(!d.sci_mode.has_value());
    kiln::PrintOptions bad;
    bad.edgeitems = 0;
    CHECK_THROWS_WITH(kiln::set_printoptions(bad),
                      Catch::Matchers::Contains("[set_printoptions] edgeitems"));
    CHECK_THROWS_AS(kiln::set_printoptions(bad), kiln::ValueError);
    bad = {};
    bad.precision = -1;
    CHECK_THROWS_AS(kiln::set_printoptions(bad), kiln::ValueError);
    CHECK(kiln::get_printoptions().precision == 4);  // unchanged by a rejected call
  }
}
