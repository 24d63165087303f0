// DeepONet models built from a serialisable description: the variant the `neurop`
// program trains, stores in checkpoints (as JSON) and rebuilds for evaluation.
//
// Width lists follow DeepXDE: branch [m, h_1, ..., p] and trunk [d, h_1, ..., p].
//   unstacked  one dense branch net [m, ..., p] and one dense trunk net;
//   stacked    p dense branch nets [m, h_1, ..., 1] (the last branch width is p);
//   pod        the branch net [m, ..., p], with p POD modes of the training outputs
//              in place of the trunk. The trunk list is unused.
// With Fourier features the trunk net takes 2 K d inputs, but its list still starts
// with d. With c outputs, split_trunk gives the trunk c p outputs and split_branch the
// branch (the lists give p).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "operators/deeponet/deeponet.hpp"
#include "operators/deeponet/pod.hpp"

namespace neurop::deeponet {

enum class Variant { unstacked, stacked, pod };

Variant parse_variant(const std::string& name);
const char* variant_name(Variant variant);

struct DeepOnetConfig {
  Variant variant = Variant::unstacked;
  std::vector<std::int64_t> branch_widths = {100, 40, 40};
  std::vector<std::int64_t> trunk_widths = {1, 40, 40};
  nn::Activation activation = nn::Activation::relu;
  // Apply the activation after the trunk's last layer too, as DeepXDE does.
  bool trunk_final_activation = true;
  Initializer initializer = Initializer::glorot_normal;
  std::int64_t outputs = 1;
  MultiOutput multi_output = MultiOutput::split_trunk;
  std::int64_t fourier_modes = 0;
  double fourier_period = 1.0;
  QueryDomain domain;
  bool extrapolate = false;
  // POD only: the shape of one sample's output, {P} or {P, c}.
  Shape pod_output_shape;
  DType dtype = DType::f32;
  std::uint64_t seed = 0;

  std::int64_t sensors() const { return branch_widths.front(); }
  std::int64_t latent_width() const { return branch_widths.back(); }
  // Throws ValueError naming the first invalid field.
  void validate() const;
  std::string to_json() const;
  // Throws ValueError for invalid JSON, a description of another model kind or
  // invalid fields.
  static DeepOnetConfig from_json(const std::string& text);
};

// True when `json` describes a DeepONet ("model": "deeponet"); false for other kinds
// and for text that is not JSON.
bool is_deeponet_description(const std::string& json);

// One of the three variants behind one interface.
class DeepOnetModel {
public:
  // Builds the networks with weights drawn from config.seed. A POD model needs
  // `basis` (from compute_pod_basis); when it is not given, the basis is zero and
  // must be loaded from a checkpoint.
  explicit DeepOnetModel(const DeepOnetConfig& config, const PodBasis* basis = nullptr);

  // u [B, m]; y [P, d] (product) or [B, P, d] (aligned) -> [B, P] or [B, P, c].
  // A POD model accepts only the product form and checks that y has the P points of
  // its basis (their coordinates are not read).
  Tensor forward(const Tensor& u, const Tensor& y, Form form) const;

  nn::Module& module() const;
  std::vector<Tensor> trainable_parameters() const;
  const DeepOnetConfig& config() const { return config_; }
  // The unstacked or stacked model; null for POD.
  DeepOnet* deeponet() const { return deeponet_.get(); }
  PodDeepOnet* pod() const { return pod_.get(); }
  std::string describe() const;
  std::string to_json() const { return config_.to_json(); }

private:
  DeepOnetConfig config_;
  std::unique_ptr<DeepOnet> deeponet_;
  std::unique_ptr<PodDeepOnet> pod_;
};

}  // namespace neurop::deeponet
