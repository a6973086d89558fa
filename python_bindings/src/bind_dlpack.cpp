// SPDX-License-Identifier: BSD-3-Clause
// DLPack both ways: Tensor.__dlpack__ / __dlpack_device__ and kiln.from_dlpack, sharing
// memory with torch, numpy and any other DLPack producer or consumer.
#include <dlpack/dlpack.h>

#include <vector>

#include "bindings.hpp"

namespace kiln::python {

namespace {

// DLPack 0.8 added a bool type code; Debian's 0.6 header predates it, and torch and numpy
// use the 0.8 value.
constexpr uint8_t kDLBoolCode = 6;

DLDataType dl_dtype(ScalarType st) {
  const auto bits = static_cast<uint8_t>(element_size(st) * 8);
  switch (st) {
    case ScalarType::Bool:
      return {kDLBoolCode, 8, 1};
    case ScalarType::UInt8:
      return {kDLUInt, 8, 1};
    case ScalarType::Int8:
    case ScalarType::Int16:
    case ScalarType::Int32:
    case ScalarType::Int64:
      return {kDLInt, bits, 1};
    case ScalarType::Half:
    case ScalarType::Float:
    case ScalarType::Double:
      return {kDLFloat, bits, 1};
    case ScalarType::BFloat16:
      return {kDLBfloat, 16, 1};
  }
  throw DTypeError("[__dlpack__] unknown dtype");
}

ScalarType from_dl_dtype(DLDataType t) {
  KILN_CHECK(t.lanes == 1, DTypeError, "[from_dlpack] vector dtypes (lanes = ", int(t.lanes),
             ") are not supported");
  if (t.code == kDLBoolCode && t.bits == 8) return ScalarType::Bool;
  if (t.code == kDLUInt && t.bits == 8) return ScalarType::UInt8;
  if (t.code == kDLInt) {
    switch (t.bits) {
      case 8:
        return ScalarType::Int8;
      case 16:
        return ScalarType::Int16;
      case 32:
        return ScalarType::Int32;
      case 64:
        return ScalarType::Int64;
    }
  }
  if (t.code == kDLFloat) {
    switch (t.bits) {
      case 16:
        return ScalarType::Half;
      case 32:
        return ScalarType::Float;
      case 64:
        return ScalarType::Double;
    }
  }
  if (t.code == kDLBfloat && t.bits == 16) return ScalarType::BFloat16;
  throw DTypeError("[from_dlpack] unsupported DLPack dtype (code " + std::to_string(t.code) + ", " +
                   std::to_string(t.bits) + " bits)");
}

// What a DLManagedTensor of ours owns: the tensor (keeping its storage alive) and the
// shape and strides arrays DLTensor points at.
struct Exported {
  DynTensor tensor;
  std::vector<int64_t> shape, strides;
  DLManagedTensor managed{};
};

// The capsule is the unversioned kind ("dltensor"), which consumers asking for
// max_version accept from producers that do not make versioned ones.
py::capsule to_dlpack(const DynTensor& x, const py::object& stream, const py::object& max_version,
                      const py::object& dl_device, const py::object& copy) {
  (void)max_version;
  KILN_CHECK(stream.is_none() || py::isinstance<py::int_>(stream), DTypeError,
             "[__dlpack__] stream must be None or an int for a CPU tensor");
  KILN_CHECK(dl_device.is_none() || dl_device.cast<py::tuple>()[0].cast<int>() == kDLCPU,
             DeviceError, "[__dlpack__] only the CPU device is supported");
  const bool make_copy = !copy.is_none() && copy.cast<bool>();
  DynTensor src =
      make_copy ? std::visit([](const auto& t) { return DynTensor(t.clone()); }, x.t) : x;
  auto* e = new Exported{src, {}, {}, {}};
  std::visit(
      [&](const auto& t) {
        using T = typename std::remove_cvref_t<decltype(t)>::value_type;
        if constexpr (is_floating_v<T>)
          KILN_CHECK(!t.requires_grad(), Error,
                     "[__dlpack__] can't export a tensor that requires grad; use "
                     "t.detach().__dlpack__()");
        for (int d = 0; d < t.dim(); ++d) {
          e->shape.push_back(t.shape()[d]);
          e->strides.push_back(t.strides()[d]);
        }
        e->managed.dl_tensor.data = const_cast<void*>(static_cast<const void*>(t.data()));
      },
      src.t);
  DLTensor& d = e->managed.dl_tensor;
  d.device = {kDLCPU, 0};
  d.ndim = static_cast<int32_t>(e->shape.size());
  d.dtype = dl_dtype(src.dtype());
  d.shape = e->shape.data();
  d.strides = e->strides.data();
  d.byte_offset = 0;
  e->managed.manager_ctx = e;
  e->managed.deleter = [](DLManagedTensor* m) { delete static_cast<Exported*>(m->manager_ctx); };
  // A capsule never consumed (still named "dltensor") frees the tensor itself; a consumer
  // renames it "used_dltensor" and calls the deleter when done.
  return py::capsule(&e->managed, "dltensor", [](PyObject* cap) {
    if (PyCapsule_IsValid(cap, "dltensor")) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
      if (m && m->deleter) m->deleter(m);
    }
  });
}

DynTensor from_dlpack(const py::object& obj) {
  py::object cap = obj;
  if (py::hasattr(obj, "__dlpack__")) {
    const py::tuple dev = obj.attr("__dlpack_device__")();
    KILN_CHECK(dev[0].cast<int>() == kDLCPU, DeviceError,
               "[from_dlpack] only CPU tensors can be imported so far (device type ",
               dev[0].cast<int>(), ")");
    cap = obj.attr("__dlpack__")();
  }
  KILN_CHECK(PyCapsule_IsValid(cap.ptr(), "dltensor"), ValueError,
             "[from_dlpack] expected an object with __dlpack__ or an unused DLPack capsule "
             "(a capsule can be consumed only once)");
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), "dltensor"));
  const DLTensor& d = m->dl_tensor;
  KILN_CHECK(d.device.device_type == kDLCPU, DeviceError,
             "[from_dlpack] only CPU tensors can be imported so far");
  const ScalarType st = from_dl_dtype(d.dtype);
  KILN_CHECK(d.byte_offset % element_size(st) == 0, ValueError,
             "[from_dlpack] byte_offset is not a multiple of the element size");
  Shape shape;
  Strides strides;
  for (int i = 0; i < d.ndim; ++i) shape.push_back(d.shape[i]);
  if (d.strides)
    for (int i = 0; i < d.ndim; ++i) {
      KILN_CHECK(d.strides[i] >= 0, ValueError, "[from_dlpack] negative strides are not supported");
      strides.push_back(d.strides[i]);
    }
  else
    strides = contiguous_strides(shape);
  char* base = static_cast<char*>(d.data) + d.byte_offset;
  if (numel_of(shape) == 0 || base == nullptr) {
    // Nothing to share (producers may pass a null pointer for no elements).
    KILN_CHECK(numel_of(shape) == 0, ValueError, "[from_dlpack] null data for ", shape);
    PyCapsule_SetName(cap.ptr(), "used_dltensor");
    if (m->deleter) m->deleter(m);
    return dispatch(st, [&]<class T>() { return DynTensor(empty<T>(shape)); });
  }
  DynTensor out = dispatch(st, [&]<class T>() {
    return DynTensor(from_blob<T>(reinterpret_cast<T*>(base), shape, strides, [m](void*) {
      // The producer's deleter may touch Python objects (numpy's decrefs its array),
      // and kiln can drop the last reference without the GIL (during backward).
      py::gil_scoped_acquire gil;
      if (m->deleter) m->deleter(m);
    }));
  });
  PyCapsule_SetName(cap.ptr(), "used_dltensor");
  return out;
}

}  // namespace

void bind_dlpack(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<DynTensor>>(m.attr("Tensor"));
  cls.def("__dlpack__", &to_dlpack, py::kw_only(), py::arg("stream") = py::none(),
          py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(),
          py::arg("copy") = py::none());
  cls.def("__dlpack_device__", [](const DynTensor&) { return py::make_tuple(int(kDLCPU), 0); });
  m.def("from_dlpack", &from_dlpack, py::arg("ext_tensor"));
}

}  // namespace kiln::python
