// SPDX-License-Identifier: BSD-3-Clause
// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "value"}}), then the tensors' bytes, offsets relative to the
// first byte after the header.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kiln/io/safetensors.hpp"

namespace kiln::io {
namespace {

// Hugging Face's reader refuses headers above 100 MB; so do we.
constexpr uint64_t kMaxHeader = 100'000'000;

struct DtypeName {
  ScalarType dtype;
  const char* name;
  std::size_t size;
};
constexpr DtypeName kDtypes[] = {{ScalarType::Bool, "BOOL", 1}, {ScalarType::UInt8, "U8", 1},
                                 {ScalarType::Int8, "I8", 1},   {ScalarType::Int16, "I16", 2},
                                 {ScalarType::Int32, "I32", 4}, {ScalarType::Int64, "I64", 8},
                                 {ScalarType::Half, "F16", 2},  {ScalarType::BFloat16, "BF16", 2},
                                 {ScalarType::Float, "F32", 4}, {ScalarType::Double, "F64", 8}};

const DtypeName& by_dtype(ScalarType t) {
  for (const DtypeName& d : kDtypes)
    if (d.dtype == t) return d;
  KILN_CHECK(false, DTypeError, "[io] no safetensors dtype for ", t);
  return kDtypes[0];
}

[[noreturn]] void corrupt(const std::string& name, const std::string& why) {
  throw IOError("[load_safetensors] " + name + " is not a valid safetensors file: " + why);
}

// a * b, or false on overflow.
bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

}  // namespace

SafetensorsFile parse_safetensors(const unsigned char* data, std::size_t size,
                                  const std::string& name) {
  if (size < 8)
    corrupt(name, "shorter than the 8-byte header length (" + std::to_string(size) + " bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | data[i];
  if (n > kMaxHeader) corrupt(name, "header length " + std::to_string(n) + " exceeds 100 MB");
  if (n > size - 8)
    corrupt(name, "header length " + std::to_string(n) + " runs past the end of the file (" +
                      std::to_string(size) + " bytes): truncated");
  const char* h = reinterpret_cast<const char*>(data + 8);
  if (n < 2 || h[0] != '{') corrupt(name, "the header is not a JSON object");
  const nlohmann::json j = nlohmann::json::parse(h, h + n, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) corrupt(name, "the header is not valid JSON");
  const uint64_t data_len = size - 8 - n;
  const unsigned char* base = data + 8 + n;

  SafetensorsFile f;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) corrupt(name, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          corrupt(name, "__metadata__ value of '" + m.key() + "' is not a string");
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      corrupt(name, "entry '" + key + "' needs dtype, shape and data_offsets");
    const nlohmann::json& dt = v["dtype"];
    if (!dt.is_string()) corrupt(name, "entry '" + key + "': dtype is not a string");
    const std::string dts = dt.get<std::string>();
    const DtypeName* d = nullptr;
    for (const DtypeName& c : kDtypes)
      if (dts == c.name) d = &c;
    if (!d)
      corrupt(name,
              "entry '" + key + "': dtype '" + dts +
                  "' is not one kiln reads (BOOL, U8, I8, I16, I32, I64, F16, BF16, F32, F64)");
    const nlohmann::json& sh = v["shape"];
    if (!sh.is_array() || sh.size() > std::size_t(kMaxDims))
      corrupt(name, "entry '" + key + "': shape is not an array of at most " +
                        std::to_string(kMaxDims) + " dims");
    RawTensor r;
    r.dtype = d->dtype;
    uint64_t count = 1;
    for (const nlohmann::json& e : sh) {
      if (!e.is_number_unsigned() && !(e.is_number_integer() && e.get<int64_t>() >= 0))
        corrupt(name,
                "entry '" + key + "': shape holds something other than a non-negative integer");
      const uint64_t dim = e.get<uint64_t>();
      if (dim > uint64_t(std::numeric_limits<int64_t>::max()) || !mul_ok(count, dim, count))
        corrupt(name, "entry '" + key + "': shape overflows");
      r.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t nbytes = 0;
    if (!mul_ok(count, d->size, nbytes)) corrupt(name, "entry '" + key + "': size overflows");
    const nlohmann::json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      corrupt(name, "entry '" + key + "': data_offsets is not two non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_len)
      corrupt(name, "entry '" + key + "': data_offsets [" + std::to_string(b) + ", " +
                        std::to_string(e) + "] out of the " + std::to_string(data_len) +
                        " data bytes (truncated?)");
    if (e - b != nbytes)
      corrupt(name, "entry '" + key + "': shape " + r.shape.str() + " of " + dts + " needs " +
                        std::to_string(nbytes) + " bytes, data_offsets give " +
                        std::to_string(e - b));
    r.bytes.assign(base + b, base + e);
    spans.push_back({b, e, key});
    f.tensors.insert(key, std::move(r));
  }
  // The data must be covered exactly: no overlap, no hole, nothing after the last tensor.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Span& s : spans) {
    if (s.begin < at) corrupt(name, "tensor '" + s.name + "' overlaps the one before it");
    if (s.begin > at)
      corrupt(name, "a hole of " + std::to_string(s.begin - at) + " bytes before tensor '" +
                        s.name + "'");
    at = s.end;
  }
  if (at != data_len) corrupt(name, std::to_string(data_len - at) + " bytes after the last tensor");
  // The JSON object's keys come back sorted; file order is the order of the data.
  SafetensorsFile ordered;
  ordered.metadata = std::move(f.metadata);
  for (const Span& s : spans) ordered.tensors.insert(s.name, std::move(f.tensors.at(s.name)));
  return ordered;
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  KILN_CHECK(in, IOError, "[load_safetensors] cannot open ", path, ": ", std::strerror(errno));
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  KILN_CHECK(!in.bad(), IOError, "[load_safetensors] error reading ", path);
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

void save_safetensors(const std::string& path, const SafetensorsFile& file) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : file.tensors) {
    KILN_CHECK(name != "__metadata__", ValueError,
               "[save_safetensors] '__metadata__' is reserved and cannot name a tensor");
    const DtypeName& d = by_dtype(t.dtype);
    KILN_CHECK(t.bytes.size() == std::size_t(numel_of(t.shape)) * d.size, ValueError,
               "[save_safetensors] tensor '", name, "' has ", t.bytes.size(), " bytes for shape ",
               t.shape, " of ", d.name);
    nlohmann::json shape = nlohmann::json::array();
    for (int i = 0; i < t.shape.size(); ++i) shape.push_back(t.shape[i]);
    header[name] = {
        {"dtype", d.name}, {"shape", shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // data starts 8-byte aligned, as safetensors writes

  // Write a temporary file next to the target, flush it to disk, then rename: a reader
  // (or a crash) sees the old file or the new one, never part of one.
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = mkstemp(tmp.data());
  KILN_CHECK(fd >= 0, IOError, "[save_safetensors] cannot create a temporary file next to ", path,
             ": ", std::strerror(errno));
  const mode_t mask = ::umask(0);  // mkstemp makes 0600; give the usual 0666 & ~umask
  ::umask(mask);
  bool ok = ::fchmod(fd, 0666 & ~mask) == 0;
  auto write_all = [&](const void* p, std::size_t n) {
    const char* c = static_cast<const char*>(p);
    while (ok && n > 0) {
      const ssize_t w = ::write(fd, c, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        ok = false;
        break;
      }
      c += w;
      n -= static_cast<std::size_t>(w);
    }
  };
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(uint64_t(h.size()) >> (8 * i));
  write_all(len, 8);
  write_all(h.data(), h.size());
  for (const auto& [name, t] : file.tensors) write_all(t.bytes.data(), t.bytes.size());
  const int saved_errno = errno;
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) ok = false;
  if (!ok) {
    const int err = errno ? errno : saved_errno;
    std::remove(tmp.c_str());
    KILN_CHECK(false, IOError, "[save_safetensors] writing ", path,
               " failed: ", std::strerror(err));
  }
}

}  // namespace kiln::io
