// SPDX-License-Identifier: BSD-3-Clause
// Reference helpers for ops that work along one dim: a tensor's values as doubles in
// row-major order, a loop that maps every 1-D row along a dim, and the layouts such ops
// are tested on.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kiln/kiln.hpp"

namespace kiln_test {

/// Row-major values of any tensor view, as double.
template <class T>
std::vector<double> values_of(const kiln::Tensor<T>& t) {
  const kiln::Tensor<T> c = t.contiguous();
  std::vector<double> v(static_cast<std::size_t>(c.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) {
    if constexpr (kiln::is_reduced_float_v<T>)
      v[i] = static_cast<double>(static_cast<float>(c.data()[i]));
    else
      v[i] = static_cast<double>(c.data()[i]);
  }
  return v;
}

using RowFn = std::function<std::vector<double>(const std::vector<double>&)>;

/// Applies f to each row along dim d of the row-major array v of shape s (a 0-d array is
/// one row of one element). f may return rows of another length m; the result is the
/// row-major array whose dim d has length m.
inline std::vector<double> map_rows(const std::vector<double>& v, const kiln::Shape& s, int d,
                                    const RowFn& f) {
  int64_t outer = 1, n = 1, inner = 1;
  for (int k = 0; k < s.size(); ++k) (k < d ? outer : k == d ? n : inner) *= s[k];
  std::vector<double> out;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      std::vector<double> row;
      for (int64_t k = 0; k < n; ++k)
        row.push_back(v[static_cast<std::size_t>((o * n + k) * inner + i)]);
      const std::vector<double> r = f(row);
      const int64_t m = static_cast<int64_t>(r.size());
      if (out.empty()) out.assign(static_cast<std::size_t>(outer * m * inner), 0.0);
      for (int64_t k = 0; k < m; ++k)
        out[static_cast<std::size_t>((o * m + k) * inner + i)] = r[static_cast<std::size_t>(k)];
    }
  return out;
}

/// |got - want| <= atol + rtol * |want| elementwise; NaN must meet NaN, inf the same inf.
/// The first few mismatches are reported one by one (per-element CHECKs are slow).
template <class T>
void check_close(const kiln::Tensor<T>& got, const std::vector<double>& want, double rtol,
                 double atol) {
  const auto g = values_of(got);
  REQUIRE(g.size() == want.size());
  int bad = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    bool ok;
    if (std::isnan(want[i]))
      ok = std::isnan(g[i]);
    else if (std::isinf(want[i]))
      ok = g[i] == want[i];
    else
      ok = std::abs(g[i] - want[i]) <= atol + rtol * std::abs(want[i]);
    if (!ok && ++bad <= 5) {
      INFO("element " << i << ": got " << g[i] << ", want " << want[i]);
      CHECK(ok);
    }
  }
  CHECK(bad == 0);
}

/// Views that row-wise ops must handle: contiguous, transposed, stepped, permuted, size-1
/// dims, rows longer than any internal block, broadcast (stride 0) and 0-d. Values are in
/// [-2, 2), rounded to integers (many ties) when `integral`.
template <class T>
std::vector<std::pair<std::string, kiln::Tensor<T>>> row_layouts(bool integral = false) {
  kiln::manual_seed(7);
  auto base = [&](const kiln::Shape& s) {
    kiln::Tensor<float> r = kiln::rand<float>(s) * 4.0f - 2.0f;
    if (integral) r = kiln::round(r);
    return r.to<T>();
  };
  std::vector<std::pair<std::string, kiln::Tensor<T>>> out;
  out.emplace_back("contiguous [3,4,5]", base({3, 4, 5}));
  out.emplace_back("transposed [5,4]", base({4, 5}).t());
  out.emplace_back("stepped [6,3]", base({6, 9}).slice(1, 1, 9, 3));
  out.emplace_back("permuted [5,3,4]", base({3, 4, 5}).permute({2, 0, 1}));
  out.emplace_back("size-1 dims [1,7,1]", base({1, 7, 1}));
  out.emplace_back("long rows [3,5000]", base({3, 5000}));
  out.emplace_back("long columns [4100,3]", base({4100, 3}));
  out.emplace_back("broadcast [4,6] from [1,6]", base({1, 6}).expand({4, 6}));
  out.emplace_back("broadcast [5,3] from [5,1]", base({5, 1}).expand({5, 3}));
  out.emplace_back("0-d", base({}));
  return out;
}

}  // namespace kiln_test
