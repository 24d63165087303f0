// MgNO: architecture and parameter counts, the level rule on odd, even and non-square
// grids, the V-cycle wiring against hand-written convolutions, boundary handling,
// gradients, a short training run, and the H1 loss.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <string>

#include "lib/autodiff/gradcheck.hpp"
#include "lib/autodiff/graph.hpp"
#include "lib/core/random.hpp"
#include "lib/nn/loss.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/tensor/conv2d.hpp"
#include "lib/tensor/ops.hpp"
#include "operators/mgno/losses.hpp"
#include "operators/mgno/mgno.hpp"
#include "tests/support/check.hpp"
#include "tests/support/tensors.hpp"

using namespace neurop;
using neurop::testing::message_of;
using neurop::testing::random_tensor;
using neurop::testing::max_abs_difference;
using neurop::testing::kF64Loose;
using neurop::testing::kF64Tight;

namespace {

mgno::MgnoConfig small_config(std::vector<std::int64_t> pre, std::vector<std::int64_t> post,
                              PaddingMode mode = PaddingMode::zeros) {
  mgno::MgnoConfig config;
  config.width = 3;
  config.layers = 2;
  config.pre_smoothing = std::move(pre);
  config.post_smoothing = std::move(post);
  config.padding_mode = mode;
  config.dtype = DType::f64;
  config.seed = 5;
  return config;
}

std::map<std::string, Tensor> parameters_by_name(const nn::Module& module) {
  std::map<std::string, Tensor> result;
  for (const auto& [name, tensor] : module.named_parameters()) result.emplace(name, tensor.detach());
  return result;
}

// x rolled by `shift` along an axis: y[i] = x[(i - shift) mod n].
Tensor roll(const Tensor& x, std::int64_t axis, std::int64_t shift) {
  const std::int64_t n = x.size(axis);
  return concat({slice(x, axis, n - shift, n), slice(x, axis, 0, n - shift)}, axis);
}

}  // namespace

TEST_CASE("mgno default is the Darcy configuration") {
  const mgno::Mgno model(mgno::MgnoConfig{});
  // One multigrid convolution with C_f input channels and width w = 24 on 5 levels with
  // pre-smoothing (1, 1, 1, 2, 2): 13 smoother convolutions C_f <-> w (the first step has
  // no A), 4 restrictions of f (C_f x C_f) and of v (w x w), 4 prolongations (w x w, 3x3),
  // plus the 1x1 convolution C_f -> w with bias.
  const std::int64_t w = 24;
  auto layer = [w](std::int64_t cf) { return 13 * 9 * w * cf + 4 * 9 * (cf * cf + w * w) + 4 * 9 * w * w + cf * w + w; };
  CHECK(model.parameter_count() == layer(1) + 4 * layer(24) + w);
  CHECK(model.forward(Tensor::zeros({2, 1, 17, 17})).shape() == Shape{2, 1, 17, 17});
}

TEST_CASE("mgno with kernel-4 prolongation has the reference layout") {
  // The reference README configuration for Darcy: 4 layers, width 24, 6 levels with
  // one pre-smoothing step each and two on the coarsest, 4x4 transposed convolutions.
  // Per layer with C_f input channels: 13 smoothers (9 * 24 C_f each), 5 restrictions of
  // f and v, 5 prolongations of 16 * 24^2, the 1x1 convolution; projection 24 -> 1.
  mgno::MgnoConfig config;
  config.layers = 4;
  config.pre_smoothing = {1, 1, 1, 1, 1, 2};
  config.post_smoothing = {0, 0, 0, 0, 0, 0};
  config.prolongation_kernel = 4;
  const mgno::Mgno model(config);
  CHECK(model.parameter_count() == 572661);
  CHECK(model.forward(Tensor::zeros({1, 1, 64, 64})).shape() == Shape{1, 1, 64, 64});
  CHECK_THROWS_AS(model.forward(Tensor::zeros({1, 1, 85, 85})), ShapeError);
}

