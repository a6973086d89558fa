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
/// C fmod: the remainder has the sign of the dividend (torch.fmod).
struct Fmod {
  static constexpr const char* name = "fmod";
  static constexpr bool grad_reads_output = false;
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
