#include "lib/nn/loss.hpp"

#include "lib/core/error.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::nn {
namespace {

void check_pair(const char* name, const Tensor& pred, const Tensor& target) {
  NEUROP_CHECK(pred.shape() == target.shape(), ShapeError,
               "{}: prediction shape {} differs from target shape {}", name, shape_string(pred.shape()),
               shape_string(target.shape()));
  NEUROP_CHECK(pred.ndim() >= 1 && pred.size(0) >= 1, ShapeError,
               "{}: expected a batch axis with at least one sample, got shape {}", name, shape_string(pred.shape()));
}

// [B, ...] -> [B, rest]
Tensor flatten_samples(const Tensor& x) { return reshape(x, {x.size(0), -1}); }

}  // namespace

Tensor relative_l2_per_sample(const Tensor& pred, const Tensor& target) {
  check_pair("relative_l2", pred, target);
  // ||p - y||_b / ||y||_b
  const Tensor difference = flatten_samples(sub(pred, target));
  const Tensor reference = flatten_samples(target);
  const Tensor reference_norm = sqrt(sum(square(reference), {1}));
  const std::vector<double> norms = reference_norm.to_vector();
  for (std::size_t b = 0; b < norms.size(); ++b) {
    NEUROP_CHECK(norms[b] > 0.0, DataError,
                 "relative_l2: target sample {} of the batch has zero norm, so the relative error is undefined; "
                 "remove that sample or use the MSE loss",
                 b);
  }
  // The 1e-30 keeps the derivative of sqrt finite when a prediction matches exactly;
  // it changes the error by less than 1e-15 relative once the error exceeds 1e-7.
  return div(sqrt(sum(square(difference), {1}) + 1e-30), reference_norm);
}

Tensor mse_per_sample(const Tensor& pred, const Tensor& target) {
  check_pair("mse", pred, target);
  return mean(square(flatten_samples(sub(pred, target))), {1});
}

Tensor reduce(const Tensor& per_sample, Reduction reduction) {
  return reduction == Reduction::sum ? sum(per_sample) : mean(per_sample);
}

Tensor Loss::operator()(const Tensor& pred, const Tensor& target) const {
  const Tensor per_sample =
      kind == LossKind::relative_l2 ? relative_l2_per_sample(pred, target) : mse_per_sample(pred, target);
  return reduce(per_sample, reduction);
}

}  // namespace neurop::nn
