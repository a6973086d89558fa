// SPDX-License-Identifier: BSD-3-Clause
// scaled_dot_product_attention, MultiheadAttention and TransformerEncoder(Layer): values
// against plain loops in double, torch's parameter names, order and initialisation,
// gradchecks, dropout in train / eval, errors and repr.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kiln/nn.hpp"
#include "kiln/nn/attention.hpp"
#include "kiln/nn/transformer.hpp"

namespace {
using kiln::Shape;
using kiln::Tensor;
namespace nn = kiln::nn;
namespace F = kiln::nn::functional;
using MHA = nn::MultiheadAttention<double>;
using BoolT = Tensor<bool>;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kTol = 1e-12;

double max_abs_diff(const Tensor<double>& a, const Tensor<double>& b) {
  REQUIRE(a.shape() == b.shape());
  return kiln::amax(kiln::abs(a - b)).item();
}

std::vector<std::string> keys(const kiln::nn::OrderedDict<Tensor<double>>& d) {
  std::vector<std::string> out;
  for (const auto& [name, t] : d) out.push_back(name);
  return out;
}

BoolT bool_mask(const Shape& shape, const std::vector<int64_t>& true_at) {
  BoolT m = kiln::zeros<bool>(shape);
  for (int64_t i : true_at) m.data()[i] = true;
  return m;
}

// softmax(scores + add) · v for one query row, in double: the reference of every test.
// scores[j] = q·k_j * scale; add(j) is 0, -inf or a float mask value.
std::vector<double> attend_row(const std::vector<double>& scores, const std::vector<double>& add,
                               std::vector<double>& p) {
  const std::size_t s = scores.size();
  double mx = -kInf;
  for (std::size_t j = 0; j < s; ++j) mx = std::max(mx, scores[j] + add[j]);
  double sum = 0;
  p.assign(s, 0);
  for (std::size_t j = 0; j < s; ++j) sum += p[j] = std::exp(scores[j] + add[j] - mx);
  for (double& x : p) x /= sum;
  return p;
}

// SDPA reference for 4-d q [B, H, L, E], k [B or 1, H, S, E], v [B or 1, H, S, Ev]:
// add(b, h, i, j) is added to the scores (0, -inf or a float mask value).
Tensor<double> sdpa_ref(const Tensor<double>& q, const Tensor<double>& k, const Tensor<double>& v,
                        const std::function<double(int64_t, int64_t, int64_t, int64_t)>& add,
                        double scale) {
  const int64_t B = q.size(0), H = q.size(1), L = q.size(2), E = q.size(3);
  const int64_t S = k.size(2), Ev = v.size(3);
  Tensor<double> out({B, H, L, Ev});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < L; ++i) {
        const int64_t bk = k.size(0) == 1 ? 0 : b;
        std::vector<double> sc(S), ad(S), p;
        for (int64_t j = 0; j < S; ++j) {
          for (int64_t e = 0; e < E; ++e) sc[j] += q(b, h, i, e) * k(bk, h, j, e);
          sc[j] *= scale;
          ad[j] = add(b, h, i, j);
        }
        attend_row(sc, ad, p);
        for (int64_t c = 0; c < Ev; ++c) {
          double acc = 0;
          for (int64_t j = 0; j < S; ++j) acc += p[j] * v(bk, h, j, c);
          out(b, h, i, c) = acc;
        }
      }
  return out;
}

// MultiheadAttention by loops over the module's own parameters. Inputs in the module's
// layout (batch_first or not, unbatched when 2-d); add(n, h, i, j) is the combined mask.
// Returns output [N, L, E] and per-head weights [N, H, L, S] in canonical order.
struct MhaRef {
  Tensor<double> out, weights;
};
MhaRef mha_ref(const MHA& m, const Tensor<double>& query, const Tensor<double>& key,
               const Tensor<double>& value,
               const std::function<double(int64_t, int64_t, int64_t, int64_t)>& add) {
  const bool batched = query.dim() == 3, bf = batched && m.batch_first;
  auto at = [&](const Tensor<double>& x, int64_t n, int64_t t, int64_t c) {
    return !batched ? x(t, c) : bf ? x(n, t, c) : x(t, n, c);
  };
  const int64_t N = !batched ? 1 : query.size(bf ? 0 : 1);
  const int64_t L = query.size(batched && bf ? 1 : 0), S = key.size(batched && bf ? 1 : 0);
  const int64_t E = m.embed_dim, H = m.num_heads, hd = E / H;
  const bool packed = m.in_proj_weight.defined();
  auto w = [&](int which, int64_t r, int64_t c) {
    if (packed) return m.in_proj_weight(which * E + r, c);
    return (which == 0 ? m.q_proj_weight : which == 1 ? m.k_proj_weight : m.v_proj_weight)(r, c);
  };
  auto b = [&](int which, int64_t r) {
    return m.in_proj_bias.defined() ? m.in_proj_bias(which * E + r) : 0.0;
  };
  auto project = [&](const Tensor<double>& x, int which, int64_t len, int64_t dim) {
    std::vector<double> p(static_cast<size_t>(N * len * E));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t t = 0; t < len; ++t)
        for (int64_t r = 0; r < E; ++r) {
          double acc = b(which, r);
          for (int64_t c = 0; c < dim; ++c) acc += w(which, r, c) * at(x, n, t, c);
          p[static_cast<size_t>((n * len + t) * E + r)] = acc;
        }
    return p;
  };
  const std::vector<double> qp = project(query, 0, L, m.embed_dim), kp = project(key, 1, S, m.kdim),
                            vp = project(value, 2, S, m.vdim);
  Tensor<double> weights({N, H, L, S}), out({N, L, E});
  std::vector<double> heads(static_cast<size_t>(N * L * E));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < L; ++i) {
        std::vector<double> sc(S), ad(S), p;
        for (int64_t j = 0; j < S; ++j) {
          for (int64_t d = 0; d < hd; ++d)
            sc[j] += qp[(n * L + i) * E + h * hd + d] * kp[(n * S + j) * E + h * hd + d];
          sc[j] /= std::sqrt(double(hd));
          ad[j] = add(n, h, i, j);
        }
        attend_row(sc, ad, p);
        for (int64_t j = 0; j < S; ++j) weights(n, h, i, j) = p[j];
        for (int64_t d = 0; d < hd; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < S; ++j) acc += p[j] * vp[(n * S + j) * E + h * hd + d];
          heads[(n * L + i) * E + h * hd + d] = acc;
        }
      }
  const Tensor<double>& wo = m.out_proj->weight;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < L; ++i)
      for (int64_t r = 0; r < E; ++r) {
        double acc = m.out_proj->bias.defined() ? m.out_proj->bias(r) : 0.0;
        for (int64_t c = 0; c < E; ++c) acc += wo(r, c) * heads[(n * L + i) * E + c];
        out(n, i, r) = acc;
      }
  return {out, weights};
}

