#include "datasets/grf1d.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <numbers>

#include <fftw3.h>

#include "lib/core/error.hpp"
#include "lib/core/fftw_planner.hpp"

namespace neurop::data {
namespace {

// Returns n after checking the grid size and the mode cut-off.
std::int64_t check_grid_and_cutoff(const char* function, std::int64_t n, std::int64_t max_mode) {
  NEUROP_CHECK(n >= 3, ValueError, "{}: grid size must be >= 3 so that mode k = 1 fits, got n = {}", function, n);
  NEUROP_CHECK(max_mode == -1 || (max_mode >= 1 && max_mode <= grf1d_max_mode(n)), ValueError,
               "{}: max_mode must be -1 (all modes) or in [1, {}] for n = {}, got {}; use a larger grid or a "
               "smaller cut-off",
               function, grf1d_max_mode(n), n, max_mode);
  return n;
}

}  // namespace

struct RealFft1d::Plans {
  fftw_plan forward = nullptr;
  fftw_plan inverse = nullptr;

  Plans() = default;
  Plans(const Plans&) = delete;
  Plans& operator=(const Plans&) = delete;
  ~Plans() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    if (forward != nullptr) fftw_destroy_plan(forward);
    if (inverse != nullptr) fftw_destroy_plan(inverse);
  }
};

RealFft1d::RealFft1d(std::int64_t n) : n_(n) {
  NEUROP_CHECK(n >= 2 && n <= std::numeric_limits<int>::max(), ValueError,
               "RealFft1d: transform length must be in [2, {}], got {}", std::numeric_limits<int>::max(), n);
  allocate_buffers();
  auto plans = std::make_shared<Plans>();
  {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    auto* spectrum = reinterpret_cast<fftw_complex*>(spectrum_);
    plans->forward = fftw_plan_dft_r2c_1d(static_cast<int>(n), real_, spectrum, FFTW_ESTIMATE);
    plans->inverse = fftw_plan_dft_c2r_1d(static_cast<int>(n), spectrum, real_, FFTW_ESTIMATE);
  }
  if (plans->forward == nullptr || plans->inverse == nullptr) {
    free_buffers();
    throw std::runtime_error(fmt::format("RealFft1d: FFTW failed to plan a real transform of length {}", n));
  }
  plans_ = std::move(plans);
}

RealFft1d::RealFft1d(const RealFft1d& other) : n_(other.n_), plans_(other.plans_) {
  allocate_buffers();
  std::copy(other.real_, other.real_ + n_, real_);
  std::copy(other.spectrum_, other.spectrum_ + n_ / 2 + 1, spectrum_);
}

RealFft1d::~RealFft1d() { free_buffers(); }

void RealFft1d::allocate_buffers() {
  const auto length = static_cast<std::size_t>(n_);
  {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    real_ = fftw_alloc_real(length);
    spectrum_ = reinterpret_cast<std::complex<double>*>(fftw_alloc_complex(length / 2 + 1));
  }
  if (real_ == nullptr || spectrum_ == nullptr) {
    free_buffers();
    throw std::runtime_error(fmt::format("RealFft1d: FFTW failed to allocate buffers for length {}", n_));
  }
}

void RealFft1d::free_buffers() {
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  fftw_free(real_);
  fftw_free(spectrum_);
  real_ = nullptr;
  spectrum_ = nullptr;
}

// The new-array execute functions run a shared plan on this object's buffers; they
// need the alignment of the planning arrays, which fftw_malloc guarantees.
void RealFft1d::forward() {
  fftw_execute_dft_r2c(plans_->forward, real_, reinterpret_cast<fftw_complex*>(spectrum_));
}

void RealFft1d::inverse() {
  fftw_execute_dft_c2r(plans_->inverse, reinterpret_cast<fftw_complex*>(spectrum_), real_);
}

void validate(const Grf1dParams& params) {
  NEUROP_CHECK(std::isfinite(params.sigma) && params.sigma >= 0.0, ValueError,
               "Grf1dParams: sigma must be finite and >= 0, got {}", params.sigma);
  NEUROP_CHECK(std::isfinite(params.tau) && params.tau >= 0.0, ValueError,
               "Grf1dParams: tau must be finite and >= 0, got {}", params.tau);
  NEUROP_CHECK(std::isfinite(params.gamma) && params.gamma >= 0.0, ValueError,
               "Grf1dParams: gamma must be finite and >= 0, got {}", params.gamma);
  NEUROP_CHECK(std::isfinite(params.length) && params.length > 0.0, ValueError,
               "Grf1dParams: length must be finite and > 0, got {}", params.length);
}

