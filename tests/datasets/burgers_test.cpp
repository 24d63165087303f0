// Tests of the Burgers solver and generator against the exact Cole-Hopf solution.
//
// Cole-Hopf: if phi > 0 solves the heat equation phi_t = nu phi_xx, then
// u = -2 nu phi_x / phi solves u_t + u u_x = nu u_xx. The initial value follows from
// phi0 = exp(-(1 / (2 nu)) integral_0^x u0). For u0 = sin(2 pi x) the integral is
// (1 - cos(2 pi x)) / (2 pi); dropping the constant factor exp(-1 / (4 pi nu)),
//   phi0(x) = exp(z cos(2 pi x)),  z = 1 / (4 pi nu).
// The generating function of the modified Bessel functions,
//   exp(z cos theta) = I_0(z) + 2 sum_{k>=1} I_k(z) cos(k theta),
// gives the Fourier series of phi0, and each mode of the heat equation decays by
// exp(-nu (2 pi k)^2 t):
//   phi(x, t)   = I_0(z) + 2 sum_k I_k(z) exp(-4 pi^2 nu k^2 t) cos(2 pi k x),
//   phi_x(x, t) = -4 pi sum_k k I_k(z) exp(-4 pi^2 nu k^2 t) sin(2 pi k x),
//   u(x, t)     = 8 pi nu sum_k k r_k sin(2 pi k x) / (1 + 2 sum_k r_k cos(2 pi k x)),
// with r_k = I_k(z) / I_0(z) exp(-4 pi^2 nu k^2 t). At t = 0 and small z, I_1(z) ~ z / 2
// recovers u = sin(2 pi x).
//
// For a general zero-mean u0 (a GRF sample) the same transform is evaluated with FFTs:
// U = integral of u0 from its Fourier coefficients U_k = u_k / (2 pi i k),
// phi0 = exp(-U / (2 nu)) on a finer grid, and phi, phi_x from the decayed modes.
#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <complex>
#include <cstdint>
#include <filesystem>
#include <numbers>
#include <vector>

#include <doctest/doctest.h>

#include "datasets/burgers.hpp"
#include "datasets/dataset_file.hpp"
#include "datasets/grf1d.hpp"
#include "lib/core/error.hpp"
#include "lib/core/random.hpp"
#include "lib/core/threads.hpp"
#include "lib/io/hdf5.hpp"
#include "tests/support/check.hpp"

namespace fs = std::filesystem;
using namespace neurop;
using namespace neurop::data;
using neurop::testing::kF64Tight;
using neurop::testing::Tolerance;