// Checks a kiln MultiheadAttention result against the reference, in the module's layout.
void check_mha(const MHA& m, const nn::MultiheadAttentionOutput<double>& got, const MhaRef& want,
               bool batched, bool averaged) {
  const int64_t N = want.out.size(0), L = want.out.size(1), E = want.out.size(2);
  const int64_t H = want.weights.size(1), S = want.weights.size(3);
  const bool bf = batched && m.batch_first;
  REQUIRE(got.attn_output.shape() == (!batched ? Shape{L, E}
                                      : bf     ? Shape{N, L, E}
                                               : Shape{L, N, E}));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < L; ++i)
      for (int64_t e = 0; e < E; ++e) {
        const double g = !batched ? got.attn_output(i, e)
                         : bf     ? got.attn_output(n, i, e)
                                  : got.attn_output(i, n, e);
        REQUIRE(std::abs(g - want.out(n, i, e)) < kTol);
      }
  if (averaged) {
    REQUIRE(got.attn_weights.shape() == (batched ? Shape{N, L, S} : Shape{L, S}));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < S; ++j) {
          double avg = 0;
          for (int64_t h = 0; h < H; ++h) avg += want.weights(n, h, i, j) / double(H);
          const double g = batched ? got.attn_weights(n, i, j) : got.attn_weights(i, j);
          REQUIRE(std::abs(g - avg) < kTol);
        }
  } else {
    const Tensor<double> w = batched ? got.attn_weights : got.attn_weights.unsqueeze(0);
    REQUIRE(max_abs_diff(w, want.weights) < kTol);
  }
}

// Random non-zero biases, so that a missing or misplaced bias shows.
void randomise_biases(MHA& m) {
  if (m.in_proj_bias.defined()) nn::init::normal_(m.in_proj_bias);
  if (m.out_proj->bias.defined()) nn::init::normal_(m.out_proj->bias);
}

const auto no_mask = [](int64_t, int64_t, int64_t, int64_t) { return 0.0; };
}  // namespace

