// SPDX-License-Identifier: BSD-3-Clause
// Checkpoints: a module's state_dict or an optimizer's state in a safetensors file.
#pragma once

#include <cstdio>
#include <string>

#include "kiln/io/safetensors.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/optim/optimizer.hpp"

namespace kiln::io {

/// Saves a state dict: its floating entries as dtype T, its integer buffers as I64 (as
/// torch stores them).
template <class T>
void save(const std::string& path, const nn::StateDict<T, CPU>& sd, const Metadata& metadata = {}) {
  SafetensorsFile f;
  for (const auto& [name, t] : sd) f.tensors.insert(name, to_raw(t));
  for (const auto& [name, t] : sd.integer_buffers) f.tensors.insert(name, to_raw(t));
  f.metadata = metadata;
  save_safetensors(path, f);
}

/// Reads a state dict for a model of dtype T: I64 entries become integer buffers, every
/// other entry must be stored as T.
template <class T>
nn::StateDict<T, CPU> load_state_dict(const std::string& path, Metadata* metadata = nullptr) {
  SafetensorsFile f = load_safetensors(path);
  nn::StateDict<T, CPU> sd;
  for (const auto& [name, raw] : f.tensors) {
    if (raw.dtype == ScalarType::Int64)
      sd.integer_buffers.insert(name, from_raw<int64_t>(raw, name));
    else
      sd.insert(name, from_raw<T>(raw, name));
  }
  if (metadata) *metadata = std::move(f.metadata);
  return sd;
}

/// Saves module.state_dict() (keys as PyTorch names them: "features.0.weight").
template <class T>
void save(const std::string& path, const nn::Module<T, CPU>& module,
          const Metadata& metadata = {}) {
  save(path, module.state_dict(), metadata);
}

/// Loads a file written by save (or by safetensors.torch.save_file on the same
/// architecture) into `module` via load_state_dict(strict): on any error nothing is loaded.
template <class T>
void load(const std::string& path, nn::Module<T, CPU>& module, bool strict = true) {
  module.load_state_dict(load_state_dict<T>(path), strict);
}

/// Saves an optimizer's state: its tensors, and its scalars (hyper-parameters, step
/// counts) as metadata strings that read back exactly.
template <class T>
void save(const std::string& path, const optim::Optimizer<T>& optimizer) {
  const optim::OptimizerState<T> s = optimizer.state_dict();
  Metadata m;
  m["format"] = "kiln.optim";
  for (const auto& [k, v] : s.scalars) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    m[k] = buf;
  }
  save(path, s.tensors, m);
}

template <class T>
void load(const std::string& path, optim::Optimizer<T>& optimizer) {
  optim::OptimizerState<T> s;
  Metadata m;
  s.tensors = load<T>(path, &m);
  KILN_CHECK(m.count("format") && m.at("format") == "kiln.optim", IOError, "[io::load] ", path,
             " does not hold an optimizer's state");
  for (const auto& [k, v] : m) {
    if (k == "format") continue;
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    KILN_CHECK(end && *end == '\0' && !v.empty(), IOError, "[io::load] ", path, ": '", k,
               "' is not a number: '", v, "'");
    s.scalars[k] = d;
  }
  optimizer.load_state_dict(s);
}

}  // namespace kiln::io
