// Convolution layers on NCHW grids (see lib/tensor/conv2d.hpp for the geometry and
// the padding modes). Initialisation follows PyTorch's defaults for nn.Conv2d and
// nn.ConvTranspose2d, so that models compare with PyTorch models of the same layout.
#pragma once

#include <array>
#include <cstdint>

#include "lib/core/random.hpp"
#include "lib/nn/module.hpp"
#include "lib/tensor/conv2d.hpp"

namespace neurop::nn {

// y = conv2d(x, W) + b: x [B, C_in, H, W] -> [B, C_out, H_out, W_out].
// W [C_out, C_in, k, k] and b [C_out] start as U(-1/sqrt(C_in k^2), 1/sqrt(C_in k^2)).
class Conv2d : public Module {
public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, const Conv2dOptions& options,
         Rng& rng, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;
  std::int64_t in_channels() const { return weight.size(1); }
  std::int64_t out_channels() const { return weight.size(0); }
  std::int64_t kernel_size() const { return weight.size(2); }
  const Conv2dOptions& options() const { return options_; }

  Tensor weight, bias;

private:
  Conv2dOptions options_;
};

// z = conv_transpose2d(y, W, output_size) + b: the adjoint of a Conv2d with these
// options, y [B, C_in, H_in, W_in] -> [B, C_out, H, W] with {H, W} = output_size, which
// must be a grid that a Conv2d of these options maps to [H_in, W_in].
// W [C_in, C_out, k, k] (PyTorch's nn.ConvTranspose2d layout) and b [C_out] start as
// U(-1/sqrt(C_out k^2), 1/sqrt(C_out k^2)), PyTorch's fan-in rule for this layout.
class ConvTranspose2d : public Module {
public:
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                  const Conv2dOptions& options, Rng& rng, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& y, const std::array<std::int64_t, 2>& output_size) const;
  std::int64_t in_channels() const { return weight.size(0); }
  std::int64_t out_channels() const { return weight.size(1); }
  std::int64_t kernel_size() const { return weight.size(2); }
  const Conv2dOptions& options() const { return options_; }

  Tensor weight, bias;

private:
  Conv2dOptions options_;
};

}  // namespace neurop::nn