TEST_CASE("scaled_dot_product_attention matches a loop", "[nn][attention]") {
  kiln::manual_seed(31);
  const int64_t B = 2, H = 3, L = 4, S = 5, E = 3, Ev = 2;
  const Tensor<double> q = kiln::randn<double>({B, H, L, E}), k = kiln::randn<double>({B, H, S, E}),
                       v = kiln::randn<double>({B, H, S, Ev});
  const double scale = 1 / std::sqrt(double(E));

  SECTION("no mask, and an explicit scale") {
    REQUIRE(max_abs_diff(F::scaled_dot_product_attention(q, k, v),
                         sdpa_ref(q, k, v, no_mask, scale)) < kTol);
    REQUIRE(max_abs_diff(F::scaled_dot_product_attention(q, k, v, {}, 0.0, false, 0.7),
                         sdpa_ref(q, k, v, no_mask, 0.7)) < kTol);
  }
  SECTION("bool mask: true takes part; [L, S] broadcasts over batch and heads") {
    const BoolT keep =
        Tensor<bool>(kiln::rand<double>({L, S}) < 0.6) || bool_mask({L, S}, {0, 6, 12, 18});
    const Tensor<double> want = sdpa_ref(
        q, k, v, [&](int64_t, int64_t, int64_t i, int64_t j) { return keep(i, j) ? 0.0 : -kInf; },
        scale);
    REQUIRE(max_abs_diff(F::scaled_dot_product_attention(q, k, v, keep), want) < kTol);
  }
  SECTION("float mask is added; [B, 1, L, S] broadcasts over heads") {
    Tensor<double> add = kiln::randn<double>({B, 1, L, S});
    add(1, 0, 2, 3) = -kInf;
    const Tensor<double> want = sdpa_ref(
        q, k, v, [&](int64_t b, int64_t, int64_t i, int64_t j) { return add(b, 0, i, j); }, scale);
    REQUIRE(max_abs_diff(F::scaled_dot_product_attention(q, k, v, add), want) < kTol);
  }
  SECTION("is_causal masks key j > query i, top-left aligned when L != S") {
    const Tensor<double> want = sdpa_ref(
        q, k, v, [](int64_t, int64_t, int64_t i, int64_t j) { return j > i ? -kInf : 0.0; }, scale);
    REQUIRE(max_abs_diff(F::scaled_dot_product_attention(q, k, v, {}, 0.0, true), want) < kTol);
  }
  SECTION("batch dims broadcast: k and v [1, H, S, E] serve every batch entry") {
    const Tensor<double> k1 = kiln::randn<double>({1, H, S, E}),
                         v1 = kiln::randn<double>({1, H, S, Ev});
    REQUIRE(max_abs_diff(F::scaled_dot_product_attention(q, k1, v1),
                         sdpa_ref(q, k1, v1, no_mask, scale)) < kTol);
  }
  SECTION("dropout drops attention weights with the dropout layout and rescales") {
    kiln::manual_seed(99);
    const Tensor<double> y = F::scaled_dot_product_attention(q, k, v, {}, 0.4);
    kiln::manual_seed(99);
    const BoolT kept = kiln::dropout_mask({B, H, L, S}, 0.4);
    // softmax weights, dropped and scaled by 1 / 0.6, times v: built from the loop's weights.
    const Tensor<double> w =
        sdpa_ref(q, k, kiln::eye<double>(S).reshape({1, 1, S, S}).expand({B, H, S, S}).contiguous(),
                 no_mask, scale);
    Tensor<double> want({B, H, L, Ev});
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < L; ++i)
          for (int64_t c = 0; c < Ev; ++c) {
            double acc = 0;
            for (int64_t j = 0; j < S; ++j)
              acc += (kept(b, h, i, j) ? w(b, h, i, j) / 0.6 : 0.0) * v(b, h, j, c);
            want(b, h, i, c) = acc;
          }
    REQUIRE(max_abs_diff(y, want) < kTol);
    REQUIRE(max_abs_diff(y, F::scaled_dot_product_attention(q, k, v)) > 1e-3);
  }
  SECTION("a row with every key masked out is NaN (Note [Attention masks])") {
    BoolT keep = kiln::ones<bool>({L, S});
    for (int64_t j = 0; j < S; ++j) keep(1, j) = false;
    const Tensor<double> y = F::scaled_dot_product_attention(q, k, v, keep);
    REQUIRE(std::isnan(y(0, 0, 1, 0)));
    REQUIRE(std::isfinite(y(0, 0, 0, 0)));
  }
  SECTION("bad shapes and arguments") {
    REQUIRE_THROWS_AS(F::scaled_dot_product_attention(q, kiln::randn<double>({B, H, S, E + 1}), v),
                      kiln::ShapeError);
    REQUIRE_THROWS_AS(F::scaled_dot_product_attention(q, k, kiln::randn<double>({B, H, S + 1, Ev})),
                      kiln::ShapeError);
    REQUIRE_THROWS_AS(F::scaled_dot_product_attention(kiln::randn<double>({E}), k, v),
                      kiln::ShapeError);
    REQUIRE_THROWS_AS(F::scaled_dot_product_attention(q, k, v, kiln::ones<bool>({L, S + 1})),
                      kiln::ShapeError);
    REQUIRE_THROWS_AS(F::scaled_dot_product_attention(q, k, v, kiln::zeros<double>({4, L, S})),
                      kiln::ShapeError);
    REQUIRE_THROWS_AS(F::scaled_dot_product_attention(q, k, v, kiln::ones<bool>({L, S}), 0.0, true),
                      kiln::ValueError);
    REQUIRE_THROWS_AS(F::scaled_dot_product_attention(q, k, v, {}, 1.5), kiln::ValueError);
  }
}

