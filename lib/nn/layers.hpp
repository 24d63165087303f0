// Layers: linear maps, pointwise (1x1) convolutions, spectral convolutions and MLPs.
// Initialisation follows PyTorch's defaults so that results compare with PyTorch
// models of the same architecture.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/random.hpp"
#include "lib/nn/module.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::nn {

// Activations are tensor operations (lib/tensor/ops.hpp); layers take them as settings.
using neurop::activate;
using neurop::Activation;
using neurop::activation_name;
using neurop::parse_activation;

// y = x W^T + b over the last axis: x [..., in] -> [..., out].
// W [out, in] and b [out] start as U(-1/sqrt(in), 1/sqrt(in)) (PyTorch nn.Linear).
class Linear : public Module {
public:
  Linear(std::int64_t in_features, std::int64_t out_features, Rng& rng, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;
  std::int64_t in_features() const { return weight.size(1); }
  std::int64_t out_features() const { return weight.size(0); }

  Tensor weight, bias;
};

// Pointwise channel mixing (a kernel-size-1 convolution): x [B, C_in, *spatial] ->
// [B, C_out, *spatial]. Initialised like PyTorch's Conv1d with kernel size 1.
class PointwiseConv : public Module {
public:
  PointwiseConv(std::int64_t in_channels, std::int64_t out_channels, Rng& rng, bool bias = true,
                DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;
  std::int64_t in_channels() const { return weight.size(1); }
  std::int64_t out_channels() const { return weight.size(0); }

  Tensor weight, bias;
};

// Fourier-layer convolution over d = modes.size() spatial axes (see
// lib/tensor/spectral.hpp for the mode layout and the clamping rule). The complex
// weight [C_in, C_out, K_1..K_d, 2] starts with real and imaginary parts drawn from
// U[0, 1 / (C_in C_out)), as in the reference FNO code.
class SpectralConv : public Module {
public:
  SpectralConv(std::int64_t in_channels, std::int64_t out_channels, std::vector<std::int64_t> modes, Rng& rng,
               DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;
  const std::vector<std::int64_t>& modes() const { return modes_; }

  Tensor weight;

private:
  std::vector<std::int64_t> modes_;
};

// Multilayer perceptron over the last axis: widths [in, h_1, ..., out], `activation`
// between layers and `final_activation` after the last one.
class Mlp : public Module {
public:
  Mlp(const std::vector<std::int64_t>& widths, Activation activation, Rng& rng,
      Activation final_activation = Activation::identity, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;
  std::int64_t in_features() const { return layers_.front()->in_features(); }
  std::int64_t out_features() const { return layers_.back()->out_features(); }

private:
  std::vector<std::unique_ptr<Linear>> layers_;
  Activation activation_, final_activation_;
};

}  // namespace neurop::nn
