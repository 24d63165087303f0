// Helpers shared by the benchmark binaries: wall-clock seconds, the summary of repeated
// timings, the output of the JSON report, synthetic float32 inputs, and the share of the
// CPUs that other processes took while a benchmark ran.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/random.hpp"
#include "lib/tensor/tensor.hpp"

namespace neurop::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Median, extremes and mean of repeated timings of a unit of work over `samples` samples.
// When nothing was timed (for example with --train-repeats 0), only the counts.
inline nlohmann::json summarize(std::vector<double> times, std::int64_t samples) {
  if (times.empty()) return {{"repeats", 0}, {"samples_per_run", samples}};
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  const double median = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
  const double mean = std::accumulate(times.begin(), times.end(), 0.0) / static_cast<double>(n);
  return {{"repeats", n},
          {"median_s", median},
          {"min_s", times.front()},
          {"mean_s", mean},
          {"max_s", times.back()},
          {"samples_per_run", samples},
          {"samples_per_s_median", static_cast<double>(samples) / median},
          {"samples_per_s_best", static_cast<double>(samples) / times.front()}};
}

// Prints the JSON report to stdout and, unless `out` is empty, writes it to the file `out`.
// Returns the exit code of the benchmark: 0, or 1 when the file cannot be written.
inline int emit_report(const nlohmann::json& report, const std::string& out) {
  const std::string text = report.dump(2);
  std::printf("%s\n", text.c_str());
  if (out.empty()) return 0;
  std::ofstream file(out);
  file << text << "\n";
  if (!file.good()) {
    std::fprintf(stderr, "failed to write the report to '%s'; check that its folder exists and is writable\n",
                 out.c_str());
    return 1;
  }
  return 0;
}

// A float32 tensor of standard normal values, or uniform on [0, 1) with `uniform`.
inline Tensor random_tensor(const Shape& shape, Rng& rng, bool uniform = false) {
  std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
  for (double& v : values) v = uniform ? rng.uniform() : rng.normal();
  return Tensor::from_vector(values, shape, DType::f32);
}

// Measures the CPU time that other processes took between construction and finish(), as
// bench/pytorch/bench_common.py does for the PyTorch runs. A share above a few percent of
// all CPUs means the timings were disturbed.
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
    return {{"wall_s", seconds_since(start_)},
            {"loadavg_1min_start", start_load_[0]},
            {"loadavg_1min_end", end_load[0]},
            {"this_process_cpu_s", self},
            {"other_processes_share_of_all_cpus",
             total_seconds > 0 ? std::max(0.0, busy_seconds - self) / total_seconds : 0.0}};
  }

 private:
  // Returns the busy and total clock ticks of all CPUs from the first line of /proc/stat,
  // or {0, 0} when the file is unreadable.
  static std::pair<double, double> cpu_ticks() {
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

  static double own_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
  }

  std::pair<double, double> start_ticks_;
  double start_self_;
  Clock::time_point start_;
  double start_load_[3] = {0, 0, 0};
};

}  // namespace neurop::bench