TEST_CASE("MultiheadAttention matches a loop", "[nn][attention]") {
  kiln::manual_seed(32);
  const int64_t E = 6, H = 2, L = 3, S = 4, N = 2;

  SECTION("self-attention [L, N, E], averaged weights; one packed projection or three agree") {
    MHA m(E, H);
    randomise_biases(m);
    const Tensor<double> x = kiln::randn<double>({L, N, E});
    const auto got = m(x, x, x);
    check_mha(m, got, mha_ref(m, x, x, x, no_mask), true, true);
    // Copies take the three-projection path: the same values.
    const auto sep = m(x, x.clone(), x.clone());
    REQUIRE(max_abs_diff(got.attn_output, sep.attn_output) < kTol);
    REQUIRE_FALSE(m(x, x, x, {}, /*need_weights=*/false).attn_weights.defined());
  }
  SECTION("cross-attention: bool key_padding_mask and bool [L, S] attn_mask, per-head weights") {
    MHA m(E, H);
    randomise_biases(m);
    const Tensor<double> q = kiln::randn<double>({L, N, E}), k = kiln::randn<double>({S, N, E}),
                         v = kiln::randn<double>({S, N, E});
    const BoolT kpm = bool_mask({N, S}, {3, 4, 5});  // n=0: key 3; n=1: keys 0, 1
    const BoolT am = bool_mask({L, S}, {1, 2, 6});   // (0,1) (0,2) (1,2) not allowed
    const auto add = [&](int64_t n, int64_t, int64_t i, int64_t j) {
      return kpm(n, j) || am(i, j) ? -kInf : 0.0;
    };
    check_mha(m, m(q, k, v, kpm, true, am, /*average_attn_weights=*/false),
              mha_ref(m, q, k, v, add), true, false);
    check_mha(m, m(q, k, v, kpm, true, am), mha_ref(m, q, k, v, add), true, true);
  }
  SECTION("key is value: float [N * heads, L, S] attn_mask and float key_padding_mask add up") {
    MHA m(E, H);
    randomise_biases(m);
    const Tensor<double> q = kiln::randn<double>({L, N, E}), kv = kiln::randn<double>({S, N, E});
    Tensor<double> am = kiln::randn<double>({N * H, L, S});
    am(3, 2, 1) = -kInf;
    const Tensor<double> kpm = kiln::randn<double>({N, S});
    const auto add = [&](int64_t n, int64_t h, int64_t i, int64_t j) {
      return am(n * H + h, i, j) + kpm(n, j);
    };
    check_mha(m, m(q, kv, kv, kpm, true, am, false), mha_ref(m, q, kv, kv, add), true, false);
  }
  SECTION(
      "bool key_padding_mask with a float attn_mask, and a float key_padding_mask with a bool "
      "one") {
    MHA m(E, H);
    randomise_biases(m);
    const Tensor<double> q = kiln::randn<double>({L, N, E}), k = kiln::randn<double>({S, N, E});
    const BoolT kpm = bool_mask({N, S}, {0, 7});
    const Tensor<double> am = kiln::randn<double>({L, S});
    check_mha(m, m(q, k, k, kpm, true, am, false),
              mha_ref(m, q, k, k,
                      [&](int64_t n, int64_t, int64_t i, int64_t j) {
                        return kpm(n, j) ? -kInf : am(i, j);
                      }),
              true, false);
    const Tensor<double> fkpm = kiln::randn<double>({N, S});
    const BoolT bam = bool_mask({L, S}, {3, 9});
    check_mha(m, m(q, k, k, fkpm, true, bam, false),
              mha_ref(m, q, k, k,
                      [&](int64_t n, int64_t, int64_t i, int64_t j) {
                        return bam(i, j) ? -kInf : fkpm(n, j);
                      }),
              true, false);
  }
  SECTION("batch_first with a bool [N * heads, L, S] attn_mask and a key_padding_mask") {
    MHA m(E, H, {.batch_first = true});
    randomise_biases(m);
    const Tensor<double> q = kiln::randn<double>({N, L, E}), k = kiln::randn<double>({N, S, E}),
                         v = kiln::randn<double>({N, S, E});
    const BoolT am = bool_mask({N * H, L, S}, {0, 5, 13, 22, 30, 47});
    const BoolT kpm = bool_mask({N, S}, {2});
    const auto add = [&](int64_t n, int64_t h, int64_t i, int64_t j) {
      return am(n * H + h, i, j) || kpm(n, j) ? -kInf : 0.0;
    };
    check_mha(m, m(q, k, v, kpm, true, am, false), mha_ref(m, q, k, v, add), true, false);
    // Self-attention in batch_first layout.
    check_mha(m, m(q, q, q), mha_ref(m, q, q, q, no_mask), true, true);
  }
  SECTION("unbatched [L, E] input, [S] key_padding_mask, [heads, L, S] attn_mask") {
    MHA m(E, 3);
    randomise_biases(m);
    const Tensor<double> q = kiln::randn<double>({L, E}), k = kiln::randn<double>({S, E}),
                         v = kiln::randn<double>({S, E});
    const BoolT kpm = bool_mask({S}, {1});
    const Tensor<double> am = kiln::randn<double>({3, L, S});
    const auto add = [&](int64_t, int64_t h, int64_t i, int64_t j) {
      return kpm(j) ? -kInf : am(h, i, j);
    };
    check_mha(m, m(q, k, v, kpm, true, am), mha_ref(m, q, k, v, add), false, true);
    check_mha(m, m(q, k, v, kpm, true, am, false), mha_ref(m, q, k, v, add), false, false);
    check_mha(m, m(q, q, q), mha_ref(m, q, q, q, no_mask), false, true);
  }
  SECTION("kdim and vdim differ from embed_dim: separate q, k, v projections") {
    MHA m(E, H, {.kdim = 5, .vdim = 3});
    randomise_biases(m);
    const Tensor<double> q = kiln::randn<double>({L, N, E}), k = kiln::randn<double>({S, N, 5}),
                         v = kiln::randn<double>({S, N, 3});
    const BoolT kpm = bool_mask({N, S}, {0});
    const auto add = [&](int64_t n, int64_t, int64_t, int64_t j) {
      return kpm(n, j) ? -kInf : 0.0;
    };
    check_mha(m, m(q, k, v, kpm, true, {}, false), mha_ref(m, q, k, v, add), true, false);
    MHA nb(E, H, {.bias = false, .kdim = 5, .vdim = 3, .batch_first = true});
    const Tensor<double> qb = q.transpose(0, 1), kb = k.transpose(0, 1), vb = v.transpose(0, 1);
    check_mha(nb, nb(qb, kb, vb), mha_ref(nb, qb, kb, vb, no_mask), true, true);
  }
  SECTION("is_causal without attn_mask builds the causal mask; with one, the mask is used") {
    MHA m(E, H);
    randomise_biases(m);
    const Tensor<double> x = kiln::randn<double>({L, N, E});
    const BoolT kpm = bool_mask({N, L}, {4});
    const auto causal = [&](int64_t n, int64_t, int64_t i, int64_t j) {
      return j > i || kpm(n, j) ? -kInf : 0.0;
    };
    check_mha(m, m(x, x, x, kpm, true, {}, false, /*is_causal=*/true), mha_ref(m, x, x, x, causal),
              true, false);
    const BoolT triu = kiln::triu(kiln::ones<bool>({L, L}), 1);
    REQUIRE(max_abs_diff(m(x, x, x, {}, true, triu, true, true).attn_output,
                         m(x, x, x, {}, true, {}, true, true).attn_output) == 0);
  }
  SECTION("a query whose keys are all padded gives NaN, the others are finite") {
    MHA m(E, H);
    const Tensor<double> x = kiln::randn<double>({L, N, E});
    const BoolT kpm = bool_mask({N, L}, {3, 4, 5});  // batch entry 1 fully padded
    const auto r = m(x, x, x, kpm);
    REQUIRE(std::isnan(r.attn_output(0, 1, 0)));
    REQUIRE(std::isfinite(r.attn_output(0, 0, 0)));
  }
  SECTION("float modules agree with double to float precision") {
    kiln::manual_seed(5);
    nn::MultiheadAttention<float> mf(E, H);
    MHA md(E, H);
    auto sd = mf.state_dict();
    kiln::nn::StateDict<double> sdd;
    for (const auto& [name, t] : sd) sdd.insert(name, Tensor<double>(t.to<double>()));
    md.load_state_dict(sdd);
    const Tensor<double> x = kiln::randn<double>({L, N, E});
    const Tensor<float> xf = x.to<float>();
    const Tensor<double> yf = mf(xf, xf, xf).attn_output.to<double>();
    REQUIRE(max_abs_diff(yf, md(x, x, x).attn_output) < 1e-5);
  }
}

