#include "lib/nn/normalizer.hpp"

#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::nn {
namespace {

Shape grid_of(const Shape& shape, std::size_t first_spatial) {
  return Shape(shape.begin() + static_cast<std::ptrdiff_t>(first_spatial), shape.end());
}

// Stride that takes `fitted` points to `target` points under the subsampling rule of
// the header, or 0 when there is none.
std::int64_t subsample_stride(std::int64_t fitted, std::int64_t target, bool periodic) {
  if (target == fitted) return 1;
  if (target < 1 || target > fitted) return 0;
  if (periodic) return fitted % target == 0 ? fitted / target : 0;
  if (target < 2) return 0;
  return (fitted - 1) % (target - 1) == 0 ? (fitted - 1) / (target - 1) : 0;
}

}  // namespace

NormalizerKind parse_normalizer_kind(const std::string& name) {
  if (name == "pointwise") return NormalizerKind::pointwise;
  if (name == "channel") return NormalizerKind::channel;
  throw ValueError(fmt::format("unknown normaliser kind '{}'; expected pointwise or channel", name));
}

const char* normalizer_kind_name(NormalizerKind kind) {
  return kind == NormalizerKind::pointwise ? "pointwise" : "channel";
}

GaussianNormalizer::GaussianNormalizer(const Tensor& mean_values, const Tensor& std_values,
                                       const NormalizerOptions& options)
    : options_(options) {
  NEUROP_CHECK(options.eps >= 0.0 && std::isfinite(options.eps), ValueError,
               "GaussianNormalizer: eps must be finite and >= 0, got {}", options.eps);
  NEUROP_CHECK(mean_values.defined() && std_values.defined() && mean_values.shape() == std_values.shape(),
               ShapeError, "GaussianNormalizer: mean and std must have one shape, got {} and {}",
               mean_values.defined() ? shape_string(mean_values.shape()) : "undefined",
               std_values.defined() ? shape_string(std_values.shape()) : "undefined");
  NEUROP_CHECK(mean_values.dtype() == std_values.dtype(), ShapeError,
               "GaussianNormalizer: mean is {} but std is {}", dtype_name(mean_values.dtype()),
               dtype_name(std_values.dtype()));
  if (options.kind == NormalizerKind::channel) {
    NEUROP_CHECK(mean_values.ndim() == 1, ShapeError,
                 "GaussianNormalizer: channel statistics must be [C], got shape {}",
                 shape_string(mean_values.shape()));
  } else {
    NEUROP_CHECK(mean_values.ndim() >= 1, ShapeError,
                 "GaussianNormalizer: pointwise statistics must be [C, S_1..S_d], got shape {}",
                 shape_string(mean_values.shape()));
  }
  for (double s : std_values.to_vector())
    NEUROP_CHECK(s >= 0.0 && std::isfinite(s), ValueError,
                 "GaussianNormalizer: standard deviations must be finite and >= 0, got {}", s);
  mean = mean_values.detach().clone();
  stddev = std_values.detach().clone();
  register_parameter("mean", mean);
  register_parameter("std", stddev);
}

std::unique_ptr<GaussianNormalizer> GaussianNormalizer::fit(const Tensor& data, const NormalizerOptions& options,
                                                            DType dtype) {
  NEUROP_CHECK(data.defined() && data.ndim() >= 2, ShapeError,
               "GaussianNormalizer::fit: data must be [N, C, S_1..S_d], got shape {}",
               data.defined() ? shape_string(data.shape()) : "undefined");
  const std::int64_t samples = data.size(0), channels = data.size(1);
  const std::int64_t points = data.numel() / std::max<std::int64_t>(samples * channels, 1);
  const bool pointwise = options.kind == NormalizerKind::pointwise;
  const std::int64_t count = pointwise ? samples : samples * points;
  NEUROP_CHECK(count >= 2, ValueError,
               "GaussianNormalizer::fit: {} statistics of data {} average {} value(s); at least 2 are needed for a "
               "standard deviation",
               normalizer_kind_name(options.kind), shape_string(data.shape()), count);

  // values[n][c][p] at ((n C) + c) P + p.
  const std::vector<double> values = data.to_vector();
  const std::int64_t groups = pointwise ? channels * points : channels;
  std::vector<double> mean_values(static_cast<std::size_t>(groups), 0.0);
  std::vector<double> std_values(static_cast<std::size_t>(groups), 0.0);
  auto group_of = [&](std::int64_t c, std::int64_t p) { return pointwise ? c * points + p : c; };
  // mean = sum x / count;  std = sqrt(sum (x - mean)^2 / (count - 1)), two passes.
  for (std::int64_t n = 0; n < samples; ++n)
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t p = 0; p < points; ++p)
        mean_values[static_cast<std::size_t>(group_of(c, p))] +=
            values[static_cast<std::size_t>((n * channels + c) * points + p)];
  for (double& m : mean_values) m /= static_cast<double>(count);
  for (std::int64_t n = 0; n < samples; ++n)
    for (std::int64_t c = 0; c < channels; ++c)
      for (std::int64_t p = 0; p < points; ++p) {
        const std::size_t g = static_cast<std::size_t>(group_of(c, p));
        const double d = values[static_cast<std::size_t>((n * channels + c) * points + p)] - mean_values[g];
        std_values[g] += d * d;
      }
  for (double& s : std_values) s = std::sqrt(s / static_cast<double>(count - 1));

  Shape shape = {channels};
  if (pointwise) {
    const Shape grid = grid_of(data.shape(), 2);
    shape.insert(shape.end(), grid.begin(), grid.end());
  }
  return std::make_unique<GaussianNormalizer>(Tensor::from_vector(mean_values, shape, dtype),
                                              Tensor::from_vector(std_values, shape, dtype), options);
}

