// Fourier neural operator (Li et al., "Fourier Neural Operator for Parametric
// Partial Differential Equations", ICLR 2021) in 1, 2 or 3 spatial dimensions.
//
// Architecture, with channels first ([batch, channels, S_1..S_d]):
//   input u [B, C_in, S...]  -> append the grid coordinates (d channels, x_k = k / S)
//   lifting      pointwise convolution  C_in + d -> width
//   (optional domain padding: zeros appended at the end of every spatial axis)
//   layers x L   v <- act(SpectralConv(v) + PointwiseConv(v)), no activation after the last
//   (padding removed)
//   projection   pointwise convolutions width -> projection_width -> act -> C_out
// The defaults are the FNO paper's 1D Burgers configuration: width 64, 16 modes,
// 4 layers, GELU, projection 64 -> 128 -> 1.
//
// Inference: when no gradient is recorded (NoGradGuard) and the domain is not padded,
// forward() folds the affine lifting into the first Fourier layer, which then transforms
// C_in + d channels instead of `width`. The result equals the layer-by-layer evaluation
// up to rounding (tests/operators/fno_test.cpp).
//
// Resolution: the weights do not depend on the grid, so a model trained at one
// resolution evaluates at any other (modes are clamped on grids that are too coarse,
// see lib/tensor/spectral.hpp). Padding is a fraction of the grid extent, so the
// padded domain has the same physical size at every resolution.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/random.hpp"
#include "lib/nn/layers.hpp"

namespace neurop::fno {

struct FnoConfig {
  std::int64_t in_channels = 1;
  std::int64_t out_channels = 1;
  std::int64_t width = 64;
  std::vector<std::int64_t> modes = {16};  // one count per spatial axis; its length sets d
  std::int64_t layers = 4;
  std::int64_t projection_width = 128;
  nn::Activation activation = nn::Activation::gelu;
  bool append_grid = true;
  double padding_fraction = 0.0;  // per axis, of the grid extent; 0 for periodic problems
  DType dtype = DType::f32;
  std::uint64_t seed = 0;

  int spatial_dims() const { return static_cast<int>(modes.size()); }
  // Throws ValueError naming the first invalid field.
  void validate() const;
  std::string to_json() const;
  static FnoConfig from_json(const std::string& text);
};

class Fno : public nn::Module {
public:
  explicit Fno(const FnoConfig& config);
  // u [B, C_in, S_1..S_d] -> [B, C_out, S_1..S_d]. Throws ShapeError for any other rank
  // or channel count, naming the expected layout and the received shape.
  Tensor forward(const Tensor& u) const;
  const FnoConfig& config() const { return config_; }

private:
  Tensor grid_channels(const Shape& shape) const;

  FnoConfig config_;
  Rng rng_;
  std::unique_ptr<nn::PointwiseConv> lifting_;
  std::vector<std::unique_ptr<nn::SpectralConv>> spectral_;
  std::vector<std::unique_ptr<nn::PointwiseConv>> pointwise_;
  std::unique_ptr<nn::PointwiseConv> projection_hidden_, projection_out_;
};

}  // namespace neurop::fno
