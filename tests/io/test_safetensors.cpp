// SPDX-License-Identifier: BSD-3-Clause
// Safetensors: round trips for every dtype, the exact bytes of the format, rejection of
// corrupt files, atomic replacement, and model / optimizer checkpoints.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "kiln/io.hpp"
#include "kiln/nn.hpp"
#include "kiln/optim.hpp"
#include "support/throws.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
namespace io = kiln::io;
namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("kiln_st_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::vector<unsigned char> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A file assembled by hand, as the format's specification lays it out.
std::vector<unsigned char> handmade(const std::string& header,
                                    const std::vector<unsigned char>& data) {
  std::vector<unsigned char> out(8);
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[std::size_t(i)] = static_cast<unsigned char>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <class T>
void round_trip(const TempDir& dir) {
  const Tensor<T> t = kiln::arange<T>(0, 6).reshape({2, 3});
  const Tensor<T> view = t.t();  // non-contiguous: saved in row-major order of its shape
  io::save(dir.file("t.safetensors"), kiln::nn::OrderedDict<Tensor<T>>{{"a", t}, {"b", view}});
  const auto back = io::load<T>(dir.file("t.safetensors"));
  REQUIRE(back.keys() == std::vector<std::string>{"a", "b"});
  REQUIRE(back.at("b").shape() == Shape{3, 2});
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j) REQUIRE(back.at("b")(i, j) == view(i, j));
}

// A tensor of `shape` holding `values` in row-major order, as a RawTensor.
template <class T>
io::RawTensor raw_of(const Shape& shape, std::initializer_list<T> values) {
  Tensor<T> t(shape);
  REQUIRE(t.numel() == static_cast<int64_t>(values.size()));
  int64_t i = 0;
  for (const T& v : values) t.data()[i++] = v;
  return io::to_raw(t);
}

// The tensors of tests/io/torch_interop.py (TENSORS there), spelled out.
io::SafetensorsFile interop_file() {
  using kiln::bfloat16;
  using kiln::half;
  io::SafetensorsFile f;
  f.tensors.insert("f32", raw_of<float>({2, 3}, {-0.5f, -0.25f, 0.0f, 0.25f, 0.5f, 0.75f}));
  f.tensors.insert("f64", raw_of<double>({4}, {0.0, 1.0 / 3, 2.0 / 3, 1.0}));
  f.tensors.insert(
      "f16", raw_of<half>({5}, {half(-1.0f), half(-0.75f), half(-0.5f), half(-0.25f), half(0.0f)}));
  f.tensors.insert("bf16", raw_of<bfloat16>({3}, {bfloat16(0.0f), bfloat16(1.5f), bfloat16(3.0f)}));
  f.tensors.insert("i8", raw_of<int8_t>({3}, {-128, 0, 127}));
  f.tensors.insert("i16", raw_of<int16_t>({2}, {-300, 7}));
  f.tensors.insert("i32", raw_of<int32_t>({2, 1}, {-70000, 5}));
  f.tensors.insert("i64", raw_of<int64_t>(Shape{}, {-(int64_t(1) << 40)}));
  f.tensors.insert("u8", raw_of<uint8_t>({3}, {0, 200, 255}));
  f.tensors.insert("b", raw_of<bool>({4}, {true, false, true, true}));
  f.tensors.insert("empty", raw_of<float>({0, 3}, {}));
  f.metadata = {{"format", "pt"}, {"note", "kiln interop"}};
  return f;
}
}  // namespace

TEST_CASE("safetensors round trips every dtype", "[io]") {
  TempDir dir;
  round_trip<float>(dir);
  round_trip<double>(dir);
  round_trip<kiln::half>(dir);
  round_trip<kiln::bfloat16>(dir);
  round_trip<int8_t>(dir);
  round_trip<uint8_t>(dir);
  round_trip<int16_t>(dir);
  round_trip<int32_t>(dir);
  round_trip<int64_t>(dir);
  // bool, 0-d and empty tensors, and mixed dtypes in one file.
  io::SafetensorsFile f;
  f.tensors.insert("mask", io::to_raw(kiln::from_vector<bool>({true, false, true}, Shape{3})));
  f.tensors.insert("scalar", io::to_raw(kiln::full<double>({}, 2.5)));
  f.tensors.insert("empty", io::to_raw(Tensor<float>({0, 4})));
  f.metadata["note"] = "hello";
  io::save_safetensors(dir.file("mixed.safetensors"), f);
  const io::SafetensorsFile g = io::load_safetensors(dir.file("mixed.safetensors"));
  REQUIRE(g.metadata.at("note") == "hello");
  REQUIRE(io::from_raw<bool>(g.tensors.at("mask"))(1) == false);
  REQUIRE(io::from_raw<double>(g.tensors.at("scalar")).item() == 2.5);
  REQUIRE(io::from_raw<float>(g.tensors.at("empty")).shape() == Shape{0, 4});
  REQUIRE_THROWS_AS(io::from_raw<float>(g.tensors.at("scalar"), "scalar"), kiln::DTypeError);
  REQUIRE_THROWS_AS(io::load<float>(dir.file("mixed.safetensors")), kiln::DTypeError);
}

