// SPDX-License-Identifier: BSD-3-Clause
// A materialised expression recorded as a backward *program* (Note [Backward programs]).
// Included at the end of tensor.hpp, after record.hpp; fused.hpp picks this path for every
// expression it can express.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/autograd/program_ops.hpp"
#include "kiln/expr/node.hpp"

namespace kiln::autograd {

// Note [Backward programs]
// Materialising `y = a*b + c*d - sin(e)` with leaves that require grad records ONE node.
// Its backward must not be compiled per expression type: a user file that materialised
// twenty expressions paid for twenty SIMD backward sweeps, twenty node classes and twenty
// create_graph walks (compile time grew 2.6x). So recording flattens the tree into a
// program: one instruction per functor (its opcode and state), per leaf, per scalar, in
// postorder; the node runs that program with code compiled once per dtype in the
// library (src/autograd_program.cpp). The backward walks the output in tiles of up to
// 16K elements: it runs the functors' forward (the values a derivative reads) and their
// derivatives instruction by instruction on packets (src/kernels/program_kernel.hpp,
// one build per ISA), reading each leaf and the incoming gradient once and writing each
// input's gradient once. With create_graph the same program runs on recorded tensor ops
// instead (Note [Lazy values]), so higher derivatives come from the same functors.
//
// Bool subtrees: comparisons of the output's dtype and logical ops on them run as mask
// instructions (values 0 and 1), for where's condition or a cast of a mask. Any other
// subtree that carries no gradient and has another dtype (a bool tensor as condition, a
// cast from an integer tensor) is evaluated at record time into a constant of the output
// dtype. An expression a program cannot express (a cast between floating dtypes, a
// functor missing from program_ops.hpp) keeps the node compiled for its type (FusedNode,
// fused.hpp).

namespace detail {

/// One instruction of a recorded program.
struct Instr {
  Opc op = Opc::leaf;
  int32_t a = -1, b = -1, c = -1;  // operands (instruction indices); c: where's condition
  int32_t input = -1;              // leaf/constant: index into the program's inputs
  double scalar = 0;
  alignas(8) unsigned char state[kOpState] = {};
  void (*name)(std::string&) = nullptr;  // constant: prints the subtree it stands for
};

/// Builds a program while walking an expression, then records the node. Compiled in
/// src/autograd_program.cpp for the CPU floating dtypes.
template <class T>
class ProgramBuilder {
 public:
  ProgramBuilder();
  ~ProgramBuilder();  // out of line: its members' destructors are not worth inlining
  ProgramBuilder(const ProgramBuilder&) = delete;
  ProgramBuilder& operator=(const ProgramBuilder&) = delete;
  int leaf(const Tensor<T, CPU>& t);
  int scalar(double v);
  int constant(Tensor<T, CPU> t, void (*name)(std::string&));
  int identity(int a);
  int op(Opc opc, const void* state, std::size_t bytes, int a, int b = -1, int c = -1);
  /// Records the program (root: the last instruction) as the grad_fn of `out`.
  /// `keep_shape`/`scale`/`reduction`: as for a fused sum/mean (record_fused_reduction).
  void record(Tensor<T, CPU>& out, const Shape& expr_shape, const char* name, Shape keep_shape,
              double scale, bool reduction);

 private:
  int input(Opc opc, Tensor<T, CPU> t, uint64_t version, int slot, void (*name)(std::string&));