TEST_CASE("MultiheadAttention: torch's parameters, initialisation, errors and repr",
          "[nn][attention]") {
  kiln::manual_seed(33);
  MHA m(8, 2);
  REQUIRE(keys(m.named_parameters()) == std::vector<std::string>{"in_proj_weight", "in_proj_bias",
                                                                 "out_proj.weight",
                                                                 "out_proj.bias"});
  REQUIRE(keys(m.state_dict()) == keys(m.named_parameters()));
  REQUIRE(m.in_proj_weight.shape() == Shape{24, 8});
  REQUIRE(m.in_proj_bias.shape() == Shape{24});
  REQUIRE(m.out_proj->weight.shape() == Shape{8, 8});
  REQUIRE(m.head_dim == 4);
  // xavier_uniform_ on [3E, E]: bound sqrt(6 / (E + 3E)); zero biases; Linear's weight.
  const double xb = std::sqrt(6.0 / 32);
  REQUIRE(kiln::amax(kiln::abs(m.in_proj_weight)).item() <= xb);
  REQUIRE(kiln::amax(kiln::abs(m.in_proj_weight)).item() > 0.8 * xb);
  REQUIRE(kiln::amax(kiln::abs(m.in_proj_bias)).item() == 0);
  REQUIRE(kiln::amax(kiln::abs(m.out_proj->bias)).item() == 0);
  REQUIRE(kiln::amax(kiln::abs(m.out_proj->weight)).item() <= 1 / std::sqrt(8.0));
  for (const auto& t : m.parameters()) REQUIRE(t.requires_grad());

  MHA sep(8, 2, {.kdim = 3, .vdim = 5});
  REQUIRE(keys(sep.named_parameters()) ==
          std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight",
                                   "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  REQUIRE(sep.k_proj_weight.shape() == Shape{8, 3});
  REQUIRE(sep.v_proj_weight.shape() == Shape{8, 5});
  REQUIRE(kiln::amax(kiln::abs(sep.k_proj_weight)).item() <= std::sqrt(6.0 / 11));
  MHA nb(8, 2, {.bias = false});
  REQUIRE(keys(nb.named_parameters()) ==
          std::vector<std::string>{"in_proj_weight", "out_proj.weight"});

  REQUIRE(
      m.repr() ==
      "MultiheadAttention(\n"
      "  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)\n"
      ")");

  REQUIRE_THROWS_AS(MHA(6, 4), kiln::ValueError);
  REQUIRE_THROWS_AS(MHA(6, 0), kiln::ValueError);
  REQUIRE_THROWS_AS(MHA(6, 2, {.dropout = 1.5}), kiln::ValueError);
  const Tensor<double> x = kiln::randn<double>({3, 2, 8});
  REQUIRE_THROWS_AS(m(kiln::randn<double>({3, 2, 7}), x, x), kiln::ShapeError);  // E
  REQUIRE_THROWS_AS(m(x, kiln::randn<double>({3, 8}), x), kiln::ShapeError);     // ranks
  REQUIRE_THROWS_AS(m(kiln::randn<double>({8}), kiln::randn<double>({8}), kiln::randn<double>({8})),
                    kiln::ShapeError);
  REQUIRE_THROWS_AS(m(x, kiln::randn<double>({4, 3, 8}), kiln::randn<double>({4, 3, 8})),
                    kiln::ShapeError);  // batch sizes
  REQUIRE_THROWS_AS(m(x, kiln::randn<double>({4, 2, 8}), kiln::randn<double>({5, 2, 8})),
                    kiln::ShapeError);  // key vs value length
  REQUIRE_THROWS_AS(m(x, x, x, kiln::zeros<bool>({2, 4})), kiln::ShapeError);
  REQUIRE_THROWS_AS(m(x, x, x, kiln::zeros<bool>({3, 2})), kiln::ShapeError);
  REQUIRE_THROWS_AS(m(x, x, x, {}, true, kiln::zeros<bool>({3, 4})), kiln::ShapeError);
  REQUIRE_THROWS_AS(m(x, x, x, {}, true, kiln::zeros<double>({2, 3, 3})), kiln::ShapeError);
  REQUIRE_THROWS_AS(m(x, x, x, {}, true, kiln::zeros<double>({1, 3, 3, 3})), kiln::ShapeError);
  REQUIRE_THROWS_AS(sep(x, x, x), kiln::ShapeError);  // kdim 3 expected
  try {
    m(x, x, x, kiln::zeros<bool>({2, 4}));
  } catch (const kiln::ShapeError& e) {
    const std::string msg = e.what();
    REQUIRE(msg.find("[nn::MultiheadAttention]") != std::string::npos);
    REQUIRE(msg.find("[2, 3]") != std::string::npos);
    REQUIRE(msg.find("[2, 4]") != std::string::npos);
  }
}

TEST_CASE("MultiheadAttention gradients match finite differences", "[nn][attention][autograd]") {
  kiln::manual_seed(34);
  MHA m(4, 2);
  randomise_biases(m);
  const Tensor<double> q = kiln::randn<double>({2, 1, 4}).requires_grad_();
  const Tensor<double> kv = kiln::randn<double>({3, 1, 4}).requires_grad_();
  const BoolT kpm = bool_mask({1, 3}, {1});
  const Tensor<double> am = kiln::randn<double>({2, 3});
  // Cross-attention (key is value) with both masks: inputs, in_proj_weight, out_proj.weight.
  REQUIRE(kiln::autograd::gradcheck(
      [&](const std::vector<Tensor<double>>& in) {
        const auto r = m(in[0], in[1], in[1], kpm, true, am);
        return std::vector<Tensor<double>>{r.attn_output, r.attn_weights};
      },
      {q, kv, m.in_proj_weight, m.out_proj->weight}));
  // Self-attention (one packed projection), causal, and the in_proj_bias.
  REQUIRE(kiln::autograd::gradcheck(
      [&](const std::vector<Tensor<double>>& in) {
        return m(in[0], in[0], in[0], {}, false, {}, true, true).attn_output;
      },
      {kv, m.in_proj_weight, m.in_proj_bias}));
  // Separate projections.
  MHA s(4, 2, {.kdim = 3, .vdim = 2, .batch_first = true});
  const Tensor<double> k3 = kiln::randn<double>({1, 3, 3}).requires_grad_();
  const Tensor<double> v2 = kiln::randn<double>({1, 3, 2}).requires_grad_();
  const Tensor<double> q2 = kiln::randn<double>({1, 2, 4}).requires_grad_();
  REQUIRE(kiln::autograd::gradcheck(
      [&](const std::vector<Tensor<double>>& in) {
        return s(in[0], in[1], in[2], {}, true, {}, false).attn_weights;
      },
      {q2, k3, v2, s.k_proj_weight, s.v_proj_weight}));
  // scaled_dot_product_attention with a float mask.
  const Tensor<double> a = kiln::randn<double>({2, 3, 2}).requires_grad_();
  const Tensor<double> b = kiln::randn<double>({2, 4, 2}).requires_grad_();
  const Tensor<double> c = kiln::randn<double>({2, 4, 3}).requires_grad_();
  const Tensor<double> fm = kiln::randn<double>({3, 4});
  REQUIRE(kiln::autograd::gradcheck(
      [&](const std::vector<Tensor<double>>& in) {
        return F::scaled_dot_product_attention(in[0], in[1], in[2], fm);
      },
      {a, b, c}));
}

namespace {
// A TransformerEncoderLayer by hand from its own children's parameters (eval mode).
// `drop(site, y)` stands for the dropouts: after self-attention (site 1), on the
// feed-forward's hidden activations (0) and after the feed-forward (2).
using DropFn = std::function<Tensor<double>(int, const Tensor<double>&)>;
Tensor<double> encoder_ref(
    nn::TransformerEncoderLayer<double>& t, const Tensor<double>& x,
    const nn::AttentionMask<double>& mask, const nn::AttentionMask<double>& kpm, bool is_causal,
    const DropFn& drop = [](int, const Tensor<double>& y) { return y; }) {
  const auto sa = [&](const Tensor<double>& y) {
    return drop(1, t.self_attn->forward(y, y, y, kpm, false, mask, true, is_causal).attn_output);
  };
  const auto ff = [&](const Tensor<double>& y) {
    const Tensor<double> h = kiln::linear(y, t.linear1->weight, t.linear1->bias);
    const Tensor<double> a = t.options.activation == "gelu" ? Tensor<double>(kiln::gelu(h))
                                                            : Tensor<double>(kiln::relu(h));
    return drop(2, kiln::linear(drop(0, a), t.linear2->weight, t.linear2->bias));
  };
  const auto ln = [&](const Tensor<double>& y, const nn::LayerNorm<double>& n) {
    return F::layer_norm(y, n.normalized_shape, n.weight, n.bias, n.eps);
  };
  if (t.norm_first) {
    const Tensor<double> h = x + sa(ln(x, *t.norm1));
    return Tensor<double>(h + ff(ln(h, *t.norm2)));
  }
  const Tensor<double> h = ln(x + sa(x), *t.norm1);
  return ln(h + ff(h), *t.norm2);
}

void randomise(nn::Module<double>& m) {
  for (const auto& [name, p] : m.named_parameters()) nn::init::normal_(p, 0.0, 0.5);
}
}  // namespace

TEST_CASE("TransformerEncoderLayer: torch's children, post-norm and pre-norm", "[nn][attention]") {
  kiln::manual_seed(35);
  const int64_t E = 4, S = 3, N = 2;
  nn::TransformerEncoderLayer<double> t(E, 2, {.dim_feedforward = 6});
  REQUIRE(keys(t.named_parameters()) ==
          std::vector<std::string>{
              "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
              "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
              "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"});
  REQUIRE(keys(t.state_dict()) == keys(t.named_parameters()));
  REQUIRE(t.linear1->weight.shape() == Shape{6, 4});
  REQUIRE(
      t.repr() ==
      "TransformerEncoderLayer(\n"
      "  (self_attn): MultiheadAttention(\n"
      "    (out_proj): NonDynamicallyQuantizableLinear(in_features=4, out_features=4, bias=True)\n"
      "  )\n"
      "  (linear1): Linear(in_features=4, out_features=6, bias=True)\n"
      "  (dropout): Dropout(p=0.1, inplace=False)\n"
      "  (linear2): Linear(in_features=6, out_features=4, bias=True)\n"
      "  (norm1): LayerNorm((4,), eps=1e-05, elementwise_affine=True)\n"
      "  (norm2): LayerNorm((4,), eps=1e-05, elementwise_affine=True)\n"
      "  (dropout1): Dropout(p=0.1, inplace=False)\n"
      "  (dropout2): Dropout(p=0.1, inplace=False)\n"
      ")");
  nn::TransformerEncoderLayer<double> nb(E, 2, {.dim_feedforward = 6, .bias = false});
  REQUIRE(keys(nb.named_parameters()) ==
          std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.out_proj.weight",
                                   "linear1.weight", "linear2.weight", "norm1.weight",
                                   "norm2.weight"});
  REQUIRE_THROWS_AS(nn::TransformerEncoderLayer<double>(E, 2, {.activation = "tanh"}),
                    kiln::ValueError);
  REQUIRE_THROWS_AS(nn::TransformerEncoderLayer<double>(E, 3), kiln::ValueError);

  const BoolT mask = bool_mask({S, S}, {1});
  const BoolT kpm = bool_mask({N, S}, {2});
  for (const bool norm_first : {false, true})
    for (const std::string act : {"relu", "gelu"})
      for (const bool batch_first : {false, true}) {
        nn::TransformerEncoderLayer<double> l(E, 2,
                                              {.dim_feedforward = 6,
                                               .activation = act,
                                               .batch_first = batch_first,
                                               .norm_first = norm_first});
        randomise(l);
        l.eval();
        const Tensor<double> x = kiln::randn<double>(batch_first ? Shape{N, S, E} : Shape{S, N, E});
        REQUIRE(max_abs_diff(l(x, mask, kpm), encoder_ref(l, x, mask, kpm, false)) < kTol);
        REQUIRE(max_abs_diff(l(x), encoder_ref(l, x, {}, {}, false)) < kTol);
        REQUIRE(max_abs_diff(l(x, {}, kpm, true), encoder_ref(l, x, {}, kpm, true)) < kTol);
        const Tensor<double> u = kiln::randn<double>({S, E});  // unbatched
        REQUIRE(max_abs_diff(l(u), encoder_ref(l, u, {}, {}, false)) < kTol);
      }
  // The reference is not the layer's own forward: post-norm and pre-norm differ.
  nn::TransformerEncoderLayer<double> post(E, 2, {.dim_feedforward = 6});
  nn::TransformerEncoderLayer<double> pre(E, 2, {.dim_feedforward = 6, .norm_first = true});
  randomise(post);
  pre.load_state_dict(post.state_dict());
  post.eval(), pre.eval();
  const Tensor<double> x = kiln::randn<double>({S, N, E});
  REQUIRE(max_abs_diff(post(x), pre(x)) > 1e-3);
}

