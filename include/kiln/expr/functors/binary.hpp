// SPDX-License-Identifier: BSD-3-Clause
// Binary elementwise functors: forward and both partial derivatives, in one struct.
// See Note [Functor contract] in concepts.hpp.
#pragma once

#include <type_traits>

#include "kiln/expr/math.hpp"

namespace kiln::expr::op {

using math::lit;
using math::select;

struct Add {
  static constexpr const char* name = "add";
  static constexpr bool grad_reads_output = false;
  static constexpr bool grad_reads_inputs = false;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return math::add(a, b);
  }
  template <class T>
  KILN_HD T grad_a(T, T, T, T g) const {
    return g;
  }
  template <class T>
  KILN_HD T grad_b(T, T, T, T g) const {
    return g;
  }
};
struct Sub {
  static constexpr const char* name = "sub";
  static constexpr bool grad_reads_output = false;
  static constexpr bool grad_reads_inputs = false;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return math::sub(a, b);
  }
  template <class T>
  KILN_HD T grad_a(T, T, T, T g) const {
    return g;
  }
  template <class T>
  KILN_HD T grad_b(T, T, T, T g) const {
    return -g;
  }
};
struct Mul {
  static constexpr const char* name = "mul";
  static constexpr bool grad_reads_output = false;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return math::mul(a, b);
  }
  template <class T>
  KILN_HD T grad_a(T, T b, T, T g) const {
    return g * b;
  }
  template <class T>
  KILN_HD T grad_b(T a, T, T, T g) const {
    return g * a;
  }
};
/// True division: integer operands are divided as float (torch's `/`).
struct Div {
  static constexpr const char* name = "div";
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return a / b;
  }
  template <class T>
  KILN_HD T grad_a(T, T b, T, T g) const {
    return g / b;
  }
  template <class T>
  KILN_HD T grad_b(T, T b, T y, T g) const {
    return -g * y / b;
  }
};
/// a ** b elementwise; integers use exact repeated squaring.
struct Pow {
  static constexpr const char* name = "pow";
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if constexpr (std::is_same_v<T, bool>) {
        return a || !b;
      } else {
        // Negative exponents have no integer answer; torch raises, a kernel cannot, so
        // they give 0 except for bases 1 and -1 (whose powers stay exact).
        if (b < 0) return a == 1 ? T(1) : (a == T(-1) ? ((b & 1) ? T(-1) : T(1)) : T(0));
        T r = 1, x = a;
        for (auto e = b; e > 0; e >>= 1) {
          if (e & 1) r = math::mul(r, x);
          x = math::mul(x, x);
        }
        return r;
      }
    } else {
      return math::pow(a, b);
    }
  }
  template <class T>
  KILN_HD T grad_a(T a, T b, T, T g) const {
    return select(b == lit<T>(0), lit<T>(0), g * b * math::pow(a, b - lit<T>(1)));
  }
  template <class T>
  KILN_HD T grad_b(T a, T b, T y, T g) const {
    // d/db a^b = a^b log a; defined as 0 where a == 0 and b >= 0 (torch's convention).
    return select((a == lit<T>(0)) & (b >= lit<T>(0)), lit<T>(0), g * y * math::log(a));
  }
  static constexpr bool vectorizable = true;
};
struct Atan2 {
  static constexpr const char* name = "atan2";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return math::atan2(a, b);
  }
  template <class T>
  KILN_HD T grad_a(T a, T b, T, T g) const {
    return g * b / (a * a + b * b);
  }
  template <class T>
  KILN_HD T grad_b(T a, T b, T, T g) const {
    return -g * a / (a * a + b * b);
  }
};
/// C fmod: the remainder has the sign of the dividend (torch.fmod). Scalar only: SLEEF's
/// packet fmod returns NaN once |a / b| nears the dtype's range (1e30 / 1e-30 in float),
/// where libm's is exact.
struct Fmod {
  static constexpr const char* name = "fmod";
  static constexpr bool grad_reads_output = false;
  static constexpr bool vectorizable = false;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if constexpr (std::is_same_v<T, bool>) {
        return a && !b;
      } else {
        // x % 0 and INT_MIN % -1 are undefined in C++; torch raises on the first. A kernel
        // cannot raise, so both give 0 (documented in docs/architecture.md).
        if (b == 0 || (std::is_signed_v<T> && b == T(-1))) return T(0);
        return static_cast<T>(a % b);
      }
    } else {
      return math::fmod(a, b);
    }
  }
  template <class T>
  KILN_HD T grad_a(T, T, T, T g) const {
    return g;
  }
  template <class T>
  KILN_HD T grad_b(T a, T b, T, T g) const {
    return -g * math::trunc(a / b);
  }
};
/// Division rounded toward -inf (torch.floor_divide, Python's `//`). Integers: `x // 0`
/// gives 0 (a kernel cannot raise; kiln's Python binding checks first and raises as torch
/// does) and INT_MIN // -1 wraps to INT_MIN. Floats follow Python's rule (torch's too): the
/// floor of the exact quotient, computed from fmod so that it is correctly rounded.
struct FloorDivide {
  static constexpr const char* name = "floor_divide";
  static constexpr bool grad_reads_output = false;
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool vectorizable = false;  // built on fmod (see Fmod)
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) {
      return a && b;
    } else if constexpr (std::is_integral_v<T>) {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return math::neg(a);
        const T q = static_cast<T>(a / b);
        return (a % b != 0 && (a < 0) != (b < 0)) ? static_cast<T>(q - 1) : q;
      } else {
        return static_cast<T>(a / b);
      }
    } else if constexpr (is_reduced_float_v<T>) {
      return static_cast<T>((*this)(static_cast<float>(a), static_cast<float>(b)));
    } else {
      const T mod = math::fmod(a, b);
      T div = (a - mod) / b;
      div =
          select((mod != lit<T>(0)) & ((b < lit<T>(0)) != (mod < lit<T>(0))), div - lit<T>(1), div);
      T fl = math::floor(div);
      fl = select(div - fl > lit<T>(0.5), fl + lit<T>(1), fl);
      const T q = a / b;
      // A zero quotient keeps the sign of a / b; x // 0 is a / b (inf or nan).
      return select(b == lit<T>(0), q, select(div != lit<T>(0), fl, q * lit<T>(0)));
    }
  }
  // Piecewise constant: zero almost everywhere.
  template <class T>
  KILN_HD T grad_a(T, T, T, T) const {
    return lit<T>(0);
  }
  template <class T>
  KILN_HD T grad_b(T, T, T, T) const {
    return lit<T>(0);
  }
};
/// Python's `%` (torch.remainder): the remainder has the sign of the divisor,
/// a - b * floor(a / b). Integers: `x % 0` gives 0 (see FloorDivide).
struct Remainder {
  static constexpr const char* name = "remainder";
  static constexpr bool grad_reads_output = false;
  static constexpr bool vectorizable = false;  // built on fmod (see Fmod)
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) {
      return a && !b;
    } else if constexpr (std::is_integral_v<T>) {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return T(0);
        const T r = static_cast<T>(a % b);
        return (r != 0 && (r < 0) != (b < 0)) ? static_cast<T>(r + b) : r;
      } else {
        return static_cast<T>(a % b);
      }
    } else if constexpr (is_reduced_float_v<T>) {
      return static_cast<T>((*this)(static_cast<float>(a), static_cast<float>(b)));
    } else {
      const T mod = math::fmod(a, b);
      return select((mod != lit<T>(0)) & ((b < lit<T>(0)) != (mod < lit<T>(0))), mod + b, mod);
    }
  }
  template <class T>
  KILN_HD T grad_a(T, T, T, T g) const {
    return g;
  }
  template <class T>
  KILN_HD T grad_b(T a, T b, T, T g) const {
    return -g * math::floor(a / b);
  }
};
/// NaN-propagating elementwise maximum; a tie splits the gradient evenly (as torch).
struct Maximum {
  static constexpr const char* name = "maximum";
  static constexpr bool grad_reads_output = false;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return math::max(a, b);
  }
  template <class T>
  KILN_HD T grad_a(T a, T b, T, T g) const {
    return select(a > b, g, select(a == b, g * lit<T>(0.5), lit<T>(0)));
  }
  template <class T>
  KILN_HD T grad_b(T a, T b, T, T g) const {
    return select(b > a, g, select(a == b, g * lit<T>(0.5), lit<T>(0)));
  }
};
struct Minimum {
  static constexpr const char* name = "minimum";
  static constexpr bool grad_reads_output = false;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    return math::min(a, b);
  }
  template <class T>
  KILN_HD T grad_a(T a, T b, T, T g) const {
    return select(a < b, g, select(a == b, g * lit<T>(0.5), lit<T>(0)));
  }
  template <class T>
  KILN_HD T grad_b(T a, T b, T, T g) const {
    return select(b < a, g, select(a == b, g * lit<T>(0.5), lit<T>(0)));
  }
};

