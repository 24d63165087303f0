#include <cmath>
#include <numbers>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <doctest/doctest.h>

#include "datasets/function_space.hpp"
#include "lib/core/error.hpp"
#include "tests/support/check.hpp"

using namespace neurop;
using namespace neurop::data;
using neurop::testing::kF64Loose;
using neurop::testing::kF64Tight;
using neurop::testing::Tolerance;

namespace {

// Max |spline - f| over 1001 points for f sampled on n uniform points of [0, length].
template <typename Function>
double spline_error(Function f, double length, std::int64_t n) {
  const std::vector<double> nodes = uniform_points(0.0, length, n);
  std::vector<double> values;
  for (const double x : nodes) values.push_back(f(x));
  const CubicSpline spline(0.0, length, values);
  double error = 0.0;
  for (const double x : uniform_points(0.0, length, 1001)) error = std::max(error, std::abs(spline(x) - f(x)));
  return error;
}

// Sample mean [n] and covariance [n, n] of the rows of `samples` [count, n].
struct Moments {
  Eigen::VectorXd mean;
  Eigen::MatrixXd covariance;
};

Moments sample_moments(const Eigen::MatrixXd& samples) {
  Moments moments;
  moments.mean = samples.colwise().mean().transpose();
  const Eigen::MatrixXd centred = samples.rowwise() - moments.mean.transpose();
  moments.covariance = centred.transpose() * centred / static_cast<double>(samples.rows() - 1);
  return moments;
}

template <typename Space>
Eigen::MatrixXd draw_grid_samples(const Space& space, std::int64_t count, std::uint64_t seed) {
  Eigen::MatrixXd samples(count, static_cast<Eigen::Index>(space.grid().size()));
  for (std::int64_t i = 0; i < count; ++i) {
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(i));
    samples.row(i) = space.sample_grid(rng).transpose();
  }
  return samples;
}

// Sample variance of u(x) over `count` draws from `space`.
double sample_variance_at(const FunctionSpace& space, double x, std::int64_t count, std::uint64_t seed) {
  double sum = 0.0, sum_squares = 0.0;
  for (std::int64_t i = 0; i < count; ++i) {
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(i));
    const double value = space.sample(rng)(x);
    sum += value;
    sum_squares += value * value;
  }
  const double mean = sum / static_cast<double>(count);
  return (sum_squares - static_cast<double>(count) * mean * mean) / static_cast<double>(count - 1);
}

}  // namespace

TEST_CASE("uniform_points includes both end points") {
  const std::vector<double> points = uniform_points(0.0, 2.0, 5);
  REQUIRE(points.size() == 5);
  CHECK(points.front() == 0.0);
  CHECK(points.back() == 2.0);
  CHECK_CLOSE(points[1], 0.5, kF64Tight);
  CHECK(uniform_points(0.3, 1.0, 1) == std::vector<double>{0.3});
  CHECK_THROWS_AS(uniform_points(0.0, 1.0, 0), ValueError);
  CHECK_THROWS_AS(uniform_points(1.0, 0.0, 3), ValueError);
}

TEST_CASE("cubic spline reproduces cubics") {
  // Not-a-knot end conditions make the spline exact for any cubic, a natural spline is not.
  const auto cubic = [](double x) { return 1.0 - 2.0 * x + 3.0 * x * x - 0.5 * x * x * x; };
  for (const std::int64_t n : {4, 5, 9}) {
    const std::vector<double> nodes = uniform_points(0.0, 2.0, n);
    std::vector<double> values;
    for (const double x : nodes) values.push_back(cubic(x));
    const CubicSpline spline(0.0, 2.0, values);
    for (const double x : uniform_points(0.0, 2.0, 37)) CHECK_CLOSE(spline(x), cubic(x), kF64Loose);
  }
}

