// SPDX-License-Identifier: BSD-3-Clause
// Losses against hand computations in double, their gradients against finite differences
// (and, for cross_entropy, second derivatives), and their errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "kiln/nn.hpp"
#include "support/throws.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
namespace F = kiln::nn::functional;
using kiln::nn::Reduction;
using Opt = F::ClassLossOptions<double>;

// torch's cross entropy, written out: per row -sum_c q_c log_softmax(x)_c with
// q = (1 - e) w_t onehot(t) + e / C w, rows with t == ignore skipped; mean divides by the
// summed w_t of the counted rows.
std::vector<double> ce_rows(const Tensor<double>& x, const std::vector<int64_t>& t,
                            const std::vector<double>& w, int64_t ignore, double e) {
  const int64_t n = x.size(0), c = x.size(1);
  std::vector<double> out;
  for (int64_t i = 0; i < n; ++i) {
    if (t[std::size_t(i)] == ignore) {
      out.push_back(0);
      continue;
    }
    double m = -1e300, s = 0;
    for (int64_t k = 0; k < c; ++k) m = std::max(m, x(i, k));
    for (int64_t k = 0; k < c; ++k) s += std::exp(x(i, k) - m);
    const double lse = m + std::log(s);
    double l = 0;
    for (int64_t k = 0; k < c; ++k) {
      const double wk = w.empty() ? 1.0 : w[std::size_t(k)];
      const double q = (k == t[std::size_t(i)] ? (1 - e) * wk : 0) + e / double(c) * wk;
      l -= q * (x(i, k) - lse);
    }
    out.push_back(l);
  }
  return out;
}

Tensor<int64_t> targets(const std::vector<int64_t>& t) {
  return kiln::from_vector<int64_t>(t, Shape{int64_t(t.size())});
}
}  // namespace

TEST_CASE("cross_entropy with class indices matches torch's definition", "[nn][loss]") {
  kiln::manual_seed(9);
  const Tensor<double> x = kiln::randn<double>({6, 5}) * 3.0;
  const std::vector<int64_t> t = {0, 4, 2, 2, 1, 3};
  const std::vector<double> w = {0.5, 1.0, 2.0, 0.25, 1.5};
  const Tensor<double> wt = kiln::from_vector<double>(w, Shape{5});
  for (double e : {0.0, 0.1}) {
    for (bool weighted : {false, true}) {
      for (int64_t ignore : {int64_t(-100), int64_t(2)}) {
        INFO("smoothing " << e << " weighted " << weighted << " ignore " << ignore);
        const std::vector<double> rows =
            ce_rows(x, t, weighted ? w : std::vector<double>{}, ignore, e);
        double sum = 0, wsum = 0;
        for (std::size_t i = 0; i < t.size(); ++i) {
          sum += rows[i];
          if (t[i] != ignore) wsum += weighted ? w[std::size_t(t[i])] : 1.0;
        }
        Opt o{.weight = weighted ? wt : Tensor<double>(),
              .ignore_index = ignore,
              .label_smoothing = e};
        o.reduction = Reduction::none;
        const Tensor<double> none = F::cross_entropy(x, targets(t), o);
        REQUIRE(none.shape() == Shape{6});
        for (int64_t i = 0; i < 6; ++i)
          REQUIRE(none(i) == Approx(rows[std::size_t(i)]).epsilon(1e-12));
        o.reduction = Reduction::sum;
        REQUIRE(F::cross_entropy(x, targets(t), o).item() == Approx(sum).epsilon(1e-12));
        o.reduction = Reduction::mean;
        REQUIRE(F::cross_entropy(x, targets(t), o).item() == Approx(sum / wsum).epsilon(1e-12));
      }
    }
  }
  // Unbatched input [C] with a 0-d target; and [N, C, d] with targets [N, d].
  const Tensor<double> row = x.select(0, 1);
  REQUIRE(F::cross_entropy(row, kiln::full<int64_t>({}, 4)).item() ==
          Approx(ce_rows(x, t, {}, -100, 0)[1]));
  const Tensor<double> x3 = kiln::randn<double>({2, 5, 3});
  const Tensor<int64_t> t3 = kiln::from_vector<int64_t>({0, 1, 2, 3, 4, 0}, Shape{2, 3});
  const Tensor<double> per = F::cross_entropy(x3, t3, Opt{.reduction = Reduction::none});
  REQUIRE(per.shape() == Shape{2, 3});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t d = 0; d < 3; ++d) {
      const Tensor<double> r = x3.select(0, n).select(1, d).reshape({1, 5}).contiguous();
      REQUIRE(per(n, d) == Approx(ce_rows(r, {t3(n, d)}, {}, -100, 0)[0]).epsilon(1e-12));
    }
}

