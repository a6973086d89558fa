// SPDX-License-Identifier: BSD-3-Clause
// Embedding: a lookup table of num_embeddings vectors (torch.nn.Embedding).
#pragma once

#include <optional>
#include <string>

#include "kiln/nn/init.hpp"
#include "kiln/nn/module.hpp"
#include "kiln/ops/index.hpp"

namespace kiln::nn {

/// weight [num_embeddings, embedding_dim] ~ N(0, 1), the padding row zero. forward takes
/// int64 ids of any shape and returns [..., embedding_dim]; the padding row gets no
/// gradient. Takes ids, not Tensor<T>, so it is a Module rather than a UnaryModule.
template <class T = float, class D = CPU>
class Embedding : public Module<T, D> {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim,
            std::optional<int64_t> padding_idx = std::nullopt)
      : Module<T, D>("Embedding"), num_embeddings(num_embeddings), embedding_dim(embedding_dim) {
    KILN_CHECK(num_embeddings > 0 && embedding_dim > 0, ValueError,
               "[nn::Embedding] sizes must be positive, got ", num_embeddings, " x ",
               embedding_dim);
    if (padding_idx) {
      KILN_CHECK(*padding_idx >= -num_embeddings && *padding_idx < num_embeddings, ValueError,
                 "[nn::Embedding] padding_idx ", *padding_idx, " must be within num_embeddings ",
                 num_embeddings);
      this->padding_idx = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
    }
    weight = this->register_parameter("weight", Tensor<T, D>({num_embeddings, embedding_dim}));
    reset_parameters();
  }
  void reset_parameters() {
    init::normal_(weight);
    if (padding_idx) {
      NoGradGuard g;
      weight.select(0, *padding_idx).fill_(T(0));
    }
  }
  Tensor<T, D> forward(const Tensor<int64_t, D>& ids) {
    return kiln::embedding(weight, ids, padding_idx);
  }
  Tensor<T, D> operator()(const Tensor<int64_t, D>& ids) { return forward(ids); }
  std::string extra_repr() const override {
    std::string s = std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
    if (padding_idx) s += ", padding_idx=" + std::to_string(*padding_idx);
    return s;
  }
  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;
  Tensor<T, D> weight;
};

}  // namespace kiln::nn