namespace {

constexpr double kPi = std::numbers::pi;

// Exact solution at x_j = j / n for u0 = sin(2 pi x), from the Bessel series above.
std::vector<double> cole_hopf_sine(std::int64_t n, double nu, double t) {
  const double z = 1.0 / (4.0 * kPi * nu);
  const double i0 = std::cyl_bessel_i(0.0, z);
  std::vector<double> ratios;  // r_k for k = 1, 2, ...
  for (int k = 1; k <= 400; ++k) {
    const double ratio = std::cyl_bessel_i(static_cast<double>(k), z) / i0 *
                         std::exp(-4.0 * kPi * kPi * nu * static_cast<double>(k * k) * t);
    if (ratio < 1e-30) break;
    ratios.push_back(ratio);
  }
  std::vector<double> u(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    double numerator = 0.0, denominator = 1.0;
    for (std::size_t k = 1; k <= ratios.size(); ++k) {
      // (k j) mod n keeps the angle below 2 pi.
      const std::int64_t phase = (static_cast<std::int64_t>(k) * j) % n;
      const double angle = 2.0 * kPi * static_cast<double>(phase) / static_cast<double>(n);
      numerator += static_cast<double>(k) * ratios[k - 1] * std::sin(angle);
      denominator += 2.0 * ratios[k - 1] * std::cos(angle);
    }
    u[static_cast<std::size_t>(j)] = 8.0 * kPi * nu * numerator / denominator;
  }
  return u;
}

// Exact solution at time t for a zero-mean u0 given on n points with no mode at or
// above n / 2, evaluated on the same points. phi0 is sampled on pad * n points so
// that its aliasing error is negligible.
std::vector<double> cole_hopf_fft(const std::vector<double>& u0, double nu, double t, std::int64_t pad) {
  const auto n = static_cast<std::int64_t>(u0.size());
  const std::int64_t m = pad * n;
  RealFft1d coarse(n), fine(m);

  // U = integral u0: U_k = u_k / (2 pi i k), moved to the m-point DFT (factor m / n).
  std::copy(u0.begin(), u0.end(), coarse.real_data());
  coarse.forward();
  std::complex<double>* spectrum = fine.spectrum_data();
  std::fill(spectrum, spectrum + m / 2 + 1, std::complex<double>(0.0));
  for (std::int64_t k = 1; k < n / 2; ++k) {
    spectrum[k] = coarse.spectrum_data()[k] / std::complex<double>(0.0, 2.0 * kPi * static_cast<double>(k)) *
                  (static_cast<double>(m) / static_cast<double>(n));
  }
  fine.inverse();

  // phi0 = exp(-U / (2 nu)), then phi_k(t) = phi0_k exp(-nu (2 pi k)^2 t).
  for (std::int64_t j = 0; j < m; ++j) {
    fine.real_data()[j] = std::exp(-fine.real_data()[j] / static_cast<double>(m) / (2.0 * nu));
  }
  fine.forward();
  std::vector<std::complex<double>> phi_hat(static_cast<std::size_t>(m / 2 + 1));
  for (std::int64_t k = 0; k < m / 2; ++k) {
    const double wavenumber = 2.0 * kPi * static_cast<double>(k);
    phi_hat[static_cast<std::size_t>(k)] = spectrum[k] * std::exp(-nu * wavenumber * wavenumber * t);
  }

  std::copy(phi_hat.begin(), phi_hat.end(), spectrum);
  fine.inverse();
  const std::vector<double> phi(fine.real_data(), fine.real_data() + m);
  for (std::int64_t k = 0; k <= m / 2; ++k) {
    spectrum[k] = phi_hat[static_cast<std::size_t>(k)] * std::complex<double>(0.0, 2.0 * kPi * static_cast<double>(k));
  }
  fine.inverse();
  std::vector<double> u(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    // Both inverse transforms carry the same factor m, which cancels in phi_x / phi.
    u[static_cast<std::size_t>(j)] = -2.0 * nu * fine.real_data()[j * pad] / phi[static_cast<std::size_t>(j * pad)];
  }
  return u;
}

std::vector<double> sine(std::int64_t n) {
  std::vector<double> u(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    u[static_cast<std::size_t>(j)] = std::sin(2.0 * kPi * static_cast<double>(j) / static_cast<double>(n));
  }
  return u;
}

// ||a - b||_2 / ||b||_2 over the grid values.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double error = 0.0, norm = 0.0;
  for (std::size_t j = 0; j < a.size(); ++j) {
    error += (a[j] - b[j]) * (a[j] - b[j]);
    norm += b[j] * b[j];
  }
  return std::sqrt(error / norm);
}

// Uniform steps of dt with no graded start and no advective limit.
BurgersStepping uniform_steps(double dt) {
  return BurgersStepping{.max_dt = dt, .advective_factor = 1e9, .graded_levels = 0, .steps_per_level = 1};
}

// Solves from u0 = sin(2 pi x) and returns the relative error at time t.
double sine_error(std::int64_t n, double nu, double t, const BurgersStepping& stepping) {
  BurgersSolver solver(n, nu, stepping);
  std::vector<double> u = sine(n);
  const BurgersStatus status = solver.solve(u, t);
  REQUIRE(status.finite);
  return relative_error(u, cole_hopf_sine(n, nu, t));
}

