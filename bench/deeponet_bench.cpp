// Times one training step and one inference pass of an unstacked DeepONet in the
// Cartesian-product form. The work is the same as bench/pytorch/deeponet_bench.py:
// float32, synthetic data, branch [m, w, w] (ReLU after the hidden layer), trunk [d, w, w] (ReLU
// after every layer, as DeepXDE), Glorot-normal weights, zero biases, output
// branch trunk^T + b0, mean squared error over all B x P outputs, Adam. Prints a JSON
// report.
//
//   deeponet_bench [--threads 2] [--sensors 100] [--dim 1] [--width 40] [--functions 1000]
//                  [--points 100] [--train-warmup 20] [--train-repeats 300]
//                  [--inference-warmup 20] [--inference-repeats 300] [--out FILE]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "lib/autodiff/graph.hpp"
#include "lib/core/random.hpp"
#include "lib/core/threads.hpp"
#include "lib/nn/loss.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/tensor/ops.hpp"
#include "operators/deeponet/deeponet.hpp"
#include "operators/deeponet/dense.hpp"

using namespace neurop;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

nlohmann::json summarize(std::vector<double> times, std::int64_t samples) {
  std::sort(times.begin(), times.end());
  const double median = times.size() % 2 ? times[times.size() / 2]
                                         : 0.5 * (times[times.size() / 2 - 1] + times[times.size() / 2]);
  const double mean = std::accumulate(times.begin(), times.end(), 0.0) / static_cast<double>(times.size());
  return {{"runs", times.size()},
          {"median_s", median},
          {"min_s", times.front()},
          {"mean_s", mean},
          {"max_s", times.back()},
          {"samples_per_run", samples},
          {"samples_per_s_median", static_cast<double>(samples) / median},
          {"samples_per_s_best", static_cast<double>(samples) / times.front()}};
}

Tensor random_tensor(const Shape& shape, Rng& rng, bool uniform) {
  std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
  for (double& v : values) v = uniform ? rng.uniform() : rng.normal();
  return Tensor::from_vector(values, shape, DType::f32);
}

// Busy and total clock ticks of all CPUs (first line of /proc/stat); {0, 0} if unreadable.
std::pair<double, double> cpu_ticks() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu;
  std::vector<double> fields;
  double value = 0;
  while (fields.size() < 10 && stat >> value) fields.push_back(value);
  if (fields.size() < 5) return {0.0, 0.0};
  const double total = std::accumulate(fields.begin(), fields.end(), 0.0);
  return {total - fields[3] - fields[4], total};
}

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// CPU time that other processes took while the benchmark ran, as in bench_common.py's
// HostLoadMonitor: a share above a few percent means the timings were disturbed.
class HostLoadMonitor {
public:
  HostLoadMonitor() : start_ticks_(cpu_ticks()), start_self_(own_cpu_seconds()), start_(Clock::now()) {
    getloadavg(start_load_, 3);
  }
  nlohmann::json finish() const {
    const auto [busy, total] = cpu_ticks();
    const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double busy_seconds = (busy - start_ticks_.first) / ticks_per_second;
    const double total_seconds = (total - start_ticks_.second) / ticks_per_second;
    const double self = own_cpu_seconds() - start_self_;
    double end_load[3] = {0, 0, 0};
    getloadavg(end_load, 3);
    return {{"wall_s", seconds(start_)},
            {"loadavg_1min_start", start_load_[0]},
            {"loadavg_1min_end", end_load[0]},
            {"this_process_cpu_s", self},
            {"other_processes_share_of_all_cpus",
             total_seconds > 0 ? std::max(0.0, busy_seconds - self) / total_seconds : 0.0}};
  }

private:
  std::pair<double, double> start_ticks_;
  double start_self_;
  Clock::time_point start_;
  double start_load_[3] = {0, 0, 0};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time a training step and an inference pass of a Cartesian-product DeepONet"};
  int threads = 2, train_warmup = 20, train_repeats = 300, inference_warmup = 20, inference_repeats = 300;
  std::int64_t sensors = 100, dims = 1, width = 40, functions = 1000, points = 100;
  double learning_rate = 1e-3;
  std::uint64_t seed = 0;
  std::string out;
  app.add_option("--threads", threads, "OpenMP and Eigen threads")->capture_default_str();
  app.add_option("--sensors,-m", sensors, "branch input size m")->capture_default_str();
  app.add_option("--dim,-d", dims, "query point dimension d")->capture_default_str();
  app.add_option("--width,-w", width, "hidden and latent width w")->capture_default_str();
  app.add_option("--functions,-B", functions, "input functions B")->capture_default_str();
  app.add_option("--points,-P", points, "query points P")->capture_default_str();
  app.add_option("--lr", learning_rate, "Adam learning rate")->capture_default_str();
  app.add_option("--train-warmup", train_warmup, "untimed training steps")->capture_default_str();
  app.add_option("--train-repeats", train_repeats, "timed training steps")->capture_default_str();
  app.add_option("--inference-warmup", inference_warmup, "untimed forward passes")->capture_default_str();
  app.add_option("--inference-repeats", inference_repeats, "timed forward passes")->capture_default_str();
  app.add_option("--seed", seed, "seed of the weights and synthetic data")->capture_default_str();
  app.add_option("--out", out, "also write the JSON report to this file");
  CLI11_PARSE(app, argc, argv);
  if (sensors < 1 || dims < 1 || width < 1 || functions < 1 || points < 1 || train_repeats < 1 ||
      inference_repeats < 1) {
    std::fprintf(stderr, "sizes and repeat counts must be >= 1\n");
    return 2;
  }

