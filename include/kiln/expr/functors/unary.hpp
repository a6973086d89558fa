// SPDX-License-Identifier: BSD-3-Clause
// Unary elementwise functors: forward and derivative of each op, in one struct.
// See Note [Functor contract] in concepts.hpp.
#pragma once

#include "kiln/expr/math.hpp"

namespace kiln::expr::op {

using math::lit;
using math::select;

// ---- sign, magnitude, rounding ---------------------------------------------------------
struct Neg {
  static constexpr const char* name = "neg";
  static constexpr bool grad_reads_output = false;
  static constexpr bool grad_reads_inputs = false;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::neg(x);
  }
  template <class T>
  KILN_HD T grad(T, T, T g) const {
    return -g;
  }
};
struct Abs {
  static constexpr const char* name = "abs";
  static constexpr bool grad_reads_output = false;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::abs(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return select(x > lit<T>(0), g, select(x < lit<T>(0), -g, lit<T>(0)));
  }
};
struct Sign {
  static constexpr const char* name = "sign";
  template <class T>
  KILN_HD T operator()(T x) const {
    // NaN stays NaN and zero keeps its sign, as in torch.sign.
    return select(x > lit<T>(0), lit<T>(1), select(x < lit<T>(0), lit<T>(-1), x));
  }
  template <class T>
  KILN_HD T grad(T, T, T) const {
    return lit<T>(0);
  }
};
struct Floor {
  static constexpr const char* name = "floor";
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::floor(x);
  }
  template <class T>
  KILN_HD T grad(T, T, T) const {
    return lit<T>(0);
  }
};
struct Ceil {
  static constexpr const char* name = "ceil";
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::ceil(x);
  }
  template <class T>
  KILN_HD T grad(T, T, T) const {
    return lit<T>(0);
  }
};
/// Rounds half to even, like torch.round.
struct Round {
  static constexpr const char* name = "round";
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::rint(x);
  }
  template <class T>
  KILN_HD T grad(T, T, T) const {
    return lit<T>(0);
  }
};
struct Trunc {
  static constexpr const char* name = "trunc";
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::trunc(x);
  }
  template <class T>
  KILN_HD T grad(T, T, T) const {
    return lit<T>(0);
  }
};

// ---- powers and roots --------------------------------------------------------------------
struct Square {
  static constexpr const char* name = "square";
  static constexpr bool grad_reads_output = false;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::mul(x, x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return lit<T>(2) * x * g;
  }
};
struct Sqrt {
  static constexpr const char* name = "sqrt";
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::sqrt(x);
  }
  template <class T>
  KILN_HD T grad(T, T y, T g) const {
    return g / (lit<T>(2) * y);
  }
};
struct Rsqrt {
  static constexpr const char* name = "rsqrt";
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return lit<T>(1) / math::sqrt(x);
  }
  template <class T>
  KILN_HD T grad(T, T y, T g) const {
    return lit<T>(-0.5) * y * y * y * g;
  }
};
struct Reciprocal {
  static constexpr const char* name = "reciprocal";
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return lit<T>(1) / x;
  }
  template <class T>
  KILN_HD T grad(T, T y, T g) const {
    return -(y * y) * g;
  }
};
/// x ** exponent for a scalar exponent.
struct PowScalar {
  static constexpr const char* name = "pow";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  double exponent;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::pow(x, lit<T>(exponent));
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return select(lit<T>(exponent) == lit<T>(0), lit<T>(0),
                  lit<T>(exponent) * math::pow(x, lit<T>(exponent - 1)) * g);
  }
};