// Contour-integral evaluation of f at z (Kassam and Trefethen 2005): the mean of f over
// 64 points of the circle of radius 1 around z, in long double. Exact up to round-off
// because f is entire, and free of the cancellation of the closed forms near 0.
template <typename F>
double contour_mean(F f, double z) {
  constexpr int kPoints = 64;
  std::complex<long double> sum = 0.0L;
  for (int p = 0; p < kPoints; ++p) {
    const long double theta = 2.0L * std::numbers::pi_v<long double> * (static_cast<long double>(p) + 0.5L) / kPoints;
    sum += f(std::complex<long double>(z) + std::polar(1.0L, theta));
  }
  return static_cast<double>((sum / static_cast<long double>(kPoints)).real());
}

GridDataset small_dataset(std::int64_t samples) {
  BurgersConfig config;
  config.samples = samples;
  config.fine_resolution = 256;
  config.resolution = 64;
  config.seed = 17;
  return generate_burgers(config);
}

fs::path scratch_file(const std::string& name) {
  const fs::path folder = fs::temp_directory_path() / fmt::format("neurop-burgers-test-{}", ::getpid());
  fs::create_directories(folder);
  return folder / name;
}

}  // namespace

TEST_CASE("ETDRK4 weights match contour integrals") {
  using Complex = std::complex<long double>;
  const auto phi1_half = [](Complex r) { return (std::exp(r / 2.0L) - 1.0L) / (r / 2.0L); };
  const auto f1 = [](Complex r) { return (-4.0L - r + std::exp(r) * (4.0L - 3.0L * r + r * r)) / (r * r * r); };
  const auto f2 = [](Complex r) { return (2.0L + r + std::exp(r) * (r - 2.0L)) / (r * r * r); };
  const auto f3 = [](Complex r) { return (-4.0L - 3.0L * r - r * r + std::exp(r) * (4.0L - r)) / (r * r * r); };
  // A few ulps of the larger terms of each formula.
  const Tolerance weights_tolerance{1e-16, 1e-14};
  for (const double z : {0.0, -1e-9, -0.3, -1.0, -1.99, -2.01, -3.5, -4.5, -10.0, -60.0, -1e3, -1e6}) {
    CAPTURE(z);
    const Etdrk4Weights weights = etdrk4_weights(z);
    CHECK_CLOSE(weights.half_phi1, contour_mean(phi1_half, z), weights_tolerance);
    CHECK_CLOSE(weights.f1, contour_mean(f1, z), weights_tolerance);
    CHECK_CLOSE(weights.f2, contour_mean(f2, z), weights_tolerance);
    CHECK_CLOSE(weights.f3, contour_mean(f3, z), weights_tolerance);
  }
  // Limits at z = 0: phi1 = 1, f1 = 1/6, f2 = 1/6, f3 = 1/6.
  const Etdrk4Weights at_zero = etdrk4_weights(0.0);
  CHECK_CLOSE(at_zero.half_phi1, 1.0, kF64Tight);
  CHECK_CLOSE(at_zero.f1, 1.0 / 6.0, kF64Tight);
  CHECK_CLOSE(at_zero.f2, 1.0 / 6.0, kF64Tight);
  CHECK_CLOSE(at_zero.f3, 1.0 / 6.0, kF64Tight);
}

