// SPDX-License-Identifier: BSD-3-Clause
// kiln.linalg's compiled half (python/kiln/linalg.py arranges torch.linalg's names):
// solvers, decompositions, norms and matrix powers over kiln::linalg, float32 and float64.
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "oplib_args.hpp"

namespace kiln::python {

namespace {

// torch.linalg takes float32 and float64 (kiln's linalg has no half kernels).
template <class F>
decltype(auto) dispatch_linalg(const DynTensor& x, const char* op, F&& f) {
  switch (x.dtype()) {
    case ScalarType::Float:
      return f.template operator()<float>();
    case ScalarType::Double:
      return f.template operator()<double>();
    default:
      break;
  }
  throw DTypeError(std::string("[linalg.") + op + "] expected a float32 or float64 tensor, got " +
                   std::string(scalar_type_name(x.dtype())));
}

void check_pair(const DynTensor& a, const DynTensor& b, const char* op) {
  KILN_CHECK(a.dtype() == b.dtype(), DTypeError, "[linalg.", op,
             "] expected A and B to have one dtype, got ", scalar_type_name(a.dtype()), " and ",
             scalar_type_name(b.dtype()));
}

// ord: None, a number, or "fro" / "nuc".
std::optional<linalg::NormOrd> ord_of(const py::object& o) {
  if (o.is_none()) return std::nullopt;
  if (py::isinstance<py::str>(o)) return linalg::NormOrd(o.cast<std::string>());
  return linalg::NormOrd(o.cast<double>());
}

}  // namespace

void bind_linalg(py::module_& m) {
  using py::arg;
  define_return_type(m, "linalg_slogdet", {"sign", "logabsdet"});
  define_return_type(m, "linalg_qr", {"Q", "R"});
  define_return_type(m, "linalg_svd", {"U", "S", "Vh"});
  define_return_type(m, "linalg_eigh", {"eigenvalues", "eigenvectors"});
  define_return_type(m, "linalg_lstsq", {"solution", "residuals", "rank", "singular_values"});
  py::module_ l = m.def_submodule("_linalg", "kiln::linalg for kiln.linalg");
  // torch.linalg.LinAlgError: a RuntimeError (kiln's C++ one is a ValueError). Registered
  // after module.cpp's translator, so it is tried first.
  py::register_exception<LinAlgError>(l, "LinAlgError", PyExc_RuntimeError);

  l.def("solve", [](const DynTensor& A, const DynTensor& B) {
    check_pair(A, B, "solve");
    return dispatch_linalg(
        A, "solve", [&]<class T>() { return DynTensor(linalg::solve(A.as<T>(), B.as<T>())); });
  });
  l.def("inv", [](const DynTensor& A) {
    return dispatch_linalg(A, "inv", [&]<class T>() { return DynTensor(linalg::inv(A.as<T>())); });
  });
  l.def("det", [](const DynTensor& A) {
    return dispatch_linalg(A, "det", [&]<class T>() { return DynTensor(linalg::det(A.as<T>())); });
  });
  l.def("slogdet", [](const DynTensor& A) {
    return dispatch_linalg(A, "slogdet", [&]<class T>() {
      auto r = linalg::slogdet(A.as<T>());
      return make_return("linalg_slogdet", DynTensor(r.sign), DynTensor(r.logabsdet));
    });
  });
  l.def("matrix_power", [](const DynTensor& A, int64_t n) {
    return dispatch_linalg(A, "matrix_power", [&]<class T>() {
      return DynTensor(linalg::matrix_power(A.as<T>(), n));
    });
  });
  l.def("cholesky", [](const DynTensor& A, bool upper) {
    return dispatch_linalg(
        A, "cholesky", [&]<class T>() { return DynTensor(linalg::cholesky(A.as<T>(), upper)); });
  });
  l.def("qr", [](const DynTensor& A, const std::string& mode) {
    return dispatch_linalg(A, "qr", [&]<class T>() {
      auto r = linalg::qr(A.as<T>(), mode);
      return make_return("linalg_qr", DynTensor(r.Q), DynTensor(r.R));
    });
  });
  l.def("svd", [](const DynTensor& A, bool full_matrices) {
    return dispatch_linalg(A, "svd", [&]<class T>() {
      auto r = linalg::svd(A.as<T>(), full_matrices);
      return make_return("linalg_svd", DynTensor(r.U), DynTensor(r.S), DynTensor(r.Vh));
    });
  });
  l.def("svdvals", [](const DynTensor& A) {
    return dispatch_linalg(A, "svdvals",
                           [&]<class T>() { return DynTensor(linalg::svdvals(A.as<T>())); });
  });
  l.def("eigh", [](const DynTensor& A, const std::string& uplo) {
    KILN_CHECK(uplo == "L" || uplo == "U", ValueError,
               "[linalg.eigh] UPLO must be 'L' or 'U', got '", uplo, "'");
    return dispatch_linalg(A, "eigh", [&]<class T>() {
      auto r = linalg::eigh(A.as<T>(), uplo[0]);
      return make_return("linalg_eigh", DynTensor(r.eigenvalues), DynTensor(r.eigenvectors));
    });
  });
  l.def("eigvalsh", [](const DynTensor& A, const std::string& uplo) {
    KILN_CHECK(uplo == "L" || uplo == "U", ValueError,
               "[linalg.eigvalsh] UPLO must be 'L' or 'U', got '", uplo, "'");
    return dispatch_linalg(
        A, "eigvalsh", [&]<class T>() { return DynTensor(linalg::eigvalsh(A.as<T>(), uplo[0])); });
  });
  l.def("lstsq", [](const DynTensor& A, const DynTensor& B, std::optional<double> rcond) {
    check_pair(A, B, "lstsq");
    return dispatch_linalg(A, "lstsq", [&]<class T>() {
      auto r = linalg::lstsq(A.as<T>(), B.as<T>(), rcond);
      return make_return("linalg_lstsq", DynTensor(r.solution), DynTensor(r.residuals),
                         DynTensor(r.rank), DynTensor(r.singular_values));
    });
  });
  l.def("vector_norm", [](const DynTensor& x, double ord, const py::object& dim, bool keepdim) {
    const Dims d = dim.is_none() ? Dims{} : dims_arg(dim);
    return dispatch_linalg(x, "vector_norm", [&]<class T>() {
      return DynTensor(linalg::vector_norm(x.as<T>(), ord, d, keepdim));
    });
  });
  l.def("matrix_norm",
        [](const DynTensor& A, const py::object& ord, const py::object& dim, bool keepdim) {
          const Dims d = dims_arg(dim);
          const linalg::NormOrd o = *ord_of(ord);
          return dispatch_linalg(A, "matrix_norm", [&]<class T>() {
            return DynTensor(linalg::matrix_norm(A.as<T>(), o, d, keepdim));
          });
        });
  l.def("norm", [](const DynTensor& x, const py::object& ord, const py::object& dim, bool keepdim) {
    const std::optional<Dims> d = dim.is_none() ? std::nullopt : std::optional<Dims>(dims_arg(dim));
    const std::optional<linalg::NormOrd> o = ord_of(ord);
    return dispatch_linalg(
        x, "norm", [&]<class T>() { return DynTensor(linalg::norm(x.as<T>(), o, d, keepdim)); });
  });
}

}  // namespace kiln::python
