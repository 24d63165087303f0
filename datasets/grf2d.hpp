// Gaussian random fields on the unit square, u ~ N(0, sigma^2 (-Laplacian + tau^2 I)^(-alpha)),
// sampled by their Karhunen-Loeve (eigenfunction) expansion and evaluated with FFTW.
//
// Neumann fields (zero normal derivative, the Laplacian of the FNO Darcy benchmark):
//   u(x0, x1) = sum_{k0, k1 = 0}^{M - 1} c_k phi_k0(x0) phi_k1(x1),
//   phi_0(x) = 1,  phi_k(x) = sqrt(2) cos(pi k x)   (orthonormal on [0, 1]),
//   c_k = a_k xi_k,  a_k = sigma (pi^2 (k0^2 + k1^2) + tau^2)^(-alpha / 2),  xi_k ~ N(0, 1).
// Each term has zero normal derivative on the whole boundary, so the continuous field
// does too. The mean mode k = (0, 0) is dropped unless keep_mean_mode is set, as in the
// FNO benchmark; its variance sigma^2 tau^(-2 alpha) would otherwise dominate the
// field. Pointwise variance:
//   Var u(x0, x1) = sum_k a_k^2 phi_k0(x0)^2 phi_k1(x1)^2,
// which depends on the point (up to 4 times larger in a corner than the average).
//
// Grids, n points per axis, value[i * n + j] at (x_i, x_j):
//   vertex:        x_i = i / (n - 1), i = 0..n-1, both boundary points included. The
//                  expansion is evaluated by FFTW's REDFT00 (DCT-I) on each axis.
//   cell_centred:  x_i = (i + 1/2) / n. Evaluated by REDFT01 (DCT-III).
// Both keep at most M = n modes per axis (k = 0..n-1), all the grid resolves.
// The FNO data generator (MATLAB GRF.m of the Fourier Neural Operator repository) uses
// this expansion with sigma = tau^(alpha - 1), M = s and the mean dropped, evaluated
// by idct2 on the cell-centred points; its Darcy solve then treats the s x s values as
// a vertex grid on [0, 1]. The Darcy generator here samples the vertex grid directly.
//
// Periodic fields on the torus [0, 1)^2, grid x_i = i / n (no duplicated end point):
//   u(x) = m + sum_{k in H} a_k sqrt(2) (xi_k cos(2 pi k.x) + eta_k sin(2 pi k.x)),
//   a_k = sigma (4 pi^2 (k0^2 + k1^2) + tau^2)^(-alpha / 2),
// over the half set H = {|k0|, |k1| <= K, k1 > 0, or k1 = 0 and k0 > 0}, with the mean
// term m = a_0 xi_0 only when keep_mean_mode is set. K = (n - 1) / 2 by default, which
// drops the Nyquist wavenumber of an even grid (its sine vanishes on the grid, so it
// would only receive half its variance). Var u = sum over k != 0 in the box of a_k^2
// (+ a_0^2 with the mean), the same at every point. Evaluated by one c2r FFT.
//
// Threading: construction plans FFTW transforms under neurop::fftw_planner_mutex().
// synthesize(), sample() and evaluate() are const and may run concurrently on one
// object from several threads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lib/core/random.hpp"

namespace neurop::data {

// Covariance sigma^2 (-Laplacian + tau^2 I)^(-alpha).
struct Grf2dParams {
  double alpha = 2.0;  // smoothness exponent, >= 0
  double tau = 3.0;    // inverse correlation length, >= 0 (> 0 with keep_mean_mode)
  double sigma = 1.0;  // amplitude scale, >= 0
  bool keep_mean_mode = false;
};

// Throws ValueError naming the parameter that is negative or not finite, or tau = 0
// together with keep_mean_mode (the mean mode would have infinite variance).
void validate(const Grf2dParams& params);

enum class GridPoints { vertex, cell_centred };

// Gaussian random field with zero Neumann boundary values, n x n grid.
class NeumannGrf2d {
public:
  // modes = -1 keeps M = n modes per axis; otherwise 1 <= modes <= n. Throws ValueError
  // for n < 2, invalid params or modes out of range.
  NeumannGrf2d(std::int64_t n, GridPoints points, const Grf2dParams& params, std::int64_t modes = -1);
  ~NeumannGrf2d();
  NeumannGrf2d(const NeumannGrf2d&) = delete;
  NeumannGrf2d& operator=(const NeumannGrf2d&) = delete;

