#include "apps/common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <spdlog/sinks/stdout_color_sinks.h>

#include "lib/core/error.hpp"
#include "lib/core/log.hpp"
#include "lib/core/threads.hpp"
#include "lib/io/checkpoint.hpp"
#include "lib/io/hdf5.hpp"
#include "lib/io/temporary_files.hpp"

namespace neurop::app {

void setup_logging(bool verbose) {
  auto console = spdlog::stderr_color_mt("neurop-console");
  console->set_pattern("[%H:%M:%S] %^%l%$: %v");
  console->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  set_logger(console);
}

void apply_threads(int threads) {
  NEUROP_CHECK(threads >= 0 && threads <= kMaxThreads, ValueError,
               "--threads {} is out of range: expected 0 (all cores) to {}; pass at most the number of cores",
               threads, kMaxThreads);
  if (threads > 0) set_num_threads(threads);
}

void check_at_least(const char* option, std::int64_t value, std::int64_t minimum) {
  NEUROP_CHECK(value >= minimum, ValueError, "{} {} is invalid: expected an integer >= {}; pass {} {} or more", option,
               value, minimum, option, minimum);
}

void check_positive(const char* option, double value) {
  NEUROP_CHECK(std::isfinite(value) && value > 0.0, ValueError,
               "{} {} is invalid: expected a finite value > 0, such as {} 1e-3", option, value, option);
}

void check_train_test_pair(const std::string& train_file, const std::string& test_file) {
  NEUROP_CHECK(!train_file.empty() || !test_file.empty(), ValueError,
               "no data given: pass --data FILE, or --train FILE and --test FILE (make one with `neurop generate`)");
  NEUROP_CHECK(!test_file.empty(), ValueError,
               "--test is missing: --train '{}' needs a test set; add --test FILE, or pass one file with --data "
               "instead of --train",
               train_file);
  NEUROP_CHECK(!train_file.empty(), ValueError,
               "--train is missing: --test '{}' needs a training set; add --train FILE, or pass one file with --data "
               "instead of --test",
               test_file);
}

namespace {

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code error;
  const std::filesystem::path canonical_a = std::filesystem::weakly_canonical(a, error);
  if (error) return false;
  const std::filesystem::path canonical_b = std::filesystem::weakly_canonical(b, error);
  if (error) return false;
  if (canonical_a == canonical_b) return true;
  const bool equivalent = std::filesystem::equivalent(a, b, error);
  return !error && equivalent;
}

}  // namespace

void check_distinct_outputs(const std::vector<PathOption>& inputs, const std::vector<PathOption>& outputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const PathOption& output = outputs[i];
    if (output.path.empty()) continue;
    for (const PathOption& input : inputs) {
      if (input.path.empty() || !same_file(output.path, input.path)) continue;
      throw ValueError(fmt::format("{} '{}' names the same file as the input {} '{}', which the run would "
                                   "overwrite; choose another path for {}",
                                   output.option, output.path, input.option, input.path, output.option));
    }
    for (std::size_t j = 0; j < i; ++j) {
      const PathOption& other = outputs[j];
      if (other.path.empty() || !same_file(output.path, other.path)) continue;
      throw ValueError(fmt::format("{} '{}' names the same file as {} '{}', so one output would replace the "
                                   "other; choose another path for {}",
                                   output.option, output.path, other.option, other.path, output.option));
    }
  }
}

void load_resume_checkpoint(const std::filesystem::path& path, nn::Module& module, optim::Optimizer& optimizer,
                            bool optimizer_keeps_state) {
  load_checkpoint(path, module, &optimizer);
  if (!optimizer_keeps_state || optimizer.steps() == 0) return;
  if (h5::File::open(path).exists("optimizer")) return;
  logger().warn("checkpoint '{}' records {} optimizer steps but contains no optimizer state (/optimizer group); "
                "the {} moments start from zero, so the first steps after the resume differ from an uninterrupted "
                "run",
                path.string(), optimizer.steps(), optimizer.name());
}