std::pair<Tensor, Tensor> GaussianNormalizer::statistics_for(const Tensor& x, const char* op) const {
  const Shape& stats = mean.shape();
  const std::int64_t channels = stats[0];
  const bool pointwise = options_.kind == NormalizerKind::pointwise;
  NEUROP_CHECK(x.defined() && x.ndim() >= 2, ShapeError, "GaussianNormalizer::{}: input must be [B, C, ...], got {}",
               op, x.defined() ? shape_string(x.shape()) : "undefined");
  NEUROP_CHECK(x.size(1) == channels, ShapeError,
               "GaussianNormalizer::{}: input {} has {} channel(s) but the statistics are for {} channel(s); use the "
               "normaliser fitted on data with these channels (input statistics for inputs, output statistics for "
               "outputs)",
               op, shape_string(x.shape()), x.size(1), channels);

  Tensor m = mean.detach();
  Tensor denominator = add(stddev.detach(), Tensor::scalar(options_.eps, stddev.dtype()));
  Shape view(static_cast<std::size_t>(x.ndim()), 1);
  view[1] = channels;
  if (pointwise) {
    const Shape fitted_grid = grid_of(stats, 1);
    const Shape input_grid = grid_of(x.shape(), 2);
    NEUROP_CHECK(fitted_grid.size() == input_grid.size(), ShapeError,
                 "GaussianNormalizer::{}: pointwise statistics for the grid {} do not fit the input {} with {} "
                 "spatial axes",
                 op, shape_string(fitted_grid), shape_string(x.shape()), input_grid.size());
    for (std::size_t k = 0; k < fitted_grid.size(); ++k) {
      const std::int64_t stride = subsample_stride(fitted_grid[k], input_grid[k], options_.periodic);
      NEUROP_CHECK(stride >= 1, ShapeError,
                   "GaussianNormalizer::{}: pointwise statistics were fitted on the grid {} and the input grid {} is "
                   "not a subsample of it ({} points per axis cannot be taken from {}{}); fit the normaliser at "
                   "this resolution or use channel statistics, which hold at every resolution",
                   op, shape_string(fitted_grid), shape_string(input_grid), input_grid[k], fitted_grid[k],
                   options_.periodic ? " on a periodic grid" : " with both end points kept");
      if (stride > 1) {
        m = slice(m, static_cast<std::int64_t>(k) + 1, 0, fitted_grid[k], stride);
        denominator = slice(denominator, static_cast<std::int64_t>(k) + 1, 0, fitted_grid[k], stride);
      }
      view[k + 2] = input_grid[k];
    }
  }
  return {reshape(m, view).to(x.dtype()), reshape(denominator, view).to(x.dtype())};
}

Tensor GaussianNormalizer::encode(const Tensor& x) const {
  const auto [m, denominator] = statistics_for(x, "encode");
  // (x - mean) / (std + eps)
  return div(sub(x, m), denominator);
}

Tensor GaussianNormalizer::decode(const Tensor& z) const {
  const auto [m, denominator] = statistics_for(z, "decode");
  // z (std + eps) + mean
  return add(mul(z, denominator), m);
}

std::string GaussianNormalizer::to_json() const {
  nlohmann::json j;
  j["kind"] = normalizer_kind_name(options_.kind);
  j["eps"] = options_.eps;
  j["periodic"] = options_.periodic;
  j["shape"] = mean.shape();
  return j.dump();
}

std::unique_ptr<GaussianNormalizer> GaussianNormalizer::from_json(const std::string& text, DType dtype) {
  NormalizerOptions options;
  Shape shape;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    options.kind = parse_normalizer_kind(j.at("kind").get<std::string>());
    options.eps = j.at("eps").get<double>();
    options.periodic = j.at("periodic").get<bool>();
    shape = j.at("shape").get<Shape>();
  } catch (const nlohmann::json::exception& error) {
    throw ValueError(fmt::format("invalid normaliser description '{}': {}", text, error.what()));
  }
  NEUROP_CHECK(!shape.empty() && shape_numel(shape) >= 1, ValueError,
               "invalid normaliser description '{}': the statistics shape must be non-empty", text);
  return std::make_unique<GaussianNormalizer>(Tensor::zeros(shape, dtype), Tensor::ones(shape, dtype), options);
}

}  // namespace neurop::nn