// ---- exponentials and logarithms --------------------------------------------------------
struct Exp {
  static constexpr const char* name = "exp";
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::exp(x);
  }
  template <class T>
  KILN_HD T grad(T, T y, T g) const {
    return g * y;
  }
};
struct Exp2 {
  static constexpr const char* name = "exp2";
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::exp2(x);
  }
  template <class T>
  KILN_HD T grad(T, T y, T g) const {
    return g * y * lit<T>(0.69314718055994530942);
  }
};
struct Expm1 {
  static constexpr const char* name = "expm1";
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::expm1(x);
  }
  template <class T>
  KILN_HD T grad(T, T y, T g) const {
    return g * (y + lit<T>(1));
  }
};
struct Log {
  static constexpr const char* name = "log";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::log(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return g / x;
  }
};
struct Log2 {
  static constexpr const char* name = "log2";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::log2(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return g / (x * lit<T>(0.69314718055994530942));
  }
};
struct Log1p {
  static constexpr const char* name = "log1p";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::log1p(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return g / (x + lit<T>(1));
  }
};

// ---- trigonometric and hyperbolic --------------------------------------------------------
struct Sin {
  static constexpr const char* name = "sin";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::sin(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return g * math::cos(x);
  }
};
struct Cos {
  static constexpr const char* name = "cos";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::cos(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return -g * math::sin(x);
  }
};
struct Tan {
  static constexpr const char* name = "tan";
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::tan(x);
  }
  template <class T>
  KILN_HD T grad(T, T y, T g) const {
    return g * (lit<T>(1) + y * y);
  }
};
struct Asin {
  static constexpr const char* name = "asin";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::asin(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return g / math::sqrt(lit<T>(1) - x * x);
  }
};
struct Acos {
  static constexpr const char* name = "acos";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::acos(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return -g / math::sqrt(lit<T>(1) - x * x);
  }
};
struct Atan {
  static constexpr const char* name = "atan";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::atan(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return g / (lit<T>(1) + x * x);
  }
};
struct Sinh {
  static constexpr const char* name = "sinh";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::sinh(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return g * math::cosh(x);
  }
};
struct Cosh {
  static constexpr const char* name = "cosh";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::cosh(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return g * math::sinh(x);
  }
};
struct Tanh {
  static constexpr const char* name = "tanh";
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::tanh(x);
  }
  template <class T>
  KILN_HD T grad(T, T y, T g) const {
    return g * (lit<T>(1) - y * y);
  }
};
struct Erf {
  static constexpr const char* name = "erf";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::erf(x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return g * lit<T>(1.12837916709551257390) * math::exp(-(x * x));  // 2/sqrt(pi)
  }
};

