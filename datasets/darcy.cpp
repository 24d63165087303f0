#include "datasets/darcy.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "datasets/generator_support.hpp"
#include "datasets/grf2d.hpp"
#include "lib/core/error.hpp"
#include "lib/core/random.hpp"

namespace neurop::data {
namespace {

std::size_t to_index(std::int64_t value) { return static_cast<std::size_t>(value); }

std::int64_t stored_resolution(const DarcyOptions& options) {
  return options.output_resolution == 0 ? options.resolution : options.output_resolution;
}

Grf2dParams field_params(const DarcyOptions& options) {
  Grf2dParams params;
  params.alpha = options.alpha;
  params.tau = options.tau;
  params.sigma = 1.0;
  params.keep_mean_mode = false;
  return params;
}

DarcySample solve_with_field(const DarcyOptions& options, const NeumannGrf2d& field, std::uint64_t index) {
  const std::int64_t n = options.resolution;
  DarcySample sample;
  Rng rng = Rng::stream(options.seed, index);
  std::vector<double> psi(to_index(n * n));
  field.sample(rng, psi);

  // a = high_value where psi >= 0, low_value where psi < 0
  sample.coefficient.resize(psi.size());
  for (std::size_t k = 0; k < psi.size(); ++k) {
    sample.coefficient[k] = psi[k] >= 0.0 ? options.high_value : options.low_value;
  }

  const std::vector<double> rhs(psi.size(), options.forcing);
  sample.solution.resize(psi.size());
  solvers::DiffusionMultigrid multigrid(sample.coefficient, n, n, options.solver);
  sample.status = multigrid.solve(rhs, sample.solution);
  return sample;
}

// Copies every stride-th point of an [n, n] field into [s, s] storage.
void copy_subsampled(const std::vector<double>& field, std::int64_t n, std::int64_t stride, double* out) {
  const std::int64_t s = (n - 1) / stride + 1;
  for (std::int64_t i = 0; i < s; ++i) {
    for (std::int64_t j = 0; j < s; ++j) out[i * s + j] = field[to_index(i * stride * n + j * stride)];
  }
}

}  // namespace

void validate(const DarcyOptions& options) {
  NEUROP_CHECK(options.samples >= 1, ValueError, "DarcyOptions: samples must be >= 1, got {}", options.samples);
  NEUROP_CHECK(options.resolution >= 3, ValueError,
               "DarcyOptions: resolution must be >= 3 (boundary points included), got {}", options.resolution);
  const std::int64_t s = stored_resolution(options);
  NEUROP_CHECK(s >= 2 && s <= options.resolution && (options.resolution - 1) % (s - 1) == 0, ValueError,
               "DarcyOptions: output_resolution {} does not subsample the {}-point grid; s - 1 must divide {} (for "
               "example 211, 141, 106 or 85 from 421), or pass 0 to store the solve grid",
               options.output_resolution, options.resolution, options.resolution - 1);
  for (const auto& [name, value] : {std::pair{"high_value", options.high_value}, std::pair{"low_value", options.low_value}}) {
    NEUROP_CHECK(std::isfinite(value) && value > 0.0, ValueError,
                 "DarcyOptions: {} must be positive and finite so that the problem is elliptic, got {}", name, value);
  }
  NEUROP_CHECK(std::isfinite(options.forcing), ValueError, "DarcyOptions: forcing must be finite, got {}",
               options.forcing);
  validate(field_params(options));
  const int max_levels = solvers::max_multigrid_levels(options.resolution);
  NEUROP_CHECK(options.solver.levels >= 0 && options.solver.levels <= max_levels, ValueError,
               "DarcyOptions: a {} x {} grid can be coarsened to at most {} levels, but solver.levels = {}; pass 0 "
               "for automatic",
               options.resolution, options.resolution, max_levels, options.solver.levels);
}

DarcySample solve_darcy_sample(const DarcyOptions& options, std::uint64_t index) {
  validate(options);
  const NeumannGrf2d field(options.resolution, GridPoints::vertex, field_params(options));
  return solve_with_field(options, field, index);
}

GridDataset generate_darcy(const DarcyOptions& options) {
  validate(options);
  const std::int64_t n = options.resolution;
  const std::int64_t s = stored_resolution(options);
  const std::int64_t stride = (n - 1) / (s - 1);
  const std::int64_t count = options.samples;

  GridDataset dataset;
  dataset.generator = "darcy";
  dataset.spatial_dims = 2;
  dataset.periodic = false;
  dataset.seed = options.seed;
  dataset.input_shape = {count, 1, s, s};
  dataset.output_shape = {count, 1, s, s};
  dataset.inputs.resize(to_index(count * s * s));
  dataset.outputs.resize(to_index(count * s * s));
  std::vector<double> coordinates(to_index(s));
  for (std::int64_t k = 0; k < s; ++k) coordinates[to_index(k)] = static_cast<double>(k) / static_cast<double>(s - 1);
  dataset.grid = {coordinates, coordinates};

  // One field sampler shared by all threads (its sample() is const and thread-safe).
  const NeumannGrf2d field(n, GridPoints::vertex, field_params(options));
  std::vector<solvers::MultigridStatus> statuses(to_index(count));
  detail::parallel_for_samples(count, [&](std::int64_t i) {
    const DarcySample sample = solve_with_field(options, field, static_cast<std::uint64_t>(i));
    statuses[to_index(i)] = sample.status;
    copy_subsampled(sample.coefficient, n, stride, dataset.inputs.data() + i * s * s);
    copy_subsampled(sample.solution, n, stride, dataset.outputs.data() + i * s * s);
  });

  double largest_residual = 0.0;
  std::int64_t largest_iterations = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    const solvers::MultigridStatus& status = statuses[to_index(i)];
    NEUROP_CHECK(status.converged, DataError,
                 "generate_darcy: the solve of sample {} stopped after {} iterations at relative residual {:.3g}, "
                 "above the tolerance {:.3g}; raise solver.max_iterations or solver.relative_tolerance",
                 i, status.iterations, status.relative_residual, options.solver.relative_tolerance);
    largest_residual = std::max(largest_residual, status.relative_residual);
    largest_iterations = std::max<std::int64_t>(largest_iterations, status.iterations);
  }

  auto& parameters = dataset.parameters;
  parameters["alpha"] = options.alpha;
  parameters["tau"] = options.tau;
  parameters["high_value"] = options.high_value;
  parameters["low_value"] = options.low_value;
  parameters["forcing"] = options.forcing;
  parameters["solve_resolution"] = n;
  parameters["stride"] = stride;
  parameters["grf_grid"] = std::string("vertex");
  parameters["grf_modes"] = n;
  parameters["grf_mean_mode"] = std::string("dropped");
  parameters["scheme"] = std::string("5-point flux, harmonic face averages");
  parameters["solver_relative_tolerance"] = options.solver.relative_tolerance;
  parameters["solver_max_relative_residual"] = largest_residual;
  parameters["solver_max_iterations_used"] = largest_iterations;
  return dataset;
}

}  // namespace neurop::data
