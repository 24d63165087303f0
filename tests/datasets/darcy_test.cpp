#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "datasets/darcy.hpp"
#include "datasets/dataset_file.hpp"
#include "datasets/grf2d.hpp"
#include "lib/core/error.hpp"
#include "lib/core/random.hpp"
#include "lib/core/threads.hpp"
#include "solvers/multigrid.hpp"
#include "tests/support/check.hpp"

using namespace neurop;
using namespace neurop::data;
using neurop::testing::kF64Tight;

namespace {

std::size_t at(std::int64_t value) { return static_cast<std::size_t>(value); }

DarcyOptions small_options(std::int64_t resolution, std::int64_t samples) {
  DarcyOptions options;
  options.resolution = resolution;
  options.samples = samples;
  options.seed = 5;
  return options;
}

// Restores the thread count when a test ends, even on failure.
struct ThreadCountGuard {
  int saved = num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("darcy defaults follow the FNO benchmark") {
  const DarcyOptions options;
  CHECK(options.resolution == 421);
  CHECK(options.alpha == 2.0);
  CHECK(options.tau == 3.0);
  CHECK(options.high_value == 12.0);
  CHECK(options.low_value == 3.0);
  CHECK(options.forcing == 1.0);
  for (const std::int64_t s : {421, 211, 141, 106, 85}) {
    DarcyOptions subsampled;
    subsampled.output_resolution = s;
    CHECK_NOTHROW(validate(subsampled));
  }
}

TEST_CASE("darcy samples solve the discrete problem") {
  const std::int64_t n = 33, count = 3;
  const DarcyOptions options = small_options(n, count);
  const GridDataset dataset = generate_darcy(options);
  CHECK(dataset.generator == "darcy");
  CHECK(dataset.spatial_dims == 2);
  CHECK_FALSE(dataset.periodic);
  CHECK(dataset.seed == 5);
  CHECK(dataset.input_shape == Shape{count, 1, n, n});
  CHECK(dataset.output_shape == Shape{count, 1, n, n});
  REQUIRE(dataset.grid.size() == 2);
  CHECK(dataset.grid[0].front() == 0.0);
  CHECK(dataset.grid[0].back() == 1.0);
  CHECK_CLOSE(dataset.grid[1][8], 0.25, kF64Tight);
  CHECK(std::get<double>(dataset.parameters.at("tau")) == 3.0);
  CHECK(std::get<std::int64_t>(dataset.parameters.at("solve_resolution")) == n);
  CHECK_NOTHROW(validate(dataset));

  // The coefficient follows the sign of the documented field, drawn from Rng::stream(seed, i).
  Grf2dParams params;
  params.alpha = 2.0;
  params.tau = 3.0;
  const NeumannGrf2d field(n, GridPoints::vertex, params);
  for (std::int64_t i = 0; i < count; ++i) {
    CAPTURE(i);
    Rng rng = Rng::stream(5, static_cast<std::uint64_t>(i));
    std::vector<double> psi(at(n * n));
    field.sample(rng, psi);
    const double* a = dataset.inputs.data() + i * n * n;
    const double* u = dataset.outputs.data() + i * n * n;
    std::int64_t high = 0;
    for (std::int64_t k = 0; k < n * n; ++k) {
      CHECK(a[k] == (psi[at(k)] >= 0.0 ? 12.0 : 3.0));
      high += a[k] == 12.0 ? 1 : 0;
    }
    // Both phases occur in a field with zero mean.
    CHECK(high > 0);
    CHECK(high < n * n);

    // u = 0 on the boundary and ||f - A u|| <= tolerance ||f|| on the interior.
    for (std::int64_t k = 0; k < n; ++k) {
      CHECK(u[k] == 0.0);
      CHECK(u[(n - 1) * n + k] == 0.0);
      CHECK(u[k * n] == 0.0);
      CHECK(u[k * n + n - 1] == 0.0);
    }
    const solvers::SparseMatrix matrix =
        solvers::assemble_diffusion_matrix(std::span<const double>(a, at(n * n)), n);
    Eigen::VectorXd interior((n - 2) * (n - 2));
    for (std::int64_t r = 1; r <= n - 2; ++r)
      for (std::int64_t c = 1; c <= n - 2; ++c) interior[(r - 1) * (n - 2) + (c - 1)] = u[r * n + c];
    const Eigen::VectorXd ones = Eigen::VectorXd::Ones(interior.size());
    const double residual = (ones - matrix * interior).norm() / ones.norm();
    CHECK(residual <= options.solver.relative_tolerance);
  }
}

TEST_CASE("darcy subsampling matches subsample") {
  // From 41 points: strides 2, 4, 5 and 10, as 421 -> 211, 106, 85 and 43.
  const GridDataset full = generate_darcy(small_options(41, 2));
  for (const std::int64_t s : {21, 11, 9, 5}) {
    CAPTURE(s);
    DarcyOptions options = small_options(41, 2);
    options.output_resolution = s;
    const GridDataset reduced = generate_darcy(options);
    const GridDataset expected = subsample(full, 40 / (s - 1));
    CHECK(reduced.input_shape == expected.input_shape);
    CHECK(reduced.inputs == expected.inputs);
    CHECK(reduced.outputs == expected.outputs);
    CHECK(reduced.grid == expected.grid);
  }
}

TEST_CASE("darcy data do not depend on the thread count") {
  ThreadCountGuard guard;
  const DarcyOptions options = small_options(33, 5);
  set_num_threads(1);
  const GridDataset serial = generate_darcy(options);
  set_num_threads(2);
  const GridDataset parallel = generate_darcy(options);
  CHECK(serial.inputs == parallel.inputs);
  CHECK(serial.outputs == parallel.outputs);

  // Sample 3 alone equals sample 3 of the data set.
  const DarcySample single = solve_darcy_sample(options, 3);
  CHECK(single.status.converged);
  const std::vector<double> stored(serial.outputs.begin() + 3 * 33 * 33, serial.outputs.begin() + 4 * 33 * 33);
  CHECK(single.solution == stored);
}

TEST_CASE("darcy constant coefficient matches the series solution") {
  // With a = 1 everywhere, u solves -Laplacian u = 1 on the unit square. Its centre value
  // is u(1/2, 1/2) = 1/8 - sum_{m odd} 4 sin(m pi / 2) / (pi^3 m^3 cosh(m pi / 2)).
  double exact = 0.125;
  for (int m = 1; m < 60; m += 2) {
    const double mm = static_cast<double>(m);
    exact -= 4.0 * std::sin(mm * std::numbers::pi / 2.0) /
             (std::pow(std::numbers::pi * mm, 3) * std::cosh(mm * std::numbers::pi / 2.0));
  }
  std::vector<double> errors;
  for (const std::int64_t n : {17, 33, 65}) {
    DarcyOptions options = small_options(n, 1);
    options.high_value = 1.0;
    options.low_value = 1.0;
    const DarcySample sample = solve_darcy_sample(options, 0);
    REQUIRE(sample.status.converged);
    const std::int64_t centre = (n - 1) / 2;
    errors.push_back(std::abs(sample.solution[at(centre * n + centre)] - exact));
  }
  for (std::size_t k = 1; k < errors.size(); ++k) {
    const double order = std::log2(errors[k - 1] / errors[k]);
    MESSAGE("centre error " << errors[k] << " (exact " << exact << "), observed order " << order);
    CHECK(order > 1.8);
    CHECK(order < 2.2);
  }
}

TEST_CASE("darcy reports unconverged solves") {
  DarcyOptions options = small_options(33, 2);
  options.solver.max_iterations = 1;
  options.solver.relative_tolerance = 1e-14;
  const DarcySample sample = solve_darcy_sample(options, 0);
  CHECK_FALSE(sample.status.converged);
  CHECK(sample.status.iterations == 1);
  try {
    generate_darcy(options);
    FAIL("an unconverged data set was returned");
  } catch (const DataError& error) {
    CHECK(std::string(error.what()).find("sample 0") != std::string::npos);
  }
}

TEST_CASE("darcy rejects invalid options") {
  DarcyOptions options;
  options.output_resolution = 100;
  try {
    validate(options);
    FAIL("output_resolution 100 was accepted for a 421-point grid");
  } catch (const ValueError& error) {
    CHECK(std::string(error.what()).find("must divide 420") != std::string::npos);
  }
  options = DarcyOptions{};
  options.samples = 0;
  CHECK_THROWS_AS(validate(options), ValueError);
  options = DarcyOptions{};
  options.low_value = 0.0;
  CHECK_THROWS_AS(validate(options), ValueError);
  options = DarcyOptions{};
  options.resolution = 2;
  CHECK_THROWS_AS(validate(options), ValueError);
  options = DarcyOptions{};
  options.solver.levels = 10;
  CHECK_THROWS_AS(validate(options), ValueError);
  options = DarcyOptions{};
  options.tau = -1.0;
  CHECK_THROWS_AS(generate_darcy(options), ValueError);
}
