// SPDX-License-Identifier: BSD-3-Clause
// The C++ layer kernels that kiln.nn.functional calls: linear (bias fused into the GEMM),
// conv2d, max_pool2d, avg_pool2d, dropout, and the fused cross entropy / nll_loss.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "kiln/nn/functional.hpp"
#include "nn_args.hpp"

namespace kiln::python {

namespace {

DynTensor linear_of(const DynTensor& x, const DynTensor& w, const std::optional<DynTensor>& b) {
  const ScalarType st = layer_dtype("linear", x, {&w, b ? &*b : nullptr});
  return dispatch_floating(st, "linear", [&]<class T>() {
    return DynTensor(b ? kiln::linear(x.as<T>(), w.as<T>(), b->as<T>())
                       : kiln::linear(x.as<T>(), w.as<T>()));
  });
}

DynTensor conv2d_of(const DynTensor& x, const DynTensor& w, const std::optional<DynTensor>& b,
                    const py::object& stride, const py::object& padding, const py::object& dilation,
                    int64_t groups) {
  const ScalarType st = layer_dtype("conv2d", x, {&w, b ? &*b : nullptr});
  return dispatch_floating(st, "conv2d", [&]<class T>() {
    return DynTensor(kiln::conv2d(x.as<T>(), w.as<T>(), b ? b->as<T>() : Tensor<T, CPU>(),
                                  int_pair(stride, "stride"), int_pair(padding, "padding"),
                                  int_pair(dilation, "dilation"), groups));
  });
}

DynTensor max_pool2d_of(const DynTensor& x, const py::object& kernel, const py::object& stride,
                        const py::object& padding, const py::object& dilation, bool ceil_mode) {
  return dispatch_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    return DynTensor(kiln::max_pool2d(x.as<T>(), int_pair(kernel, "kernel_size"),
                                      int_pair(stride, "stride"), int_pair(padding, "padding"),
                                      int_pair(dilation, "dilation"), ceil_mode));
  });
}

DynTensor avg_pool2d_of(const DynTensor& x, const py::object& kernel, const py::object& stride,
                        const py::object& padding, bool ceil_mode, bool count_include_pad) {
  return dispatch_floating(x.dtype(), "avg_pool2d", [&]<class T>() {
    return DynTensor(kiln::avg_pool2d(x.as<T>(), int_pair(kernel, "kernel_size"),
                                      int_pair(stride, "stride"), int_pair(padding, "padding"),
                                      ceil_mode, count_include_pad));
  });
}

DynTensor dropout_of(const DynTensor& x, double p, bool training) {
  return dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    return DynTensor(kiln::dropout(x.as<T>(), p, training));
  });
}

// Class-index cross entropy / nll_loss: the C++ fused kernel (float and double).
template <bool LogProbsInput>
DynTensor class_loss(const DynTensor& input, const DynTensor& target,
                     const std::optional<DynTensor>& weight, int64_t ignore_index,
                     const std::string& reduction, double label_smoothing) {
  const char* op = LogProbsInput ? "nll_loss" : "cross_entropy";
  KILN_CHECK(is_integral_type(target.dtype()), DTypeError, "[", op,
             "] expected target to hold class indices (an integer tensor), got ",
             scalar_type_name(target.dtype()));
  KILN_CHECK(input.dtype() == ScalarType::Float || input.dtype() == ScalarType::Double, DTypeError,
             "[", op, "] expected float32 or float64 input, got ", scalar_type_name(input.dtype()));
  return dispatch_floating(input.dtype(), op, [&]<class T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      nn::functional::ClassLossOptions<T> o;
      if (weight) o.weight = cast_to<T>(*weight);
      o.ignore_index = ignore_index;
      o.reduction = reduction_of(reduction);
      o.label_smoothing = label_smoothing;
      const Tensor<int64_t, CPU> t = cast_to<int64_t>(target);
      return DynTensor(LogProbsInput ? nn::functional::nll_loss(input.as<T>(), t, o)
                                     : nn::functional::cross_entropy(input.as<T>(), t, o));
    } else {
      return DynTensor();  // refused above
    }
  });
}

// mse_loss and l1_loss: the C++ losses (one fused expression and reduction each).
template <bool Squared>
DynTensor regression_loss(const DynTensor& input, const DynTensor& target,
                          const std::string& reduction) {
  const char* op = Squared ? "mse_loss" : "l1_loss";
  const ScalarType st = layer_dtype(op, input, {&target});
  return dispatch_floating(st, op, [&]<class T>() {
    const nn::Reduction r = reduction_of(reduction);
    return DynTensor(Squared ? nn::functional::mse_loss(input.as<T>(), target.as<T>(), r)
                             : nn::functional::l1_loss(input.as<T>(), target.as<T>(), r));
  });
}

}  // namespace

void bind_nn(py::module_& m) {
  using py::arg;
  m.def("_linear", &linear_of, arg("input"), arg("weight"), arg("bias") = py::none());
  m.def("_conv2d", &conv2d_of, arg("input"), arg("weight"), arg("bias") = py::none(),
        arg("stride") = 1, arg("padding") = 0, arg("dilation") = 1, arg("groups") = 1);
  m.def("_max_pool2d", &max_pool2d_of, arg("input"), arg("kernel_size"), arg("stride") = py::none(),
        arg("padding") = 0, arg("dilation") = 1, arg("ceil_mode") = false);
  m.def("_avg_pool2d", &avg_pool2d_of, arg("input"), arg("kernel_size"), arg("stride") = py::none(),
        arg("padding") = 0, arg("ceil_mode") = false, arg("count_include_pad") = true);
  m.def("_dropout", &dropout_of, arg("input"), arg("p") = 0.5, arg("training") = true);
  m.def("_cross_entropy", &class_loss<false>, arg("input"), arg("target"),
        arg("weight") = py::none(), arg("ignore_index") = -100, arg("reduction") = "mean",
        arg("label_smoothing") = 0.0);
  m.def("_mse_loss", &regression_loss<true>, arg("input"), arg("target"),
        arg("reduction") = "mean");
  m.def("_l1_loss", &regression_loss<false>, arg("input"), arg("target"),
        arg("reduction") = "mean");
  m.def("_nll_loss", &class_loss<true>, arg("input"), arg("target"), arg("weight") = py::none(),
        arg("ignore_index") = -100, arg("reduction") = "mean", arg("label_smoothing") = 0.0);
}

}  // namespace kiln::python
