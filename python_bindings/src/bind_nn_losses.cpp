// SPDX-License-Identifier: BSD-3-Clause
// The C++ losses and distances behind kiln.nn's: smooth L1, Huber, binary cross entropy
// (on probabilities and on logits), KL divergence, cross entropy with probability
// targets, cosine similarity, pairwise distance and the triplet margin loss.
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "kiln/nn/functional.hpp"
#include "nn_args.hpp"

namespace kiln::python {

namespace {

namespace F = kiln::nn::functional;

// Calls fn<T>() for the dtype that `x` and every other given tensor share.
template <class Fn>
DynTensor one_dtype(const char* op, const DynTensor& x,
                    std::initializer_list<const DynTensor*> others, Fn&& fn) {
  return dispatch_floating(layer_dtype(op, x, others), op,
                           [&]<class T>() { return DynTensor(fn.template operator()<T>()); });
}

DynTensor smooth_l1_loss_of(const DynTensor& input, const DynTensor& target,
                            const std::string& reduction, double beta) {
  return one_dtype("smooth_l1_loss", input, {&target}, [&]<class T>() {
    return F::smooth_l1_loss(input.as<T>(), target.as<T>(), reduction_of(reduction), beta);
  });
}

DynTensor huber_loss_of(const DynTensor& input, const DynTensor& target,
                        const std::string& reduction, double delta) {
  return one_dtype("huber_loss", input, {&target}, [&]<class T>() {
    return F::huber_loss(input.as<T>(), target.as<T>(), reduction_of(reduction), delta);
  });
}

DynTensor binary_cross_entropy_of(const DynTensor& input, const DynTensor& target,
                                  const std::optional<DynTensor>& weight,
                                  const std::string& reduction) {
  return one_dtype("binary_cross_entropy", input, {&target, ptr(weight)}, [&]<class T>() {
    return F::binary_cross_entropy(input.as<T>(), target.as<T>(), typed_or_undefined<T>(weight),
                                   reduction_of(reduction));
  });
}

DynTensor binary_cross_entropy_with_logits_of(const DynTensor& input, const DynTensor& target,
                                              const std::optional<DynTensor>& weight,
                                              const std::string& reduction,
                                              const std::optional<DynTensor>& pos_weight) {
  return one_dtype("binary_cross_entropy_with_logits", input,
                   {&target, ptr(weight), ptr(pos_weight)}, [&]<class T>() {
                     return F::binary_cross_entropy_with_logits(
                         input.as<T>(), target.as<T>(), typed_or_undefined<T>(weight),
                         reduction_of(reduction), typed_or_undefined<T>(pos_weight));
                   });
}

// reduction may also be torch's "batchmean": the sum divided by the batch size.
DynTensor kl_div_of(const DynTensor& input, const DynTensor& target, const std::string& reduction,
                    bool log_target) {
  const bool batchmean = reduction == "batchmean";
  return one_dtype("kl_div", input, {&target}, [&]<class T>() {
    return F::kl_div(input.as<T>(), target.as<T>(),
                     batchmean ? nn::Reduction::sum : reduction_of(reduction), log_target,
                     batchmean);
  });
}

DynTensor cross_entropy_probs_of(const DynTensor& input, const DynTensor& target,
                                 const std::optional<DynTensor>& weight,
                                 const std::string& reduction, double label_smoothing) {
  return one_dtype("cross_entropy", input, {&target, ptr(weight)}, [&]<class T>() {
    nn::functional::ClassLossOptions<T> o;
    o.weight = typed_or_undefined<T>(weight);
    o.reduction = reduction_of(reduction);
    o.label_smoothing = label_smoothing;
    return F::cross_entropy(input.as<T>(), target.as<T>(), o);
  });
}

DynTensor cosine_similarity_of(const DynTensor& x1, const DynTensor& x2, int64_t dim, double eps) {
  return one_dtype("cosine_similarity", x1, {&x2}, [&]<class T>() {
    return F::cosine_similarity(x1.as<T>(), x2.as<T>(), dim, eps);
  });
}

DynTensor pairwise_distance_of(const DynTensor& x1, const DynTensor& x2, double p, double eps,
                               bool keepdim) {
  return one_dtype("pairwise_distance", x1, {&x2}, [&]<class T>() {
    const Tensor<T, CPU> d = F::pairwise_distance(x1.as<T>(), x2.as<T>(), p, eps);
    return keepdim ? d.unsqueeze(-1) : d;
  });
}

DynTensor triplet_margin_loss_of(const DynTensor& anchor, const DynTensor& positive,
                                 const DynTensor& negative, double margin, double p, double eps,
                                 bool swap, const std::string& reduction) {
  return one_dtype("triplet_margin_loss", anchor, {&positive, &negative}, [&]<class T>() {
    return F::triplet_margin_loss(anchor.as<T>(), positive.as<T>(), negative.as<T>(), margin, p,
                                  eps, swap, reduction_of(reduction));
  });
}

}  // namespace

void bind_nn_losses(py::module_& m) {
  using py::arg;
  m.def("_smooth_l1_loss", &smooth_l1_loss_of, arg("input"), arg("target"),
        arg("reduction") = "mean", arg("beta") = 1.0);
  m.def("_huber_loss", &huber_loss_of, arg("input"), arg("target"), arg("reduction") = "mean",
        arg("delta") = 1.0);
  m.def("_binary_cross_entropy", &binary_cross_entropy_of, arg("input"), arg("target"),
        arg("weight") = py::none(), arg("reduction") = "mean");
  m.def("_binary_cross_entropy_with_logits", &binary_cross_entropy_with_logits_of, arg("input"),
        arg("target"), arg("weight") = py::none(), arg("reduction") = "mean",
        arg("pos_weight") = py::none());
  m.def("_kl_div", &kl_div_of, arg("input"), arg("target"), arg("reduction") = "mean",
        arg("log_target") = false);
  m.def("_cross_entropy_probs", &cross_entropy_probs_of, arg("input"), arg("target"),
        arg("weight") = py::none(), arg("reduction") = "mean", arg("label_smoothing") = 0.0);
  m.def("_cosine_similarity", &cosine_similarity_of, arg("x1"), arg("x2"), arg("dim") = 1,
        arg("eps") = 1e-8);
  m.def("_pairwise_distance", &pairwise_distance_of, arg("x1"), arg("x2"), arg("p") = 2.0,
        arg("eps") = 1e-6, arg("keepdim") = false);
  m.def("_triplet_margin_loss", &triplet_margin_loss_of, arg("anchor"), arg("positive"),
        arg("negative"), arg("margin") = 1.0, arg("p") = 2.0, arg("eps") = 1e-6,
        arg("swap") = false, arg("reduction") = "mean");
}

}  // namespace kiln::python
