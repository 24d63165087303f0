#include "datasets/function_space.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>

#include "lib/core/error.hpp"

namespace neurop::data {
namespace {

// Points within this fraction of the interval length outside it are round-off and
// are clamped. A point further out is a caller mistake.
constexpr double kDomainMargin = 1e-12;

double clamp_to_interval(double x, double lower, double upper, const char* caller) {
  const double margin = kDomainMargin * (upper - lower);
  NEUROP_CHECK(x >= lower - margin && x <= upper + margin, ValueError,
               "{}: point {} lies outside the interval [{}, {}]; evaluate only inside the domain of the function",
               caller, x, lower, upper);
  return std::clamp(x, lower, upper);
}

void check_length(double length, const char* caller) {
  NEUROP_CHECK(std::isfinite(length) && length > 0.0, ValueError,
               "{}: interval length T must be finite and > 0, got {}", caller, length);
}

std::map<std::string, Attribute> series_parameters(const SeriesOptions& options) {
  return {
      {"length", options.length},
      {"terms", options.terms},
      {"distribution",
       std::string(options.distribution == CoefficientDistribution::normal ? "normal" : "uniform")},
      {"scale", options.scale},
  };
}

void check_series_options(const SeriesOptions& options, const char* caller) {
  check_length(options.length, caller);
  NEUROP_CHECK(options.terms >= 1, ValueError, "{}: terms must be >= 1, got {}", caller, options.terms);
  NEUROP_CHECK(std::isfinite(options.scale) && options.scale > 0.0, ValueError,
               "{}: coefficient scale must be finite and > 0, got {}", caller, options.scale);
}

std::vector<double> draw_coefficients(const SeriesOptions& options, Rng& rng) {
  std::vector<double> coefficients(static_cast<std::size_t>(options.terms));
  for (double& a : coefficients) {
    a = options.distribution == CoefficientDistribution::normal ? options.scale * rng.normal()
                                                                : rng.uniform(-options.scale, options.scale);
  }
  return coefficients;
}

void check_field_options(double length, double length_scale, double variance, std::int64_t grid_points,
                         const char* caller) {
  check_length(length, caller);
  NEUROP_CHECK(std::isfinite(length_scale) && length_scale > 0.0, ValueError,
               "{}: kernel length scale must be finite and > 0, got {}", caller, length_scale);
  NEUROP_CHECK(std::isfinite(variance) && variance > 0.0, ValueError,
               "{}: kernel variance must be finite and > 0, got {}", caller, variance);
  NEUROP_CHECK(grid_points >= 4, ValueError,
               "{}: grid_points must be >= 4 for the cubic spline, got {}; use about 1000 for a smooth field",
               caller, grid_points);
}

}  // namespace

std::vector<double> uniform_points(double lower, double upper, std::int64_t count) {
  NEUROP_CHECK(count >= 1, ValueError, "uniform_points: count must be >= 1, got {}", count);
  NEUROP_CHECK(std::isfinite(lower) && std::isfinite(upper) && lower <= upper, ValueError,
               "uniform_points: expected finite bounds with lower <= upper, got [{}, {}]", lower, upper);
  std::vector<double> points(static_cast<std::size_t>(count), lower);
  if (count == 1) return points;
  // x_i = lower + i (upper - lower) / (count - 1); the last point is set exactly.
  const double spacing = (upper - lower) / static_cast<double>(count - 1);
  for (std::int64_t i = 1; i < count - 1; ++i) points[static_cast<std::size_t>(i)] = lower + static_cast<double>(i) * spacing;
  points.back() = upper;
  return points;
}

CubicSpline::CubicSpline(double lower, double upper, std::vector<double> values)
    : lower_(lower), upper_(upper), values_(std::move(values)) {
  const auto n = static_cast<std::int64_t>(values_.size());
  NEUROP_CHECK(n >= 4, ValueError, "CubicSpline: needs at least 4 values for not-a-knot end conditions, got {}", n);
  NEUROP_CHECK(std::isfinite(lower) && std::isfinite(upper) && lower < upper, ValueError,
               "CubicSpline: expected finite bounds with lower < upper, got [{}, {}]", lower, upper);
  spacing_ = (upper - lower) / static_cast<double>(n - 1);

  // Second derivatives M_i. Continuity of S' at interior knots gives
  //   M_{i-1} + 4 M_i + M_{i+1} = r_i,  r_i = 6 (y_{i-1} - 2 y_i + y_{i+1}) / h^2,  i = 1..n-2.
  // Not-a-knot at x_1 means M_0 - 2 M_1 + M_2 = 0; substituting M_0 into row 1 gives
  // 6 M_1 = r_1, and likewise 6 M_{n-2} = r_{n-2}. Rows 2..n-3 form a tridiagonal system
  // with M_1 and M_{n-2} known, solved by the Thomas algorithm.
  const auto size = static_cast<std::size_t>(n);
  std::vector<double> rhs(size, 0.0);
  const double scale = 6.0 / (spacing_ * spacing_);
  for (std::size_t i = 1; i + 1 < size; ++i) rhs[i] = scale * (values_[i - 1] - 2.0 * values_[i] + values_[i + 1]);

  std::vector<double>& m = second_derivatives_;
  m.assign(size, 0.0);
  m[1] = rhs[1] / 6.0;
  m[size - 2] = rhs[size - 2] / 6.0;
  if (size > 4) {
    const std::size_t first = 2, last = size - 3;  // unknown rows, inclusive
    rhs[first] -= m[1];
    rhs[last] -= m[size - 2];
    // Forward sweep on diagonal 4 and off-diagonals 1: c'_i = 1 / (4 - c'_{i-1}).
    std::vector<double> upper_coefficient(size, 0.0);
    double pivot = 4.0;
    upper_coefficient[first] = 1.0 / pivot;
    rhs[first] /= pivot;
    for (std::size_t i = first + 1; i <= last; ++i) {
      pivot = 4.0 - upper_coefficient[i - 1];
      upper_coefficient[i] = 1.0 / pivot;
      rhs[i] = (rhs[i] - rhs[i - 1]) / pivot;
    }
    m[last] = rhs[last];
    for (std::size_t i = last; i-- > first;) m[i] = rhs[i] - upper_coefficient[i] * m[i + 1];
  }
  m[0] = 2.0 * m[1] - m[2];
  m[size - 1] = 2.0 * m[size - 2] - m[size - 3];
}

double CubicSpline::operator()(double x) const {
  NEUROP_CHECK(!values_.empty(), ValueError, "CubicSpline: the spline is empty; construct it from at least 4 values before evaluating it");
  x = clamp_to_interval(x, lower_, upper_, "CubicSpline");
  const auto last_interval = static_cast<std::int64_t>(values_.size()) - 2;
  const auto j = std::clamp(static_cast<std::int64_t>(std::floor((x - lower_) / spacing_)), std::int64_t{0},
                            last_interval);
  const auto i = static_cast<std::size_t>(j);
  const double t = (x - lower_) / spacing_ - static_cast<double>(j);
  const double s = 1.0 - t;
  // S(x) = s y_j + t y_{j+1} + h^2/6 [(s^3 - s) M_j + (t^3 - t) M_{j+1}],  t = (x - x_j) / h, s = 1 - t.
  return s * values_[i] + t * values_[i + 1] +
         spacing_ * spacing_ / 6.0 *
             ((s * s * s - s) * second_derivatives_[i] + (t * t * t - t) * second_derivatives_[i + 1]);
}

SampledFunction SampledFunction::spline(double length, std::vector<double> values) {
  check_length(length, "SampledFunction::spline");
  SampledFunction function;
  function.kind_ = Kind::spline;
  function.length_ = length;
  function.spline_ = CubicSpline(0.0, length, std::move(values));
  return function;
}

SampledFunction SampledFunction::chebyshev(double length, std::vector<double> coefficients) {
  check_length(length, "SampledFunction::chebyshev");
  NEUROP_CHECK(!coefficients.empty(), ValueError, "SampledFunction::chebyshev: expected at least one coefficient");
  SampledFunction function;
  function.kind_ = Kind::chebyshev;
  function.length_ = length;
  function.coefficients_ = std::move(coefficients);
  return function;
}

SampledFunction SampledFunction::power_series(double length, std::vector<double> coefficients) {
  check_length(length, "SampledFunction::power_series");
  NEUROP_CHECK(!coefficients.empty(), ValueError,
               "SampledFunction::power_series: expected at least one coefficient");
  SampledFunction function;
  function.kind_ = Kind::power_series;
  function.length_ = length;
  function.coefficients_ = std::move(coefficients);
  return function;
}

const std::vector<double>& SampledFunction::coefficients() const {
  return kind_ == Kind::spline ? spline_.values() : coefficients_;
}

double SampledFunction::operator()(double x) const {
  switch (kind_) {
    case Kind::spline: return spline_(x);
    case Kind::chebyshev: {
      const double t = 2.0 * clamp_to_interval(x, 0.0, length_, "SampledFunction") / length_ - 1.0;
      // Clenshaw: b_k = c_k + 2 t b_{k+1} - b_{k+2};  u = c_0 + t b_1 - b_2.
      double b1 = 0.0, b2 = 0.0;
      for (std::size_t k = coefficients_.size() - 1; k >= 1; --k) {
        const double b0 = coefficients_[k] + 2.0 * t * b1 - b2;
        b2 = b1;
        b1 = b0;
      }
      return coefficients_[0] + t * b1 - b2;
    }
    case Kind::power_series: {
      const double t = clamp_to_interval(x, 0.0, length_, "SampledFunction") / length_;
      // Horner: u = c_0 + t (c_1 + t (c_2 + ...)).
      double value = 0.0;
      for (std::size_t k = coefficients_.size(); k-- > 0;) value = value * t + coefficients_[k];
      return value;
    }
  }
  return 0.0;
}

std::vector<double> SampledFunction::evaluate(const std::vector<double>& points) const {
  std::vector<double> values(points.size());
  for (std::size_t p = 0; p < points.size(); ++p) values[p] = (*this)(points[p]);
  return values;
}

double RbfKernel::operator()(double x, double y) const {
  const double d = x - y;
  return variance * std::exp(-d * d / (2.0 * length_scale * length_scale));
}

Eigen::MatrixXd kernel_matrix(const RbfKernel& kernel, const std::vector<double>& points) {
  const auto n = static_cast<Eigen::Index>(points.size());
  Eigen::MatrixXd matrix(n, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = j; i < n; ++i) {
      matrix(i, j) = kernel(points[static_cast<std::size_t>(i)], points[static_cast<std::size_t>(j)]);
      matrix(j, i) = matrix(i, j);
    }
  }
  return matrix;
}

