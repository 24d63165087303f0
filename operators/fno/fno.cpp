#include "operators/fno/fno.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "lib/autodiff/graph.hpp"
#include "lib/core/error.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/tensor/spectral.hpp"

namespace neurop::fno {

namespace {

// The weights of one Fourier layer z -> spectral_conv(z, spectral) + pointwise z + bias.
struct FourierWeights {
  Tensor spectral;   // [C_in, C_out, K..., 2]
  Tensor pointwise;  // [C_out, C_in]
  Tensor bias;       // [C_out]
};

// Returns the weights of the layer applied after the affine map z -> L z + c, with
// L [C_in, J] and c [C_in]:
//   spectral_conv(L z + c, w) + W (L z + c) + b = spectral_conv(z, w') + (W L) z + b'
//   w'[j, o, ...] = sum_i L[i, j] w[i, o, ...]
//   b' = b + W c + Re(w[:, :, 0..0])^T c
// The last term is the spectral convolution of the constant field c: its transform holds
// only the zero mode, which the inverse transform maps back to a constant.
FourierWeights fold_input_map(const FourierWeights& layer, const Tensor& map, const Tensor& shift) {
  const Tensor& w = layer.spectral;
  const std::int64_t in_channels = w.size(0), out_channels = w.size(1);
  Shape folded_shape = w.shape();
  folded_shape[0] = map.size(1);
  Tensor zero_mode = w;
  for (std::int64_t axis = 2; axis < w.ndim(); ++axis) zero_mode = slice(zero_mode, axis, 0, 1);
  zero_mode = reshape(zero_mode, {in_channels, out_channels});
  const Tensor column = reshape(shift, {in_channels, 1});
  return {reshape(matmul(map, reshape(w, {in_channels, w.numel() / in_channels}), /*transpose_a=*/true), folded_shape),
          matmul(layer.pointwise, map),
          layer.bias + reshape(matmul(layer.pointwise, column) + matmul(zero_mode, column, /*transpose_a=*/true),
                               {out_channels})};
}

}  // namespace

void FnoConfig::validate() const {
  NEUROP_CHECK(!modes.empty() && modes.size() <= 3, ValueError,
               "FNO: expected 1 to 3 mode counts (one per spatial axis), got {}", modes.size());
  for (std::size_t i = 0; i < modes.size(); ++i)
    NEUROP_CHECK(modes[i] >= 1, ValueError, "FNO: mode count on axis {} must be >= 1, got {}", i, modes[i]);
  NEUROP_CHECK(in_channels >= 1 && out_channels >= 1, ValueError,
               "FNO: channel counts must be >= 1, got in = {}, out = {}", in_channels, out_channels);
  NEUROP_CHECK(width >= 1 && projection_width >= 1, ValueError,
               "FNO: width and projection width must be >= 1, got {} and {}", width, projection_width);
  NEUROP_CHECK(layers >= 1, ValueError, "FNO: at least one Fourier layer is needed, got {}", layers);
  NEUROP_CHECK(padding_fraction >= 0.0 && padding_fraction <= 1.0, ValueError,
               "FNO: padding fraction must lie in [0, 1], got {}", padding_fraction);
}

std::string FnoConfig::to_json() const {
  nlohmann::json j;
  j["model"] = "fno";
  j["in_channels"] = in_channels;
  j["out_channels"] = out_channels;
  j["width"] = width;
  j["modes"] = modes;
  j["layers"] = layers;
  j["projection_width"] = projection_width;
  j["activation"] = nn::activation_name(activation);
  j["append_grid"] = append_grid;
  j["padding_fraction"] = padding_fraction;
  j["dtype"] = dtype_name(dtype);
  j["seed"] = seed;
  return j.dump();
}

FnoConfig FnoConfig::from_json(const std::string& text) {
  FnoConfig config;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    NEUROP_CHECK(j.value("model", std::string()) == "fno", ValueError,
                 "model description is for '{}', not an FNO", j.value("model", std::string("unknown")));
    config.in_channels = j.at("in_channels").get<std::int64_t>();
    config.out_channels = j.at("out_channels").get<std::int64_t>();
    config.width = j.at("width").get<std::int64_t>();
    config.modes = j.at("modes").get<std::vector<std::int64_t>>();
    config.layers = j.at("layers").get<std::int64_t>();
    config.projection_width = j.at("projection_width").get<std::int64_t>();
    config.activation = nn::parse_activation(j.at("activation").get<std::string>());
    config.append_grid = j.at("append_grid").get<bool>();
    config.padding_fraction = j.at("padding_fraction").get<double>();
    config.dtype = j.at("dtype").get<std::string>() == "float64" ? DType::f64 : DType::f32;
    config.seed = j.at("seed").get<std::uint64_t>();
  } catch (const nlohmann::json::exception& error) {
    throw ValueError(fmt::format("invalid FNO description '{}': {}", text, error.what()));
  }
  config.validate();
  return config;
}

