// SPDX-License-Identifier: BSD-3-Clause
// nn::Module's members (declared in module.hpp). float, double, half and bfloat16 on the
// CPU are compiled once in src/nn_module.cpp; other instantiations come from here.
#pragma once

#include <algorithm>
#include <cctype>

#include "kiln/tensor/print.hpp"

namespace kiln::nn {

template <class T, class D>
void Module<T, D>::check_name(const std::string& name, const char* op) const {
  KILN_CHECK(!name.empty() && name.find('.') == std::string::npos, ValueError, "[", op,
             "] a name must be non-empty and contain no '.', got '", name, "'");
  KILN_CHECK(!params_.contains(name) && !buffers_.contains(name) &&
                 !integer_buffers_.contains(name) && !children_.contains(name),
             ValueError, "[", op, "] ", type_name_, " already has an attribute named '", name, "'");
}

template <class T, class D>
Tensor<T, D> Module<T, D>::register_parameter(const std::string& name, TensorT t,
                                              bool requires_grad) {
  check_name(name, "register_parameter");
  KILN_CHECK(t.defined(), ValueError, "[register_parameter] parameter '", name,
             "' is an undefined tensor");
  t.requires_grad_(requires_grad);
  params_.insert(name, t);
  return t;
}

template <class T, class D>
void Module<T, D>::replace_parameter(const std::string& name, TensorT t) {
  TensorT* p = params_.find(name);
  KILN_CHECK(p, ValueError, "[replace_parameter] ", type_name_, " has no parameter '", name, "'");
  t.requires_grad_(p->requires_grad());
  *p = t;
}

template <class T, class D>
Tensor<T, D> Module<T, D>::register_buffer(const std::string& name, TensorT t) {
  check_name(name, "register_buffer");
  buffers_.insert(name, t);
  return t;
}

template <class T, class D>
Tensor<int64_t, D> Module<T, D>::register_buffer(const std::string& name, Tensor<int64_t, D> t) {
  check_name(name, "register_buffer");
  KILN_CHECK(t.defined(), ValueError, "[register_buffer] buffer '", name,
             "' is an undefined tensor");
  integer_buffers_.insert(name, t);
  return t;
}

template <class T, class D>
OrderedDict<Tensor<int64_t, D>> Module<T, D>::named_integer_buffers(bool recurse) const {
  OrderedDict<Tensor<int64_t, D>> out;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m,
                                                                    const std::string& prefix) {
    for (const auto& [name, t] : m.integer_buffers_) out.insert(prefix + name, t);
    if (recurse)
      for (const auto& [name, child] : m.children_) walk(*child, prefix + name + ".");
  };
  walk(*this, "");
  return out;
}

template <class T, class D>
void Module<T, D>::collect(OrderedDict<TensorT>& out, const std::string& prefix, bool params,
                           bool recurse) const {
  for (const auto& [name, t] : params ? params_ : buffers_) {
    // A parameter registered twice (weight tying) is listed once, under its first name.
    const bool dup = params && std::any_of(out.begin(), out.end(), [&](const auto& kv) {
                       const TensorT& o = kv.second;
                       return o.storage().impl() == t.storage().impl() &&
                              o.storage_offset() == t.storage_offset() && o.shape() == t.shape() &&
                              o.strides() == t.strides();
                     });
    if (!dup) out.insert(prefix + name, t);
  }
  if (!recurse) return;
  for (const auto& [name, child] : children_)
    child->collect(out, prefix + name + ".", params, true);
}

template <class T, class D>
OrderedDict<Tensor<T, D>> Module<T, D>::named_parameters(bool recurse) const {
  OrderedDict<TensorT> out;
  collect(out, "", true, recurse);
  return out;
}

template <class T, class D>
std::vector<Tensor<T, D>> Module<T, D>::parameters(bool recurse) const {
  return named_parameters(recurse).values();
}

template <class T, class D>
OrderedDict<Tensor<T, D>> Module<T, D>::named_buffers(bool recurse) const {
  OrderedDict<TensorT> out;
  collect(out, "", false, recurse);
  return out;
}

template <class T, class D>
std::vector<Tensor<T, D>> Module<T, D>::buffers(bool recurse) const {
  return named_buffers(recurse).values();
}

