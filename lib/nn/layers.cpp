#include "lib/nn/layers.hpp"

#include "lib/core/error.hpp"
#include "lib/nn/init.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/tensor/spectral.hpp"

namespace neurop::nn {

Linear::Linear(std::int64_t in_features, std::int64_t out_features, Rng& rng, bool with_bias, DType dtype) {
  NEUROP_CHECK(in_features >= 1 && out_features >= 1, ValueError,
               "Linear: feature counts must be >= 1, got in = {}, out = {}", in_features, out_features);
  weight = Tensor::empty({out_features, in_features}, dtype);
  fan_in_uniform_(weight, in_features, rng);
  register_parameter("weight", weight);
  if (with_bias) {
    bias = Tensor::empty({out_features}, dtype);
    fan_in_uniform_(bias, in_features, rng);
    register_parameter("bias", bias);
  }
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

PointwiseConv::PointwiseConv(std::int64_t in_channels, std::int64_t out_channels, Rng& rng, bool with_bias,
                             DType dtype) {
  NEUROP_CHECK(in_channels >= 1 && out_channels >= 1, ValueError,
               "PointwiseConv: channel counts must be >= 1, got in = {}, out = {}", in_channels, out_channels);
  weight = Tensor::empty({out_channels, in_channels}, dtype);
  fan_in_uniform_(weight, in_channels, rng);
  register_parameter("weight", weight);
  if (with_bias) {
    bias = Tensor::empty({out_channels}, dtype);
    fan_in_uniform_(bias, in_channels, rng);
    register_parameter("bias", bias);
  }
}

Tensor PointwiseConv::forward(const Tensor& x) const { return pointwise_conv(x, weight, bias); }

SpectralConv::SpectralConv(std::int64_t in_channels, std::int64_t out_channels, std::vector<std::int64_t> modes,
                           Rng& rng, DType dtype)
    : modes_(std::move(modes)) {
  NEUROP_CHECK(in_channels >= 1 && out_channels >= 1, ValueError,
               "SpectralConv: channel counts must be >= 1, got in = {}, out = {}", in_channels, out_channels);
  NEUROP_CHECK(!modes_.empty() && modes_.size() <= 3, ValueError,
               "SpectralConv: expected 1 to 3 mode counts (one per spatial axis), got {}", modes_.size());
  Shape shape = {in_channels, out_channels};
  for (std::size_t i = 0; i < modes_.size(); ++i) {
    NEUROP_CHECK(modes_[i] >= 1, ValueError, "SpectralConv: mode count on axis {} must be >= 1, got {}", i,
                 modes_[i]);
    shape.push_back(i + 1 == modes_.size() ? modes_[i] : 2 * modes_[i]);
  }
  shape.push_back(2);
  weight = Tensor::empty(shape, dtype);
  uniform_(weight, 0.0, 1.0 / static_cast<double>(in_channels * out_channels), rng);
  register_parameter("weight", weight);
}

Tensor SpectralConv::forward(const Tensor& x) const { return spectral_conv(x, weight); }

Mlp::Mlp(const std::vector<std::int64_t>& widths, Activation activation, Rng& rng, Activation final_activation,
         DType dtype)
    : activation_(activation), final_activation_(final_activation) {
  NEUROP_CHECK(widths.size() >= 2, ValueError, "Mlp: expected at least an input and an output width, got {} widths",
               widths.size());
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    layers_.push_back(std::make_unique<Linear>(widths[i], widths[i + 1], rng, true, dtype));
    register_module(fmt::format("layers.{}", i), *layers_.back());
  }
}

Tensor Mlp::forward(const Tensor& x) const {
  Tensor h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i]->forward(h);
    h = activate(h, i + 1 == layers_.size() ? final_activation_ : activation_);
  }
  return h;
}

}  // namespace neurop::nn
