// Shared pieces of the `neurop` subcommands: console logging, data loading at a
// chosen resolution, progress lines and exit codes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "datasets/dataset_file.hpp"
#include "lib/nn/module.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/tensor/tensor.hpp"
#include "lib/train/trainer.hpp"

namespace neurop::app {

// Exit codes of the program.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;     // bad input: missing or corrupt files, invalid values, NaN in data
inline constexpr int kExitUsage = 2;     // unknown or malformed command-line options
inline constexpr int kExitDiverged = 3;  // training diverged; the last good checkpoint was kept

// Installs a console logger (stderr) for the library and the program.
void setup_logging(bool verbose);

// Largest --threads value the program accepts. More threads than cores only add
// scheduling overhead, and with GCC 12 on Debian 12 `--threads 100000` crashed inside
// libgomp while `--threads 20000` ran very slowly, so such counts are rejected as typing
// errors. NOTE: 1024 is a chosen bound, not a libgomp limit; a machine with more
// hardware threads needs it raised.
inline constexpr int kMaxThreads = 1024;

// Sets OpenMP/Eigen threads; 0 keeps the default (all available cores). Throws
// ValueError for a count outside [0, kMaxThreads].
void apply_threads(int threads);

// Throws ValueError naming `option` and `value` unless value >= minimum.
void check_at_least(const char* option, std::int64_t value, std::int64_t minimum);

// Throws ValueError naming `option` and `value` unless value is finite and > 0.
void check_positive(const char* option, double value);

// Throws ValueError when --train is given without --test, or the reverse, or when
// neither is (the caller has no --data either).
void check_train_test_pair(const std::string& train_file, const std::string& test_file);

// A file named on the command line: the option and its value (empty when not given).
struct PathOption {
  const char* option;
  std::string path;
};

// Throws ValueError when an output names the same file as an input or as another output,
// so that a run cannot replace its own data or checkpoint. Paths are compared after
// std::filesystem::weakly_canonical, and existing files also by
// std::filesystem::equivalent (hard links). Empty paths are skipped.
void check_distinct_outputs(const std::vector<PathOption>& inputs, const std::vector<PathOption>& outputs);

// Samples [first, first + count) of a grid data set, subsampled to `resolution`
// points per spatial axis and converted to `dtype` tensors [count, C, S...].
// resolution 0 keeps the stored resolution. Throws ValueError listing the valid
// resolutions when `resolution` cannot be reached by an integer stride.
struct TensorPair {
  Tensor inputs, outputs;
  std::vector<std::vector<double>> grid;
};
TensorPair to_tensors(const data::GridDataset& dataset, std::int64_t first, std::int64_t count,
                      std::int64_t resolution, DType dtype);

// Stride that takes `stored` points to `resolution` (periodic: stored / resolution;
// with end points: (stored - 1) / (resolution - 1)); throws ValueError otherwise.
std::int64_t resolution_stride(std::int64_t stored, std::int64_t resolution, bool periodic);

// "1:02:03" or "2:03" for a number of seconds.
std::string format_duration(double seconds);

// Number and time format of the epoch lines of `neurop train`. The FNO and MgNO commands
// print fixed-point numbers and seconds. The DeepONet command, with many short epochs,
// prints scientific notation and milliseconds.
struct EpochLineFormat {
  std::string loss_name;  // e.g. "relative L2" or "mse"
  std::string test_name;  // e.g. "relative L2" or "MSE"
  bool scientific = false;
  bool milliseconds = false;
  int epoch_width = 4;
  std::int64_t log_every = 1;  // print every log_every-th epoch and the last one
};

// Prints the progress line of epoch r (loss, test metric, rate, time, elapsed, ETA) to
// stdout if r is a multiple of format.log_every or the last epoch. The ETA is
// extrapolated from the epochs since start_epoch, where this run began.
void print_epoch_line(const train::EpochReport& r, std::int64_t start_epoch, const EpochLineFormat& format);

// Creates the folder that will contain `path`; throws FileError naming `option` when it cannot.
void create_parent_folder(const std::filesystem::path& path, const char* option);

// Writes `text` to `path` under a temporary name that h5::AtomicWriter would use (so a
// signal or a later write deletes it), then renames it. Throws FileError when the folder
// cannot be made or the write fails.
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

// Loads the model parameters and optimizer state of checkpoint `path` for --resume.
// A checkpoint that records optimizer steps but contains no /optimizer group (a file
// written without it, or with the group removed) leaves the optimizer state empty.
// When `optimizer_keeps_state` (Adam, AdamW, SGD with momentum), that is logged as a
// warning, because the moments then start from zero instead of resuming.
void load_resume_checkpoint(const std::filesystem::path& path, nn::Module& module, optim::Optimizer& optimizer,
                            bool optimizer_keeps_state);

// Parses "256,512,1024" into numbers; throws ValueError naming the bad entry.
std::vector<std::int64_t> parse_int_list(const std::string& text, const char* option);

}  // namespace neurop::app