TEST_CASE("cross_entropy's fused backward matches finite differences", "[nn][loss][autograd]") {
  kiln::manual_seed(10);
  const Tensor<int64_t> t = targets({1, 0, 3, 3});
  const Tensor<double> w = kiln::from_vector<double>({1.0, 2.0, 0.5, 1.5}, Shape{4});
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    const Tensor<double> x = kiln::randn<double>({4, 4}).requires_grad_();
    REQUIRE(kiln::autograd::gradcheck(
        [&](const std::vector<Tensor<double>>& in) {
          return F::cross_entropy(
              in[0], t,
              Opt{.weight = w, .ignore_index = 0, .reduction = r, .label_smoothing = 0.2});
        },
        {x}));
  }
  // [N, C, d] layout, and second derivatives through the create_graph path.
  const Tensor<double> x3 = kiln::randn<double>({2, 3, 2}).requires_grad_();
  const Tensor<int64_t> t3 = kiln::from_vector<int64_t>({0, 2, 1, 1}, Shape{2, 2});
  auto f3 = [&](const std::vector<Tensor<double>>& in) {
    return F::cross_entropy(in[0], t3, Opt{.label_smoothing = 0.1});
  };
  REQUIRE(kiln::autograd::gradcheck(f3, {x3}));
  REQUIRE(kiln::autograd::gradgradcheck(f3, {x3}));
  // nll_loss of log_softmax is cross_entropy, gradients included.
  const Tensor<double> x = kiln::randn<double>({4, 4}).requires_grad_();
  REQUIRE(F::nll_loss(kiln::log_softmax(x, 1), t, Opt{.weight = w}).item() ==
          Approx(F::cross_entropy(x, t, Opt{.weight = w}).item()).epsilon(1e-12));
  REQUIRE(kiln::autograd::gradcheck(
      [&](const std::vector<Tensor<double>>& in) {
        return F::nll_loss(in[0], t, Opt{.ignore_index = 3});
      },
      {x}));
}

TEST_CASE("cross_entropy with probability targets", "[nn][loss]") {
  kiln::manual_seed(11);
  const Tensor<double> x = kiln::randn<double>({3, 4}).requires_grad_();
  const Tensor<double> p = kiln::softmax(kiln::randn<double>({3, 4}), 1);
  const Tensor<double> logp = kiln::log_softmax(x.detach(), 1);
  double want = 0;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 0; k < 4; ++k) want -= (p(i, k) * 0.9 + 0.1 / 4) * logp(i, k);
  REQUIRE(F::cross_entropy(x, p, Opt{.label_smoothing = 0.1}).item() == Approx(want / 3));
  REQUIRE(kiln::autograd::gradcheck(
      [&](const std::vector<Tensor<double>>& in) { return F::cross_entropy(in[0], p); }, {x}));
}

