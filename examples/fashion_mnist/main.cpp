// SPDX-License-Identifier: BSD-3-Clause
// Trains a small CNN (or, with --model mlp, an MLP) on Fashion-MNIST with kiln's nn, optim
// and data layers; evaluates on the test set after each epoch; writes the checkpoint
// (safetensors), a metrics CSV and a PNG of the training curves.
//
//   fashion_mnist [--model cnn|mlp] [--epochs N] [--batch-size N] [--lr X]
//                 [--optimizer adam|adamw|sgd] [--threads N] [--workers N] [--seed N]
//                 [--out DIR] [--data DIR] [--limit N]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <kiln/data.hpp>
#include <kiln/io.hpp>
#include <kiln/nn.hpp>
#include <kiln/optim.hpp>
#include <memory>
#include <string>
#include <vector>

#include "models.hpp"
#include "plot.hpp"

namespace nn = kiln::nn;
namespace F = kiln::nn::functional;
using kiln::Tensor;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string model = "cnn", optimizer = "adam", out = "fashion_mnist_out",
              data = kiln::data::FashionMNIST::kDefaultRoot;
  int epochs = 5, threads = 0, workers = 1;
  int64_t batch_size = 64, limit = 0;
  double lr = 1e-3;
  uint64_t seed = 0;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "%s\nusage: fashion_mnist [--model cnn|mlp] [--epochs N] [--batch-size N] [--lr X]\n"
               "                     [--optimizer adam|adamw|sgd] [--threads N] [--workers N]\n"
               "                     [--seed N] [--out DIR] [--data DIR] [--limit N]\n",
               msg);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--help" || k == "-h") usage("Trains a CNN or an MLP on Fashion-MNIST.");
    if (i + 1 >= argc) usage(("missing value for " + k).c_str());
    const std::string v = argv[++i];
    try {
      if (k == "--model")
        a.model = v;
      else if (k == "--optimizer")
        a.optimizer = v;
      else if (k == "--out")
        a.out = v;
      else if (k == "--data")
        a.data = v;
      else if (k == "--epochs")
        a.epochs = std::stoi(v);
      else if (k == "--threads")
        a.threads = std::stoi(v);
      else if (k == "--workers")
        a.workers = std::stoi(v);
      else if (k == "--batch-size")
        a.batch_size = std::stoll(v);
      else if (k == "--limit")
        a.limit = std::stoll(v);
      else if (k == "--lr")
        a.lr = std::stod(v);
      else if (k == "--seed")
        a.seed = std::stoull(v);
      else
        usage(("unknown option " + k).c_str());
    } catch (const std::logic_error&) {
      usage(("bad value for " + k + ": " + v).c_str());
    }
  }
  if (a.model != "cnn" && a.model != "mlp") usage("--model must be cnn or mlp");
  if (a.optimizer != "adam" && a.optimizer != "adamw" && a.optimizer != "sgd")
    usage("--optimizer must be adam, adamw or sgd");
  if (a.epochs < 1 || a.batch_size < 1 || a.lr <= 0 || a.workers < 0 || a.threads < 0)
    usage("epochs, batch size and lr must be positive; threads and workers non-negative");
  return a;
}

int64_t correct(const Tensor<float>& logits, const Tensor<int64_t>& y) {
  const Tensor<int64_t> pred = kiln::argmax(logits, 1);
  int64_t c = 0;
  for (int64_t i = 0; i < y.numel(); ++i) c += pred.data()[i] == y.data()[i];
  return c;
}

