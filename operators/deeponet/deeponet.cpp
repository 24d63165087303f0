#include "operators/deeponet/deeponet.hpp"

#include <omp.h>

#include <cmath>
#include <numbers>

#include <Eigen/Core>

#include "lib/autodiff/graph.hpp"
#include "lib/core/error.hpp"
#include "lib/tensor/ops.hpp"
#include "operators/deeponet/gemm.hpp"

namespace neurop::deeponet {
namespace {

void check_bias(const char* form, const Tensor& bias) {
  if (!bias.defined()) return;
  NEUROP_CHECK(bias.numel() == 1, ShapeError, "DeepONet {}: the bias must have one element, got shape {}", form,
               shape_string(bias.shape()));
}

// Elementwise sweeps below this many multiply-adds run on one thread.
constexpr std::int64_t kParallelEntries = 1 << 15;

class ProductNode : public Node {
public:
  ProductNode(Tensor branch, Tensor trunk, Tensor bias)
      : branch_(std::move(branch)), trunk_(std::move(trunk)), bias_(std::move(bias)) {}
  const char* name() const override { return "deeponet_product"; }

  // out = br tr^T + b0:  d br = G tr,  d tr = G^T br,  d b0 = sum(G).
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gb, gt, gbias;
    if (GradMode::enabled()) {
      if (needs_input_grad(0)) gb = matmul(g, trunk_);
      if (needs_input_grad(1)) gt = matmul(g, branch_, /*transpose_a=*/true, false);
      if (needs_input_grad(2)) gbias = reshape(sum(g), bias_.shape());
      return {gb, gt, gbias};
    }
    const std::int64_t batch = branch_.size(0), p = branch_.size(1), n = trunk_.size(0);
    dispatch(g.dtype(), [&]<typename T>() {
      if (needs_input_grad(0)) {
        gb = Tensor::empty(branch_.shape(), branch_.dtype());
        // [B, n] x [n, p] -> [B, p]
        detail::multiply_ab(g.data<T>(), trunk_.data<T>(), gb.data<T>(), batch, n, p);
      }
      if (needs_input_grad(1)) {
        gt = Tensor::empty(trunk_.shape(), trunk_.dtype());
        // [n, B] x [B, p] -> [n, p]
        detail::multiply_atb(g.data<T>(), branch_.data<T>(), gt.data<T>(), batch, n, p);
      }
    });
    if (needs_input_grad(2)) gbias = reshape(sum(g), bias_.shape()).to(bias_.dtype());
    return {gb, gt, gbias};
  }

private:
  Tensor branch_, trunk_, bias_;
};

class AlignedNode : public Node {
public:
  AlignedNode(Tensor branch, Tensor trunk, Tensor bias)
      : branch_(std::move(branch)), trunk_(std::move(trunk)), bias_(std::move(bias)) {}
  const char* name() const override { return "deeponet_aligned"; }

