// gelu(x) = x Phi(x) = x/2 + |x|/2 erf(|x| / sqrt 2).
//
// With t = min(|x|, 6) and u = t 32 / 6, piece j = floor(u) approximates
// erf((j + s) 6 / 32 / sqrt 2) by c0 + c1 s + ... + c4 s^4 for s = u - j in [0, 1). The
// coefficients interpolate erf at the five Chebyshev points of the piece, computed in
// double once per process. A vector of 16 piece indices selects each coefficient from two
// 16-float registers with one permutation.
#include "lib/tensor/gelu_table.hpp"

#include <array>
#include <cmath>
#include <numbers>

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#endif

namespace neurop::detail {

#if defined(__AVX512F__) && defined(__AVX512DQ__)
namespace {

constexpr int kPieces = 32;
constexpr int kDegree = 4;
constexpr double kRange = 6.0;

using Coefficients = std::array<std::array<float, kPieces>, kDegree + 1>;  // [power][piece]

// Solves the (kDegree + 1)-point interpolation in monomials of s by Gaussian elimination
// with partial pivoting. At degree 4 the Vandermonde matrix on [0, 1] is well enough
// conditioned for double.
Coefficients build_coefficients() {
  constexpr int n = kDegree + 1;
  Coefficients table{};
  const double width = kRange / kPieces;
  for (int piece = 0; piece < kPieces; ++piece) {
    std::array<std::array<double, n + 1>, n> system{};
    for (int i = 0; i < n; ++i) {
      const double s = 0.5 - 0.5 * std::cos(std::numbers::pi * (i + 0.5) / n);
      for (int k = 0; k < n; ++k) system[i][k] = std::pow(s, k);
      system[i][n] = std::erf((piece + s) * width / std::numbers::sqrt2);
    }
    for (int column = 0; column < n; ++column) {
      int pivot = column;
      for (int r = column + 1; r < n; ++r)
        if (std::abs(system[r][column]) > std::abs(system[pivot][column])) pivot = r;
      std::swap(system[column], system[pivot]);
      for (int r = 0; r < n; ++r) {
        if (r == column) continue;
        const double factor = system[r][column] / system[column][column];
        for (int k = column; k <= n; ++k) system[r][k] -= factor * system[column][k];
      }
    }
    for (int k = 0; k < n; ++k) table[k][piece] = static_cast<float>(system[k][n] / system[k][k]);
  }
  return table;
}

}  // namespace
#endif

bool gelu_table_forward(const float* x, float* y, std::int64_t n) {
#if !defined(__AVX512F__) || !defined(__AVX512DQ__)
  (void)x, (void)y, (void)n;
  return false;
#else
  static const Coefficients table = build_coefficients();
  __m512 low[kDegree + 1], high[kDegree + 1];
  for (int k = 0; k <= kDegree; ++k) {
    low[k] = _mm512_loadu_ps(table[k].data());
    high[k] = _mm512_loadu_ps(table[k].data() + 16);
  }
  const __m512 scale = _mm512_set1_ps(static_cast<float>(kPieces / kRange));
  const __m512 limit = _mm512_set1_ps(std::nextafter(static_cast<float>(kRange), 0.0F));
  const __m512 half = _mm512_set1_ps(0.5F);
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 mask = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1U << (n - i)) - 1U);
    const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
    const __m512 half_v = _mm512_mul_ps(v, half);
    // A NaN in v gives min(NaN, limit) = limit here, and half_v carries the NaN to y.
    const __m512 u = _mm512_mul_ps(_mm512_min_ps(_mm512_abs_ps(v), limit), scale);
    const __m512 s = _mm512_reduce_ps(u, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);  // u - floor(u)
    const __m512i piece = _mm512_cvttps_epi32(u);
    __m512 erf = _mm512_permutex2var_ps(low[kDegree], piece, high[kDegree]);
    for (int k = kDegree - 1; k >= 0; --k) erf = _mm512_fmadd_ps(erf, s, _mm512_permutex2var_ps(low[k], piece, high[k]));
    _mm512_mask_storeu_ps(y + i, mask, _mm512_fmadd_ps(_mm512_abs_ps(half_v), erf, half_v));
  }
  return true;
#endif
}

}  // namespace neurop::detail