CovarianceFactor factor_covariance(const Eigen::MatrixXd& covariance) {
  const Eigen::Index n = covariance.rows();
  NEUROP_CHECK(covariance.cols() == n && n > 0, ShapeError,
               "factor_covariance: expected a non-empty square matrix, got [{}, {}]", covariance.rows(),
               covariance.cols());
  NEUROP_CHECK(covariance.allFinite(), DataError,
               "factor_covariance: the matrix contains NaN or infinite entries; check the kernel parameters");
  const double largest = covariance.cwiseAbs().maxCoeff();
  const double asymmetry = (covariance - covariance.transpose()).cwiseAbs().maxCoeff();
  NEUROP_CHECK(asymmetry <= 1e-12 * largest, ValueError,
               "factor_covariance: the matrix is not symmetric (max |K - K^T| = {:.3g}, max |K| = {:.3g}); a "
               "covariance matrix must be symmetric",
               asymmetry, largest);

  CovarianceFactor result;
  const double mean_diagonal = covariance.diagonal().mean();
  // Jitter ladder: 0, then 1e-13 s, 1e-12 s, ..., 1e-8 s with s the mean diagonal entry.
  constexpr std::array<double, 7> kRelativeJitter{0.0, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8};
  if (mean_diagonal > 0.0) {
    for (const double relative : kRelativeJitter) {
      const double jitter = relative * mean_diagonal;
      Eigen::MatrixXd shifted = covariance;
      shifted.diagonal().array() += jitter;
      Eigen::LLT<Eigen::MatrixXd> cholesky(shifted);
      if (cholesky.info() == Eigen::Success) {
        result.factor = cholesky.matrixL();
        result.method = CovarianceMethod::cholesky;
        result.jitter = jitter;
        return result;
      }
    }
  }

  // K = V diag(mu) V^T with negative mu clipped: F = V diag(sqrt(max(mu, 0))).
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(covariance);
  NEUROP_CHECK(eigen.info() == Eigen::Success, DataError,
               "factor_covariance: the symmetric eigendecomposition of a [{}, {}] matrix failed", n, n);
  const Eigen::VectorXd& mu = eigen.eigenvalues();  // ascending
  const double max_magnitude = mu.cwiseAbs().maxCoeff();
  NEUROP_CHECK(mu(0) >= -1e-8 * max_magnitude, ValueError,
               "factor_covariance: the matrix has eigenvalue {:.6g} (largest magnitude {:.6g}), so it is not "
               "positive semi-definite beyond round-off; check that it is a covariance matrix",
               mu(0), max_magnitude);
  result.factor = eigen.eigenvectors() * mu.cwiseMax(0.0).cwiseSqrt().asDiagonal();
  result.method = CovarianceMethod::eigen_clipped;
  result.min_eigenvalue = mu(0);
  return result;
}