  // out[b, i] = sum_k tr[b, i, k] br[b, k] + b0:
  //   d tr[b, i, k] = g[b, i] br[b, k],  d br[b, k] = sum_i g[b, i] tr[b, i, k],  d b0 = sum(g).
  std::vector<Tensor> backward(const Tensor& g) override {
    const std::int64_t batch = branch_.size(0), p = branch_.size(1);
    const std::int64_t points = trunk_.numel() / (batch * p);
    Tensor gb, gt, gbias;
    if (needs_input_grad(2)) gbias = reshape(sum(g), bias_.shape());
    if (GradMode::enabled()) {
      const Tensor g3 = reshape(g, {batch, points, 1});
      if (needs_input_grad(0)) gb = sum(mul(reshape(trunk_, {batch, points, p}), g3), {1});
      if (needs_input_grad(1)) gt = reshape(mul(g3, reshape(branch_, {batch, 1, p})), trunk_.shape());
      return {gb, gt, gbias};
    }
    if (needs_input_grad(0)) gb = Tensor::empty(branch_.shape(), branch_.dtype());
    if (needs_input_grad(1)) gt = Tensor::empty(trunk_.shape(), trunk_.dtype());
    dispatch(g.dtype(), [&]<typename T>() {
      using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
      const T* pg = g.data<T>();
      const T* pb = branch_.data<T>();
      const T* pt = trunk_.data<T>();
#pragma omp parallel for schedule(static) if (batch * points * p > kParallelEntries && !omp_in_parallel())
      for (std::int64_t b = 0; b < batch; ++b) {
        const Eigen::Map<const Vector> gv(pg + b * points, points);
        const Eigen::Map<const Vector> bv(pb + b * p, p);
        // [P, p]^T [P] -> [p];  [P] [p]^T -> [P, p]
        if (gb.defined())
          Eigen::Map<Vector>(gb.data<T>() + b * p, p).noalias() =
              Eigen::Map<const Matrix>(pt + b * points * p, points, p).transpose() * gv;
        if (gt.defined()) Eigen::Map<Matrix>(gt.data<T>() + b * points * p, points, p).noalias() = gv * bv.transpose();
      }
    });
    return {gb, gt, gbias};
  }

private:
  Tensor branch_, trunk_, bias_;
};

// sum_k tr[b, i, k] br[b, k] + b0 as one node: trunk [B, p] or [B, P, p] -> [B] or [B, P].
Tensor aligned_with_bias(const Tensor& branch, const Tensor& trunk, const Tensor& bias) {
  check_same_dtype("DeepONet aligned form", branch, trunk);
  if (bias.defined()) check_same_dtype("DeepONet aligned form", branch, bias);
  const std::int64_t batch = branch.size(0), p = branch.size(1);
  const std::int64_t points = trunk.ndim() == 3 ? trunk.size(1) : 1;
  const double b0 = bias.defined() ? bias.to_vector()[0] : 0.0;
  Tensor out = trunk.ndim() == 3 ? Tensor::empty({batch, points}, branch.dtype()) : Tensor::empty({batch}, branch.dtype());
  dispatch(branch.dtype(), [&]<typename T>() {
    using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
    const T* pb = branch.data<T>();
    const T* pt = trunk.data<T>();
    T* po = out.data<T>();
#pragma omp parallel for schedule(static) if (batch * points * p > kParallelEntries && !omp_in_parallel())
    for (std::int64_t b = 0; b < batch; ++b) {
      // [P, p] [p] -> [P]
      Eigen::Map<Vector> o(po + b * points, points);
      o.noalias() = Eigen::Map<const Matrix>(pt + b * points * p, points, p) * Eigen::Map<const Vector>(pb + b * p, p);
      o.array() += static_cast<T>(b0);
    }
  });
  if (needs_graph({branch, trunk, bias}))
    record(out, std::make_shared<AlignedNode>(branch, trunk, bias), {branch, trunk, bias});
  return out;
}

// br tr^T + b0 as one node: the bias initialises the output, and the GEMM accumulates.
Tensor product_with_bias(const Tensor& branch, const Tensor& trunk, const Tensor& bias) {
  check_same_dtype("DeepONet Cartesian product form", branch, trunk);
  if (bias.defined()) check_same_dtype("DeepONet Cartesian product form", branch, bias);
  const std::int64_t batch = branch.size(0), p = branch.size(1), n = trunk.size(0);
  Tensor out = bias.defined() ? Tensor::full({batch, n}, bias.to_vector()[0], branch.dtype())
                              : Tensor::zeros({batch, n}, branch.dtype());
  dispatch(branch.dtype(), [&]<typename T>() {
    // [B, p] x [p, n] -> [B, n]
    detail::multiply_abt(branch.data<T>(), trunk.data<T>(), out.data<T>(), batch, p, n, /*accumulate=*/true);
  });
  if (needs_graph({branch, trunk, bias}))
    record(out, std::make_shared<ProductNode>(branch, trunk, bias), {branch, trunk, bias});
  return out;
}

}  // namespace

