// SPDX-License-Identifier: BSD-3-Clause
// IDX file reading (with zlib for the .gz files Debian ships) and the FashionMNIST dataset.
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kiln/data/fashion_mnist.hpp"

namespace kiln::data {
namespace detail {
namespace {

// gzread reads plain files too, so one reader serves both forms.
struct GzFile {
  gzFile f = nullptr;
  explicit GzFile(const std::string& path) : f(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f) gzclose(f);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
};

void read_exact(GzFile& in, void* dst, std::size_t n, const std::string& path, const char* what) {
  auto* p = static_cast<unsigned char*>(dst);
  while (n > 0) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
    const int got = gzread(in.f, p, chunk);
    if (got <= 0) {
      int err = 0;
      const char* msg = gzerror(in.f, &err);
      KILN_CHECK(false, IOError, "[FashionMNIST] ", path, ": truncated or corrupt while reading ",
                 what, err != Z_OK && msg ? std::string(" (") + msg + ")" : std::string());
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

uint32_t big_endian(const unsigned char* b) {
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

}  // namespace

Tensor<uint8_t, CPU> read_idx_ubyte(const std::string& path, int expected_dims) {
  GzFile in(path);
  KILN_CHECK(in.f, IOError, "[FashionMNIST] cannot open ", path, ": ", std::strerror(errno));
  unsigned char magic[4];
  read_exact(in, magic, 4, path, "the magic number");
  // 0x00 0x00 0x08 (unsigned byte) then the number of dims.
  KILN_CHECK(magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08 && magic[3] == expected_dims,
             IOError, "[FashionMNIST] ", path, " is not an IDX file of ", expected_dims,
             "-D unsigned bytes (magic ", int(magic[0]), " ", int(magic[1]), " ", int(magic[2]),
             " ", int(magic[3]), ")");
  Shape shape;
  int64_t count = 1;
  for (int d = 0; d < expected_dims; ++d) {
    unsigned char b[4];
    read_exact(in, b, 4, path, "the dims");
    const int64_t n = big_endian(b);
    KILN_CHECK(n > 0 && n <= (int64_t{1} << 28), IOError, "[FashionMNIST] ", path,
               ": implausible dim ", n);
    shape.push_back(n);
    count *= n;
  }
  KILN_CHECK(count <= (int64_t{1} << 32), IOError, "[FashionMNIST] ", path, ": implausible size ",
             shape);
  Tensor<uint8_t, CPU> out(shape);
  read_exact(in, out.data(), static_cast<std::size_t>(count), path, "the data");
  unsigned char extra;
  KILN_CHECK(gzread(in.f, &extra, 1) == 0, IOError, "[FashionMNIST] ", path,
             ": trailing bytes after ", count, " values");
  return out;
}

}  // namespace detail

TensorDataset<float, int64_t> FashionMNIST::load(const std::string& root, bool train,
                                                 bool normalize) {
  namespace fs = std::filesystem;
  KILN_CHECK(fs::is_directory(root), IOError, "[FashionMNIST] no directory ", root,
             "; install the data (Debian/Ubuntu: apt-get install dataset-fashion-mnist) or pass "
             "the directory that holds the IDX files");
  const std::string prefix = train ? "train" : "t10k";
  auto find = [&](const std::string& name) {
    for (const std::string& f : {name + ".gz", name})
      if (fs::exists(fs::path(root) / f)) return (fs::path(root) / f).string();
    KILN_CHECK(false, IOError, "[FashionMNIST] ", root, " holds neither ", name, ".gz nor ", name,
               "; install the data (Debian/Ubuntu: apt-get install dataset-fashion-mnist)");
    return std::string();
  };
  const Tensor<uint8_t, CPU> images =
      detail::read_idx_ubyte(find(prefix + "-images-idx3-ubyte"), 3);
  const Tensor<uint8_t, CPU> labels =
      detail::read_idx_ubyte(find(prefix + "-labels-idx1-ubyte"), 1);
  const int64_t n = images.shape()[0];
  KILN_CHECK(labels.shape()[0] == n, IOError, "[FashionMNIST] ", n, " images but ",
             labels.shape()[0], " labels in ", root);
  const int64_t h = images.shape()[1], w = images.shape()[2];
  Tensor<float, CPU> x({n, 1, h, w});
  Tensor<int64_t, CPU> y({n});
  const float scale = normalize ? 1.0f / (255.0f * kStd) : 1.0f / 255.0f;
  const float shift = normalize ? -kMean / kStd : 0.0f;
  const uint8_t* src = images.data();
  float* dst = x.data();
  for (int64_t i = 0; i < n * h * w; ++i) dst[i] = float(src[i]) * scale + shift;
  for (int64_t i = 0; i < n; ++i) {
    KILN_CHECK(labels.data()[i] < 10, IOError, "[FashionMNIST] label ", int(labels.data()[i]),
               " of sample ", i, " is not a class 0-9");
    y.data()[i] = labels.data()[i];
  }
  return TensorDataset<float, int64_t>(std::move(x), std::move(y));
}

}  // namespace kiln::data