FunctionSpace::FunctionSpace(double length) : length_(length) { check_length(length, "FunctionSpace"); }

GaussianRandomField::GaussianRandomField(const GaussianRandomFieldOptions& options)
    : FunctionSpace(options.length), options_(options) {
  check_field_options(options.length, options.length_scale, options.variance, options.grid_points,
                      "GaussianRandomField");
  grid_ = uniform_points(0.0, options.length, options.grid_points);
  factor_ = factor_covariance(kernel_matrix({options.length_scale, options.variance}, grid_));
}

Eigen::VectorXd GaussianRandomField::sample_grid(Rng& rng) const {
  // u = F z, z ~ N(0, I_r): covariance F F^T = K (+ jitter I).
  Eigen::VectorXd z(factor_.factor.cols());
  for (Eigen::Index k = 0; k < z.size(); ++k) z(k) = rng.normal();
  if (factor_.method == CovarianceMethod::cholesky) return factor_.factor.triangularView<Eigen::Lower>() * z;
  return factor_.factor * z;
}

SampledFunction GaussianRandomField::sample(Rng& rng) const {
  const Eigen::VectorXd values = sample_grid(rng);
  return SampledFunction::spline(length(), std::vector<double>(values.begin(), values.end()));
}

std::map<std::string, Attribute> GaussianRandomField::parameters() const {
  return {
      {"length", options_.length},
      {"length_scale", options_.length_scale},
      {"variance", options_.variance},
      {"grid_points", options_.grid_points},
      {"interpolation", std::string("cubic_spline_not_a_knot")},
      {"factorization",
       std::string(factor_.method == CovarianceMethod::cholesky ? "cholesky" : "eigen_clipped")},
      {"jitter", factor_.jitter},
  };
}

