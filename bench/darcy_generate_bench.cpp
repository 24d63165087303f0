// Checks the multigrid Darcy solver against Eigen's sparse Cholesky on the benchmark
// grid sizes and times Darcy data generation at 421 x 421. Prints a JSON report.
//
//   darcy_generate_bench [--sizes 65,67,85,106,141,211,421,423] [--skip-check]
//                        [--resolution 421] [--samples 8] [--threads 1,2] [--out report.json]
//
// "multigrid" lists, for each grid size n (points per axis, boundary included) and
// each accepted level count, both methods (preconditioned CG and plain V-cycles) with
// their iterations, final relative residual, max |u - u_direct| / max |u_direct| and
// times; the coefficient is sample 0 of the Darcy data set at that size. "generate"
// times generate_darcy for each thread count and projects the time for 1000 samples.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <Eigen/SparseCholesky>
#include <nlohmann/json.hpp>

#include "datasets/darcy.hpp"
#include "lib/core/threads.hpp"
#include "solvers/multigrid.hpp"

using namespace neurop;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

nlohmann::json check_size(std::int64_t n) {
  data::DarcyOptions options;
  options.resolution = n;
  const std::vector<double> a = data::solve_darcy_sample(options, 0).coefficient;
  const std::vector<double> f(a.size(), 1.0);

  // Reference: sparse Cholesky on the same assembled matrix.
  auto start = Clock::now();
  const Eigen::SparseMatrix<double> matrix = solvers::assemble_diffusion_matrix(a, n);
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> direct(matrix);
  const Eigen::VectorXd reference = direct.solve(Eigen::VectorXd::Ones(matrix.rows()));
  const double direct_seconds = seconds(start);
  const double scale = reference.cwiseAbs().maxCoeff();

  nlohmann::json runs = nlohmann::json::array();
  for (int levels = 1; levels <= solvers::max_multigrid_levels(n); ++levels) {
    for (const auto method : {solvers::MultigridMethod::preconditioned_cg, solvers::MultigridMethod::v_cycle}) {
      solvers::MultigridOptions solver;
      solver.levels = levels;
      solver.method = method;
      start = Clock::now();
      solvers::DiffusionMultigrid multigrid(a, n, n, solver);
      const double setup_seconds = seconds(start);
      std::vector<double> u(a.size());
      start = Clock::now();
      const solvers::MultigridStatus status = multigrid.solve(f, u);
      const double solve_seconds = seconds(start);
      double difference = 0.0;
      for (std::int64_t i = 1; i <= n - 2; ++i) {
        for (std::int64_t j = 1; j <= n - 2; ++j) {
          const double exact = reference[(i - 1) * (n - 2) + (j - 1)];
          difference = std::max(difference, std::abs(u[static_cast<std::size_t>(i * n + j)] - exact));
        }
      }
      runs.push_back({{"levels", levels},
                      {"method", method == solvers::MultigridMethod::v_cycle ? "v_cycle" : "preconditioned_cg"},
                      {"iterations", status.iterations},
                      {"relative_residual", status.relative_residual},
                      {"converged", status.converged},
                      {"max_difference_to_direct", difference / scale},
                      {"setup_s", setup_seconds},
                      {"solve_s", solve_seconds}});
    }
  }
  solvers::DiffusionMultigrid automatic(a, n, n);
  return {{"n", n},
          {"automatic_levels", automatic.levels()},
          {"max_levels", solvers::max_multigrid_levels(n)},
          {"direct_factor_and_solve_s", direct_seconds},
          {"runs", runs}};
}

nlohmann::json time_generation(std::int64_t resolution, std::int64_t samples, int threads) {
  set_num_threads(threads);
  data::DarcyOptions options;
  options.resolution = resolution;
  options.samples = samples;
  options.seed = 1;
  const auto start = Clock::now();
  const data::GridDataset dataset = data::generate_darcy(options);
  const double elapsed = seconds(start);
  return {{"threads", threads},
          {"resolution", resolution},
          {"samples", samples},
          {"wall_s", elapsed},
          {"s_per_sample", elapsed / static_cast<double>(samples)},
          {"projected_1000_samples_s", 1000.0 * elapsed / static_cast<double>(samples)},
          {"max_solver_iterations", std::get<std::int64_t>(dataset.parameters.at("solver_max_iterations_used"))},
          {"max_relative_residual", std::get<double>(dataset.parameters.at("solver_max_relative_residual"))}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Check the Darcy multigrid solver against a direct solve and time Darcy data generation"};
  std::vector<std::int64_t> sizes = {65, 67, 85, 106, 141, 211, 421, 423};
  std::vector<int> thread_counts = {1, 2};
  std::int64_t resolution = 421, samples = 8;
  std::string out;
  bool skip_check = false;
  app.add_option("--sizes", sizes, "grid sizes n (points per axis) for the direct-solver check")->delimiter(',');
  app.add_flag("--skip-check", skip_check, "skip the direct-solver check and only time generation");
  app.add_option("--threads", thread_counts, "thread counts for the generation timing")->delimiter(',');
  app.add_option("--resolution", resolution, "grid size for the generation timing")->capture_default_str();
  app.add_option("--samples", samples, "samples per generation timing (0 skips it)")->capture_default_str();
  app.add_option("--out", out, "also write the JSON report to this file");
  CLI11_PARSE(app, argc, argv);

  nlohmann::json report;
  report["multigrid"] = nlohmann::json::array();
  set_num_threads(1);
  if (skip_check) sizes.clear();
  for (const std::int64_t n : sizes) {
    std::fprintf(stderr, "checking n = %lld\n", static_cast<long long>(n));
    report["multigrid"].push_back(check_size(n));
  }
  report["generate"] = nlohmann::json::array();
  if (samples > 0) {
    for (const int threads : thread_counts) {
      std::fprintf(stderr, "generating %lld samples at %lld on %d threads\n", static_cast<long long>(samples),
                   static_cast<long long>(resolution), threads);
      report["generate"].push_back(time_generation(resolution, samples, threads));
    }
  }
  const std::string text = report.dump(2);
  std::printf("%s\n", text.c_str());
  if (!out.empty()) std::ofstream(out) << text << '\n';
  return 0;
}