TEST_CASE("Burgers matches Cole-Hopf for a sine") {
  // n = 128 (nu = 0.1) and n = 512 (nu = 0.01) resolve the solution to round-off, and
  // ETDRK4 with dt = 1/640 has a time error near 1e-10 (fourth order, see below).
  struct Case {
    double nu;
    std::int64_t n;
  };
  for (const Case c : {Case{0.1, 128}, Case{0.01, 512}}) {
    for (const double t : {0.25, 1.0}) {
      CAPTURE(c.nu);
      CAPTURE(t);
      const double error = sine_error(c.n, c.nu, t, uniform_steps(1.0 / 640.0));
      MESSAGE("nu = ", c.nu, ", t = ", t, ": relative L2 error ", error);
      CHECK(error < 1e-8);
    }
  }
  // The default schedule (graded start, max_dt = 1/128) on the same problems.
  for (const Case c : {Case{0.1, 128}, Case{0.01, 512}}) {
    const double error = sine_error(c.n, c.nu, 1.0, BurgersStepping{});
    MESSAGE("default stepping, nu = ", c.nu, ": relative L2 error at t = 1 ", error);
    CHECK(error < 1e-7);
  }
}

TEST_CASE("ETDRK4 converges with fourth order in time") {
  // Space error is at round-off on these grids, so halving dt shows the time order.
  // The errors are measured at t = 0.25, where dt = 1/80 to 1/640 is in the
  // asymptotic range and above round-off.
  struct Case {
    double nu;
    std::int64_t n;
    bool graded;
  };
  for (const Case c : {Case{0.1, 128, false}, Case{0.02, 256, false}, Case{0.02, 256, true}}) {
    std::vector<double> errors;
    for (const double dt : {1.0 / 80.0, 1.0 / 160.0, 1.0 / 320.0, 1.0 / 640.0}) {
      BurgersStepping stepping = c.graded ? BurgersStepping{} : uniform_steps(dt);
      stepping.max_dt = dt;
      errors.push_back(sine_error(c.n, c.nu, 0.25, stepping));
    }
    for (std::size_t i = 1; i < errors.size(); ++i) {
      const double order = std::log2(errors[i - 1] / errors[i]);
      MESSAGE("nu = ", c.nu, ", graded = ", c.graded, ": error ", errors[i], ", observed order ", order);
      CAPTURE(c.nu);
      CAPTURE(c.graded);
      CHECK(order > 3.7);
      CHECK(order < 4.3);
    }
  }
}

TEST_CASE("Burgers converges spectrally in space") {
  // With nu = 0.02 the Fourier coefficients of the solution decay like exp(-a k), so
  // each 16 more points (5 more carried modes) must cut the error by about the same
  // factor. An algebraic rate p would give factors (n + 16)^p / n^p that shrink as n
  // grows. dt = 1/5120 keeps the time error near 1e-13.
  std::vector<double> errors;
  const std::vector<std::int64_t> grids = {112, 128, 144, 160, 176};
  for (const std::int64_t n : grids) errors.push_back(sine_error(n, 0.02, 0.25, uniform_steps(1.0 / 5120.0)));
  std::vector<double> reductions;
  for (std::size_t i = 1; i < errors.size(); ++i) {
    reductions.push_back(errors[i - 1] / errors[i]);
    MESSAGE("n = ", grids[i], ": error ", errors[i], ", reduction ", reductions.back());
    CHECK(reductions.back() > 8.0);
  }
  CHECK(reductions.back() > 0.7 * reductions.front());
  CHECK(errors.back() < 1e-11);
}

TEST_CASE("Burgers matches Cole-Hopf for GRF data") {
  // Default settings of the benchmark (u0 ~ N(0, 625 (-Laplacian + 25 I)^(-2)), nu = 0.1,
  // 8192 points, default stepping). The data must be far more accurate than the 1e-5
  // relative error that a learned model could resolve.
  const BurgersConfig config;
  const std::int64_t n = config.fine_resolution;
  Grf1dSampler sampler(n, config.initial, (n - 1) / 3);
  BurgersSolver solver(n, config.viscosity, config.stepping);
  for (std::uint64_t i = 0; i < 2; ++i) {
    Rng rng = Rng::stream(config.seed, i);
    std::vector<double> u = sampler.sample(rng);
    const std::vector<double> exact = cole_hopf_fft(u, config.viscosity, config.t_final, 8);
    const BurgersStatus status = solver.solve(u, config.t_final);
    REQUIRE(status.finite);
    const double error = relative_error(u, exact);
    MESSAGE("sample ", i, ": ", status.steps, " steps, relative L2 error ", error);
    CHECK(error < 1e-7);
  }
}

