// Pieces of `neurop train` and `neurop evaluate` for 2D grid models (FNO-2D and MgNO
// on Darcy data): the extra command-line options, the MgNO description, input
// normalisation, the H1 loss, data checks and prediction files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/common.hpp"
#include "apps/grid_models.hpp"
#include "datasets/dataset_file.hpp"

namespace neurop::app {

// Options of `neurop train` beyond those every model shares.
struct GridTrainingOptions {
  // Gaussian normalisation of inputs and outputs: auto (pointwise on 2D grids, channel
  // otherwise), none, pointwise or channel.
  std::string normalizer = "auto";
  double normalizer_eps = 1e-5;
  // MgNO: smoothing steps per level (finest first), padding mode, prolongation kernel.
  std::string pre_smoothing = "1,1,1,2,2";
  std::string post_smoothing;  // empty: no post-smoothing on any level
  std::string padding_mode = "zeros";
  std::int64_t prolongation_kernel = 3;
  // One-cycle schedule (torch.optim.lr_scheduler.OneCycleLR parameters).
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  // Whether --width, --layers and --modes were given (see model_size_for).
  bool width_given = false, layers_given = false, modes_given = false;
};

// Registers the options above on the `train` subcommand.
void add_grid_training_options(CLI::App& train, GridTrainingOptions& options);

// Records which of --width, --layers and --modes the command line set; call it in the
// `train` callback, after parsing.
void record_given_options(const CLI::App& train, GridTrainingOptions& options);

// Width, layer count and modes of a model.
struct ModelSize {
  std::int64_t width = 0, layers = 0;
  std::string modes;
};

// Returns the size of a `model` ("fno" or "mgno") for data with `spatial_dims` axes.
// Values given on the command line win. Otherwise 2D grids get the Darcy models' sizes:
// FNO-2D width 32 with 12 modes per axis, and MgNO width 24 with 5 layers. Other data
// keep `defaults`, the common defaults of `neurop train`.
ModelSize model_size_for(const std::string& model, std::int64_t spatial_dims, const GridTrainingOptions& options,
                         const ModelSize& defaults);

// Shared model options of `neurop train`, as the MgNO builder needs them.
struct GridModelShape {
  std::int64_t in_channels = 1, out_channels = 1, width = 24, layers = 5;
  std::string activation = "gelu";
  DType dtype = DType::f32;
  std::uint64_t seed = 0;
};

// Builds an MgNO for training data `train` ([N, C, H, W]). Throws ShapeError when the
// data are not 2D or when the grid cannot be coarsened to the requested levels.
std::unique_ptr<GridModel> make_mgno_for_data(const GridTrainingOptions& options, const GridModelShape& shape,
                                              const TensorPair& train);

// Wraps `model` with normalisers fitted on `train` unless options.normalizer is "none".
std::unique_ptr<GridModel> add_normalizers(std::unique_ptr<GridModel> model, const GridTrainingOptions& options,
                                           const TensorPair& train, bool periodic);

// A training loss summed over the samples of a batch.
struct GridLoss {
  std::string name;
  std::function<Tensor(const Tensor& prediction, const Tensor& target)> sum_over_batch;
};

// kind: "relative-l2", "mse" or "h1" (relative H1 by finite differences, see
// operators/mgno/losses.hpp). The H1 loss takes the grid spacing from `train`'s
// coordinates and throws ValueError when the axes have different spacings.
GridLoss make_grid_loss(const std::string& kind, const TensorPair& train);

// Checks a data set before training or evaluation: for Darcy data (generator names
// containing "darcy") one input channel on a 2D grid and a coefficient a > 0
// everywhere. Throws DataError naming the file, sample, grid point and value.
void check_grid_data(const data::GridDataset& dataset, const std::filesystem::path& path);

// Throws ShapeError unless the training and test sets have the same channels and grid.
void check_split_shapes(const TensorPair& train, const TensorPair& test);

// Writes the first `count` samples of `test` with the model's predictions to an HDF5
// file: /inputs, /outputs, /predictions [count, C, S...] (float64) and /grid/x{k}.
void write_predictions(const std::filesystem::path& path, const GridModel& model, const TensorPair& test,
                       std::int64_t count);

}  // namespace neurop::app
