// Viscous Burgers data: u_t + (u^2 / 2)_x = nu u_xx on the periodic interval [0, 1).
//
// Spatial discretisation: Fourier pseudo-spectral on n points x_j = j / n, with the
// nonlinear term dealiased by the 2/3 rule (only modes |k| <= K = (n - 1) / 3 are
// carried, so the product of two carried fields aliases nothing back onto them).
// Time integration: ETDRK4 of Cox and Matthews (J. Comput. Phys. 176, 2002) in the
// form of Kassam and Trefethen (SIAM J. Sci. Comput. 26, 2005), which integrates the
// stiff term -nu (2 pi k)^2 exactly and the nonlinear term to fourth order.
//
// The defaults of generate_burgers() are the setting of the Burgers benchmark of the
// Fourier Neural Operator paper (Li et al., ICLR 2021): u0 ~ N(0, 625 (-Laplacian +
// 25 I)^(-2)), nu = 0.1, the solution at t = 1, and a grid of 8192 points.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "datasets/dataset_file.hpp"
#include "datasets/grf1d.hpp"

namespace neurop::data {

// Smallest grid the solver accepts.
inline constexpr std::int64_t kBurgersMinGridSize = 16;

// Smallest accepted ratio (nu / max|u0|) / (1 / n) of the viscous front width to the
// grid spacing. A front u = -U tanh(U x / (2 nu)) has Fourier amplitudes decaying like
// exp(-2 pi^2 nu k / U), so at ratio r the amplitude at the top carried mode
// k = n / 3 has fallen only to about exp(-6.6 r), 2e-6 at r = 2. Below that the
// solution cannot be resolved on the grid, so such settings are rejected before
// solving. Settings above it are checked after solving with kBurgersMaxTopBandEnergy.
inline constexpr double kBurgersMinFrontResolution = 2.0;

// Largest accepted ratio of the energy in the top band (2K/3, K] of the carried modes
// to the energy of all carried modes. A ratio of 1e-10 means amplitudes near 1e-5 in
// the top band and, for an exponentially decaying spectrum, an estimated truncation
// error near 1e-5^(3/2) = 3e-8. For u0 = sin(2 pi x), a ratio of 2e-12 went with space
// errors of 4e-10 (nu = 0.01, n = 256) and 1.5e-9 (nu = 0.02, n = 128) at t = 1.
inline constexpr double kBurgersMaxTopBandEnergy = 1e-10;

// ETDRK4 weights divided by the step h, as functions of z = h L for one diagonal
// linear coefficient L <= 0:
//   half_phi1 = phi1(z / 2)                      (Q = (h / 2) half_phi1)
//   f1 = phi1(z) - 3 phi2(z) + 4 phi3(z) = (-4 - z + e^z (4 - 3 z + z^2)) / z^3
//   f2 = phi2(z) - 2 phi3(z)             = (2 + z + e^z (z - 2)) / z^3
//   f3 = -phi2(z) + 4 phi3(z)            = (-4 - 3 z - z^2 + e^z (4 - z)) / z^3
// with phi1(z) = (e^z - 1) / z, phi2(z) = (e^z - 1 - z) / z^2, phi3(z) = (e^z - 1 - z - z^2 / 2) / z^3.
struct Etdrk4Weights {
  double half_phi1;
  double f1;
  double f2;
  double f3;
};

// Evaluates the weights without the cancellation of the closed forms near z = 0:
// phi1 through expm1, f1, f2 and f3 by their Taylor series for |z| < 2 and by the
// closed forms otherwise. The relative error is a few times 1e-15 for all z <= 0.
Etdrk4Weights etdrk4_weights(double z);

// Time-step schedule of BurgersSolver.
//
// The solver takes M = ceil(t_final / dt_target) steps of dt = t_final / M, with
//   dt_target = min(max_dt, advective_factor * nu / max|u0|^2).
// The first steps are graded because u0 may be rough (a GRF sample with gamma = 2 is
// only in H^(3/2 - eps)), so the solution changes fastest near t = 0, and uniform steps
// lose accuracy there (see burgers.cpp for the measurements). The interval [0, s dt]
// (s = steps_per_level, m = graded_levels) is covered by s steps of dt / 2^m and then
// s steps each of dt / 2^m, dt / 2^(m-1), ..., dt / 2. After the first s steps, every
// step is at most 1 / s of the time already elapsed. The remaining M - s steps have
// length dt. With m = 0 the schedule is M uniform steps.
struct BurgersStepping {
  // With the default data the relative L2 error against the exact solution was at
  // most 4.5e-8 over 30 samples (see burgers.cpp).
  double max_dt = 1.0 / 128.0;
  // ETDRK4 treats advection explicitly. For a mode with nu (2 pi k)^2 dt ~ 1 the
  // advective number max|u| 2 pi k dt = max|u| sqrt(dt / nu) must stay below about 2,
  // which gives dt < 4 nu / max|u|^2; the default factor keeps a margin of 4. It does
  // not limit the default data (nu = 0.1) unless max|u0| > 3.6.
  double advective_factor = 1.0;
  int graded_levels = 8;
  int steps_per_level = 4;
};

// Throws ValueError naming the field if max_dt or advective_factor is not finite and
// > 0, graded_levels is outside [0, 40] or steps_per_level < 1.
void validate(const BurgersStepping& stepping);

// Outcome of one solve. The solver never throws for a numerical outcome: the caller
// inspects `finite` and `top_band_energy`.
struct BurgersStatus {
  std::int64_t steps = 0;        // number of time steps taken, graded ones included
  double dt = 0.0;               // length of the uniform steps, t_final / M
  bool finite = true;            // the solution stayed finite
  double top_band_energy = 0.0;  // largest top-band energy ratio after the graded steps
};

// ETDRK4 pseudo-spectral solver on one grid. Not thread-safe: use one solver per
// thread. Copies share the FFTW plans and give bitwise identical results (see
// RealFft1d).
class BurgersSolver {
public:
  // n: grid points (>= kBurgersMinGridSize); viscosity: nu > 0. Throws ValueError
  // naming the value otherwise, or from validate(stepping).
  BurgersSolver(std::int64_t n, double viscosity, const BurgersStepping& stepping = {});

