#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "datasets/diffusion_reaction.hpp"
#include "datasets/function_space.hpp"
#include "datasets/ode_generators.hpp"
#include "lib/core/error.hpp"
#include "lib/core/threads.hpp"
#include "tests/support/check.hpp"

using namespace neurop;
using namespace neurop::data;
using neurop::testing::kF64Loose;
using neurop::testing::kF64Tight;
using neurop::testing::Tolerance;

namespace {

constexpr double kPi = std::numbers::pi;

// Max |numerical - exact| of one component over the RK4 nodes and the midpoints between
// them, so the Hermite dense output is measured too.
double max_error(const OdeSolution& solution, const std::function<double(double)>& exact, std::int64_t component) {
  double error = 0.0;
  for (const double x : uniform_points(0.0, solution.length, 2 * solution.steps + 1))
    error = std::max(error, std::abs(solution.evaluate(x, component) - exact(x)));
  return error;
}

// log2 of successive error ratios for a refinement by 2.
std::vector<double> observed_orders(const std::vector<double>& errors) {
  std::vector<double> orders;
  for (std::size_t i = 1; i < errors.size(); ++i) orders.push_back(std::log2(errors[i - 1] / errors[i]));
  return orders;
}

void check_orders(const std::vector<double>& errors, double expected, const std::string& label) {
  const std::vector<double> orders = observed_orders(errors);
  for (std::size_t i = 0; i < orders.size(); ++i) {
    MESSAGE(label, ": error ", errors[i + 1], ", observed order ", orders[i]);
    CHECK(orders[i] > expected - 0.3);
    CHECK(orders[i] < expected + 0.3);
  }
}

// Max |numerical - exact| over the whole space-time grid.
double max_error(const DiffusionReactionSolution& solution, const std::function<double(double, double)>& exact) {
  double error = 0.0;
  const std::vector<double> xs = uniform_points(0.0, solution.length, solution.space_intervals + 1);
  const std::vector<double> ts = uniform_points(0.0, solution.final_time, solution.time_steps + 1);
  for (std::size_t n = 0; n < ts.size(); ++n) {
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double value = solution.values[n * xs.size() + i];
      error = std::max(error, std::abs(value - exact(xs[i], ts[n])));
    }
  }
  return error;
}

// Source f = s_t - D s_xx - k s^2 for a manufactured solution s.
struct Manufactured {
  std::function<double(double, double)> s, s_t, s_xx;

  SpaceTimeFunction source(const DiffusionReactionOptions& options) const {
    return [this, options](double x, double t) {
      const double value = s(x, t);
      return s_t(x, t) - options.diffusion * s_xx(x, t) - options.reaction * value * value;
    };
  }
};

}  // namespace

TEST_CASE("antiderivative of cos(pi x) on [0, 2]") {
  // s(x) = sin(pi x) / pi.
  const auto u = [](double x) { return std::cos(kPi * x); };
  const OdeSolution solution = solve_antiderivative(u, /*length=*/2.0, /*steps=*/200);
  REQUIRE(solution.finite);
  MESSAGE("200 steps: s(0.5) = ", solution.evaluate(0.5), ", s(2) = ", solution.evaluate(2.0));
  CHECK_CLOSE(solution.evaluate(0.5), 0.318310, (Tolerance{5e-7, 0.0}));  // reference given to 6 digits
  CHECK_CLOSE(solution.evaluate(2.0), 0.0, (Tolerance{1e-10, 0.0}));      // RK4 error at 200 steps ~ 1e-11

  std::vector<double> errors;
  for (const std::int64_t steps : {10, 20, 40, 80}) {
    errors.push_back(max_error(solve_antiderivative(u, 2.0, steps), [](double x) { return std::sin(kPi * x) / kPi; }, 0));
  }
  check_orders(errors, 4.0, "antiderivative RK4");
}

TEST_CASE("nonlinear ODE manufactured solution") {
  // s = x sin(2x): s' = sin(2x) + 2x cos(2x), so u = s' + s^2.
  const auto s = [](double x) { return x * std::sin(2.0 * x); };
  const auto u = [&](double x) { return std::sin(2.0 * x) + 2.0 * x * std::cos(2.0 * x) + s(x) * s(x); };
  std::vector<double> errors;
  for (const std::int64_t steps : {10, 20, 40, 80}) errors.push_back(max_error(solve_nonlinear_ode(u, 1.5, steps), s, 0));
  check_orders(errors, 4.0, "nonlinear ODE RK4");
  CHECK(errors.back() < 1e-7);
}

