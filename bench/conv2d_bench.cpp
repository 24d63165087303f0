// Times conv2d, conv_transpose2d and conv2d_weight (im2col + GEMM) against the direct
// loops of conv2d_reference on MgNO-sized problems: batch 8, 24 -> 24 channels, 3x3
// kernels on an 85 x 85 grid, stride 1 (smoothers) and stride 2 (restriction).
// Prints a JSON report with median times, GFLOP/s (2 multiply-adds counted as 2
// flops each) and the speed-up over the direct loops.
//
//   conv2d_bench [--threads 2] [--size 85] [--batch 8] [--channels 24] [--repeats 20]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "lib/core/random.hpp"
#include "lib/core/threads.hpp"
#include "lib/tensor/conv2d.hpp"
#include "bench/timing.hpp"

using namespace neurop;
using neurop::bench::Clock;
using neurop::bench::emit_report;

namespace {

double median_seconds(const std::function<void()>& f, int repeats) {
  f();  // warm-up
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    f();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

Tensor random_tensor(const Shape& shape, Rng& rng) {
  std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
  for (double& v : values) v = rng.uniform(-1.0, 1.0);
  return Tensor::from_vector(values, shape, DType::f32);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the 2D convolutions against direct loops"};
  int threads = 2, size = 85, batch = 8, channels = 24, repeats = 20, reference_repeats = 3;
  std::string out;
  app.add_option("--threads", threads, "OpenMP and Eigen threads")->capture_default_str();
  app.add_option("--size", size, "grid points per axis")->capture_default_str();
  app.add_option("--batch", batch, "samples per batch")->capture_default_str();
  app.add_option("--channels", channels, "input and output channels")->capture_default_str();
  app.add_option("--repeats", repeats, "timed calls per operation")->capture_default_str();
  app.add_option("--reference-repeats", reference_repeats, "timed calls of the direct loops")->capture_default_str();
  app.add_option("--out", out, "also write the JSON report to this file");
  CLI11_PARSE(app, argc, argv);
  if (repeats < 1 || reference_repeats < 1) {
    std::fprintf(stderr, "--repeats and --reference-repeats must be >= 1\n");
    return 2;
  }
  set_num_threads(threads);

  Rng rng(0);
  const Tensor x = random_tensor({batch, channels, size, size}, rng);
  const Tensor w = random_tensor({channels, channels, 3, 3}, rng);
  nlohmann::json results = nlohmann::json::array();
  for (int stride : {1, 2}) {
    const Conv2dOptions options{.stride = stride, .padding = 1, .padding_mode = PaddingMode::zeros};
    const Tensor y = conv2d(x, w, options);
    const double flops = 2.0 * static_cast<double>(y.numel()) * channels * 9;
    const double forward = median_seconds([&] { conv2d(x, w, options); }, repeats);
    const double transposed = median_seconds([&] { conv_transpose2d(y, w, {size, size}, options); }, repeats);
    const double weight = median_seconds([&] { conv2d_weight(x, y, 3, options); }, repeats);
    const double reference = median_seconds([&] { conv2d_reference(x, w, options); }, reference_repeats);
    results.push_back({{"stride", stride},
                       {"output", y.shape()},
                       {"conv2d_s", forward},
                       {"conv_transpose2d_s", transposed},
                       {"conv2d_weight_s", weight},
                       {"direct_loops_s", reference},
                       {"conv2d_gflops", flops / forward * 1e-9},
                       {"conv_transpose2d_gflops", flops / transposed * 1e-9},
                       {"conv2d_weight_gflops", flops / weight * 1e-9},
                       {"direct_loops_gflops", flops / reference * 1e-9},
                       {"speedup_over_direct_loops", reference / forward}});
  }
  nlohmann::json report;
  report["benchmark"] = "conv2d";
  report["config"] = {{"threads", threads}, {"size", size}, {"batch", batch}, {"channels", channels},
                      {"kernel", 3},        {"padding", 1},  {"dtype", "float32"}};
  report["results"] = results;
  return emit_report(report, out);
}