Form parse_form(const std::string& name) {
  if (name == "product") return Form::cartesian_product;
  if (name == "aligned") return Form::aligned;
  throw ValueError(fmt::format("unknown DeepONet form '{}'; expected product or aligned", name));
}

const char* form_name(Form form) { return form == Form::cartesian_product ? "product" : "aligned"; }

MultiOutput parse_multi_output(const std::string& name) {
  if (name == "split-trunk") return MultiOutput::split_trunk;
  if (name == "split-branch") return MultiOutput::split_branch;
  throw ValueError(fmt::format("unknown multi-output strategy '{}'; expected split-trunk or split-branch", name));
}

const char* multi_output_name(MultiOutput strategy) {
  return strategy == MultiOutput::split_trunk ? "split-trunk" : "split-branch";
}

Tensor combine_product(const Tensor& branch, const Tensor& trunk, const Tensor& bias) {
  NEUROP_CHECK(branch.ndim() == 2 && trunk.ndim() == 2 && branch.size(1) == trunk.size(1), ShapeError,
               "DeepONet Cartesian product form: expected branch features [B, p] and trunk features [n, p] with the "
               "same p, got branch {} and trunk {}",
               shape_string(branch.shape()), shape_string(trunk.shape()));
  check_bias("Cartesian product form", bias);
  return product_with_bias(branch, trunk, bias);
}

Tensor combine_aligned(const Tensor& branch, const Tensor& trunk, const Tensor& bias) {
  const bool shapes_fit = branch.ndim() == 2 && (trunk.ndim() == 2 || trunk.ndim() == 3) &&
                          trunk.size(0) == branch.size(0) && trunk.size(-1) == branch.size(1);
  NEUROP_CHECK(shapes_fit, ShapeError,
               "DeepONet aligned form: expected branch features [B, p] with trunk features [B, p] or [B, P, p] (the "
               "same B and p), got branch {} and trunk {}",
               shape_string(branch.shape()), shape_string(trunk.shape()));
  check_bias("aligned form", bias);
  return aligned_with_bias(branch, trunk, bias);
}

Tensor fourier_features(const Tensor& y, std::int64_t modes, double period) {
  NEUROP_CHECK(modes >= 1, ValueError, "fourier_features: the number of modes must be >= 1, got {}", modes);
  NEUROP_CHECK(std::isfinite(period) && period > 0.0, ValueError,
               "fourier_features: the period must be finite and > 0, got {}", period);
  NEUROP_CHECK(y.ndim() >= 1, ShapeError, "fourier_features: expected coordinates [..., d], got a scalar");
  std::vector<double> frequencies(static_cast<std::size_t>(modes));
  for (std::int64_t k = 0; k < modes; ++k)
    frequencies[static_cast<std::size_t>(k)] = 2.0 * std::numbers::pi * static_cast<double>(k + 1) / period;
  Shape expanded = y.shape();
  expanded.push_back(1);
  // theta[..., j, k] = 2 pi (k + 1) y_j / L: [..., d, 1] * [K] -> [..., d, K]
  const Tensor angles = mul(reshape(y, expanded), Tensor::from_vector(frequencies, {modes}, y.dtype()));
  // [..., d, 2K] -> [..., 2 K d]
  Shape out_shape = y.shape();
  out_shape.back() = 2 * modes * y.size(-1);
  return reshape(concat({cos(angles), sin(angles)}, -1), out_shape);
}

ModuleNet::ModuleNet(std::shared_ptr<nn::Module> module, ForwardFunction forward, Shape input_shape,
                     std::string description)
    : module_(std::move(module)),
      forward_(std::move(forward)),
      input_shape_(std::move(input_shape)),
      description_(std::move(description)) {
  NEUROP_CHECK(module_ != nullptr && forward_, ValueError, "ModuleNet: the module and its forward function are required");
  register_module("module", *module_);
}

