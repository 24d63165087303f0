#include "operators/mgno/mgno.hpp"

#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::mgno {
namespace {

constexpr std::int64_t kMinimumLevelExtent = 2;

Conv2dOptions smoother_options(PaddingMode mode) { return {.stride = 1, .padding = 1, .padding_mode = mode}; }
Conv2dOptions coarsening_options(PaddingMode mode) { return {.stride = 2, .padding = 1, .padding_mode = mode}; }

std::string describe_levels(std::int64_t n, std::int64_t levels) {
  return fmt::format("{}", fmt::join(level_extents(n, levels), " -> "));
}

}  // namespace

void MgnoConfig::validate() const {
  NEUROP_CHECK(in_channels >= 1 && out_channels >= 1, ValueError,
               "MgNO: channel counts must be >= 1, got in = {}, out = {}", in_channels, out_channels);
  NEUROP_CHECK(width >= 1, ValueError, "MgNO: width must be >= 1, got {}", width);
  NEUROP_CHECK(layers >= 1, ValueError, "MgNO: at least one layer is needed, got {}", layers);
  NEUROP_CHECK(!pre_smoothing.empty(), ValueError,
               "MgNO: pre_smoothing is empty; give one step count per level (finest first)");
  NEUROP_CHECK(post_smoothing.size() == pre_smoothing.size(), ValueError,
               "MgNO: pre_smoothing has {} levels but post_smoothing has {}; give one count per level in both",
               pre_smoothing.size(), post_smoothing.size());
  NEUROP_CHECK(pre_smoothing[0] >= 1, ValueError,
               "MgNO: level 0 needs at least one pre-smoothing step (it creates the first iterate), got {}",
               pre_smoothing[0]);
  for (std::size_t l = 0; l < pre_smoothing.size(); ++l) {
    NEUROP_CHECK(pre_smoothing[l] >= 0 && post_smoothing[l] >= 0, ValueError,
                 "MgNO: smoothing step counts must be >= 0, got pre {} and post {} on level {}", pre_smoothing[l],
                 post_smoothing[l], l);
  }
  NEUROP_CHECK(post_smoothing.back() == 0, ValueError,
               "MgNO: post-smoothing on the coarsest level (level {}) must be 0, got {}; the V-cycle turns there, "
               "so add those steps to its pre-smoothing instead",
               post_smoothing.size() - 1, post_smoothing.back());
  NEUROP_CHECK(prolongation_kernel == 3 || prolongation_kernel == 4, ValueError,
               "MgNO: prolongation kernel must be 3 (any grid) or 4 (grids divisible by 2^(levels - 1)), got {}",
               prolongation_kernel);
}

std::string MgnoConfig::to_json() const {
  nlohmann::json j;
  j["model"] = "mgno";
  j["in_channels"] = in_channels;
  j["out_channels"] = out_channels;
  j["width"] = width;
  j["layers"] = layers;
  j["pre_smoothing"] = pre_smoothing;
  j["post_smoothing"] = post_smoothing;
  j["padding_mode"] = padding_mode_name(padding_mode);
  j["prolongation_kernel"] = prolongation_kernel;
  j["activation"] = nn::activation_name(activation);
  j["dtype"] = dtype_name(dtype);
  j["seed"] = seed;
  return j.dump();
}

MgnoConfig MgnoConfig::from_json(const std::string& text) {
  MgnoConfig config;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    NEUROP_CHECK(j.value("model", std::string()) == "mgno", ValueError, "model description is for '{}', not an MgNO",
                 j.value("model", std::string("unknown")));
    config.in_channels = j.at("in_channels").get<std::int64_t>();
    config.out_channels = j.at("out_channels").get<std::int64_t>();
    config.width = j.at("width").get<std::int64_t>();
    config.layers = j.at("layers").get<std::int64_t>();
    config.pre_smoothing = j.at("pre_smoothing").get<std::vector<std::int64_t>>();
    config.post_smoothing = j.at("post_smoothing").get<std::vector<std::int64_t>>();
    config.padding_mode = parse_padding_mode(j.at("padding_mode").get<std::string>());
    config.prolongation_kernel = j.at("prolongation_kernel").get<std::int64_t>();
    config.activation = nn::parse_activation(j.at("activation").get<std::string>());
    config.dtype = j.at("dtype").get<std::string>() == "float64" ? DType::f64 : DType::f32;
    config.seed = j.at("seed").get<std::uint64_t>();
  } catch (const nlohmann::json::exception& error) {
    throw ValueError(fmt::format("invalid MgNO description '{}': {}", text, error.what()));
  }
  config.validate();
  return config;
}

