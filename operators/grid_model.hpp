// Grid operators (FNO, MgNO, either wrapped in Gaussian normalisers) behind one
// interface, rebuilt from the JSON description that checkpoints store. `neurop train`
// and `neurop evaluate` use it, and so can a simulation code that loads a trained model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "lib/nn/module.hpp"
#include "lib/nn/normalizer.hpp"
#include "lib/tensor/tensor.hpp"

namespace neurop {

// A model that maps functions on a grid to functions on the same grid.
class GridModel {
public:
  virtual ~GridModel() = default;
  virtual nn::Module& module() = 0;
  // [B, C_in, S...] -> [B, C_out, S...]
  virtual Tensor forward(const Tensor& inputs) const = 0;
  // JSON description stored in checkpoints; build_grid_model() reads it back.
  virtual std::string to_json() const = 0;
  // One line for logs: kind, sizes, parameter count.
  virtual std::string summary() const = 0;
};

// Rebuilds a model with fresh parameters from its description. The "model" field selects
// the kind: "fno" (operators/fno/fno.hpp), "mgno" (operators/mgno/mgno.hpp) or
// "normalized" (below). Throws ValueError for invalid JSON or another kind.
std::unique_ptr<GridModel> build_grid_model(const std::string& json);

// Rebuilds the model of checkpoint `path` and loads its parameters: the one call a
// simulation code needs. Throws what read_checkpoint_info and load_checkpoint throw
// (lib/io/checkpoint.hpp) and build_grid_model's ValueError.
std::unique_ptr<GridModel> load_grid_model(const std::filesystem::path& path);

// Fits pointwise or channel statistics on the training data [N, C, S...] and wraps
// `inner` in them. The statistics take the inner model's dtype. The result computes
//   forward(x) = output_normalizer.decode(inner.forward(input_normalizer.encode(x))),
// so a loss compares decoded predictions with raw targets (as the FNO Darcy code does),
// and callers pass and receive data in their own units. module() contains the inner
// model's parameters under "model." and the statistics under "input_normalizer." and
// "output_normalizer.". The statistics never require a gradient, so optimizers skip them.
// Description: {"model": "normalized", "inner": <inner description>,
//               "input_normalizer": {...}, "output_normalizer": {...}}.
std::unique_ptr<GridModel> normalize_grid_model(std::unique_ptr<GridModel> inner, const Tensor& train_inputs,
                                                const Tensor& train_outputs, const nn::NormalizerOptions& options);

}  // namespace neurop
