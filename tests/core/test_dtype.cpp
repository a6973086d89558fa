// SPDX-License-Identifier: BSD-3-Clause
// dtype traits: ScalarType mapping, names, sizes, categories, promotion against PyTorch's
// table, scalar promotion, accumulation and compute types, vector lane types.
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kiln/core/dtype.hpp"

using kiln::bfloat16;
using kiln::half;
using kiln::ScalarType;

namespace {

// The ten dtypes in ScalarType order.
using AllTypes = std::tuple<bool, std::uint8_t, std::int8_t, std::int16_t, std::int32_t,
                            std::int64_t, half, bfloat16, float, double>;

// torch.promote_types(row, column), as printed by PyTorch, in ScalarType order.
constexpr ScalarType b1 = ScalarType::Bool, u1 = ScalarType::UInt8, i1 = ScalarType::Int8,
                     i2 = ScalarType::Int16, i4 = ScalarType::Int32, i8 = ScalarType::Int64,
                     f2 = ScalarType::Half, bf = ScalarType::BFloat16, f4 = ScalarType::Float,
                     f8 = ScalarType::Double;
constexpr ScalarType kTorchPromote[10][10] = {
    //      b1  u1  i1  i2  i4  i8  f2  bf  f4  f8
    /*b1*/ {b1, u1, i1, i2, i4, i8, f2, bf, f4, f8},
    /*u1*/ {u1, u1, i2, i2, i4, i8, f2, bf, f4, f8},
    /*i1*/ {i1, i2, i1, i2, i4, i8, f2, bf, f4, f8},
    /*i2*/ {i2, i2, i2, i2, i4, i8, f2, bf, f4, f8},
    /*i4*/ {i4, i4, i4, i4, i4, i8, f2, bf, f4, f8},
    /*i8*/ {i8, i8, i8, i8, i8, i8, f2, bf, f4, f8},
    /*f2*/ {f2, f2, f2, f2, f2, f2, f2, f4, f4, f8},
    /*bf*/ {bf, bf, bf, bf, bf, bf, f4, bf, f4, f8},
    /*f4*/ {f4, f4, f4, f4, f4, f4, f4, f4, f4, f8},
    /*f8*/ {f8, f8, f8, f8, f8, f8, f8, f8, f8, f8},
};

template <std::size_t I, std::size_t J>
constexpr bool promote_pair_ok() {
  using A = std::tuple_element_t<I, AllTypes>;
  using B = std::tuple_element_t<J, AllTypes>;
  constexpr ScalarType want = kTorchPromote[I][J];
  return kiln::scalar_type_v<kiln::promote_t<A, B>> == want &&
         kiln::promote_types(kiln::scalar_type_v<A>, kiln::scalar_type_v<B>) == want &&
         std::is_same_v<kiln::promote_t<A, B>, kiln::cpp_type_t<want>>;
}

template <std::size_t... K>
constexpr int count_promote_ok(std::index_sequence<K...>) {
  return (int(promote_pair_ok<K / 10, K % 10>()) + ...);
}

template <std::size_t... I>
constexpr bool all_types_map_back(std::index_sequence<I...>) {
  return (
      (kiln::scalar_type_v<std::tuple_element_t<I, AllTypes>> == kiln::kAllScalarTypes[I] &&
       std::is_same_v<kiln::cpp_type_t<kiln::kAllScalarTypes[I]>,
                      std::tuple_element_t<I, AllTypes>> &&
       kiln::element_size(kiln::kAllScalarTypes[I]) == sizeof(std::tuple_element_t<I, AllTypes>) &&
       kiln::is_dtype_v<std::tuple_element_t<I, AllTypes>>)&&...);
}

typedef float v16sf __attribute__((vector_size(64)));
typedef std::int32_t v8si __attribute__((vector_size(32)));
typedef double v4df __attribute__((vector_size(32)));
typedef float v4sf __attribute__((vector_size(16)));  // SSE/NEON width: no ABI note when passed

}  // namespace

