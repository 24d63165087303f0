// Fully connected networks for DeepONet branch and trunk nets, built from a fused
// dense layer.
//
// dense() computes act(x W^T + b) as one autodiff node instead of three (matmul, add,
// activation). The forward pass adds the bias and applies the activation in the GEMM's
// output buffer. An ordinary backward pass forms g * act'(.) in one sweep before the two
// GEMMs of the weight and input gradients. When the backward pass
// builds a graph (create_graph, for physics-informed losses), the node expresses its
// gradients with differentiable operations, so gradients of gradients work.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/random.hpp"
#include "lib/nn/layers.hpp"
#include "lib/nn/module.hpp"

namespace neurop::deeponet {

// y = act(x W^T + b) over the last axis: x [..., in], weight [out, in], bias [out]
// (may be undefined) -> [..., out]. Equal to nn::activate(linear(x, weight, bias),
// activation) up to round-off. Throws ShapeError naming both shapes when the extents
// or dtypes do not fit.
Tensor dense(const Tensor& x, const Tensor& weight, const Tensor& bias, nn::Activation activation);

// act'(z) as differentiable operations is neurop::activation_derivative (lib/tensor/ops.hpp).

// Weight initialisation of a dense layer.
enum class Initializer {
  // W ~ N(0, 2 / (in + out)), b = 0: DeepXDE's "Glorot normal" (torch.nn.init.xavier_normal_).
  glorot_normal,
  // W, b ~ U(-1/sqrt(in), 1/sqrt(in)): PyTorch's nn.Linear default.
  fan_in_uniform,
};

// Parses "glorot-normal" or "fan-in-uniform"; throws ValueError listing both otherwise.
Initializer parse_initializer(const std::string& name);
const char* initializer_name(Initializer initializer);

// Network mapping a batch of samples to a batch of feature vectors: [N, input...] ->
// [N, width]. DeepONet branch and trunk nets implement it. The DeepONet models find the
// output width by running forward() once on zeros of shape [1, input_shape()...] (a
// probe), so a subclass needs no width bookkeeping of its own.
class FeatureNet : public nn::Module {
public:
  virtual Tensor forward(const Tensor& x) const = 0;
  // Shape of one input sample, e.g. {m} for function values at m sensors or {d} for
  // query coordinates.
  virtual Shape input_shape() const = 0;
  // Short description for logs, e.g. "dense [100, 40, 40] relu".
  virtual std::string describe() const = 0;
};

// Multilayer perceptron of fused dense layers: widths [in, h_1, ..., out],
// `activation` after every hidden layer and `final_activation` after the last one.
class DenseNet : public FeatureNet {
public:
  DenseNet(const std::vector<std::int64_t>& widths, nn::Activation activation, Rng& rng,
           nn::Activation final_activation = nn::Activation::identity,
           Initializer initializer = Initializer::glorot_normal, DType dtype = DType::f32);
  // x [..., in] -> [..., out].
  Tensor forward(const Tensor& x) const override;
  Shape input_shape() const override { return {widths_.front()}; }
  std::string describe() const override;
  const std::vector<std::int64_t>& widths() const { return widths_; }

  // weights[i] [widths[i + 1], widths[i]], biases[i] [widths[i + 1]].
  std::vector<Tensor> weights, biases;

private:
  std::vector<std::int64_t> widths_;
  nn::Activation activation_, final_activation_;
};

// The branch of a stacked DeepONet (Lu et al., Nature Machine Intelligence 3, 2021):
// `outputs` independent dense nets [in, h_1, ..., 1], one per latent feature, whose
// scalar outputs are concatenated: x [N, in] -> [N, outputs].
class StackedDenseNet : public FeatureNet {
public:
  // hidden_widths lists h_1, ...; the nets are [in, h_1, ..., 1].
  StackedDenseNet(std::int64_t in_features, const std::vector<std::int64_t>& hidden_widths, std::int64_t outputs,
                  nn::Activation activation, Rng& rng, Initializer initializer = Initializer::glorot_normal,
                  DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const override;
  Shape input_shape() const override { return {in_features_}; }
  std::string describe() const override;

private:
  std::int64_t in_features_;
  std::vector<std::int64_t> hidden_widths_;
  nn::Activation activation_;
  std::vector<std::unique_ptr<DenseNet>> nets_;
};

}  // namespace neurop::deeponet
