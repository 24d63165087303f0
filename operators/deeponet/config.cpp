#include "operators/deeponet/config.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "lib/core/random.hpp"

namespace neurop::deeponet {
namespace {

void check_widths(const char* name, const std::vector<std::int64_t>& widths) {
  NEUROP_CHECK(widths.size() >= 2, ValueError,
               "DeepONet description: the {} widths [{}] need at least an input and an output width", name,
               fmt::join(widths, ", "));
  for (const std::int64_t width : widths) {
    NEUROP_CHECK(width >= 1, ValueError, "DeepONet description: the {} widths [{}] must all be >= 1", name,
                 fmt::join(widths, ", "));
  }
}

}  // namespace

Variant parse_variant(const std::string& name) {
  if (name == "unstacked") return Variant::unstacked;
  if (name == "stacked") return Variant::stacked;
  if (name == "pod") return Variant::pod;
  throw ValueError(fmt::format("unknown DeepONet variant '{}'; expected unstacked, stacked or pod", name));
}

const char* variant_name(Variant variant) {
  switch (variant) {
    case Variant::unstacked: return "unstacked";
    case Variant::stacked: return "stacked";
    case Variant::pod: return "pod";
  }
  return "unstacked";
}

void DeepOnetConfig::validate() const {
  check_widths("branch", branch_widths);
  if (variant != Variant::pod) check_widths("trunk", trunk_widths);
  NEUROP_CHECK(outputs >= 1, ValueError, "DeepONet description: outputs must be >= 1, got {}", outputs);
  NEUROP_CHECK(fourier_modes >= 0, ValueError, "DeepONet description: fourier_modes must be >= 0, got {}",
               fourier_modes);
  NEUROP_CHECK(std::isfinite(fourier_period) && fourier_period > 0.0, ValueError,
               "DeepONet description: fourier_period must be finite and > 0, got {}", fourier_period);
  NEUROP_CHECK(domain.lower.size() == domain.upper.size(), ValueError,
               "DeepONet description: the domain has {} lower and {} upper bounds", domain.lower.size(),
               domain.upper.size());
  if (variant == Variant::pod) {
    NEUROP_CHECK(pod_output_shape.size() == 1 || pod_output_shape.size() == 2, ValueError,
                 "DeepONet description: a POD model needs the output shape of one sample, [P] or [P, c], got {}",
                 shape_string(pod_output_shape));
    NEUROP_CHECK(fourier_modes == 0 && outputs == 1, ValueError,
                 "DeepONet description: a POD model has no trunk, so Fourier features and split outputs do not apply "
                 "(several output components are part of its output shape)");
  }
}

std::string DeepOnetConfig::to_json() const {
  nlohmann::json j;
  j["model"] = "deeponet";
  j["variant"] = variant_name(variant);
  j["branch_widths"] = branch_widths;
  j["trunk_widths"] = trunk_widths;
  j["activation"] = nn::activation_name(activation);
  j["trunk_final_activation"] = trunk_final_activation;
  j["initializer"] = initializer_name(initializer);
  j["outputs"] = outputs;
  j["multi_output"] = multi_output_name(multi_output);
  j["fourier_modes"] = fourier_modes;
  j["fourier_period"] = fourier_period;
  j["domain_lower"] = domain.lower;
  j["domain_upper"] = domain.upper;
  j["extrapolate"] = extrapolate;
  j["pod_output_shape"] = pod_output_shape;
  j["dtype"] = dtype_name(dtype);
  j["seed"] = seed;
  return j.dump();
}

DeepOnetConfig DeepOnetConfig::from_json(const std::string& text) {
  DeepOnetConfig config;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    NEUROP_CHECK(j.value("model", std::string()) == "deeponet", ValueError,
                 "model description is for '{}', not a DeepONet", j.value("model", std::string("unknown")));
    config.variant = parse_variant(j.at("variant").get<std::string>());
    config.branch_widths = j.at("branch_widths").get<std::vector<std::int64_t>>();
    config.trunk_widths = j.at("trunk_widths").get<std::vector<std::int64_t>>();
    config.activation = nn::parse_activation(j.at("activation").get<std::string>());
    config.trunk_final_activation = j.at("trunk_final_activation").get<bool>();
    config.initializer = parse_initializer(j.at("initializer").get<std::string>());
    config.outputs = j.at("outputs").get<std::int64_t>();
    config.multi_output = parse_multi_output(j.at("multi_output").get<std::string>());
    config.fourier_modes = j.at("fourier_modes").get<std::int64_t>();
    config.fourier_period = j.at("fourier_period").get<double>();
    config.domain.lower = j.at("domain_lower").get<std::vector<double>>();
    config.domain.upper = j.at("domain_upper").get<std::vector<double>>();
    config.extrapolate = j.at("extrapolate").get<bool>();
    config.pod_output_shape = j.at("pod_output_shape").get<Shape>();
    config.dtype = j.at("dtype").get<std::string>() == "float64" ? DType::f64 : DType::f32;
    config.seed = j.at("seed").get<std::uint64_t>();
  } catch (const nlohmann::json::exception& error) {
    throw ValueError(fmt::format("invalid DeepONet description '{}': {}", text, error.what()));
  }
  config.validate();
  return config;
}

