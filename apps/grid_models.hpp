// Checks and evaluation of grid models (operators/grid_model.hpp) for the `train` and
// `evaluate` commands.
#pragma once

#include <memory>
#include <string>

#include "operators/grid_model.hpp"

namespace neurop::app {

using ::neurop::build_grid_model;
using ::neurop::GridModel;
using ::neurop::normalize_grid_model;

// Throws ShapeError, naming both files, when the model in `model_json` (from
// `checkpoint`) expects another number of spatial axes or other channels than data set
// `data_file`. Call it before the first forward pass, whose shape error names neither file.
void check_model_fits_data(const std::string& model_json, int spatial_dims, std::int64_t in_channels,
                           std::int64_t out_channels, const std::string& checkpoint, const std::string& data_file);

// Mean over samples of the relative L2 error ||f(x_b) - y_b|| / ||y_b||, computed in
// batches without gradient recording and accumulated in float64.
double mean_relative_l2(const GridModel& model, const Tensor& inputs, const Tensor& outputs,
                        std::int64_t batch_size);

}  // namespace neurop::app