TEST_CASE("pendulum manufactured solution") {
  // s1 = sin^2 x, s2 = s1' = sin(2x), s2' = 2 cos(2x) = -k sin(s1) + u.
  for (const double k : {1.0, 4.0}) {
    const auto s1 = [](double x) { return std::sin(x) * std::sin(x); };
    const auto s2 = [](double x) { return std::sin(2.0 * x); };
    const auto u = [&](double x) { return 2.0 * std::cos(2.0 * x) + k * std::sin(s1(x)); };
    std::vector<double> errors_s1, errors_s2;
    for (const std::int64_t steps : {10, 20, 40, 80}) {
      const OdeSolution solution = solve_pendulum(u, 2.0, steps, k);
      errors_s1.push_back(max_error(solution, s1, 0));
      errors_s2.push_back(max_error(solution, s2, 1));
    }
    check_orders(errors_s1, 4.0, fmt::format("pendulum s1, k = {}", k));
    check_orders(errors_s2, 4.0, fmt::format("pendulum s2, k = {}", k));
  }
}

TEST_CASE("integrate_rk4 reports blow-up as status") {
  // s' = s^2, s(0) = 1 has s = 1 / (1 - x), which blows up at x = 1.
  const OdeSolution solution =
      integrate_rk4([](double, const double* s, double* ds) { ds[0] = s[0] * s[0]; }, {1.0}, 2.0, 1000);
  CHECK_FALSE(solution.finite);
  CHECK(std::isnan(solution.states.back()));
  CHECK_THROWS_AS(integrate_rk4([](double, const double*, double* ds) { ds[0] = 0.0; }, {0.0}, 1.0, 0), ValueError);
  CHECK_THROWS_AS(integrate_rk4([](double, const double*, double* ds) { ds[0] = 0.0; }, {}, 1.0, 10), ValueError);
}

TEST_CASE("antiderivative data on power series inputs") {
  // u = sum_k a_k (x/T)^k integrates to s = sum_k a_k T (x/T)^{k+1} / (k + 1).
  const SeriesOptions series{/*length=*/2.0, /*terms=*/4, CoefficientDistribution::normal, /*scale=*/1.0};
  const PowerSeriesSpace space(series);
  for (const QueryLayout layout : {QueryLayout::product, QueryLayout::aligned}) {
    OdeDataOptions options;
    options.sensor_count = 12;
    options.query_count = 11;
    options.layout = layout;
    options.steps = 100;
    const PointDataset dataset = generate_antiderivative_data(space, /*samples=*/6, /*seed=*/42, options);
    CHECK_NOTHROW(validate(dataset));
    CHECK(dataset.generator == "antiderivative");
    CHECK(dataset.output_shape() == Shape{6, 11, 1});
    CHECK(dataset.domain_upper == std::vector<double>{2.0});
    CHECK(std::get<std::string>(dataset.parameters.at("space")) == "power_series");
    for (std::int64_t n = 0; n < 6; ++n) {
      Rng rng = Rng::stream(42, static_cast<std::uint64_t>(n));
      const SampledFunction u = space.sample(rng);
      const std::vector<double>& a = u.coefficients();
      for (std::int64_t j = 0; j < 12; ++j) {
        CHECK(dataset.branch_inputs[static_cast<std::size_t>(n * 12 + j)] == u(dataset.sensors[static_cast<std::size_t>(j)]));
      }
      for (std::int64_t p = 0; p < 11; ++p) {
        const double x = *dataset.query(n, p);
        double exact = 0.0;
        for (std::size_t k = 0; k < a.size(); ++k)
          exact += a[k] * 2.0 * std::pow(x / 2.0, static_cast<double>(k + 1)) / static_cast<double>(k + 1);
        // Simpson (RK4 for s' = u) is exact for cubic u; off the nodes the cubic Hermite
        // output of the quartic s has error <= h^4 max|s''''| / 384 ~ 1e-9 for h = 0.02.
        CHECK_CLOSE(dataset.outputs[static_cast<std::size_t>(n * 11 + p)], exact, (Tolerance{1e-8, 0.0}));
      }
    }
  }
}