// One line, redrawn in place on a terminal; a line per 10% otherwise.
class Progress {
 public:
  Progress(int epoch, int epochs, int64_t total) : epoch_(epoch), epochs_(epochs), total_(total) {}
  void update(int64_t done, double loss, double acc, double rate) {
    const int pct = total_ ? int(100 * done / total_) : 100;
    if (!tty_ && pct < next_pct_ && done != total_) return;
    next_pct_ = pct / 10 * 10 + 10;
    const int width = 30, fill = total_ ? int(width * done / total_) : width;
    std::string bar(std::size_t(fill), '#');
    bar.resize(std::size_t(width), '.');
    std::printf("%sepoch %d/%d [%s] %3d%%  loss %.4f  acc %5.2f%%  %6.0f samples/s%s",
                tty_ ? "\r" : "", epoch_, epochs_, bar.c_str(), pct, loss, 100 * acc, rate,
                tty_ ? "" : "\n");
    std::fflush(stdout);
  }
  void finish() {
    if (tty_) std::printf("\n");
  }

 private:
  int epoch_, epochs_;
  int64_t total_;
  bool tty_ = isatty(STDOUT_FILENO) != 0;
  int next_pct_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  if (args.threads > 0) kiln::set_num_threads(args.threads);
  kiln::manual_seed(args.seed);
  try {
    std::filesystem::create_directories(args.out);
    auto train = std::make_shared<kiln::data::FashionMNIST>(args.data, /*train=*/true);
    auto test = std::make_shared<kiln::data::FashionMNIST>(args.data, /*train=*/false);
    using Sample = kiln::data::Pair<float, int64_t>;
    std::shared_ptr<const kiln::data::Dataset<Sample>> train_set = train;
    if (args.limit > 0 && args.limit < train->size()) {
      std::vector<int64_t> first(static_cast<std::size_t>(args.limit));
      for (int64_t i = 0; i < args.limit; ++i) first[std::size_t(i)] = i;
      train_set = std::make_shared<kiln::data::Subset<Sample>>(train, first);
    }
    kiln::data::DataLoader<Sample> train_loader(train_set, {.batch_size = args.batch_size,
                                                            .shuffle = true,
                                                            .num_workers = args.workers,
                                                            .seed = args.seed});
    kiln::data::DataLoader<Sample> test_loader(test, {.batch_size = 1000});

    auto model = args.model == "cnn" ? demo::make_cnn() : demo::make_mlp();
    std::printf(
        "kiln Fashion-MNIST demo: %s, %d epoch(s), batch %lld, %s lr %g, %d thread(s), "
        "%d loader worker(s)\n%s\n",
        args.model.c_str(), args.epochs, static_cast<long long>(args.batch_size),
        args.optimizer.c_str(), args.lr, kiln::get_num_threads(), args.workers,
        model->repr().c_str());
    std::printf("train %lld, test %lld samples\n", static_cast<long long>(train_set->size()),
                static_cast<long long>(test->size()));

    std::unique_ptr<kiln::optim::Optimizer<float>> opt;
    if (args.optimizer == "adam")
      opt = std::make_unique<kiln::optim::Adam<float>>(model->parameters(),
                                                       kiln::optim::AdamOptions{.lr = args.lr});
    else if (args.optimizer == "adamw")
      opt = std::make_unique<kiln::optim::AdamW<float>>(
          model->parameters(), kiln::optim::AdamOptions{.lr = args.lr, .weight_decay = 0.01});
    else
      opt = std::make_unique<kiln::optim::SGD<float>>(
          model->parameters(), kiln::optim::SGDOptions{.lr = args.lr, .momentum = 0.9});
    kiln::optim::CosineAnnealingLR<float> sched(*opt, args.epochs);

    const std::string csv_path = args.out + "/metrics.csv";
    std::ofstream csv(csv_path);
    csv << "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds,samples_per_s\n";
    std::vector<double> ep, tr_loss, te_loss, tr_acc, te_acc, step_x, step_loss;
    const auto start = Clock::now();
    double final_acc = 0;
    for (int epoch = 1; epoch <= args.epochs; ++epoch) {
      model->train();
      Progress bar(epoch, args.epochs, train_set->size());
      const auto t0 = Clock::now();
      double loss_sum = 0;
      int64_t seen = 0, right = 0, batches = 0;
      for (const auto& [x, y] : train_loader) {
        opt->zero_grad();
        const Tensor<float> logits = (*model)(x);
        Tensor<float> loss = F::cross_entropy(logits, y);
        loss.backward();
        opt->step();
        const double l = loss.item();
        loss_sum += l * double(y.numel());
        right += correct(logits.detach(), y);
        seen += y.numel();
        ++batches;
        step_x.push_back(epoch - 1 + double(seen) / double(train_set->size()));
        step_loss.push_back(l);
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        bar.update(seen, loss_sum / double(seen), double(right) / double(seen),
                   double(seen) / std::max(secs, 1e-9));
      }
      bar.finish();
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

      model->eval();
      double test_loss = 0;
      int64_t test_right = 0;
      {
        kiln::NoGradGuard no_grad;
        for (const auto& [x, y] : test_loader) {
          const Tensor<float> logits = (*model)(x);
          test_loss += F::cross_entropy(logits, y, {.reduction = nn::Reduction::sum}).item();
          test_right += correct(logits, y);
        }
      }
      const double n_test = double(test->size());
      final_acc = double(test_right) / n_test;
      std::printf(
          "epoch %d: train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | %.1f s, "
          "%.0f samples/s\n",
          epoch, loss_sum / double(seen), 100.0 * double(right) / double(seen), test_loss / n_test,
          100 * final_acc, secs, double(seen) / secs);
      csv << epoch << ',' << opt->lr(0) << ',' << loss_sum / double(seen) << ','
          << double(right) / double(seen) << ',' << test_loss / n_test << ',' << final_acc << ','
          << secs << ',' << double(seen) / secs << '\n';
      csv.flush();
      ep.push_back(epoch);
      tr_loss.push_back(loss_sum / double(seen));
      te_loss.push_back(test_loss / n_test);
      tr_acc.push_back(100.0 * double(right) / double(seen));
      te_acc.push_back(100 * final_acc);
      sched.step();
    }
    const double total = std::chrono::duration<double>(Clock::now() - start).count();

    const std::string ckpt = args.out + "/model.safetensors";
    kiln::io::save(ckpt, *model, {{"model", args.model}, {"epochs", std::to_string(args.epochs)}});
    // Reload the checkpoint into a fresh model and check it predicts the same.
    auto again = args.model == "cnn" ? demo::make_cnn() : demo::make_mlp();
    kiln::io::load(ckpt, *again);
    again->eval();
    {
      kiln::NoGradGuard no_grad;
      const auto [x, y] = test->get_batch({0, 1, 2, 3, 4, 5, 6, 7});
      const Tensor<float> a = (*model)(x), b = (*again)(x);
      const double diff = kiln::amax(kiln::abs(a - b)).item();
      if (diff != 0) {
        std::fprintf(stderr, "reloaded checkpoint predicts differently (max diff %g)\n", diff);
        return 1;
      }
    }

    std::vector<demo::Series> loss_series = {
        {"train (batches)", step_x, step_loss, {170, 190, 230}},
        {"train (epoch)", ep, tr_loss, {31, 119, 180}},
        {"test", ep, te_loss, {214, 39, 40}}};
    std::vector<demo::Series> acc_series = {{"train", ep, tr_acc, {31, 119, 180}},
                                            {"test", ep, te_acc, {214, 39, 40}}};
    const std::string png = args.out + "/training.png";
    if (!demo::write_line_charts(
            png,
            {{"loss (cross entropy)", "epoch", loss_series}, {"accuracy (%)", "epoch", acc_series}},
            1200, 480))
      std::fprintf(stderr, "could not write %s\n", png.c_str());
    std::printf(
        "test accuracy %.2f%% after %d epoch(s), %.1f s in all\n"
        "wrote %s, %s and %s\n",
        100 * final_acc, args.epochs, total, ckpt.c_str(), csv_path.c_str(), png.c_str());
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
