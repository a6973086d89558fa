// SPDX-License-Identifier: BSD-3-Clause
// The C++ layers behind kiln.nn's normalisations, embedding, conv1d, conv_transpose2d,
// bilinear, adaptive pooling, pad, one_hot and the parameterised activations.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "kiln/nn/batchnorm.hpp"
#include "kiln/nn/functional.hpp"
#include "kiln/nn/linear.hpp"
#include "kiln/nn/normalization.hpp"
#include "nn_args.hpp"

namespace kiln::python {

namespace {

namespace F = kiln::nn::functional;

// torch's normalized_shape: an int or a sequence of ints.
Shape shape_arg(const py::object& o) {
  if (py::isinstance<py::int_>(o)) return Shape{o.cast<int64_t>()};
  Shape s;
  for (int64_t v : o.cast<std::vector<int64_t>>()) s.push_back(v);
  return s;
}

DynTensor batch_norm_of(const DynTensor& x, const std::optional<DynTensor>& running_mean,
                        const std::optional<DynTensor>& running_var,
                        const std::optional<DynTensor>& weight,
                        const std::optional<DynTensor>& bias, bool training, double momentum,
                        double eps) {
  const ScalarType st =
      layer_dtype("batch_norm", x, {ptr(running_mean), ptr(running_var), ptr(weight), ptr(bias)});
  return dispatch_floating(st, "batch_norm", [&]<class T>() {
    return DynTensor(F::batch_norm(
        x.as<T>(), typed_or_undefined<T>(running_mean), typed_or_undefined<T>(running_var),
        typed_or_undefined<T>(weight), typed_or_undefined<T>(bias), training, momentum, eps));
  });
}

DynTensor layer_norm_of(const DynTensor& x, const py::object& normalized_shape,
                        const std::optional<DynTensor>& weight,
                        const std::optional<DynTensor>& bias, double eps) {
  const ScalarType st = layer_dtype("layer_norm", x, {ptr(weight), ptr(bias)});
  return dispatch_floating(st, "layer_norm", [&]<class T>() {
    return DynTensor(F::layer_norm(x.as<T>(), shape_arg(normalized_shape),
                                   typed_or_undefined<T>(weight), typed_or_undefined<T>(bias),
                                   eps));
  });
}

DynTensor group_norm_of(const DynTensor& x, int64_t num_groups,
                        const std::optional<DynTensor>& weight,
                        const std::optional<DynTensor>& bias, double eps) {
  const ScalarType st = layer_dtype("group_norm", x, {ptr(weight), ptr(bias)});
  return dispatch_floating(st, "group_norm", [&]<class T>() {
    return DynTensor(F::group_norm(x.as<T>(), num_groups, typed_or_undefined<T>(weight),
                                   typed_or_undefined<T>(bias), eps));
  });
}

DynTensor rms_norm_of(const DynTensor& x, const py::object& normalized_shape,
                      const std::optional<DynTensor>& weight, std::optional<double> eps) {
  const ScalarType st = layer_dtype("rms_norm", x, {ptr(weight)});
  return dispatch_floating(st, "rms_norm", [&]<class T>() {
    return DynTensor(
        F::rms_norm(x.as<T>(), shape_arg(normalized_shape), typed_or_undefined<T>(weight), eps));
  });
}

Tensor<int64_t, CPU> index_arg(const DynTensor& ids, const char* op) {
  KILN_CHECK(is_integral_type(ids.dtype()) && ids.dtype() != ScalarType::Bool, DTypeError, "[", op,
             "] expected an integer tensor of indices, got ", scalar_type_name(ids.dtype()));
  return cast_to<int64_t>(ids);
}

DynTensor embedding_of(const DynTensor& ids, const DynTensor& weight,
                       std::optional<int64_t> padding_idx) {
  const Tensor<int64_t, CPU> i = index_arg(ids, "embedding");
  return dispatch(weight.dtype(), [&]<class T>() {
    return DynTensor(kiln::embedding(weight.as<T>(), i, padding_idx));
  });
}

DynTensor one_hot_of(const DynTensor& ids, int64_t num_classes) {
  return DynTensor(kiln::one_hot(index_arg(ids, "one_hot"), num_classes));
}

DynTensor conv1d_of(const DynTensor& x, const DynTensor& w, const std::optional<DynTensor>& b,
                    const py::object& stride, const py::object& padding, const py::object& dilation,
                    int64_t groups) {
  const ScalarType st = layer_dtype("conv1d", x, {&w, ptr(b)});
  return dispatch_floating(st, "conv1d", [&]<class T>() {
    return DynTensor(kiln::conv1d(x.as<T>(), w.as<T>(), typed_or_undefined<T>(b),
                                  int_single(stride, "stride"), int_single(padding, "padding"),
                                  int_single(dilation, "dilation"), groups));
  });
}

DynTensor conv_transpose2d_of(const DynTensor& x, const DynTensor& w,
                              const std::optional<DynTensor>& b, const py::object& stride,
                              const py::object& padding, const py::object& output_padding,
                              int64_t groups, const py::object& dilation) {
  const ScalarType st = layer_dtype("conv_transpose2d", x, {&w, ptr(b)});
  return dispatch_floating(st, "conv_transpose2d", [&]<class T>() {
    return DynTensor(kiln::conv_transpose2d(
        x.as<T>(), w.as<T>(), typed_or_undefined<T>(b), int_pair(stride, "stride"),
        int_pair(padding, "padding"), int_pair(output_padding, "output_padding"), groups,
        int_pair(dilation, "dilation")));
  });
}

DynTensor bilinear_of(const DynTensor& x1, const DynTensor& x2, const DynTensor& w,
                      const std::optional<DynTensor>& b) {
  const ScalarType st = layer_dtype("bilinear", x1, {&x2, &w, ptr(b)});
  return dispatch_floating(st, "bilinear", [&]<class T>() {
    return DynTensor(F::bilinear(x1.as<T>(), x2.as<T>(), w.as<T>(), typed_or_undefined<T>(b)));
  });
}

DynTensor adaptive_avg_pool2d_of(const DynTensor& x, const py::object& output_size) {
  return dispatch_floating(x.dtype(), "adaptive_avg_pool2d", [&]<class T>() {
    return DynTensor(kiln::adaptive_avg_pool2d(x.as<T>(), int_pair(output_size, "output_size")));
  });
}

DynTensor pad_of(const DynTensor& x, const std::vector<int64_t>& pads, const std::string& mode,
                 double value) {
  return dispatch(x.dtype(), [&]<class T>() {
    return DynTensor(kiln::pad(x.as<T>(), pads, std::string_view(mode), value));
  });
}

// The activations with a parameter: one fused elementwise pass each.
template <class F>
DynTensor activation(const DynTensor& x, const char* op, F&& f) {
  return dispatch_floating(x.dtype(), op,
                           [&]<class T>() { return DynTensor(Tensor<T, CPU>(f(x.as<T>()))); });
}

DynTensor leaky_relu_of(const DynTensor& x, double negative_slope) {
  return activation(x, "leaky_relu",
                    [&](const auto& t) { return kiln::leaky_relu(t, negative_slope); });
}

DynTensor elu_of(const DynTensor& x, double alpha) {
  return activation(x, "elu", [&](const auto& t) { return kiln::elu(t, alpha); });
}

DynTensor softplus_of(const DynTensor& x, double beta, double threshold) {
  return activation(x, "softplus",
                    [&](const auto& t) { return kiln::softplus(t, beta, threshold); });
}

DynTensor gelu_of(const DynTensor& x, const std::string& approximate) {
  KILN_CHECK(approximate == "none" || approximate == "tanh", ValueError,
             "[gelu] approximate must be 'none' or 'tanh', got '", approximate, "'");
  if (approximate == "tanh")
    return activation(x, "gelu", [](const auto& t) { return kiln::gelu_tanh(t); });
  return activation(x, "gelu", [](const auto& t) { return kiln::gelu(t); });
}

}  // namespace

void bind_nn_layers(py::module_& m) {
  using py::arg;
  m.def("_batch_norm", &batch_norm_of, arg("input"), arg("running_mean"), arg("running_var"),
        arg("weight") = py::none(), arg("bias") = py::none(), arg("training") = false,
        arg("momentum") = 0.1, arg("eps") = 1e-5);
  m.def("_layer_norm", &layer_norm_of, arg("input"), arg("normalized_shape"),
        arg("weight") = py::none(), arg("bias") = py::none(), arg("eps") = 1e-5);
  m.def("_group_norm", &group_norm_of, arg("input"), arg("num_groups"), arg("weight") = py::none(),
        arg("bias") = py::none(), arg("eps") = 1e-5);
  m.def("_rms_norm", &rms_norm_of, arg("input"), arg("normalized_shape"),
        arg("weight") = py::none(), arg("eps") = py::none());
  m.def("_embedding", &embedding_of, arg("input"), arg("weight"), arg("padding_idx") = py::none());
  m.def("_one_hot", &one_hot_of, arg("input"), arg("num_classes") = -1);
  m.def("_conv1d", &conv1d_of, arg("input"), arg("weight"), arg("bias") = py::none(),
        arg("stride") = 1, arg("padding") = 0, arg("dilation") = 1, arg("groups") = 1);
  m.def("_conv_transpose2d", &conv_transpose2d_of, arg("input"), arg("weight"),
        arg("bias") = py::none(), arg("stride") = 1, arg("padding") = 0, arg("output_padding") = 0,
        arg("groups") = 1, arg("dilation") = 1);
  m.def("_bilinear", &bilinear_of, arg("input1"), arg("input2"), arg("weight"),
        arg("bias") = py::none());
  m.def("_adaptive_avg_pool2d", &adaptive_avg_pool2d_of, arg("input"), arg("output_size"));
  m.def("_pad", &pad_of, arg("input"), arg("pad"), arg("mode") = "constant", arg("value") = 0.0);
  m.def("_leaky_relu", &leaky_relu_of, arg("input"), arg("negative_slope") = 0.01);
  m.def("_elu", &elu_of, arg("input"), arg("alpha") = 1.0);
  m.def("_softplus", &softplus_of, arg("input"), arg("beta") = 1.0, arg("threshold") = 20.0);
  m.def("_gelu", &gelu_of, arg("input"), arg("approximate") = "none");
}

}  // namespace kiln::python