std::vector<std::int64_t> level_extents(std::int64_t n, std::int64_t levels) {
  std::vector<std::int64_t> extents;
  for (std::int64_t l = 0; l < levels; ++l) {
    extents.push_back(n);
    // 3x3 stride-2 padding-1 convolution: floor((n + 2 - 3) / 2) + 1 = (n + 1) / 2.
    n = (n + 1) / 2;
  }
  return extents;
}

std::int64_t max_levels(std::int64_t n, std::int64_t prolongation_kernel) {
  if (n < kMinimumLevelExtent) return 0;
  std::int64_t levels = 1;
  while (true) {
    // A kernel-4 prolongation needs an even fine level: a 4x4 stride-2 convolution
    // maps n to floor(n / 2), which equals the restriction's (n + 1) / 2 only then.
    if (prolongation_kernel == 4 && n % 2 != 0) break;
    const std::int64_t coarse = (n + 1) / 2;
    if (coarse < kMinimumLevelExtent || coarse == n) break;
    n = coarse;
    ++levels;
  }
  return levels;
}

MultigridConv::MultigridConv(std::int64_t f_channels, const MgnoConfig& config, Rng& rng)
    : levels_(config.levels()) {
  const std::int64_t width = config.width;
  const Conv2dOptions smooth = smoother_options(config.padding_mode);
  const Conv2dOptions coarsen = coarsening_options(config.padding_mode);
  auto make_step = [&](bool with_residual) {
    Smoother step;
    if (with_residual)
      step.residual = std::make_unique<nn::Conv2d>(width, f_channels, 3, smooth, rng, /*bias=*/false, config.dtype);
    step.update = std::make_unique<nn::Conv2d>(f_channels, width, 3, smooth, rng, /*bias=*/false, config.dtype);
    return step;
  };
  auto register_step = [&](Smoother& step, const std::string& prefix) {
    if (step.residual) register_module(prefix + ".residual", *step.residual);
    register_module(prefix + ".update", *step.update);
  };

  pre_.resize(static_cast<std::size_t>(levels_));
  post_.resize(static_cast<std::size_t>(levels_));
  for (std::int64_t l = 0; l < levels_; ++l) {
    if (l > 0) {
      restrict_f_.push_back(
          std::make_unique<nn::Conv2d>(f_channels, f_channels, 3, coarsen, rng, /*bias=*/false, config.dtype));
      restrict_v_.push_back(std::make_unique<nn::Conv2d>(width, width, 3, coarsen, rng, /*bias=*/false, config.dtype));
      register_module(fmt::format("restrict_f.{}", l), *restrict_f_.back());
      register_module(fmt::format("restrict_v.{}", l), *restrict_v_.back());
    }
    auto& pre = pre_[static_cast<std::size_t>(l)];
    for (std::int64_t i = 0; i < config.pre_smoothing[static_cast<std::size_t>(l)]; ++i) {
      pre.push_back(make_step(/*with_residual=*/l > 0 || i > 0));
      register_step(pre.back(), fmt::format("pre.{}.{}", l, i));
    }
    auto& post = post_[static_cast<std::size_t>(l)];
    for (std::int64_t i = 0; i < config.post_smoothing[static_cast<std::size_t>(l)]; ++i) {
      post.push_back(make_step(/*with_residual=*/true));
      register_step(post.back(), fmt::format("post.{}.{}", l, i));
    }
  }
  for (std::int64_t l = 0; l + 1 < levels_; ++l) {
    prolong_.push_back(std::make_unique<nn::ConvTranspose2d>(width, width, config.prolongation_kernel, coarsen, rng,
                                                             /*bias=*/false, config.dtype));
    register_module(fmt::format("prolong.{}", l), *prolong_.back());
  }
}

