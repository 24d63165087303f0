#include "datasets/grf2d.hpp"

#include <cmath>
#include <complex>
#include <mutex>
#include <numbers>

#include <fftw3.h>

#include "lib/core/error.hpp"
#include "lib/core/fftw_planner.hpp"

namespace neurop::data {
namespace {

constexpr double kPi = std::numbers::pi;

std::size_t to_index(std::int64_t value) { return static_cast<std::size_t>(value); }

void check_parameter(const char* name, double value) {
  NEUROP_CHECK(std::isfinite(value) && value >= 0.0, ValueError,
               "Grf2dParams: {} must be finite and >= 0, got {}", name, value);
}

}  // namespace

void validate(const Grf2dParams& params) {
  check_parameter("alpha", params.alpha);
  check_parameter("tau", params.tau);
  check_parameter("sigma", params.sigma);
  NEUROP_CHECK(!(params.keep_mean_mode && params.tau == 0.0), ValueError,
               "Grf2dParams: tau = 0 with keep_mean_mode gives the mean mode infinite variance; use tau > 0 or drop "
               "the mean mode");
}

// ---------------------------------------------------------------------------------
// Neumann field

NeumannGrf2d::NeumannGrf2d(std::int64_t n, GridPoints points, const Grf2dParams& params, std::int64_t modes)
    : n_(n), modes_(modes == -1 ? n : modes), points_(points), params_(params) {
  NEUROP_CHECK(n >= 2, ValueError, "NeumannGrf2d: the grid needs at least 2 points per axis, got n = {}", n);
  validate(params);
  NEUROP_CHECK(modes == -1 || (modes >= 1 && modes <= n), ValueError,
               "NeumannGrf2d: modes must be -1 (all {} the grid resolves) or in [1, {}] for n = {}, got {}", n, n, n,
               modes);

  const std::int64_t m = modes_;
  amplitudes_.resize(to_index(m * m));
  for (std::int64_t k0 = 0; k0 < m; ++k0) {
    for (std::int64_t k1 = 0; k1 < m; ++k1) {
      // a_k = sigma (pi^2 |k|^2 + tau^2)^(-alpha / 2)
      const double eigenvalue = kPi * kPi * static_cast<double>(k0 * k0 + k1 * k1) + params.tau * params.tau;
      const bool dropped = k0 == 0 && k1 == 0 && !params.keep_mean_mode;
      amplitudes_[to_index(k0 * m + k1)] = dropped ? 0.0 : params.sigma * std::pow(eigenvalue, -0.5 * params.alpha);
    }
  }

  // FFTW's unnormalised transforms on one axis of length n:
  //   REDFT00: Y_j = X_0 + (-1)^j X_{n-1} + 2 sum_{k=1}^{n-2} X_k cos(pi j k / (n - 1))
  //   REDFT01: Y_j = X_0 + 2 sum_{k=1}^{n-1} X_k cos(pi (j + 1/2) k / n)
  // Matching Y_j = sum_k c_k phi_k(x_j) with phi_k = sqrt(2) cos(pi k x) gives
  // X_0 = c_0, X_k = c_k / sqrt(2), and for REDFT00 X_{n-1} = sqrt(2) c_{n-1}.
  scale_.assign(to_index(m), 1.0 / std::numbers::sqrt2);
  scale_[0] = 1.0;
  if (points == GridPoints::vertex && m == n && n >= 2) scale_[to_index(n - 1)] = std::numbers::sqrt2;

  std::vector<double> input(to_index(n * n)), output(to_index(n * n));
  const fftw_r2r_kind kind = points == GridPoints::vertex ? FFTW_REDFT00 : FFTW_REDFT01;
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  plan_ = fftw_plan_r2r_2d(static_cast<int>(n), static_cast<int>(n), input.data(), output.data(), kind, kind,
                           FFTW_ESTIMATE | FFTW_UNALIGNED);
  NEUROP_CHECK(plan_ != nullptr, ValueError, "NeumannGrf2d: FFTW could not plan a {} x {} cosine transform", n, n);
}

NeumannGrf2d::~NeumannGrf2d() {
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  if (plan_ != nullptr) fftw_destroy_plan(static_cast<fftw_plan>(plan_));
}

std::vector<double> NeumannGrf2d::coordinates() const {
  std::vector<double> x(to_index(n_));
  for (std::int64_t i = 0; i < n_; ++i) {
    x[to_index(i)] = points_ == GridPoints::vertex ? static_cast<double>(i) / static_cast<double>(n_ - 1)
                                                   : (static_cast<double>(i) + 0.5) / static_cast<double>(n_);
  }
  return x;
}

double NeumannGrf2d::amplitude(std::int64_t k0, std::int64_t k1) const {
  NEUROP_CHECK(k0 >= 0 && k0 < modes_ && k1 >= 0 && k1 < modes_, ValueError,
               "NeumannGrf2d::amplitude: mode ({}, {}) is outside [0, {})^2", k0, k1, modes_);
  return amplitudes_[to_index(k0 * modes_ + k1)];
}

std::vector<double> NeumannGrf2d::draw_coefficients(Rng& rng) const {
  std::vector<double> coefficients(amplitudes_.size());
  for (std::size_t k = 0; k < amplitudes_.size(); ++k) coefficients[k] = amplitudes_[k] * rng.normal();
  return coefficients;
}

void NeumannGrf2d::synthesize(std::span<const double> coefficients, std::span<double> field) const {
  NEUROP_CHECK(coefficients.size() == amplitudes_.size(), ShapeError,
               "NeumannGrf2d::synthesize: expected {} coefficients ([{}, {}]), got {}", amplitudes_.size(), modes_,
               modes_, coefficients.size());
  NEUROP_CHECK(static_cast<std::int64_t>(field.size()) == n_ * n_, ShapeError,
               "NeumannGrf2d::synthesize: the field needs {} values ([{}, {}]), got {}", n_ * n_, n_, n_,
               field.size());
  // [modes, modes] coefficients -> [n, n] FFTW input with zeros above the cut-off.
  std::vector<double> input(to_index(n_ * n_), 0.0);
  for (std::int64_t k0 = 0; k0 < modes_; ++k0) {
    for (std::int64_t k1 = 0; k1 < modes_; ++k1) {
      input[to_index(k0 * n_ + k1)] =
          scale_[to_index(k0)] * scale_[to_index(k1)] * coefficients[to_index(k0 * modes_ + k1)];
    }
  }
  fftw_execute_r2r(static_cast<fftw_plan>(plan_), input.data(), field.data());
}

void NeumannGrf2d::sample(Rng& rng, std::span<double> field) const { synthesize(draw_coefficients(rng), field); }

double NeumannGrf2d::evaluate(std::span<const double> coefficients, double x0, double x1) const {
  NEUROP_CHECK(coefficients.size() == amplitudes_.size(), ShapeError,
               "NeumannGrf2d::evaluate: expected {} coefficients ([{}, {}]), got {}", amplitudes_.size(), modes_,
               modes_, coefficients.size());
  std::vector<double> basis0(to_index(modes_)), basis1(to_index(modes_));
  for (std::int64_t k = 0; k < modes_; ++k) {
    const double weight = k == 0 ? 1.0 : std::numbers::sqrt2;
    basis0[to_index(k)] = weight * std::cos(kPi * static_cast<double>(k) * x0);
    basis1[to_index(k)] = weight * std::cos(kPi * static_cast<double>(k) * x1);
  }
  // u(x0, x1) = sum_k c_k phi_k0(x0) phi_k1(x1)
  double value = 0.0;
  for (std::int64_t k0 = 0; k0 < modes_; ++k0) {
    for (std::int64_t k1 = 0; k1 < modes_; ++k1) {
      value += coefficients[to_index(k0 * modes_ + k1)] * basis0[to_index(k0)] * basis1[to_index(k1)];
    }
  }
  return value;
}

double NeumannGrf2d::pointwise_variance(double x0, double x1) const {
  // Var u = sum_k a_k^2 phi_k0(x0)^2 phi_k1(x1)^2
  double variance = 0.0;
  for (std::int64_t k0 = 0; k0 < modes_; ++k0) {
    const double phi0 = k0 == 0 ? 1.0 : std::numbers::sqrt2 * std::cos(kPi * static_cast<double>(k0) * x0);
    for (std::int64_t k1 = 0; k1 < modes_; ++k1) {
      const double phi1 = k1 == 0 ? 1.0 : std::numbers::sqrt2 * std::cos(kPi * static_cast<double>(k1) * x1);
      const double a = amplitudes_[to_index(k0 * modes_ + k1)];
      variance += a * a * phi0 * phi0 * phi1 * phi1;
    }
  }
  return variance;
}

// ---------------------------------------------------------------------------------
// Periodic field

PeriodicGrf2d::PeriodicGrf2d(std::int64_t n, const Grf2dParams& params, std::int64_t max_mode)
    : n_(n), max_mode_(max_mode == -1 ? (n - 1) / 2 : max_mode), params_(params) {
  NEUROP_CHECK(n >= 3, ValueError, "PeriodicGrf2d: the grid needs at least 3 points per axis so that mode 1 fits, got "
               "n = {}", n);
  validate(params);
  NEUROP_CHECK(max_mode == -1 || (max_mode >= 1 && max_mode <= (n - 1) / 2), ValueError,
               "PeriodicGrf2d: max_mode must be -1 (all modes) or in [1, {}] for n = {}, got {}; use a larger grid "
               "or a smaller cut-off",
               (n - 1) / 2, n, max_mode);

  std::vector<std::complex<double>> spectrum(to_index(n * (n / 2 + 1)));
  std::vector<double> output(to_index(n * n));
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  plan_ = fftw_plan_dft_c2r_2d(static_cast<int>(n), static_cast<int>(n),
                               reinterpret_cast<fftw_complex*>(spectrum.data()), output.data(),
                               FFTW_ESTIMATE | FFTW_UNALIGNED);
  NEUROP_CHECK(plan_ != nullptr, ValueError, "PeriodicGrf2d: FFTW could not plan a {} x {} inverse transform", n, n);
}

PeriodicGrf2d::~PeriodicGrf2d() {
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  if (plan_ != nullptr) fftw_destroy_plan(static_cast<fftw_plan>(plan_));
}

std::vector<double> PeriodicGrf2d::coordinates() const {
  std::vector<double> x(to_index(n_));
  for (std::int64_t i = 0; i < n_; ++i) x[to_index(i)] = static_cast<double>(i) / static_cast<double>(n_);
  return x;
}

double PeriodicGrf2d::amplitude(std::int64_t k0, std::int64_t k1) const {
  NEUROP_CHECK(std::abs(k0) <= max_mode_ && std::abs(k1) <= max_mode_, ValueError,
               "PeriodicGrf2d::amplitude: mode ({}, {}) is outside |k| <= {}", k0, k1, max_mode_);
  if (k0 == 0 && k1 == 0 && !params_.keep_mean_mode) return 0.0;
  // a_k = sigma (4 pi^2 |k|^2 + tau^2)^(-alpha / 2)
  const double eigenvalue = 4.0 * kPi * kPi * static_cast<double>(k0 * k0 + k1 * k1) + params_.tau * params_.tau;
  return params_.sigma * std::pow(eigenvalue, -0.5 * params_.alpha);
}

PeriodicGrf2d::Coefficients PeriodicGrf2d::draw_coefficients(Rng& rng) const {
  const std::int64_t k_max = max_mode_;
  Coefficients coefficients;
  coefficients.cosine.assign(to_index((2 * k_max + 1) * (k_max + 1)), 0.0);
  coefficients.sine.assign(coefficients.cosine.size(), 0.0);
  coefficients.cosine[to_index(box_index(0, 0))] = amplitude(0, 0) * rng.normal();
  for (std::int64_t k0 = -k_max; k0 <= k_max; ++k0) {
    for (std::int64_t k1 = 0; k1 <= k_max; ++k1) {
      const bool in_half_set = k1 > 0 || k0 > 0;
      if (!in_half_set) continue;
      const double a = amplitude(k0, k1);
      coefficients.cosine[to_index(box_index(k0, k1))] = a * rng.normal();
      coefficients.sine[to_index(box_index(k0, k1))] = a * rng.normal();
    }
  }
  return coefficients;
}

void PeriodicGrf2d::synthesize(const Coefficients& coefficients, std::span<double> field) const {
  const std::size_t box = to_index((2 * max_mode_ + 1) * (max_mode_ + 1));
  NEUROP_CHECK(coefficients.cosine.size() == box && coefficients.sine.size() == box, ShapeError,
               "PeriodicGrf2d::synthesize: expected {} cosine and sine coefficients, got {} and {}", box,
               coefficients.cosine.size(), coefficients.sine.size());
  NEUROP_CHECK(static_cast<std::int64_t>(field.size()) == n_ * n_, ShapeError,
               "PeriodicGrf2d::synthesize: the field needs {} values ([{}, {}]), got {}", n_ * n_, n_, n_,
               field.size());
  // FFTW's c2r computes u_j = sum over all k of U_k exp(+2 pi i k.j / n) from the half
  // spectrum [n, n/2 + 1] (k1 >= 0), with U_{-k} = conj(U_k) implied. A real pair
  // sqrt(2) (c cos + s sin) equals U_k e^{i theta} + conj(U_k) e^{-i theta} with
  // U_k = (c - i s) / sqrt(2). In column k1 = 0 both k and -k are stored explicitly.
  const std::int64_t half = n_ / 2 + 1;
  std::vector<std::complex<double>> spectrum(to_index(n_ * half), {0.0, 0.0});
  spectrum[0] = coefficients.cosine[to_index(box_index(0, 0))];
  for (std::int64_t k0 = -max_mode_; k0 <= max_mode_; ++k0) {
    for (std::int64_t k1 = 0; k1 <= max_mode_; ++k1) {
      if (!(k1 > 0 || k0 > 0)) continue;
      const std::complex<double> value(coefficients.cosine[to_index(box_index(k0, k1))] / std::numbers::sqrt2,
                                       -coefficients.sine[to_index(box_index(k0, k1))] / std::numbers::sqrt2);
      const std::int64_t row = (k0 + n_) % n_;
      spectrum[to_index(row * half + k1)] = value;
      if (k1 == 0) spectrum[to_index((n_ - k0) * half)] = std::conj(value);
    }
  }
  fftw_execute_dft_c2r(static_cast<fftw_plan>(plan_), reinterpret_cast<fftw_complex*>(spectrum.data()),
                       field.data());
}

void PeriodicGrf2d::sample(Rng& rng, std::span<double> field) const { synthesize(draw_coefficients(rng), field); }

double PeriodicGrf2d::evaluate(const Coefficients& coefficients, double x0, double x1) const {
  double value = coefficients.cosine.at(to_index(box_index(0, 0)));
  for (std::int64_t k0 = -max_mode_; k0 <= max_mode_; ++k0) {
    for (std::int64_t k1 = 0; k1 <= max_mode_; ++k1) {
      if (!(k1 > 0 || k0 > 0)) continue;
      const double theta = 2.0 * kPi * (static_cast<double>(k0) * x0 + static_cast<double>(k1) * x1);
      value += std::numbers::sqrt2 * (coefficients.cosine.at(to_index(box_index(k0, k1))) * std::cos(theta) +
                                      coefficients.sine.at(to_index(box_index(k0, k1))) * std::sin(theta));
    }
  }
  return value;
}

double PeriodicGrf2d::pointwise_variance() const {
  // Var u = sum over the full box of a_k^2 (each pair k, -k of H contributes 2 a_k^2)
  double variance = 0.0;
  for (std::int64_t k0 = -max_mode_; k0 <= max_mode_; ++k0) {
    for (std::int64_t k1 = -max_mode_; k1 <= max_mode_; ++k1) {
      const double a = amplitude(k0, k1);
      variance += a * a;
    }
  }
  return variance;
}

}  // namespace neurop::data