TEST_CASE("TransformerEncoderLayer: dropout in training mode only", "[nn][attention]") {
  kiln::manual_seed(36);
  nn::TransformerEncoderLayer<double> t(4, 2, {.dim_feedforward = 8, .dropout = 0.5});
  nn::TransformerEncoderLayer<double> t0(4, 2, {.dim_feedforward = 8, .dropout = 0.0});
  t0.load_state_dict(t.state_dict());
  const Tensor<double> x = kiln::randn<double>({5, 3, 4});
  REQUIRE(t.is_training());
  const Tensor<double> a = t(x), b = t(x), z = t0(x);  // t0 has no dropout, even training
  REQUIRE(max_abs_diff(a, b) > 1e-3);
  REQUIRE(max_abs_diff(a, z) > 1e-3);
  t.eval();
  REQUIRE(max_abs_diff(t(x), z) < kTol);
  REQUIRE(max_abs_diff(t(x), t(x)) == 0);
  REQUIRE(!t.self_attn->is_training());

  // Each dropout site on its own, against the reference with the same keep-masks
  // (dropout_mask draws what dropout draws for one seed).
  const double p = 0.4;
  for (int site = 0; site < 3; ++site) {
    nn::TransformerEncoderLayer<double> l(4, 2, {.dim_feedforward = 8, .dropout = 0.0});
    randomise(l);
    (site == 0 ? l.dropout : site == 1 ? l.dropout1 : l.dropout2)->p = p;
    kiln::manual_seed(50 + site);
    const Tensor<double> got = l(x);
    kiln::manual_seed(50 + site);
    const BoolT keep = kiln::dropout_mask(site == 0 ? Shape{5, 3, 8} : Shape{5, 3, 4}, p);
    const Tensor<double> want =
        encoder_ref(l, x, {}, {}, false, [&](int s, const Tensor<double>& y) {
          return s != site ? y : Tensor<double>(y * kiln::cast<double>(keep) * (1 / (1 - p)));
        });
    REQUIRE(max_abs_diff(got, want) < kTol);
    l.eval();
    REQUIRE(max_abs_diff(l(x), encoder_ref(l, x, {}, {}, false)) < kTol);
  }

  // MultiheadAttention's own dropout acts on the weights in training only, and the
  // returned weights are the dropped ones (as torch's).
  MHA m(4, 2, {.dropout = 0.5});
  const Tensor<double> y = kiln::randn<double>({6, 1, 4});
  kiln::manual_seed(60);
  const Tensor<double> wt = m(y, y, y, {}, true, {}, false).attn_weights;
  kiln::manual_seed(60);
  const BoolT keep = kiln::dropout_mask({1, 2, 6, 6}, 0.5);
  m.eval();
  const Tensor<double> we = m(y, y, y, {}, true, {}, false).attn_weights;
  REQUIRE(kiln::amax(kiln::abs(kiln::sum(we, -1) - 1.0)).item() < 1e-12);
  REQUIRE(max_abs_diff(wt, Tensor<double>(we * kiln::cast<double>(keep) * 2.0)) < kTol);
}