TEST_CASE("safetensors files have the specified layout", "[io]") {
  TempDir dir;
  io::save(dir.file("x.safetensors"),
           kiln::nn::OrderedDict<Tensor<float>>{
               {"w", kiln::from_vector<float>({1.0f, -2.0f}, Shape{2})}});
  const auto b = bytes_of(dir.file("x.safetensors"));
  const std::string json = R"({"w":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}})";
  const std::size_t padded = (json.size() + 7) / 8 * 8;  // data starts 8-byte aligned
  REQUIRE(b.size() == 8 + padded + 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | b[std::size_t(i)];
  REQUIRE(n == padded);
  REQUIRE(std::string(b.begin() + 8, b.begin() + 8 + std::ptrdiff_t(json.size())) == json);
  for (std::size_t i = 8 + json.size(); i < 8 + padded; ++i) REQUIRE(b[i] == ' ');
  float v[2];
  std::memcpy(v, b.data() + 8 + padded, 8);  // little-endian floats, as x86 stores them
  REQUIRE((v[0] == 1.0f && v[1] == -2.0f));

  // A file laid out by hand (as Python's safetensors writes: tensors sorted, metadata).
  const std::vector<unsigned char> data = {1, 0, 2, 0, 0, 0, 128, 63};  // I16 [1, 2], F32 1.0
  const auto file = handmade(
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"I16","shape":[2],"data_offsets":[0,4]},)"
      R"("b":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}  )",
      data);
  const io::SafetensorsFile f = io::parse_safetensors(file.data(), file.size());
  REQUIRE(f.metadata.at("format") == "pt");
  REQUIRE(io::from_raw<int16_t>(f.tensors.at("a"))(1) == 2);
  REQUIRE(io::from_raw<float>(f.tensors.at("b")).item() == 1.0f);
}

