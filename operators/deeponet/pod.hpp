// POD-DeepONet (Lu, Meng, Cai, Mao, Goswami, Zhang and Karniadakis, "A comprehensive
// and fair comparison of two neural operators (with practical extensions) based on
// FAIR data", Comput. Methods Appl. Mech. Engrg. 393, 2022): the trunk net is replaced
// by the leading proper orthogonal decomposition (POD) modes of the training outputs,
//   G(u)(y_i) ~= phi_0(y_i) + sum_{k < p} b_k(u) phi_k(y_i),
// where phi_0 is the mean training output and phi_k are the leading right singular
// vectors of the mean-subtracted output matrix. The modes are known only at the query
// points of the training data, so the model predicts at exactly those points (the
// Cartesian-product layout) and has no trunk net.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/nn/module.hpp"
#include "operators/deeponet/dense.hpp"

namespace neurop::deeponet {

struct PodBasis {
  Tensor mean;   // phi_0 [Q], Q = P c values per sample
  Tensor modes;  // [Q, p], column k = sqrt(Q) v_k, so entries are O(1) like the outputs
  std::vector<double> singular_values;  // sigma_k of the centred outputs, all of them, decreasing
  // sum_{k < p} sigma_k^2 / sum_k sigma_k^2: the share of the output variance the modes capture.
  double captured_variance = 0.0;
};

// Computes the POD of training outputs [N, P] or [N, P, c] (flattened to [N, Q]): the
// mean over samples and the leading `modes` right singular vectors of the centred
// matrix by Eigen's BDCSVD, in float64, returned in `dtype`. The sign of each mode is
// fixed so that its largest-magnitude entry is positive. Throws ValueError for modes < 1
// or modes > min(N, Q), and DataError for fewer than 2 samples or non-finite values.
PodBasis compute_pod_basis(const Tensor& outputs, std::int64_t modes, DType dtype);

class PodDeepOnet : public nn::Module {
public:
  // `output_shape` is the shape of one sample's output, {P} or {P, c}, with prod = Q.
  // The branch net must output p = basis.modes.size(1) features (checked by a probe;
  // ShapeError names both widths). The basis is stored as the parameters "pod.mean"
  // and "pod.modes" so that checkpoints carry it, but those tensors do not require
  // gradients and trainable_parameters() leaves them out.
  PodDeepOnet(std::shared_ptr<FeatureNet> branch, const PodBasis& basis, Shape output_shape);

  // u [B, m] -> [B, P] or [B, P, c]: phi_0 + branch(u) modes^T.
  Tensor forward(const Tensor& u) const;
  // The branch parameters: everything an optimizer should update.
  std::vector<Tensor> trainable_parameters() const { return branch_->parameters(); }

  std::int64_t modes() const { return pod_modes.size(1); }
  const Shape& output_shape() const { return output_shape_; }
  Shape sensor_shape() const { return branch_->input_shape(); }
  FeatureNet& branch() const { return *branch_; }
  std::string describe() const;

  Tensor pod_mean, pod_modes;

private:
  std::shared_ptr<FeatureNet> branch_;
  Shape output_shape_;
};

}  // namespace neurop::deeponet