TEST_CASE("TransformerEncoder stacks independent copies of a layer", "[nn][attention]") {
  kiln::manual_seed(37);
  nn::TransformerEncoderLayer<double> proto(4, 2, {.dim_feedforward = 6, .dropout = 0.0});
  randomise(proto);
  nn::TransformerEncoder<double> enc(proto, 2, std::make_shared<nn::LayerNorm<double>>(Shape{4}));
  const auto names = keys(enc.named_parameters());
  REQUIRE(names.size() == 2 * 12 + 2);
  REQUIRE(names[0] == "layers.0.self_attn.in_proj_weight");
  REQUIRE(names[12] == "layers.1.self_attn.in_proj_weight");
  REQUIRE(names[24] == "norm.weight");
  REQUIRE(max_abs_diff(enc.layer(1)->linear1->weight, proto.linear1->weight) == 0);
  // Copies, not shared: changing one layer leaves the prototype and the other alone.
  nn::init::zeros_(enc.layer(0)->linear1->weight);
  REQUIRE(kiln::amax(kiln::abs(proto.linear1->weight)).item() > 0);
  REQUIRE(kiln::amax(kiln::abs(enc.layer(1)->linear1->weight)).item() > 0);
  enc.eval();
  const Tensor<double> x = kiln::randn<double>({3, 2, 4});
  const BoolT kpm = bool_mask({2, 3}, {2});  // causal: key 0 must stay visible
  const Tensor<double> want = enc.norm->forward(
      enc.layer(1)->forward(enc.layer(0)->forward(x, {}, kpm, true), {}, kpm, true));
  REQUIRE(max_abs_diff(enc(x, {}, kpm, true), want) == 0);
  REQUIRE_THROWS_AS(enc.layer(2), kiln::IndexError);
  // A layer is a UnaryModule: Sequential chains it.
  nn::Sequential<double> seq{enc.layer(0), enc.layer(1)};
  REQUIRE(max_abs_diff(seq(x), enc.layer(1)->forward(enc.layer(0)->forward(x))) == 0);
}