TEST_CASE("dtype: ScalarType <-> C++ type", "[core][dtype]") {
  STATIC_REQUIRE(all_types_map_back(std::make_index_sequence<10>{}));
  STATIC_REQUIRE(static_cast<int>(ScalarType::Bool) == 0);
  STATIC_REQUIRE(static_cast<int>(ScalarType::Double) == kiln::kNumScalarTypes - 1);
  STATIC_REQUIRE(sizeof(ScalarType) == 1);
}

TEST_CASE("dtype: is_dtype_v holds exactly for the ten element types", "[core][dtype]") {
  STATIC_REQUIRE(kiln::DType<bool> && kiln::DType<half> && kiln::DType<bfloat16>);
  STATIC_REQUIRE(kiln::DType<std::uint8_t> && kiln::DType<std::int64_t> && kiln::DType<double>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<char>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<std::uint16_t>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<std::uint32_t>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<std::uint64_t>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<long double>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<const float>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<float&>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<float*>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<std::string>);
  STATIC_REQUIRE_FALSE(kiln::is_dtype_v<v16sf>);
  STATIC_REQUIRE(kiln::is_dtype_v<long long> == std::is_same_v<long long, std::int64_t>);
}

TEST_CASE("dtype: PyTorch names and element sizes", "[core][dtype]") {
  const char* want[10] = {"bool",  "uint8",   "int8",     "int16",   "int32",
                          "int64", "float16", "bfloat16", "float32", "float64"};
  for (int i = 0; i < kiln::kNumScalarTypes; ++i) {
    CHECK(kiln::scalar_type_name(kiln::kAllScalarTypes[i]) == want[i]);
    std::ostringstream os;
    os << kiln::kAllScalarTypes[i];
    CHECK(os.str() == want[i]);
  }
  STATIC_REQUIRE(kiln::dtype_name_v<float> == "float32");
  STATIC_REQUIRE(kiln::dtype_name_v<half> == "float16");
  STATIC_REQUIRE(kiln::dtype_name_v<bfloat16> == "bfloat16");
  STATIC_REQUIRE(kiln::dtype_name_v<std::uint8_t> == "uint8");
  STATIC_REQUIRE(kiln::dtype_name_v<bool> == "bool");
  STATIC_REQUIRE(kiln::element_size(ScalarType::Bool) == 1);
  STATIC_REQUIRE(kiln::element_size(ScalarType::BFloat16) == 2);
  STATIC_REQUIRE(kiln::element_size(ScalarType::Int32) == 4);
  STATIC_REQUIRE(kiln::element_size(ScalarType::Double) == 8);
}

TEST_CASE("dtype: categories", "[core][dtype]") {
  STATIC_REQUIRE(kiln::is_floating_v<half> && kiln::is_floating_v<bfloat16> &&
                 kiln::is_floating_v<float> && kiln::is_floating_v<double>);
  STATIC_REQUIRE(!kiln::is_floating_v<bool> && !kiln::is_floating_v<std::int64_t> &&
                 !kiln::is_floating_v<long double>);
  STATIC_REQUIRE(
      kiln::is_integral_dtype_v<std::uint8_t> && kiln::is_integral_dtype_v<std::int8_t> &&
      kiln::is_integral_dtype_v<std::int16_t> && kiln::is_integral_dtype_v<std::int32_t> &&
      kiln::is_integral_dtype_v<std::int64_t>);
  STATIC_REQUIRE(!kiln::is_integral_dtype_v<bool> && !kiln::is_integral_dtype_v<float> &&
                 !kiln::is_integral_dtype_v<std::uint32_t> && !kiln::is_integral_dtype_v<char>);
  STATIC_REQUIRE(kiln::is_bool_v<bool> && !kiln::is_bool_v<std::uint8_t>);
  STATIC_REQUIRE(kiln::is_reduced_float_v<half> && kiln::is_reduced_float_v<bfloat16> &&
                 !kiln::is_reduced_float_v<float>);
  for (ScalarType s : kiln::kAllScalarTypes) {
    const bool f = s == f2 || s == bf || s == f4 || s == f8;
    CHECK(kiln::is_floating_type(s) == f);
    CHECK(kiln::is_integral_type(s) == (!f && s != b1));
  }
}