  std::int64_t size() const { return fft_.size(); }
  // Highest carried mode K = (n - 1) / 3.
  std::int64_t max_mode() const { return max_mode_; }
  double viscosity() const { return viscosity_; }

  // Advances u (n grid values) from t = 0 to t_final in place. The initial condition is
  // first projected onto the carried modes |k| <= K. Throws ShapeError if u does not
  // hold n values, and ValueError if u is not finite, if t_final is not finite and > 0,
  // or if the front width nu / max|u| is below kBurgersMinFrontResolution grid spacings
  // (the message names both values and the grid or viscosity that would resolve it).
  // The top band is monitored only after the graded steps: before that it still contains
  // the high modes of a rough u0, which diffusion removes within the first steps.
  BurgersStatus solve(std::span<double> u, double t_final);

private:
  // ETDRK4 coefficients of one step length h, indexed by mode k = 0..K.
  struct StepCoefficients {
    double h = 0.0;
    std::vector<double> decay, half_decay, q, f1, f2, f3;
  };

  // Returns the coefficients for step h, computing them on first use.
  const StepCoefficients& coefficients_for(double h);
  // Advances the spectrum v_ by one ETDRK4 step.
  void take_step(const StepCoefficients& step);
  // out_k = -i pi k F[(F^{-1} v)^2]_k for k <= K, the dealiased transform of -(u^2 / 2)_x.
  void evaluate_nonlinear(const std::vector<std::complex<double>>& v, std::vector<std::complex<double>>& out);
  // Returns the top-band energy ratio of the spectrum v.
  double measure_top_band(const std::vector<std::complex<double>>& v) const;

  double viscosity_;
  BurgersStepping stepping_;
  std::int64_t max_mode_;
  RealFft1d fft_;
  std::vector<StepCoefficients> coefficients_;
  std::vector<std::complex<double>> v_, nv_, a_, na_, b_, nb_, c_, nc_;
};

// Parameters of a Burgers data set. The defaults are the FNO benchmark.
struct BurgersConfig {
  std::int64_t samples = 1100;          // for example 1000 training + 100 test samples
  std::int64_t resolution = 1024;       // S, stored points; must divide fine_resolution
  std::int64_t fine_resolution = 8192;  // n, solver grid
  double viscosity = 0.1;               // nu
  double t_final = 1.0;
  BurgersStepping stepping;             // see the measurements in burgers.cpp
  // Initial condition u0 ~ N(0, sigma^2 (-Laplacian + tau^2 I)^(-gamma)) on [0, 1),
  // drawn on the fine grid with the modes |k| <= (fine_resolution - 1) / 3 that the
  // solver carries, so the stored u0 is the initial condition solved for (up to the
// round-off of the solver's projection onto those modes).
  Grf1dParams initial{.sigma = 25.0, .tau = 5.0, .gamma = 2.0, .length = 1.0};
  std::uint64_t seed = 0;
};

// Throws ValueError naming the field, the value and the fix when a field is out of
// range: samples < 1, resolution < 2, fine_resolution < kBurgersMinGridSize or not a
// multiple of resolution, viscosity or t_final not finite and > 0, invalid stepping or
// initial parameters, initial.length != 1, or a viscosity whose front width nu / (4 sd(u0)) is below
// kBurgersMinFrontResolution fine grid spacings, with sd(u0) the predicted pointwise
// standard deviation of u0 (4 sd is an estimate of max|u0|; each sample is checked
// again with its own max|u0| when it is solved).
void validate(const BurgersConfig& config);

// Called after each finished sample with (completed, total). Calls are serialised but
// may come from any OpenMP thread. An exception from the callback counts as a failure
// of that sample and is rethrown by generate_burgers after the loop.
using BurgersProgress = std::function<void(std::int64_t completed, std::int64_t total)>;

// Generates config.samples pairs (u0, u(., t_final)) in parallel over samples with
// OpenMP. Sample i uses Rng::stream(config.seed, i), so the data set is bitwise the
// same for every thread count.
//
// Result layout (datasets/dataset_file.hpp): inputs [samples, 1, S] = u0 and outputs
// [samples, 1, S] = u(., t_final) at x_j = j / S (fine grid values at every
// (n / S)-th point), grid x in [0, 1 - 1 / S], periodic = true, generator = "burgers",
// seed = config.seed, and the parameters samples, resolution, fine_resolution,
// viscosity, t_final, max_dt, advective_factor, graded_levels, steps_per_level, sigma,
// tau, gamma, scheme, and dt_smallest and dt_largest (the range of the uniform step
// length dt over the samples, which depends on max|u0| through the advective limit).
//
// Throws ValueError from validate(config), and ValueError naming the sample index if
// one u0 fails the front-width check. Throws DataError naming the sample index if a
// solution is not finite or its top-band energy exceeds kBurgersMaxTopBandEnergy. The
// message suggests a larger fine_resolution or viscosity, or a smaller max_dt. So no
// NaN is ever returned. When several samples fail, the error of the lowest index is thrown.
GridDataset generate_burgers(const BurgersConfig& config, const BurgersProgress& progress = {});

}  // namespace neurop::data