TEST_CASE("the functional forms take the modules' parameters", "[nn][attention]") {
  kiln::manual_seed(38);
  MHA m(4, 2, {.kdim = 3, .vdim = 5, .batch_first = true});
  const Tensor<double> q = kiln::randn<double>({2, 3, 4}), k = kiln::randn<double>({2, 6, 3});
  const Tensor<double> v = kiln::randn<double>({2, 6, 5});
  const BoolT kpm = bool_mask({2, 6}, {1, 7});
  const auto want = m(q, k, v, kpm, true, {}, false);
  const auto got = F::multi_head_attention_forward(q, k, v, 2, m.weights(), kpm, true, {}, false,
                                                   false, 0.0, true);
  REQUIRE(max_abs_diff(got.attn_output, want.attn_output) == 0);
  REQUIRE(max_abs_diff(got.attn_weights, want.attn_weights) == 0);
  REQUIRE_FALSE(F::multi_head_attention_forward(q, k, v, 2, m.weights(), {}, false, {}, true, false,
                                                0.0, true)
                    .attn_weights.defined());
  // Weights that do not fit together are refused before any math.
  nn::MultiheadAttentionWeights<double> w = m.weights();
  w.in_proj_weight = kiln::zeros<double>({12, 4});  // both packed and separate
  REQUIRE_THROWS_AS(F::multi_head_attention_forward(q, k, v, 2, w, {}), kiln::ValueError);
  w = m.weights();
  w.out_proj_bias = {};
  REQUIRE_THROWS_AS(F::multi_head_attention_forward(q, k, v, 2, w, {}), kiln::ValueError);
  REQUIRE_THROWS_AS(F::multi_head_attention_forward(q, k, v, 3, m.weights(), {}), kiln::ValueError);

  nn::TransformerEncoderLayer<double> t(4, 2, {.dim_feedforward = 6, .norm_first = true});
  randomise(t);
  t.eval();
  const Tensor<double> x = kiln::randn<double>({3, 2, 4});
  nn::EncoderLayerConfig c = t.config();
  REQUIRE(c.ff_dropout == 0);  // eval mode turns every site off
  REQUIRE(max_abs_diff(F::transformer_encoder_layer(x, t.weights(), c), t(x)) == 0);
  c.activation = "tanh";
  REQUIRE_THROWS_AS(F::transformer_encoder_layer(x, t.weights(), c), kiln::ValueError);
  nn::TransformerEncoderLayerWeights<double> tw = t.weights();
  tw.linear2_weight = kiln::zeros<double>({4, 5});
  REQUIRE_THROWS_AS(F::transformer_encoder_layer(x, tw, t.config()), kiln::ShapeError);
  REQUIRE_THROWS_AS(
      F::transformer_encoder_layer(kiln::randn<double>({3, 2, 5}), t.weights(), t.config()),
      kiln::ShapeError);
  t.norm2->eps = 1e-3;  // one eps serves both norms in the functional form
  REQUIRE_THROWS_AS(t(x), kiln::ValueError);
}