TEST_CASE("corrupt safetensors files are rejected with the reason", "[io]") {
  const std::vector<unsigned char> four(4, 0);
  auto fails = [](const std::vector<unsigned char>& f, const std::string& why) {
    INFO(why);
    REQUIRE_THAT(kiln_test::thrown_message<kiln::IOError>(
                     [&] { io::parse_safetensors(f.data(), f.size(), "f"); }),
                 Catch::Contains(why));
  };
  const std::string ok = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  fails({1, 2, 3}, "shorter than");
  fails({255, 255, 255, 255, 0, 0, 0, 0, '{'}, "exceeds 100 MB");
  {
    auto f = handmade(ok, four);
    f[0] = static_cast<unsigned char>(f[0] + 10);  // header length past the end
    f.resize(8 + ok.size() + 4);
    fails(f, "header");
  }
  fails(handmade(R"({"a":)", four), "not valid JSON");
  fails(handmade(R"([1,2])", four), "not a JSON object");
  fails(handmade(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,4]}})", four), "dtype 'C64'");
  fails(handmade(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", four),
        "needs 8 bytes");
  fails(handmade(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four),
        "non-negative");
  fails(handmade(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", four), "truncated");
  fails(handmade(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", four), "out of");
  fails(handmade(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                 std::vector<unsigned char>(6, 0)),
        "2 bytes after the last tensor");
  fails(handmade(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
                 std::vector<unsigned char>(6, 0)),
        "overlaps");
  fails(handmade(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", {0, 0}), "hole");
  fails(handmade(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})",
                 four),
        "overflows");
  fails(handmade(R"({"a":{"dtype":"F32","shape":[1]}})", four),
        "needs dtype, shape and data_offsets");
  fails(handmade(R"({"__metadata__":{"k":1}})", {}), "not a string");
  REQUIRE_THROWS_AS(io::load_safetensors("/nonexistent/dir/x.safetensors"), kiln::IOError);
}

TEST_CASE("saving replaces a file atomically and leaves no temporary file", "[io]") {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  io::save(path, kiln::nn::OrderedDict<Tensor<float>>{{"a", kiln::ones<float>({1000})}});
  io::save(path, kiln::nn::OrderedDict<Tensor<float>>{{"b", kiln::zeros<float>({2})}});
  REQUIRE(io::load<float>(path).keys() == std::vector<std::string>{"b"});
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++entries;
  }
  REQUIRE(entries == 1);
  REQUIRE_THROWS_AS(io::save(dir.file("missing/dir/x.safetensors"),
                             kiln::nn::OrderedDict<Tensor<float>>{{"a", kiln::ones<float>({1})}}),
                    kiln::IOError);
  REQUIRE_THROWS_AS(io::save(path, kiln::nn::OrderedDict<Tensor<float>>{{"__metadata__",
                                                                         kiln::ones<float>({1})}}),
                    kiln::ValueError);
  // The failed saves left the previous file intact.
  REQUIRE(io::load<float>(path).keys() == std::vector<std::string>{"b"});
}

TEST_CASE("model and optimizer checkpoints restore training exactly", "[io][nn][optim]") {
  TempDir dir;
  kiln::manual_seed(14);
  auto make = [] {
    return std::make_shared<kiln::nn::Sequential<float>>(
        std::initializer_list<kiln::nn::Sequential<float>::Item>{
            std::make_shared<kiln::nn::Linear<float>>(5, 4),
            std::make_shared<kiln::nn::Tanh<float>>(),
            std::make_shared<kiln::nn::Linear<float>>(4, 3)});
  };
  const Tensor<float> x = kiln::randn<float>({16, 5});
  const Tensor<int64_t> y = kiln::randint<int64_t>(0, 3, {16});
  auto step = [&](kiln::nn::Sequential<float>& m, kiln::optim::Optimizer<float>& opt) {
    opt.zero_grad();
    Tensor<float> loss = kiln::nn::functional::cross_entropy(m(x), y);
    loss.backward();
    opt.step();
  };
  auto a = make();
  kiln::optim::Adam<float> opt_a(a->parameters(), {.lr = 0.01f});
  for (int i = 0; i < 3; ++i) step(*a, opt_a);
  io::save(dir.file("model.safetensors"), *a);
  io::save(dir.file("optim.safetensors"), opt_a);

  auto b = make();
  kiln::optim::Adam<float> opt_b(b->parameters(), {.lr = 0.5f});
  io::load(dir.file("model.safetensors"), *b);
  io::load(dir.file("optim.safetensors"), opt_b);
  REQUIRE(opt_b.lr(0) == double(0.01f));  // scalars read back exactly
  for (int i = 0; i < 3; ++i) {
    step(*a, opt_a);
    step(*b, opt_b);
  }
  REQUIRE(kiln::amax(kiln::abs((*a)(x) - (*b)(x))).item() == 0);
  // A model file is not an optimizer state, and a wrong architecture is refused whole.
  REQUIRE_THROWS_AS(io::load(dir.file("model.safetensors"), opt_b), kiln::IOError);
  kiln::nn::Linear<float> other(5, 3);
  REQUIRE_THROWS_AS(io::load(dir.file("model.safetensors"), other), kiln::ValueError);
}

TEST_CASE("a file written by safetensors.torch reads back exactly, every dtype", "[io]") {
  // tests/io/data/torch_written.safetensors comes from `torch_interop.py --write-golden`.
  const io::SafetensorsFile got =
      io::load_safetensors(std::string(KILN_TEST_DIR) + "/io/data/torch_written.safetensors");
  const io::SafetensorsFile want = interop_file();
  REQUIRE(got.tensors.size() == want.tensors.size());
  for (const auto& [name, w] : want.tensors) {
    CAPTURE(name);
    const io::RawTensor& g = got.tensors.at(name);
    REQUIRE(g.dtype == w.dtype);
    REQUIRE(g.shape == w.shape);
    REQUIRE(g.bytes == w.bytes);
  }
  REQUIRE(got.metadata == want.metadata);
  REQUIRE(io::from_raw<int64_t>(got.tensors.at("i64")).item() == -(int64_t(1) << 40));
}

// Run by tests/io/torch_interop.py (ctest io_torch_interop), which reads the file back
// with safetensors.torch.
TEST_CASE("write the interop tensors for safetensors.torch", "[.interop]") {
  const char* path = std::getenv("KILN_INTEROP_FILE");
  REQUIRE(path != nullptr);
  io::save_safetensors(path, interop_file());
}

TEST_CASE("a torch model's checkpoint loads into its kiln twin and computes the same", "[io][nn]") {
  // torch.nn.Sequential(Linear(3, 4), BatchNorm1d(4), ReLU(), Linear(4, 2)) after three
  // SGD steps, saved with safetensors.torch (torch_interop.py --write-golden): its
  // num_batches_tracked is an I64 tensor, the rest F32.
  namespace nn = kiln::nn;
  nn::Sequential<float> model{
      std::make_shared<nn::Linear<float>>(3, 4), std::make_shared<nn::BatchNorm1d<float>>(4),
      std::make_shared<nn::ReLU<float>>(), std::make_shared<nn::Linear<float>>(4, 2)};
  const std::string data = std::string(KILN_TEST_DIR) + "/io/data/";
  io::load(data + "torch_model.safetensors", model);
  REQUIRE(model.named_integer_buffers().at("1.num_batches_tracked").item() == 3);
  model.eval();
  const auto io_pair = io::load<float>(data + "torch_model_io.safetensors");
  const Tensor<float> y = model(io_pair.at("x"));
  REQUIRE(y.shape() == Shape{5, 2});
  REQUIRE(kiln::amax(kiln::abs(y - io_pair.at("y"))).item() < 1e-6f);
}
