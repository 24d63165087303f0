#include "datasets/ode_generators.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "datasets/generator_support.hpp"
#include "lib/core/error.hpp"

namespace neurop::data {
namespace {

using SolveFunction = std::function<OdeSolution(const SampledFunction& u)>;

void check_options(const OdeDataOptions& options, std::int64_t samples, const char* caller) {
  NEUROP_CHECK(samples >= 1, ValueError, "{}: samples must be >= 1, got {}", caller, samples);
  NEUROP_CHECK(options.sensor_count >= 1 && options.query_count >= 1, ValueError,
               "{}: sensor_count and query_count must be >= 1, got {} and {}", caller, options.sensor_count,
               options.query_count);
  NEUROP_CHECK(options.steps >= 1, ValueError, "{}: steps must be >= 1, got {}", caller, options.steps);
}

// Shared driver: draws u_n, stores it at the sensors, solves and evaluates at the queries.
PointDataset generate_ode_data(const FunctionSpace& space, std::int64_t samples, std::uint64_t seed,
                               const OdeDataOptions& options, const char* generator, std::int64_t channels,
                               const SolveFunction& solve) {
  check_options(options, samples, generator);
  const double length = space.length();

  PointDataset dataset;
  dataset.generator = generator;
  dataset.seed = seed;
  dataset.layout = options.layout;
  dataset.samples = samples;
  dataset.sensor_count = options.sensor_count;
  dataset.sensor_dims = 1;
  dataset.query_count = options.query_count;
  dataset.query_dims = 1;
  dataset.output_channels = channels;
  dataset.domain_lower = {0.0};
  dataset.domain_upper = {length};
  dataset.sensors = uniform_points(0.0, length, options.sensor_count);
  const std::vector<double> shared_queries = uniform_points(0.0, length, options.query_count);
  if (options.layout == QueryLayout::product) dataset.queries = shared_queries;
  else dataset.queries.resize(static_cast<std::size_t>(samples * options.query_count));
  dataset.branch_inputs.resize(static_cast<std::size_t>(samples * options.sensor_count));
  dataset.outputs.resize(static_cast<std::size_t>(samples * options.query_count * channels));
  std::vector<char> finite(static_cast<std::size_t>(samples), 1);

  const auto m = static_cast<std::size_t>(options.sensor_count);
  const auto p_count = static_cast<std::size_t>(options.query_count);
  const auto c_count = static_cast<std::size_t>(channels);
  detail::parallel_for_samples(samples, [&](std::int64_t sample) {
    const auto n = static_cast<std::size_t>(sample);
    Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(sample));
    const SampledFunction u = space.sample(rng);
    for (std::size_t j = 0; j < m; ++j) dataset.branch_inputs[n * m + j] = u(dataset.sensors[j]);

    const OdeSolution solution = solve(u);
    finite[n] = solution.finite ? 1 : 0;
    const double* queries = shared_queries.data();
    if (options.layout == QueryLayout::aligned) {
      double* own = dataset.queries.data() + n * p_count;
      for (std::size_t p = 0; p < p_count; ++p) own[p] = rng.uniform(0.0, length);
      queries = own;
    }
    for (std::size_t p = 0; p < p_count; ++p) {
      for (std::size_t c = 0; c < c_count; ++c) {
        dataset.outputs[(n * p_count + p) * c_count + c] = solution.evaluate(queries[p], static_cast<std::int64_t>(c));
      }
    }
  });

  const auto bad = std::find(finite.begin(), finite.end(), 0);
  NEUROP_CHECK(bad == finite.end(), DataError,
               "{}: the solution of sample {} became NaN or infinite (seed {}); choose inputs with a smaller "
               "variance or a shorter interval",
               generator, bad - finite.begin(), seed);

  dataset.parameters["length"] = length;
  dataset.parameters["steps"] = options.steps;
  dataset.parameters["integrator"] = std::string("rk4");
  dataset.parameters["output_interpolation"] = std::string("cubic_hermite");
  detail::add_space_parameters(space, dataset.parameters);
  return dataset;
}

}  // namespace

double OdeSolution::evaluate(double x, std::int64_t component) const {
  NEUROP_CHECK(component >= 0 && component < dimension, ValueError,
               "OdeSolution::evaluate: component {} requested from a system of dimension {}", component, dimension);
  const double margin = 1e-12 * length;
  NEUROP_CHECK(x >= -margin && x <= length + margin, ValueError,
               "OdeSolution::evaluate: point {} lies outside the solution interval [0, {}]", x, length);
  const double h = length / static_cast<double>(steps);
  x = std::clamp(x, 0.0, length);
  const std::int64_t j = std::clamp(static_cast<std::int64_t>(std::floor(x / h)), std::int64_t{0}, steps - 1);
  const double t = x / h - static_cast<double>(j);
  const auto left = static_cast<std::size_t>(j * dimension + component);
  const auto right = left + static_cast<std::size_t>(dimension);
  // Cubic Hermite basis on [x_j, x_{j+1}], t = (x - x_j) / h:
  // s(x) = h00 s_j + h h10 f_j + h01 s_{j+1} + h h11 f_{j+1}.
  const double t2 = t * t, t3 = t2 * t;
  const double h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
  const double h10 = t3 - 2.0 * t2 + t;
  const double h01 = -2.0 * t3 + 3.0 * t2;
  const double h11 = t3 - t2;
  return h00 * states[left] + h * h10 * derivatives[left] + h01 * states[right] + h * h11 * derivatives[right];
}

