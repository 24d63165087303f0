// Deep operator networks (Lu, Jin, Pang, Zhang and Karniadakis, "Learning nonlinear
// operators via DeepONet based on the universal approximation theorem of operators",
// Nature Machine Intelligence 3, 2021).
//
// A DeepONet approximates an operator G at a query point y as
//   G(u)(y) ~= sum_k b_k(u) t_k(y) + b0,
// where the branch net maps the input function u, sampled at m fixed sensors, to p
// features b_k(u), the trunk net maps the query coordinates y [d] to p features t_k(y),
// and b0 is one trainable scalar per output. The unstacked form has one branch net
// with p outputs; the stacked form has p branch nets with one output each (see
// StackedDenseNet). Either net may be any FeatureNet.
//
// Two ways to pair functions with query points, always chosen explicitly:
//   Cartesian product  every function against every query point: branch [B, p] and
//                      trunk [n, p] give [B, n] in one matrix product;
//   aligned            query row b belongs to function b: branch [B, p] with trunk
//                      [B, p] gives [B], with trunk [B, P, p] gives [B, P].
//
// Several outputs c (e.g. the pendulum's angle and angular velocity) share one model in
// one of two ways: split_trunk (the trunk has c p features, output j uses trunk features
// j p .. j p + p - 1 with the shared branch) or split_branch (the branch has c p
// features, split the same way, with a shared trunk).
//
// Query domain: a model records the box [lower, upper] of the query points it was
// trained on and, unless built to extrapolate, rejects queries outside it, because a
// trunk net trained on [0, 1] returns arbitrary values at y = 2. Models with periodic
// Fourier trunk features are exempt: their output is periodic in every coordinate.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/nn/module.hpp"
#include "operators/deeponet/dense.hpp"

namespace neurop::deeponet {

enum class Form { cartesian_product, aligned };
enum class MultiOutput { split_trunk, split_branch };

// Parses "product" / "aligned" and "split-trunk" / "split-branch"; throw ValueError
// listing the accepted names otherwise.
Form parse_form(const std::string& name);
const char* form_name(Form form);
MultiOutput parse_multi_output(const std::string& name);
const char* multi_output_name(MultiOutput strategy);

// out[b, i] = sum_k branch[b, k] trunk[i, k] + bias: branch [B, p], trunk [n, p] ->
// [B, n] by one matrix product. bias is undefined or has one element. Throws ShapeError
// naming the form and both shapes when the ranks or widths do not fit.
Tensor combine_product(const Tensor& branch, const Tensor& trunk, const Tensor& bias = Tensor());

// Aligned pairs: branch [B, p] with trunk [B, p] -> [B], out[b] = sum_k branch[b, k]
// trunk[b, k] + bias; or with trunk [B, P, p] -> [B, P], P query points per function.
// Throws ShapeError naming the form and both shapes when they do not fit.
Tensor combine_aligned(const Tensor& branch, const Tensor& trunk, const Tensor& bias = Tensor());

// Periodic features of query coordinates: y [..., d] -> [..., 2 K d]. Coordinate j
// contributes cos(2 pi k y_j / L) for k = 1..K and then sin(2 pi k y_j / L) for
// k = 1..K, so any function of these features has period L in every coordinate.
// Throws ValueError for K < 1 or L <= 0.
Tensor fourier_features(const Tensor& y, std::int64_t modes, double period);

// A FeatureNet around any module with a forward function, e.g. an nn::Mlp, an FNO or a
// convolutional encoder. `forward` maps [N, input_shape...] to N feature vectors; its
// result is reshaped to [N, width]. The adapter shares ownership of the module and
// registers it as its child "module", so its parameters train and checkpoint with the
// DeepONet.
class ModuleNet : public FeatureNet {
public:
  using ForwardFunction = std::function<Tensor(const Tensor&)>;
  ModuleNet(std::shared_ptr<nn::Module> module, ForwardFunction forward, Shape input_shape, std::string description);
  Tensor forward(const Tensor& x) const override;
  Shape input_shape() const override { return input_shape_; }
  std::string describe() const override { return description_; }

private:
  std::shared_ptr<nn::Module> module_;
  ForwardFunction forward_;
  Shape input_shape_;
  std::string description_;
};

// Wraps a module whose `Tensor forward(const Tensor&) const` maps [N, input_shape...]
// to N feature vectors.
template <typename M>
std::shared_ptr<ModuleNet> wrap_module(std::shared_ptr<M> module, Shape input_shape, std::string description) {
  const M* raw = module.get();
  return std::make_shared<ModuleNet>(
      std::move(module), [raw](const Tensor& x) { return raw->forward(x); }, std::move(input_shape),
      std::move(description));
}

// Returns the output width of `net` from one forward pass on zeros [1, input_shape...]
// without gradient recording. Throws ShapeError when the output is not [1, width].
std::int64_t probe_width(const FeatureNet& net, DType dtype);

// Box [lower, upper] of query coordinates; empty vectors mean "not recorded".
struct QueryDomain {
  std::vector<double> lower, upper;
  bool empty() const { return lower.empty(); }
};

struct DeepOnetOptions {
  std::int64_t outputs = 1;  // c
  MultiOutput multi_output = MultiOutput::split_trunk;
  // Periodic Fourier features in front of the trunk (0 = none): the trunk's input
  // width must then be 2 K d for d query coordinates.
  std::int64_t fourier_modes = 0;
  double fourier_period = 1.0;
  QueryDomain domain;
  // Accept queries outside `domain`.
  bool extrapolate = false;
};

class DeepOnet : public nn::Module {
public:
  // Probes both nets for their output widths and checks them against `options`:
  // equal widths for one output, trunk = c x branch for split_trunk, branch = c x trunk
  // for split_branch. Throws ShapeError naming both widths otherwise, and ValueError
  // for invalid options. The bias b0 [c] starts at 0 in the branch net's dtype.
  DeepOnet(std::shared_ptr<FeatureNet> branch, std::shared_ptr<FeatureNet> trunk, const DeepOnetOptions& options = {});