TEST_CASE("level extents and the maximum level count") {
  CHECK(mgno::level_extents(85, 7) == std::vector<std::int64_t>{85, 43, 22, 11, 6, 3, 2});
  CHECK(mgno::level_extents(64, 3) == std::vector<std::int64_t>{64, 32, 16});
  CHECK(mgno::max_levels(85, 3) == 7);
  CHECK(mgno::max_levels(141, 3) == 8);   // 141 71 36 18 9 5 3 2
  CHECK(mgno::max_levels(64, 3) == 6);    // 64 32 16 8 4 2
  CHECK(mgno::max_levels(64, 4) == 6);
  CHECK(mgno::max_levels(96, 4) == 6);    // 96 48 24 12 6 3: only the coarsest level may be odd
  CHECK(mgno::max_levels(96, 3) == 7);    // ... 3 2
  CHECK(mgno::max_levels(85, 4) == 1);
  CHECK(mgno::max_levels(2, 3) == 1);
  CHECK(mgno::max_levels(1, 3) == 0);
}

TEST_CASE("mgno runs on odd, even and non-square grids") {
  const mgno::Mgno model(small_config({1, 1, 2}, {0, 1, 0}));
  for (const auto& [h, w] : std::vector<std::pair<std::int64_t, std::int64_t>>{{9, 9}, {8, 8}, {11, 6}, {5, 13}}) {
    CAPTURE(h);
    CAPTURE(w);
    CHECK(model.forward(random_tensor({2, 1, h, w}, 1)).shape() == Shape{2, 1, h, w});
  }
}

TEST_CASE("mgno rejects a grid its levels cannot coarsen") {
  mgno::MgnoConfig config = small_config({1, 1, 1, 1, 1, 1, 1, 1}, {0, 0, 0, 0, 0, 0, 0, 0});
  config.layers = 1;
  const mgno::Mgno model(config);
  const Tensor grid85 = Tensor::zeros({1, 1, 85, 85}, DType::f64);
  CHECK_THROWS_AS(model.forward(grid85), ShapeError);
  const std::string message = message_of([&] { model.forward(grid85); });
  CHECK(message.find("[85, 85]") != std::string::npos);
  CHECK(message.find("8 levels") != std::string::npos);
  CHECK(message.find("at most 7") != std::string::npos);
  // Non-square: the coarser axis decides.
  CHECK(message_of([&] { model.forward(Tensor::zeros({1, 1, 200, 20}, DType::f64)); }).find("at most 5") !=
        std::string::npos);
  CHECK(model.forward(Tensor::zeros({1, 1, 141, 141}, DType::f64)).shape() == Shape{1, 1, 141, 141});
  CHECK_THROWS_AS(model.forward(Tensor::zeros({1, 1, 85}, DType::f64)), ShapeError);
  CHECK_THROWS_AS(model.forward(Tensor::zeros({1, 2, 85, 85}, DType::f64)), ShapeError);
  CHECK_THROWS_AS(model.forward(Tensor::zeros({1, 1, 141, 141}, DType::f32)), ShapeError);
}

TEST_CASE("multigrid convolution matches the V-cycle written out") {
  // Two levels, pre-smoothing (2, 1) and post-smoothing (1, 0): the forward pass must
  // equal these convolutions in this order.
  mgno::MgnoConfig config = small_config({2, 1}, {1, 0});
  config.layers = 1;
  Rng rng(9);
  const mgno::MultigridConv multigrid(1, config, rng);
  auto p = parameters_by_name(multigrid);
  const Conv2dOptions smooth{.stride = 1, .padding = 1};
  const Conv2dOptions coarsen{.stride = 2, .padding = 1};
  auto S = [&](const std::string& step, const Tensor& x) { return conv2d(x, p.at(step + ".update.weight"), smooth); };
  auto A = [&](const std::string& step, const Tensor& x) {
    return conv2d(x, p.at(step + ".residual.weight"), smooth);
  };

  const Tensor f0 = random_tensor({2, 1, 7, 6}, 2);
  // down
  Tensor v0 = S("pre.0.0", f0);
  v0 = add(v0, S("pre.0.1", sub(f0, A("pre.0.1", v0))));
  const Tensor f1 = conv2d(f0, p.at("restrict_f.1.weight"), coarsen);
  Tensor v1 = conv2d(v0, p.at("restrict_v.1.weight"), coarsen);
  v1 = add(v1, S("pre.1.0", sub(f1, A("pre.1.0", v1))));
  // up
  v0 = add(v0, conv_transpose2d(v1, p.at("prolong.0.weight"), {7, 6}, coarsen));
  v0 = add(v0, S("post.0.0", sub(f0, A("post.0.0", v0))));

  CHECK(p.count("pre.0.0.residual.weight") == 0);
  CHECK(max_abs_difference(multigrid.forward(f0), v0) <= kF64Tight.abs * 100);
}