  const HostLoadMonitor monitor;
  set_num_threads(threads);
  Rng rng(seed);
  auto branch = std::make_shared<deeponet::DenseNet>(std::vector<std::int64_t>{sensors, width, width},
                                                     nn::Activation::relu, rng);
  auto trunk = std::make_shared<deeponet::DenseNet>(std::vector<std::int64_t>{dims, width, width},
                                                    nn::Activation::relu, rng, nn::Activation::relu);
  deeponet::DeepOnet model(branch, trunk);
  optim::Adam adam(model.parameters(), {.learning_rate = learning_rate});
  const nn::Loss loss{nn::LossKind::mse, nn::Reduction::mean};

  const Tensor u = random_tensor({functions, sensors}, rng, /*uniform=*/false);
  const Tensor y = random_tensor({points, dims}, rng, /*uniform=*/true);
  const Tensor target = random_tensor({functions, points}, rng, /*uniform=*/false);

  double last_loss = 0.0;
  auto train_step = [&] {
    adam.zero_grad();
    const Tensor value = loss(model.forward_product(u, y), target);
    value.backward();
    adam.step();
    last_loss = value.item();
  };
  for (int r = 0; r < train_warmup; ++r) train_step();
  std::vector<double> step_times;
  for (int r = 0; r < train_repeats; ++r) {
    const auto start = Clock::now();
    train_step();
    step_times.push_back(seconds(start));
  }
  if (!std::isfinite(last_loss)) {
    std::fprintf(stderr, "training loss became %g; the timing would not be representative\n", last_loss);
    return 1;
  }

  std::vector<double> inference_times;
  {
    NoGradGuard no_grad;
    for (int r = 0; r < inference_warmup; ++r) model.forward_product(u, y);
    for (int r = 0; r < inference_repeats; ++r) {
      const auto start = Clock::now();
      const Tensor prediction = model.forward_product(u, y);
      inference_times.push_back(seconds(start));
    }
  }

  nlohmann::json report;
  report["benchmark"] = "deeponet_cartesian_product";
  report["implementation"] = "neurop";
  report["config"] = {{"branch_sizes", {sensors, width, width}},
                      {"trunk_sizes", {dims, width, width}},
                      {"functions", functions},
                      {"points", points},
                      {"dtype", "float32"},
                      {"threads", threads},
                      {"optimizer", fmt::format("Adam(lr={})", learning_rate)},
                      {"loss", "mean squared error over all B x P outputs (full batch)"},
                      {"parameters", model.parameter_count()},
                      {"data", "synthetic neurop::Rng normal / uniform values"}};
  report["training_step"] = summarize(step_times, functions);
  report["training_step"]["final_loss"] = last_loss;
  report["inference"] = summarize(inference_times, functions);
  report["host_load"] = monitor.finish();
  const std::string text = report.dump(2);
  std::printf("%s\n", text.c_str());
  if (!out.empty()) {
    std::ofstream file(out);
    file << text << "\n";
    if (!file.good()) {
      std::fprintf(stderr, "cannot write '%s'\n", out.c_str());
      return 1;
    }
  }
  return 0;
}