TEST_CASE("ODE data independent of thread count") {
  const GaussianRandomField space({/*length=*/1.0, /*length_scale=*/0.2, /*variance=*/1.0, /*grid_points=*/101});
  OdeDataOptions options;
  options.sensor_count = 10;
  options.query_count = 7;
  options.layout = QueryLayout::aligned;
  options.steps = 50;
  const int threads = num_threads();
  set_num_threads(1);
  const PointDataset serial = generate_pendulum_data(space, 9, 5, options);
  set_num_threads(2);
  const PointDataset parallel = generate_pendulum_data(space, 9, 5, options);
  const PointDataset fewer = generate_pendulum_data(space, 4, 5, options);
  set_num_threads(threads);
  CHECK(serial.output_channels == 2);
  CHECK(serial.outputs == parallel.outputs);
  CHECK(serial.queries == parallel.queries);
  CHECK(serial.branch_inputs == parallel.branch_inputs);
  CHECK(std::equal(fewer.outputs.begin(), fewer.outputs.end(), serial.outputs.begin()));
  CHECK(std::equal(fewer.queries.begin(), fewer.queries.end(), serial.queries.begin()));
}

TEST_CASE("nonlinear ODE data match finer solve") {
  const GaussianRandomField space({/*length=*/1.0, /*length_scale=*/0.2, /*variance=*/1.0, /*grid_points=*/101});
  OdeDataOptions options;
  options.sensor_count = 20;
  options.query_count = 9;
  options.steps = 200;
  const PointDataset dataset = generate_nonlinear_ode_data(space, 3, 8, options);
  for (std::int64_t n = 0; n < 3; ++n) {
    Rng rng = Rng::stream(8, static_cast<std::uint64_t>(n));
    const SampledFunction u = space.sample(rng);
    const OdeSolution fine = solve_nonlinear_ode(std::cref(u), 1.0, 800);
    for (std::int64_t p = 0; p < 9; ++p) {
      // RK4 with h = 1/200 on a spline input with knots every 1/100: error ~ 1e-10.
      CHECK_CLOSE(dataset.outputs[static_cast<std::size_t>(n * 9 + p)], fine.evaluate(*dataset.query(n, p)),
                  (Tolerance{1e-8, 0.0}));
    }
  }
}

TEST_CASE("nonlinear ODE data reject a blow-up") {
  // Constant u = a_0 < -(pi/2)^2 makes s = -sqrt(|a_0|) tan(sqrt(|a_0|) x) blow up before x = 1.
  const PowerSeriesSpace space({/*length=*/1.0, /*terms=*/1, CoefficientDistribution::uniform, /*scale=*/100.0});
  OdeDataOptions options;
  options.steps = 100;
  CHECK_THROWS_AS(generate_nonlinear_ode_data(space, 16, 1, options), DataError);
  options.query_count = 0;
  CHECK_THROWS_AS(generate_nonlinear_ode_data(space, 16, 1, options), ValueError);
}

TEST_CASE("diffusion-reaction second order in time") {
  // s = 4 x (1 - x) sin(2t) is quadratic in x, so the centred second difference is exact
  // and the error is the time error alone.
  const Manufactured exact{
      [](double x, double t) { return 4.0 * x * (1.0 - x) * std::sin(2.0 * t); },
      [](double x, double t) { return 8.0 * x * (1.0 - x) * std::cos(2.0 * t); },
      [](double, double t) { return -8.0 * std::sin(2.0 * t); },
  };
  for (const auto& [diffusion, reaction] : {std::pair{0.01, 0.01}, std::pair{0.1, 1.0}}) {
    std::vector<double> errors;
    for (const std::int64_t steps : {10, 20, 40, 80}) {
      const DiffusionReactionOptions options{diffusion, reaction, /*final_time=*/1.0, /*space_intervals=*/8, steps};
      errors.push_back(max_error(solve_diffusion_reaction(exact.source(options), 1.0, options), exact.s));
    }
    check_orders(errors, 2.0, reaction == 1.0 ? "diffusion-reaction dt (D = 0.1, k = 1)" : "diffusion-reaction dt (D = k = 0.01)");
  }
}