KarhunenLoeveField::KarhunenLoeveField(const KarhunenLoeveOptions& options)
    : FunctionSpace(options.length), options_(options) {
  check_field_options(options.length, options.length_scale, options.variance, options.grid_points,
                      "KarhunenLoeveField");
  NEUROP_CHECK(options.captured_variance > 0.0 && options.captured_variance <= 1.0, ValueError,
               "KarhunenLoeveField: captured_variance must be in (0, 1], got {}", options.captured_variance);
  NEUROP_CHECK(options.max_modes >= 0, ValueError,
               "KarhunenLoeveField: max_modes must be >= 0 (0 means no limit), got {}", options.max_modes);
  grid_ = uniform_points(0.0, options.length, options.grid_points);
  const Eigen::MatrixXd kernel = kernel_matrix({options.length_scale, options.variance}, grid_);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(kernel);
  NEUROP_CHECK(eigen.info() == Eigen::Success, DataError,
               "KarhunenLoeveField: the eigendecomposition of the [{}, {}] kernel matrix failed", grid_.size(),
               grid_.size());
  const Eigen::Index n = kernel.rows();
  // Eigen returns ascending eigenvalues; mode k is column n - 1 - k.
  eigenvalues_ = eigen.eigenvalues().reverse();
  const double trace = kernel.trace();
  const Eigen::Index limit = options.max_modes > 0 ? std::min<Eigen::Index>(options.max_modes, n) : n;
  Eigen::Index modes = 0;
  double captured_sum = 0.0;
  while (modes < limit && eigenvalues_(modes) > 0.0 && captured_sum < options.captured_variance * trace) {
    captured_sum += eigenvalues_(modes);
    ++modes;
  }
  captured_ = captured_sum / trace;
  // Column k = sqrt(mu_k) v_k.
  factor_.resize(n, modes);
  for (Eigen::Index k = 0; k < modes; ++k)
    factor_.col(k) = std::sqrt(eigenvalues_(k)) * eigen.eigenvectors().col(n - 1 - k);
}