bool is_deeponet_description(const std::string& json) {
  try {
    const nlohmann::json j = nlohmann::json::parse(json);
    return j.is_object() && j.value("model", std::string()) == "deeponet";
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

DeepOnetModel::DeepOnetModel(const DeepOnetConfig& config, const PodBasis* basis) : config_(config) {
  config_.validate();
  Rng rng(config_.seed);
  const std::int64_t c = config_.outputs, p = config_.latent_width();
  const bool split_branch = c > 1 && config_.multi_output == MultiOutput::split_branch;
  const bool split_trunk = c > 1 && config_.multi_output == MultiOutput::split_trunk;

  std::vector<std::int64_t> branch = config_.branch_widths;
  branch.back() = split_branch ? c * p : p;
  std::shared_ptr<FeatureNet> branch_net;
  if (config_.variant == Variant::stacked) {
    const std::vector<std::int64_t> hidden(branch.begin() + 1, branch.end() - 1);
    branch_net = std::make_shared<StackedDenseNet>(branch.front(), hidden, branch.back(), config_.activation, rng,
                                                   config_.initializer, config_.dtype);
  } else {
    branch_net = std::make_shared<DenseNet>(branch, config_.activation, rng, nn::Activation::identity,
                                            config_.initializer, config_.dtype);
  }

  if (config_.variant == Variant::pod) {
    PodBasis zero;
    if (basis == nullptr) {
      const std::int64_t values = shape_numel(config_.pod_output_shape);
      zero.mean = Tensor::zeros({values}, config_.dtype);
      zero.modes = Tensor::zeros({values, p}, config_.dtype);
      basis = &zero;
    }
    pod_ = std::make_unique<PodDeepOnet>(branch_net, *basis, config_.pod_output_shape);
    return;
  }

  std::vector<std::int64_t> trunk = config_.trunk_widths;
  const std::int64_t query_dims = trunk.front();
  if (config_.fourier_modes > 0) trunk.front() = 2 * config_.fourier_modes * query_dims;
  // The DeepOnet constructor compares the nets' actual output widths.
  if (split_trunk) trunk.back() *= c;
  const nn::Activation trunk_final = config_.trunk_final_activation ? config_.activation : nn::Activation::identity;
  auto trunk_net =
      std::make_shared<DenseNet>(trunk, config_.activation, rng, trunk_final, config_.initializer, config_.dtype);

  DeepOnetOptions options;
  options.outputs = c;
  options.multi_output = config_.multi_output;
  options.fourier_modes = config_.fourier_modes;
  options.fourier_period = config_.fourier_period;
  options.domain = config_.domain;
  options.extrapolate = config_.extrapolate;
  deeponet_ = std::make_unique<DeepOnet>(branch_net, trunk_net, options);
}

Tensor DeepOnetModel::forward(const Tensor& u, const Tensor& y, Form form) const {
  if (deeponet_) return deeponet_->forward(u, y, form);
  NEUROP_CHECK(form == Form::cartesian_product, ValueError,
               "POD-DeepONet: the POD modes exist only at the training query points, so only the Cartesian product "
               "form applies");
  const std::int64_t points = config_.pod_output_shape.front();
  NEUROP_CHECK(!y.defined() || (y.ndim() == 2 && y.size(0) == points), ShapeError,
               "POD-DeepONet: the model predicts at the {} query points of its training data, got query points of "
               "shape {}",
               points, y.defined() ? shape_string(y.shape()) : "undefined");
  return pod_->forward(u);
}

nn::Module& DeepOnetModel::module() const {
  if (deeponet_) return *deeponet_;
  return *pod_;
}

std::vector<Tensor> DeepOnetModel::trainable_parameters() const {
  return deeponet_ ? deeponet_->parameters() : pod_->trainable_parameters();
}

std::string DeepOnetModel::describe() const {
  const std::string text = deeponet_ ? deeponet_->describe() : pod_->describe();
  return fmt::format("{} ({}, {} parameters)", text, variant_name(config_.variant), module().parameter_count());
}

}  // namespace neurop::deeponet
