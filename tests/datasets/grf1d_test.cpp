#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include <doctest/doctest.h>

#include "datasets/grf1d.hpp"
#include "lib/core/error.hpp"
#include "lib/core/random.hpp"
#include "tests/support/check.hpp"

using namespace neurop;
using namespace neurop::data;
using neurop::testing::kF64Tight;
using neurop::testing::Tolerance;

namespace {

constexpr double kPi = std::numbers::pi;

// u_j = sum_k c_k (xi_k cos(2 pi k j / n) + eta_k sin(2 pi k j / n)), summed directly.
// The angle uses (k j) mod n, computed exactly in integers, so cos and sin are
// evaluated at arguments below 2 pi and keep full relative accuracy.
std::vector<double> explicit_sum(std::int64_t n, const std::vector<double>& amplitudes,
                                 const std::vector<double>& xi, const std::vector<double>& eta) {
  std::vector<double> u(static_cast<std::size_t>(n), 0.0);
  for (std::int64_t j = 0; j < n; ++j) {
    double sum = 0.0;
    for (std::size_t k = 1; k <= amplitudes.size(); ++k) {
      const std::int64_t phase = (static_cast<std::int64_t>(k) * j) % n;
      const double angle = 2.0 * kPi * static_cast<double>(phase) / static_cast<double>(n);
      sum += amplitudes[k - 1] * (xi[k - 1] * std::cos(angle) + eta[k - 1] * std::sin(angle));
    }
    u[static_cast<std::size_t>(j)] = sum;
  }
  return u;
}

// Weights w_j(x) = (1 / n) [1 + 2 sum_{k=1}^{K} cos(2 pi k (x - x_j))] of trigonometric
// interpolation on the grid x_j = j / n (period 1). They reproduce exactly every
// trigonometric polynomial of degree <= K < n / 2, so u(x) = sum_j w_j(x) u_j for a
// sample without the Nyquist mode, also between grid points.
std::vector<double> interpolation_weights(std::int64_t n, std::int64_t max_mode, double x) {
  std::vector<double> weights(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    const double offset = x - static_cast<double>(j) / static_cast<double>(n);
    double sum = 1.0;
    for (std::int64_t k = 1; k <= max_mode; ++k) sum += 2.0 * std::cos(2.0 * kPi * static_cast<double>(k) * offset);
    weights[static_cast<std::size_t>(j)] = sum / static_cast<double>(n);
  }
  return weights;
}

}  // namespace

TEST_CASE("RealFft1d round trip") {
  // inverse(forward(u)) = n u; the spectrum of cos(2 pi 3 j / n) is n / 2 at k = 3.
  const std::int64_t n = 48;
  RealFft1d fft(n);
  std::vector<double> u(static_cast<std::size_t>(n));
  Rng rng(5);
  for (double& value : u) value = rng.normal();
  std::copy(u.begin(), u.end(), fft.real_data());
  fft.forward();
  fft.inverse();
  for (std::int64_t j = 0; j < n; ++j) {
    CHECK_CLOSE(fft.real_data()[j] / static_cast<double>(n), u[static_cast<std::size_t>(j)], kF64Tight);
  }

  for (std::int64_t j = 0; j < n; ++j) {
    fft.real_data()[j] = std::cos(2.0 * kPi * 3.0 * static_cast<double>(j) / static_cast<double>(n));
  }
  fft.forward();
  for (std::int64_t k = 0; k <= n / 2; ++k) {
    const double expected = k == 3 ? 0.5 * static_cast<double>(n) : 0.0;
    CHECK_CLOSE(fft.spectrum_data()[k].real(), expected, kF64Tight);
    CHECK_CLOSE(fft.spectrum_data()[k].imag(), 0.0, kF64Tight);
  }
}

TEST_CASE("RealFft1d copies own their buffers") {
  // A copy shares the plans but not the buffers: both transform their own data.
  const std::int64_t n = 16;
  RealFft1d original(n);
  for (std::int64_t j = 0; j < n; ++j) original.real_data()[j] = static_cast<double>(j);
  RealFft1d copy(original);
  CHECK(copy.real_data() != original.real_data());
  CHECK(copy.real_data()[5] == 5.0);

  for (std::int64_t j = 0; j < n; ++j) copy.real_data()[j] = 1.0;
  copy.forward();
  original.forward();
  CHECK_CLOSE(copy.spectrum_data()[0].real(), static_cast<double>(n), kF64Tight);
  CHECK_CLOSE(copy.spectrum_data()[1].real(), 0.0, kF64Tight);
  // sum_j j = n (n - 1) / 2
  CHECK_CLOSE(original.spectrum_data()[0].real(), static_cast<double>(n * (n - 1) / 2), kF64Tight);
}

