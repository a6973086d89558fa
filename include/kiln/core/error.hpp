// SPDX-License-Identifier: BSD-3-Clause
// The kiln::Error hierarchy and the KILN_CHECK macro that throws it.
#pragma once

#include <initializer_list>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
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
// Error messages are built out of line. An inline std::ostringstream (later an inline
// std::string) per KILN_CHECK made about a tenth of the machine code of a user file that
// includes <kiln/kiln.hpp>, in paths that never run. A check now only lays out its pieces
// as MsgArgs and calls one compiled function.
using MsgPrinter = void (*)(std::ostream&, const void*);

/// One piece of a message, printed as `std::ostream <<` would print it.
struct MsgArg {
  enum Kind : unsigned char { kStr, kSigned, kUnsigned, kDouble, kChar, kStreamed };
  Kind kind;
  union {
    std::string_view str;
    long long i;
    unsigned long long u;
    double d;
    char c;
    struct {
      const void* value;
      MsgPrinter print;
    } obj;
  };

  template <class T>
  MsgArg(const T& v) {  // NOLINT(google-explicit-constructor): pieces convert implicitly
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      kind = kStr;
      str = std::string_view(v);
    } else if constexpr (std::is_same_v<T, char>) {
      kind = kChar;
      c = v;
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      kind = kSigned;
      i = v;
    } else if constexpr (std::is_integral_v<T>) {
      kind = kUnsigned;
      u = v;
    } else if constexpr (std::is_floating_point_v<T>) {
      kind = kDouble;
      d = static_cast<double>(v);
    } else {
      // Anything else with an operator<< (Dims, ScalarType, half...) gets a small printer;
      // the stream itself lives in the library.
      kind = kStreamed;
      obj = {&v, [](std::ostream& os, const void* p) { os << *static_cast<const T*>(p); }};
    }
  }
};

std::string build_message(std::initializer_list<MsgArg> args);

template <class ErrorType>
[[noreturn, gnu::noinline, gnu::cold]] void throw_message(std::initializer_list<MsgArg> args) {
  throw ErrorType(build_message(args));
}

/// Concatenates the pieces as `std::ostream <<` would print them.
template <class... Args>
std::string str_cat(const Args&... args) {
  return build_message({MsgArg(args)...});
}
}  // namespace detail
}  // namespace kiln

/// Throws ErrorType with the streamed message when cond is false. Always on, in every
/// build type: user input is never checked by assert alone.
#define KILN_CHECK(cond, ErrorType, ...)                       \
  do {                                                         \
    if (!(cond)) [[unlikely]]                                  \
      ::kiln::detail::throw_message<ErrorType>({__VA_ARGS__}); \
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
