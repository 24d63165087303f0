#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <Eigen/SparseCholesky>

#include "lib/core/error.hpp"
#include "lib/core/random.hpp"
#include "solvers/multigrid.hpp"
#include "tests/support/check.hpp"

using namespace neurop;
using namespace neurop::solvers;
using neurop::testing::kF64Loose;
using neurop::testing::kF64Tight;

namespace {

constexpr double kPi = std::numbers::pi;

std::size_t at(std::int64_t value) { return static_cast<std::size_t>(value); }

// A 12/3 coefficient shaped like the Darcy benchmark: the sign of a random smooth
// field made of a few cosines decides between the two values.
std::vector<double> two_phase_coefficient(std::int64_t n, std::uint64_t seed) {
  Rng rng(seed);
  struct Mode {
    double k0, k1, phase, amplitude;
  };
  std::vector<Mode> modes;
  for (int m = 0; m < 12; ++m) {
    modes.push_back({rng.uniform(1.0, 9.0), rng.uniform(1.0, 9.0), rng.uniform(0.0, 2.0 * kPi), rng.normal()});
  }
  std::vector<double> a(at(n * n));
  const double h = 1.0 / static_cast<double>(n - 1);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double value = 0.0;
      for (const Mode& mode : modes) {
        value += mode.amplitude * std::cos(mode.k0 * static_cast<double>(i) * h + mode.phase) *
                 std::cos(mode.k1 * static_cast<double>(j) * h);
      }
      a[at(i * n + j)] = value >= 0.0 ? 12.0 : 3.0;
    }
  }
  return a;
}

double max_abs(const std::vector<double>& values) {
  double result = 0.0;
  for (double v : values) result = std::max(result, std::abs(v));
  return result;
}

// Solves the assembled system with Eigen's sparse Cholesky and returns u on [n, n].
std::vector<double> direct_solution(const std::vector<double>& a, const std::vector<double>& f, std::int64_t n) {
  const Eigen::SparseMatrix<double> matrix = assemble_diffusion_matrix(a, n);
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(matrix);
  REQUIRE(solver.info() == Eigen::Success);
  Eigen::VectorXd b((n - 2) * (n - 2));
  for (std::int64_t i = 1; i <= n - 2; ++i)
    for (std::int64_t j = 1; j <= n - 2; ++j) b[(i - 1) * (n - 2) + (j - 1)] = f[at(i * n + j)];
  const Eigen::VectorXd x = solver.solve(b);
  std::vector<double> u(at(n * n), 0.0);
  for (std::int64_t i = 1; i <= n - 2; ++i)
    for (std::int64_t j = 1; j <= n - 2; ++j) u[at(i * n + j)] = x[(i - 1) * (n - 2) + (j - 1)];
  return u;
}

// Coordinates of the coarse points of an n-point grid on [0, 1]: fine index 2I, and
// the last coarse point at x = 1.
std::vector<double> coarse_coordinates(std::int64_t n) {
  const std::int64_t nc = coarse_grid_size(n);
  const double h = 1.0 / static_cast<double>(n - 1);
  std::vector<double> x(at(nc));
  for (std::int64_t c = 0; c < nc; ++c) x[at(c)] = c == nc - 1 ? 1.0 : static_cast<double>(2 * c) * h;
  return x;
}

// Piecewise-linear hat function of coarse point c evaluated at x.
double hat(const std::vector<double>& nodes, std::size_t c, double x) {
  if (c > 0 && x >= nodes[c - 1] && x <= nodes[c]) return (x - nodes[c - 1]) / (nodes[c] - nodes[c - 1]);
  if (c + 1 < nodes.size() && x >= nodes[c] && x <= nodes[c + 1]) return (nodes[c + 1] - x) / (nodes[c + 1] - nodes[c]);
  return 0.0;
}

}  // namespace

TEST_CASE("multigrid coarsening rule") {
  CHECK(coarse_grid_size(421) == 211);
  CHECK(coarse_grid_size(211) == 106);
  CHECK(coarse_grid_size(106) == 54);
  CHECK(coarse_grid_size(85) == 43);
  CHECK(coarse_grid_size(4) == 3);
  // 421 -> 211 -> 106 -> 54 -> 28 -> 15 -> 8 -> 5 -> 3
  CHECK(max_multigrid_levels(421) == 9);
  // 85 -> 43 -> 22 -> 12 -> 7 -> 4 -> 3
  CHECK(max_multigrid_levels(85) == 7);
  CHECK(max_multigrid_levels(3) == 1);
  CHECK(max_multigrid_levels(4) == 2);
  CHECK(max_multigrid_levels(2) == 0);
}