TEST_CASE("multigrid convolution is linear") {
  mgno::MgnoConfig config = small_config({1, 2, 1}, {1, 1, 0}, PaddingMode::reflect);
  Rng rng(10);
  const mgno::MultigridConv multigrid(2, config, rng);
  const Tensor f = random_tensor({1, 2, 9, 10}, 3), g = random_tensor({1, 2, 9, 10}, 4);
  const Tensor combined = multigrid.forward(add(f * 2.0, g * -0.5));
  const Tensor separate = add(multigrid.forward(f) * 2.0, multigrid.forward(g) * -0.5);
  CHECK(max_abs_difference(combined, separate) <= kF64Loose.abs);
}

TEST_CASE("circular padding makes mgno commute with periodic shifts") {
  // With L levels, stride-2 restrictions commute with shifts by multiples of 2^(L-1):
  // on a 12 x 8 torus with 3 levels, a shift by 4 along both axes passes through.
  const mgno::Mgno periodic(small_config({1, 1, 1}, {0, 1, 0}, PaddingMode::circular));
  const Tensor u = random_tensor({1, 1, 12, 8}, 5);
  const Tensor shifted_first = periodic.forward(roll(roll(u, 2, 4), 3, 4));
  const Tensor shifted_after = roll(roll(periodic.forward(u), 2, 4), 3, 4);
  CHECK(max_abs_difference(shifted_first, shifted_after) <= kF64Loose.abs);
  // Zero padding is not shift-invariant because the zeros enter at the boundary.
  const mgno::Mgno dirichlet(small_config({1, 1, 1}, {0, 1, 0}, PaddingMode::zeros));
  CHECK(max_abs_difference(dirichlet.forward(roll(roll(u, 2, 4), 3, 4)), roll(roll(dirichlet.forward(u), 2, 4), 3, 4)) >
        1e-3);
}

TEST_CASE("gradcheck mgno in its input and weights") {
  mgno::MgnoConfig config = small_config({1, 1}, {1, 0}, PaddingMode::reflect);
  config.width = 2;
  config.layers = 1;
  config.activation = nn::Activation::tanh;
  const mgno::Mgno model(config);
  const Tensor u = random_tensor({1, 1, 5, 4}, 6);
  const GradcheckResult input = gradcheck([&](const auto& v) { return model.forward(v[0]); }, {u});
  CHECK_MESSAGE(input.passed, input.message());
  const GradcheckResult second = gradgradcheck([&](const auto& v) { return model.forward(v[0]); }, {u});
  CHECK_MESSAGE(second.passed, second.message());
  // The weights: backward through the model against finite differences of the loss.
  const Tensor target = random_tensor({1, 1, 5, 4}, 7);
  for (const auto& [name, parameter] : model.named_parameters()) {
    CAPTURE(name);
    const Tensor loss = sum(square(sub(model.forward(u), target)));
    const Tensor gradient = grad({loss}, {parameter})[0];
    const double h = 1e-6;
    Tensor bumped = parameter;
    const double original = parameter.to_vector()[0];
    std::vector<double> values = parameter.to_vector();
    values[0] = original + h;
    bumped.copy_(Tensor::from_vector(values, parameter.shape(), DType::f64));
    const double plus = sum(square(sub(model.forward(u), target))).item();
    values[0] = original - h;
    bumped.copy_(Tensor::from_vector(values, parameter.shape(), DType::f64));
    const double minus = sum(square(sub(model.forward(u), target))).item();
    values[0] = original;
    bumped.copy_(Tensor::from_vector(values, parameter.shape(), DType::f64));
    // Central differences with h = 1e-6 in float64: truncation O(h^2), round-off O(1e-10).
    CHECK_CLOSE(gradient.to_vector()[0], (plus - minus) / (2 * h), (neurop::testing::Tolerance{1e-7, 1e-6}));
  }
}

TEST_CASE("mgno training lowers the loss") {
  // Learn a fixed smoothing operator (two 3x3 box averages with zero padding) from 16
  // random fields on a 9 x 9 grid.
  mgno::MgnoConfig config = small_config({1, 1}, {0, 0});
  config.width = 4;
  config.dtype = DType::f32;
  mgno::Mgno model(config);
  const Tensor box = Tensor::full({1, 1, 3, 3}, 1.0 / 9.0);
  const Tensor inputs = random_tensor({16, 1, 9, 9}, 8, DType::f32);
  const Conv2dOptions same{.stride = 1, .padding = 1};
  const Tensor targets = conv2d(conv2d(inputs, box, same), box, same);
  optim::Adam adam(model.parameters(), {.learning_rate = 1e-2});
  const nn::Loss loss{nn::LossKind::relative_l2, nn::Reduction::mean};
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 60; ++step) {
    adam.zero_grad();
    const Tensor value = loss(model.forward(inputs), targets);
    value.backward();
    adam.step();
    if (step == 0) first = value.item();
    last = value.item();
  }
  CHECK(last < 0.5 * first);
}