// ---- bitwise ops: integer and bool operands, no gradient -------------------------------
#define KILN_BITWISE_FUNCTOR(Name, str, expr_)                                    \
  struct Name {                                                                   \
    static constexpr const char* name = str;                                      \
    static constexpr bool differentiable = false;                                 \
    static constexpr bool vectorizable = false;                                   \
    template <class T>                                                            \
    KILN_HD T operator()(T a, T b) const {                                        \
      static_assert(std::is_integral_v<T>, "kiln::" str                           \
                                           ": the operands must be integer or "   \
                                           "bool (cast floating tensors first)"); \
      return static_cast<T>(expr_);                                               \
    }                                                                             \
  };
KILN_BITWISE_FUNCTOR(BitwiseAnd, "bitwise_and", a& b)
KILN_BITWISE_FUNCTOR(BitwiseOr, "bitwise_or", a | b)
KILN_BITWISE_FUNCTOR(BitwiseXor, "bitwise_xor", a ^ b)
#undef KILN_BITWISE_FUNCTOR

/// a << b. A shift by a negative amount or by the width of T or more gives 0 (numpy's
/// rule; in C++ it is undefined). Bits shifted out of the top are dropped.
struct LeftShift {
  static constexpr const char* name = "left_shift";
  static constexpr bool differentiable = false;
  static constexpr bool vectorizable = false;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>,
                  "kiln::left_shift: the operands must be integers");
    using U = std::make_unsigned_t<T>;
    if (static_cast<U>(b) >= sizeof(T) * 8) return T(0);  // b < 0 wraps above the width
    return static_cast<T>(static_cast<U>(static_cast<U>(a) << b));
  }
};
/// a >> b, arithmetic for signed T. A shift by a negative amount or by the width of T or
/// more gives the sign fill (-1 or 0), as numpy.
struct RightShift {
  static constexpr const char* name = "right_shift";
  static constexpr bool differentiable = false;
  static constexpr bool vectorizable = false;
  template <class T>
  KILN_HD T operator()(T a, T b) const {
    static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>,
                  "kiln::right_shift: the operands must be integers");
    using U = std::make_unsigned_t<T>;
    if (static_cast<U>(b) >= sizeof(T) * 8) {
      if constexpr (std::is_signed_v<T>)
        return a < 0 ? T(-1) : T(0);
      else
        return T(0);
    }
    return static_cast<T>(a >> b);
  }
};