TEST_CASE("prolongation is bilinear interpolation") {
  for (const std::int64_t n : {6, 9, 10}) {
    CAPTURE(n);
    const std::int64_t nc = coarse_grid_size(n), m = n - 2, mc = nc - 2;
    const std::vector<double> nodes = coarse_coordinates(n);
    const double h = 1.0 / static_cast<double>(n - 1);
    for (std::int64_t ci = 1; ci <= nc - 2; ++ci) {
      for (std::int64_t cj = 1; cj <= nc - 2; ++cj) {
        std::vector<double> coarse(at(mc * mc), 0.0), fine(at(m * m));
        coarse[at((ci - 1) * mc + (cj - 1))] = 1.0;
        apply_prolongation(n, coarse, fine);
        for (std::int64_t i = 1; i <= n - 2; ++i) {
          for (std::int64_t j = 1; j <= n - 2; ++j) {
            const double expected = hat(nodes, at(ci), static_cast<double>(i) * h) *
                                    hat(nodes, at(cj), static_cast<double>(j) * h);
            CHECK_CLOSE(fine[at((i - 1) * m + (j - 1))], expected, kF64Tight);
          }
        }
      }
    }
  }
}

TEST_CASE("restriction is the adjoint of prolongation") {
  // <R x, y> = c <x, P y> with c = 1, on odd and even grids.
  Rng rng(11);
  for (const std::int64_t n : {4, 5, 6, 17, 18, 33, 34, 85, 106}) {
    CAPTURE(n);
    const std::int64_t m = n - 2, mc = coarse_grid_size(n) - 2;
    std::vector<double> x(at(m * m)), y(at(mc * mc)), rx(at(mc * mc)), py(at(m * m));
    for (double& v : x) v = rng.normal();
    for (double& v : y) v = rng.normal();
    apply_restriction(n, x, rx);
    apply_prolongation(n, y, py);
    double left = 0.0, right = 0.0;
    for (std::size_t k = 0; k < y.size(); ++k) left += rx[k] * y[k];
    for (std::size_t k = 0; k < x.size(); ++k) right += x[k] * py[k];
    CHECK_CLOSE(left, right, kF64Loose);

    // The sparse P used for the Galerkin products matches the matrix-free one.
    const Eigen::Map<const Eigen::VectorXd> y_map(y.data(), mc * mc);
    const Eigen::VectorXd sparse_py = prolongation_matrix(n) * y_map;
    for (std::size_t k = 0; k < py.size(); ++k) CHECK_CLOSE(sparse_py[static_cast<Eigen::Index>(k)], py[k], kF64Tight);
  }
}

TEST_CASE("V-cycle preconditioner is symmetric") {
  // <V x, y> = <x, V y> is what lets the V-cycle precondition CG.
  const std::int64_t n = 34;
  const std::vector<double> a = two_phase_coefficient(n, 5);
  DiffusionMultigrid multigrid(a, n, n, MultigridOptions{.levels = 4});
  Rng rng(3);
  Eigen::VectorXd x((n - 2) * (n - 2)), y((n - 2) * (n - 2));
  for (Eigen::Index k = 0; k < x.size(); ++k) {
    x[k] = rng.normal();
    y[k] = rng.normal();
  }
  const double left = multigrid.apply_v_cycle(x).dot(y);
  const double right = x.dot(multigrid.apply_v_cycle(y));
  CHECK_CLOSE(left, right, kF64Loose);
}

TEST_CASE("multigrid matches the sparse direct solver") {
  // Every accepted level count, both methods, odd and even grids, 12/3 coefficients.
  for (const std::int64_t n : {17, 18, 33, 34, 65}) {
    const std::vector<double> a = two_phase_coefficient(n, static_cast<std::uint64_t>(n));
    const std::vector<double> f(at(n * n), 1.0);
    const std::vector<double> reference = direct_solution(a, f, n);
    const double scale = max_abs(reference);
    for (int levels = 0; levels <= max_multigrid_levels(n); ++levels) {
      for (const MultigridMethod method : {MultigridMethod::preconditioned_cg, MultigridMethod::v_cycle}) {
        CAPTURE(n);
        CAPTURE(levels);
        CAPTURE(static_cast<int>(method));
        MultigridOptions options;
        options.levels = levels;
        options.method = method;
        options.relative_tolerance = 1e-12;
        DiffusionMultigrid multigrid(a, n, n, options);
        std::vector<double> u(at(n * n));
        const MultigridStatus status = multigrid.solve(f, u);
        CHECK(status.converged);
        CHECK(status.relative_residual <= 1e-12);
        double difference = 0.0;
        for (std::size_t k = 0; k < u.size(); ++k) difference = std::max(difference, std::abs(u[k] - reference[k]));
        // A relative residual of 1e-12 bounds the relative error by 1e-12 times the
        // condition number, which is below 1e4 on these grids.
        CHECK(difference <= 1e-8 * scale);
        MESSAGE("n = " << n << ", levels " << multigrid.levels() << ", method " << static_cast<int>(method)
                       << ": iterations " << status.iterations << ", residual " << status.relative_residual
                       << ", max |u - u_direct| / max |u| = " << difference / scale);
      }
    }
  }
}