TEST_CASE("Burgers rejects unresolvable settings") {
  CHECK_THROWS_AS(BurgersSolver(8, 0.1), ValueError);
  CHECK_THROWS_AS(BurgersSolver(64, 0.0), ValueError);
  CHECK_THROWS_AS(BurgersSolver(64, 0.1, BurgersStepping{.max_dt = -1.0}), ValueError);
  CHECK_THROWS_AS(BurgersSolver(64, 0.1, BurgersStepping{.steps_per_level = 0}), ValueError);

  BurgersSolver solver(64, 0.001);
  std::vector<double> u = sine(64);
  CHECK_THROWS_AS(solver.solve(u, 0.0), ValueError);
  CHECK_THROWS_AS(solver.solve(u, std::nan("")), ValueError);
  // Front width nu / max|u0| = 0.001 is 0.064 grid spacings on 64 points.
  CHECK_THROWS_WITH_AS(solver.solve(u, 1.0), doctest::Contains("viscosity 0.001"), ValueError);
  std::vector<double> short_u(63, 0.0);
  CHECK_THROWS_AS(solver.solve(short_u, 1.0), ShapeError);

  BurgersConfig config;
  config.samples = 2;
  config.fine_resolution = 256;
  config.resolution = 96;
  CHECK_THROWS_WITH_AS(validate(config), doctest::Contains("does not divide"), ValueError);
  config.resolution = 64;
  config.t_final = 0.0;
  CHECK_THROWS_AS(validate(config), ValueError);
  config.t_final = 1.0;
  config.fine_resolution = 8;
  config.resolution = 8;
  CHECK_THROWS_AS(validate(config), ValueError);
  config.fine_resolution = 256;
  config.resolution = 64;
  config.viscosity = 1e-3;
  CHECK_THROWS_WITH_AS(validate(config), doctest::Contains("front width"), ValueError);
  CHECK_THROWS_AS(generate_burgers(config), ValueError);
}

TEST_CASE("Burgers reports unstable samples") {
  // Steps 50 times above the advective limit blow up; the generator must throw a
  // DataError that names the sample instead of writing NaN.
  BurgersConfig config;
  config.samples = 3;
  config.fine_resolution = 1024;
  config.resolution = 64;
  config.viscosity = 0.01;
  config.stepping = BurgersStepping{.max_dt = 0.25, .advective_factor = 1e9, .graded_levels = 0, .steps_per_level = 1};
  CHECK_THROWS_WITH_AS(generate_burgers(config), doctest::Contains("sample 0"), DataError);
}

TEST_CASE("Burgers reports unresolved samples") {
  // White noise (gamma = 0) of tiny amplitude passes the front-width check, but with
  // nu = 1e-6 diffusion leaves most of its energy in the top band until t = 1.
  BurgersConfig config;
  config.samples = 2;
  config.fine_resolution = 256;
  config.resolution = 64;
  config.viscosity = 1e-6;
  config.initial = Grf1dParams{.sigma = 1e-6, .tau = 1.0, .gamma = 0.0, .length = 1.0};
  CHECK_NOTHROW(validate(config));
  CHECK_THROWS_WITH_AS(generate_burgers(config), doctest::Contains("sample 0 is not resolved"), DataError);

  // The solver itself reports the ratio: one mode in the top band carries all the energy.
  BurgersSolver solver(256, 1e-6);
  std::vector<double> u(256);
  for (std::size_t j = 0; j < u.size(); ++j) u[j] = 1e-6 * std::cos(2.0 * kPi * 80.0 * static_cast<double>(j) / 256.0);
  const BurgersStatus status = solver.solve(u, 1.0);
  CHECK(status.finite);
  CHECK(status.top_band_energy > 0.99);
}

