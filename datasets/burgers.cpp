#include "datasets/burgers.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <numbers>
#include <string>

#include "lib/core/error.hpp"
#include "lib/core/random.hpp"

namespace neurop::data {
namespace {

using Spectrum = std::vector<std::complex<double>>;

// Taylor series of the weights. From phi_l(z) = sum_n z^n / (n + l)!,
//   f1 = sum ((n + 2)(n + 3) - 3 (n + 3) + 4) z^n / (n + 3)! = sum (n + 1)^2 z^n / (n + 3)!,
//   f2 = sum ((n + 3) - 2) z^n / (n + 3)!                     = sum (n + 1) z^n / (n + 3)!,
//   f3 = sum (4 - (n + 3)) z^n / (n + 3)!                     = sum (1 - n) z^n / (n + 3)!.
// For |z| < 2 the term n = 30 is below 1e-27 of the sum.
constexpr int kSeriesTerms = 30;
constexpr double kSeriesRadius = 2.0;

// Bound on the number of time steps of one solve, which rejects settings that could
// not finish in reasonable time (1e8 steps take hours even on small grids).
constexpr double kMaxSteps = 1e8;

std::int64_t checked_grid_size(std::int64_t n) {
  NEUROP_CHECK(n >= kBurgersMinGridSize, ValueError,
               "BurgersSolver: grid size must be >= {}, got n = {}; use a finer grid", kBurgersMinGridSize, n);
  return n;
}

// max|u0| estimated as 4 pointwise standard deviations of the initial field on n points,
// truncated to the (n - 1) / 3 modes the solver keeps.
double estimated_max_initial(const BurgersConfig& config, std::int64_t n) {
  return 4.0 * std::sqrt(grf1d_pointwise_variance(n, config.initial, (n - 1) / 3));
}

// Smallest multiple n of config.resolution with a front width nu n / max|u0| of at least
// kBurgersMinFrontResolution grid spacings, searched upward from `start`. The estimated
// max|u0| grows with n (more modes are kept), so the bound
// n >= kBurgersMinFrontResolution max|u0|(n) / nu is recomputed at each candidate. The
// candidates never pass the smallest valid n, because a valid n satisfies the bound for
// the larger estimate at n and so for every smaller candidate's estimate too.
std::int64_t smallest_resolving_fine_resolution(const BurgersConfig& config, std::int64_t start) {
  const auto multiple_at_or_above = [&](double bound) {
    const double steps = std::ceil(bound / static_cast<double>(config.resolution));
    return std::max<std::int64_t>(static_cast<std::int64_t>(steps), 1) * config.resolution;
  };
  std::int64_t n = start;
  // NOTE: a search that has not settled after 64 candidates, or that passes 2^53 points,
  // returns its last candidate, which is still too small.
  for (int candidate = 0; candidate < 64; ++candidate) {
    const double bound = kBurgersMinFrontResolution * estimated_max_initial(config, n) / config.viscosity;
    if (!(bound < 0x1p53)) return n;
    const std::int64_t next = multiple_at_or_above(bound);
    if (next <= n) return n;
    n = next;
  }
  return n;
}

}  // namespace

Etdrk4Weights etdrk4_weights(double z) {
  Etdrk4Weights weights{};
  // phi1(w) = expm1(w) / w has no cancellation: expm1 is accurate to an ulp near 0.
  const double w = 0.5 * z;
  weights.half_phi1 = w == 0.0 ? 1.0 : std::expm1(w) / w;

  if (std::abs(z) < kSeriesRadius) {
    double term = 1.0 / 6.0;  // z^n / (n + 3)!
    double f1 = 0.0, f2 = 0.0, f3 = 0.0;
    for (int n = 0; n < kSeriesTerms; ++n) {
      const double m = static_cast<double>(n);
      f1 += (m + 1.0) * (m + 1.0) * term;
      f2 += (m + 1.0) * term;
      f3 += (1.0 - m) * term;
      term *= z / (m + 4.0);
    }
    weights.f1 = f1;
    weights.f2 = f2;
    weights.f3 = f3;
    return weights;
  }

  // Closed forms. For z <= -2 the terms of each numerator cancel by at most a factor
  // of about 20 (f1 at z = -2), so the relative error stays a few times 1e-15.
  const double ez = std::exp(z);
  const double z3 = z * z * z;
  weights.f1 = (-4.0 - z + ez * (4.0 - 3.0 * z + z * z)) / z3;
  weights.f2 = (2.0 + z + ez * (z - 2.0)) / z3;
  weights.f3 = (-4.0 - 3.0 * z - z * z + ez * (4.0 - z)) / z3;
  return weights;
}

void validate(const BurgersStepping& stepping) {
  NEUROP_CHECK(std::isfinite(stepping.max_dt) && stepping.max_dt > 0.0, ValueError,
               "BurgersStepping: max_dt must be finite and > 0, got {}", stepping.max_dt);
  NEUROP_CHECK(std::isfinite(stepping.advective_factor) && stepping.advective_factor > 0.0, ValueError,
               "BurgersStepping: advective_factor must be finite and > 0, got {}", stepping.advective_factor);
  NEUROP_CHECK(stepping.graded_levels >= 0 && stepping.graded_levels <= 40, ValueError,
               "BurgersStepping: graded_levels must be in [0, 40], got {}", stepping.graded_levels);
  NEUROP_CHECK(stepping.steps_per_level >= 1, ValueError, "BurgersStepping: steps_per_level must be >= 1, got {}",
               stepping.steps_per_level);
}

BurgersSolver::BurgersSolver(std::int64_t n, double viscosity, const BurgersStepping& stepping)
    : viscosity_(viscosity), stepping_(stepping), max_mode_((n - 1) / 3), fft_(checked_grid_size(n)) {
  NEUROP_CHECK(std::isfinite(viscosity) && viscosity > 0.0, ValueError,
               "BurgersSolver: viscosity must be finite and > 0, got {}", viscosity);
  validate(stepping);
  const auto modes = static_cast<std::size_t>(max_mode_ + 1);
  for (auto* spectrum : {&v_, &nv_, &a_, &na_, &b_, &nb_, &c_, &nc_}) spectrum->resize(modes);
}

const BurgersSolver::StepCoefficients& BurgersSolver::coefficients_for(double h) {
  for (const StepCoefficients& step : coefficients_) {
    if (step.h == h) return step;
  }
  StepCoefficients step;
  step.h = h;
  const auto modes = static_cast<std::size_t>(max_mode_ + 1);
  for (auto* values : {&step.decay, &step.half_decay, &step.q, &step.f1, &step.f2, &step.f3}) values->resize(modes);
  for (std::size_t k = 0; k < modes; ++k) {
    // L_k = -nu (2 pi k)^2, z = h L_k
    const double wavenumber = 2.0 * std::numbers::pi * static_cast<double>(k);
    const double z = -h * viscosity_ * wavenumber * wavenumber;
    const Etdrk4Weights weights = etdrk4_weights(z);
    step.decay[k] = std::exp(z);
    step.half_decay[k] = std::exp(0.5 * z);
    step.q[k] = 0.5 * h * weights.half_phi1;
    step.f1[k] = h * weights.f1;
    step.f2[k] = h * weights.f2;
    step.f3[k] = h * weights.f3;
  }
  coefficients_.push_back(std::move(step));
  return coefficients_.back();
}

void BurgersSolver::take_step(const StepCoefficients& step) {
  const auto modes = static_cast<std::size_t>(max_mode_ + 1);
  // a = E2 v + Q N(v)
  evaluate_nonlinear(v_, nv_);
  for (std::size_t k = 0; k < modes; ++k) a_[k] = step.half_decay[k] * v_[k] + step.q[k] * nv_[k];
  // b = E2 v + Q N(a)
  evaluate_nonlinear(a_, na_);
  for (std::size_t k = 0; k < modes; ++k) b_[k] = step.half_decay[k] * v_[k] + step.q[k] * na_[k];
  // c = E2 a + Q (2 N(b) - N(v))
  evaluate_nonlinear(b_, nb_);
  for (std::size_t k = 0; k < modes; ++k) c_[k] = step.half_decay[k] * a_[k] + step.q[k] * (2.0 * nb_[k] - nv_[k]);
  // v <- E v + f1 N(v) + 2 f2 (N(a) + N(b)) + f3 N(c)
  evaluate_nonlinear(c_, nc_);
  for (std::size_t k = 0; k < modes; ++k) {
    v_[k] = step.decay[k] * v_[k] + step.f1[k] * nv_[k] + 2.0 * step.f2[k] * (na_[k] + nb_[k]) + step.f3[k] * nc_[k];
  }
}

void BurgersSolver::evaluate_nonlinear(const Spectrum& v, Spectrum& out) {
  const auto n = static_cast<std::size_t>(size());
  const auto modes = static_cast<std::size_t>(max_mode_ + 1);
  std::complex<double>* spectrum = fft_.spectrum_data();
  double* values = fft_.real_data();

  // [K + 1] -> [n/2 + 1] with zeros above K -> [n]: n u_j.
  std::copy(v.begin(), v.end(), spectrum);
  std::fill(spectrum + modes, spectrum + n / 2 + 1, std::complex<double>(0.0));
  fft_.inverse();

  // u_j^2 = (n u_j)^2 / n^2
  const double scale = 1.0 / (static_cast<double>(n) * static_cast<double>(n));
  for (std::size_t j = 0; j < n; ++j) values[j] = scale * values[j] * values[j];

  // [n] -> [n/2 + 1]; -(u^2 / 2)_x has coefficients -(i 2 pi k / 2) F[u^2]_k, kept for k <= K.
  fft_.forward();
  for (std::size_t k = 0; k < modes; ++k) {
    out[k] = std::complex<double>(0.0, -std::numbers::pi * static_cast<double>(k)) * spectrum[k];
  }
}

double BurgersSolver::measure_top_band(const Spectrum& v) const {
  // Ratio of sum_{2K/3 < k <= K} |v_k|^2 to sum_{0 <= k <= K} |v_k|^2.
  const std::int64_t band_start = 2 * max_mode_ / 3 + 1;
  double band = 0.0, total = 0.0;
  for (std::int64_t k = 0; k <= max_mode_; ++k) {
    const double energy = std::norm(v[static_cast<std::size_t>(k)]);
    total += energy;
    if (k >= band_start) band += energy;
  }
  return total > 0.0 ? band / total : 0.0;
}

// Choice of the default schedule, measured against the exact Cole-Hopf solution
// (evaluated with FFTs as in tests/datasets/burgers_test.cpp) for samples 0..29 of the
// default data set (nu = 0.1, n = 8192, t = 1); relative L2 error of u(., 1):
//   uniform steps (sample 0)     dt = 1/64: 4.6e-6   1/128: 5.2e-7   1/256: 4.7e-8
//   graded start, m = 8, s = 4   max_dt = 1/32 (64 steps):   mean 2.4e-7, max 4.9e-7
//                                max_dt = 1/64 (96 steps):   mean 5.8e-8, max 2.0e-7
//                                max_dt = 1/128 (160 steps): mean 1.2e-8, max 4.5e-8
// Uniform steps show an observed order of only 3 to 3.5 here because the error comes
// from the first steps, where the rough u0 is smoothed. Solving only [0, 1/16] with steps of 1/4096
// cut the error of dt = 1/64 from 4.6e-6 to 1.6e-8, which the graded start reproduces
// at the cost of 32 extra steps. max_dt = 1/128 keeps the data error more than 200
// times below 1e-5 for 160 steps of 8 real FFTs of length 8192 each.
// The advective limit was checked with n = 8192 and the same u0: nu = 0.01 gave errors
// of 2e-8 (245 steps, sample 0) and 7e-7 (73 steps, sample 1) against Cole-Hopf. For
// nu = 0.001, where fixed steps of 1/128 and 1/256 blew up, it gave 2155 and 440 steps
// and errors of 3e-10 and 2e-7 against a solve with max_dt = 1/8192.
BurgersStatus BurgersSolver::solve(std::span<double> u, double t_final) {
  const auto n = static_cast<std::size_t>(size());
  const auto modes = static_cast<std::size_t>(max_mode_ + 1);
  NEUROP_CHECK(u.size() == n, ShapeError, "BurgersSolver::solve: u must hold n = {} values, got {}", n, u.size());
  NEUROP_CHECK(std::isfinite(t_final) && t_final > 0.0, ValueError,
               "BurgersSolver::solve: t_final must be finite and > 0, got {}", t_final);
  double max_abs = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    NEUROP_CHECK(std::isfinite(u[j]), ValueError, "BurgersSolver::solve: initial value u[{}] = {} is not finite", j,
                 u[j]);
    max_abs = std::max(max_abs, std::abs(u[j]));
  }
  // Front width nu / max|u| in grid spacings 1 / n.
  const double front_resolution = viscosity_ * static_cast<double>(n) / max_abs;
  NEUROP_CHECK(front_resolution >= kBurgersMinFrontResolution, ValueError,
               "BurgersSolver::solve: viscosity {} and max|u0| = {} give a front width nu / max|u0| of {:.3g} grid "
               "spacings on n = {} points, below the minimum {}; use n >= {} or viscosity >= {:.3g}",
               viscosity_, max_abs, front_resolution, n, kBurgersMinFrontResolution,
               static_cast<std::int64_t>(std::ceil(kBurgersMinFrontResolution * max_abs / viscosity_)),
               kBurgersMinFrontResolution * max_abs / static_cast<double>(n));