Tensor ModuleNet::forward(const Tensor& x) const {
  const Tensor y = forward_(x);
  NEUROP_CHECK(y.ndim() >= 1 && y.size(0) == x.size(0), ShapeError,
               "ModuleNet '{}': the wrapped module returned shape {} for an input of shape {}; it must keep the batch "
               "axis",
               description_, shape_string(y.shape()), shape_string(x.shape()));
  return y.ndim() == 2 ? y : reshape(y, {y.size(0), -1});
}

std::int64_t probe_width(const FeatureNet& net, DType dtype) {
  NoGradGuard no_grad;
  Shape shape = {1};
  const Shape input = net.input_shape();
  shape.insert(shape.end(), input.begin(), input.end());
  const Tensor out = net.forward(Tensor::zeros(shape, dtype));
  NEUROP_CHECK(out.ndim() == 2 && out.size(0) == 1, ShapeError,
               "DeepONet: the net '{}' returned shape {} for a probe input of shape {}; a branch or trunk net must "
               "return [N, width]",
               net.describe(), shape_string(out.shape()), shape_string(shape));
  return out.size(1);
}

DeepOnet::DeepOnet(std::shared_ptr<FeatureNet> branch, std::shared_ptr<FeatureNet> trunk, const DeepOnetOptions& options)
    : branch_(std::move(branch)), trunk_(std::move(trunk)), options_(options) {
  NEUROP_CHECK(branch_ != nullptr && trunk_ != nullptr, ValueError, "DeepOnet: both a branch and a trunk net are required");
  NEUROP_CHECK(options_.outputs >= 1, ValueError, "DeepOnet: the number of outputs must be >= 1, got {}",
               options_.outputs);
  const DType dtype = branch_->dtype();
  NEUROP_CHECK(trunk_->dtype() == dtype, ValueError, "DeepOnet: the branch net is {} but the trunk net is {}",
               dtype_name(dtype), dtype_name(trunk_->dtype()));

  const Shape trunk_input = trunk_->input_shape();
  NEUROP_CHECK(trunk_input.size() == 1, ValueError,
               "DeepOnet: the trunk net must take coordinate vectors [d], but its input shape is {}",
               shape_string(trunk_input));
  query_dims_ = trunk_input[0];
  if (options_.fourier_modes > 0) {
    const std::int64_t per_coordinate = 2 * options_.fourier_modes;
    NEUROP_CHECK(trunk_input[0] % per_coordinate == 0, ValueError,
                 "DeepOnet: with {} Fourier modes each query coordinate becomes {} features, so the trunk input width "
                 "must be a multiple of {}, got {}",
                 options_.fourier_modes, per_coordinate, per_coordinate, trunk_input[0]);
    NEUROP_CHECK(std::isfinite(options_.fourier_period) && options_.fourier_period > 0.0, ValueError,
                 "DeepOnet: the Fourier period must be finite and > 0, got {}", options_.fourier_period);
    query_dims_ = trunk_input[0] / per_coordinate;
  }

  // The widths come from the nets' actual outputs, not from configuration lists.
  const std::int64_t branch_width = probe_width(*branch_, dtype);
  const std::int64_t trunk_width = probe_width(*trunk_, dtype);
  const std::int64_t c = options_.outputs;
  if (c == 1) {
    NEUROP_CHECK(branch_width == trunk_width, ShapeError,
                 "DeepOnet: the branch net outputs {} features but the trunk net outputs {}; the dot product needs "
                 "equal widths, so make the last widths of '{}' and '{}' equal",
                 branch_width, trunk_width, branch_->describe(), trunk_->describe());
    latent_width_ = branch_width;
  } else if (options_.multi_output == MultiOutput::split_trunk) {
    NEUROP_CHECK(trunk_width == c * branch_width, ShapeError,
                 "DeepOnet: split_trunk with {} outputs needs trunk width = {} x branch width, but the branch net "
                 "outputs {} features and the trunk net {} (expected {})",
                 c, c, branch_width, trunk_width, c * branch_width);
    latent_width_ = branch_width;
  } else {
    NEUROP_CHECK(branch_width == c * trunk_width, ShapeError,
                 "DeepOnet: split_branch with {} outputs needs branch width = {} x trunk width, but the branch net "
                 "outputs {} features and the trunk net {} (expected {})",
                 c, c, branch_width, trunk_width, c * trunk_width);
    latent_width_ = trunk_width;
  }

  register_module("branch", *branch_);
  register_module("trunk", *trunk_);
  bias = Tensor::zeros({c}, dtype);
  register_parameter("bias", bias);
  if (!options_.domain.empty()) set_domain(options_.domain);
}