double grf1d_eigenvalue(const Grf1dParams& params, std::int64_t k) {
  // lambda_k = sigma^2 (4 pi^2 k^2 / L^2 + tau^2)^(-gamma)
  const double wavenumber = 2.0 * std::numbers::pi * static_cast<double>(k) / params.length;
  return params.sigma * params.sigma * std::pow(wavenumber * wavenumber + params.tau * params.tau, -params.gamma);
}

std::int64_t grf1d_max_mode(std::int64_t n) { return (n - 1) / 2; }

double grf1d_pointwise_variance(std::int64_t n, const Grf1dParams& params, std::int64_t max_mode) {
  check_grid_and_cutoff("grf1d_pointwise_variance", n, max_mode);
  validate(params);
  const std::int64_t top = max_mode == -1 ? grf1d_max_mode(n) : max_mode;
  // Var u(x) = sum_k c_k^2 (cos^2 + sin^2) = sum_k 2 lambda_k / L; summed from the
  // smallest term up to limit round-off.
  double variance = 0.0;
  for (std::int64_t k = top; k >= 1; --k) variance += 2.0 * grf1d_eigenvalue(params, k) / params.length;
  return variance;
}

std::vector<double> periodic_grid(std::int64_t n, double length) {
  NEUROP_CHECK(n >= 1, ValueError, "periodic_grid: number of points must be >= 1, got {}", n);
  std::vector<double> x(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    x[static_cast<std::size_t>(j)] = static_cast<double>(j) * length / static_cast<double>(n);
  }
  return x;
}

Grf1dSampler::Grf1dSampler(std::int64_t n, const Grf1dParams& params, std::int64_t max_mode)
    : params_(params), fft_(check_grid_and_cutoff("Grf1dSampler", n, max_mode)) {
  validate(params);
  const std::int64_t top = max_mode == -1 ? grf1d_max_mode(n) : max_mode;
  amplitudes_.resize(static_cast<std::size_t>(top));
  for (std::int64_t k = 1; k <= top; ++k) {
    // c_k = sqrt(2 lambda_k / L)
    amplitudes_[static_cast<std::size_t>(k - 1)] = std::sqrt(2.0 * grf1d_eigenvalue(params, k) / params.length);
  }
  xi_.resize(amplitudes_.size());
  eta_.resize(amplitudes_.size());
}

void Grf1dSampler::synthesize(std::span<const double> xi, std::span<const double> eta, std::span<double> out) {
  const auto modes = amplitudes_.size();
  const auto n = static_cast<std::size_t>(size());
  NEUROP_CHECK(xi.size() == modes && eta.size() == modes, ShapeError,
               "Grf1dSampler::synthesize: xi and eta must hold max_mode = {} values, got {} and {}", modes,
               xi.size(), eta.size());
  NEUROP_CHECK(out.size() == n, ShapeError, "Grf1dSampler::synthesize: output must hold n = {} values, got {}", n,
               out.size());

  // The forward DFT of cos(2 pi k j / n) is (n / 2) at k (and n - k), that of
  // sin(2 pi k j / n) is -i (n / 2) at k, so U_k = (n / 2) c_k (xi_k - i eta_k).
  std::complex<double>* spectrum = fft_.spectrum_data();
  const double half_n = 0.5 * static_cast<double>(n);
  for (std::size_t k = 0; k <= n / 2; ++k) spectrum[k] = 0.0;
  for (std::size_t k = 1; k <= modes; ++k) {
    const double scale = half_n * amplitudes_[k - 1];
    spectrum[k] = {scale * xi[k - 1], -scale * eta[k - 1]};
  }

  // [n/2 + 1] -> [n], then the 1 / n of the inverse DFT.
  fft_.inverse();
  const double* values = fft_.real_data();
  const double inverse_n = 1.0 / static_cast<double>(n);
  for (std::size_t j = 0; j < n; ++j) out[j] = inverse_n * values[j];
}

void Grf1dSampler::sample(Rng& rng, std::span<double> out) {
  for (std::size_t k = 0; k < amplitudes_.size(); ++k) {
    xi_[k] = rng.normal();
    eta_[k] = rng.normal();
  }
  synthesize(xi_, eta_, out);
}

std::vector<double> Grf1dSampler::sample(Rng& rng) {
  std::vector<double> out(static_cast<std::size_t>(size()));
  sample(rng, out);
  return out;
}

std::vector<double> sample_grf1d(std::int64_t n, const Grf1dParams& params, Rng& rng) {
  Grf1dSampler sampler(n, params);
  return sampler.sample(rng);
}

}  // namespace neurop::data
