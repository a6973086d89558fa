// SPDX-License-Identifier: BSD-3-Clause
// Datasets, samplers and the DataLoader (order, determinism, every sample once, workers,
// errors), and FashionMNIST's IDX reader on files written here and on the installed data.
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include "kiln/data.hpp"
#include "support/throws.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
namespace data = kiln::data;
using Sample = data::Pair<float, int64_t>;

std::shared_ptr<data::TensorDataset<float, int64_t>> numbered(int64_t n) {
  // Sample i holds the value i in both its input [2] and its target.
  Tensor<float> x({n, 2});
  Tensor<int64_t> y({n});
  for (int64_t i = 0; i < n; ++i) {
    x(i, 0) = float(i);
    x(i, 1) = float(-i);
    y(i) = i;
  }
  return std::make_shared<data::TensorDataset<float, int64_t>>(x, y);
}

std::vector<std::vector<int64_t>> epoch_of(data::DataLoader<Sample>& dl) {
  std::vector<std::vector<int64_t>> batches;
  for (const auto& [x, y] : dl) {
    std::vector<int64_t> b;
    for (int64_t i = 0; i < y.numel(); ++i) {
      REQUIRE(x(i, 0) == float(y(i)));  // inputs and targets stay paired
      b.push_back(y(i));
    }
    batches.push_back(b);
  }
  return batches;
}

// A dataset whose get_batch throws for a given sample.
class Faulty : public data::Dataset<Sample> {
 public:
  int64_t size() const override { return 10; }
  Sample get(int64_t i) const override {
    if (i == 7) throw kiln::IOError("sample 7 is unreadable");
    return {kiln::full<float>({1}, float(i)), kiln::full<int64_t>({}, i)};
  }
};
}  // namespace

TEST_CASE("TensorDataset, Subset and random_split", "[data]") {
  const auto ds = numbered(10);
  REQUIRE(ds->size() == 10);
  const auto [x, y] = ds->get(3);
  REQUIRE((x.shape() == Shape{2} && x(1) == -3.0f && y.item() == 3));
  const auto [bx, by] = ds->get_batch({4, 1});
  REQUIRE((bx.shape() == Shape{2, 2} && by(0) == 4 && by(1) == 1));
  REQUIRE_THROWS_AS(ds->get(10), kiln::IndexError);
  REQUIRE_THROWS_AS(
      data::TensorDataset<float>(kiln::zeros<float>({3, 2}), kiln::zeros<int64_t>({4})),
      kiln::ShapeError);

  std::shared_ptr<const data::Dataset<Sample>> base = ds;
  const auto parts = data::random_split(base, {6, 4}, 42);
  std::set<int64_t> all;
  for (const auto& p : parts)
    for (int64_t i = 0; i < p->size(); ++i) all.insert(p->get(i).second.item());
  REQUIRE(all.size() == 10);  // disjoint and complete
  REQUIRE(data::random_split(base, {6, 4}, 42)[0]->indices() == parts[0]->indices());
  REQUIRE(data::random_split(base, {6, 4}, 43)[0]->indices() != parts[0]->indices());
  REQUIRE_THROWS_AS(data::random_split(base, {6, 5}, 1), kiln::ValueError);
}

TEST_CASE("DataLoader batches in sampler order", "[data]") {
  data::DataLoader<Sample> dl(numbered(10), {.batch_size = 4});
  REQUIRE(dl.size() == 3);
  REQUIRE(epoch_of(dl) == std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});
  data::DataLoader<Sample> dropped(numbered(10), {.batch_size = 4, .drop_last = true});
  REQUIRE(dropped.size() == 2);
  REQUIRE(epoch_of(dropped).size() == 2);
  REQUIRE_THROWS_AS(data::DataLoader<Sample>(numbered(3), {.batch_size = 0}), kiln::ValueError);
  data::DataLoader<Sample> empty(numbered(0), {.batch_size = 2});
  REQUIRE(epoch_of(empty).empty());
}

