// Checkpoints: a model's parameters, optional optimizer state and metadata in one
// HDF5 file, written atomically (temporary name, then rename).
//
// Layout:
//   /parameters/<dotted name>        float64 or float32 (the parameter's dtype), the
//                                    parameter's shape
//   /optimizer/<index>/<state name>  optimizer state tensors (exp_avg, ...) of the
//                                    parameter with that index, same dtype and shape
//   /metadata/<key>                  one entry of CheckpointInfo::metadata: an int64 [1]
//                                    data set holding 0, with the string attribute
//                                    `value` carrying the entry's value
// Root attributes: format = "neurop-checkpoint", version = 1, epoch (int64, epochs
// completed), model (a JSON string describing the architecture) and, when an optimizer
// was saved, optimizer (its name), optimizer_steps (int64) and learning_rate (float64).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "lib/nn/module.hpp"
#include "lib/optim/optimizer.hpp"

namespace neurop {

struct CheckpointInfo {
  std::int64_t epoch = 0;
  std::string model;  // JSON description of the architecture
  std::map<std::string, std::string> metadata;
};

void save_checkpoint(const std::filesystem::path& path, const nn::Module& module, optim::Optimizer* optimizer,
                     const CheckpointInfo& info);

// Reads the file's info without loading tensors (to rebuild the architecture first).
// Throws FileError for a file that is not a checkpoint and for a negative epoch.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

// Loads parameters into `module` (names and shapes must match; values are converted
// to the module's dtype) and, when `optimizer` is not null, its state.
// Throws:
//   FileError   naming a missing or mismatched parameter, or a negative epoch or step count;
//   DataError   naming the data set and flat index of a NaN or infinite parameter or
//               optimizer-state value;
//   ValueError  when the stored state belongs to another optimizer kind (Adam state
//               loaded into SGD).
// All values are checked before any is copied, so after a throw `module` and
// `optimizer` are unchanged.
CheckpointInfo load_checkpoint(const std::filesystem::path& path, nn::Module& module, optim::Optimizer* optimizer);

}  // namespace neurop