TEST_CASE("multigrid iteration count is grid independent") {
  // Preconditioned CG with automatic levels on the same 12/3 pattern at three resolutions.
  std::vector<int> iterations;
  for (const std::int64_t n : {33, 65, 129}) {
    const std::vector<double> a = two_phase_coefficient(n, 99);
    const std::vector<double> f(at(n * n), 1.0);
    DiffusionMultigrid multigrid(a, n, n);
    std::vector<double> u(at(n * n));
    const MultigridStatus status = multigrid.solve(f, u);
    CHECK(status.converged);
    iterations.push_back(status.iterations);
    MESSAGE("n = " << n << ": " << status.iterations << " PCG iterations to residual " << status.relative_residual);
  }
  for (const int count : iterations) CHECK(count <= 15);
  CHECK(iterations.back() <= iterations.front() + 3);
}

TEST_CASE("discretisation converges at second order") {
  // u = sin(pi x) sin(pi y) with a = 1 + 0.5 sin(2 pi x + 1) cos(3 pi y); f = -div(a grad u).
  auto exact = [](double x, double y) { return std::sin(kPi * x) * std::sin(kPi * y); };
  auto coefficient = [](double x, double y) { return 1.0 + 0.5 * std::sin(2.0 * kPi * x + 1.0) * std::cos(3.0 * kPi * y); };
  auto forcing = [](double x, double y) {
    const double a = 1.0 + 0.5 * std::sin(2.0 * kPi * x + 1.0) * std::cos(3.0 * kPi * y);
    const double a_x = kPi * std::cos(2.0 * kPi * x + 1.0) * std::cos(3.0 * kPi * y);
    const double a_y = -1.5 * kPi * std::sin(2.0 * kPi * x + 1.0) * std::sin(3.0 * kPi * y);
    const double u_x = kPi * std::cos(kPi * x) * std::sin(kPi * y);
    const double u_y = kPi * std::sin(kPi * x) * std::cos(kPi * y);
    const double laplacian = -2.0 * kPi * kPi * std::sin(kPi * x) * std::sin(kPi * y);
    return -(a_x * u_x + a_y * u_y + a * laplacian);
  };

  std::vector<double> errors;
  const std::vector<std::int64_t> sizes = {17, 33, 65, 129};
  for (const std::int64_t n : sizes) {
    const double h = 1.0 / static_cast<double>(n - 1);
    std::vector<double> a(at(n * n)), f(at(n * n)), u(at(n * n));
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        a[at(i * n + j)] = coefficient(static_cast<double>(i) * h, static_cast<double>(j) * h);
        f[at(i * n + j)] = forcing(static_cast<double>(i) * h, static_cast<double>(j) * h);
      }
    }
    MultigridOptions options;
    // The algebraic error (about 1e-11 times the condition number, 1e4 at n = 129)
    // stays far below the discretisation error (about 1e-5 at n = 129).
    options.relative_tolerance = 1e-11;
    DiffusionMultigrid multigrid(a, n, n, options);
    const MultigridStatus status = multigrid.solve(f, u);
    MESSAGE("manufactured n = " << n << ": " << status.iterations << " iterations, residual " << status.relative_residual);
    REQUIRE(status.converged);
    double error = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        const double difference = u[at(i * n + j)] - exact(static_cast<double>(i) * h, static_cast<double>(j) * h);
        error = std::max(error, std::abs(difference));
      }
    }
    errors.push_back(error);
  }
  for (std::size_t k = 1; k < errors.size(); ++k) {
    // h halves between consecutive grids.
    const double order = std::log2(errors[k - 1] / errors[k]);
    MESSAGE("n = " << sizes[k] << ": max error " << errors[k] << ", observed order " << order);
    CHECK(order > 1.9);
    CHECK(order < 2.1);
  }
}

