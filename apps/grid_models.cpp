#include "apps/grid_models.hpp"

#include <nlohmann/json.hpp>

#include "lib/autodiff/graph.hpp"
#include "lib/core/error.hpp"
#include "lib/nn/loss.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::app {

void check_model_fits_data(const std::string& model_json, int spatial_dims, std::int64_t in_channels,
                           std::int64_t out_channels, const std::string& checkpoint, const std::string& data_file) {
  nlohmann::json description = nlohmann::json::parse(model_json);
  while (description.value("model", std::string()) == "normalized") description = description.at("inner");
  const std::string kind = description.value("model", std::string());
  // The FNO has one mode count per spatial axis; the MgNO works on 2D grids only.
  int model_dims = 0;
  if (kind == "fno") model_dims = static_cast<int>(description.at("modes").size());
  if (kind == "mgno") model_dims = 2;
  const std::int64_t model_in = description.value("in_channels", std::int64_t{-1});
  const std::int64_t model_out = description.value("out_channels", std::int64_t{-1});
  const bool fits = (model_dims == 0 || model_dims == spatial_dims) && (model_in < 0 || model_in == in_channels) &&
                    (model_out < 0 || model_out == out_channels);
  NEUROP_CHECK(fits, ShapeError,
               "checkpoint '{}' contains a {}D {} model with {} input and {} output channels, but data set '{}' "
               "contains {}D data with {} input and {} output channels; use data of the kind the model was trained "
               "on, or train a new model on '{}'",
               checkpoint, model_dims, kind == "fno" ? "FNO" : "MgNO", model_in, model_out, data_file, spatial_dims,
               in_channels, out_channels, data_file);
}

double mean_relative_l2(const GridModel& model, const Tensor& inputs, const Tensor& outputs,
                        std::int64_t batch_size) {
  NoGradGuard no_grad;
  const std::int64_t count = inputs.size(0);
  NEUROP_CHECK(count >= 1, ValueError, "evaluation: the test set is empty");
  double total = 0.0;
  for (std::int64_t first = 0; first < count; first += batch_size) {
    const std::int64_t last = std::min(count, first + batch_size);
    const Tensor prediction = model.forward(slice(inputs, 0, first, last));
    const Tensor errors = nn::relative_l2_per_sample(prediction.to(DType::f64), slice(outputs, 0, first, last).to(DType::f64));
    for (double e : errors.to_vector()) total += e;
  }
  return total / static_cast<double>(count);
}

}  // namespace neurop::app