TEST_CASE("GRF half spectrum equals explicit sum") {
  const Grf1dParams params{.sigma = 3.0, .tau = 1.0, .gamma = 1.0, .length = 1.0};
  // Even n (Nyquist mode dropped), odd n, and a reduced cut-off.
  for (const auto& [n, max_mode] : {std::pair<std::int64_t, std::int64_t>{64, -1}, {63, -1}, {64, 10}}) {
    CAPTURE(n);
    CAPTURE(max_mode);
    Grf1dSampler sampler(n, params, max_mode);
    const std::int64_t expected_modes = max_mode == -1 ? (n - 1) / 2 : max_mode;
    REQUIRE(sampler.max_mode() == expected_modes);
    for (std::int64_t k = 1; k <= expected_modes; ++k) {
      // c_k = sqrt(2 lambda_k / L) with lambda_k = sigma^2 (4 pi^2 k^2 + tau^2)^(-gamma)
      const double lambda = 9.0 / (4.0 * kPi * kPi * static_cast<double>(k * k) + 1.0);
      CHECK_CLOSE(sampler.amplitudes()[static_cast<std::size_t>(k - 1)], std::sqrt(2.0 * lambda), kF64Tight);
    }

    Rng rng(11);
    std::vector<double> xi(static_cast<std::size_t>(expected_modes)), eta(xi.size());
    for (std::size_t k = 0; k < xi.size(); ++k) {
      xi[k] = rng.normal();
      eta[k] = rng.normal();
    }
    std::vector<double> u(static_cast<std::size_t>(n));
    sampler.synthesize(xi, eta, u);
    const std::vector<double> expected = explicit_sum(n, sampler.amplitudes(), xi, eta);
    // Values are O(1); an FFT of length 64 and a 31-term sum agree to a few ulps.
    const Tolerance round_off{1e-14, 0.0};
    for (std::int64_t j = 0; j < n; ++j) {
      CHECK_CLOSE(u[static_cast<std::size_t>(j)], expected[static_cast<std::size_t>(j)], round_off);
    }
  }
}

TEST_CASE("GRF sample draws coefficients in order") {
  // sample() must equal synthesize() with xi_1, eta_1, xi_2, eta_2, ... from the same stream.
  const std::int64_t n = 32;
  Grf1dSampler sampler(n, Grf1dParams{});
  Rng draw_rng = Rng::stream(7, 3);
  const std::vector<double> drawn = sampler.sample(draw_rng);

  Rng coefficient_rng = Rng::stream(7, 3);
  std::vector<double> xi(static_cast<std::size_t>(sampler.max_mode())), eta(xi.size());
  for (std::size_t k = 0; k < xi.size(); ++k) {
    xi[k] = coefficient_rng.normal();
    eta[k] = coefficient_rng.normal();
  }
  std::vector<double> synthesized(static_cast<std::size_t>(n));
  sampler.synthesize(xi, eta, synthesized);
  CHECK(drawn == synthesized);

  Rng other_rng = Rng::stream(7, 4);
  CHECK(sampler.sample(other_rng) != drawn);

  Rng single_rng = Rng::stream(7, 3);
  CHECK(sample_grf1d(n, Grf1dParams{}, single_rng) == drawn);
}

TEST_CASE("GRF samples have zero mean") {
  // The mode k = 0 is left out and every kept mode sums to zero over the grid.
  const std::int64_t n = 256;
  const Grf1dParams params{.sigma = 25.0, .tau = 5.0, .gamma = 2.0, .length = 1.0};
  Grf1dSampler sampler(n, params);
  for (std::uint64_t i = 0; i < 50; ++i) {
    Rng rng = Rng::stream(1, i);
    const std::vector<double> u = sampler.sample(rng);
    double sum = 0.0, max_abs = 0.0;
    for (double value : u) {
      sum += value;
      max_abs = std::max(max_abs, std::abs(value));
    }
    const double mean = sum / static_cast<double>(n);
    CAPTURE(i);
    CAPTURE(max_abs);
    // Round-off of one FFT and a 256-term sum of O(1) values.
    CHECK(std::abs(mean) <= 1e-15 * (1.0 + max_abs));
  }
}

