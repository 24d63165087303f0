#include "apps/darcy_generate.hpp"

#include <chrono>
#include <memory>

#include "apps/common.hpp"
#include "datasets/darcy.hpp"
#include "lib/core/log.hpp"

namespace neurop::app {

void add_darcy_generate_command(CLI::App& generate) {
  struct Options {
    data::DarcyOptions darcy;
    std::string out = "data/darcy.h5";
    int threads = 0;
  };
  auto options = std::make_shared<Options>();
  data::DarcyOptions& d = options->darcy;
  d.output_resolution = 85;
  CLI::App* sub = generate.add_subcommand(
      "darcy",
      "2D Darcy flow -div(a grad u) = f on the unit square, u = 0 on the boundary: pairs (a, u) with a piecewise "
      "constant coefficient");
  sub->add_option("--out,-o", options->out, "output HDF5 file")->capture_default_str();
  sub->add_option("--samples,-n", d.samples, "number of samples")->capture_default_str();
  sub->add_option("--solve-resolution", d.resolution, "points per axis of the solve grid, boundary included")
      ->capture_default_str();
  sub->add_option("--resolution", d.output_resolution,
                  "points per axis stored; s - 1 must divide solve-resolution - 1 (421 gives 211, 141, 106, 85, "
                  "...); 0 stores the solve grid")
      ->capture_default_str();
  sub->add_option("--alpha", d.alpha, "field covariance (-Laplacian + tau^2)^(-alpha): alpha")->capture_default_str();
  sub->add_option("--tau", d.tau, "field covariance parameter tau")->capture_default_str();
  sub->add_option("--high-value", d.high_value, "a where the field is >= 0 (must be > 0)")->capture_default_str();
  sub->add_option("--low-value", d.low_value, "a where the field is < 0 (must be > 0)")->capture_default_str();
  sub->add_option("--forcing", d.forcing, "constant right-hand side f")->capture_default_str();
  sub->add_option("--tolerance", d.solver.relative_tolerance, "relative residual at which each solve stops")
      ->capture_default_str();
  sub->add_option("--seed", d.seed, "random seed; sample i depends only on (seed, i)")->capture_default_str();
  sub->add_option("--threads", options->threads, fmt::format("threads (0 = all cores, at most {})", kMaxThreads))
      ->capture_default_str();
  sub->callback([options] {
    apply_threads(options->threads);
    const data::DarcyOptions& darcy = options->darcy;
    data::validate(darcy);
    const std::filesystem::path out = options->out;
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
    logger().info("generating {} Darcy samples (a in {{{}, {}}}, solve grid {}, stored at {}) into {}", darcy.samples,
                  darcy.high_value, darcy.low_value, darcy.resolution,
                  darcy.output_resolution == 0 ? darcy.resolution : darcy.output_resolution, out.string());
    const auto start = std::chrono::steady_clock::now();
    const data::GridDataset dataset = data::generate_darcy(darcy);
    data::write_grid_dataset(out, dataset);
    logger().info("wrote {} ({} samples, {} x {} points) in {}", out.string(), dataset.size(), dataset.input_shape[2],
                  dataset.input_shape[3],
                  format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
  });
}

}  // namespace neurop::app
