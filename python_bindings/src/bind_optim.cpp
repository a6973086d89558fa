// SPDX-License-Identifier: BSD-3-Clause
// The C++ optimizers' per-parameter update rules (sgd_step, adam_step, rmsprop_step,
// adagrad_step), which kiln.optim's classes call once per parameter, and gradient clipping.
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "bindings.hpp"
#include "kiln/nn/clip_grad.hpp"
#include "kiln/optim.hpp"

namespace kiln::python {

namespace {

// Every tensor of one step shares the parameter's dtype: the fused pass is typed, and a
// silent cast would write state the optimizer then never reads back.
template <class T>
Tensor<T, CPU> typed(const char* op, ScalarType st, const DynTensor& x, const char* name) {
  KILN_CHECK(x.dtype() == st, DTypeError, "[", op, "] ", name, " has dtype ",
             scalar_type_name(x.dtype()), ", the parameter ", scalar_type_name(st));
  return x.as<T>();
}
template <class T>
Tensor<T, CPU> typed(const char* op, ScalarType st, const std::optional<DynTensor>& x,
                     const char* name) {
  return x ? typed<T>(op, st, *x, name) : Tensor<T, CPU>();
}

// Returns the momentum buffer: the one given, or the one the first momentum step makes.
std::optional<DynTensor> sgd_step_of(const DynTensor& param, const DynTensor& grad,
                                     const std::optional<DynTensor>& buffer, double lr,
                                     double momentum, double dampening, double weight_decay,
                                     bool nesterov, bool maximize) {
  const optim::SGDOptions o{.lr = lr,
                            .momentum = momentum,
                            .dampening = dampening,
                            .weight_decay = weight_decay,
                            .nesterov = nesterov,
                            .maximize = maximize};
  return dispatch_floating(param.dtype(), "sgd_step", [&]<class T>() -> std::optional<DynTensor> {
    const ScalarType st = param.dtype();
    const Tensor<T, CPU> g = typed<T>("sgd_step", st, grad, "grad");
    Tensor<T, CPU> buf = typed<T>("sgd_step", st, buffer, "momentum_buffer");
    {
      py::gil_scoped_release release;
      optim::sgd_step(param.as<T>(), g, buf, o);
    }
    if (!buf.defined()) return std::nullopt;
    return DynTensor(buf);
  });
}

void adam_step_of(const DynTensor& param, const DynTensor& grad, const DynTensor& exp_avg,
                  const DynTensor& exp_avg_sq, const std::optional<DynTensor>& max_exp_avg_sq,
                  int64_t step, double lr, double beta1, double beta2, double eps,
                  double weight_decay, bool decoupled, bool maximize) {
  const optim::AdamOptions o{.lr = lr,
                             .beta1 = beta1,
                             .beta2 = beta2,
                             .eps = eps,
                             .weight_decay = weight_decay,
                             .amsgrad = max_exp_avg_sq.has_value(),
                             .maximize = maximize};
  const char* op = decoupled ? "adamw_step" : "adam_step";
  dispatch_floating(param.dtype(), op, [&]<class T>() {
    const ScalarType st = param.dtype();
    const Tensor<T, CPU> g = typed<T>(op, st, grad, "grad");
    const Tensor<T, CPU> m = typed<T>(op, st, exp_avg, "exp_avg");
    const Tensor<T, CPU> v = typed<T>(op, st, exp_avg_sq, "exp_avg_sq");
    const Tensor<T, CPU> vmax = typed<T>(op, st, max_exp_avg_sq, "max_exp_avg_sq");
    py::gil_scoped_release release;
    optim::adam_step(param.as<T>(), g, m, v, vmax, step, o, decoupled);
  });
}

void rmsprop_step_of(const DynTensor& param, const DynTensor& grad, const DynTensor& square_avg,
                     const std::optional<DynTensor>& grad_avg,
                     const std::optional<DynTensor>& momentum_buffer, double lr, double alpha,
                     double eps, double weight_decay, double momentum, bool maximize) {
  const optim::RMSpropOptions o{.lr = lr,
                                .alpha = alpha,
                                .eps = eps,
                                .weight_decay = weight_decay,
                                .momentum = momentum,
                                .centered = grad_avg.has_value(),
                                .maximize = maximize};
  dispatch_floating(param.dtype(), "rmsprop_step", [&]<class T>() {
    const ScalarType st = param.dtype();
    const Tensor<T, CPU> g = typed<T>("rmsprop_step", st, grad, "grad");
    const Tensor<T, CPU> sq = typed<T>("rmsprop_step", st, square_avg, "square_avg");
    const Tensor<T, CPU> av = typed<T>("rmsprop_step", st, grad_avg, "grad_avg");
    const Tensor<T, CPU> buf = typed<T>("rmsprop_step", st, momentum_buffer, "momentum_buffer");
    py::gil_scoped_release release;
    optim::rmsprop_step(param.as<T>(), g, sq, av, buf, o);
  });
}

void adagrad_step_of(const DynTensor& param, const DynTensor& grad, const DynTensor& sum,
                     int64_t step, double lr, double lr_decay, double weight_decay, double eps,
                     bool maximize) {
  const optim::AdagradOptions o{.lr = lr,
                                .lr_decay = lr_decay,
                                .weight_decay = weight_decay,
                                .eps = eps,
                                .maximize = maximize};
  dispatch_floating(param.dtype(), "adagrad_step", [&]<class T>() {
    const ScalarType st = param.dtype();
    const Tensor<T, CPU> g = typed<T>("adagrad_step", st, grad, "grad");
    const Tensor<T, CPU> s = typed<T>("adagrad_step", st, sum, "sum");
    py::gil_scoped_release release;
    optim::adagrad_step(param.as<T>(), g, s, step, o);
  });
}

// The parameters of one clip call as typed tensors: C++'s clip functions take one dtype.
template <class T>
std::vector<Tensor<T, CPU>> typed_params(const char* op, const std::vector<DynTensor>& params) {
  std::vector<Tensor<T, CPU>> out;
  for (const DynTensor& p : params) {
    KILN_CHECK(p.dtype() == params[0].dtype(), DTypeError, "[", op,
               "] expected the parameters to share one dtype, got ",
               scalar_type_name(params[0].dtype()), " and ", scalar_type_name(p.dtype()));
    out.push_back(p.as<T>());
  }
  return out;
}

// Returns the total norm (0 without gradients, as torch).
double clip_grad_norm_of(const std::vector<DynTensor>& params, double max_norm, double norm_type,
                         bool error_if_nonfinite) {
  if (params.empty()) return 0.0;
  return dispatch_floating(params[0].dtype(), "clip_grad_norm_", [&]<class T>() {
    const std::vector<Tensor<T, CPU>> ps = typed_params<T>("clip_grad_norm_", params);
    py::gil_scoped_release release;
    return nn::utils::clip_grad_norm_(ps, max_norm, norm_type, error_if_nonfinite);
  });
}

void clip_grad_value_of(const std::vector<DynTensor>& params, double clip_value) {
  if (params.empty()) return;
  dispatch_floating(params[0].dtype(), "clip_grad_value_", [&]<class T>() {
    const std::vector<Tensor<T, CPU>> ps = typed_params<T>("clip_grad_value_", params);
    py::gil_scoped_release release;
    nn::utils::clip_grad_value_(ps, clip_value);
  });
}

}  // namespace

void bind_optim(py::module_& m) {
  using py::arg;
  m.def("_sgd_step", &sgd_step_of, arg("param"), arg("grad"), arg("momentum_buffer"), py::kw_only(),
        arg("lr"), arg("momentum"), arg("dampening"), arg("weight_decay"), arg("nesterov"),
        arg("maximize"));
  m.def("_adam_step", &adam_step_of, arg("param"), arg("grad"), arg("exp_avg"), arg("exp_avg_sq"),
        arg("max_exp_avg_sq"), arg("step"), py::kw_only(), arg("lr"), arg("beta1"), arg("beta2"),
        arg("eps"), arg("weight_decay"), arg("decoupled"), arg("maximize"));
  m.def("_rmsprop_step", &rmsprop_step_of, arg("param"), arg("grad"), arg("square_avg"),
        arg("grad_avg"), arg("momentum_buffer"), py::kw_only(), arg("lr"), arg("alpha"), arg("eps"),
        arg("weight_decay"), arg("momentum"), arg("maximize"));
  m.def("_adagrad_step", &adagrad_step_of, arg("param"), arg("grad"), arg("sum"), arg("step"),
        py::kw_only(), arg("lr"), arg("lr_decay"), arg("weight_decay"), arg("eps"),
        arg("maximize"));
  m.def("_clip_grad_norm_", &clip_grad_norm_of, arg("parameters"), arg("max_norm"),
        arg("norm_type") = 2.0, arg("error_if_nonfinite") = false);
  m.def("_clip_grad_value_", &clip_grad_value_of, arg("parameters"), arg("clip_value"));
}

}  // namespace kiln::python
