// SPDX-License-Identifier: BSD-3-Clause
// FashionMNIST: the Zalando article images (60,000 train / 10,000 test, 28x28 grey, 10
// classes) read from the IDX files that Debian's dataset-fashion-mnist package installs.
#pragma once

#include <array>
#include <string>

#include "kiln/data/dataset.hpp"

namespace kiln::data {

namespace detail {
/// Reads an IDX file (gzip-compressed or not): images as uint8 [N, rows, cols], labels as
/// uint8 [N]. Throws IOError naming the file on any inconsistency.
Tensor<uint8_t, CPU> read_idx_ubyte(const std::string& path, int expected_dims);
}  // namespace detail

class FashionMNIST : public TensorDataset<float, int64_t> {
 public:
  /// Where Debian's dataset-fashion-mnist package puts the files.
  static constexpr const char* kDefaultRoot = "/usr/share/datasets/fashion-mnist";
  /// The training set's per-pixel mean and standard deviation (pixels in [0, 1]).
  static constexpr float kMean = 0.2860f, kStd = 0.3530f;
  static constexpr std::array<const char*, 10> kClasses = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

  /// Images as float [N, 1, 28, 28] in [0, 1], standardised with kMean and kStd when
  /// `normalize`; labels as int64 [N]. Looks for train-images-idx3-ubyte(.gz) etc. in root.
  explicit FashionMNIST(const std::string& root = kDefaultRoot, bool train = true,
                        bool normalize = true)
      : TensorDataset<float, int64_t>(load(root, train, normalize)) {}

 private:
  static TensorDataset<float, int64_t> load(const std::string& root, bool train, bool normalize);
};

}  // namespace kiln::data
