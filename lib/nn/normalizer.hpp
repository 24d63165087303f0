// Gaussian normalisation of grid data, as the FNO and MgNO reference codes apply to
// their inputs and outputs (UnitGaussianNormalizer):
//   encode(x) = (x - mean) / (std + eps),   decode(z) = z (std + eps) + mean.
//
// Data layout [N, C, S_1, ..., S_d] (d >= 0 spatial axes). Two kinds of statistics:
//   pointwise  mean and std per channel and grid point, over the N samples: [C, S_1..S_d];
//   channel    mean and std per channel, over the samples and all grid points: [C].
// std is the unbiased sample standard deviation (divisor count - 1, as torch.std).
// eps (default 1e-5, the reference codes' value) keeps grid points of zero variance
// finite, such as the Dirichlet boundary of a Darcy solution: there encode(x) = x / eps
// and decode undoes it exactly up to round-off.
//
// Channels must match exactly: statistics of C channels apply to tensors with C
// channels, and anything else throws ShapeError (1-channel statistics are never
// broadcast over 3 channels).
//
// Other resolutions. Channel statistics do not depend on the grid and apply to any
// resolution. Pointwise statistics fitted on S points per axis apply to a grid of S'
// points when S' is a subsample of S: with end points included (periodic = false),
// S' >= 2 and (S - 1) divisible by (S' - 1), using every (S - 1)/(S' - 1)-th value;
// on periodic grids, S divisible by S', using every S/S'-th value. Any other grid
// (finer, or not a subsample) throws ShapeError naming both grids; fit the normaliser
// at that resolution or use channel statistics.
//
// The statistics are registered as the module parameters "mean" and "std" so that
// checkpoints store them. encode() and decode() use them detached: they receive no
// gradient, and optimizers skip parameters without a gradient, so training leaves
// them unchanged.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "lib/nn/module.hpp"

namespace neurop::nn {

enum class NormalizerKind { pointwise, channel };

// Parses "pointwise" or "channel"; throws ValueError otherwise.
NormalizerKind parse_normalizer_kind(const std::string& name);
const char* normalizer_kind_name(NormalizerKind kind);

struct NormalizerOptions {
  NormalizerKind kind = NormalizerKind::pointwise;
  double eps = 1e-5;      // > 0 is recommended; must be >= 0
  bool periodic = false;  // grid type, for the subsampling rule above
};

class GaussianNormalizer : public Module {
public:
  // Statistics given explicitly: mean and std of shape [C] (channel) or [C, S_1..S_d]
  // (pointwise), in the dtype the module will have. Throws ShapeError when the shapes
  // differ or do not fit the kind, ValueError for eps < 0 or a negative std.
  GaussianNormalizer(const Tensor& mean, const Tensor& std, const NormalizerOptions& options);

  // Fits the statistics of data [N, C, S_1..S_d] (any dtype; accumulated in float64,
  // stored in `dtype`). Throws ShapeError for rank < 2 and ValueError when fewer than
  // two values enter each statistic.
  static std::unique_ptr<GaussianNormalizer> fit(const Tensor& data, const NormalizerOptions& options,
                                                 DType dtype = DType::f32);

  // x [B, C, S'_1..S'_d] -> same shape; see the file comment for the rules on C and S'.
  Tensor encode(const Tensor& x) const;
  Tensor decode(const Tensor& z) const;

  const NormalizerOptions& options() const { return options_; }
  // [C] or [C, S_1..S_d].
  const Shape& statistics_shape() const { return mean.shape(); }

  // {"kind", "eps", "periodic", "shape"}; from_json builds a normaliser of that shape
  // with mean 0 and std 1, to be filled by load_checkpoint.
  std::string to_json() const;
  static std::unique_ptr<GaussianNormalizer> from_json(const std::string& text, DType dtype);

  Tensor mean, stddev;  // registered as "mean" and "std"

private:
  // (mean, std + eps) as [1, C, 1..1] or [1, C, S'...] for the grid of x, in x's dtype.
  std::pair<Tensor, Tensor> statistics_for(const Tensor& x, const char* op) const;

  NormalizerOptions options_;
};

}  // namespace neurop::nn