// ---- comparisons and logical ops: bool results, no gradient -----------------------------
#define KILN_COMPARISON_FUNCTOR(Name, str, expr_) \
  struct Name {                                   \
    static constexpr const char* name = str;      \
    static constexpr bool differentiable = false; \
    template <class T>                            \
    using result = bool;                          \
    template <class T>                            \
    KILN_HD auto operator()(T a, T b) const {     \
      return expr_;                               \
    }                                             \
  };
KILN_COMPARISON_FUNCTOR(Eq, "eq", a == b)
KILN_COMPARISON_FUNCTOR(Ne, "ne", a != b)
KILN_COMPARISON_FUNCTOR(Lt, "lt", a < b)
KILN_COMPARISON_FUNCTOR(Le, "le", a <= b)
KILN_COMPARISON_FUNCTOR(Gt, "gt", a > b)
KILN_COMPARISON_FUNCTOR(Ge, "ge", a >= b)
KILN_COMPARISON_FUNCTOR(LogicalAnd, "logical_and", (a != lit<T>(0)) & (b != lit<T>(0)))
KILN_COMPARISON_FUNCTOR(LogicalOr, "logical_or", (a != lit<T>(0)) | (b != lit<T>(0)))
KILN_COMPARISON_FUNCTOR(LogicalXor, "logical_xor", (a != lit<T>(0)) != (b != lit<T>(0)))
#undef KILN_COMPARISON_FUNCTOR

}  // namespace kiln::expr::op
