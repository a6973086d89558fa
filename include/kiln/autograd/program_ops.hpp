// SPDX-License-Identifier: BSD-3-Clause
// The functors a fused node's program can run (Note [Backward programs] in program.hpp):
// one list, expanded into the opcode enum, the opcode of each functor type and the
// dispatch from an opcode back to its functor. Light on purpose: the per-ISA kernels in
// src/kernels include it without the rest of kiln.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kiln/expr/functors/binary.hpp"
#include "kiln/expr/functors/concepts.hpp"
#include "kiln/expr/functors/ternary.hpp"
#include "kiln/expr/functors/unary.hpp"

// Every differentiable same-dtype functor of kiln::expr::op. A functor missing here still
// works: an expression that uses it falls back to a node compiled for its own type.
#define KILN_PROGRAM_UNARY_OPS(X)                                                                  \
  X(Neg)                                                                                           \
  X(Abs)                                                                                           \
  X(Sign) X(Floor) X(Ceil) X(Round) X(Trunc) X(Square) X(Sqrt) X(Rsqrt) X(Reciprocal) X(PowScalar) \
      X(Exp) X(Exp2) X(Expm1) X(Log) X(Log2) X(Log1p) X(Sin) X(Cos) X(Tan) X(Asin) X(Acos) X(Atan) \
          X(Sinh) X(Cosh) X(Tanh) X(Erf) X(Sigmoid) X(Relu) X(LeakyRelu) X(Elu) X(Gelu)            \
              X(GeluTanh) X(Silu) X(Softplus) X(Clamp)
#define KILN_PROGRAM_BINARY_OPS(X) \
  X(Add) X(Sub) X(Mul) X(Div) X(Pow) X(Atan2) X(Fmod) X(Maximum) X(Minimum)
// Comparisons and logical ops, whose results (0 or 1 in the program's dtype) feed where's
// condition or a cast; they carry no gradient.
#define KILN_PROGRAM_MASK_BINARY_OPS(X) \
  X(Eq) X(Ne) X(Lt) X(Le) X(Gt) X(Ge) X(LogicalAnd) X(LogicalOr) X(LogicalXor)
#define KILN_PROGRAM_MASK_UNARY_OPS(X) X(LogicalNot)

namespace kiln::autograd::detail {

/// What one instruction of a backward program does. Leaves, constants and scalars are
/// loaded by the driver; `identity` is a same-dtype cast (a no-op kept for the node name).
enum class Opc : uint8_t {
  leaf,
  constant,
  scalar,
  identity,
  where,
#define KILN_X(Name) Name,
  KILN_PROGRAM_UNARY_OPS(KILN_X) KILN_PROGRAM_BINARY_OPS(KILN_X)
  // The mask ops come last: is_mask_op relies on it.
  KILN_PROGRAM_MASK_BINARY_OPS(KILN_X) KILN_PROGRAM_MASK_UNARY_OPS(KILN_X)
#undef KILN_X
};

/// Whether an opcode is a comparison or logical op (no gradient; results 0 or 1).
constexpr bool is_mask_op(Opc opc) { return opc >= Opc::Eq; }

/// The opcode of functor Op, or Opc::leaf when a program cannot run it.
template <class Op>
inline constexpr Opc opc_of_v = Opc::leaf;
#define KILN_X(Name) \
  template <>        \
  inline constexpr Opc opc_of_v<expr::op::Name> = Opc::Name;
KILN_PROGRAM_UNARY_OPS(KILN_X)
KILN_PROGRAM_BINARY_OPS(KILN_X)
KILN_PROGRAM_MASK_BINARY_OPS(KILN_X)
KILN_PROGRAM_MASK_UNARY_OPS(KILN_X)
#undef KILN_X

template <class Op>
inline constexpr bool program_op_v = opc_of_v<Op> != Opc::leaf;

/// Bytes of functor state an instruction carries (PowScalar's exponent, Clamp's bounds).
inline constexpr std::size_t kOpState = 16;

// Always inlined: the per-ISA kernels call it, and an out-of-line copy compiled there
// (an unoptimised build) could be the one the whole program links to.
template <class Op>
KILN_INLINE Op load_op(const unsigned char* state) {
  static_assert(std::is_trivially_copyable_v<Op> && sizeof(Op) <= kOpState);
  Op op;
  std::memcpy(static_cast<void*>(&op), state, sizeof(Op));
  return op;
}

/// Calls f1(functor) for a unary opcode, f2(functor) for a binary one (mask ops included:
/// callers test expr::is_differentiable_v); returns false for any other opcode.
template <class F1, class F2>
bool visit_op(Opc opc, const unsigned char* state, F1&& f1, F2&& f2) {
  switch (opc) {
#define KILN_X(Name)                    \
  case Opc::Name:                       \
    f1(load_op<expr::op::Name>(state)); \
    return true;
    KILN_PROGRAM_UNARY_OPS(KILN_X)
    KILN_PROGRAM_MASK_UNARY_OPS(KILN_X)
#undef KILN_X
#define KILN_X(Name)                    \
  case Opc::Name:                       \
    f2(load_op<expr::op::Name>(state)); \
    return true;
    KILN_PROGRAM_BINARY_OPS(KILN_X)
    KILN_PROGRAM_MASK_BINARY_OPS(KILN_X)
#undef KILN_X
    default:
      return false;
  }
}

template <class Op>
constexpr bool op_grad_reads_output() {
  if constexpr (requires { Op::grad_reads_output; })
    return Op::grad_reads_output;
  else
    return true;
}
template <class Op>
constexpr bool op_grad_reads_inputs() {
  if constexpr (requires { Op::grad_reads_inputs; })
    return Op::grad_reads_inputs;
  else
    return true;
}

/// The functor's name and what its derivative reads (Note [Values the backward reads]).
struct OpInfo {
  const char* name;
  bool reads_output, reads_inputs;
};
inline OpInfo op_info(Opc opc) {
  switch (opc) {
#define KILN_X(Name)                                                      \
  case Opc::Name:                                                         \
    return {expr::op::Name::name, op_grad_reads_output<expr::op::Name>(), \
            op_grad_reads_inputs<expr::op::Name>()};
    KILN_PROGRAM_UNARY_OPS(KILN_X)
    KILN_PROGRAM_BINARY_OPS(KILN_X)
#undef KILN_X
#define KILN_X(Name) \
  case Opc::Name:    \
    return {expr::op::Name::name, false, false};
    KILN_PROGRAM_MASK_BINARY_OPS(KILN_X)
    KILN_PROGRAM_MASK_UNARY_OPS(KILN_X)
#undef KILN_X
    case Opc::where:
      return {"where", false, false};
    default:
      return {"", false, false};
  }
}

/// One instruction as the kernels see it: operands by instruction index (a, b; c is
/// where's condition), and what to compute: the value (`fwd`) and the gradient of
/// operand a / b (`ga`, `gb`).
struct KInstr {
  Opc op;
  bool fwd = false, ga = false, gb = false;
  int32_t a = -1, b = -1, c = -1;
  double scalar = 0;
  alignas(8) unsigned char state[kOpState] = {};
};

}  // namespace kiln::autograd::detail