TEST_CASE("cubic spline converges at fourth order") {
  // The observed order approaches 4 from above (4.4 at 40 intervals), so the band is
  // asymmetric on coarse grids and tight on the finest.
  const auto f = [](double x) { return std::sin(3.0 * x) + std::exp(x); };
  std::vector<double> errors;
  for (const std::int64_t n : {21, 41, 81, 161, 321}) errors.push_back(spline_error(f, 1.0, n));
  double order = 0.0;
  for (std::size_t level = 1; level < errors.size(); ++level) {
    order = std::log2(errors[level - 1] / errors[level]);
    MESSAGE("spline intervals ", 20 << level, ": max error ", errors[level], ", observed order ", order);
    CHECK(order > 3.7);
    CHECK(order < 4.6);
  }
  CHECK(order > 3.8);
  CHECK(order < 4.2);
}

TEST_CASE("cubic spline rejects points outside the interval") {
  const CubicSpline spline(0.0, 1.0, {0.0, 1.0, 4.0, 9.0});
  CHECK_NOTHROW(spline(1.0 + 1e-14));
  CHECK_THROWS_AS(spline(1.01), ValueError);
  CHECK_THROWS_AS(spline(-0.01), ValueError);
  CHECK_THROWS_AS(CubicSpline(0.0, 1.0, {0.0, 1.0, 2.0}), ValueError);
}

TEST_CASE("factor_covariance on indefinite RBF matrix") {
  // RBF kernel, l = 1, variance 1 on 15 points of [0, 1]: K is positive definite in exact
  // arithmetic, but its smallest computed eigenvalue is a negative round-off value of
  // order -1e-16 (the exact value depends on the eigensolver), and plain Cholesky fails.
  const std::vector<double> points = uniform_points(0.0, 1.0, 15);
  const Eigen::MatrixXd kernel = kernel_matrix({/*length_scale=*/1.0, /*variance=*/1.0}, points);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(kernel, Eigen::EigenvaluesOnly);
  MESSAGE("smallest eigenvalue of the 15-point RBF matrix: ", eigen.eigenvalues()(0));
  CHECK(eigen.eigenvalues()(0) < 0.0);
  CHECK(eigen.eigenvalues()(0) > -1e-14);
  const Eigen::LLT<Eigen::MatrixXd> plain(kernel);
  REQUIRE(plain.info() != Eigen::Success);

  const CovarianceFactor factor = factor_covariance(kernel);
  MESSAGE("factorisation jitter: ", factor.jitter);
  CHECK(factor.method == CovarianceMethod::cholesky);
  CHECK(factor.jitter > 0.0);
  CHECK(factor.jitter <= 1e-8);
  const Eigen::MatrixXd product = factor.factor * factor.factor.transpose();
  CHECK((product - kernel).cwiseAbs().maxCoeff() <= 1e-8);
}

TEST_CASE("GRF moments on indefinite RBF matrix") {
  const GaussianRandomField field({/*length=*/1.0, /*length_scale=*/1.0, /*variance=*/1.0, /*grid_points=*/15});
  const Eigen::MatrixXd samples = draw_grid_samples(field, 20000, /*seed=*/11);
  REQUIRE(samples.allFinite());
  const Moments moments = sample_moments(samples);
  // The tolerance 0.03 is 3 standard errors of a variance estimate from 20000 draws.
  for (Eigen::Index i = 0; i < 15; ++i) {
    CHECK(std::abs(moments.covariance(i, i) - 1.0) <= 0.03);
    CHECK(std::abs(moments.mean(i)) <= 0.03);
  }
  CHECK(std::abs(moments.covariance(0, 14) - std::exp(-0.5)) <= 0.03);
}

