#include "apps/darcy_training.hpp"

#include <cmath>
#include <sstream>

#include "lib/autodiff/graph.hpp"
#include "lib/core/error.hpp"
#include "lib/io/hdf5.hpp"
#include "lib/nn/loss.hpp"
#include "lib/nn/normalizer.hpp"
#include "lib/tensor/ops.hpp"
#include "operators/mgno/losses.hpp"
#include "operators/mgno/mgno.hpp"

namespace neurop::app {
namespace {

std::vector<std::int64_t> parse_counts(const std::string& text, const char* option) {
  std::vector<std::int64_t> counts;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    std::size_t used = 0;
    std::int64_t value = -1;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    NEUROP_CHECK(used == item.size() && !item.empty() && value >= 0, ValueError,
                 "{}: '{}' is not a count >= 0; expected one count per level, finest first, such as 1,1,1,2,2", option,
                 item);
    counts.push_back(value);
  }
  NEUROP_CHECK(!counts.empty(), ValueError, "{}: empty list; give one count per level, such as 1,1,1,2,2", option);
  return counts;
}

// Uniform spacing of a coordinate vector, or NaN when it is not uniform.
double uniform_spacing(const std::vector<double>& x) {
  if (x.size() < 2) return std::nan("");
  const double h = x[1] - x[0];
  for (std::size_t i = 1; i < x.size(); ++i)
    if (std::abs((x[i] - x[i - 1]) - h) > 1e-9 * std::abs(h)) return std::nan("");
  return h;
}

}  // namespace

void add_grid_training_options(CLI::App& train, GridTrainingOptions& options) {
  train.add_option("--normalizer", options.normalizer,
                   "Gaussian normalisation of inputs and outputs, fitted on the training set: pointwise (per grid "
                   "point), channel (per channel), none, or auto (pointwise on 2D grids, channel otherwise)")
      ->check(CLI::IsMember({"auto", "none", "pointwise", "channel"}))
      ->capture_default_str();
  train.add_option("--normalizer-eps", options.normalizer_eps, "eps added to the standard deviation")
      ->capture_default_str();
  train.add_option("--pre-smoothing", options.pre_smoothing,
                   "MgNO: smoothing steps before coarsening, one count per level, finest first; the count sets "
                   "the level number")
      ->capture_default_str();
  train.add_option("--post-smoothing", options.post_smoothing,
                   "MgNO: smoothing steps after the coarse correction, one count per level (default none)");
  train.add_option("--padding-mode", options.padding_mode,
                   "MgNO boundary handling: zeros (Dirichlet), circular (periodic) or reflect")
      ->check(CLI::IsMember({"zeros", "circular", "reflect"}))
      ->capture_default_str();
  train.add_option("--prolongation-kernel", options.prolongation_kernel,
                   "MgNO prolongation kernel: 3 (any grid) or 4 (grids divisible by 2^(levels-1))")
      ->check(CLI::IsMember({3, 4}))
      ->capture_default_str();
  train.add_option("--pct-start", options.pct_start, "one-cycle schedule: fraction of steps spent warming up")
      ->capture_default_str();
  train.add_option("--div-factor", options.div_factor, "one-cycle schedule: initial rate = lr / div-factor")
      ->capture_default_str();
  train.add_option("--final-div-factor", options.final_div_factor,
                   "one-cycle schedule: final rate = lr / (div-factor * final-div-factor)")
      ->capture_default_str();
}

void record_given_options(const CLI::App& train, GridTrainingOptions& options) {
  options.width_given = train.count("--width") > 0;
  options.layers_given = train.count("--layers") > 0;
  options.modes_given = train.count("--modes") > 0;
}

ModelSize model_size_for(const std::string& model, std::int64_t spatial_dims, const GridTrainingOptions& options,
                         const ModelSize& defaults) {
  ModelSize size = defaults;
  if (spatial_dims != 2) return size;
  if (model == "fno") {
    if (!options.width_given) size.width = 32;
    if (!options.modes_given) size.modes = "12";
  } else if (model == "mgno") {
    if (!options.width_given) size.width = 24;
    if (!options.layers_given) size.layers = 5;
  }
  return size;
}

std::unique_ptr<GridModel> make_mgno_for_data(const GridTrainingOptions& options, const GridModelShape& shape,
                                              const TensorPair& train) {
  NEUROP_CHECK(train.inputs.ndim() == 4, ShapeError,
               "--model mgno works on 2D grids [N, C, H, W], but the data have shape {} ({} spatial axes); use "
               "--model fno for other dimensions",
               shape_string(train.inputs.shape()), train.inputs.ndim() - 2);
  mgno::MgnoConfig config;
  config.in_channels = shape.in_channels;
  config.out_channels = shape.out_channels;
  config.width = shape.width;
  config.layers = shape.layers;
  config.pre_smoothing = parse_counts(options.pre_smoothing, "--pre-smoothing");
  config.post_smoothing = options.post_smoothing.empty()
                              ? std::vector<std::int64_t>(config.pre_smoothing.size(), 0)
                              : parse_counts(options.post_smoothing, "--post-smoothing");
  config.padding_mode = parse_padding_mode(options.padding_mode);
  config.prolongation_kernel = options.prolongation_kernel;
  config.activation = nn::parse_activation(shape.activation);
  config.dtype = shape.dtype;
  config.seed = shape.seed;
  // Reject a level count the training grid cannot coarsen to before any training.
  mgno::check_grid(config, train.inputs.size(2), train.inputs.size(3));
  return build_grid_model(config.to_json());
}

