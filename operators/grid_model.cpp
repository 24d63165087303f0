#include "operators/grid_model.hpp"

#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "lib/io/checkpoint.hpp"
#include "operators/fno/fno.hpp"
#include "operators/mgno/mgno.hpp"

namespace neurop {
namespace {

class FnoModel : public GridModel {
public:
  explicit FnoModel(const fno::FnoConfig& config) : model_(config) {}
  nn::Module& module() override { return model_; }
  Tensor forward(const Tensor& inputs) const override { return model_.forward(inputs); }
  std::string to_json() const override { return model_.config().to_json(); }
  std::string summary() const override {
    const auto& c = model_.config();
    return fmt::format("FNO, {}D, width {}, modes [{}], {} layers, projection {}, {} parameters", c.spatial_dims(),
                       c.width, fmt::join(c.modes, ", "), c.layers, c.projection_width, model_.parameter_count());
  }

private:
  fno::Fno model_;
};

class MgnoModel : public GridModel {
public:
  explicit MgnoModel(const mgno::MgnoConfig& config) : model_(config) {}
  nn::Module& module() override { return model_; }
  Tensor forward(const Tensor& inputs) const override { return model_.forward(inputs); }
  std::string to_json() const override { return model_.config().to_json(); }
  std::string summary() const override {
    const auto& c = model_.config();
    return fmt::format(
        "MgNO, width {}, {} layers, {} levels, pre-smoothing [{}], post-smoothing [{}], {} padding, prolongation "
        "kernel {}, {} parameters",
        c.width, c.layers, c.levels(), fmt::join(c.pre_smoothing, ", "), fmt::join(c.post_smoothing, ", "),
        padding_mode_name(c.padding_mode), c.prolongation_kernel, model_.parameter_count());
  }

private:
  mgno::Mgno model_;
};

// Module that contains the inner model's module and the two normalisers as children.
class NormalizedModule : public nn::Module {
public:
  NormalizedModule(nn::Module& inner, nn::GaussianNormalizer& input, nn::GaussianNormalizer& output) {
    register_module("model", inner);
    register_module("input_normalizer", input);
    register_module("output_normalizer", output);
  }
};

class NormalizedModel : public GridModel {
public:
  NormalizedModel(std::unique_ptr<GridModel> inner, std::unique_ptr<nn::GaussianNormalizer> input,
                  std::unique_ptr<nn::GaussianNormalizer> output)
      : inner_(std::move(inner)),
        input_(std::move(input)),
        output_(std::move(output)),
        module_(inner_->module(), *input_, *output_) {}

  nn::Module& module() override { return module_; }

  Tensor forward(const Tensor& inputs) const override {
    // decode(inner(encode(x)))
    return output_->decode(inner_->forward(input_->encode(inputs)));
  }

  std::string to_json() const override {
    nlohmann::json j;
    j["model"] = "normalized";
    j["inner"] = nlohmann::json::parse(inner_->to_json());
    j["input_normalizer"] = nlohmann::json::parse(input_->to_json());
    j["output_normalizer"] = nlohmann::json::parse(output_->to_json());
    return j.dump();
  }

  std::string summary() const override {
    return fmt::format("{}; inputs and outputs normalised with {} Gaussian statistics (eps {})", inner_->summary(),
                       nn::normalizer_kind_name(input_->options().kind), input_->options().eps);
  }

private:
  std::unique_ptr<GridModel> inner_;
  std::unique_ptr<nn::GaussianNormalizer> input_, output_;
  NormalizedModule module_;
};

std::unique_ptr<GridModel> make_normalized_grid_model(const std::string& json) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
    NEUROP_CHECK(j.contains("inner") && j.contains("input_normalizer") && j.contains("output_normalizer"),
                 ValueError,
                 "invalid normalised model description: it needs the fields inner, input_normalizer and "
                 "output_normalizer");
  } catch (const nlohmann::json::exception& error) {
    throw ValueError(fmt::format("invalid normalised model description: {}", error.what()));
  }
  std::unique_ptr<GridModel> inner = build_grid_model(j.at("inner").dump());
  const DType dtype = inner->module().dtype();
  auto input = nn::GaussianNormalizer::from_json(j.at("input_normalizer").dump(), dtype);
  auto output = nn::GaussianNormalizer::from_json(j.at("output_normalizer").dump(), dtype);
  return std::make_unique<NormalizedModel>(std::move(inner), std::move(input), std::move(output));
}

}  // namespace

std::unique_ptr<GridModel> build_grid_model(const std::string& json) {
  std::string kind;
  try {
    kind = nlohmann::json::parse(json).value("model", std::string());
  } catch (const nlohmann::json::exception& error) {
    throw ValueError(fmt::format("invalid model description: {}", error.what()));
  }
  if (kind == "fno") return std::make_unique<FnoModel>(fno::FnoConfig::from_json(json));
  if (kind == "mgno") return std::make_unique<MgnoModel>(mgno::MgnoConfig::from_json(json));
  if (kind == "normalized") return make_normalized_grid_model(json);
  NEUROP_CHECK(kind != "deeponet", ValueError,
               "the checkpoint contains a DeepONet, which works on point data sets (for example from `neurop generate "
               "antiderivative`), not on grid data; pass a point data set with it, or a checkpoint of an FNO or MgNO");
  throw ValueError(
      fmt::format("unknown model kind '{}' in the model description; this build knows: fno, mgno, normalized", kind));
}

std::unique_ptr<GridModel> load_grid_model(const std::filesystem::path& path) {
  const CheckpointInfo info = read_checkpoint_info(path);
  std::unique_ptr<GridModel> model = build_grid_model(info.model);
  load_checkpoint(path, model->module(), /*optimizer=*/nullptr);
  return model;
}

std::unique_ptr<GridModel> normalize_grid_model(std::unique_ptr<GridModel> inner, const Tensor& train_inputs,
                                                const Tensor& train_outputs, const nn::NormalizerOptions& options) {
  const DType dtype = inner->module().dtype();
  auto input = nn::GaussianNormalizer::fit(train_inputs, options, dtype);
  auto output = nn::GaussianNormalizer::fit(train_outputs, options, dtype);
  return std::make_unique<NormalizedModel>(std::move(inner), std::move(input), std::move(output));
}

}  // namespace neurop