// ---- activations ---------------------------------------------------------------------------
struct Sigmoid {
  static constexpr const char* name = "sigmoid";
  static constexpr bool grad_reads_inputs = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return lit<T>(1) / (lit<T>(1) + math::exp(-x));
  }
  template <class T>
  KILN_HD T grad(T, T y, T g) const {
    return g * y * (lit<T>(1) - y);
  }
};
struct Relu {
  static constexpr const char* name = "relu";
  static constexpr bool grad_reads_output = false;
  // NaN < 0 is false, so NaN passes through as in torch.relu.
  template <class T>
  KILN_HD T operator()(T x) const {
    return select(x < lit<T>(0), lit<T>(0), x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return select(x > lit<T>(0), g, lit<T>(0));
  }
};
struct LeakyRelu {
  static constexpr const char* name = "leaky_relu";
  static constexpr bool grad_reads_output = false;
  double negative_slope = 0.01;
  template <class T>
  KILN_HD T operator()(T x) const {
    return select(x < lit<T>(0), x * lit<T>(negative_slope), x);
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return select(x > lit<T>(0), g, g * lit<T>(negative_slope));
  }
};
struct Elu {
  static constexpr const char* name = "elu";
  static constexpr bool int_to_float = true;
  double alpha = 1.0;
  template <class T>
  KILN_HD T operator()(T x) const {
    return select(x > lit<T>(0), x, lit<T>(alpha) * math::expm1(x));
  }
  template <class T>
  KILN_HD T grad(T x, T y, T g) const {
    return select(x > lit<T>(0), g, g * (y + lit<T>(alpha)));
  }
};
/// gelu with the exact erf form (torch's approximate='none').
struct Gelu {
  static constexpr const char* name = "gelu";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return lit<T>(0.5) * x * (lit<T>(1) + math::erf(x * lit<T>(0.70710678118654752440)));
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    const T cdf = lit<T>(0.5) * (lit<T>(1) + math::erf(x * lit<T>(0.70710678118654752440)));
    const T pdf = lit<T>(0.39894228040143267794) * math::exp(lit<T>(-0.5) * x * x);
    return g * (cdf + x * pdf);
  }
};
/// gelu with the tanh approximation (torch's approximate='tanh').
struct GeluTanh {
  static constexpr const char* name = "gelu_tanh";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    const T inner = lit<T>(0.79788456080286535588) * (x + lit<T>(0.044715) * x * x * x);
    return lit<T>(0.5) * x * (lit<T>(1) + math::tanh(inner));
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    const T inner = lit<T>(0.79788456080286535588) * (x + lit<T>(0.044715) * x * x * x);
    const T t = math::tanh(inner);
    const T dinner = lit<T>(0.79788456080286535588) * (lit<T>(1) + lit<T>(3 * 0.044715) * x * x);
    return g * (lit<T>(0.5) * (lit<T>(1) + t) + lit<T>(0.5) * x * (lit<T>(1) - t * t) * dinner);
  }
};
struct Silu {
  static constexpr const char* name = "silu";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  template <class T>
  KILN_HD T operator()(T x) const {
    return x / (lit<T>(1) + math::exp(-x));
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    const T s = lit<T>(1) / (lit<T>(1) + math::exp(-x));
    return g * s * (lit<T>(1) + x * (lit<T>(1) - s));
  }
};
/// log(1 + exp(beta x)) / beta, linear above `threshold` as in torch.nn.functional.softplus.
struct Softplus {
  static constexpr const char* name = "softplus";
  static constexpr bool grad_reads_output = false;
  static constexpr bool int_to_float = true;
  double beta = 1.0, threshold = 20.0;
  template <class T>
  KILN_HD T operator()(T x) const {
    const T bx = x * lit<T>(beta);
    return select(bx > lit<T>(threshold), x, math::log1p(math::exp(bx)) / lit<T>(beta));
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    const T bx = x * lit<T>(beta);
    return select(bx > lit<T>(threshold), g, g / (lit<T>(1) + math::exp(-bx)));
  }
};
/// min(max(x, lo), hi); NaN stays NaN.
struct Clamp {
  static constexpr const char* name = "clamp";
  static constexpr bool grad_reads_output = false;
  double lo, hi;
  template <class T>
  KILN_HD T operator()(T x) const {
    return math::min(math::max(x, lit<T>(lo)), lit<T>(hi));
  }
  template <class T>
  KILN_HD T grad(T x, T, T g) const {
    return select(x >= lit<T>(lo), select(x <= lit<T>(hi), g, lit<T>(0)), lit<T>(0));
  }
};

// ---- logical ------------------------------------------------------------------------------
/// ~x for integers, `not x` for bool (torch.bitwise_not); no gradient.
struct BitwiseNot {
  static constexpr const char* name = "bitwise_not";
  static constexpr bool differentiable = false;
  static constexpr bool vectorizable = false;
  template <class T>
  KILN_HD T operator()(T x) const {
    static_assert(std::is_integral_v<T>,
                  "kiln::bitwise_not: the operand must be integer or bool (cast floating tensors "
                  "first)");
    if constexpr (std::is_same_v<T, bool>)
      return !x;
    else
      return static_cast<T>(~x);
  }
};
struct LogicalNot {
  static constexpr const char* name = "logical_not";
  static constexpr bool differentiable = false;
  template <class T>
  using result = bool;
  template <class T>
  KILN_HD auto operator()(T x) const {
    return x == lit<T>(0);
  }
};

}  // namespace kiln::expr::op