TEST_CASE("regression and binary losses match hand computations", "[nn][loss]") {
  const Tensor<double> a = kiln::from_vector<double>({0.5, -1.0, 2.0, 0.0}, Shape{4});
  const Tensor<double> b = kiln::from_vector<double>({0.0, 1.0, 2.5, -3.0}, Shape{4});
  // d = a - b = 0.5, -2, -0.5, 3
  REQUIRE(F::mse_loss(a, b).item() == Approx((0.25 + 4 + 0.25 + 9) / 4));
  REQUIRE(F::mse_loss(a, b, Reduction::sum).item() == Approx(13.5));
  REQUIRE(F::l1_loss(a, b).item() == Approx(6.0 / 4));
  REQUIRE(F::smooth_l1_loss(a, b).item() == Approx((0.125 + 1.5 + 0.125 + 2.5) / 4));
  REQUIRE(F::smooth_l1_loss(a, b, Reduction::mean, 2.0).item() ==
          Approx((0.0625 + 1.0 + 0.0625 + 2.0) / 4));
  REQUIRE(F::huber_loss(a, b, Reduction::sum, 2.0).item() == Approx(0.125 + 2 + 0.125 + 4));
  const Tensor<double> none = F::l1_loss(a, b, Reduction::none);
  REQUIRE((none.shape() == Shape{4} && none(1) == 2.0));

  const Tensor<double> prob = kiln::from_vector<double>({0.9, 0.2, 0.0, 1.0}, Shape{4});
  const Tensor<double> tgt = kiln::from_vector<double>({1.0, 0.0, 1.0, 1.0}, Shape{4});
  // log(0) is clamped at -100, as torch does.
  REQUIRE(F::binary_cross_entropy(prob, tgt).item() ==
          Approx((-std::log(0.9) - std::log(0.8) + 100 + 0) / 4));
  const Tensor<double> logits = kiln::from_vector<double>({2.0, -1.0, 30.0, -30.0}, Shape{4});
  double want = 0;
  for (int i = 0; i < 4; ++i) {
    const double z = logits(i), y = tgt(i), s = 1 / (1 + std::exp(-z));
    want += -(y * std::log(s) + (1 - y) * std::log1p(-s));
  }
  REQUIRE(F::binary_cross_entropy_with_logits(logits, tgt).item() ==
          Approx(want / 4).epsilon(1e-9));
  const Tensor<double> pw = kiln::full<double>({4}, 3.0);
  double want_pw = 0;
  for (int i = 0; i < 4; ++i) {
    const double z = logits(i), y = tgt(i), s = 1 / (1 + std::exp(-z));
    want_pw += -(3 * y * std::log(s) + (1 - y) * std::log1p(-s));
  }
  REQUIRE(F::binary_cross_entropy_with_logits(logits, tgt, {}, Reduction::sum, pw).item() ==
          Approx(want_pw).epsilon(1e-9));

  const Tensor<double> lp = kiln::log(kiln::from_vector<double>({0.25, 0.75}, Shape{1, 2}));
  const Tensor<double> q = kiln::from_vector<double>({0.5, 0.5}, Shape{1, 2});
  const double kl = 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75);
  REQUIRE(F::kl_div(lp, q, Reduction::sum).item() == Approx(kl));
  REQUIRE(F::kl_div(lp, Tensor<double>(kiln::log(q)), Reduction::sum, /*log_target=*/true).item() ==
          Approx(kl));
  REQUIRE(F::kl_div(lp, q, Reduction::sum, false, /*batchmean=*/true).item() == Approx(kl));

  const Tensor<double> u = kiln::from_vector<double>({1, 0, 0, 1, 1, 0}, Shape{2, 3});
  const Tensor<double> v = kiln::from_vector<double>({1, 1, 0, -1, -1, 0}, Shape{2, 3});
  const Tensor<double> cs = F::cosine_similarity(u, v);
  REQUIRE((cs(0) == Approx(1 / std::sqrt(2.0)) && cs(1) == Approx(-1.0)));
  // Each norm is clamped at eps on its own (torch's definition): 1e-7 / (1e-3 * 1e-2).
  const Tensor<double> tiny = kiln::from_vector<double>({1e-5, 0}, Shape{1, 2}),
                       small = kiln::from_vector<double>({1e-2, 0}, Shape{1, 2});
  REQUIRE(F::cosine_similarity(tiny, small, 1, 1e-3).item() == Approx(1e-2));
  const Tensor<double> an = kiln::zeros<double>({1, 2}), po = kiln::ones<double>({1, 2}) * 0.5,
                       ne = kiln::ones<double>({1, 2});
  const double dap = std::sqrt(2) * (0.5 - 1e-6), dan = std::sqrt(2) * (1 - 1e-6);
  REQUIRE(F::triplet_margin_loss(an, Tensor<double>(po), ne).item() ==
          Approx(std::max(dap - dan + 1, 0.0)));
}

TEST_CASE("loss errors name the problem", "[nn][loss]") {
  const Tensor<double> x = kiln::zeros<double>({2, 3});
  REQUIRE_THAT(kiln_test::thrown_message<kiln::IndexError>([&] {
                 F::cross_entropy(x, targets({0, 3}));
               }),
               Catch::Contains("target 3") && Catch::Contains("3 classes"));
  REQUIRE_THROWS_AS(F::cross_entropy(x, targets({0, 1, 2})), kiln::ShapeError);
  REQUIRE_THROWS_AS(F::cross_entropy(x, targets({0, 1}), Opt{.weight = kiln::ones<double>({2})}),
                    kiln::ShapeError);
  REQUIRE_THROWS_AS(F::cross_entropy(x, targets({0, 1}), Opt{.label_smoothing = 1.5}),
                    kiln::ValueError);
  REQUIRE_THROWS_AS(F::mse_loss(x, kiln::zeros<double>({3, 2})), kiln::ShapeError);
  // Every target ignored: the mean is 0 / 0, as in torch.
  REQUIRE(std::isnan(F::cross_entropy(x, targets({1, 1}), Opt{.ignore_index = 1}).item()));
}