TEST_CASE("Burgers data do not depend on thread count") {
  const int threads_before = num_threads();
  set_num_threads(1);
  const GridDataset one_thread = small_dataset(6);
  set_num_threads(2);
  const GridDataset two_threads = small_dataset(6);
  set_num_threads(threads_before);
  CHECK(one_thread.inputs == two_threads.inputs);
  CHECK(one_thread.outputs == two_threads.outputs);

  // Sample i depends only on (seed, i), not on how many samples are generated.
  const GridDataset fewer = small_dataset(3);
  CHECK(std::equal(fewer.inputs.begin(), fewer.inputs.end(), one_thread.inputs.begin()));
  CHECK(std::equal(fewer.outputs.begin(), fewer.outputs.end(), one_thread.outputs.begin()));
}

TEST_CASE("Burgers rethrows progress errors") {
  // An exception from the callback must not leave the OpenMP region; it is rethrown.
  BurgersConfig config;
  config.samples = 4;
  config.fine_resolution = 64;
  config.resolution = 16;
  const auto failing_progress = [](std::int64_t completed, std::int64_t) {
    if (completed == 2) throw std::runtime_error("progress callback failed");
  };
  CHECK_THROWS_WITH_AS(generate_burgers(config, failing_progress), "progress callback failed", std::runtime_error);
}

TEST_CASE("Burgers data set layout") {
  BurgersConfig config;
  config.samples = 3;
  config.fine_resolution = 256;
  config.resolution = 64;
  config.seed = 17;
  std::int64_t calls = 0, last_completed = 0;
  const GridDataset dataset = generate_burgers(config, [&](std::int64_t completed, std::int64_t total) {
    ++calls;
    last_completed = std::max(last_completed, completed);
    CHECK(total == 3);
  });
  CHECK(calls == 3);
  CHECK(last_completed == 3);
  CHECK(dataset.generator == "burgers");
  CHECK(dataset.periodic);
  CHECK(dataset.seed == 17);
  CHECK(dataset.input_shape == Shape{3, 1, 64});
  CHECK(dataset.output_shape == Shape{3, 1, 64});
  REQUIRE(dataset.grid.size() == 1);
  CHECK(dataset.grid[0].front() == 0.0);
  CHECK_CLOSE(dataset.grid[0].back(), 63.0 / 64.0, kF64Tight);

  // Sample 1 equals a direct solve: every 4th fine point of u0 and of u(., 1).
  Grf1dSampler sampler(256, config.initial, 85);
  BurgersSolver solver(256, config.viscosity, config.stepping);
  Rng rng = Rng::stream(17, 1);
  std::vector<double> u = sampler.sample(rng);
  for (std::size_t j = 0; j < 64; ++j) {
    CHECK(dataset.inputs[64 + j] == u[4 * j]);
  }
  solver.solve(u, 1.0);
  for (std::size_t j = 0; j < 64; ++j) {
    CHECK(dataset.outputs[64 + j] == u[4 * j]);
  }

  // The file written reads back with every parameter.
  const fs::path path = scratch_file("burgers.h5");
  write_grid_dataset(path, dataset);
  const GridDataset read = read_grid_dataset(path);
  CHECK(read.generator == "burgers");
  CHECK(read.periodic);
  CHECK(read.seed == 17);
  CHECK(read.input_shape == dataset.input_shape);
  CHECK(read.inputs == dataset.inputs);
  CHECK(read.outputs == dataset.outputs);
  CHECK(read.grid == dataset.grid);
  const h5::File file = h5::File::open(path);
  CHECK(file.attribute_f64("/", "viscosity") == 0.1);
  CHECK(file.attribute_f64("/", "t_final") == 1.0);
  CHECK(file.attribute_f64("/", "sigma") == 25.0);
  CHECK(file.attribute_i64("/", "fine_resolution") == 256);
  fs::remove_all(path.parent_path());
}
