// SPDX-License-Identifier: BSD-3-Clause
// The tensor formatter behind operator<< (see Note [Printing] in include/kiln/tensor/print.hpp).
#include "kiln/tensor/print.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

namespace kiln {
namespace {

std::mutex& options_mutex() {
  static std::mutex mu;
  return mu;
}
PrintOptions& global_options() {
  static PrintOptions options;
  return options;
}

// Python's "{:.<p>f}" / "{:.<p>e}": printf's digits (to_chars, so no locale), but NaN
// never carries a sign.
std::string format_float(double v, int precision, bool sci) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Fixed notation of the largest double: 309 digits, sign, point and the decimals.
  std::string s(static_cast<std::size_t>(precision) + 320, '\0');
  const auto r =
      std::to_chars(s.data(), s.data() + s.size(), v,
                    sci ? std::chars_format::scientific : std::chars_format::fixed, precision);
  KILN_ASSERT(r.ec == std::errc());
  s.resize(static_cast<std::size_t>(r.ptr - s.data()));
  return s;
}

// torch's _Formatter: picks int / fixed / scientific mode from the shown values and the
// common width, from nonzero finite values only (NaN, inf and 0 never widen a column).
class Formatter {
 public:
  Formatter(ScalarType dtype, const PrintOptions& o, std::span<const double> floats,
            std::span<const int64_t> ints)
      : floating_(is_floating_type(dtype)),
        bool_(dtype == ScalarType::Bool),
        precision_(o.precision) {
    if (!floating_) {
      for (int64_t v : ints) width_ = std::max(width_, format_int(v).size());
      return;
    }
    bool any = false;
    double lo = 0, hi = 0;
    for (double v : floats) {
      if (!std::isfinite(v) || v == 0) continue;
      const double a = std::fabs(v);
      lo = any ? std::min(lo, a) : a;
      hi = any ? std::max(hi, a) : a;
      any = true;
      if (v != std::ceil(v)) int_mode_ = false;
    }
    if (any) {
      sci_ = hi / lo > 1000.0 || hi > 1.0e8 || (!int_mode_ && lo < 1.0e-4);
      for (double v : floats)
        if (std::isfinite(v) && v != 0) width_ = std::max(width_, format_value(v).size());
    }
    if (o.sci_mode) sci_ = *o.sci_mode;  // torch applies the override after measuring
  }

  std::size_t width() const { return width_; }

  // One element, right-aligned to the common width.
  std::string format(double v) const { return pad(format_value(v)); }
  std::string format(int64_t v) const { return pad(format_int(v)); }

 private:
  std::string format_int(int64_t v) const {
    if (bool_) return v ? "True" : "False";
    return std::to_string(v);
  }
  std::string format_value(double v) const {
    if (sci_) return format_float(v, precision_, true);
    if (int_mode_) {
      std::string s = format_float(v, 0, false);
      if (std::isfinite(v)) s += '.';
      return s;
    }
    return format_float(v, precision_, false);
  }
  std::string pad(std::string s) const {
    if (s.size() < width_) s.insert(0, width_ - s.size(), ' ');
    return s;
  }

  bool floating_, bool_;
  int precision_;
  bool int_mode_ = true, sci_ = false;
  std::size_t width_ = 1;
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string s;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i) s += sep;
    s += parts[i];
  }
  return s;
}

// torch's _tensor_str_with_formatter / _vector_str over the gathered elements, which
// arrive in printing order (`next` walks them).
class Builder {
 public:
  Builder(const Shape& shape, bool summarize, const PrintOptions& o, std::vector<std::string> elems,
          std::size_t width)
      : shape_(shape), summarize_(summarize), o_(o), elems_(std::move(elems)), width_(width) {}

  std::string build(int d, int indent) {
    if (shape_.size() == 0) return elems_[next_++];
    const int64_t n = shape_[d];
    const bool cut = summarize_ && n > 2 * o_.edgeitems;
    const int64_t shown = cut ? 2 * o_.edgeitems : n;
    std::vector<std::string> parts;
    const bool last = d == shape_.size() - 1;
    for (int64_t i = 0; i < shown; ++i) {
      if (cut && i == o_.edgeitems) parts.emplace_back(last ? " ..." : "...");
      parts.push_back(last ? elems_[next_++] : build(d + 1, indent + 1));
    }
    if (!last) {
      // Appends rather than operator+ chains: GCC 12 warns falsely (-Wrestrict) on those.
      std::string sep = ",";
      sep.append(static_cast<std::size_t>(shape_.size() - d - 1), '\n');
      sep.append(static_cast<std::size_t>(indent + 1), ' ');
      return bracket(join(parts, sep));
    }
    // Rows wrap after as many elements (", "-separated) as fit in linewidth.
    const int64_t room = o_.linewidth - indent, elem_len = static_cast<int64_t>(width_) + 2;
    const int64_t per_line = std::max<int64_t>(1, room >= 0 ? room / elem_len : 1);
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < parts.size(); i += static_cast<std::size_t>(per_line)) {
      const auto end = std::min(parts.size(), i + static_cast<std::size_t>(per_line));
      lines.push_back(
          join(std::vector<std::string>(parts.begin() + static_cast<std::ptrdiff_t>(i),
                                        parts.begin() + static_cast<std::ptrdiff_t>(end)),
               ", "));
    }
    std::string sep = ",\n";
    sep.append(static_cast<std::size_t>(indent + 1), ' ');
    return bracket(join(lines, sep));
  }

  static std::string bracket(const std::string& inner) {
    std::string r;
    r.reserve(inner.size() + 2);
    r.push_back('[');
    r.append(inner);
    r.push_back(']');
    return r;
  }

 private:
  const Shape& shape_;
  bool summarize_;
  const PrintOptions& o_;
  std::vector<std::string> elems_;
  std::size_t width_;
  std::size_t next_ = 0;
};

