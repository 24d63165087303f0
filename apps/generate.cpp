// `neurop generate <problem>`: writes a data set file.
#include <chrono>
#include <memory>
#include <mutex>

#include "apps/commands.hpp"
#include "apps/common.hpp"
#include "apps/darcy_generate.hpp"
#include "apps/deeponet_commands.hpp"
#include "datasets/burgers.hpp"
#include "lib/core/log.hpp"

namespace neurop::app {
namespace {

using Clock = std::chrono::steady_clock;

// Logs "generated i/n samples" at most every 5 seconds and at the end.
class SampleProgress {
public:
  explicit SampleProgress(std::string what) : what_(std::move(what)), start_(Clock::now()), last_(start_) {}
  void operator()(std::int64_t done, std::int64_t total) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = Clock::now();
    if (done != total && now - last_ < std::chrono::seconds(5)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double eta = done > 0 ? elapsed * static_cast<double>(total - done) / static_cast<double>(done) : 0.0;
    logger().info("{}: {}/{} samples, elapsed {}, ETA {}", what_, done, total, format_duration(elapsed),
                  format_duration(eta));
  }

private:
  std::string what_;
  Clock::time_point start_, last_;
  std::mutex mutex_;
};

void add_burgers(CLI::App& generate) {
  struct Options {
    data::BurgersConfig config;
    std::string out = "data/burgers.h5";
    int threads = 0;
  };
  auto options = std::make_shared<Options>();
  CLI::App* sub = generate.add_subcommand(
      "burgers", "1D viscous Burgers u_t + (u^2/2)_x = nu u_xx on [0, 1): pairs (u0, u(t_final))");
  data::BurgersConfig& c = options->config;
  sub->add_option("--out,-o", options->out, "output HDF5 file")->capture_default_str();
  sub->add_option("--samples,-n", c.samples, "number of samples")->capture_default_str();
  sub->add_option("--resolution", c.resolution, "stored points per sample (must divide --fine-resolution)")
      ->capture_default_str();
  sub->add_option("--fine-resolution", c.fine_resolution, "solver grid points")->capture_default_str();
  sub->add_option("--viscosity,--nu", c.viscosity, "viscosity nu")->capture_default_str();
  sub->add_option("--t-final", c.t_final, "final time")->capture_default_str();
  sub->add_option("--sigma", c.initial.sigma, "u0 ~ N(0, sigma^2 (-Laplacian + tau^2 I)^(-gamma)): sigma")
      ->capture_default_str();
  sub->add_option("--tau", c.initial.tau, "u0 covariance parameter tau")->capture_default_str();
  sub->add_option("--gamma", c.initial.gamma, "u0 covariance exponent gamma")->capture_default_str();
  sub->add_option("--max-dt", c.stepping.max_dt, "largest time step")->capture_default_str();
  sub->add_option("--seed", c.seed, "random seed; sample i depends only on (seed, i)")->capture_default_str();
  sub->add_option("--threads", options->threads, fmt::format("threads (0 = all cores, at most {})", kMaxThreads))
      ->capture_default_str();
  sub->callback([options] {
    apply_threads(options->threads);
    data::validate(options->config);
    const std::filesystem::path out = options->out;
    create_parent_folder(out, "--out");
    logger().info("generating {} Burgers samples (nu = {}, fine grid {}, stored at {}) into {}",
                  options->config.samples, options->config.viscosity, options->config.fine_resolution,
                  options->config.resolution, out.string());
    const auto start = Clock::now();
    SampleProgress progress("burgers");
    const data::GridDataset dataset =
        data::generate_burgers(options->config, [&](std::int64_t done, std::int64_t total) { progress(done, total); });
    data::write_grid_dataset(out, dataset);
    logger().info("wrote {} ({} samples, {} points) in {}", out.string(), dataset.size(), dataset.input_shape[2],
                  format_duration(std::chrono::duration<double>(Clock::now() - start).count()));
  });
}

}  // namespace

void add_generate_commands(CLI::App& app) {
  CLI::App* generate = app.add_subcommand("generate", "generate a data set file (HDF5)");
  generate->require_subcommand(1);
  add_burgers(*generate);
  add_darcy_generate_command(*generate);
  add_deeponet_generate_commands(*generate);
}

}  // namespace neurop::app
