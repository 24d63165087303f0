// Times one training step and one inference batch of the 2D Darcy FNO. The work is that
// of bench/pytorch/fno2d_bench.py: float32, synthetic data, Adam and the summed
// per-sample relative L2 loss. The model has width 32, 12 x 12 modes, 4 layers and
// projection 128, with P zero points appended on each axis after the lifting
// (--padding, as in the PyTorch script).
// Prints a JSON report with one entry per grid size.
//
//   fno2d_bench [--threads 2] [--sizes 64,85] [--batch 20] [--padding 0]
//               [--train-warmup 5] [--train-repeats 30] [--inference-warmup 5]
//               [--inference-repeats 50] [--backend auto|dft|fft] [--out report.json]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
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
#include "lib/tensor/spectral.hpp"
#include "operators/fno/fno.hpp"
#include "bench/timing.hpp"

using namespace neurop;
using namespace neurop::bench;

int main(int argc, char** argv) {
  CLI::App app{"Time a training step and an inference batch of the 2D Darcy FNO"};
  int threads = 2, batch = 20, padding = 0, modes = 12, width = 32, layers = 4, projection = 128;
  int train_warmup = 5, train_repeats = 30, inference_warmup = 5, inference_repeats = 50, pool = 10;
  std::string sizes_text = "64,85", backend = "auto", out;
  app.add_option("--threads", threads, "OpenMP and Eigen threads")->capture_default_str();
  app.add_option("--sizes", sizes_text, "grid sizes s (points per axis), comma-separated")->capture_default_str();
  app.add_option("--batch", batch, "samples per batch")->capture_default_str();
  app.add_option("--padding", padding, "zero points appended on each axis after the lifting")->capture_default_str();
  app.add_option("--modes", modes, "Fourier modes per axis")->capture_default_str();
  app.add_option("--width", width, "channels in the Fourier layers")->capture_default_str();
  app.add_option("--layers", layers, "Fourier layers")->capture_default_str();
  app.add_option("--batch-pool", pool, "distinct synthetic batches cycled")->capture_default_str();
  app.add_option("--train-warmup", train_warmup, "untimed training steps")->capture_default_str();
  app.add_option("--train-repeats", train_repeats, "timed training steps")->capture_default_str();
  app.add_option("--inference-warmup", inference_warmup, "untimed forward passes")->capture_default_str();
  app.add_option("--inference-repeats", inference_repeats, "timed forward passes")->capture_default_str();
  app.add_option("--backend", backend, "spectral backend: auto, dft or fft")
      ->check(CLI::IsMember({"auto", "dft", "fft"}))
      ->capture_default_str();
  app.add_option("--out", out, "also write the JSON report to this file");
  CLI11_PARSE(app, argc, argv);

  std::vector<int> sizes;
  std::stringstream stream(sizes_text);
  for (std::string item; std::getline(stream, item, ',');) sizes.push_back(std::stoi(item));

  set_num_threads(threads);
  set_spectral_backend(backend == "dft"   ? SpectralBackend::dft
                       : backend == "fft" ? SpectralBackend::fft
                                          : SpectralBackend::automatic);
  const HostLoadMonitor monitor;
  nlohmann::json results = nlohmann::json::array();
  for (int size : sizes) {
    fno::FnoConfig config;
    config.modes = {modes, modes};
    config.width = width;
    config.layers = layers;
    config.projection_width = projection;
    // lround(fraction * size) = padding points on each axis.
    config.padding_fraction = static_cast<double>(padding) / size;
    fno::Fno model(config);
    optim::Adam adam(model.parameters(), {.learning_rate = 1e-3});
    const nn::Loss loss{nn::LossKind::relative_l2, nn::Reduction::sum};

    Rng rng(0);
    std::vector<std::pair<Tensor, Tensor>> batches;
    for (int b = 0; b < pool; ++b)
      batches.emplace_back(random_tensor({batch, 1, size, size}, rng), random_tensor({batch, 1, size, size}, rng));

    std::size_t next = 0;
    auto train_step = [&] {
      const auto& [input, target] = batches[next++ % batches.size()];
      adam.zero_grad();
      const Tensor value = loss(model.forward(input), target);
      value.backward();
      adam.step();
      return value.item();
    };
    for (int r = 0; r < train_warmup; ++r) train_step();
    std::vector<double> step_times;
    for (int r = 0; r < train_repeats; ++r) {
      const auto t0 = Clock::now();
      const double value = train_step();
      step_times.push_back(seconds_since(t0));
      if (!std::isfinite(value)) {
        std::fprintf(stderr, "training loss became %g; the timing would not be representative\n", value);
        return 1;
      }
    }

    std::vector<double> inference_times;
    {
      NoGradGuard no_grad;
      for (int r = 0; r < inference_warmup; ++r) model.forward(batches[0].first);
      for (int r = 0; r < inference_repeats; ++r) {
        const auto t0 = Clock::now();
        const Tensor y = model.forward(batches[0].first);
        inference_times.push_back(seconds_since(t0));
      }
    }
    results.push_back({{"size", size},
                       {"padded_size", size + static_cast<int>(std::lround(config.padding_fraction * size))},
                       {"parameters", model.parameter_count()},
                       {"training_step", summarize(step_times, batch)},
                       {"inference_batch", summarize(inference_times, batch)}});
  }

  nlohmann::json report;
  report["benchmark"] = "fno2d_darcy";
  report["implementation"] = "neurop";
  report["config"] = {{"sizes", sizes},     {"batch", batch},      {"padding", padding},
                      {"modes", {modes, modes}}, {"width", width},  {"layers", layers},
                      {"projection_width", projection}, {"dtype", "float32"}, {"threads", threads},
                      {"spectral_backend", backend},    {"optimizer", "Adam(lr=1e-3)"},
                      {"loss", "sum over batch of per-sample relative L2"}};
  report["results"] = results;
  report["host_load"] = monitor.finish();
  return emit_report(report, out);
}
