// SPDX-License-Identifier: BSD-3-Clause
// The kiln::Error hierarchy and the KILN_CHECK macro that throws it.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace kiln {

/// Base of every exception kiln throws on misuse or failure.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// Shapes that do not broadcast, wrong element counts, ranks out of range.
class ShapeError : public Error {
 public:
  using Error::Error;
};
/// Unsupported dtype or dtype mismatch found at run time.
class DTypeError : public Error {
 public:
  using Error::Error;
};
/// A device that does not exist or a cross-device operation.
class DeviceError : public Error {
 public:
  using Error::Error;
};
/// File and format errors (loaders, savers).
class IOError : public Error {
 public:
  using Error::Error;
};
/// An index or dimension out of range.
class IndexError : public Error {
 public:
  using Error::Error;
};
/// An argument with a value the op cannot accept (negative step, null pointer...).
class ValueError : public Error {
 public:
  using Error::Error;
};
/// A linear-algebra routine that cannot give an answer for these values: a singular matrix
/// in solve/inv, a matrix that is not positive-definite in cholesky, an SVD or eigensolver
/// that did not converge (torch.linalg.LinAlgError).
class LinAlgError : public ValueError {
 public:
  using ValueError::ValueError;
};
/// Misuse of the autograd graph: backward through freed buffers, a tensor saved for
/// backward that was modified in place, a gradient of the wrong shape, NaN in anomaly mode.
class AutogradError : public Error {
 public:
  using Error::Error;
};
/// An allocation that failed.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

namespace detail {
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  if constexpr (sizeof...(Args) > 0) (os << ... << args);
  return os.str();
}
}  // namespace detail
}  // namespace kiln

/// Throws ErrorType with the streamed message when cond is false. Always on, in every
/// build type: user input is never checked by assert alone.
#define KILN_CHECK(cond, ErrorType, ...)                     \
  do {                                                       \
    if (!(cond)) [[unlikely]]                                \
      throw ErrorType(::kiln::detail::str_cat(__VA_ARGS__)); \
  } while (0)

/// Internal invariant, checked in debug builds only.
#ifndef NDEBUG
#define KILN_ASSERT(cond)                                                                 \
  do {                                                                                    \
    if (!(cond))                                                                          \
      throw ::kiln::Error(::kiln::detail::str_cat("kiln internal error: ", #cond, " at ", \
                                                  __FILE__, ":", __LINE__));              \
  } while (0)
#else
#define KILN_ASSERT(cond) ((void)0)
#endif