TEST_CASE("shuffled epochs visit every sample once, reproducibly for a seed", "[data]") {
  auto flat = [](const std::vector<std::vector<int64_t>>& bs) {
    std::vector<int64_t> v;
    for (const auto& b : bs) v.insert(v.end(), b.begin(), b.end());
    return v;
  };
  data::DataLoader<Sample> a(numbered(50), {.batch_size = 8, .shuffle = true, .seed = 7});
  data::DataLoader<Sample> b(numbered(50), {.batch_size = 8, .shuffle = true, .seed = 7});
  const auto a0 = flat(epoch_of(a)), a1 = flat(epoch_of(a));
  REQUIRE(std::set<int64_t>(a0.begin(), a0.end()).size() == 50);
  REQUIRE(std::set<int64_t>(a1.begin(), a1.end()).size() == 50);
  REQUIRE(a0 != a1);  // a new order each epoch
  REQUIRE(flat(epoch_of(b)) == a0);
  REQUIRE(flat(epoch_of(b)) == a1);
  // Workers build the same batches in the same order.
  for (int workers : {1, 3}) {
    data::DataLoader<Sample> w(
        numbered(50), {.batch_size = 8, .shuffle = true, .num_workers = workers, .seed = 7});
    REQUIRE(flat(epoch_of(w)) == a0);
    REQUIRE(flat(epoch_of(w)) == a1);
  }
  // Unseeded loaders draw their seed from kiln's generator: manual_seed reproduces them.
  kiln::manual_seed(5);
  data::DataLoader<Sample> u1(numbered(20), {.batch_size = 5, .shuffle = true});
  kiln::manual_seed(5);
  data::DataLoader<Sample> u2(numbered(20), {.batch_size = 5, .shuffle = true});
  REQUIRE(epoch_of(u1) == epoch_of(u2));
}

TEST_CASE("DataLoader workers: early exit, errors at their batch, default collation", "[data]") {
  data::DataLoader<Sample> dl(numbered(1000), {.batch_size = 10, .num_workers = 2});
  int seen = 0;
  for (const auto& batch : dl) {
    (void)batch;
    if (++seen == 3) break;  // the workers are stopped and joined here
  }
  REQUIRE(seen == 3);
  data::DataLoader<Sample> faulty(std::make_shared<Faulty>(), {.batch_size = 3, .num_workers = 2});
  std::vector<int64_t> got;
  try {
    for (const auto& [x, y] : faulty)
      for (int64_t i = 0; i < y.numel(); ++i) got.push_back(y(i));
    FAIL("no exception");
  } catch (const kiln::IOError& e) {
    REQUIRE_THAT(e.what(), Catch::Contains("sample 7"));
  }
  REQUIRE(got == std::vector<int64_t>{0, 1, 2, 3, 4, 5});  // the batches before the bad one
  // Per-sample datasets are collated by stacking.
  data::DataLoader<Sample> plain(std::make_shared<Faulty>(), {.batch_size = 4});
  auto it = plain.begin();
  REQUIRE(((*it).first.shape() == Shape{4, 1} && (*it).second.shape() == Shape{4}));
}

TEST_CASE("DistributedSampler splits an epoch evenly across replicas", "[data]") {
  std::multiset<int64_t> all;
  for (int rank = 0; rank < 3; ++rank) {
    const auto mine = data::DistributedSampler(3, rank, true, 1).indices(10, 0);
    REQUIRE(mine.size() == 4);  // 10 padded to 12
    all.insert(mine.begin(), mine.end());
  }
  REQUIRE(std::set<int64_t>(all.begin(), all.end()).size() == 10);
  REQUIRE(data::DistributedSampler(3, 0, false, 0, true).indices(10, 0) ==
          std::vector<int64_t>{0, 3, 6});
  REQUIRE_THROWS_AS(data::DistributedSampler(2, 2), kiln::ValueError);
}

namespace {
void write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  gzclose(f);
}
std::vector<unsigned char> idx(std::vector<uint32_t> dims, const std::vector<unsigned char>& body) {
  std::vector<unsigned char> b = {0, 0, 8, static_cast<unsigned char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}
}  // namespace

