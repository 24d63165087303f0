// Models that map functions on a grid to functions on the same grid (FNO, and later
// others), behind one interface for the `train` and `evaluate` commands.
#pragma once

#include <memory>
#include <string>

#include "lib/nn/module.hpp"
#include "lib/tensor/tensor.hpp"

namespace neurop::app {

class GridModel {
public:
  virtual ~GridModel() = default;
  virtual nn::Module& module() = 0;
  // [B, C_in, S...] -> [B, C_out, S...]
  virtual Tensor forward(const Tensor& inputs) const = 0;
  // JSON description stored in checkpoints; build_grid_model() reads it back.
  virtual std::string to_json() const = 0;
  virtual std::string summary() const = 0;
};

// Rebuilds a model from its JSON description (the "model" field selects the kind).
std::unique_ptr<GridModel> build_grid_model(const std::string& json);

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