  // Schedule (see BurgersStepping): M = uniform steps of dt, the first s of them
  // replaced by the graded steps, which also sum to s dt.
  double target = stepping_.max_dt;
  if (max_abs > 0.0) target = std::min(target, stepping_.advective_factor * viscosity_ / (max_abs * max_abs));
  NEUROP_CHECK(t_final / target <= kMaxSteps, ValueError,
               "BurgersSolver::solve: t_final = {} with step {:.3g} (max_dt {}, advective limit {} nu / max|u0|^2 "
               "with max|u0| = {}) needs more than {:g} steps; use a shorter t_final, a smaller max|u0| or a larger "
               "viscosity",
               t_final, target, stepping_.max_dt, stepping_.advective_factor, max_abs, kMaxSteps);
  const auto uniform =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(t_final / target * (1.0 - 1e-12))));
  BurgersStatus status;
  status.dt = t_final / static_cast<double>(uniform);
  const std::int64_t per_level = std::min<std::int64_t>(stepping_.steps_per_level, uniform);
  const int levels = stepping_.graded_levels;
  std::vector<double> schedule;
  if (levels > 0) {
    // [0, s dt / 2^m] in s steps of dt / 2^m, then [s dt / 2^l, s dt / 2^(l-1)] in s steps of dt / 2^l.
    schedule.assign(static_cast<std::size_t>(per_level), std::ldexp(status.dt, -levels));
    for (int level = levels; level >= 1; --level) {
      schedule.insert(schedule.end(), static_cast<std::size_t>(per_level), std::ldexp(status.dt, -level));
    }
  }
  const auto graded_steps = static_cast<std::int64_t>(schedule.size());
  schedule.insert(schedule.end(), static_cast<std::size_t>(uniform - (levels > 0 ? per_level : 0)), status.dt);
  status.steps = static_cast<std::int64_t>(schedule.size());

  // Coefficients of an earlier t_final with another dt are dropped, so the cache stores
  // at most graded_levels + 1 step lengths.
  if (std::none_of(coefficients_.begin(), coefficients_.end(),
                   [&](const StepCoefficients& step) { return step.h == status.dt; })) {
    coefficients_.clear();
  }

  // u0 -> v = F[u0] restricted to k <= K.
  std::copy(u.begin(), u.end(), fft_.real_data());
  fft_.forward();
  std::copy(fft_.spectrum_data(), fft_.spectrum_data() + modes, v_.begin());

  for (std::int64_t step = 0; step < status.steps; ++step) {
    take_step(coefficients_for(schedule[static_cast<std::size_t>(step)]));
    if (step + 1 < graded_steps) continue;
    const double top_band = measure_top_band(v_);
    if (!std::isfinite(top_band)) {
      // The energy overflowed or became NaN: the solution blew up.
      status.finite = false;
      status.top_band_energy = std::numeric_limits<double>::infinity();
      break;
    }
    status.top_band_energy = std::max(status.top_band_energy, top_band);
  }

  // [K + 1] -> [n]: u_j = (1 / n) inverse(v)_j.
  std::copy(v_.begin(), v_.end(), fft_.spectrum_data());
  std::fill(fft_.spectrum_data() + modes, fft_.spectrum_data() + n / 2 + 1, std::complex<double>(0.0));
  fft_.inverse();
  const double inverse_n = 1.0 / static_cast<double>(n);
  for (std::size_t j = 0; j < n; ++j) {
    u[j] = inverse_n * fft_.real_data()[j];
    if (!std::isfinite(u[j])) status.finite = false;
  }
  return status;
}

