// Times one training epoch and one inference batch of the 1D Burgers FNO, the same
// work as bench/pytorch/fno1d_bench.py: float32, synthetic data, Adam, the summed
// per-sample relative L2 loss. Prints a JSON report.
//
//   fno1d_bench [--threads 2] [--size 1024] [--batch 20] [--steps 50]
//               [--epoch-repeats 7] [--inference-repeats 50] [--backend auto|dft|fft]
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
#include "lib/tensor/spectral.hpp"
#include "operators/fno/fno.hpp"
#include "bench/timing.hpp"

using namespace neurop;
using namespace neurop::bench;

int main(int argc, char** argv) {
  CLI::App app{"Time a training epoch and an inference batch of the 1D Burgers FNO"};
  int threads = 2, size = 1024, batch = 20, steps = 50, epoch_repeats = 7, inference_repeats = 50, modes = 16,
      width = 64;
  std::string backend = "auto", out;
  app.add_option("--threads", threads, "OpenMP and Eigen threads")->capture_default_str();
  app.add_option("--size", size, "grid points S")->capture_default_str();
  app.add_option("--batch", batch, "samples per batch")->capture_default_str();
  app.add_option("--steps", steps, "optimizer steps per training epoch")->capture_default_str();
  app.add_option("--modes", modes, "Fourier modes per layer")->capture_default_str();
  app.add_option("--width", width, "channels in the Fourier layers")->capture_default_str();
  app.add_option("--epoch-repeats", epoch_repeats, "timed training epochs")->capture_default_str();
  app.add_option("--inference-repeats", inference_repeats, "timed forward passes")->capture_default_str();
  app.add_option("--backend", backend, "spectral backend: auto, dft or fft")
      ->check(CLI::IsMember({"auto", "dft", "fft"}))
      ->capture_default_str();
  app.add_option("--out", out, "also write the JSON report to this file");
  CLI11_PARSE(app, argc, argv);
  const HostLoadMonitor monitor;

  set_num_threads(threads);
  set_spectral_backend(backend == "dft"   ? SpectralBackend::dft
                       : backend == "fft" ? SpectralBackend::fft
                                          : SpectralBackend::automatic);
  fno::FnoConfig config;
  config.modes = {modes};
  config.width = width;
  fno::Fno model(config);
  optim::Adam adam(model.parameters(), {.learning_rate = 1e-3});
  const nn::Loss loss{nn::LossKind::relative_l2, nn::Reduction::sum};

  Rng rng(0);
  std::vector<std::pair<Tensor, Tensor>> batches;
  for (int s = 0; s < steps; ++s)
    batches.emplace_back(random_tensor({batch, 1, size}, rng), random_tensor({batch, 1, size}, rng));

  auto run_epoch = [&] {
    for (const auto& [input, target] : batches) {
      adam.zero_grad();
      const Tensor value = loss(model.forward(input), target);
      value.backward();
      adam.step();
    }
  };
  // Warm-up: plans, DFT matrices, allocator.
  if (epoch_repeats > 0) run_epoch();
  std::vector<double> epoch_times;
  for (int r = 0; r < epoch_repeats; ++r) {
    const auto start = Clock::now();
    run_epoch();
    epoch_times.push_back(seconds_since(start));
  }

  std::vector<double> inference_times;
  {
    NoGradGuard no_grad;
    for (int r = 0; r < 5; ++r) model.forward(batches[0].first);
    for (int r = 0; r < inference_repeats; ++r) {
      const auto start = Clock::now();
      const Tensor y = model.forward(batches[0].first);
      inference_times.push_back(seconds_since(start));
    }
  }

  nlohmann::json report;
  report["benchmark"] = "fno1d_burgers";
  report["implementation"] = "neurop";
  report["config"] = {{"size", size},         {"batch", batch},  {"steps_per_epoch", steps},
                      {"modes", modes},       {"width", width},  {"layers", 4},
                      {"dtype", "float32"},   {"threads", threads}, {"spectral_backend", backend},
                      {"parameters", model.parameter_count()}};
  report["training_epoch"] = summarize(epoch_times, static_cast<std::int64_t>(steps) * batch);
  if (!epoch_times.empty())
    report["training_epoch"]["step_median_s"] = report["training_epoch"]["median_s"].get<double>() / steps;
  report["inference_batch"] = summarize(inference_times, batch);
  report["host_load"] = monitor.finish();
  return emit_report(report, out);
}