TEST_CASE("FashionMNIST reads IDX files and rejects broken ones", "[data]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kiln_fmnist_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // Three 2x3 images and their labels.
  std::vector<unsigned char> pixels(18);
  for (int i = 0; i < 18; ++i) pixels[std::size_t(i)] = static_cast<unsigned char>(i * 15);
  write_gz((dir / "train-images-idx3-ubyte.gz").string(), idx({3, 2, 3}, pixels));
  write_gz((dir / "train-labels-idx1-ubyte.gz").string(), idx({3}, {9, 0, 4}));
  data::FashionMNIST raw(dir.string(), true, /*normalize=*/false);
  REQUIRE(raw.size() == 3);
  REQUIRE(raw.data().shape() == Shape{3, 1, 2, 3});
  REQUIRE(raw.data()(1, 0, 1, 2) == Approx(float(11 * 15) / 255));
  REQUIRE(raw.targets()(0) == 9);
  data::FashionMNIST norm(dir.string(), true, true);
  REQUIRE(norm.data()(1, 0, 1, 2) ==
          Approx((float(11 * 15) / 255 - data::FashionMNIST::kMean) / data::FashionMNIST::kStd));

  // Uncompressed files work too (the .gz is preferred when both exist).
  {
    const auto b = idx({3, 2, 3}, pixels);
    std::ofstream((dir / "t10k-images-idx3-ubyte").string(), std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  }
  write_gz((dir / "t10k-labels-idx1-ubyte.gz").string(), idx({3}, {1, 2, 3}));
  REQUIRE(data::FashionMNIST(dir.string(), false).size() == 3);

  // Broken files: truncated data, a label past 9, a wrong magic, a count mismatch.
  write_gz((dir / "t10k-labels-idx1-ubyte.gz").string(), idx({3}, {1, 2}));
  REQUIRE_THAT(
      kiln_test::thrown_message<kiln::IOError>([&] { data::FashionMNIST(dir.string(), false); }),
      Catch::Contains("truncated"));
  write_gz((dir / "t10k-labels-idx1-ubyte.gz").string(), idx({3}, {1, 2, 12}));
  REQUIRE_THROWS_AS(data::FashionMNIST(dir.string(), false), kiln::IOError);
  auto bad_magic = idx({3}, {1, 2, 3});
  bad_magic[2] = 0x0D;
  write_gz((dir / "t10k-labels-idx1-ubyte.gz").string(), bad_magic);
  REQUIRE_THROWS_AS(data::FashionMNIST(dir.string(), false), kiln::IOError);
  write_gz((dir / "t10k-labels-idx1-ubyte.gz").string(), idx({2}, {1, 2}));
  REQUIRE_THROWS_AS(data::FashionMNIST(dir.string(), false), kiln::IOError);
  REQUIRE_THAT(kiln_test::thrown_message<kiln::IOError>(
                   [&] { data::FashionMNIST((dir / "nowhere").string()); }),
               Catch::Contains("dataset-fashion-mnist"));
  fs::remove_all(dir);
}

TEST_CASE("the installed Fashion-MNIST data loads and is standardised", "[data]") {
  if (!std::filesystem::exists(data::FashionMNIST::kDefaultRoot)) {
    WARN("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist); skipped");
    return;
  }
  data::FashionMNIST train;
  data::FashionMNIST test(data::FashionMNIST::kDefaultRoot, false);
  REQUIRE((train.size() == 60000 && test.size() == 10000));
  REQUIRE(train.data().shape() == Shape{60000, 1, 28, 28});
  REQUIRE(kiln::amin(train.targets()).item() == 0);
  REQUIRE(kiln::amax(train.targets()).item() == 9);
  // Standardised with the training set's own statistics: mean 0, std 1.
  REQUIRE(std::abs(kiln::mean(train.data()).item()) < 1e-3);
  REQUIRE(std::abs(kiln::std(train.data()).item() - 1) < 1e-3);
}
