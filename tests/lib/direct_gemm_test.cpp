#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lib/core/random.hpp"
#include "lib/core/threads.hpp"
#include "lib/tensor/direct_gemm.hpp"

using neurop::detail::direct_gemm;

namespace {

struct GemmCase {
  std::int64_t m, n, k;
};

// Shapes of FNO layers (channel mixing, truncated DFT and its inverse) and shapes whose
// blocks leave tails in both directions.
const std::vector<GemmCase> kCases = {{1, 1, 1},     {3, 5, 7},     {64, 1024, 64}, {1280, 32, 1024},
                                      {130, 300, 17}, {70, 33, 1024}, {5, 600, 3},    {128, 257, 64},
                                      {32, 1041, 512}};

// Padding of every leading dimension, so that rows do not follow each other directly.
constexpr std::int64_t kPad = 3;

template <typename T>
std::vector<T> random_values(std::int64_t count, neurop::Rng& rng) {
  std::vector<T> values(static_cast<std::size_t>(count));
  for (T& v : values) v = static_cast<T>(rng.uniform(-1.0, 1.0));
  return values;
}

// Checks C against sum_l A[i, l] B[l, j] (+ the initial value) in float64, with the
// standard round-off bound 2 k eps sum_l |A[i, l] B[l, j]|; the padding must be unchanged.
template <typename T>
void check_product(const GemmCase& c, bool accumulate) {
  neurop::Rng rng(7);
  const std::int64_t lda = c.k + kPad, ldb = c.n + kPad, ldc = c.n + kPad;
  const std::vector<T> a = random_values<T>(c.m * lda, rng), b = random_values<T>(c.k * ldb, rng);
  const T initial = accumulate ? static_cast<T>(1.5) : std::numeric_limits<T>::quiet_NaN();
  std::vector<T> out(static_cast<std::size_t>(c.m * ldc), initial);
  direct_gemm<T>(a.data(), lda, b.data(), ldb, out.data(), ldc, c.m, c.n, c.k, accumulate);

  const double eps = std::numeric_limits<T>::epsilon();
  std::int64_t wrong = 0, padding_changed = 0;
  for (std::int64_t i = 0; i < c.m; ++i) {
    for (std::int64_t j = 0; j < ldc; ++j) {
      const double actual = static_cast<double>(out[static_cast<std::size_t>(i * ldc + j)]);
      if (j >= c.n) {
        if (!(std::isnan(actual) == std::isnan(static_cast<double>(initial)) &&
              (std::isnan(actual) || actual == static_cast<double>(initial))))
          ++padding_changed;
        continue;
      }
      double expected = accumulate ? static_cast<double>(initial) : 0.0, magnitude = 0.0;
      for (std::int64_t l = 0; l < c.k; ++l) {
        const double term = static_cast<double>(a[static_cast<std::size_t>(i * lda + l)]) *
                            static_cast<double>(b[static_cast<std::size_t>(l * ldb + j)]);
        expected += term;
        magnitude += std::abs(term);
      }
      const double bound = 2.0 * static_cast<double>(c.k + 1) * eps * (magnitude + std::abs(expected));
      if (!(std::abs(actual - expected) <= bound)) ++wrong;
    }
  }
  INFO("m = ", c.m, ", n = ", c.n, ", k = ", c.k, ", accumulate = ", accumulate);
  CHECK(wrong == 0);
  CHECK(padding_changed == 0);
}

}  // namespace

TEST_CASE_TEMPLATE("direct_gemm matches the float64 sum", T, float, double) {
  for (const GemmCase& c : kCases) {
    check_product<T>(c, /*accumulate=*/false);
    check_product<T>(c, /*accumulate=*/true);
  }
}

TEST_CASE("direct_gemm same result on 1 and 2 threads") {
  // Many rows (split by rows) and one row block with many columns (split by columns).
  for (const GemmCase& c : {GemmCase{1280, 32, 1024}, GemmCase{32, 1041, 512}}) {
    neurop::Rng rng(3);
    const std::vector<float> a = random_values<float>(c.m * c.k, rng), b = random_values<float>(c.k * c.n, rng);
    std::vector<float> one(static_cast<std::size_t>(c.m * c.n)), two(static_cast<std::size_t>(c.m * c.n));
    const int previous = neurop::num_threads();
    neurop::set_num_threads(1);
    direct_gemm<float>(a.data(), c.k, b.data(), c.n, one.data(), c.n, c.m, c.n, c.k, false);
    neurop::set_num_threads(2);
    direct_gemm<float>(a.data(), c.k, b.data(), c.n, two.data(), c.n, c.m, c.n, c.k, false);
    neurop::set_num_threads(previous);
    INFO("m = ", c.m, ", n = ", c.n, ", k = ", c.k);
    CHECK(one == two);
  }
}

TEST_CASE("direct_gemm with k = 0 writes zeros") {
  std::vector<double> out(6, 4.0);
  direct_gemm<double>(nullptr, 0, nullptr, 3, out.data(), 3, 2, 3, 0, /*accumulate=*/false);
  CHECK(out == std::vector<double>(6, 0.0));
  std::vector<double> kept(6, 4.0);
  direct_gemm<double>(nullptr, 0, nullptr, 3, kept.data(), 3, 2, 3, 0, /*accumulate=*/true);
  CHECK(kept == std::vector<double>(6, 4.0));
}