TEST_CASE("multigrid reports non-convergence") {
  const std::int64_t n = 65;
  const std::vector<double> a = two_phase_coefficient(n, 2);
  const std::vector<double> f(at(n * n), 1.0);
  for (const MultigridMethod method : {MultigridMethod::preconditioned_cg, MultigridMethod::v_cycle}) {
    MultigridOptions options;
    options.method = method;
    options.max_iterations = 1;
    options.relative_tolerance = 1e-14;
    DiffusionMultigrid multigrid(a, n, n, options);
    std::vector<double> u(at(n * n));
    const MultigridStatus status = multigrid.solve(f, u);
    CHECK_FALSE(status.converged);
    CHECK(status.iterations == 1);
    CHECK(std::isfinite(status.relative_residual));
    CHECK(status.relative_residual > 1e-14);
  }
}

TEST_CASE("multigrid zero right-hand side") {
  const std::int64_t n = 9;
  const std::vector<double> a(at(n * n), 2.0);
  std::vector<double> f(at(n * n), 0.0), u(at(n * n), 7.0);
  // Boundary values of f are ignored.
  f[0] = 5.0;
  DiffusionMultigrid multigrid(a, n, n);
  const MultigridStatus status = multigrid.solve(f, u);
  CHECK(status.converged);
  CHECK(status.relative_residual == 0.0);
  CHECK(max_abs(u) == 0.0);
}

TEST_CASE("multigrid rejects invalid input") {
  const std::int64_t n = 17;
  std::vector<double> a(at(n * n), 1.0);

  CHECK_THROWS_AS(DiffusionMultigrid(std::vector<double>(17 * 18, 1.0), 17, 18), ValueError);
  CHECK_THROWS_AS(DiffusionMultigrid(std::vector<double>(4, 1.0), 2, 2), ValueError);
  CHECK_THROWS_AS(DiffusionMultigrid(std::vector<double>(10, 1.0), n, n), ValueError);

  // 17 -> 9 -> 5 -> 3 allows 4 levels.
  try {
    DiffusionMultigrid(a, n, n, MultigridOptions{.levels = 5});
    FAIL("five levels on a 17 x 17 grid were accepted");
  } catch (const ValueError& error) {
    const std::string message = error.what();
    CHECK(message.find("17 x 17") != std::string::npos);
    CHECK(message.find("at most 4 levels") != std::string::npos);
    CHECK(message.find("5 levels were requested") != std::string::npos);
  }
  CHECK_THROWS_AS(DiffusionMultigrid(a, n, n, MultigridOptions{.levels = -1}), ValueError);

  for (const double bad : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    CAPTURE(bad);
    std::vector<double> singular = a;
    singular[at(3 * n + 5)] = bad;
    try {
      DiffusionMultigrid multigrid(singular, n, n);
      FAIL("a singular coefficient was accepted");
    } catch (const ValueError& error) {
      CHECK(std::string(error.what()).find("(i, j) = (3, 5)") != std::string::npos);
    }
  }

  MultigridOptions unsymmetric;
  unsymmetric.pre_smoothing = 1;
  unsymmetric.post_smoothing = 2;
  CHECK_THROWS_AS(DiffusionMultigrid(a, n, n, unsymmetric), ValueError);
  unsymmetric.method = MultigridMethod::v_cycle;
  CHECK_NOTHROW(DiffusionMultigrid(a, n, n, unsymmetric));

  MultigridOptions no_smoothing;
  no_smoothing.pre_smoothing = 0;
  no_smoothing.post_smoothing = 0;
  no_smoothing.levels = 2;
  CHECK_THROWS_AS(DiffusionMultigrid(a, n, n, no_smoothing), ValueError);

  MultigridOptions bad_tolerance;
  bad_tolerance.relative_tolerance = 0.0;
  CHECK_THROWS_AS(DiffusionMultigrid(a, n, n, bad_tolerance), ValueError);

  DiffusionMultigrid multigrid(a, n, n);
  std::vector<double> f(at(n * n), 1.0), u(at(n * n));
  f[at(2 * n + 4)] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(multigrid.solve(f, u), ValueError);
  std::vector<double> short_u(5);
  CHECK_THROWS_AS(multigrid.solve(std::vector<double>(at(n * n), 1.0), short_u), ValueError);
}
