#include <cmath>
#include <numbers>
#include <vector>

#include <doctest/doctest.h>

#include "datasets/grf2d.hpp"
#include "lib/core/error.hpp"
#include "lib/core/random.hpp"
#include "tests/support/check.hpp"

using namespace neurop;
using namespace neurop::data;
using neurop::testing::kF64Tight;
using neurop::testing::Tolerance;

namespace {

constexpr double kPi = std::numbers::pi;

std::size_t at(std::int64_t value) { return static_cast<std::size_t>(value); }

// Orthonormal Neumann basis on [0, 1], written out here independently of the library.
double cosine_basis(std::int64_t k, double x) {
  return k == 0 ? 1.0 : std::sqrt(2.0) * std::cos(kPi * static_cast<double>(k) * x);
}

double grid_point(GridPoints points, std::int64_t n, std::int64_t i) {
  return points == GridPoints::vertex ? static_cast<double>(i) / static_cast<double>(n - 1)
                                      : (static_cast<double>(i) + 0.5) / static_cast<double>(n);
}

// sum_k a_k^2 phi_k0(x0)^2 phi_k1(x1)^2 with a_k = sigma (pi^2 |k|^2 + tau^2)^(-alpha/2).
double neumann_series_variance(const Grf2dParams& params, std::int64_t modes, double x0, double x1) {
  double variance = 0.0;
  for (std::int64_t k0 = 0; k0 < modes; ++k0) {
    for (std::int64_t k1 = 0; k1 < modes; ++k1) {
      if (k0 == 0 && k1 == 0 && !params.keep_mean_mode) continue;
      const double lambda = kPi * kPi * static_cast<double>(k0 * k0 + k1 * k1) + params.tau * params.tau;
      const double a2 = params.sigma * params.sigma * std::pow(lambda, -params.alpha);
      variance += a2 * std::pow(cosine_basis(k0, x0) * cosine_basis(k1, x1), 2);
    }
  }
  return variance;
}

}  // namespace

TEST_CASE("neumann grf cosine transform matches explicit sum") {
  struct Case {
    std::int64_t n;
    GridPoints points;
    std::int64_t modes;
  };
  const Case cases[] = {{9, GridPoints::vertex, 9},       {9, GridPoints::vertex, 5}, {2, GridPoints::vertex, 2},
                        {8, GridPoints::cell_centred, 8}, {7, GridPoints::cell_centred, 3}};
  Rng rng(21);
  for (const Case& c : cases) {
    CAPTURE(c.n);
    CAPTURE(c.modes);
    Grf2dParams params;
    params.alpha = 1.0;  // slow decay, so the top modes matter in the comparison
    params.keep_mean_mode = true;
    const NeumannGrf2d grf(c.n, c.points, params, c.modes);
    const std::vector<double> coefficients = grf.draw_coefficients(rng);
    std::vector<double> field(at(c.n * c.n));
    grf.synthesize(coefficients, field);
    const std::vector<double> x = grf.coordinates();
    for (std::int64_t i = 0; i < c.n; ++i) {
      CHECK_CLOSE(x[at(i)], grid_point(c.points, c.n, i), kF64Tight);
      for (std::int64_t j = 0; j < c.n; ++j) {
        double expected = 0.0;
        for (std::int64_t k0 = 0; k0 < c.modes; ++k0) {
          for (std::int64_t k1 = 0; k1 < c.modes; ++k1) {
            expected += coefficients[at(k0 * c.modes + k1)] * cosine_basis(k0, x[at(i)]) * cosine_basis(k1, x[at(j)]);
          }
        }
        CHECK_CLOSE(field[at(i * c.n + j)], expected, kF64Tight);
        CHECK_CLOSE(grf.evaluate(coefficients, x[at(i)], x[at(j)]), expected, kF64Tight);
      }
    }
  }
}