// Python's str(tuple): (0, 3), (0,) and ().
std::string tuple_str(const Shape& s) {
  std::string r = "(";
  for (int i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  if (s.size() == 1) r += ",";
  return r + ")";
}

// torch's _add_suffixes: ", dtype=..." on the last line, or on a new line when it would
// pass linewidth.
std::string add_suffixes(std::string s, const std::vector<std::string>& suffixes, int indent,
                         int linewidth) {
  const auto nl = s.rfind('\n');
  int64_t last_line_len = static_cast<int64_t>(s.size()) -
                          (nl == std::string::npos ? -1 : static_cast<int64_t>(nl)) + 1;
  for (const std::string& suffix : suffixes) {
    const auto len = static_cast<int64_t>(suffix.size());
    if (last_line_len + len + 2 > linewidth) {
      s += ",\n" + std::string(static_cast<std::size_t>(indent), ' ') + suffix;
      last_line_len = indent + len;
    } else {
      s += ", " + suffix;
      last_line_len += len + 2;
    }
  }
  return s + ")";
}

}  // namespace

void set_printoptions(const PrintOptions& options) {
  KILN_CHECK(options.precision >= 0, ValueError, "[set_printoptions] precision must be >= 0, got ",
             options.precision);
  KILN_CHECK(options.threshold >= 0, ValueError, "[set_printoptions] threshold must be >= 0, got ",
             options.threshold);
  KILN_CHECK(options.edgeitems >= 1, ValueError, "[set_printoptions] edgeitems must be >= 1, got ",
             options.edgeitems);
  KILN_CHECK(options.linewidth >= 1, ValueError, "[set_printoptions] linewidth must be >= 1, got ",
             options.linewidth);
  std::lock_guard<std::mutex> lock(options_mutex());
  global_options() = options;
}

PrintOptions get_printoptions() {
  std::lock_guard<std::mutex> lock(options_mutex());
  return global_options();
}

namespace detail {

PrintPlan print_plan(const Shape& shape, const Strides& strides) {
  PrintPlan plan;
  plan.options = get_printoptions();
  const int64_t n = numel_of(shape);
  if (n == 0) return plan;
  plan.summarize = n > plan.options.threshold;
  const int64_t e = plan.options.edgeitems;
  // The indices shown along each dim: all, or the first and last `e` when summarised.
  std::vector<std::vector<int64_t>> shown(static_cast<std::size_t>(shape.size()));
  std::size_t total = 1;
  for (int d = 0; d < shape.size(); ++d) {
    auto& idx = shown[static_cast<std::size_t>(d)];
    const bool cut = plan.summarize && shape[d] > 2 * e;
    for (int64_t i = 0; i < shape[d]; ++i)
      if (!cut || i < e || i >= shape[d] - e) idx.push_back(i);
    total *= idx.size();
  }
  plan.offsets.reserve(total);
  std::vector<std::size_t> pos(static_cast<std::size_t>(shape.size()), 0);
  for (std::size_t k = 0; k < total; ++k) {
    int64_t off = 0;
    for (int d = 0; d < shape.size(); ++d)
      off += shown[static_cast<std::size_t>(d)][pos[static_cast<std::size_t>(d)]] * strides[d];
    plan.offsets.push_back(off);
    for (int d = shape.size() - 1; d >= 0; --d) {  // odometer, last dim fastest
      const auto ud = static_cast<std::size_t>(d);
      if (++pos[ud] < shown[ud].size()) break;
      pos[ud] = 0;
    }
  }
  return plan;
}

std::string format_tensor(const PrintPlan& plan, ScalarType dtype, const Shape& shape,
                          std::span<const double> floats, std::span<const int64_t> ints,
                          int device) {
  const PrintOptions& o = plan.options;
  const std::string prefix = "tensor(";
  const int indent = static_cast<int>(prefix.size());
  const std::string dtype_suffix = "dtype=kiln." + std::string(scalar_type_name(dtype));
  std::vector<std::string> suffixes;
  if (device >= 0) suffixes.push_back("device='cuda:" + std::to_string(device) + "'");
  std::string body;
  if (numel_of(shape) == 0) {
    // Explicit size unless 1-d (as NumPy); dtype unless float32: no elements show it.
    if (shape.size() != 1) suffixes.push_back("size=" + tuple_str(shape));
    if (dtype != ScalarType::Float) suffixes.push_back(dtype_suffix);
    body = "[]";
  } else {
    if (dtype != ScalarType::Float && dtype != ScalarType::Int64 && dtype != ScalarType::Bool)
      suffixes.push_back(dtype_suffix);
    const Formatter f(dtype, o, floats, ints);
    std::vector<std::string> elems;
    if (is_floating_type(dtype)) {
      KILN_ASSERT(floats.size() == plan.offsets.size());
      for (double v : floats) elems.push_back(f.format(v));
    } else {
      KILN_ASSERT(ints.size() == plan.offsets.size());
      for (int64_t v : ints) elems.push_back(f.format(v));
    }
    Builder b(shape, plan.summarize, o, std::move(elems), f.width());
    body = b.build(0, indent);
  }
  return add_suffixes(prefix + body, suffixes, indent, o.linewidth);
}

}  // namespace detail
}  // namespace kiln