void validate(const BurgersConfig& config) {
  NEUROP_CHECK(config.samples >= 1, ValueError, "BurgersConfig: samples must be >= 1, got {}", config.samples);
  NEUROP_CHECK(config.resolution >= 2, ValueError, "BurgersConfig: resolution must be >= 2, got {}",
               config.resolution);
  NEUROP_CHECK(config.fine_resolution >= kBurgersMinGridSize, ValueError,
               "BurgersConfig: fine_resolution must be >= {}, got {}", kBurgersMinGridSize, config.fine_resolution);
  NEUROP_CHECK(config.fine_resolution % config.resolution == 0, ValueError,
               "BurgersConfig: resolution {} does not divide fine_resolution {}, so the stored grid would not be a "
               "subset of the solver grid; choose a resolution that divides {} (for example a power of 2)",
               config.resolution, config.fine_resolution, config.fine_resolution);
  NEUROP_CHECK(std::isfinite(config.viscosity) && config.viscosity > 0.0, ValueError,
               "BurgersConfig: viscosity must be finite and > 0, got {}", config.viscosity);
  NEUROP_CHECK(std::isfinite(config.t_final) && config.t_final > 0.0, ValueError,
               "BurgersConfig: t_final must be finite and > 0, got {}", config.t_final);
  validate(config.stepping);
  validate(config.initial);
  NEUROP_CHECK(config.initial.length == 1.0, ValueError,
               "BurgersConfig: initial.length must be 1 because the Burgers domain is [0, 1), got {}",
               config.initial.length);

  const std::int64_t n = config.fine_resolution;
  const double estimated_max = estimated_max_initial(config, n);
  if (estimated_max == 0.0) return;
  const double front_resolution = config.viscosity * static_cast<double>(n) / estimated_max;
  if (front_resolution >= kBurgersMinFrontResolution) return;
  throw ValueError(fmt::format(
      "BurgersConfig: viscosity {} and the estimated max|u0| = {:.3g} (4 standard deviations) give a front width "
      "nu / max|u0| of {:.3g} grid spacings on fine_resolution = {}, below the minimum {}; use fine_resolution = {} "
      "(the smallest multiple of resolution {} that resolves the front, or a larger multiple) or viscosity >= "
      "{:.3g}",
      config.viscosity, estimated_max, front_resolution, n, kBurgersMinFrontResolution,
      smallest_resolving_fine_resolution(config, n), config.resolution,
      kBurgersMinFrontResolution * estimated_max / static_cast<double>(n)));
}