  // Cartesian product: u [B, m] (the branch input shape) and y [n, d] -> [B, n] for one
  // output, [B, n, c] for c outputs.
  Tensor forward_product(const Tensor& u, const Tensor& y) const;
  // Aligned: u [B, m] with y [B, d] -> [B] ([B, c]), or y [B, P, d] -> [B, P] ([B, P, c]).
  Tensor forward_aligned(const Tensor& u, const Tensor& y) const;
  Tensor forward(const Tensor& u, const Tensor& y, Form form) const;

  // Branch features [B, p] (split_branch: [B, c p]) after the input checks.
  Tensor branch_features(const Tensor& u) const;
  // Trunk features y [..., d] -> [..., p] (split_trunk: [..., c p]), Fourier features
  // included, after the dimension and domain checks.
  Tensor trunk_features(const Tensor& y) const;

  // Records the query domain; throws ValueError unless both bounds have d entries with
  // lower < upper.
  void set_domain(const QueryDomain& domain);
  const QueryDomain& domain() const { return options_.domain; }
  // Throws ValueError naming the first query outside the domain, unless the model
  // extrapolates, has periodic features or has no recorded domain. y [..., d].
  void check_domain(const Tensor& y) const;

  const DeepOnetOptions& options() const { return options_; }
  std::int64_t latent_width() const { return latent_width_; }
  std::int64_t query_dims() const { return query_dims_; }
  Shape sensor_shape() const { return branch_->input_shape(); }
  FeatureNet& branch() const { return *branch_; }
  FeatureNet& trunk() const { return *trunk_; }
  std::string describe() const;

  Tensor bias;  // b0 [c]

private:
  void check_branch_input(const char* where, const Tensor& u) const;

  std::shared_ptr<FeatureNet> branch_, trunk_;
  DeepOnetOptions options_;
  std::int64_t latent_width_ = 0;  // p
  std::int64_t query_dims_ = 0;    // d
};

}  // namespace neurop::deeponet
