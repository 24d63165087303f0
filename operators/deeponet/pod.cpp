#include "operators/deeponet/pod.hpp"

#include <cmath>

#include <Eigen/Dense>
#include <Eigen/SVD>

#include "lib/core/error.hpp"
#include "lib/tensor/ops.hpp"
#include "operators/deeponet/deeponet.hpp"

namespace neurop::deeponet {

PodBasis compute_pod_basis(const Tensor& outputs, std::int64_t modes, DType dtype) {
  NEUROP_CHECK(outputs.ndim() == 2 || outputs.ndim() == 3, ShapeError,
               "compute_pod_basis: expected training outputs [N, P] or [N, P, c], got shape {}",
               shape_string(outputs.shape()));
  const std::int64_t samples = outputs.size(0);
  const std::int64_t values = outputs.numel() / std::max<std::int64_t>(samples, 1);
  NEUROP_CHECK(samples >= 2, DataError,
               "compute_pod_basis: the POD needs at least 2 training samples to subtract a mean, got {}", samples);
  NEUROP_CHECK(modes >= 1 && modes <= std::min(samples, values), ValueError,
               "compute_pod_basis: {} modes requested, but {} samples of {} values give at most {}; request between 1 "
               "and {}",
               modes, samples, values, std::min(samples, values), std::min(samples, values));

  const std::vector<double> flat = outputs.to_vector();
  for (std::size_t i = 0; i < flat.size(); ++i) {
    NEUROP_CHECK(std::isfinite(flat[i]), DataError, "compute_pod_basis: output value {} of sample {} is {}",
                 i % static_cast<std::size_t>(values), i / static_cast<std::size_t>(values), flat[i]);
  }
  using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RowMatrix Y = Eigen::Map<const RowMatrix>(flat.data(), samples, values);
  // phi_0 = mean over samples; Y_c = Y - 1 phi_0^T = U S V^T
  const Eigen::RowVectorXd mean = Y.colwise().mean();
  Y.rowwise() -= mean;
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(Y, Eigen::ComputeThinV);
  const Eigen::VectorXd sigma = svd.singularValues();
  Eigen::MatrixXd V = svd.matrixV().leftCols(modes);
  for (std::int64_t k = 0; k < modes; ++k) {
    Eigen::Index largest = 0;
    V.col(k).cwiseAbs().maxCoeff(&largest);
    if (V(largest, k) < 0.0) V.col(k) *= -1.0;
  }
  // Scaling by sqrt(Q) gives the modes unit root-mean-square entries.
  V *= std::sqrt(static_cast<double>(values));

  PodBasis basis;
  basis.singular_values.assign(sigma.data(), sigma.data() + sigma.size());
  const double total = sigma.squaredNorm();
  basis.captured_variance = total > 0.0 ? sigma.head(modes).squaredNorm() / total : 1.0;
  basis.mean = Tensor::from_vector(std::vector<double>(mean.data(), mean.data() + values), {values}, dtype);
  std::vector<double> mode_values(static_cast<std::size_t>(values * modes));
  for (std::int64_t q = 0; q < values; ++q)
    for (std::int64_t k = 0; k < modes; ++k) mode_values[static_cast<std::size_t>(q * modes + k)] = V(q, k);
  basis.modes = Tensor::from_vector(mode_values, {values, modes}, dtype);
  return basis;
}

PodDeepOnet::PodDeepOnet(std::shared_ptr<FeatureNet> branch, const PodBasis& basis, Shape output_shape)
    : branch_(std::move(branch)), output_shape_(std::move(output_shape)) {
  NEUROP_CHECK(branch_ != nullptr, ValueError, "PodDeepOnet: a branch net is required");
  NEUROP_CHECK(basis.mean.defined() && basis.modes.defined() && basis.modes.ndim() == 2 && basis.mean.ndim() == 1 &&
                   basis.mean.size(0) == basis.modes.size(0),
               ShapeError, "PodDeepOnet: expected a basis with mean [Q] and modes [Q, p], got {} and {}",
               basis.mean.defined() ? shape_string(basis.mean.shape()) : "undefined",
               basis.modes.defined() ? shape_string(basis.modes.shape()) : "undefined");
  NEUROP_CHECK((output_shape_.size() == 1 || output_shape_.size() == 2) &&
                   shape_numel(output_shape_) == basis.mean.size(0),
               ShapeError, "PodDeepOnet: the output shape {} must be [P] or [P, c] with P c = {} basis values",
               shape_string(output_shape_), basis.mean.size(0));
  const DType dtype = branch_->dtype();
  const std::int64_t width = probe_width(*branch_, dtype);
  NEUROP_CHECK(width == basis.modes.size(1), ShapeError,
               "PodDeepOnet: the branch net outputs {} features but the POD basis has {} modes; they must be equal",
               width, basis.modes.size(1));
  register_module("branch", *branch_);
  pod_mean = basis.mean.detach().to(dtype).clone();
  pod_modes = basis.modes.detach().to(dtype).clone();
  register_parameter("pod.mean", pod_mean);
  register_parameter("pod.modes", pod_modes);
  // The basis is fixed data, not trained.
  pod_mean.set_requires_grad(false);
  pod_modes.set_requires_grad(false);
}

Tensor PodDeepOnet::forward(const Tensor& u) const {
  const Shape sensors = branch_->input_shape();
  const bool rank_fits = u.ndim() == static_cast<std::int64_t>(sensors.size()) + 1;
  NEUROP_CHECK(rank_fits && Shape(u.shape().begin() + 1, u.shape().end()) == sensors, ShapeError,
               "POD-DeepONet: expected the branch input [B, {}] (the sensors of the training data), got shape {}",
               fmt::join(sensors, ", "), shape_string(u.shape()));
  NEUROP_CHECK(u.size(0) >= 1, ValueError, "POD-DeepONet: the branch input contains no functions (shape {}); pass at least one",
               shape_string(u.shape()));
  // [B, p] x [p, Q] + [Q] -> [B, Q] -> [B, P(, c)]
  const Tensor coefficients = branch_->forward(u);
  const Tensor flat = add(matmul(coefficients, pod_modes, false, /*transpose_b=*/true), pod_mean);
  Shape shape = {u.size(0)};
  shape.insert(shape.end(), output_shape_.begin(), output_shape_.end());
  return reshape(flat, shape);
}

std::string PodDeepOnet::describe() const {
  return fmt::format("POD-DeepONet, branch {}, {} POD modes at {} output values", branch_->describe(), modes(),
                     shape_numel(output_shape_));
}

}  // namespace neurop::deeponet