template <class T, class D>
void Module<T, D>::collect_modules(std::vector<std::pair<std::string, Module*>>& out,
                                   const std::string& prefix) {
  out.emplace_back(prefix, this);
  for (const auto& [name, child] : children_)
    child->collect_modules(out, prefix.empty() ? name : prefix + "." + name);
}

template <class T, class D>
std::vector<std::pair<std::string, Module<T, D>*>> Module<T, D>::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  collect_modules(out, "");
  return out;
}

template <class T, class D>
void Module<T, D>::apply(const std::function<void(Module&)>& fn) {
  for (const auto& [name, child] : children_) child->apply(fn);
  fn(*this);
}

template <class T, class D>
void Module<T, D>::train(bool on) {
  training_ = on;
  for (const auto& [name, child] : children_) child->train(on);
}

template <class T, class D>
void Module<T, D>::zero_grad(bool set_to_none) {
  for (const TensorT& p : parameters()) p.zero_grad(set_to_none);
}

template <class T, class D>
void Module<T, D>::requires_grad_(bool on) {
  for (TensorT p : parameters()) p.requires_grad_(on);
}

template <class T, class D>
StateDict<T, D> Module<T, D>::state_dict() const {
  StateDict<T, D> out;
  // torch's order: each module's parameters, then its buffers, then its children.
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m,
                                                                    const std::string& prefix) {
    for (const auto& [name, t] : m.params_) out.insert(prefix + name, t.detach());
    for (const auto& [name, t] : m.buffers_) out.insert(prefix + name, t.detach());
    for (const auto& [name, t] : m.integer_buffers_) out.integer_buffers.insert(prefix + name, t);
    for (const auto& [name, child] : m.children_) walk(*child, prefix + name + ".");
  };
  walk(*this, "");
  return out;
}

template <class T, class D>
void Module<T, D>::load_state_dict(const StateDict<T, D>& sd, bool strict) {
  const StateDict<T, D> mine = state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  // Both halves of a state dict are checked alike; a key in the wrong half (an int64
  // counter given as floating, or the reverse) reads as missing and unexpected.
  auto check = [&](const auto& want, const auto& given) {
    for (const auto& [name, t] : want) {
      const auto* src = given.find(name);
      if (!src)
        missing.push_back(name);
      else if (!src->defined() || src->shape() != t.shape())
        mismatched.push_back(name + " (expected shape " + t.shape().str() + ", got " +
                             (src->defined() ? src->shape().str() : std::string("undefined")) +
                             ")");
    }
    for (const auto& [name, t] : given)
      if (!want.contains(name)) unexpected.push_back(name);
  };
  check(static_cast<const OrderedDict<TensorT>&>(mine),
        static_cast<const OrderedDict<TensorT>&>(sd));
  check(mine.integer_buffers, sd.integer_buffers);
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& k : v) s += (s.empty() ? "" : ", ") + k;
    return s;
  };
  std::string problems;
  if (!mismatched.empty()) problems += " size mismatch for: " + list(mismatched) + ";";
  if (strict && !missing.empty()) problems += " missing keys: " + list(missing) + ";";
  if (strict && !unexpected.empty()) problems += " unexpected keys: " + list(unexpected) + ";";
  KILN_CHECK(problems.empty(), ValueError, "[load_state_dict] error(s) loading into ", type_name_,
             ":", problems, " nothing was loaded");
  NoGradGuard no_grad;
  for (const auto& [name, t] : mine)
    if (const TensorT* src = sd.find(name)) t.copy_(*src);
  for (const auto& [name, t] : mine.integer_buffers)
    if (const auto* src = sd.integer_buffers.find(name)) t.copy_(*src);
}

template <class T, class D>
void Module<T, D>::repr_into(std::string& out, int indent) const {
  out += type_name_ + "(";
  const std::string extra = extra_repr();
  if (children_.empty()) {
    out += extra + ")";
    return;
  }
  const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
  if (!extra.empty()) out += "\n" + pad + extra;
  for (const auto& [name, child] : children_) {
    out += "\n" + pad + "(" + name + "): ";
    child->repr_into(out, indent + 2);
  }
  out += "\n" + std::string(static_cast<std::size_t>(indent), ' ') + ")";
}

template <class T, class D>
std::string Module<T, D>::repr() const {
  std::string out;
  repr_into(out, 0);
  return out;
}

extern template class Module<float, CPU>;
extern template class Module<double, CPU>;
extern template class Module<half, CPU>;
extern template class Module<bfloat16, CPU>;

}  // namespace kiln::nn