  std::vector<Instr> code_;
  std::vector<Tensor<T, CPU>> inputs_;
  std::vector<uint64_t> versions_;
  std::vector<int> input_slot_;  // slot of each input, or -1
  std::vector<const AutogradMeta*> slot_keys_;
  std::vector<Edge> edges_;
};

extern template class ProgramBuilder<float>;
extern template class ProgramBuilder<double>;
extern template class ProgramBuilder<half>;
extern template class ProgramBuilder<bfloat16>;

template <class E>
struct ExprName;

/// Whether an expression of dtype T can be recorded as a program (see the Note).
template <class T, class E>
struct programmable : std::false_type {};
template <class T>
struct programmable<T, Tensor<T, CPU>> : std::true_type {};
template <class T>
struct programmable<T, expr::ScalarNode<T, CPU>> : std::true_type {};
template <class T, class Op, class E>
struct programmable<T, expr::UnaryNode<Op, E>>
    : std::bool_constant<!is_floating_v<expr::value_t<E>> ||
                         (program_op_v<Op> && std::is_same_v<expr::value_t<E>, T> &&
                          programmable<T, E>::value)> {};
template <class T, class Op, class A, class B>
struct programmable<T, expr::BinaryNode<Op, A, B>>
    : std::bool_constant<!is_floating_v<expr::value_t<A>> ||
                         (program_op_v<Op> && std::is_same_v<expr::value_t<A>, T> &&
                          programmable<T, A>::value && programmable<T, B>::value)> {};
template <class T, class C, class A, class B>
struct programmable<T, expr::TernaryNode<expr::op::Where, C, A, B>>
    : std::bool_constant<programmable<T, A>::value && programmable<T, B>::value> {};
template <class T, class E>
struct programmable<T, expr::CastNode<T, E>>
    : std::bool_constant<!is_floating_v<expr::value_t<E>> ||
                         (std::is_same_v<expr::value_t<E>, T> && programmable<T, E>::value)> {};

/// Whether a bool-valued subtree (where's condition, a cast of a comparison) can run in a
/// program of dtype T: comparisons of T-valued subtrees and logical ops on those.
template <class T, class E>
struct maskable : std::false_type {};
template <class T, class E>
inline constexpr bool mask_or_program_v =
    std::is_same_v<expr::value_t<E>, T> ? programmable<T, E>::value : maskable<T, E>::value;
template <class T, class Op, class E>
requires(is_mask_op(opc_of_v<Op>)) struct maskable<T, expr::UnaryNode<Op, E>>
    : std::bool_constant<mask_or_program_v<T, E>> {
};
template <class T, class Op, class A, class B>
requires(is_mask_op(opc_of_v<Op>)) struct maskable<T, expr::BinaryNode<Op, A, B>>
    : std::bool_constant<mask_or_program_v<T, A> && mask_or_program_v<T, B>> {
};

template <class E>
inline constexpr bool programmable_v = std::is_same_v<expr::device_t<E>, CPU>&&
    is_floating_v<expr::value_t<E>>&& programmable<expr::value_t<E>, E>::value;

/// A subtree that carries no gradient, evaluated without recording.
template <class T, class E>
Tensor<T, CPU> constant_value(const E& e) {
  Tensor<T, CPU> t(e.shape());
  AutoGradMode off(false);
  if constexpr (std::is_same_v<expr::value_t<E>, T>)
    t.copy_(e);
  else
    t.copy_(expr::CastNode<T, E>(e));
  return t;
}

// Each emit returns the index of the instruction computing its subtree. A subtree of the
// program's dtype is guaranteed programmable by the caller (programmable_v); a bool one
// runs as mask instructions where it can, and is otherwise evaluated now as a constant.
template <class T, class E>
int emit(const E& e, ProgramBuilder<T>& b) {
  return b.constant(constant_value<T>(e), &ExprName<E>::put);
}
template <class T>
int emit(const Tensor<T, CPU>& t, ProgramBuilder<T>& b) {
  return b.leaf(t);
}
template <class T>
int emit(const expr::ScalarNode<T, CPU>& n, ProgramBuilder<T>& b) {
  return b.scalar(static_cast<double>(n.value()));
}
template <class T, class Op, class E>
int emit(const expr::UnaryNode<Op, E>& n, ProgramBuilder<T>& b) {
  using N = expr::UnaryNode<Op, E>;
  if constexpr (std::is_same_v<expr::value_t<N>, T> ? is_floating_v<expr::value_t<E>>
                                                    : maskable<T, N>::value) {
    const int a = emit(n.operand(), b);
    return b.op(opc_of_v<Op>, &n.op(), sizeof(Op), a);
  } else {
    return b.constant(constant_value<T>(n), &ExprName<N>::put);
  }
}
template <class T, class Op, class A, class B>
int emit(const expr::BinaryNode<Op, A, B>& n, ProgramBuilder<T>& b) {
  using N = expr::BinaryNode<Op, A, B>;
  if constexpr (std::is_same_v<expr::value_t<N>, T> ? is_floating_v<expr::value_t<A>>
                                                    : maskable<T, N>::value) {
    const int x = emit(n.lhs(), b);
    const int y = emit(n.rhs(), b);
    return b.op(opc_of_v<Op>, &n.op(), sizeof(Op), x, y);
  } else {
    return b.constant(constant_value<T>(n), &ExprName<N>::put);
  }
}
template <class T, class C, class A, class B>
int emit(const expr::TernaryNode<expr::op::Where, C, A, B>& n, ProgramBuilder<T>& b) {
  const int c = emit(n.cond(), b);
  const int x = emit(n.lhs(), b);
  const int y = emit(n.rhs(), b);
  return b.op(Opc::where, nullptr, 0, x, y, c);
}
// A cast of a mask is its 0/1 values; the identity keeps the cast in the node's name.
template <class T, class E>
int emit(const expr::CastNode<T, E>& n, ProgramBuilder<T>& b) {
  if constexpr (is_floating_v<expr::value_t<E>> || maskable<T, E>::value)
    return b.identity(emit(n.operand(), b));
  else
    return b.constant(constant_value<T>(n), &ExprName<expr::CastNode<T, E>>::put);
}

/// The backward kernel builds this CPU can run ("default", "avx2", "avx512"), the one in
/// use (the widest, or the one the KILN_CPU_CAPABILITY environment variable names), and a
/// switch for tests and benchmarks.
std::vector<std::string> program_kernels();
std::string program_kernel();
void set_program_kernel(const std::string& name);

/// Records `out = e` (or a sum/mean of e) as a program node.
template <class T, class E>
void record_program(Tensor<T, CPU>& out, const E& e, const char* name, Shape keep_shape,
                    double scale, bool reduction) {
  ProgramBuilder<T> b;
  emit(e, b);
  b.record(out, e.shape(), name, std::move(keep_shape), scale, reduction);
}

}  // namespace detail
}  // namespace kiln::autograd