Tensor MultigridConv::smooth(const Smoother& step, const Tensor& f, const Tensor& v) const {
  if (!step.residual) return step.update->forward(f);
  // v + S (f - A v)
  return add(v, step.update->forward(sub(f, step.residual->forward(v))));
}

Tensor MultigridConv::forward(const Tensor& f0) const {
  std::vector<Tensor> f(static_cast<std::size_t>(levels_)), v(static_cast<std::size_t>(levels_));
  f[0] = f0;
  // Down: restrict f and v, then pre-smooth on each level.
  for (std::int64_t l = 0; l < levels_; ++l) {
    const auto level = static_cast<std::size_t>(l);
    if (l > 0) {
      f[level] = restrict_f_[level - 1]->forward(f[level - 1]);
      v[level] = restrict_v_[level - 1]->forward(v[level - 1]);
    }
    for (const Smoother& step : pre_[level]) v[level] = smooth(step, f[level], v[level]);
  }
  // Up: add the prolongated coarse iterate, then post-smooth.
  for (std::int64_t l = levels_ - 2; l >= 0; --l) {
    const auto level = static_cast<std::size_t>(l);
    const std::array<std::int64_t, 2> fine = {f[level].size(2), f[level].size(3)};
    v[level] = add(v[level], prolong_[level]->forward(v[level + 1], fine));
    for (const Smoother& step : post_[level]) v[level] = smooth(step, f[level], v[level]);
  }
  return v[0];
}

Mgno::Mgno(const MgnoConfig& config) : config_(config), rng_(config.seed) {
  config_.validate();
  for (std::int64_t l = 0; l < config_.layers; ++l) {
    const std::int64_t f_channels = l == 0 ? config_.in_channels : config_.width;
    multigrid_.push_back(std::make_unique<MultigridConv>(f_channels, config_, rng_));
    pointwise_.push_back(
        std::make_unique<nn::PointwiseConv>(f_channels, config_.width, rng_, /*bias=*/true, config_.dtype));
    register_module(fmt::format("multigrid.{}", l), *multigrid_.back());
    register_module(fmt::format("pointwise.{}", l), *pointwise_.back());
  }
  projection_ =
      std::make_unique<nn::PointwiseConv>(config_.width, config_.out_channels, rng_, /*bias=*/false, config_.dtype);
  register_module("projection", *projection_);
}

void check_grid(const MgnoConfig& config, std::int64_t height, std::int64_t width) {
  const std::int64_t levels = config.levels();
  const std::int64_t kernel = config.prolongation_kernel;
  const std::int64_t allowed = std::min(max_levels(height, kernel), max_levels(width, kernel));
  NEUROP_CHECK(levels <= allowed, ShapeError,
               "MgNO: the grid [{}, {}] cannot be coarsened to {} levels; it allows at most {} (restriction n -> "
               "(n + 1) / 2 gives {} along H and {} along W, every level needs >= {} points{}); use at most {} "
               "levels or a finer grid",
               height, width, levels, allowed, describe_levels(height, levels), describe_levels(width, levels),
               kMinimumLevelExtent,
               kernel == 4 ? ", and prolongation kernel 4 needs an even extent on every level but the coarsest" : "",
               allowed);
}

Tensor Mgno::forward(const Tensor& u) const {
  NEUROP_CHECK(u.ndim() == 4, ShapeError,
               "MgNO: expected input [batch, channels, height, width], got shape {}; MgNO works on 2D grids",
               shape_string(u.shape()));
  NEUROP_CHECK(u.size(1) == config_.in_channels, ShapeError,
               "MgNO: input has {} channels (shape {}) but the model was built for {}", u.size(1),
               shape_string(u.shape()), config_.in_channels);
  NEUROP_CHECK(u.dtype() == config_.dtype, ShapeError,
               "MgNO: input is {} but the model is {}; convert the input with Tensor::to()", dtype_name(u.dtype()),
               dtype_name(config_.dtype));
  check_grid(config_, u.size(2), u.size(3));

  Tensor v = u;
  for (std::size_t l = 0; l < multigrid_.size(); ++l) {
    // v <- act(W v + K v + b)
    v = nn::activate(add(multigrid_[l]->forward(v), pointwise_[l]->forward(v)), config_.activation);
  }
  return projection_->forward(v);
}

}  // namespace neurop::mgno