TEST_CASE("periodic grf inverse FFT matches explicit sum") {
  Rng rng(5);
  for (const std::int64_t n : {8, 9}) {
    CAPTURE(n);
    Grf2dParams params;
    params.alpha = 1.0;
    params.keep_mean_mode = true;
    const PeriodicGrf2d grf(n, params);
    CHECK(grf.max_mode() == (n - 1) / 2);
    const PeriodicGrf2d::Coefficients coefficients = grf.draw_coefficients(rng);
    std::vector<double> field(at(n * n));
    grf.synthesize(coefficients, field);
    const std::int64_t k_max = grf.max_mode();
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        const double x0 = static_cast<double>(i) / static_cast<double>(n);
        const double x1 = static_cast<double>(j) / static_cast<double>(n);
        double expected = coefficients.cosine[at(k_max * (k_max + 1))];
        for (std::int64_t k0 = -k_max; k0 <= k_max; ++k0) {
          for (std::int64_t k1 = 0; k1 <= k_max; ++k1) {
            if (!(k1 > 0 || k0 > 0)) continue;
            const std::size_t index = at((k0 + k_max) * (k_max + 1) + k1);
            const double theta = 2.0 * kPi * (static_cast<double>(k0) * x0 + static_cast<double>(k1) * x1);
            expected += std::sqrt(2.0) * (coefficients.cosine[index] * std::cos(theta) +
                                          coefficients.sine[index] * std::sin(theta));
          }
        }
        CHECK_CLOSE(field[at(i * n + j)], expected, kF64Tight);
        CHECK_CLOSE(grf.evaluate(coefficients, x0, x1), expected, kF64Tight);
      }
    }
  }
}

TEST_CASE("neumann grf pointwise variance") {
  // 20000 samples: the sample variance has a relative standard error sqrt(2 / 20000) = 1%,
  // so 4% is a four-sigma bound.
  const Tolerance statistical{0.0, 0.04};
  const std::int64_t samples = 20000;
  for (const GridPoints points : {GridPoints::vertex, GridPoints::cell_centred}) {
    const std::int64_t n = 17;
    const Grf2dParams params;  // alpha = 2, tau = 3: the Darcy benchmark field
    const NeumannGrf2d grf(n, points, params);
    const std::int64_t probes[][2] = {{0, 0}, {0, 8}, {8, 8}, {3, 11}, {16, 5}};
    std::vector<double> sum_squares(std::size(probes), 0.0), sums(std::size(probes), 0.0);
    std::vector<double> field(at(n * n));
    for (std::int64_t s = 0; s < samples; ++s) {
      Rng rng = Rng::stream(8, static_cast<std::uint64_t>(s));
      grf.sample(rng, field);
      for (std::size_t p = 0; p < std::size(probes); ++p) {
        const double value = field[at(probes[p][0] * n + probes[p][1])];
        sums[p] += value;
        sum_squares[p] += value * value;
      }
    }
    const std::vector<double> x = grf.coordinates();
    for (std::size_t p = 0; p < std::size(probes); ++p) {
      const double x0 = x[at(probes[p][0])], x1 = x[at(probes[p][1])];
      const double predicted = neumann_series_variance(params, n, x0, x1);
      CHECK_CLOSE(grf.pointwise_variance(x0, x1), predicted, kF64Tight);
      const double mean = sums[p] / static_cast<double>(samples);
      const double variance = sum_squares[p] / static_cast<double>(samples) - mean * mean;
      MESSAGE("point (" << x0 << ", " << x1 << "): sample variance " << variance << ", series " << predicted);
      CHECK_CLOSE(variance, predicted, statistical);
    }
  }
}