namespace {

// Returns a data set with the layout, grid and parameters of `config` and zeroed arrays.
GridDataset allocate_burgers_dataset(const BurgersConfig& config) {
  const std::int64_t samples = config.samples;
  const std::int64_t resolution = config.resolution;
  GridDataset dataset;
  dataset.generator = "burgers";
  dataset.spatial_dims = 1;
  dataset.periodic = true;
  dataset.seed = config.seed;
  dataset.input_shape = {samples, 1, resolution};
  dataset.output_shape = {samples, 1, resolution};
  dataset.inputs.resize(static_cast<std::size_t>(samples * resolution));
  dataset.outputs.resize(static_cast<std::size_t>(samples * resolution));
  dataset.grid = {periodic_grid(resolution, 1.0)};
  dataset.parameters = {
      {"samples", samples},
      {"resolution", resolution},
      {"fine_resolution", config.fine_resolution},
      {"viscosity", config.viscosity},
      {"t_final", config.t_final},
      {"max_dt", config.stepping.max_dt},
      {"advective_factor", config.stepping.advective_factor},
      {"graded_levels", static_cast<std::int64_t>(config.stepping.graded_levels)},
      {"steps_per_level", static_cast<std::int64_t>(config.stepping.steps_per_level)},
      {"sigma", config.initial.sigma},
      {"tau", config.initial.tau},
      {"gamma", config.initial.gamma},
      {"scheme", std::string("fourier-pseudospectral-2/3-dealiased-etdrk4")},
  };
  return dataset;
}

// Draws u0 for sample i, solves it and stores both at every stride-th fine point of
// the sample's rows. Returns the uniform step length used. u is the fine-grid buffer.
double generate_burgers_sample(const BurgersConfig& config, std::int64_t i, Grf1dSampler& sampler,
                               BurgersSolver& solver, std::vector<double>& u, GridDataset& dataset) {
  const std::int64_t n = config.fine_resolution;
  const std::int64_t resolution = config.resolution;
  const std::int64_t stride = n / resolution;
  const auto row = static_cast<std::size_t>(i * resolution);

  Rng rng = Rng::stream(config.seed, static_cast<std::uint64_t>(i));
  sampler.sample(rng, u);
  // [n] -> [S]
  for (std::int64_t j = 0; j < resolution; ++j) {
    dataset.inputs[row + static_cast<std::size_t>(j)] = u[static_cast<std::size_t>(j * stride)];
  }

  BurgersStatus status;
  try {
    status = solver.solve(u, config.t_final);
  } catch (const ValueError& error) {
    throw ValueError(fmt::format("generate_burgers: sample {}: {}", i, error.what()));
  }
  NEUROP_CHECK(status.finite, DataError,
               "generate_burgers: sample {} is not finite at t = {} (viscosity {}, fine_resolution {}, dt {}); use a "
               "smaller stepping.max_dt or advective_factor, a larger fine_resolution or a larger viscosity",
               i, config.t_final, config.viscosity, n, status.dt);
  NEUROP_CHECK(status.top_band_energy <= kBurgersMaxTopBandEnergy, DataError,
               "generate_burgers: sample {} is not resolved: the energy ratio {:.3g} in the top third of the "
               "dealiased modes exceeds {} (viscosity {}, fine_resolution {}); use a larger fine_resolution or a "
               "larger viscosity",
               i, status.top_band_energy, kBurgersMaxTopBandEnergy, config.viscosity, n);
  for (std::int64_t j = 0; j < resolution; ++j) {
    dataset.outputs[row + static_cast<std::size_t>(j)] = u[static_cast<std::size_t>(j * stride)];
  }
  return status.dt;
}

}  // namespace