TEST_CASE("diffusion-reaction second order in space") {
  // s = sin(pi x) t is linear in t, so Crank-Nicolson is exact in time except for the
  // O(k dt^2) reaction linearisation, which dt = 1/400 makes negligible.
  const Manufactured exact{
      [](double x, double t) { return std::sin(kPi * x) * t; },
      [](double x, double) { return std::sin(kPi * x); },
      [](double x, double t) { return -kPi * kPi * std::sin(kPi * x) * t; },
  };
  for (const auto& [diffusion, reaction] : {std::pair{0.01, 0.01}, std::pair{0.1, 1.0}}) {
    std::vector<double> errors;
    for (const std::int64_t intervals : {10, 20, 40, 80}) {
      const DiffusionReactionOptions options{diffusion, reaction, /*final_time=*/1.0, intervals, /*time_steps=*/400};
      errors.push_back(max_error(solve_diffusion_reaction(exact.source(options), 1.0, options), exact.s));
    }
    check_orders(errors, 2.0, reaction == 1.0 ? "diffusion-reaction dx (D = 0.1, k = 1)" : "diffusion-reaction dx (D = k = 0.01)");
  }
}

TEST_CASE("diffusion-reaction second order jointly") {
  // s = sin(pi x) sin(pi t): neither discretisation is exact.
  const Manufactured exact{
      [](double x, double t) { return std::sin(kPi * x) * std::sin(kPi * t); },
      [](double x, double t) { return kPi * std::sin(kPi * x) * std::cos(kPi * t); },
      [](double x, double t) { return -kPi * kPi * std::sin(kPi * x) * std::sin(kPi * t); },
  };
  std::vector<double> errors;
  for (const std::int64_t n : {10, 20, 40, 80}) {
    const DiffusionReactionOptions options{0.1, 1.0, /*final_time=*/1.0, n, n};
    errors.push_back(max_error(solve_diffusion_reaction(exact.source(options), 1.0, options), exact.s));
  }
  check_orders(errors, 2.0, "diffusion-reaction dx = dt");
}

TEST_CASE("diffusion-reaction data layout") {
  const GaussianRandomField space({/*length=*/1.0, /*length_scale=*/0.2, /*variance=*/1.0, /*grid_points=*/101});
  DiffusionReactionDataOptions options;
  options.sensor_count = 16;
  options.query_space_points = 11;
  options.query_time_points = 6;
  options.solver.space_intervals = 20;
  options.solver.time_steps = 20;
  const PointDataset dataset = generate_diffusion_reaction_data(space, 3, 21, options);

  CHECK_NOTHROW(validate(dataset));
  CHECK(dataset.query_shape() == Shape{66, 2});
  CHECK(dataset.output_shape() == Shape{3, 66, 1});
  CHECK(dataset.domain_lower == std::vector<double>{0.0, 0.0});
  CHECK(dataset.domain_upper == std::vector<double>{1.0, 1.0});

  for (std::int64_t n = 0; n < 3; ++n) {
    Rng rng = Rng::stream(21, static_cast<std::uint64_t>(n));
    const SampledFunction u = space.sample(rng);
    const DiffusionReactionSolution solution =
        solve_diffusion_reaction([&](double x, double) { return u(x); }, 1.0, options.solver);
    for (std::int64_t p = 0; p < 66; ++p) {
      const double* q = dataset.query(n, p);
      const double value = dataset.outputs[static_cast<std::size_t>(n * 66 + p)];
      CHECK_CLOSE(value, solution.evaluate(q[0], q[1]), kF64Tight);
      // Zero initial and boundary values.
      if (q[1] == 0.0 || q[0] == 0.0 || q[0] == 1.0) CHECK(value == 0.0);
    }
  }

  options.layout = QueryLayout::aligned;
  options.query_count = 5;
  const PointDataset aligned = generate_diffusion_reaction_data(space, 2, 21, options);
  CHECK(aligned.query_shape() == Shape{2, 5, 2});
  CHECK_NOTHROW(validate(aligned));
  CHECK(aligned.branch_inputs == std::vector<double>(dataset.branch_inputs.begin(), dataset.branch_inputs.begin() + 32));
}
