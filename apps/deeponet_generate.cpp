// `neurop generate antiderivative|nonlinear-ode|pendulum|diffusion-reaction`: point
// data sets for DeepONet (datasets/point_dataset.hpp).
#include <chrono>
#include <memory>

#include "apps/common.hpp"
#include "apps/deeponet_commands.hpp"
#include "datasets/diffusion_reaction.hpp"
#include "datasets/function_space.hpp"
#include "datasets/ode_generators.hpp"
#include "lib/core/error.hpp"
#include "lib/core/log.hpp"

namespace neurop::app {
namespace {

using Clock = std::chrono::steady_clock;

// Options of the random input functions, shared by every generator.
struct SpaceOptions {
  std::string space = "grf";
  double length = 1.0;
  double length_scale = 0.2;
  double variance = 1.0;
  std::int64_t grid_points = 1001;
  double captured_variance = 0.999;
  std::int64_t terms = 10;
  std::string distribution = "normal";
  double scale = 1.0;
};

struct PointGeneratorOptions {
  SpaceOptions space;
  std::int64_t samples = 1000;
  std::int64_t sensors = 100;
  std::int64_t queries = 100;
  std::string layout = "product";
  std::uint64_t seed = 0;
  std::string out;
  int threads = 0;
  // ODE generators
  std::int64_t steps = 1000;
  double pendulum_k = 1.0;
  // diffusion-reaction
  data::DiffusionReactionOptions solver;
  std::int64_t query_space_points = 51, query_time_points = 51;
};

void add_space_options(CLI::App& sub, SpaceOptions& o) {
  sub.add_option("--space", o.space, "input functions: grf (RBF Gaussian random field), grf-kl (its truncated "
                                      "Karhunen-Loeve expansion), chebyshev or power-series")
      ->check(CLI::IsMember({"grf", "grf-kl", "chebyshev", "power-series"}))
      ->capture_default_str();
  sub.add_option("--length", o.length, "length T of the interval [0, T] of the input functions")->capture_default_str();
  sub.add_option("--length-scale", o.length_scale, "RBF kernel length scale (grf, grf-kl)")->capture_default_str();
  sub.add_option("--variance", o.variance, "RBF kernel variance k(x, x) (grf, grf-kl)")->capture_default_str();
  sub.add_option("--grid-points", o.grid_points, "points of the grid the field is drawn on (grf, grf-kl)")
      ->capture_default_str();
  sub.add_option("--captured-variance", o.captured_variance,
                 "share of the field variance the kept Karhunen-Loeve modes capture, in (0, 1] (grf-kl)")
      ->capture_default_str();
  sub.add_option("--terms", o.terms, "series terms (chebyshev, power-series)")->capture_default_str();
  sub.add_option("--distribution", o.distribution, "series coefficients: normal N(0, scale^2) or uniform U(-scale, scale)")
      ->check(CLI::IsMember({"normal", "uniform"}))
      ->capture_default_str();
  sub.add_option("--scale", o.scale, "scale of the series coefficients")->capture_default_str();
}

std::unique_ptr<data::FunctionSpace> make_space(const SpaceOptions& o) {
  if (o.space == "grf") {
    return std::make_unique<data::GaussianRandomField>(data::GaussianRandomFieldOptions{
        .length = o.length, .length_scale = o.length_scale, .variance = o.variance, .grid_points = o.grid_points});
  }
  if (o.space == "grf-kl") {
    return std::make_unique<data::KarhunenLoeveField>(data::KarhunenLoeveOptions{.length = o.length,
                                                                                 .length_scale = o.length_scale,
                                                                                 .variance = o.variance,
                                                                                 .grid_points = o.grid_points,
                                                                                 .captured_variance =
                                                                                     o.captured_variance});
  }
  const data::SeriesOptions series{.length = o.length,
                                   .terms = o.terms,
                                   .distribution = o.distribution == "uniform"
                                                       ? data::CoefficientDistribution::uniform
                                                       : data::CoefficientDistribution::normal,
                                   .scale = o.scale};
  if (o.space == "chebyshev") return std::make_unique<data::ChebyshevSpace>(series);
  return std::make_unique<data::PowerSeriesSpace>(series);
}

data::QueryLayout parse_layout(const std::string& name) {
  return name == "aligned" ? data::QueryLayout::aligned : data::QueryLayout::product;
}

void add_common_options(CLI::App& sub, PointGeneratorOptions& o, const std::string& default_out) {
  o.out = default_out;
  sub.add_option("--out,-o", o.out, "output HDF5 file")->capture_default_str();
  sub.add_option("--samples,-n", o.samples, "number of input functions")->capture_default_str();
  sub.add_option("--sensors,-m", o.sensors, "sensors m: points where each input function is sampled")
      ->capture_default_str();
  sub.add_option("--layout", o.layout,
                 "query layout: product (one query set shared by all functions) or aligned (random query points per "
                 "function)")
      ->check(CLI::IsMember({"product", "aligned"}))
      ->capture_default_str();
  sub.add_option("--seed", o.seed, "random seed; sample i depends only on (seed, i)")->capture_default_str();
  sub.add_option("--threads", o.threads, fmt::format("threads (0 = all cores, at most {})", kMaxThreads))
      ->capture_default_str();
  add_space_options(sub, o.space);
}

// Runs `generate` with logging and timing and writes the result.
template <typename Generate>
void write_generated(const PointGeneratorOptions& o, const std::string& problem, Generate&& generate) {
  apply_threads(o.threads);
  const std::filesystem::path out = o.out;
  if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
  const std::unique_ptr<data::FunctionSpace> space = make_space(o.space);
  logger().info("generating {} {} samples ({} sensors, {} layout, {} inputs) into {}", o.samples, problem, o.sensors,
                o.layout, space->name(), out.string());
  const auto start = Clock::now();
  const data::PointDataset dataset = generate(*space);
  data::write_point_dataset(out, dataset);
  logger().info("wrote {} ({} samples, {} query points each) in {}", out.string(), dataset.samples,
                dataset.query_count, format_duration(std::chrono::duration<double>(Clock::now() - start).count()));
}

void add_ode_generator(CLI::App& generate, const std::string& name, const std::string& description) {
  auto o = std::make_shared<PointGeneratorOptions>();
  CLI::App* sub = generate.add_subcommand(name, description);
  add_common_options(*sub, *o, "data/" + name + ".h5");
  sub->add_option("--queries,-P", o->queries, "query points per function")->capture_default_str();
  sub->add_option("--steps", o->steps, "RK4 steps on [0, T]")->capture_default_str();
  if (name == "pendulum")
    sub->add_option("--k", o->pendulum_k, "k = g / L of s2' = -k sin(s1) + u(x)")->capture_default_str();
  sub->callback([o, name] {
    const data::OdeDataOptions options{
        .sensor_count = o->sensors, .query_count = o->queries, .layout = parse_layout(o->layout), .steps = o->steps};
    write_generated(*o, name, [&](const data::FunctionSpace& space) {
      if (name == "antiderivative") return data::generate_antiderivative_data(space, o->samples, o->seed, options);
      if (name == "nonlinear-ode") return data::generate_nonlinear_ode_data(space, o->samples, o->seed, options);
      return data::generate_pendulum_data(space, o->samples, o->seed, options, o->pendulum_k);
    });
  });
}

void add_diffusion_reaction(CLI::App& generate) {
  auto o = std::make_shared<PointGeneratorOptions>();
  CLI::App* sub = generate.add_subcommand(
      "diffusion-reaction",
      "s_t = D s_xx + k s^2 + u(x) on [0, L] x [0, t_final], zero initial and boundary values: pairs (u, s)");
  add_common_options(*sub, *o, "data/diffusion-reaction.h5");
  data::DiffusionReactionOptions& s = o->solver;
  sub->add_option("--query-x", o->query_space_points, "query points in x (product layout)")->capture_default_str();
  sub->add_option("--query-t", o->query_time_points, "query points in t (product layout)")->capture_default_str();
  sub->add_option("--queries,-P", o->queries, "random query points per function (aligned layout)")
      ->capture_default_str();
  sub->add_option("--diffusion", s.diffusion, "diffusion coefficient D")->capture_default_str();
  sub->add_option("--reaction", s.reaction, "reaction coefficient k")->capture_default_str();
  sub->add_option("--final-time", s.final_time, "final time t_final")->capture_default_str();
  sub->add_option("--nx", s.space_intervals, "solver intervals in x")->capture_default_str();
  sub->add_option("--nt", s.time_steps, "solver steps in t")->capture_default_str();
  sub->callback([o] {
    const data::DiffusionReactionDataOptions options{.sensor_count = o->sensors,
                                                     .layout = parse_layout(o->layout),
                                                     .query_space_points = o->query_space_points,
                                                     .query_time_points = o->query_time_points,
                                                     .query_count = o->queries,
                                                     .solver = o->solver};
    write_generated(*o, "diffusion-reaction", [&](const data::FunctionSpace& space) {
      return data::generate_diffusion_reaction_data(space, o->samples, o->seed, options);
    });
  });
}

}  // namespace

void add_deeponet_generate_commands(CLI::App& generate) {
  add_ode_generator(generate, "antiderivative", "antiderivative ds/dx = u(x), s(0) = 0 on [0, T]: pairs (u, s)");
  add_ode_generator(generate, "nonlinear-ode", "nonlinear ODE ds/dx = -s^2 + u(x), s(0) = 0 on [0, T]: pairs (u, s)");
  add_ode_generator(generate, "pendulum",
                    "gravity pendulum s1' = s2, s2' = -k sin(s1) + u(x), s(0) = 0 on [0, T]: pairs (u, (s1, s2))");
  add_diffusion_reaction(generate);
}

}  // namespace neurop::app
