// Random input functions for DeepONet data sets, on an interval [0, T].
//
// A FunctionSpace draws one realisation u at a time from an Rng and returns it as a
// SampledFunction, a value type that can be evaluated anywhere in [0, T]. Generators
// draw sample i from Rng::stream(seed, i), so a data set does not depend on the thread
// count. The spaces:
//   GaussianRandomField   zero-mean Gaussian process with the RBF (squared-exponential)
//                         kernel, drawn jointly on a uniform grid and interpolated by a
//                         not-a-knot cubic spline;
//   KarhunenLoeveField    the same process truncated to the leading eigenpairs of the
//                         kernel matrix, by count or by captured variance;
//   ChebyshevSpace        sum_k a_k T_k(2 x / T - 1) with random coefficients a_k;
//   PowerSeriesSpace      sum_k a_k (x / T)^k with random coefficients a_k.
//
// Interpolation rule: grid-based samples are interpolated by a cubic spline with
// not-a-knot end conditions. It reproduces cubics exactly and has O(h^4) error for
// smooth functions up to the end points (a natural spline drops to O(h^2) near the
// ends because it forces u'' = 0 there). The GP posterior mean k(x, X) K^{-1} u(X)
// was not used because K is numerically singular for the RBF kernel on a fine grid,
// so that solve amplifies round-off. ODE and PDE generators evaluate u through the
// same SampledFunction, so the data are consistent with the stored branch inputs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "datasets/dataset_file.hpp"
#include "lib/core/random.hpp"

namespace neurop::data {

// Returns `count` equally spaced points from `lower` to `upper`, both included, or
// {lower} when count is 1. Throws ValueError for count < 1 or lower > upper.
std::vector<double> uniform_points(double lower, double upper, std::int64_t count);

// Interpolating cubic spline on the uniform grid x_i = lower + i h, i = 0..n-1,
// h = (upper - lower) / (n - 1), with not-a-knot end conditions (u''' continuous at
// x_1 and x_{n-2}). Needs n >= 4. Evaluation outside [lower, upper] throws ValueError,
// except for a round-off margin of 1e-12 (upper - lower), which is clamped.
class CubicSpline {
public:
  CubicSpline() = default;
  CubicSpline(double lower, double upper, std::vector<double> values);

  double operator()(double x) const;

  double lower() const { return lower_; }
  double upper() const { return upper_; }
  // Nodal values u(x_i) [n].
  const std::vector<double>& values() const { return values_; }

private:
  double lower_ = 0.0;
  double upper_ = 1.0;
  double spacing_ = 1.0;
  std::vector<double> values_;
  std::vector<double> second_derivatives_;  // S''(x_i) [n]
};

// One realisation u of a random function on [0, T], evaluable at any x in [0, T].
// Points outside [0, T] throw ValueError (a round-off margin of 1e-12 T is clamped).
class SampledFunction {
public:
  enum class Kind { spline, chebyshev, power_series };

  // Cubic spline through values at uniform_points(0, T, values.size()); needs >= 4 values.
  static SampledFunction spline(double length, std::vector<double> values);
  // sum_k c_k T_k(2 x / T - 1), evaluated by the Clenshaw recurrence.
  static SampledFunction chebyshev(double length, std::vector<double> coefficients);
  // sum_k c_k (x / T)^k, evaluated by Horner's rule.
  static SampledFunction power_series(double length, std::vector<double> coefficients);

  double operator()(double x) const;
  // Values at `points` [P] -> [P].
  std::vector<double> evaluate(const std::vector<double>& points) const;

  Kind kind() const { return kind_; }
  double length() const { return length_; }
  // Grid values (spline) or series coefficients (chebyshev, power_series).
  const std::vector<double>& coefficients() const;

private:
  Kind kind_ = Kind::spline;
  double length_ = 1.0;
  CubicSpline spline_;
  std::vector<double> coefficients_;
};

// Squared-exponential kernel k(x, y) = variance * exp(-(x - y)^2 / (2 length_scale^2)).
struct RbfKernel {
  double length_scale = 0.2;
  double variance = 1.0;

  double operator()(double x, double y) const;
};

// Kernel matrix K_ij = kernel(points_i, points_j) [n, n].
Eigen::MatrixXd kernel_matrix(const RbfKernel& kernel, const std::vector<double>& points);

enum class CovarianceMethod { cholesky, eigen_clipped };

// A square root F of a covariance matrix K, K ~= F F^T, so that F z with z ~ N(0, I_r)
// has covariance F F^T.
struct CovarianceFactor {
  Eigen::MatrixXd factor;  // [n, r]
  CovarianceMethod method = CovarianceMethod::cholesky;
  // Value added to the diagonal before a successful Cholesky factorisation (0 if none).
  double jitter = 0.0;
  // Smallest eigenvalue of K, clipped to 0 on the eigen_clipped path (0 otherwise).
  double min_eigenvalue = 0.0;
};

// Factorises a symmetric positive semi-definite matrix [n, n] that may be numerically
// indefinite (smooth kernels on fine grids have eigenvalues of order -1e-16 |K|).
//   1. Cholesky (Eigen::LLT) of K + jitter I with jitter = 0, then 1e-13 s, 1e-12 s,
//      ..., 1e-8 s, where s is the mean diagonal entry; the first success wins. The
//      jitter adds independent noise of variance `jitter` at each point (standard
//      deviation at most 1e-4 sqrt(s)), which is why the ladder stops at 1e-8 s.
//   2. Otherwise a symmetric eigendecomposition K = V diag(mu) V^T with negative mu
//      clipped to 0, and F = V diag(sqrt(mu)).
// Throws ShapeError for a non-square matrix, DataError for NaN or infinite entries and
// ValueError when K is not symmetric or has an eigenvalue below -1e-8 max|mu| (not a
// covariance matrix, so clipping would hide a caller mistake).
CovarianceFactor factor_covariance(const Eigen::MatrixXd& covariance);

// Base class of the random function spaces on [0, T].
class FunctionSpace {
public:
  explicit FunctionSpace(double length);
  virtual ~FunctionSpace() = default;