  std::int64_t size() const { return n_; }
  std::int64_t modes() const { return modes_; }
  GridPoints points() const { return points_; }
  const Grf2dParams& params() const { return params_; }
  // Grid coordinates x_i, n values (see the file comment).
  std::vector<double> coordinates() const;

  // a_k for 0 <= k0, k1 < modes(); 0 for the dropped mean mode.
  double amplitude(std::int64_t k0, std::int64_t k1) const;

  // Draws xi for all modes()^2 modes in row-major order (k0 outer, the mean mode
  // included, so keep_mean_mode does not shift the stream) and returns c_k = a_k xi_k
  // as [modes, modes] row-major.
  std::vector<double> draw_coefficients(Rng& rng) const;

  // Writes the expansion with coefficients `coefficients` ([modes, modes]) on the grid
  // ([n, n]). Throws ShapeError for other sizes.
  void synthesize(std::span<const double> coefficients, std::span<double> field) const;

  // Writes one sample ([n, n]); equals synthesize(draw_coefficients(rng)).
  void sample(Rng& rng, std::span<double> field) const;

  // Evaluates the continuous expansion at any point (x0, x1) by the explicit cosine sum
  // (O(modes^2) work per point).
  double evaluate(std::span<const double> coefficients, double x0, double x1) const;

  // Predicted Var u(x0, x1) of the truncated expansion.
  double pointwise_variance(double x0, double x1) const;

private:
  std::int64_t n_;
  std::int64_t modes_;
  GridPoints points_;
  Grf2dParams params_;
  std::vector<double> amplitudes_;  // [modes, modes]
  std::vector<double> scale_;       // per-axis factor from c_k to the FFTW input, [modes]
  void* plan_ = nullptr;
};

// Gaussian random field on the periodic unit square, n x n grid.
class PeriodicGrf2d {
public:
  // max_mode = -1 keeps K = (n - 1) / 2; otherwise 1 <= max_mode <= (n - 1) / 2. Throws
  // ValueError for n < 3, invalid params or max_mode out of range.
  PeriodicGrf2d(std::int64_t n, const Grf2dParams& params, std::int64_t max_mode = -1);
  ~PeriodicGrf2d();
  PeriodicGrf2d(const PeriodicGrf2d&) = delete;
  PeriodicGrf2d& operator=(const PeriodicGrf2d&) = delete;

  std::int64_t size() const { return n_; }
  std::int64_t max_mode() const { return max_mode_; }
  // x_i = i / n, n values.
  std::vector<double> coordinates() const;

  // a_k for |k0|, |k1| <= max_mode(); 0 for the dropped mean mode.
  double amplitude(std::int64_t k0, std::int64_t k1) const;

  // Coefficients of the real expansion on the box -K <= k0 <= K, 0 <= k1 <= K, stored
  // at (k0 + K) * (K + 1) + k1: cosine = a_k xi_k and sine = a_k eta_k for k in H,
  // cosine = m at k = 0, zero elsewhere.
  struct Coefficients {
    std::vector<double> cosine;
    std::vector<double> sine;
  };

  // Draws xi_0 first, then (xi_k, eta_k) for k in H with k0 from -K to K (outer) and k1
  // from 0 to K (inner).
  Coefficients draw_coefficients(Rng& rng) const;

  // Writes the expansion on the grid ([n, n]). Throws ShapeError for wrong sizes.
  void synthesize(const Coefficients& coefficients, std::span<double> field) const;

  // Writes one sample ([n, n]); equals synthesize(draw_coefficients(rng)).
  void sample(Rng& rng, std::span<double> field) const;

  // Evaluates the continuous expansion at (x0, x1) by the explicit sum.
  double evaluate(const Coefficients& coefficients, double x0, double x1) const;

  // Predicted Var u, the same at every point.
  double pointwise_variance() const;

private:
  std::int64_t box_index(std::int64_t k0, std::int64_t k1) const { return (k0 + max_mode_) * (max_mode_ + 1) + k1; }

  std::int64_t n_;
  std::int64_t max_mode_;
  Grf2dParams params_;
  void* plan_ = nullptr;
};

}  // namespace neurop::data
