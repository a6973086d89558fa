// SPDX-License-Identifier: BSD-3-Clause
// libFuzzer target for the safetensors loader: any bytes must either parse into tensors
// whose sizes match their shapes, or throw kiln::IOError — never crash, hang or read out
// of bounds (the fuzz build adds AddressSanitizer and UBSan). Built and run by
// scripts/fuzz; tests/fuzz/corpus holds the seed inputs.
#include <cstddef>
#include <cstdint>

#include "kiln/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const kiln::io::SafetensorsFile f = kiln::io::parse_safetensors(data, size, "fuzz");
    for (const auto& [name, t] : f.tensors) {
      (void)name;
      std::size_t item = 0;
      switch (t.dtype) {
        case kiln::ScalarType::Bool:
        case kiln::ScalarType::UInt8:
        case kiln::ScalarType::Int8:
          item = 1;
          break;
        case kiln::ScalarType::Int16:
        case kiln::ScalarType::Half:
        case kiln::ScalarType::BFloat16:
          item = 2;
          break;
        case kiln::ScalarType::Int32:
        case kiln::ScalarType::Float:
          item = 4;
          break;
        default:
          item = 8;
      }
      if (t.bytes.size() != std::size_t(kiln::numel_of(t.shape)) * item) __builtin_trap();
    }
  } catch (const kiln::IOError&) {
  }
  return 0;
}