TEST_CASE("mgno description round trip and validation") {
  mgno::MgnoConfig config = small_config({1, 2, 0}, {0, 1, 0}, PaddingMode::circular);
  config.prolongation_kernel = 4;
  config.activation = nn::Activation::relu;
  const mgno::MgnoConfig back = mgno::MgnoConfig::from_json(config.to_json());
  CHECK(back.pre_smoothing == config.pre_smoothing);
  CHECK(back.post_smoothing == config.post_smoothing);
  CHECK(back.padding_mode == PaddingMode::circular);
  CHECK(back.prolongation_kernel == 4);
  CHECK(back.activation == nn::Activation::relu);
  CHECK(back.dtype == DType::f64);

  mgno::MgnoConfig bad = config;
  bad.pre_smoothing = {0, 1, 1};
  CHECK_THROWS_AS(bad.validate(), ValueError);
  bad = config;
  bad.post_smoothing = {0, 1};
  CHECK_THROWS_AS(bad.validate(), ValueError);
  bad = config;
  bad.post_smoothing = {0, 1, 1};
  CHECK_THROWS_AS(bad.validate(), ValueError);
  bad = config;
  bad.prolongation_kernel = 5;
  CHECK_THROWS_AS(bad.validate(), ValueError);
  CHECK_THROWS_AS(mgno::MgnoConfig::from_json("{\"model\": \"fno\"}"), ValueError);
}

TEST_CASE("h1 norm converges at second order") {
  // u = sin(pi x) sin(pi y) on the unit square: ||u||^2 = 1/4, ||grad u||^2 = pi^2 / 2.
  const double exact = 0.25 + M_PI * M_PI / 2.0;
  std::vector<double> errors;
  for (std::int64_t n : {17, 33, 65}) {
    const double h = 1.0 / static_cast<double>(n - 1);
    std::vector<double> values;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) values.push_back(std::sin(M_PI * i * h) * std::sin(M_PI * j * h));
    const Tensor u = Tensor::from_vector(values, {1, 1, n, n}, DType::f64);
    errors.push_back(std::abs(mgno::h1_squared_norm_per_sample(u, h).item() - exact));
  }
  for (std::size_t k = 0; k + 1 < errors.size(); ++k) {
    const double order = std::log2(errors[k] / errors[k + 1]);
    CAPTURE(order);
    CHECK(order > 1.9);
    CHECK(order < 2.1);
  }
}

TEST_CASE("relative h1 error values and gradients") {
  const Tensor y = random_tensor({2, 1, 6, 5}, 9);
  const double h = 0.2;
  CHECK(mgno::relative_h1_per_sample(y, y, h).to_vector()[0] < 1e-12);
  // p = 2y: the error equals the target, ratio 1.
  CHECK_CLOSE(mgno::relative_h1_per_sample(y * 2.0, y, h).to_vector()[1], 1.0, kF64Tight);
  // A constant offset c has no gradient: |c|^2 = h^2 * 30 c^2.
  const Tensor offset = add(y, Tensor::scalar(0.5, DType::f64));
  const double expected =
      std::sqrt(h * h * 30 * 0.25 / mgno::h1_squared_norm_per_sample(slice(y, 0, 0, 1), h).item());
  CHECK_CLOSE(mgno::relative_h1_per_sample(offset, y, h).to_vector()[0], expected, kF64Tight);
  const GradcheckResult first = gradcheck(
      [&](const auto& v) { return mgno::relative_h1_per_sample(v[0], v[1], h); }, {random_tensor({2, 1, 4, 3}, 10), random_tensor({2, 1, 4, 3}, 11)});
  CHECK_MESSAGE(first.passed, first.message());
  CHECK_THROWS_AS(mgno::relative_h1_per_sample(y, Tensor::zeros({2, 1, 6, 5}, DType::f64), h), DataError);
  CHECK_THROWS_AS(mgno::relative_h1_per_sample(y, slice(y, 2, 0, 5), h), ShapeError);
  CHECK_THROWS_AS(mgno::h1_squared_norm_per_sample(y, 0.0), ValueError);
}