std::unique_ptr<GridModel> add_normalizers(std::unique_ptr<GridModel> model, const GridTrainingOptions& options,
                                           const TensorPair& train, bool periodic) {
  std::string kind = options.normalizer;
  // auto: pointwise statistics on 2D grids, as the FNO Darcy code uses, and per channel
  // elsewhere, as neuraloperator uses for Burgers data. Channel statistics fit every resolution.
  if (kind == "auto") kind = train.inputs.ndim() == 4 ? "pointwise" : "channel";
  if (kind == "none") return model;
  const nn::NormalizerOptions normalizer{
      .kind = nn::parse_normalizer_kind(kind), .eps = options.normalizer_eps, .periodic = periodic};
  return normalize_grid_model(std::move(model), train.inputs, train.outputs, normalizer);
}

GridLoss make_grid_loss(const std::string& kind, const TensorPair& train) {
  if (kind == "h1") {
    NEUROP_CHECK(!train.grid.empty(), ValueError,
                 "--loss h1 needs the grid coordinates, but the training data have none; use --loss relative-l2");
    const double spacing = uniform_spacing(train.grid[0]);
    for (std::size_t k = 0; k < train.grid.size(); ++k) {
      const double h = uniform_spacing(train.grid[k]);
      NEUROP_CHECK(std::isfinite(h) && std::abs(h - spacing) <= 1e-9 * std::abs(spacing), ValueError,
                   "--loss h1 needs one uniform grid spacing on every axis, but axis 0 has spacing {} and axis {} "
                   "has {} ({} and {} points); use --loss relative-l2 for this grid",
                   spacing, k, h, train.grid[0].size(), train.grid[k].size());
    }
    return {"relative H1",
            [spacing](const Tensor& p, const Tensor& y) { return sum(mgno::relative_h1_per_sample(p, y, spacing)); }};
  }
  const nn::Loss loss{kind == "mse" ? nn::LossKind::mse : nn::LossKind::relative_l2, nn::Reduction::sum};
  return {loss.name(), [loss](const Tensor& p, const Tensor& y) { return loss(p, y); }};
}

void check_grid_data(const data::GridDataset& dataset, const std::filesystem::path& path) {
  if (dataset.generator.find("darcy") == std::string::npos) return;
  NEUROP_CHECK(dataset.spatial_dims == 2 && dataset.input_shape.size() == 4 && dataset.input_shape[1] == 1,
               DataError,
               "{}: Darcy data must hold one coefficient channel on a 2D grid [N, 1, H, W], but /inputs is {}",
               path.string(), fmt::format("[{}]", fmt::join(dataset.input_shape, ", ")));
  const std::int64_t h = dataset.input_shape[2], w = dataset.input_shape[3];
  const std::int64_t points = h * w;
  for (std::size_t index = 0; index < dataset.inputs.size(); ++index) {
    const double a = dataset.inputs[index];
    if (std::isfinite(a) && a > 0.0) continue;
    const auto i = static_cast<std::int64_t>(index);
    throw DataError(fmt::format(
        "{}: the coefficient a of sample {} is {} at grid point ({}, {}); the Darcy problem -div(a grad u) = f "
        "needs a > 0 everywhere (zero or negative values make it singular); regenerate the data or remove that "
        "sample",
        path.string(), i / points, a, (i % points) / w, i % w));
  }
}

void check_split_shapes(const TensorPair& train, const TensorPair& test) {
  const Shape train_sample(train.inputs.shape().begin() + 1, train.inputs.shape().end());
  const Shape test_sample(test.inputs.shape().begin() + 1, test.inputs.shape().end());
  const Shape train_output(train.outputs.shape().begin() + 1, train.outputs.shape().end());
  const Shape test_output(test.outputs.shape().begin() + 1, test.outputs.shape().end());
  NEUROP_CHECK(train_sample == test_sample && train_output == test_output, ShapeError,
               "training samples have inputs {} and outputs {} but test samples have inputs {} and outputs {}; "
               "train and test on one channel layout and grid (use --resolution to subsample both)",
               shape_string(train_sample), shape_string(train_output), shape_string(test_sample),
               shape_string(test_output));
}

void write_predictions(const std::filesystem::path& path, const GridModel& model, const TensorPair& test,
                       std::int64_t count) {
  NEUROP_CHECK(count >= 1 && count <= test.inputs.size(0), ValueError,
               "prediction file: {} samples requested but the test set holds {}", count, test.inputs.size(0));
  NoGradGuard no_grad;
  const Tensor inputs = slice(test.inputs, 0, 0, count).to(DType::f64);
  const Tensor outputs = slice(test.outputs, 0, 0, count).to(DType::f64);
  const Tensor predictions = model.forward(slice(test.inputs, 0, 0, count)).to(DType::f64);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  h5::AtomicWriter writer(path);
  h5::File& file = writer.file();
  file.set_attribute("/", "format", std::string("neurop-predictions"));
  file.set_attribute("/", "version", std::int64_t{1});
  file.write("inputs", inputs.shape(), inputs.data<double>());
  file.write("outputs", outputs.shape(), outputs.data<double>());
  file.write("predictions", predictions.shape(), predictions.data<double>());
  file.create_group("grid");
  for (std::size_t k = 0; k < test.grid.size(); ++k)
    file.write(fmt::format("grid/x{}", k), {static_cast<std::int64_t>(test.grid[k].size())}, test.grid[k].data());
  writer.commit();
}

}  // namespace neurop::app