OdeSolution integrate_rk4(const OdeRightHandSide& rhs, const std::vector<double>& initial, double length,
                          std::int64_t steps) {
  NEUROP_CHECK(steps >= 1, ValueError, "integrate_rk4: steps must be >= 1, got {}", steps);
  NEUROP_CHECK(std::isfinite(length) && length > 0.0, ValueError,
               "integrate_rk4: interval length must be finite and > 0, got {}", length);
  NEUROP_CHECK(!initial.empty(), ValueError, "integrate_rk4: the initial state is empty; pass one value per unknown");

  OdeSolution solution;
  solution.length = length;
  solution.steps = steps;
  solution.dimension = static_cast<std::int64_t>(initial.size());
  const std::size_t d = initial.size();
  const auto nodes = static_cast<std::size_t>(steps) + 1;
  solution.states.assign(nodes * d, std::numeric_limits<double>::quiet_NaN());
  solution.derivatives.assign(nodes * d, std::numeric_limits<double>::quiet_NaN());
  std::copy(initial.begin(), initial.end(), solution.states.begin());

  const double h = length / static_cast<double>(steps);
  std::vector<double> k1(d), k2(d), k3(d), k4(d), stage(d);
  rhs(0.0, solution.states.data(), solution.derivatives.data());
  for (std::int64_t n = 0; n < steps; ++n) {
    const auto offset = static_cast<std::size_t>(n) * d;
    const double* s = solution.states.data() + offset;
    const double x = static_cast<double>(n) * h;
    // k1 = f(x_n, s_n) was stored as the node slope; x_{n+1} is computed from n + 1 so
    // that the last node is T up to one rounding.
    const double x_next = n + 1 == steps ? length : static_cast<double>(n + 1) * h;
    std::copy_n(solution.derivatives.data() + offset, d, k1.begin());
    for (std::size_t i = 0; i < d; ++i) stage[i] = s[i] + 0.5 * h * k1[i];
    rhs(x + 0.5 * h, stage.data(), k2.data());
    for (std::size_t i = 0; i < d; ++i) stage[i] = s[i] + 0.5 * h * k2[i];
    rhs(x + 0.5 * h, stage.data(), k3.data());
    for (std::size_t i = 0; i < d; ++i) stage[i] = s[i] + h * k3[i];
    rhs(x_next, stage.data(), k4.data());
    // s_{n+1} = s_n + h/6 (k1 + 2 k2 + 2 k3 + k4).
    double* next = solution.states.data() + offset + d;
    bool finite = true;
    for (std::size_t i = 0; i < d; ++i) {
      next[i] = s[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
      finite = finite && std::isfinite(next[i]);
    }
    if (!finite) {
      solution.finite = false;
      break;
    }
    rhs(x_next, next, solution.derivatives.data() + offset + d);
  }
  return solution;
}

OdeSolution solve_antiderivative(const ScalarFunction& u, double length, std::int64_t steps) {
  // ds/dx = u(x).
  return integrate_rk4([&](double x, const double*, double* ds) { ds[0] = u(x); }, {0.0}, length, steps);
}

OdeSolution solve_nonlinear_ode(const ScalarFunction& u, double length, std::int64_t steps) {
  // ds/dx = -s^2 + u(x).
  return integrate_rk4([&](double x, const double* s, double* ds) { ds[0] = -s[0] * s[0] + u(x); }, {0.0}, length,
                       steps);
}

OdeSolution solve_pendulum(const ScalarFunction& u, double length, std::int64_t steps, double k) {
  NEUROP_CHECK(std::isfinite(k), ValueError, "solve_pendulum: k must be finite, got {}", k);
  // s1' = s2,  s2' = -k sin(s1) + u(x).
  return integrate_rk4(
      [&](double x, const double* s, double* ds) {
        ds[0] = s[1];
        ds[1] = -k * std::sin(s[0]) + u(x);
      },
      {0.0, 0.0}, length, steps);
}

PointDataset generate_antiderivative_data(const FunctionSpace& space, std::int64_t samples, std::uint64_t seed,
                                          const OdeDataOptions& options) {
  return generate_ode_data(space, samples, seed, options, "antiderivative", 1, [&](const SampledFunction& u) {
    return solve_antiderivative(std::cref(u), space.length(), options.steps);
  });
}

PointDataset generate_nonlinear_ode_data(const FunctionSpace& space, std::int64_t samples, std::uint64_t seed,
                                         const OdeDataOptions& options) {
  return generate_ode_data(space, samples, seed, options, "nonlinear_ode", 1, [&](const SampledFunction& u) {
    return solve_nonlinear_ode(std::cref(u), space.length(), options.steps);
  });
}

PointDataset generate_pendulum_data(const FunctionSpace& space, std::int64_t samples, std::uint64_t seed,
                                    const OdeDataOptions& options, double k) {
  NEUROP_CHECK(std::isfinite(k), ValueError, "generate_pendulum_data: k must be finite, got {}", k);
  PointDataset dataset = generate_ode_data(space, samples, seed, options, "pendulum", 2, [&](const SampledFunction& u) {
    return solve_pendulum(std::cref(u), space.length(), options.steps, k);
  });
  dataset.parameters["k"] = k;
  return dataset;
}

}  // namespace neurop::data
