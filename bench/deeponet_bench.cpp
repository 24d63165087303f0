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

#include <algorithm>
#include <chrono>
#include <cstdio>
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
#include "bench/timing.hpp"

using namespace neurop;
using namespace neurop::bench;

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
    step_times.push_back(seconds_since(start));
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
      inference_times.push_back(seconds_since(start));
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
  return emit_report(report, out);
}