TEST_CASE("dtype: promotion matches torch.promote_types for all 100 pairs", "[core][dtype]") {
  // Compile time: promote_t, promote_types and the table agree on every pair.
  STATIC_REQUIRE(count_promote_ok(std::make_index_sequence<100>{}) == 100);
  // Run time, pair by pair, so a failure names the pair.
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < 10; ++j) {
      const ScalarType a = kiln::kAllScalarTypes[i], b = kiln::kAllScalarTypes[j];
      INFO(a << " + " << b);
      CHECK(kiln::promote_types(a, b) == kTorchPromote[i][j]);
    }
  // The examples that are easy to get wrong, spelled out.
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<std::uint8_t, std::int8_t>, std::int16_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<std::uint8_t, std::int16_t>, std::int16_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<std::int32_t, std::int64_t>, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<bool, std::uint8_t>, std::uint8_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<std::int64_t, half>, half>);
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<std::int64_t, bfloat16>, bfloat16>);
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<half, bfloat16>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<half, float>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<float, double>, double>);
  STATIC_REQUIRE(std::is_same_v<kiln::promote_t<std::int64_t, float>, float>);
}

TEST_CASE("dtype: scalar_result_t follows the wrapped-number rule", "[core][dtype]") {
  using kiln::scalar_result_t;
  // bool scalar: never changes the tensor's dtype.
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<bool, bool>, bool>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<std::int64_t, bool>, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<bfloat16, bool>, bfloat16>);
  // integer scalar: keeps the tensor's dtype, except bool tensors become int64.
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<std::uint8_t, int>, std::uint8_t>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<std::int8_t, std::int64_t>, std::int8_t>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<std::int32_t, long long>, std::int32_t>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<float, int>, float>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<half, int>, half>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<bool, int>, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<bool, unsigned>, std::int64_t>);
  // floating scalar: keeps a floating dtype (even a narrower one), else the default float.
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<half, double>, half>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<bfloat16, float>, bfloat16>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<float, double>, float>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<double, float>, double>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<std::int32_t, double>, float>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<std::int64_t, float>, float>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<std::uint8_t, half>, float>);
  STATIC_REQUIRE(std::is_same_v<scalar_result_t<bool, double>, float>);
}

TEST_CASE("dtype: accumulation and compute types", "[core][dtype]") {
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<half>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<bfloat16>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<float>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<double>, double>);
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<bool>, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<std::uint8_t>, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<std::int8_t>, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<std::int16_t>, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<std::int32_t>, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::acc_t<std::int64_t>, std::int64_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::opmath_t<half>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::opmath_t<bfloat16>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::opmath_t<float>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::opmath_t<double>, double>);
  STATIC_REQUIRE(std::is_same_v<kiln::opmath_t<std::int32_t>, std::int32_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::opmath_t<bool>, bool>);
}

TEST_CASE("dtype: scalar_of_t gives a vector's lane type", "[core][dtype]") {
  STATIC_REQUIRE(std::is_same_v<kiln::scalar_of_t<v16sf>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::scalar_of_t<v8si>, std::int32_t>);
  STATIC_REQUIRE(std::is_same_v<kiln::scalar_of_t<v4df>, double>);
  STATIC_REQUIRE(std::is_same_v<kiln::scalar_of_t<float>, float>);
  STATIC_REQUIRE(std::is_same_v<kiln::scalar_of_t<half>, half>);
  STATIC_REQUIRE(std::is_same_v<kiln::scalar_of_t<bool>, bool>);
  STATIC_REQUIRE(std::is_same_v<kiln::scalar_of_t<v4sf>, float>);
  // A functor body written once for scalars and vectors.
  auto twice = [](auto x) {
    using S = kiln::scalar_of_t<decltype(x)>;
    return x * S(2);
  };
  const v4sf v = {1, 2, 3, 4};
  const v4sf r = twice(v);
  for (int i = 0; i < 4; ++i) CHECK(r[i] == 2.0f * float(i + 1));
  CHECK(twice(1.5) == 3.0);
}