GridDataset generate_burgers(const BurgersConfig& config, const BurgersProgress& progress) {
  validate(config);
  const std::int64_t samples = config.samples;
  const std::int64_t n = config.fine_resolution;
  GridDataset dataset = allocate_burgers_dataset(config);
  // Uniform step length of each sample, which depends on its max|u0|.
  std::vector<double> sample_dt(static_cast<std::size_t>(samples), 0.0);

  // The failure of the lowest sample index wins. Samples above a recorded failure are
  // skipped, samples below it still run, so the error thrown does not depend on the
  // thread count.
  std::mutex failure_mutex;
  std::atomic<std::int64_t> failure_index{samples};
  std::exception_ptr failure;
  auto record_failure = [&](std::int64_t index, std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(failure_mutex);
    if (index < failure_index.load()) {
      failure_index.store(index);
      failure = std::move(error);
    }
  };
  std::int64_t completed = 0;

  // Every thread works on copies of these, which share their FFTW plans, so all
  // samples go through the same plans whatever the thread count.
  const Grf1dSampler sampler_prototype(n, config.initial, (n - 1) / 3);
  const BurgersSolver solver_prototype(n, config.viscosity, config.stepping);

#pragma omp parallel
  {
    // One sampler, solver and fine-grid buffer per thread, made on first use inside the
    // try block because no exception may leave the parallel region.
    std::unique_ptr<Grf1dSampler> sampler;
    std::unique_ptr<BurgersSolver> solver;
    std::vector<double> u;

#pragma omp for schedule(dynamic)
    for (std::int64_t i = 0; i < samples; ++i) {
      if (i > failure_index.load()) continue;
      try {
        if (!solver) {
          sampler = std::make_unique<Grf1dSampler>(sampler_prototype);
          solver = std::make_unique<BurgersSolver>(solver_prototype);
          u.resize(static_cast<std::size_t>(n));
        }
        sample_dt[static_cast<std::size_t>(i)] = generate_burgers_sample(config, i, *sampler, *solver, u, dataset);
        if (progress) {
          // No exception may leave a critical section, so a throwing callback is rethrown after it.
          std::exception_ptr progress_error;
#pragma omp critical(neurop_burgers_progress)
          {
            try {
              progress(++completed, samples);
            } catch (...) {
              progress_error = std::current_exception();
            }
          }
          if (progress_error) std::rethrow_exception(progress_error);
        }
      } catch (...) {
        record_failure(i, std::current_exception());
      }
    }
  }

  if (failure) std::rethrow_exception(failure);
  const auto [smallest, largest] = std::minmax_element(sample_dt.begin(), sample_dt.end());
  dataset.parameters["dt_smallest"] = *smallest;
  dataset.parameters["dt_largest"] = *largest;
  return dataset;
}

}  // namespace neurop::data