void DeepOnet::set_domain(const QueryDomain& domain) {
  const auto d = static_cast<std::size_t>(query_dims_);
  NEUROP_CHECK(domain.lower.size() == d && domain.upper.size() == d, ValueError,
               "DeepOnet: the query domain needs {} lower and {} upper bounds (one per coordinate), got {} and {}", d, d,
               domain.lower.size(), domain.upper.size());
  for (std::size_t j = 0; j < d; ++j) {
    NEUROP_CHECK(std::isfinite(domain.lower[j]) && std::isfinite(domain.upper[j]) && domain.lower[j] < domain.upper[j],
                 ValueError, "DeepOnet: query domain bounds of coordinate {} must be finite with lower < upper, got [{}, {}]",
                 j, domain.lower[j], domain.upper[j]);
  }
  options_.domain = domain;
}

void DeepOnet::check_domain(const Tensor& y) const {
  if (options_.domain.empty() || options_.extrapolate || options_.fourier_modes > 0) return;
  const std::vector<double> values = y.to_vector();
  const auto d = static_cast<std::size_t>(query_dims_);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::size_t j = i % d;
    const double lower = options_.domain.lower[j], upper = options_.domain.upper[j];
    // Round-off margin: queries stored in float32 may sit just outside the float64 bounds.
    const double margin = 1e-6 * (upper - lower);
    if (values[i] >= lower - margin && values[i] <= upper + margin) continue;
    throw ValueError(fmt::format(
        "DeepONet: query point {} has coordinate {} = {}, outside the training domain [{}, {}]; the model was "
        "trained there and does not extrapolate. Query inside the domain, or build the model with extrapolate = true "
        "(CLI: --extrapolate) to accept such points",
        i / d, j, values[i], lower, upper));
  }
}

void DeepOnet::check_branch_input(const char* where, const Tensor& u) const {
  const Shape sensors = branch_->input_shape();
  NEUROP_CHECK(u.ndim() == static_cast<std::int64_t>(sensors.size()) + 1, ShapeError,
               "DeepONet {}: expected the branch input [B, {}], got shape {}", where, fmt::join(sensors, ", "),
               shape_string(u.shape()));
  const Shape per_function(u.shape().begin() + 1, u.shape().end());
  NEUROP_CHECK(per_function == sensors, ShapeError,
               "DeepONet {}: the branch input has {} sensor values per function (shape {}) but the model was built "
               "for {} (shape [B, {}]); sample the input functions at the sensors of the training data",
               where, shape_numel(per_function), shape_string(u.shape()), shape_numel(sensors),
               fmt::join(sensors, ", "));
  NEUROP_CHECK(u.size(0) >= 1, ValueError,
               "DeepONet {}: the branch input contains no functions (shape {}); pass at least one", where,
               shape_string(u.shape()));
}

Tensor DeepOnet::branch_features(const Tensor& u) const {
  check_branch_input("branch", u);
  return branch_->forward(u);
}

Tensor DeepOnet::trunk_features(const Tensor& y) const {
  NEUROP_CHECK(y.ndim() >= 1 && y.size(-1) == query_dims_, ShapeError,
               "DeepONet trunk: query points must have {} coordinates (last extent), got shape {}", query_dims_,
               shape_string(y.shape()));
  NEUROP_CHECK(y.numel() >= 1, ValueError, "DeepONet trunk: no query points given (shape {})", shape_string(y.shape()));
  check_domain(y);
  const Tensor features =
      options_.fourier_modes > 0 ? fourier_features(y, options_.fourier_modes, options_.fourier_period) : y;
  return trunk_->forward(features);
}