std::int64_t resolution_stride(std::int64_t stored, std::int64_t resolution, bool periodic) {
  if (resolution == 0 || resolution == stored) return 1;
  NEUROP_CHECK(resolution >= 2 && resolution <= stored, ValueError,
               "resolution {} is not available: the data are stored at {} points per axis; choose a resolution "
               "that divides it",
               resolution, stored);
  if (periodic) {
    NEUROP_CHECK(stored % resolution == 0, ValueError,
                 "resolution {} does not divide the stored resolution {} of this periodic data set; valid choices "
                 "are its divisors, such as {}",
                 resolution, stored, stored / 2);
    return stored / resolution;
  }
  NEUROP_CHECK((stored - 1) % (resolution - 1) == 0, ValueError,
               "resolution {} cannot be taken from {} points with end points included: (stored - 1) / (resolution "
               "- 1) must be an integer, e.g. {}",
               resolution, stored, (stored - 1) / 2 + 1);
  return (stored - 1) / (resolution - 1);
}

TensorPair to_tensors(const data::GridDataset& dataset, std::int64_t first, std::int64_t count,
                      std::int64_t resolution, DType dtype) {
  const std::int64_t stored = dataset.input_shape[2];
  const std::int64_t stride = resolution_stride(stored, resolution, dataset.periodic);
  const data::GridDataset part = data::subsample(data::slice_samples(dataset, first, count), stride);
  TensorPair pair;
  pair.inputs = Tensor::from_vector(part.inputs, part.input_shape, dtype);
  pair.outputs = Tensor::from_vector(part.outputs, part.output_shape, dtype);
  pair.grid = part.grid;
  return pair;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<std::int64_t>(std::llround(seconds));
  const std::int64_t hours = total / 3600, minutes = (total / 60) % 60, secs = total % 60;
  if (hours > 0) return fmt::format("{}:{:02}:{:02}", hours, minutes, secs);
  return fmt::format("{}:{:02}", minutes, secs);
}

void print_epoch_line(const train::EpochReport& r, std::int64_t start_epoch, const EpochLineFormat& format) {
  if (r.epoch % std::max<std::int64_t>(format.log_every, 1) != 0 && r.epoch != r.epochs) return;
  const auto number = [&](double value) {
    return format.scientific ? fmt::format("{:.3e}", value) : fmt::format("{:.5f}", value);
  };
  const std::string test = std::isnan(r.test_metric) ? std::string("-") : number(r.test_metric);
  const std::string time =
      format.milliseconds ? fmt::format("{:.2f} ms/epoch", 1e3 * r.seconds) : fmt::format("{:.2f} s/epoch", r.seconds);
  const double per_epoch = r.elapsed / static_cast<double>(r.epoch - start_epoch);
  fmt::print("epoch {:>{}}/{}  train {} {}  test {} {}  lr {:.2e}  {}  elapsed {}  ETA {}\n", r.epoch,
             format.epoch_width, r.epochs, format.loss_name, number(r.train_loss), format.test_name, test,
             r.learning_rate, time, format_duration(r.elapsed),
             format_duration(per_epoch * static_cast<double>(r.epochs - r.epoch)));
  std::fflush(stdout);
}

std::vector<std::int64_t> parse_int_list(const std::string& text, const char* option) {
  std::vector<std::int64_t> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    std::size_t used = 0;
    std::int64_t value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    NEUROP_CHECK(used == item.size() && !item.empty() && value > 0, ValueError,
                 "{}: '{}' is not a positive integer; expected a comma-separated list such as 256,512,1024", option,
                 item);
    values.push_back(value);
  }
  NEUROP_CHECK(!values.empty(), ValueError, "{}: empty list", option);
  return values;
}

void create_parent_folder(const std::filesystem::path& path, const char* option) {
  if (!path.has_parent_path()) return;
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  NEUROP_CHECK(!error, FileError, "{} '{}': cannot create the folder '{}' ({}); choose a path in a writable folder",
               option, path.string(), path.parent_path().string(), error.message());
}

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  create_parent_folder(path, "output");
  h5::remove_stale_temporary_files(path);
  const std::filesystem::path temporary = h5::temporary_path_for(path);
  const h5::TemporaryFileRegistration registration(temporary);
  try {
    std::ofstream file(temporary);
    NEUROP_CHECK(file.good(), FileError, "cannot write '{}'; choose a path in a writable folder", temporary.string());
    file << text;
    file.close();
    NEUROP_CHECK(!file.fail(), FileError, "writing '{}' failed; check the free disk space and retry",
                 temporary.string());
    h5::replace_file(temporary, path);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
}

}  // namespace neurop::app