TEST_CASE("GRF pointwise variance matches prediction") {
  // u = sum_{k=1}^{127} c_k (xi_k cos + eta_k sin) with c_k = 625 (4 pi^2 k^2 + 25)^(-2)
  // on n = 256 points. In the parameters of the sampler, c_k = sqrt(2 lambda_k / L)
  // with L = 1 and lambda_k = sigma^2 (4 pi^2 k^2 + tau^2)^(-gamma), so tau = 5,
  // gamma = 4 and sqrt(2) sigma = 625. The predicted variance is sum c_k^2 = 0.022970.
  const std::int64_t n = 256;
  const Grf1dParams params{.sigma = 625.0 / std::sqrt(2.0), .tau = 5.0, .gamma = 4.0, .length = 1.0};
  double predicted = 0.0;
  for (std::int64_t k = 127; k >= 1; --k) {
    const double c = 625.0 * std::pow(4.0 * kPi * kPi * static_cast<double>(k * k) + 25.0, -2.0);
    predicted += c * c;
  }
  CHECK_CLOSE(predicted, 0.022970, (Tolerance{5e-7, 0.0}));
  CHECK_CLOSE(grf1d_pointwise_variance(n, params), predicted, kF64Tight);

  // 20000 samples estimate a variance with relative standard deviation sqrt(2 / 20000)
  // = 1%, so 3% is a 3-sigma bound. Building the spectrum without the n / 2 factor
  // would scale the variance by n^2 / 4 = 16384 and fail by far.
  Grf1dSampler sampler(n, params);
  const std::int64_t samples = 20000;
  const std::vector<double> weights = interpolation_weights(n, sampler.max_mode(), 0.37);
  double sum_squares_origin = 0.0, sum_squares_inner = 0.0;
  std::vector<double> u(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < samples; ++i) {
    Rng rng = Rng::stream(2024, static_cast<std::uint64_t>(i));
    sampler.sample(rng, u);
    double inner = 0.0;
    for (std::int64_t j = 0; j < n; ++j) inner += weights[static_cast<std::size_t>(j)] * u[static_cast<std::size_t>(j)];
    sum_squares_origin += u[0] * u[0];
    sum_squares_inner += inner * inner;
  }
  const Tolerance sampling{0.0, 0.03};
  CHECK_CLOSE(sum_squares_origin / static_cast<double>(samples), predicted, sampling);
  CHECK_CLOSE(sum_squares_inner / static_cast<double>(samples), predicted, sampling);
}

TEST_CASE("GRF pointwise variance sums eigenvalues") {
  // Var u = sum_{k=1}^{K} 2 lambda_k / L with K = (n - 1) / 2, here on a period L = 2.
  const Grf1dParams params{.sigma = 2.0, .tau = 3.0, .gamma = 1.5, .length = 2.0};
  for (const std::int64_t n : {8, 9}) {
    double expected = 0.0;
    for (std::int64_t k = 1; k <= (n - 1) / 2; ++k) {
      const double wavenumber = 2.0 * kPi * static_cast<double>(k) / 2.0;
      expected += 2.0 * 4.0 * std::pow(wavenumber * wavenumber + 9.0, -1.5) / 2.0;
    }
    CHECK_CLOSE(grf1d_pointwise_variance(n, params), expected, kF64Tight);
  }
  CHECK_CLOSE(grf1d_pointwise_variance(64, params, 1), 2.0 * grf1d_eigenvalue(params, 1) / 2.0, kF64Tight);
}

TEST_CASE("periodic grid excludes end point") {
  const std::vector<double> x = periodic_grid(8, 2.0);
  REQUIRE(x.size() == 8);
  CHECK(x.front() == 0.0);
  CHECK_CLOSE(x[1], 0.25, kF64Tight);
  CHECK_CLOSE(x.back(), 1.75, kF64Tight);
}

TEST_CASE("GRF rejects invalid settings") {
  CHECK_THROWS_AS(Grf1dSampler(2, Grf1dParams{}), ValueError);
  CHECK_THROWS_AS(Grf1dSampler(16, Grf1dParams{.sigma = -1.0}), ValueError);
  CHECK_THROWS_AS(Grf1dSampler(16, Grf1dParams{.tau = std::nan("")}), ValueError);
  CHECK_THROWS_AS(Grf1dSampler(16, Grf1dParams{.gamma = -0.5}), ValueError);
  CHECK_THROWS_AS(Grf1dSampler(16, Grf1dParams{.length = 0.0}), ValueError);
  // n = 16 keeps modes 1..7; mode 8 is the Nyquist mode.
  CHECK_THROWS_AS(Grf1dSampler(16, Grf1dParams{}, 8), ValueError);
  CHECK_THROWS_AS(Grf1dSampler(16, Grf1dParams{}, 0), ValueError);
  CHECK_THROWS_AS(grf1d_pointwise_variance(2, Grf1dParams{}), ValueError);

  Grf1dSampler sampler(16, Grf1dParams{});
  std::vector<double> coefficients(7), wrong(6), out(16), short_out(15);
  CHECK_THROWS_AS(sampler.synthesize(wrong, coefficients, out), ShapeError);
  CHECK_THROWS_AS(sampler.synthesize(coefficients, coefficients, short_out), ShapeError);
}