TEST_CASE("periodic grf pointwise variance") {
  const Tolerance statistical{0.0, 0.04};  // four standard errors for 20000 samples
  const std::int64_t n = 16, samples = 20000;
  Grf2dParams params;
  params.alpha = 2.5;
  params.tau = 4.0;
  params.sigma = 20.0;
  const PeriodicGrf2d grf(n, params);
  // Var u = sum over k != 0 with |k0|, |k1| <= 7 of sigma^2 (4 pi^2 |k|^2 + tau^2)^(-alpha)
  double predicted = 0.0;
  for (int k0 = -7; k0 <= 7; ++k0) {
    for (int k1 = -7; k1 <= 7; ++k1) {
      if (k0 == 0 && k1 == 0) continue;
      predicted += 400.0 * std::pow(4.0 * kPi * kPi * (k0 * k0 + k1 * k1) + 16.0, -2.5);
    }
  }
  CHECK_CLOSE(grf.pointwise_variance(), predicted, kF64Tight);

  const std::int64_t probes[] = {0, 37, 128, 255};
  std::vector<double> sum_squares(std::size(probes), 0.0);
  std::vector<double> field(at(n * n));
  double largest_mean = 0.0;
  for (std::int64_t s = 0; s < samples; ++s) {
    Rng rng = Rng::stream(4, static_cast<std::uint64_t>(s));
    grf.sample(rng, field);
    double mean = 0.0;
    for (double v : field) mean += v;
    largest_mean = std::max(largest_mean, std::abs(mean / static_cast<double>(field.size())));
    for (std::size_t p = 0; p < std::size(probes); ++p) sum_squares[p] += field[at(probes[p])] * field[at(probes[p])];
  }
  // Without the mean mode every sample averages to zero over the grid.
  CHECK(largest_mean < 1e-14);
  for (std::size_t p = 0; p < std::size(probes); ++p) {
    const double variance = sum_squares[p] / static_cast<double>(samples);
    MESSAGE("flat index " << probes[p] << ": sample variance " << variance << ", series " << predicted);
    CHECK_CLOSE(variance, predicted, statistical);
  }
}

TEST_CASE("neumann grf has zero normal derivative") {
  // A fixed set of 6 x 6 modes sampled on refined vertex grids: the one-sided
  // difference (-3 u_0 + 4 u_1 - u_2) / (2 h) equals du/dn + O(h^2), so with du/dn = 0
  // it must shrink by at least about 4 per refinement (a sine mode would not shrink).
  // It shrinks by 8 in practice because d^3u/dn^3 vanishes on the boundary as well.
  Grf2dParams params;
  params.alpha = 1.0;
  Rng rng(17);
  const NeumannGrf2d coarse(9, GridPoints::vertex, params, 6);
  const std::vector<double> coefficients = coarse.draw_coefficients(rng);
  std::vector<double> boundary_derivative;
  for (const std::int64_t n : {17, 33, 65, 129}) {
    const NeumannGrf2d grf(n, GridPoints::vertex, params, 6);
    std::vector<double> field(at(n * n));
    grf.synthesize(coefficients, field);
    const double h = 1.0 / static_cast<double>(n - 1);
    double largest = 0.0;
    for (std::int64_t j = 0; j < n; ++j) {
      auto u = [&](std::int64_t i0, std::int64_t i1) { return field[at(i0 * n + i1)]; };
      // Normal derivatives on the four sides, each taken inwards.
      const double sides[] = {(-3.0 * u(0, j) + 4.0 * u(1, j) - u(2, j)) / (2.0 * h),
                              (-3.0 * u(n - 1, j) + 4.0 * u(n - 2, j) - u(n - 3, j)) / (2.0 * h),
                              (-3.0 * u(j, 0) + 4.0 * u(j, 1) - u(j, 2)) / (2.0 * h),
                              (-3.0 * u(j, n - 1) + 4.0 * u(j, n - 2) - u(j, n - 3)) / (2.0 * h)};
      for (double d : sides) largest = std::max(largest, std::abs(d));
    }
    boundary_derivative.push_back(largest);
  }
  for (std::size_t k = 1; k < boundary_derivative.size(); ++k) {
    const double ratio = boundary_derivative[k - 1] / boundary_derivative[k];
    MESSAGE("max |du/dn| estimate " << boundary_derivative[k] << ", reduction " << ratio);
    CHECK(ratio > 3.5);
  }

  // The continuous expansion is even about each side: u(-d, y) = u(d, y), u(1 - d, y) = u(1 + d, y).
  for (const double d : {1e-3, 0.05, 0.3}) {
    for (const double y : {0.0, 0.21, 0.77}) {
      CHECK_CLOSE(coarse.evaluate(coefficients, -d, y), coarse.evaluate(coefficients, d, y), kF64Tight);
      CHECK_CLOSE(coarse.evaluate(coefficients, 1.0 - d, y), coarse.evaluate(coefficients, 1.0 + d, y), kF64Tight);
      CHECK_CLOSE(coarse.evaluate(coefficients, y, -d), coarse.evaluate(coefficients, y, d), kF64Tight);
    }
  }
}