TEST_CASE("factor_covariance falls back to clipped eigenvalues") {
  // K = Q diag(15, 0, ..., 0, -5e-8) Q^T: the negative eigenvalue is larger than the top
  // jitter 1e-8 s (s = mean diagonal = 1), so Cholesky fails on every rung of the ladder.
  const Eigen::Index n = 15;
  Eigen::MatrixXd basis = Eigen::MatrixXd::Random(n, n);
  basis.col(0).setOnes();
  const Eigen::MatrixXd q = Eigen::HouseholderQR<Eigen::MatrixXd>(basis).householderQ();
  Eigen::VectorXd spectrum = Eigen::VectorXd::Zero(n);
  spectrum(0) = 15.0;
  spectrum(n - 1) = -5e-8;
  const Eigen::MatrixXd covariance = q * spectrum.asDiagonal() * q.transpose();
  const Eigen::MatrixXd symmetric = 0.5 * (covariance + covariance.transpose());

  const CovarianceFactor factor = factor_covariance(symmetric);
  CHECK(factor.method == CovarianceMethod::eigen_clipped);
  CHECK_CLOSE(factor.min_eigenvalue, -5e-8, (Tolerance{1e-13, 0.0}));  // eigenvalue round-off ~ eps * 15
  Eigen::VectorXd clipped = spectrum.cwiseMax(0.0);
  const Eigen::MatrixXd expected = q * clipped.asDiagonal() * q.transpose();
  CHECK(((factor.factor * factor.factor.transpose()) - expected).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("factor_covariance rejects non-covariance matrices") {
  Eigen::MatrixXd indefinite = Eigen::MatrixXd::Identity(2, 2);
  indefinite(1, 1) = -1.0;
  CHECK_THROWS_AS(factor_covariance(indefinite), ValueError);
  Eigen::MatrixXd asymmetric = Eigen::MatrixXd::Identity(2, 2);
  asymmetric(0, 1) = 0.5;
  CHECK_THROWS_AS(factor_covariance(asymmetric), ValueError);
  CHECK_THROWS_AS(factor_covariance(Eigen::MatrixXd::Ones(2, 3)), ShapeError);
  Eigen::MatrixXd not_finite = Eigen::MatrixXd::Identity(2, 2);
  not_finite(0, 0) = std::nan("");
  CHECK_THROWS_AS(factor_covariance(not_finite), DataError);
}

TEST_CASE("GRF pointwise variance and interpolation") {
  const GaussianRandomField field({/*length=*/2.0, /*length_scale=*/0.2, /*variance=*/1.5, /*grid_points=*/201});
  // Row norms of the factor give the variance of each grid value: variance + jitter.
  const Eigen::VectorXd variance = field.covariance_factor().factor.rowwise().squaredNorm();
  CHECK(std::abs(variance.minCoeff() - 1.5) <= 1e-6);
  CHECK(std::abs(variance.maxCoeff() - 1.5) <= 1e-6);

  Rng rng = Rng::stream(5, 0);
  const SampledFunction u = field.sample(rng);
  CHECK(u.kind() == SampledFunction::Kind::spline);
  CHECK(u.length() == 2.0);
  for (std::size_t i = 0; i < field.grid().size(); i += 20) CHECK_CLOSE(u(field.grid()[i]), u.coefficients()[i], kF64Tight);
  CHECK_THROWS_AS(u(2.5), ValueError);

  // The same stream gives the same function.
  Rng again = Rng::stream(5, 0);
  CHECK(field.sample(again).coefficients() == u.coefficients());
  CHECK_THROWS_AS(GaussianRandomField({1.0, 0.0, 1.0, 101}), ValueError);
  CHECK_THROWS_AS(GaussianRandomField({1.0, 0.2, 1.0, 3}), ValueError);
}

TEST_CASE("Karhunen-Loeve truncation keeps the requested variance") {
  KarhunenLoeveOptions options;
  options.grid_points = 201;
  options.captured_variance = 0.99;
  const KarhunenLoeveField field(options);
  const Eigen::VectorXd& mu = field.eigenvalues();
  const std::int64_t modes = field.modes();
  MESSAGE("l = 0.2, 99% variance: ", modes, " modes, captured ", field.captured_variance());
  REQUIRE(modes >= 2);
  for (Eigen::Index k = 1; k < mu.size(); ++k) CHECK(mu(k) <= mu(k - 1));
  const double trace = mu.sum();
  CHECK(field.captured_variance() >= 0.99);
  CHECK(mu.head(modes - 1).sum() / trace < 0.99);

  // The dropped part K - F F^T has spectral norm mu_M, the largest eigenvalue left out.
  const Eigen::MatrixXd kernel = kernel_matrix({0.2, 1.0}, field.grid());
  const Eigen::MatrixXd residual = kernel - field.factor() * field.factor().transpose();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(residual, Eigen::EigenvaluesOnly);
  CHECK_CLOSE(eigen.eigenvalues().maxCoeff(), mu(modes), (Tolerance{1e-12 * trace, 1e-8}));  // eigen round-off

  options.max_modes = 3;
  CHECK(KarhunenLoeveField(options).modes() == 3);
  options.captured_variance = 1.5;
  CHECK_THROWS_AS(KarhunenLoeveField{options}, ValueError);
}

TEST_CASE("Karhunen-Loeve sample variance") {
  KarhunenLoeveOptions options;
  options.grid_points = 51;
  options.captured_variance = 0.95;
  const KarhunenLoeveField field(options);
  const Eigen::MatrixXd samples = draw_grid_samples(field, 20000, /*seed=*/3);
  const Moments moments = sample_moments(samples);
  const Eigen::MatrixXd truncated = field.factor() * field.factor().transpose();
  // 0.03 is 3 standard errors of a variance estimate from 20000 draws.
  for (const Eigen::Index i : {0, 10, 25, 50}) {
    CHECK(std::abs(moments.covariance(i, i) - truncated(i, i)) <= 0.03);
    CHECK(std::abs(moments.mean(i)) <= 0.03);
  }
}

TEST_CASE("Chebyshev function matches cosine form") {
  const std::vector<double> coefficients{0.5, -1.0, 0.25, 2.0, -0.75, 0.1};
  const SampledFunction u = SampledFunction::chebyshev(3.0, coefficients);
  for (const double x : uniform_points(0.0, 3.0, 13)) {
    // T_k(t) = cos(k arccos t), t = 2 x / T - 1.
    const double t = std::clamp(2.0 * x / 3.0 - 1.0, -1.0, 1.0);
    double expected = 0.0;
    for (std::size_t k = 0; k < coefficients.size(); ++k)
      expected += coefficients[k] * std::cos(static_cast<double>(k) * std::acos(t));
    CHECK_CLOSE(u(x), expected, kF64Tight);
  }
  CHECK_THROWS_AS(u(3.1), ValueError);
}

TEST_CASE("power series matches monomial sum") {
  const std::vector<double> coefficients{1.0, -2.0, 0.5, 3.0};
  const SampledFunction u = SampledFunction::power_series(2.0, coefficients);
  for (const double x : uniform_points(0.0, 2.0, 9)) {
    const double t = x / 2.0;
    CHECK_CLOSE(u(x), 1.0 - 2.0 * t + 0.5 * t * t + 3.0 * t * t * t, kF64Tight);
  }
}

TEST_CASE("random series spaces variance") {
  // Var a_k = scale^2 (normal) or scale^2 / 3 (uniform); at x = T every T_k and (x/T)^k is 1,
  // so Var u(T) = terms Var a_k. At x = T/2: T_k(0)^2 = 1 for even k, 0 for odd k.
  // Tolerance 5% = about 4 standard errors of a variance estimate from 20000 draws.
  const std::int64_t count = 20000;
  const SeriesOptions normal{/*length=*/2.0, /*terms=*/5, CoefficientDistribution::normal, /*scale=*/0.5};
  const ChebyshevSpace chebyshev(normal);
  CHECK(std::abs(sample_variance_at(chebyshev, 2.0, count, 1) / 1.25 - 1.0) <= 0.05);
  CHECK(std::abs(sample_variance_at(chebyshev, 1.0, count, 2) / 0.75 - 1.0) <= 0.05);

  const SeriesOptions uniform{/*length=*/2.0, /*terms=*/4, CoefficientDistribution::uniform, /*scale=*/3.0};
  const PowerSeriesSpace power(uniform);
  CHECK(std::abs(sample_variance_at(power, 2.0, count, 3) / 12.0 - 1.0) <= 0.05);
  CHECK(std::abs(sample_variance_at(power, 0.0, count, 4) / 3.0 - 1.0) <= 0.05);
  CHECK(power.name() == "power_series");
  CHECK(std::get<std::string>(power.parameters().at("distribution")) == "uniform");

  CHECK_THROWS_AS(ChebyshevSpace({1.0, 0, CoefficientDistribution::normal, 1.0}), ValueError);
  CHECK_THROWS_AS(PowerSeriesSpace({-1.0, 3, CoefficientDistribution::normal, 1.0}), ValueError);
}
