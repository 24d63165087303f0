// Losses. Every loss first computes one value per sample (axis 0 is the batch) and
// then reduces over the batch by its declared Reduction, so a trainer or metric that
// accumulates over batches of different sizes can recover the per-sample mean:
// with Reduction::sum it adds the values, with Reduction::mean it adds value x batch.
#pragma once

#include "lib/tensor/tensor.hpp"

namespace neurop::nn {

enum class Reduction { sum, mean };

// ||pred_b - target_b|| / ||target_b|| for each sample b, over all other axes: [B].
// Throws DataError when a target sample has zero norm (the ratio is undefined).
Tensor relative_l2_per_sample(const Tensor& pred, const Tensor& target);
// mean((pred_b - target_b)^2) over all non-batch axes for each sample: [B].
Tensor mse_per_sample(const Tensor& pred, const Tensor& target);

Tensor reduce(const Tensor& per_sample, Reduction reduction);

enum class LossKind { relative_l2, mse };

struct Loss {
  LossKind kind = LossKind::relative_l2;
  Reduction reduction = Reduction::sum;

  Tensor operator()(const Tensor& pred, const Tensor& target) const;
  // Converts a reduced value over `batch` samples to the sum over those samples.
  double to_sum(double value, std::int64_t batch) const {
    return reduction == Reduction::sum ? value : value * static_cast<double>(batch);
  }
  const char* name() const { return kind == LossKind::relative_l2 ? "relative L2" : "MSE"; }
};

}  // namespace neurop::nn
