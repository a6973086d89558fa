// SPDX-License-Identifier: BSD-3-Clause
// Safetensors files (the format of Hugging Face's safetensors package, which PyTorch users
// read and write with safetensors.torch): save and load tensors and state dicts.
#pragma once

#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "kiln/core/dtype.hpp"
#include "kiln/nn/ordered_dict.hpp"
#include "kiln/tensor.hpp"

namespace kiln::io {

/// String metadata stored in the file's "__metadata__" entry.
using Metadata = std::map<std::string, std::string>;

/// One tensor as a file holds it: dtype, shape and its bytes (row-major, little-endian).
struct RawTensor {
  ScalarType dtype = ScalarType::Float;
  Shape shape;
  std::vector<unsigned char> bytes;
};

/// A whole file: its tensors in the order of their data (the order they were saved in) and
/// its metadata.
struct SafetensorsFile {
  nn::OrderedDict<RawTensor> tensors;
  Metadata metadata;
};

// ---- the format (src/io_safetensors.cpp) ---------------------------------------------------
/// Writes `file` to `path` atomically: into a temporary file in the same directory, flushed
/// to disk, then renamed over `path`, so a crash never leaves a partial file. Throws
/// IOError naming the path on failure (the temporary file is removed).
void save_safetensors(const std::string& path, const SafetensorsFile& file);
/// Reads and validates a file: header length, JSON, dtypes, shapes against byte ranges,
/// offsets in bounds, neither overlapping nor leaving holes, nothing after the data.
/// Throws IOError naming the path and the problem.
SafetensorsFile load_safetensors(const std::string& path);
/// The same from bytes in memory (what the fuzz target drives).
SafetensorsFile parse_safetensors(const unsigned char* data, std::size_t size,
                                  const std::string& name = "<memory>");

// ---- typed helpers --------------------------------------------------------------------------
template <class T>
RawTensor to_raw(const Tensor<T, CPU>& t) {
  static_assert(std::is_trivially_copyable_v<T>);
  RawTensor r;
  r.dtype = scalar_type_v<T>;
  r.shape = t.shape();
  const Tensor<T, CPU> c = t.contiguous();
  r.bytes.resize(static_cast<std::size_t>(c.numel()) * sizeof(T));
  if (!r.bytes.empty()) std::memcpy(r.bytes.data(), c.data(), r.bytes.size());
  return r;
}

/// The tensor `name` of `raw` as a Tensor<T>; throws DTypeError if the file holds another
/// dtype (no silent conversion).
template <class T>
Tensor<T, CPU> from_raw(const RawTensor& raw, const std::string& name = "tensor") {
  KILN_CHECK(raw.dtype == scalar_type_v<T>, DTypeError, "[io] ", name, " is stored as ", raw.dtype,
             ", asked for ", scalar_type_v<T>);
  Tensor<T, CPU> t(raw.shape);
  KILN_CHECK(raw.bytes.size() == static_cast<std::size_t>(t.numel()) * sizeof(T), IOError, "[io] ",
             name, ": ", raw.bytes.size(), " bytes for shape ", raw.shape);
  if (!raw.bytes.empty()) std::memcpy(t.data(), raw.bytes.data(), raw.bytes.size());
  return t;
}

/// Saves named tensors of one dtype (a module's state_dict()).
template <class T>
void save(const std::string& path, const nn::OrderedDict<Tensor<T, CPU>>& tensors,
          const Metadata& metadata = {}) {
  SafetensorsFile f;
  for (const auto& [name, t] : tensors) f.tensors.insert(name, to_raw(t));
  f.metadata = metadata;
  save_safetensors(path, f);
}

/// Loads every tensor of a file, all of dtype T (DTypeError names one that is not).
template <class T>
nn::OrderedDict<Tensor<T, CPU>> load(const std::string& path, Metadata* metadata = nullptr) {
  SafetensorsFile f = load_safetensors(path);
  nn::OrderedDict<Tensor<T, CPU>> out;
  for (const auto& [name, raw] : f.tensors) out.insert(name, from_raw<T>(raw, name));
  if (metadata) *metadata = std::move(f.metadata);
  return out;
}

}  // namespace kiln::io