TEST_CASE("neumann grf is one function on nested grids") {
  // With a fixed mode count, the 17-point grid contains the 9-point grid's points.
  Rng rng(2);
  const Grf2dParams params;
  const NeumannGrf2d coarse(9, GridPoints::vertex, params, 9);
  const NeumannGrf2d fine(17, GridPoints::vertex, params, 9);
  const std::vector<double> coefficients = coarse.draw_coefficients(rng);
  std::vector<double> coarse_field(81), fine_field(289);
  coarse.synthesize(coefficients, coarse_field);
  fine.synthesize(coefficients, fine_field);
  for (std::int64_t i = 0; i < 9; ++i) {
    for (std::int64_t j = 0; j < 9; ++j) CHECK_CLOSE(fine_field[at(2 * i * 17 + 2 * j)], coarse_field[at(i * 9 + j)], kF64Tight);
  }
}

TEST_CASE("neumann grf mean mode and determinism") {
  const std::int64_t n = 12;
  const NeumannGrf2d grf(n, GridPoints::cell_centred, Grf2dParams{});
  CHECK(grf.amplitude(0, 0) == 0.0);
  CHECK(grf.amplitude(0, 1) > 0.0);
  std::vector<double> first(at(n * n)), second(at(n * n));
  Rng rng_a = Rng::stream(3, 7), rng_b = Rng::stream(3, 7);
  grf.sample(rng_a, first);
  grf.sample(rng_b, second);
  CHECK(first == second);
  // On the cell-centred grid every cosine mode k >= 1 sums to zero, so the grid mean is c_00 = 0.
  double mean = 0.0;
  for (double v : first) mean += v;
  CHECK(std::abs(mean / static_cast<double>(n * n)) < 1e-15);

  Grf2dParams with_mean;
  with_mean.keep_mean_mode = true;
  const NeumannGrf2d kept(n, GridPoints::cell_centred, with_mean);
  // a_00 = sigma tau^(-alpha) = 3^(-2)
  CHECK_CLOSE(kept.amplitude(0, 0), 1.0 / 9.0, kF64Tight);
}

TEST_CASE("grf2d rejects invalid input") {
  Grf2dParams params;
  CHECK_THROWS_AS(NeumannGrf2d(1, GridPoints::vertex, params), ValueError);
  CHECK_THROWS_AS(NeumannGrf2d(8, GridPoints::vertex, params, 9), ValueError);
  CHECK_THROWS_AS(NeumannGrf2d(8, GridPoints::vertex, params, 0), ValueError);
  CHECK_THROWS_AS(PeriodicGrf2d(2, params), ValueError);
  CHECK_THROWS_AS(PeriodicGrf2d(16, params, 8), ValueError);
  params.alpha = -1.0;
  CHECK_THROWS_AS(NeumannGrf2d(8, GridPoints::vertex, params), ValueError);
  params.alpha = 2.0;
  params.tau = 0.0;
  params.keep_mean_mode = true;
  CHECK_THROWS_AS(PeriodicGrf2d(8, params), ValueError);
  params.tau = std::nan("");
  params.keep_mean_mode = false;
  CHECK_THROWS_AS(NeumannGrf2d(8, GridPoints::vertex, params), ValueError);

  const NeumannGrf2d grf(8, GridPoints::vertex, Grf2dParams{}, 4);
  std::vector<double> coefficients(16, 0.0), field(64);
  std::vector<double> wrong(15, 0.0), short_field(63);
  CHECK_THROWS_AS(grf.synthesize(wrong, field), ShapeError);
  CHECK_THROWS_AS(grf.synthesize(coefficients, short_field), ShapeError);
}