Eigen::VectorXd KarhunenLoeveField::sample_grid(Rng& rng) const {
  // u = sum_k sqrt(mu_k) xi_k v_k.
  Eigen::VectorXd xi(factor_.cols());
  for (Eigen::Index k = 0; k < xi.size(); ++k) xi(k) = rng.normal();
  return factor_ * xi;
}

SampledFunction KarhunenLoeveField::sample(Rng& rng) const {
  const Eigen::VectorXd values = sample_grid(rng);
  return SampledFunction::spline(length(), std::vector<double>(values.begin(), values.end()));
}

std::map<std::string, Attribute> KarhunenLoeveField::parameters() const {
  return {
      {"length", options_.length},
      {"length_scale", options_.length_scale},
      {"variance", options_.variance},
      {"grid_points", options_.grid_points},
      {"interpolation", std::string("cubic_spline_not_a_knot")},
      {"requested_captured_variance", options_.captured_variance},
      {"max_modes", options_.max_modes},
      {"modes", modes()},
      {"captured_variance", captured_},
  };
}

ChebyshevSpace::ChebyshevSpace(const SeriesOptions& options) : FunctionSpace(options.length), options_(options) {
  check_series_options(options, "ChebyshevSpace");
}

SampledFunction ChebyshevSpace::sample(Rng& rng) const {
  return SampledFunction::chebyshev(length(), draw_coefficients(options_, rng));
}

std::map<std::string, Attribute> ChebyshevSpace::parameters() const { return series_parameters(options_); }

PowerSeriesSpace::PowerSeriesSpace(const SeriesOptions& options) : FunctionSpace(options.length), options_(options) {
  check_series_options(options, "PowerSeriesSpace");
}

SampledFunction PowerSeriesSpace::sample(Rng& rng) const {
  return SampledFunction::power_series(length(), draw_coefficients(options_, rng));
}

std::map<std::string, Attribute> PowerSeriesSpace::parameters() const { return series_parameters(options_); }

}  // namespace neurop::data