Fno::Fno(const FnoConfig& config) : config_(config), rng_(config.seed) {
  config_.validate();
  const std::int64_t lifted_inputs = config_.in_channels + (config_.append_grid ? config_.spatial_dims() : 0);
  lifting_ = std::make_unique<nn::PointwiseConv>(lifted_inputs, config_.width, rng_, true, config_.dtype);
  register_module("lifting", *lifting_);
  for (std::int64_t l = 0; l < config_.layers; ++l) {
    spectral_.push_back(
        std::make_unique<nn::SpectralConv>(config_.width, config_.width, config_.modes, rng_, config_.dtype));
    pointwise_.push_back(std::make_unique<nn::PointwiseConv>(config_.width, config_.width, rng_, true, config_.dtype));
    register_module(fmt::format("spectral.{}", l), *spectral_.back());
    register_module(fmt::format("pointwise.{}", l), *pointwise_.back());
  }
  projection_hidden_ =
      std::make_unique<nn::PointwiseConv>(config_.width, config_.projection_width, rng_, true, config_.dtype);
  projection_out_ =
      std::make_unique<nn::PointwiseConv>(config_.projection_width, config_.out_channels, rng_, true, config_.dtype);
  register_module("projection_hidden", *projection_hidden_);
  register_module("projection_out", *projection_out_);
}

Tensor Fno::grid_channels(const Shape& shape) const {
  // [B, d, S_1..S_d] with channel k holding x_k = index / S_k along axis k.
  const int d = config_.spatial_dims();
  std::vector<Tensor> channels;
  Shape single = {1, 1};
  for (int k = 0; k < d; ++k) single.push_back(shape[static_cast<std::size_t>(k) + 2]);
  Shape full = single;
  full[0] = shape[0];
  for (int k = 0; k < d; ++k) {
    const std::int64_t extent = shape[static_cast<std::size_t>(k) + 2];
    Shape axis_shape(static_cast<std::size_t>(d) + 2, 1);
    axis_shape[static_cast<std::size_t>(k) + 2] = extent;
    Tensor coordinates = Tensor::arange(extent, config_.dtype) / static_cast<double>(extent);
    channels.push_back(broadcast_to(reshape(coordinates, axis_shape), full));
  }
  return concat(channels, 1);
}

Tensor Fno::forward(const Tensor& u) const {
  const int d = config_.spatial_dims();
  NEUROP_CHECK(u.ndim() == d + 2, ShapeError,
               "FNO: expected input of rank {} [batch, channels, {} spatial extents], got shape {}; channels come "
               "before the spatial axes",
               d + 2, d, shape_string(u.shape()));
  NEUROP_CHECK(u.size(1) == config_.in_channels, ShapeError,
               "FNO: input has {} channels (shape {}) but the model was built for {} data channels{}",
               u.size(1), shape_string(u.shape()), config_.in_channels,
               config_.append_grid ? fmt::format(" (plus {} grid channels it adds itself)", d) : "");
  NEUROP_CHECK(u.dtype() == config_.dtype, ShapeError,
               "FNO: input is {} but the model is {}; convert the input with Tensor::to()", dtype_name(u.dtype()),
               dtype_name(config_.dtype));

  Tensor v = config_.append_grid ? concat({u, grid_channels(u.shape())}, 1) : u;
  std::vector<std::int64_t> padding(static_cast<std::size_t>(d), 0);
  bool padded = false;
  for (int k = 0; k < d; ++k) {
    padding[static_cast<std::size_t>(k)] =
        static_cast<std::int64_t>(std::lround(config_.padding_fraction * static_cast<double>(u.size(k + 2))));
    padded = padded || padding[static_cast<std::size_t>(k)] > 0;
  }
  // Inference on an unpadded domain folds the lifting into the first Fourier layer (see
  // fno.hpp). Training records the layers one by one.
  const bool fold = !GradMode::enabled() && !padded;
  std::vector<FourierWeights> layers;
  for (std::size_t l = 0; l < spectral_.size(); ++l)
    layers.push_back({spectral_[l]->weight, pointwise_[l]->weight, pointwise_[l]->bias});
  if (fold && v.size(1) < config_.width) {
    layers.front() = fold_input_map(layers.front(), lifting_->weight, lifting_->bias);
  } else {
    v = lifting_->forward(v);
    for (int k = 0; k < d; ++k) v = pad(v, k + 2, 0, padding[static_cast<std::size_t>(k)]);
  }
  for (std::size_t l = 0; l < layers.size(); ++l) {
    // act(spectral_conv(v) + pointwise_conv(v)), fused; no activation after the last layer.
    const Activation activation = l + 1 < layers.size() ? config_.activation : Activation::identity;
    v = fourier_layer(v, layers[l].spectral, layers[l].pointwise, layers[l].bias, activation);
  }

  for (int k = 0; k < d; ++k) v = slice(v, k + 2, 0, u.size(k + 2));
  return pointwise_mlp(v, projection_hidden_->weight, projection_hidden_->bias, config_.activation,
                       projection_out_->weight, projection_out_->bias);
}

}  // namespace neurop::fno
