// SPDX-License-Identifier: BSD-3-Clause
// Device tags: the second template parameter of Tensor.
#pragma once

#include <type_traits>

namespace kiln {

struct CPU {
  static constexpr const char* name = "cpu";
};
struct CUDA {
  static constexpr const char* name = "cuda";
};

template <class D>
inline constexpr bool is_device_v = std::is_same_v<D, CPU> || std::is_same_v<D, CUDA>;

template <class D>
concept Device = is_device_v<D>;

}  // namespace kiln
