#include "lib/nn/conv_layers.hpp"

#include "lib/core/error.hpp"
#include "lib/nn/init.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::nn {
namespace {

void check_layer(const char* layer, std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                 const Conv2dOptions& options) {
  NEUROP_CHECK(in_channels >= 1 && out_channels >= 1, ValueError,
               "{}: channel counts must be >= 1, got in = {}, out = {}", layer, in_channels, out_channels);
  NEUROP_CHECK(kernel_size >= 1, ValueError, "{}: kernel size must be >= 1, got {}", layer, kernel_size);
  NEUROP_CHECK(options.stride >= 1 && options.padding >= 0, ValueError,
               "{}: stride must be >= 1 and padding >= 0, got stride {} and padding {}", layer, options.stride,
               options.padding);
}

// Adds b [C] to every grid point of y [B, C, H, W].
Tensor add_channel_bias(const Tensor& y, const Tensor& bias) {
  if (!bias.defined()) return y;
  return add(y, reshape(bias, {1, bias.size(0), 1, 1}));
}

}  // namespace

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
               const Conv2dOptions& options, Rng& rng, bool with_bias, DType dtype)
    : options_(options) {
  check_layer("Conv2d", in_channels, out_channels, kernel_size, options);
  const std::int64_t fan_in = in_channels * kernel_size * kernel_size;
  weight = Tensor::empty({out_channels, in_channels, kernel_size, kernel_size}, dtype);
  fan_in_uniform_(weight, fan_in, rng);
  register_parameter("weight", weight);
  if (with_bias) {
    bias = Tensor::empty({out_channels}, dtype);
    fan_in_uniform_(bias, fan_in, rng);
    register_parameter("bias", bias);
  }
}

Tensor Conv2d::forward(const Tensor& x) const { return add_channel_bias(conv2d(x, weight, options_), bias); }

ConvTranspose2d::ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                                 const Conv2dOptions& options, Rng& rng, bool with_bias, DType dtype)
    : options_(options) {
  check_layer("ConvTranspose2d", in_channels, out_channels, kernel_size, options);
  // PyTorch computes the fan-in of a [in, out, k, k] weight from its second extent.
  const std::int64_t fan_in = out_channels * kernel_size * kernel_size;
  weight = Tensor::empty({in_channels, out_channels, kernel_size, kernel_size}, dtype);
  fan_in_uniform_(weight, fan_in, rng);
  register_parameter("weight", weight);
  if (with_bias) {
    bias = Tensor::empty({out_channels}, dtype);
    fan_in_uniform_(bias, fan_in, rng);
    register_parameter("bias", bias);
  }
}

Tensor ConvTranspose2d::forward(const Tensor& y, const std::array<std::int64_t, 2>& output_size) const {
  return add_channel_bias(conv_transpose2d(y, weight, output_size, options_), bias);
}

}  // namespace neurop::nn
