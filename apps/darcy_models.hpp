// Grid models for the 2D Darcy work: MgNO behind the GridModel interface, and a
// wrapper that adds Gaussian normalisation of inputs and outputs to any grid model.
#pragma once

#include <memory>
#include <string>

#include "apps/grid_models.hpp"
#include "lib/nn/normalizer.hpp"

namespace neurop::app {

// Builds an MgNO from its description (operators/mgno/mgno.hpp, MgnoConfig::to_json).
std::unique_ptr<GridModel> make_mgno_grid_model(const std::string& json);

// A model with normalised inputs and outputs:
//   forward(x) = output_normalizer.decode(inner.forward(input_normalizer.encode(x))),
// so the loss compares decoded predictions with the raw targets (as the FNO Darcy
// code does), and training and evaluation feed the inner model identical inputs.
// module() contains the inner model's parameters under "model." and the statistics
// under "input_normalizer." and "output_normalizer.". The statistics receive no gradient.
// Description: {"model": "normalized", "inner": <inner description>,
//               "input_normalizer": {...}, "output_normalizer": {...}}.
std::unique_ptr<GridModel> make_normalized_grid_model(const std::string& json);

// Fits pointwise or channel statistics on the training data [N, C, S...] and wraps
// `inner`. The statistics take the inner model's dtype.
std::unique_ptr<GridModel> normalize_grid_model(std::unique_ptr<GridModel> inner, const Tensor& train_inputs,
                                                const Tensor& train_outputs, const nn::NormalizerOptions& options);

// Trainable parameters of a grid model: all parameters except normaliser statistics.
std::int64_t trainable_parameter_count(GridModel& model);

}  // namespace neurop::app
