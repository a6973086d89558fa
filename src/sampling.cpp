// SPDX-License-Identifier: BSD-3-Clause
// multinomial and randperm (declared in include/kiln/tensor/sampling.hpp): sorting and
// searching that users' files need not compile. Layouts: Note [Random streams].
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "kiln/core/error.hpp"
#include "kiln/core/generator.hpp"
#include "kiln/core/parallel.hpp"
#include "kiln/core/philox.hpp"
#include "kiln/core/shape.hpp"

namespace kiln::detail {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxDouble = std::numeric_limits<double>::max();

// Calls f(i, word) for i in [i0, i1), where `word` is element i's 64-bit word in the
// "2 per block" layout: block i / 2, words 2 (i % 2) and 2 (i % 2) + 1.
template <class F>
void for_words64(PhiloxState st, int64_t i0, int64_t i1, F& f) {
  int64_t i = i0;
  while (i < i1) {
    const auto w = philox_block_inline(st, static_cast<uint64_t>(i / 2));
    for (int k = static_cast<int>(i % 2); k < 2 && i < i1; ++k, ++i)
      f(i, static_cast<uint64_t>(w[2 * k + 1]) << 32 | w[2 * k]);
  }
}

// for_words64 split across threads at block boundaries (`grain` in blocks).
template <class F>
void parallel_words64(PhiloxState st, int64_t i0, int64_t i1, int64_t grain, F f) {
  if (i1 <= i0) return;
  const int64_t b0 = i0 / 2, b1 = (i1 - 1) / 2 + 1;
  parallel_for(b1 - b0, grain, 1, [&](int64_t c0, int64_t c1) {
    F g = f;
    for_words64(st, std::max(i0, (b0 + c0) * 2), std::min(i1, (b0 + c1) * 2), g);
  });
}

// "probs[j]" or "probs[r, j]", as the user indexes the tensor.
std::string where_in(const Shape& shape, int64_t r, int64_t j) {
  return shape.size() == 2 ? str_cat("probs[", r, ", ", j, "]") : str_cat("probs[", j, "]");
}
std::string row_name(const Shape& shape, int64_t r) {
  return shape.size() == 2 ? str_cat("row ", r) : std::string("the distribution");
}

// Rows per thread chunk: about kParallelGrain categories' work each.
int64_t row_grain(int64_t n) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1));
}

}  // namespace

void check_multinomial_probs(const double* probs, int64_t batch, int64_t n, int64_t num_samples,
                             bool replacement, const Shape& shape) {
  for (int64_t r = 0; r < batch; ++r) {
    const double* p = probs + r * n;
    double sum = 0;
    int64_t nonzero = 0;
    for (int64_t j = 0; j < n; ++j) {
      KILN_CHECK(p[j] >= 0 && p[j] < std::numeric_limits<double>::infinity(), ValueError,
                 "[multinomial] probability tensor contains either inf, nan or element < 0: ",
                 where_in(shape, r, j), " = ", p[j], " (shape ", shape, ")");
      sum += p[j];
      nonzero += p[j] > 0;
    }
    KILN_CHECK(sum > 0, ValueError,
               "[multinomial] invalid multinomial distribution (sum of probabilities <= 0) in ",
               row_name(shape, r), " (shape ", shape, ")");
    KILN_CHECK(std::isfinite(sum), ValueError, "[multinomial] the probabilities of ",
               row_name(shape, r), " sum to inf (shape ", shape, "); scale them down");
    KILN_CHECK(replacement || nonzero >= num_samples, ValueError, "[multinomial] ",
               row_name(shape, r), " has only ", nonzero,
               " categories with nonzero probability, fewer than num_samples=", num_samples,
               " drawn without replacement (shape ", shape, ")");
  }
}

void multinomial_cpu(const double* probs, int64_t batch, int64_t n, int64_t num_samples,
                     bool replacement, PhiloxState st, int64_t* out) {
  if (replacement) {
    // Inverse CDF: running sums per row, then one uniform per sample (element
    // r * num_samples + s) and a binary search.
    std::vector<double> cdf(static_cast<std::size_t>(batch * n));
    std::vector<int64_t> last(static_cast<std::size_t>(batch));  // last positive category
    parallel_for(batch, row_grain(n), 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const double* p = probs + r * n;
        double* c = cdf.data() + r * n;
        double s = 0;
        for (int64_t j = 0; j < n; ++j) {
          s += p[j];
          c[j] = s;
          if (p[j] > 0) last[static_cast<std::size_t>(r)] = j;
        }
      }
    });
    // A zero-weight category never has c[j] > x: its running sum equals its predecessor's.
    parallel_words64(st, 0, batch * num_samples, kParallelGrain / 8,
                     [&, cdf = cdf.data()](int64_t i, uint64_t w) {
                       const int64_t r = i / num_samples;
                       const double* c = cdf + r * n;
                       const double x = u64_to_unit_double(w) * c[n - 1];
                       int64_t j = std::upper_bound(c, c + n, x) - c;
                       if (j == n)
                         j = last[static_cast<std::size_t>(r)];  // x rounded up to the sum
                       out[i] = j;
                     });
    return;
  }
  // Without replacement: the exponential race. Category j of row r arrives at time
  // E / p_j with E ~ Exp(1) from element r * n + j; the first num_samples arrivals are a
  // sample without replacement, in draw order. A positive p's time is capped at the
  // largest double, so that it still comes before every zero p's (+inf).
  const int64_t k = num_samples;
  parallel_for(batch, row_grain(n), 1, [&](int64_t r0, int64_t r1) {
    std::vector<std::pair<double, int64_t>> keys(static_cast<std::size_t>(n));
    for (int64_t r = r0; r < r1; ++r) {
      const double* p = probs + r * n;
      parallel_words64(st, r * n, (r + 1) * n, kParallelGrain / 16,
                       [&, kp = keys.data()](int64_t i, uint64_t w) {
                         const int64_t j = i - r * n;
                         const double e = -std::log1p(-u64_to_unit_double(w));  // Exp(1), >= 0
                         kp[j] = {p[j] > 0 ? std::min(e / p[j], kMaxDouble) : kInf, j};
                       });
      // (key, index) pairs are distinct, so the selection is unique: ties go to the lower
      // index whatever the algorithm.
      if (k < n) std::nth_element(keys.begin(), keys.begin() + k, keys.end());
      std::sort(keys.begin(), keys.begin() + k);
      for (int64_t s = 0; s < k; ++s) out[r * k + s] = keys[static_cast<std::size_t>(s)].second;
    }
  });
}

void randperm_cpu(int64_t n, PhiloxState st, int64_t* out) {
  // Sorting distinct random keys gives every order the same probability; a tie (about
  // n^2 / 2^65) is broken by index, so the result stays a function of (seed, call).
  std::vector<std::pair<uint64_t, int64_t>> keys(static_cast<std::size_t>(n));
  parallel_words64(st, 0, n, kParallelGrain / 2, [kp = keys.data()](int64_t i, uint64_t w) {
    kp[i] = {w, i};
  });
  std::sort(keys.begin(), keys.end());
  parallel_for(n, kParallelGrain, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = keys[static_cast<std::size_t>(i)].second;
  });
}

}  // namespace kiln::detail