  // T: realisations are defined on [0, T].
  double length() const { return length_; }
  // Draws one realisation; its value depends only on the state of `rng`.
  virtual SampledFunction sample(Rng& rng) const = 0;
  // Short identifier recorded in data-set files ("grf", "grf_kl", "chebyshev", "power_series").
  virtual std::string name() const = 0;
  // The space's settings, recorded as data-set attributes with the prefix "space_".
  virtual std::map<std::string, Attribute> parameters() const = 0;

private:
  double length_;
};

struct GaussianRandomFieldOptions {
  double length = 1.0;         // T
  double length_scale = 0.2;   // l of the RBF kernel
  double variance = 1.0;       // k(x, x)
  std::int64_t grid_points = 1001;  // uniform grid on [0, T] on which the field is drawn
};

// Zero-mean Gaussian random field with the RBF kernel. The kernel matrix on the grid
// is factorised once by factor_covariance(); each sample costs one [n, n] matrix-vector
// product and n normal draws.
class GaussianRandomField : public FunctionSpace {
public:
  explicit GaussianRandomField(const GaussianRandomFieldOptions& options = {});

  SampledFunction sample(Rng& rng) const override;
  // Draws the field at the grid points [n] without building the spline.
  Eigen::VectorXd sample_grid(Rng& rng) const;

  std::string name() const override { return "grf"; }
  std::map<std::string, Attribute> parameters() const override;

  const std::vector<double>& grid() const { return grid_; }
  const CovarianceFactor& covariance_factor() const { return factor_; }

private:
  GaussianRandomFieldOptions options_;
  std::vector<double> grid_;
  CovarianceFactor factor_;
};

struct KarhunenLoeveOptions {
  double length = 1.0;
  double length_scale = 0.2;
  double variance = 1.0;
  std::int64_t grid_points = 1001;
  // Keep the fewest leading modes whose eigenvalues sum to at least this fraction of
  // the trace of the kernel matrix; in (0, 1].
  double captured_variance = 0.999;
  // Upper limit on the number of modes; 0 means no limit.
  std::int64_t max_modes = 0;
};

// Truncated Karhunen-Loeve expansion of the RBF field on the grid:
//   u(x_i) = sum_{k < M} sqrt(mu_k) xi_k v_k(x_i),  xi_k ~ N(0, 1),
// where (mu_k, v_k) are the eigenpairs of the kernel matrix K on the grid in decreasing
// order (negative round-off eigenvalues are dropped). The captured variance
// sum_{k<M} mu_k / trace(K) equals the fraction of the integrated variance kept, for
// the uniform-weight quadrature of the grid. Samples are interpolated by the spline.
class KarhunenLoeveField : public FunctionSpace {
public:
  explicit KarhunenLoeveField(const KarhunenLoeveOptions& options = {});

  SampledFunction sample(Rng& rng) const override;
  Eigen::VectorXd sample_grid(Rng& rng) const;

  std::string name() const override { return "grf_kl"; }
  std::map<std::string, Attribute> parameters() const override;

  const std::vector<double>& grid() const { return grid_; }
  // M, the number of modes kept.
  std::int64_t modes() const { return factor_.cols(); }
  // sum_{k<M} mu_k / trace(K).
  double captured_variance() const { return captured_; }
  // All eigenvalues mu_k of K in decreasing order [n] (before clipping).
  const Eigen::VectorXd& eigenvalues() const { return eigenvalues_; }
  // [n, M], column k = sqrt(mu_k) v_k.
  const Eigen::MatrixXd& factor() const { return factor_; }

private:
  KarhunenLoeveOptions options_;
  std::vector<double> grid_;
  Eigen::VectorXd eigenvalues_;
  Eigen::MatrixXd factor_;
  double captured_ = 0.0;
};

// Distribution of the random series coefficients.
enum class CoefficientDistribution {
  normal,   // a_k ~ N(0, scale^2)
  uniform,  // a_k ~ U(-scale, scale)
};

struct SeriesOptions {
  double length = 1.0;
  std::int64_t terms = 10;  // number of coefficients a_0 .. a_{terms-1}
  CoefficientDistribution distribution = CoefficientDistribution::normal;
  double scale = 1.0;
};

// u(x) = sum_{k < terms} a_k T_k(2 x / T - 1) with i.i.d. coefficients; with the normal
// distribution, Var u(x) = scale^2 sum_k T_k(2 x / T - 1)^2, so Var u(T) = terms scale^2.
class ChebyshevSpace : public FunctionSpace {
public:
  explicit ChebyshevSpace(const SeriesOptions& options = {});

  SampledFunction sample(Rng& rng) const override;
  std::string name() const override { return "chebyshev"; }
  std::map<std::string, Attribute> parameters() const override;

private:
  SeriesOptions options_;
};

// u(x) = sum_{k < terms} a_k (x / T)^k with i.i.d. coefficients. The argument is scaled
// by T so that every term stays in [-|a_k|, |a_k|] for any interval length.
class PowerSeriesSpace : public FunctionSpace {
public:
  explicit PowerSeriesSpace(const SeriesOptions& options = {});

  SampledFunction sample(Rng& rng) const override;
  std::string name() const override { return "power_series"; }
  std::map<std::string, Attribute> parameters() const override;

private:
  SeriesOptions options_;
};

}  // namespace neurop::data
