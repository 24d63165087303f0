#include "datasets/diffusion_reaction.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "datasets/generator_support.hpp"
#include "lib/core/error.hpp"

namespace neurop::data {
namespace {

// Returns the cell index j in [0, cells - 1] and the local coordinate in [0, 1] of
// `value` on a uniform grid of `cells` cells over [0, extent].
std::pair<std::size_t, double> locate(double value, double extent, std::int64_t cells, const char* axis) {
  const double margin = 1e-12 * extent;
  NEUROP_CHECK(value >= -margin && value <= extent + margin, ValueError,
               "DiffusionReactionSolution::evaluate: {} = {} lies outside [0, {}]", axis, value, extent);
  const double scaled = std::clamp(value, 0.0, extent) / extent * static_cast<double>(cells);
  const std::int64_t cell = std::clamp(static_cast<std::int64_t>(std::floor(scaled)), std::int64_t{0}, cells - 1);
  return {static_cast<std::size_t>(cell), scaled - static_cast<double>(cell)};
}

void check_solver_options(double length, const DiffusionReactionOptions& options) {
  NEUROP_CHECK(std::isfinite(length) && length > 0.0 && std::isfinite(options.final_time) && options.final_time > 0.0,
               ValueError, "solve_diffusion_reaction: length and final_time must be finite and > 0, got {} and {}",
               length, options.final_time);
  NEUROP_CHECK(options.space_intervals >= 2 && options.time_steps >= 1, ValueError,
               "solve_diffusion_reaction: needs space_intervals >= 2 and time_steps >= 1, got {} and {}",
               options.space_intervals, options.time_steps);
  NEUROP_CHECK(std::isfinite(options.diffusion) && options.diffusion >= 0.0 && std::isfinite(options.reaction),
               ValueError, "solve_diffusion_reaction: expected D >= 0 and a finite k, got D = {} and k = {}",
               options.diffusion, options.reaction);
}

}  // namespace

double DiffusionReactionSolution::evaluate(double x, double t) const {
  const auto [i, a] = locate(x, length, space_intervals, "x");
  const auto [n, b] = locate(t, final_time, time_steps, "t");
  const auto row = static_cast<std::size_t>(space_intervals) + 1;
  const double* now = values.data() + n * row;
  const double* next = now + row;
  // Bilinear: (1-a)(1-b) s_{i,n} + a (1-b) s_{i+1,n} + (1-a) b s_{i,n+1} + a b s_{i+1,n+1}.
  return (1.0 - b) * ((1.0 - a) * now[i] + a * now[i + 1]) + b * ((1.0 - a) * next[i] + a * next[i + 1]);
}

DiffusionReactionSolution solve_diffusion_reaction(const SpaceTimeFunction& source, double length,
                                                   const DiffusionReactionOptions& options) {
  check_solver_options(length, options);

  DiffusionReactionSolution solution;
  solution.length = length;
  solution.final_time = options.final_time;
  solution.space_intervals = options.space_intervals;
  solution.time_steps = options.time_steps;
  const auto row = static_cast<std::size_t>(options.space_intervals) + 1;
  const auto levels = static_cast<std::size_t>(options.time_steps) + 1;
  solution.values.assign(levels * row, std::numeric_limits<double>::quiet_NaN());
  std::fill_n(solution.values.begin(), row, 0.0);

  const double dx = length / static_cast<double>(options.space_intervals);
  const double dt = options.final_time / static_cast<double>(options.time_steps);
  const double r = options.diffusion * dt / (2.0 * dx * dx);
  const double k = options.reaction;
  const std::vector<double> x = uniform_points(0.0, length, options.space_intervals + 1);

  // Interior unknowns i = 1..Nx-1; s_0 = s_Nx = 0. Crank-Nicolson with s^2 ~= s^n s^{n+1}:
  //   (1 + 2r - dt k s^n_i) s^{n+1}_i - r (s^{n+1}_{i-1} + s^{n+1}_{i+1})
  //     = s^n_i + r (s^n_{i-1} - 2 s^n_i + s^n_{i+1}) + dt f(x_i, t_{n+1/2}),
  // with r = D dt / (2 dx^2), solved by the Thomas algorithm (off-diagonals -r).
  std::vector<double> diagonal(row), rhs(row), modified_upper(row);
  for (std::int64_t step = 0; step < options.time_steps; ++step) {
    const double* now = solution.values.data() + static_cast<std::size_t>(step) * row;
    double* next = solution.values.data() + static_cast<std::size_t>(step + 1) * row;
    const double t_mid = (static_cast<double>(step) + 0.5) * dt;
    for (std::size_t i = 1; i + 1 < row; ++i) {
      diagonal[i] = 1.0 + 2.0 * r - dt * k * now[i];
      rhs[i] = now[i] + r * (now[i - 1] - 2.0 * now[i] + now[i + 1]) + dt * source(x[i], t_mid);
    }
    // Forward sweep: c'_1 = -r / b_1, c'_i = -r / (b_i + r c'_{i-1}), d'_i = (d_i + r d'_{i-1}) / (b_i + r c'_{i-1}).
    modified_upper[1] = -r / diagonal[1];
    rhs[1] /= diagonal[1];
    for (std::size_t i = 2; i + 1 < row; ++i) {
      const double pivot = diagonal[i] + r * modified_upper[i - 1];
      modified_upper[i] = -r / pivot;
      rhs[i] = (rhs[i] + r * rhs[i - 1]) / pivot;
    }
    next[0] = 0.0;
    next[row - 1] = 0.0;
    next[row - 2] = rhs[row - 2];
    for (std::size_t i = row - 2; i-- > 1;) next[i] = rhs[i] - modified_upper[i] * next[i + 1];

    const bool finite = std::all_of(next, next + row, [](double v) { return std::isfinite(v); });
    if (!finite) {
      solution.finite = false;
      std::fill_n(next, row, std::numeric_limits<double>::quiet_NaN());
      break;
    }
  }
  return solution;
}

PointDataset generate_diffusion_reaction_data(const FunctionSpace& space, std::int64_t samples, std::uint64_t seed,
                                              const DiffusionReactionDataOptions& options) {
  constexpr const char* kGenerator = "diffusion_reaction";
  NEUROP_CHECK(samples >= 1, ValueError, "{}: samples must be >= 1, got {}", kGenerator, samples);
  NEUROP_CHECK(options.sensor_count >= 1 && options.query_space_points >= 1 && options.query_time_points >= 1 &&
                   options.query_count >= 1,
               ValueError,
               "{}: sensor_count, query_space_points, query_time_points and query_count must be >= 1, got {}, {}, "
               "{} and {}",
               kGenerator, options.sensor_count, options.query_space_points, options.query_time_points,
               options.query_count);
  const double length = space.length();
  const double final_time = options.solver.final_time;
  check_solver_options(length, options.solver);

  PointDataset dataset;
  dataset.generator = kGenerator;
  dataset.seed = seed;
  dataset.layout = options.layout;
  dataset.samples = samples;
  dataset.sensor_count = options.sensor_count;
  dataset.sensor_dims = 1;
  dataset.query_dims = 2;
  dataset.output_channels = 1;
  dataset.domain_lower = {0.0, 0.0};
  dataset.domain_upper = {length, final_time};
  dataset.sensors = uniform_points(0.0, length, options.sensor_count);
  if (options.layout == QueryLayout::product) {
    dataset.query_count = options.query_space_points * options.query_time_points;
    const std::vector<double> xs = uniform_points(0.0, length, options.query_space_points);
    const std::vector<double> ts = uniform_points(0.0, final_time, options.query_time_points);
    // Row j Px + i is the point (x_i, t_j).
    for (const double t : ts) {
      for (const double x : xs) {
        dataset.queries.push_back(x);
        dataset.queries.push_back(t);
      }
    }
  } else {
    dataset.query_count = options.query_count;
    dataset.queries.resize(static_cast<std::size_t>(samples * options.query_count * 2));
  }
  dataset.branch_inputs.resize(static_cast<std::size_t>(samples * options.sensor_count));
  dataset.outputs.resize(static_cast<std::size_t>(samples * dataset.query_count));
  std::vector<char> finite(static_cast<std::size_t>(samples), 1);

  const auto m = static_cast<std::size_t>(options.sensor_count);
  const auto p_count = static_cast<std::size_t>(dataset.query_count);
  detail::parallel_for_samples(samples, [&](std::int64_t sample) {
    const auto n = static_cast<std::size_t>(sample);
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(sample));
    const SampledFunction u = space.sample(rng);
    for (std::size_t j = 0; j < m; ++j) dataset.branch_inputs[n * m + j] = u(dataset.sensors[j]);

    // u is evaluated once per grid node, not once per time step.
    const std::vector<double> grid = uniform_points(0.0, length, options.solver.space_intervals + 1);
    const std::vector<double> u_grid = u.evaluate(grid);
    const double dx = length / static_cast<double>(options.solver.space_intervals);
    const SpaceTimeFunction source = [&](double x, double) {
      const auto i = static_cast<std::size_t>(std::lround(x / dx));
      return u_grid[i];
    };
    const DiffusionReactionSolution solution = solve_diffusion_reaction(source, length, options.solver);
    finite[n] = solution.finite ? 1 : 0;

    const double* queries = dataset.queries.data();
    if (options.layout == QueryLayout::aligned) {
      double* own = dataset.queries.data() + n * p_count * 2;
      for (std::size_t p = 0; p < p_count; ++p) {
        own[2 * p] = rng.uniform(0.0, length);
        own[2 * p + 1] = rng.uniform(0.0, final_time);
      }
      queries = own;
    }
    for (std::size_t p = 0; p < p_count; ++p) {
      dataset.outputs[n * p_count + p] = solution.evaluate(queries[2 * p], queries[2 * p + 1]);
    }
  });

  const auto bad = std::find(finite.begin(), finite.end(), 0);
  NEUROP_CHECK(bad == finite.end(), DataError,
               "{}: the solution of sample {} became NaN or infinite (seed {}); reduce k, the input variance or "
               "the time step",
               kGenerator, bad - finite.begin(), seed);

  dataset.parameters["length"] = length;
  dataset.parameters["final_time"] = final_time;
  dataset.parameters["diffusion"] = options.solver.diffusion;
  dataset.parameters["reaction"] = options.solver.reaction;
  dataset.parameters["x_intervals"] = options.solver.space_intervals;
  dataset.parameters["time_steps"] = options.solver.time_steps;
  dataset.parameters["scheme"] = std::string("crank_nicolson_linearised_reaction");
  dataset.parameters["output_interpolation"] = std::string("bilinear");
  detail::add_space_parameters(space, dataset.parameters);
  return dataset;
}

}  // namespace neurop::data
