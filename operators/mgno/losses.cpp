#include "operators/mgno/losses.hpp"

#include <cmath>

#include "lib/core/error.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::mgno {

Tensor h1_squared_norm_per_sample(const Tensor& u, double spacing) {
  NEUROP_CHECK(spacing > 0.0 && std::isfinite(spacing), ValueError,
               "h1 norm: grid spacing must be positive and finite, got {}", spacing);
  NEUROP_CHECK(u.ndim() >= 3, ShapeError, "h1 norm: expected [batch, channels, S_1..S_d] with d >= 1, got shape {}",
               shape_string(u.shape()));
  const std::int64_t d = u.ndim() - 2;
  std::vector<std::int64_t> non_batch;
  for (std::int64_t axis = 1; axis < u.ndim(); ++axis) non_batch.push_back(axis);
  // sum u^2
  Tensor total = sum(square(u), non_batch);
  for (std::int64_t axis = 2; axis < u.ndim(); ++axis) {
    const std::int64_t n = u.size(axis);
    if (n < 2) continue;
    // sum ((u_{i+1} - u_i) / h)^2 over the n - 1 edges along this axis
    const Tensor difference = sub(slice(u, axis, 1, n), slice(u, axis, 0, n - 1));
    total = add(total, sum(square(difference), non_batch) * (1.0 / (spacing * spacing)));
  }
  // h^d [ ... ]
  return total * std::pow(spacing, static_cast<double>(d));
}

Tensor relative_h1_per_sample(const Tensor& pred, const Tensor& target, double spacing) {
  NEUROP_CHECK(pred.shape() == target.shape(), ShapeError,
               "relative_h1: prediction shape {} differs from target shape {}", shape_string(pred.shape()),
               shape_string(target.shape()));
  const Tensor reference = h1_squared_norm_per_sample(target, spacing);
  const std::vector<double> norms = reference.to_vector();
  for (std::size_t b = 0; b < norms.size(); ++b) {
    NEUROP_CHECK(norms[b] > 0.0, DataError,
                 "relative_h1: target sample {} of the batch has zero H1 norm, so the relative error is undefined; "
                 "remove that sample or use the MSE loss",
                 b);
  }
  // The 1e-30 keeps the derivative of sqrt finite when a prediction matches exactly.
  return sqrt(div(h1_squared_norm_per_sample(sub(pred, target), spacing) + 1e-30, reference));
}

}  // namespace neurop::mgno