Tensor DeepOnet::forward_product(const Tensor& u, const Tensor& y) const {
  check_branch_input("Cartesian product form", u);
  NEUROP_CHECK(y.ndim() == 2, ShapeError,
               "DeepONet Cartesian product form: expected query points [n, {}] shared by all functions, got shape {} "
               "(use the aligned form for per-function query points)",
               query_dims_, shape_string(y.shape()));
  const Tensor br = branch_->forward(u);
  const Tensor tr = trunk_features(y);
  const std::int64_t batch = u.size(0), n = y.size(0), c = options_.outputs, p = latent_width_;
  if (c == 1) return combine_product(br, tr, bias);
  if (options_.multi_output == MultiOutput::split_trunk) {
    // trunk [n, c p] -> [n c, p]; [B, p] x [p, n c] -> [B, n, c]
    const Tensor out = combine_product(br, reshape(tr, {n * c, p}));
    return add(reshape(out, {batch, n, c}), bias);
  }
  // branch [B, c p] -> [B c, p]; [B c, p] x [p, n] -> [B, c, n] -> [B, n, c]
  const Tensor out = combine_product(reshape(br, {batch * c, p}), tr);
  return add(permute(reshape(out, {batch, c, n}), {0, 2, 1}), bias);
}

Tensor DeepOnet::forward_aligned(const Tensor& u, const Tensor& y) const {
  check_branch_input("aligned form", u);
  NEUROP_CHECK((y.ndim() == 2 || y.ndim() == 3) && y.size(0) == u.size(0), ShapeError,
               "DeepONet aligned form: query row b belongs to function b, so the queries must be [B, {}] or [B, P, {}] "
               "with B = {} (the branch input {}), got shape {}",
               query_dims_, query_dims_, u.size(0), shape_string(u.shape()), shape_string(y.shape()));
  const Tensor br = branch_->forward(u);
  const Tensor tr = trunk_features(y);
  const std::int64_t batch = u.size(0), c = options_.outputs, p = latent_width_;
  const std::int64_t points = y.ndim() == 3 ? y.size(1) : 1;
  if (c == 1) return combine_aligned(br, tr, bias);
  Shape out_shape = y.ndim() == 3 ? Shape{batch, points, c} : Shape{batch, c};
  if (options_.multi_output == MultiOutput::split_trunk) {
    // trunk [B, (P,) c p] -> [B, P c, p] -> [B, P c] -> [B, (P,) c]
    const Tensor out = combine_aligned(br, reshape(tr, {batch, points * c, p}));
    return add(reshape(out, out_shape), bias);
  }
  // out[b, i, j] = sum_k tr[b, i, k] br[b, j p + k]: [B, P, p] x [B, p, c] -> [B, P, c]
  const Tensor out = matmul(reshape(tr, {batch, points, p}), reshape(br, {batch, c, p}), false, /*transpose_b=*/true);
  return add(reshape(out, out_shape), bias);
}

Tensor DeepOnet::forward(const Tensor& u, const Tensor& y, Form form) const {
  return form == Form::cartesian_product ? forward_product(u, y) : forward_aligned(u, y);
}

std::string DeepOnet::describe() const {
  std::string text = fmt::format("DeepONet, branch {}, trunk {}, p = {}", branch_->describe(), trunk_->describe(),
                                 latent_width_);
  if (options_.outputs > 1)
    text += fmt::format(", {} outputs ({})", options_.outputs, multi_output_name(options_.multi_output));
  if (options_.fourier_modes > 0)
    text += fmt::format(", {} Fourier modes of period {}", options_.fourier_modes, options_.fourier_period);
  return text;
}

}  // namespace neurop::deeponet
