// Periodic Gaussian random fields in 1D, sampled in Fourier space with FFTW.
//
// The field is u ~ N(0, C) on the periodic interval [0, L) with covariance operator
//   C = sigma^2 (-d^2/dx^2 + tau^2 I)^(-gamma).
// C is diagonal in the orthonormal real Fourier basis {sqrt(2/L) cos(2 pi k x / L),
// sqrt(2/L) sin(2 pi k x / L)}, with eigenvalues
//   lambda_k = sigma^2 (4 pi^2 k^2 / L^2 + tau^2)^(-gamma),
// so the Karhunen-Loeve expansion of a sample is
//   u(x) = sum_{k=1}^{K} c_k (xi_k cos(2 pi k x / L) + eta_k sin(2 pi k x / L)),
//   c_k = sqrt(2 lambda_k / L),  xi_k, eta_k independent N(0, 1).
//
// Truncation on an n-point grid x_j = j L / n, j = 0..n-1 (no duplicated end point):
//  - the mean mode k = 0 is left out, so every sample has zero mean (as in the data of
//    the Fourier Neural Operator benchmarks);
//  - the top mode is K = (n - 1) / 2 (integer division) unless a smaller cut-off is
//    requested. For even n this drops the Nyquist mode k = n / 2, whose sine is zero on
//    the grid, so a sample would only receive half of that mode's variance. Every mode
//    kept has its full cosine and sine pair.
// The pointwise variance of the truncated field is the same at every x:
//   Var u(x) = sum_{k=1}^{K} c_k^2 = (2 / L) sum_{k=1}^{K} lambda_k.
#pragma once

#include <complex>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lib/core/random.hpp"

namespace neurop::data {

// Real-to-complex FFT pair of one length n, planned with FFTW_ESTIMATE in float64.
//
// The object owns FFTW-aligned buffers: real_data() stores n values and
// spectrum_data() stores n / 2 + 1 complex values. Transforms are unnormalised:
//   forward():  U_k = sum_j u_j exp(-2 pi i j k / n)               [n] -> [n/2 + 1]
//   inverse():  u_j = sum_{k=0}^{n-1} U_k exp(+2 pi i j k / n)     [n/2 + 1] -> [n]
// (U_{n-k} = conj(U_k)), so inverse(forward(u)) = n u. inverse() overwrites the
// spectrum buffer.
//
// Threading: a copy shares the plans, which are immutable, and owns new buffers with
// the same contents, so copies used on different threads give bitwise identical
// results. The FFTW planner, fftw_malloc and fftw_free are not thread-safe, so
// construction, copy and destruction take neurop::fftw_planner_mutex(). forward()
// and inverse() take no lock. Each object must be used by one thread at a time.
// FFTW_ESTIMATE chooses the plan by a heuristic, not by timing, so results repeat from
// run to run, unless the program created or imported FFTW wisdom for the same
// transform (FFTW then uses it in every planning mode).
class RealFft1d {
public:
  // Throws ValueError if n < 2 or n > INT_MAX, and std::runtime_error if FFTW fails to
  // allocate or plan.
  explicit RealFft1d(std::int64_t n);
  RealFft1d(const RealFft1d& other);
  RealFft1d& operator=(const RealFft1d&) = delete;
  ~RealFft1d();

  std::int64_t size() const { return n_; }
  double* real_data() { return real_; }
  std::complex<double>* spectrum_data() { return spectrum_; }

  // real_data() -> spectrum_data().
  void forward();
  // spectrum_data() -> real_data(); the spectrum buffer is overwritten.
  void inverse();

private:
  struct Plans;

  // Allocates both buffers; throws std::runtime_error if FFTW returns no memory.
  void allocate_buffers();
  void free_buffers();

  std::int64_t n_;
  std::shared_ptr<const Plans> plans_;
  double* real_ = nullptr;
  std::complex<double>* spectrum_ = nullptr;
};

// Parameters of the covariance sigma^2 (-Laplacian + tau^2 I)^(-gamma) on [0, length).
struct Grf1dParams {
  double sigma = 1.0;   // sigma >= 0; the covariance scales with sigma^2
  double tau = 1.0;     // tau >= 0, inverse correlation length
  double gamma = 2.0;   // gamma >= 0, smoothness exponent
  double length = 1.0;  // period L > 0
};

// Throws ValueError naming the parameter if one is negative, not finite, or length <= 0.
void validate(const Grf1dParams& params);

// Returns the covariance eigenvalue lambda_k = sigma^2 (4 pi^2 k^2 / L^2 + tau^2)^(-gamma).
double grf1d_eigenvalue(const Grf1dParams& params, std::int64_t k);

// Returns the highest Fourier mode kept on an n-point grid, (n - 1) / 2.
std::int64_t grf1d_max_mode(std::int64_t n);

// Returns the predicted pointwise variance sum_{k=1}^{max_mode} 2 lambda_k / L of a
// sample on n points. max_mode = -1 selects grf1d_max_mode(n). Throws ValueError for
// n < 3, invalid params or max_mode outside [1, grf1d_max_mode(n)].
double grf1d_pointwise_variance(std::int64_t n, const Grf1dParams& params, std::int64_t max_mode = -1);

// Returns the periodic grid x_j = j length / n, j = 0..n-1.
std::vector<double> periodic_grid(std::int64_t n, double length = 1.0);

// Draws samples of the truncated field on a fixed n-point grid.
//
// Sampling uses one inverse real FFT: the half spectrum is filled with the forward DFT
// coefficients of u,
//   U_0 = 0,  U_k = (n / 2) c_k (xi_k - i eta_k) for 1 <= k <= K,  U_k = 0 above K,
// and u_j = (1 / n) inverse(U)_j. Not thread-safe: use one sampler per thread. Copies
// share the FFTW plans and give bitwise identical samples (see RealFft1d).
class Grf1dSampler {
public:
  // max_mode = -1 keeps modes 1..grf1d_max_mode(n). Throws ValueError for n < 3,
  // invalid params or max_mode outside [1, grf1d_max_mode(n)].
  Grf1dSampler(std::int64_t n, const Grf1dParams& params, std::int64_t max_mode = -1);

  std::int64_t size() const { return fft_.size(); }
  std::int64_t max_mode() const { return static_cast<std::int64_t>(amplitudes_.size()); }
  // c_k = sqrt(2 lambda_k / L) for k = 1..max_mode, stored at index k - 1.
  const std::vector<double>& amplitudes() const { return amplitudes_; }

  // Writes u_j = sum_k c_k (xi_k cos(2 pi k j / n) + eta_k sin(2 pi k j / n)) to `out`
  // (n values). xi and eta hold max_mode() values, mode k at index k - 1. Throws
  // ShapeError for other lengths.
  void synthesize(std::span<const double> xi, std::span<const double> eta, std::span<double> out);

  // Writes one sample to `out` (n values). Draws xi_1, eta_1, xi_2, eta_2, ... from
  // rng.normal(), so the sample depends only on the state of `rng`.
  void sample(Rng& rng, std::span<double> out);
  std::vector<double> sample(Rng& rng);

private:
  Grf1dParams params_;
  std::vector<double> amplitudes_;
  std::vector<double> xi_, eta_;
  RealFft1d fft_;
};

// Returns one sample on n points, drawn as Grf1dSampler(n, params).sample(rng). Each
// call plans its FFT, so draw many samples with one Grf1dSampler instead.
std::vector<double> sample_grf1d(std::int64_t n, const Grf1dParams& params, Rng& rng);

}  // namespace neurop::data
