#include <cmath>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include <unistd.h>

#include <doctest/doctest.h>

#include "datasets/function_space.hpp"
#include "datasets/ode_generators.hpp"
#include "lib/autodiff/gradcheck.hpp"
#include "lib/autodiff/graph.hpp"
#include "lib/core/threads.hpp"
#include "lib/io/checkpoint.hpp"
#include "lib/nn/conv_layers.hpp"
#include "lib/nn/layers.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/tensor/ops.hpp"
#include "operators/deeponet/config.hpp"
#include "operators/deeponet/deeponet.hpp"
#include "operators/deeponet/dense.hpp"
#include "operators/deeponet/physics.hpp"
#include "operators/deeponet/pod.hpp"
#include "operators/fno/fno.hpp"
#include "tests/support/check.hpp"
#include "tests/support/tensors.hpp"

using namespace neurop;
using neurop::testing::random_tensor;
using neurop::testing::max_abs_difference;
using namespace neurop::deeponet;
using neurop::testing::kF32Tight;
using neurop::testing::kF64Loose;
using neurop::testing::kF64Tight;

namespace {

// Integers in [-3, 3], so that products and sums of a few of them are exact in float64.
Tensor integer_tensor(const Shape& shape, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
  for (double& v : values) v = static_cast<double>(static_cast<std::int64_t>(rng.below(7)) - 3);
  return Tensor::from_vector(values, shape, DType::f64);
}

// Sets the thread count for its lifetime and restores the previous count.
class ThreadCountGuard {
public:
  explicit ThreadCountGuard(int threads) : previous_(num_threads()) { set_num_threads(threads); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;
  ~ThreadCountGuard() { set_num_threads(previous_); }

private:
  int previous_;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void check_gradients(const TensorFunction& f, const std::vector<Tensor>& inputs, const std::string& label) {
  const GradcheckResult first = gradcheck(f, inputs);
  CHECK_MESSAGE(first.passed, label, ": ", first.message());
  const GradcheckResult second = gradgradcheck(f, inputs);
  CHECK_MESSAGE(second.passed, label, " (second order): ", second.message());
}

std::shared_ptr<DenseNet> dense_net(const std::vector<std::int64_t>& widths, std::uint64_t seed,
                                    nn::Activation activation = nn::Activation::tanh,
                                    nn::Activation final_activation = nn::Activation::identity,
                                    DType dtype = DType::f64) {
  Rng rng(seed);
  return std::make_shared<DenseNet>(widths, activation, rng, final_activation, Initializer::glorot_normal, dtype);
}

DeepOnet small_model(std::int64_t sensors, std::int64_t dims, std::int64_t p, DeepOnetOptions options = {},
                     std::uint64_t seed = 3) {
  const std::int64_t c = options.outputs;
  const bool split_branch = c > 1 && options.multi_output == MultiOutput::split_branch;
  const bool split_trunk = c > 1 && options.multi_output == MultiOutput::split_trunk;
  const std::int64_t trunk_in = options.fourier_modes > 0 ? 2 * options.fourier_modes * dims : dims;
  return DeepOnet(dense_net({sensors, 6, split_branch ? c * p : p}, seed),
                  dense_net({trunk_in, 6, split_trunk ? c * p : p}, seed + 1, nn::Activation::tanh,
                            nn::Activation::tanh),
                  options);
}

}  // namespace

// ---- combining branch and trunk features ----

TEST_CASE("deeponet product form shape and values") {
  const Tensor branch = integer_tensor({3, 4}, 1);
  const Tensor trunk = integer_tensor({5, 4}, 2);
  const Tensor bias = Tensor::full({1}, 2.0, DType::f64);
  const Tensor out = combine_product(branch, trunk, bias);
  REQUIRE(out.shape() == Shape{3, 5});
  for (std::int64_t b = 0; b < 3; ++b) {
    for (std::int64_t i = 0; i < 5; ++i) {
      double expected = 2.0;
      for (std::int64_t k = 0; k < 4; ++k) expected += branch.at({b, k}) * trunk.at({i, k});
      CHECK(out.at({b, i}) == expected);
    }
  }
}

TEST_CASE("deeponet aligned form is the product diagonal") {
  const Tensor branch = integer_tensor({5, 4}, 3);
  const Tensor trunk = integer_tensor({5, 4}, 4);
  const Tensor bias = Tensor::full({1}, -1.0, DType::f64);
  const Tensor product = combine_product(branch, trunk, bias);
  const Tensor aligned = combine_aligned(branch, trunk, bias);
  REQUIRE(product.shape() == Shape{5, 5});
  REQUIRE(aligned.shape() == Shape{5});
  CHECK(aligned.numel() != product.numel());
  bool off_diagonal_differs = false;
  for (std::int64_t b = 0; b < 5; ++b) {
    CHECK(aligned.at({b}) == product.at({b, b}));
    for (std::int64_t i = 0; i < 5; ++i)
      if (i != b && product.at({b, i}) != aligned.at({b})) off_diagonal_differs = true;
  }
  // The data are chosen so that the full matrix is not constant along rows.
  CHECK(off_diagonal_differs);
}

TEST_CASE("deeponet aligned form with several points per function") {
  const Tensor branch = integer_tensor({3, 4}, 5);
  const Tensor trunk = integer_tensor({3, 6, 4}, 6);
  const Tensor out = combine_aligned(branch, trunk);
  REQUIRE(out.shape() == Shape{3, 6});
  for (std::int64_t b = 0; b < 3; ++b) {
    for (std::int64_t i = 0; i < 6; ++i) {
      double expected = 0.0;
      for (std::int64_t k = 0; k < 4; ++k) expected += branch.at({b, k}) * trunk.at({b, i, k});
      CHECK(out.at({b, i}) == expected);
    }
  }
}

TEST_CASE("deeponet integer model gives exact product and aligned values") {
  // Identity activations and integer weights: every output is an exact integer sum.
  auto branch = dense_net({4, 4}, 1, nn::Activation::identity);
  auto trunk = dense_net({1, 4}, 2, nn::Activation::identity);
  branch->weights[0].copy_(integer_tensor({4, 4}, 7));
  branch->biases[0].copy_(integer_tensor({4}, 8));
  trunk->weights[0].copy_(integer_tensor({4, 1}, 9));
  trunk->biases[0].copy_(integer_tensor({4}, 10));
  DeepOnet model(branch, trunk);
  model.bias.fill_(3.0);

  const Tensor u = integer_tensor({3, 4}, 11);
  const Tensor y = integer_tensor({5, 1}, 12);
  const Tensor product = model.forward_product(u, y);
  REQUIRE(product.shape() == Shape{3, 5});
  const Tensor branch_features = model.branch_features(u);
  const Tensor trunk_features = model.trunk_features(y);
  for (std::int64_t b = 0; b < 3; ++b) {
    for (std::int64_t i = 0; i < 5; ++i) {
      double expected = 3.0;
      for (std::int64_t k = 0; k < 4; ++k) expected += branch_features.at({b, k}) * trunk_features.at({i, k});
      CHECK(product.at({b, i}) == expected);
    }
  }

  const Tensor u5 = integer_tensor({5, 4}, 13);
  const Tensor square = model.forward(u5, y, Form::cartesian_product);
  const Tensor aligned = model.forward(u5, y, Form::aligned);
  REQUIRE(square.shape() == Shape{5, 5});
  REQUIRE(aligned.shape() == Shape{5});
  for (std::int64_t b = 0; b < 5; ++b) CHECK(aligned.at({b}) == square.at({b, b}));
}

TEST_CASE("deeponet shape errors name the form and both shapes") {
  try {
    combine_product(Tensor::zeros({3, 4}, DType::f64), Tensor::zeros({5, 3}, DType::f64));
    FAIL("mismatched widths did not throw");
  } catch (const ShapeError& error) {
    CHECK(contains(error.what(), "Cartesian product form"));
    CHECK(contains(error.what(), "[3, 4]"));
    CHECK(contains(error.what(), "[5, 3]"));
  }
  try {
    combine_aligned(Tensor::zeros({3, 4}, DType::f64), Tensor::zeros({5, 4}, DType::f64));
    FAIL("mismatched batch did not throw");
  } catch (const ShapeError& error) {
    CHECK(contains(error.what(), "aligned form"));
    CHECK(contains(error.what(), "[3, 4]"));
    CHECK(contains(error.what(), "[5, 4]"));
  }
  const DeepOnet model = small_model(10, 1, 4);
  CHECK_THROWS_AS(model.forward_aligned(random_tensor({3, 10}, 1), random_tensor({4, 1}, 2, 0.0, 1.0)), ShapeError);
  CHECK_THROWS_AS(model.forward_product(random_tensor({3, 10}, 1), random_tensor({2, 4, 1}, 2, 0.0, 1.0)),
                  ShapeError);
}

TEST_CASE("combine functions pass gradcheck") {
  check_gradients([](const std::vector<Tensor>& x) { return combine_product(x[0], x[1], x[2]); },
                  {random_tensor({3, 4}, 1), random_tensor({5, 4}, 2), random_tensor({1}, 3)}, "combine_product");
  check_gradients([](const std::vector<Tensor>& x) { return combine_aligned(x[0], x[1], x[2]); },
                  {random_tensor({3, 4}, 4), random_tensor({3, 4}, 5), random_tensor({1}, 6)}, "combine_aligned");
  check_gradients([](const std::vector<Tensor>& x) { return combine_aligned(x[0], x[1]); },
                  {random_tensor({2, 3}, 7), random_tensor({2, 4, 3}, 8)}, "combine_aligned with points");
}

// ---- the fused dense layer ----

TEST_CASE("dense matches linear then activation") {
  const Tensor x = random_tensor({7, 5}, 1, -2.0, 2.0);
  const Tensor w = random_tensor({3, 5}, 2);
  const Tensor b = random_tensor({3}, 3);
  for (const nn::Activation activation : {nn::Activation::identity, nn::Activation::relu, nn::Activation::tanh,
                                          nn::Activation::sigmoid, nn::Activation::gelu, nn::Activation::selu}) {
    CAPTURE(nn::activation_name(activation));
    const Tensor expected = nn::activate(linear(x, w, b), activation);
    CHECK(max_abs_difference(dense(x, w, b, activation), expected) < 1e-14);
    CHECK(max_abs_difference(dense(x, w, Tensor(), activation), nn::activate(linear(x, w), activation)) < 1e-14);
  }
  // Leading axes are kept: [2, 7, 5] -> [2, 7, 3].
  CHECK(dense(random_tensor({2, 7, 5}, 4), w, b, nn::Activation::relu).shape() == Shape{2, 7, 3});
  // float32 takes the same path.
  const Tensor y32 = dense(x.to(DType::f32), w.to(DType::f32), b.to(DType::f32), nn::Activation::tanh);
  CHECK_CLOSE(y32.at({4, 2}), nn::activate(linear(x, w, b), nn::Activation::tanh).at({4, 2}), kF32Tight);
}

TEST_CASE("dense passes gradcheck for every activation") {
  for (const nn::Activation activation : {nn::Activation::identity, nn::Activation::relu, nn::Activation::tanh,
                                          nn::Activation::sigmoid, nn::Activation::gelu}) {
    CAPTURE(nn::activation_name(activation));
    // The inputs keep the pre-activations away from the relu kink by much more than the step.
    check_gradients([activation](const std::vector<Tensor>& x) { return dense(x[0], x[1], x[2], activation); },
                    {random_tensor({4, 3}, 11), random_tensor({2, 3}, 12), random_tensor({2}, 13)},
                    nn::activation_name(activation));
  }
  check_gradients([](const std::vector<Tensor>& x) { return dense(x[0], x[1], Tensor(), nn::Activation::tanh); },
                  {random_tensor({2, 3, 3}, 14), random_tensor({2, 3}, 15)}, "dense without bias, rank 3");
}

TEST_CASE("dense and product agree across thread counts") {
  // Large enough for two threads (see product_threads): the row blocks and the partial
  // sums of the weight gradient must give the unfused, single-threaded result.
  const Tensor x = random_tensor({300, 60}, 31);
  const Tensor w = random_tensor({50, 60}, 32);
  const Tensor b = random_tensor({50}, 33);
  const Tensor trunk = random_tensor({200, 50}, 34);
  auto run = [&](int threads, bool fused) {
    const ThreadCountGuard guard(threads);
    std::vector<Tensor> leaves;
    for (const Tensor& t : {x, w, b, trunk}) {
      Tensor leaf = t.detach().clone();
      leaf.set_requires_grad(true);
      leaves.push_back(leaf);
    }
    const Tensor hidden = fused ? dense(leaves[0], leaves[1], leaves[2], nn::Activation::relu)
                                : relu(linear(leaves[0], leaves[1], leaves[2]));
    const Tensor out = fused ? combine_product(hidden, leaves[3]) : matmul(hidden, leaves[3], false, true);
    sum(square(out)).backward();
    std::vector<Tensor> results = {out};
    for (const Tensor& leaf : leaves) results.push_back(leaf.grad());
    return results;
  };
  const std::vector<Tensor> reference = run(1, /*fused=*/false);
  for (const int threads : {1, 2}) {
    CAPTURE(threads);
    const std::vector<Tensor> fused = run(threads, /*fused=*/true);
    for (std::size_t i = 0; i < reference.size(); ++i) {
      CAPTURE(i);
      const auto expected = reference[i].to_vector();
      double scale = 0.0;
      for (const double v : expected) scale = std::max(scale, std::abs(v));
      CHECK(max_abs_difference(fused[i], reference[i]) <= 1e-12 * std::max(1.0, scale));
    }
  }
}

TEST_CASE("dense rejects mismatched shapes") {
  try {
    dense(Tensor::zeros({4, 3}), Tensor::zeros({2, 5}), Tensor(), nn::Activation::relu);
    FAIL("mismatched input width did not throw");
  } catch (const ShapeError& error) {
    CHECK(contains(error.what(), "[4, 3]"));
    CHECK(contains(error.what(), "[2, 5]"));
  }
  CHECK_THROWS_AS(dense(Tensor::zeros({4, 3}), Tensor::zeros({2, 3}), Tensor::zeros({3}), nn::Activation::relu),
                  ShapeError);
  CHECK_THROWS_AS(dense(Tensor::zeros({4, 3}, DType::f64), Tensor::zeros({2, 3}), Tensor(), nn::Activation::relu),
                  ShapeError);
}

TEST_CASE("activation derivative matches finite differences") {
  const Tensor z = random_tensor({9}, 21, -2.0, 2.0);
  const double h = 1e-6;
  for (const nn::Activation activation : {nn::Activation::identity, nn::Activation::relu, nn::Activation::tanh,
                                          nn::Activation::sigmoid, nn::Activation::gelu, nn::Activation::selu}) {
    CAPTURE(nn::activation_name(activation));
    const auto plus = nn::activate(z + h, activation).to_vector();
    const auto minus = nn::activate(z - h, activation).to_vector();
    const auto derivative = activation_derivative(z, activation).to_vector();
    for (std::size_t i = 0; i < derivative.size(); ++i)
      CHECK_CLOSE(derivative[i], (plus[i] - minus[i]) / (2 * h), (testing::Tolerance{1e-8, 1e-8}));
  }
}

// ---- networks, widths and variants ----

TEST_CASE("deeponet width check uses the actual output widths") {
  try {
    DeepOnet(dense_net({10, 128}, 1), dense_net({2, 100}, 2));
    FAIL("branch width 128 with trunk width 100 did not throw");
  } catch (const ShapeError& error) {
    CHECK(contains(error.what(), "128"));
    CHECK(contains(error.what(), "100"));
  }
  // Different depths are fine when the last widths agree.
  const DeepOnet model(dense_net({10, 64, 128}, 3), dense_net({2, 128, 128, 128, 128}, 4));
  CHECK(model.latent_width() == 128);
  CHECK(model.forward_product(random_tensor({2, 10}, 5), random_tensor({3, 2}, 6)).shape() == Shape{2, 3});
}

TEST_CASE("deeponet branch can be any module") {
  // An nn::Mlp from lib/nn.
  Rng rng(5);
  auto mlp = std::make_shared<nn::Mlp>(std::vector<std::int64_t>{8, 12, 6}, nn::Activation::tanh, rng,
                                       nn::Activation::identity, DType::f64);
  const DeepOnet with_mlp(wrap_module(mlp, {8}, "nn::Mlp [8, 12, 6]"), dense_net({1, 6}, 6));
  CHECK(with_mlp.forward_product(random_tensor({3, 8}, 7), random_tensor({4, 1}, 8)).shape() == Shape{3, 4});

  // An FNO over the sensor grid [1, 16] -> [1, 16], flattened to 16 features.
  fno::FnoConfig config;
  config.width = 4;
  config.modes = {3};
  config.layers = 1;
  config.projection_width = 4;
  config.dtype = DType::f64;
  auto fno_net = std::make_shared<fno::Fno>(config);
  DeepOnet with_fno(wrap_module(fno_net, {1, 16}, "FNO 1D"), dense_net({1, 16}, 9));
  CHECK(with_fno.latent_width() == 16);
  const Tensor out = with_fno.forward_product(random_tensor({2, 1, 16}, 10), random_tensor({5, 1}, 11));
  CHECK(out.shape() == Shape{2, 5});
  sum(out).backward();
  for (const auto& [name, parameter] : with_fno.named_parameters()) {
    CAPTURE(name);
    CHECK(parameter.grad().defined());
  }
  // The module's parameters are part of the DeepONet's.
  CHECK(with_fno.parameter_count() == fno_net->parameter_count() + with_fno.trunk().parameter_count() + 1);
}

TEST_CASE("deeponet branch can be a convolutional net") {
  // Sensors on an 8 x 8 grid; a 3 x 3 convolution with stride 2 gives 4 channels of 3 x 3 = 36 features.
  Rng rng(12);
  auto conv = std::make_shared<nn::Conv2d>(1, 4, 3, Conv2dOptions{.stride = 2}, rng, true, DType::f64);
  const Tensor u = random_tensor({3, 1, 8, 8}, 13);
  const Tensor y = random_tensor({5, 2}, 14);
  DeepOnet model(wrap_module(conv, {1, 8, 8}, "conv 3x3 stride 2"), dense_net({2, 36}, 15));
  CHECK(model.latent_width() == 36);
  const Tensor out = model.forward_product(u, y);
  CHECK(out.shape() == Shape{3, 5});
  sum(out).backward();
  CHECK(conv->weight.grad().defined());

  // A trunk of another width is rejected with both widths in the message.
  try {
    DeepOnet(wrap_module(conv, {1, 8, 8}, "conv 3x3 stride 2"), dense_net({2, 30}, 16));
    FAIL("conv branch width 36 with trunk width 30 did not throw");
  } catch (const ShapeError& error) {
    CHECK(contains(error.what(), "36"));
    CHECK(contains(error.what(), "30"));
  }
}

TEST_CASE("deeponet forward passes gradcheck") {
  DeepOnetOptions options;
  const DeepOnet model = small_model(5, 2, 3, options);
  check_gradients([&](const std::vector<Tensor>& x) { return model.forward_product(x[0], x[1]); },
                  {random_tensor({2, 5}, 1), random_tensor({3, 2}, 2)}, "forward_product");
  check_gradients([&](const std::vector<Tensor>& x) { return model.forward_aligned(x[0], x[1]); },
                  {random_tensor({2, 5}, 3), random_tensor({2, 3, 2}, 4)}, "forward_aligned");
}

TEST_CASE("deeponet aligned agrees with product for every variant") {
  struct Case {
    const char* name;
    DeepOnetOptions options;
  };
  std::vector<Case> cases = {{"one output", {}}};
  DeepOnetOptions split_trunk;
  split_trunk.outputs = 3;
  split_trunk.multi_output = MultiOutput::split_trunk;
  cases.push_back({"split trunk", split_trunk});
  DeepOnetOptions split_branch = split_trunk;
  split_branch.multi_output = MultiOutput::split_branch;
  cases.push_back({"split branch", split_branch});
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const DeepOnet model = small_model(6, 2, 4, c.options);
    const Tensor u = random_tensor({3, 6}, 1);
    const Tensor y = random_tensor({5, 2}, 2);
    const Tensor product = model.forward_product(u, y);
    // Every function paired with every point, listed per function: [3, 5, 2].
    const Tensor y_per_function = broadcast_to(reshape(y, {1, 5, 2}), {3, 5, 2});
    const Tensor aligned = model.forward_aligned(u, y_per_function);
    CHECK(aligned.shape() == product.shape());
    CHECK(max_abs_difference(aligned, product) < 1e-14);
  }
}

TEST_CASE("deeponet multiple outputs split the features") {
  DeepOnetOptions options;
  options.outputs = 2;
  for (const MultiOutput strategy : {MultiOutput::split_trunk, MultiOutput::split_branch}) {
    CAPTURE(multi_output_name(strategy));
    options.multi_output = strategy;
    DeepOnet model = small_model(4, 1, 3, options);
    model.bias.copy_(Tensor::from_vector(std::vector<double>{0.5, -0.25}, {2}, DType::f64));
    const Tensor u = random_tensor({2, 4}, 3);
    const Tensor y = random_tensor({5, 1}, 4);
    const Tensor out = model.forward_product(u, y);
    REQUIRE(out.shape() == Shape{2, 5, 2});
    const Tensor br = model.branch_features(u);
    const Tensor tr = model.trunk_features(y);
    for (std::int64_t b = 0; b < 2; ++b) {
      for (std::int64_t i = 0; i < 5; ++i) {
        for (std::int64_t j = 0; j < 2; ++j) {
          double expected = model.bias.at({j});
          for (std::int64_t k = 0; k < 3; ++k) {
            expected += strategy == MultiOutput::split_trunk ? br.at({b, k}) * tr.at({i, j * 3 + k})
                                                             : br.at({b, j * 3 + k}) * tr.at({i, k});
          }
          CHECK_CLOSE(out.at({b, i, j}), expected, kF64Tight);
        }
      }
    }
    // One point per function: [B, d] -> [B, c].
    CHECK(model.forward_aligned(u, random_tensor({2, 1}, 5)).shape() == Shape{2, 2});
  }
  // The width rule names both widths: split_trunk with 2 outputs needs trunk = 2 x branch.
  DeepOnetOptions wrong;
  wrong.outputs = 2;
  try {
    DeepOnet(dense_net({4, 3}, 1), dense_net({1, 5}, 2), wrong);
    FAIL("trunk width 5 for 2 x 3 did not throw");
  } catch (const ShapeError& error) {
    CHECK(contains(error.what(), "3 features"));
    CHECK(contains(error.what(), "trunk net 5"));
  }
}

TEST_CASE("stacked deeponet has one net per feature") {
  Rng rng(1);
  auto stacked = std::make_shared<StackedDenseNet>(6, std::vector<std::int64_t>{5}, 4, nn::Activation::tanh, rng,
                                                   Initializer::glorot_normal, DType::f64);
  // 4 nets [6, 5, 1]: (6 * 5 + 5) + (5 + 1) parameters each.
  CHECK(stacked->parameter_count() == 4 * ((6 * 5 + 5) + (5 + 1)));
  const DeepOnet model(stacked, dense_net({1, 4}, 2));
  check_gradients([&](const std::vector<Tensor>& in) { return model.forward_product(in[0], in[1]); },
                  {random_tensor({2, 6}, 5), random_tensor({3, 1}, 6)}, "stacked forward_product");
  const Tensor u = random_tensor({3, 6}, 3);
  CHECK(model.forward_product(u, random_tensor({2, 1}, 4)).shape() == Shape{3, 2});
  // Feature k depends only on net k: perturbing net 2's output bias changes column 2 only.
  const Tensor before = stacked->forward(u);
  const auto named = stacked->named_parameters();
  for (const auto& [name, parameter] : named) {
    if (name == "nets.2.layers.1.bias") {
      Tensor p = parameter;
      p.copy_(p + 1.0);
    }
  }
  const Tensor after = stacked->forward(u);
  for (std::int64_t b = 0; b < 3; ++b) {
    for (std::int64_t k = 0; k < 4; ++k) {
      if (k == 2) CHECK_CLOSE(after.at({b, k}), before.at({b, k}) + 1.0, kF64Tight);
      else CHECK(after.at({b, k}) == before.at({b, k}));
    }
  }
}

// ---- trunk features and the query domain ----

TEST_CASE("fourier features make the output periodic") {
  DeepOnetOptions options;
  options.fourier_modes = 3;
  options.fourier_period = 2.0;
  options.domain = {{0.0}, {2.0}};
  const DeepOnet model = small_model(5, 1, 4, options);
  CHECK(model.query_dims() == 1);
  const Tensor u = random_tensor({2, 5}, 1);
  const Tensor y = random_tensor({6, 1}, 2, 0.0, 2.0);
  const Tensor base = model.forward_product(u, y);
  // Shifts by whole periods, including far outside the recorded domain.
  for (const double shift : {2.0, -2.0, 10.0}) {
    CAPTURE(shift);
    CHECK(max_abs_difference(model.forward_product(u, y + shift), base) < 1e-12);
  }
  // Half a period is not a symmetry of these features.
  CHECK(max_abs_difference(model.forward_product(u, y + 1.0), base) > 1e-3);
}

TEST_CASE("fourier features values and gradients") {
  const Tensor y = Tensor::from_vector(std::vector<double>{0.25, 0.1}, {1, 2}, DType::f64);
  const Tensor features = fourier_features(y, 2, 1.0);
  REQUIRE(features.shape() == Shape{1, 8});
  // Coordinate 0: cos(2 pi k 0.25), k = 1, 2, then sin(2 pi k 0.25).
  const std::vector<double> expected = {std::cos(0.5 * std::numbers::pi), std::cos(std::numbers::pi),
                                        std::sin(0.5 * std::numbers::pi), std::sin(std::numbers::pi)};
  for (std::size_t i = 0; i < expected.size(); ++i)
    CHECK_CLOSE(features.at({0, static_cast<std::int64_t>(i)}), expected[i], kF64Tight);
  CHECK_CLOSE(features.at({0, 4}), std::cos(0.2 * std::numbers::pi), kF64Tight);
  check_gradients([](const std::vector<Tensor>& x) { return fourier_features(x[0], 3, 1.5); },
                  {random_tensor({4, 2}, 9)}, "fourier_features");
  CHECK_THROWS_AS(fourier_features(y, 0, 1.0), ValueError);
  CHECK_THROWS_AS(fourier_features(y, 2, 0.0), ValueError);
}

TEST_CASE("deeponet rejects queries outside the domain") {
  DeepOnetOptions options;
  options.domain = {{0.0, -1.0}, {1.0, 1.0}};
  const DeepOnet model = small_model(4, 2, 3, options);
  const Tensor u = random_tensor({2, 4}, 1);
  CHECK(model.forward_product(u, Tensor::from_vector(std::vector<double>{0.0, -1.0, 1.0, 1.0}, {2, 2}, DType::f64))
            .shape() == Shape{2, 2});
  const Tensor outside = Tensor::from_vector(std::vector<double>{0.5, 0.0, 1.5, 0.2}, {2, 2}, DType::f64);
  try {
    model.forward_product(u, outside);
    FAIL("a query at x = 1.5 outside [0, 1] did not throw");
  } catch (const ValueError& error) {
    CHECK(contains(error.what(), "query point 1"));
    CHECK(contains(error.what(), "1.5"));
    CHECK(contains(error.what(), "outside the training domain [0, 1]"));
  }
  CHECK_THROWS_AS(model.forward_aligned(u, reshape(outside, {2, 1, 2})), ValueError);

  DeepOnetOptions extrapolating = options;
  extrapolating.extrapolate = true;
  CHECK(small_model(4, 2, 3, extrapolating).forward_product(u, outside).shape() == Shape{2, 2});
  // Without a recorded domain nothing is checked.
  CHECK(small_model(4, 2, 3).forward_product(u, outside).shape() == Shape{2, 2});
  // Invalid domains are rejected.
  DeepOnet unbounded = small_model(4, 2, 3);
  CHECK_THROWS_AS(unbounded.set_domain({{0.0}, {1.0}}), ValueError);
  CHECK_THROWS_AS(unbounded.set_domain({{0.0, 1.0}, {1.0, 1.0}}), ValueError);
}

TEST_CASE("deeponet rejects empty data and mismatched sensors") {
  const DeepOnet model = small_model(100, 1, 3);
  try {
    model.forward_product(random_tensor({2, 50}, 1), random_tensor({4, 1}, 2));
    FAIL("50 sensors for a 100-sensor model did not throw");
  } catch (const ShapeError& error) {
    CHECK(contains(error.what(), "50 sensor values"));
    CHECK(contains(error.what(), "built for 100"));
  }
  try {
    model.forward_product(Tensor::zeros({0, 100}, DType::f64), random_tensor({4, 1}, 2));
    FAIL("an empty branch input did not throw");
  } catch (const ValueError& error) {
    CHECK(contains(error.what(), "no functions"));
  }
  CHECK_THROWS_AS(model.forward_product(random_tensor({2, 100}, 1), Tensor::zeros({0, 1}, DType::f64)), ValueError);
  CHECK_THROWS_AS(model.forward_product(random_tensor({2, 100}, 1), random_tensor({4, 3}, 2)), ShapeError);
}

// ---- POD-DeepONet ----

TEST_CASE("pod basis recovers a low-rank output set") {
  // Y[n, i] = mean(x_i) + sum_k a_nk g_k(x_i) with 3 independent shapes: rank 3 after centring.
  const std::int64_t samples = 12, points = 20;
  std::vector<double> values;
  Rng rng(4);
  for (std::int64_t n = 0; n < samples; ++n) {
    const double a0 = rng.normal(), a1 = rng.normal(), a2 = rng.normal();
    for (std::int64_t i = 0; i < points; ++i) {
      const double x = static_cast<double>(i) / points;
      values.push_back(1.0 + x + a0 * std::sin(2 * std::numbers::pi * x) + a1 * x * x + 0.5 * a2 * std::cos(x));
    }
  }
  const Tensor outputs = Tensor::from_vector(values, {samples, points}, DType::f64);
  const PodBasis basis = compute_pod_basis(outputs, 3, DType::f64);
  REQUIRE(basis.modes.shape() == Shape{points, 3});
  CHECK_CLOSE(basis.captured_variance, 1.0, kF64Loose);
  CHECK(basis.singular_values.size() == static_cast<std::size_t>(std::min(samples, points)));
  CHECK(basis.singular_values[3] < 1e-10 * basis.singular_values[0]);
  // Modes scaled by sqrt(P) are orthogonal with squared norm P.
  const Tensor gram = matmul(basis.modes, basis.modes, /*transpose_a=*/true, false);
  for (std::int64_t j = 0; j < 3; ++j)
    for (std::int64_t k = 0; k < 3; ++k) CHECK_CLOSE(gram.at({j, k}), j == k ? double(points) : 0.0, kF64Loose);
  // Projecting the centred outputs on the modes and back reproduces them.
  const Tensor centred = outputs - basis.mean;
  const Tensor coefficients = matmul(centred, basis.modes) / static_cast<double>(points);
  CHECK(max_abs_difference(matmul(coefficients, basis.modes, false, true), centred) < 1e-10);

  CHECK_THROWS_AS(compute_pod_basis(outputs, 13, DType::f64), ValueError);
  CHECK_THROWS_AS(compute_pod_basis(slice(outputs, 0, 0, 1), 1, DType::f64), DataError);
}

TEST_CASE("pod deeponet adds the mean to the mode expansion") {
  const Tensor outputs = random_tensor({8, 6, 2}, 1);
  const PodBasis basis = compute_pod_basis(outputs, 4, DType::f64);
  auto branch = dense_net({5, 7, 4}, 2);
  PodDeepOnet model(branch, basis, {6, 2});
  const Tensor u = random_tensor({3, 5}, 3);
  const Tensor out = model.forward(u);
  REQUIRE(out.shape() == Shape{3, 6, 2});
  const Tensor expected = reshape(add(matmul(branch->forward(u), basis.modes, false, true), basis.mean), {3, 6, 2});
  CHECK(max_abs_difference(out, expected) < 1e-14);
  // Only the branch trains; the basis has no gradient.
  CHECK(model.trainable_parameters().size() == branch->parameters().size());
  sum(out).backward();
  CHECK_FALSE(model.pod_modes.grad().defined());
  CHECK(branch->weights[0].grad().defined());
  check_gradients([&](const std::vector<Tensor>& x) { return model.forward(x[0]); }, {random_tensor({2, 5}, 4)},
                  "pod forward");
  try {
    PodDeepOnet(dense_net({5, 3}, 5), basis, {6, 2});
    FAIL("3 branch features for 4 modes did not throw");
  } catch (const ShapeError& error) {
    CHECK(contains(error.what(), "3 features"));
    CHECK(contains(error.what(), "4 modes"));
  }
}

// ---- serialisation ----

TEST_CASE("deeponet description round trip and checkpoint") {
  DeepOnetConfig config;
  config.branch_widths = {6, 8, 4};
  config.trunk_widths = {1, 8, 4};
  config.activation = nn::Activation::tanh;
  config.outputs = 2;
  config.multi_output = MultiOutput::split_branch;
  config.domain = {{0.0}, {1.0}};
  config.dtype = DType::f64;
  config.seed = 9;
  const DeepOnetConfig parsed = DeepOnetConfig::from_json(config.to_json());
  CHECK(parsed.to_json() == config.to_json());
  CHECK(is_deeponet_description(config.to_json()));
  CHECK_FALSE(is_deeponet_description("{\"model\": \"fno\"}"));
  CHECK_FALSE(is_deeponet_description("not json"));

  const DeepOnetModel a(config), b(parsed);
  const Tensor u = random_tensor({2, 6}, 1);
  const Tensor y = random_tensor({3, 1}, 2, 0.0, 1.0);
  CHECK(max_abs_difference(a.forward(u, y, Form::cartesian_product), b.forward(u, y, Form::cartesian_product)) == 0.0);

  // A POD model stores its basis in the checkpoint.
  DeepOnetConfig pod = config;
  pod.variant = Variant::pod;
  pod.outputs = 1;
  pod.pod_output_shape = {5};
  const PodBasis basis = compute_pod_basis(random_tensor({7, 5}, 3), 4, DType::f64);
  const DeepOnetModel trained(pod, &basis);
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / fmt::format("neurop-deeponet-test-{}.h5", ::getpid());
  save_checkpoint(file, trained.module(), nullptr, {.epoch = 1, .model = pod.to_json(), .metadata = {}});
  const DeepOnetModel restored(DeepOnetConfig::from_json(read_checkpoint_info(file).model));
  load_checkpoint(file, restored.module(), nullptr);
  std::filesystem::remove(file);
  const Tensor points = random_tensor({5, 1}, 4);
  CHECK(max_abs_difference(restored.forward(u, points, Form::cartesian_product),
                           trained.forward(u, points, Form::cartesian_product)) == 0.0);
  CHECK_THROWS_AS(trained.forward(u, points, Form::aligned), ValueError);
  CHECK_THROWS_AS(trained.forward(u, random_tensor({4, 1}, 5), Form::cartesian_product), ShapeError);

  DeepOnetConfig invalid = config;
  invalid.branch_widths = {6};
  CHECK_THROWS_AS(invalid.validate(), ValueError);
  CHECK_THROWS_AS(DeepOnetConfig::from_json("{\"model\": \"deeponet\"}"), ValueError);
}

// ---- physics-informed training ----

TEST_CASE("output gradient matches finite differences") {
  const DeepOnet model = small_model(4, 1, 5);
  const Tensor u = random_tensor({2, 4}, 1);
  const Tensor x = random_tensor({2, 3, 1}, 2);
  const OutputAndGradient s = output_and_gradient(model, u, x, Form::aligned);
  REQUIRE(s.gradient.shape() == Shape{2, 3, 1});
  const double h = 1e-6;
  const Tensor plus = model.forward_aligned(u, x + h), minus = model.forward_aligned(u, x - h);
  for (std::int64_t b = 0; b < 2; ++b)
    for (std::int64_t i = 0; i < 3; ++i)
      CHECK_CLOSE(s.gradient.at({b, i, 0}), (plus.at({b, i}) - minus.at({b, i})) / (2 * h),
                  (testing::Tolerance{1e-8, 1e-7}));
  // ds/dy as a function of y and u passes both checks (second and third derivatives).
  check_gradients(
      [&](const std::vector<Tensor>& in) { return output_and_gradient(model, in[0], in[1], Form::aligned).gradient; },
      {random_tensor({2, 4}, 3), random_tensor({2, 2, 1}, 4)}, "aligned output_and_gradient");
}

TEST_CASE("product output gradient equals the aligned one") {
  // Two query dimensions and p = 3, so the Jacobian copies and the selector are exercised.
  const DeepOnet model = small_model(4, 2, 3);
  const Tensor u = random_tensor({3, 4}, 5);
  const Tensor y = random_tensor({5, 2}, 6);
  const OutputAndGradient product = output_and_gradient(model, u, y, Form::cartesian_product);
  const Tensor y_per_function = broadcast_to(reshape(y, {1, 5, 2}), {3, 5, 2});
  const OutputAndGradient aligned = output_and_gradient(model, u, y_per_function, Form::aligned);
  REQUIRE(product.value.shape() == Shape{3, 5});
  REQUIRE(product.gradient.shape() == Shape{3, 5, 2});
  CHECK(max_abs_difference(product.value, aligned.value) < 1e-14);
  CHECK(max_abs_difference(product.gradient, aligned.gradient) < 1e-13);
  check_gradients(
      [&](const std::vector<Tensor>& in) {
        return output_and_gradient(model, in[0], in[1], Form::cartesian_product).gradient;
      },
      {random_tensor({2, 4}, 7), random_tensor({3, 2}, 8)}, "product output_and_gradient");
  CHECK_THROWS_AS(output_and_gradient(model, u, y_per_function, Form::cartesian_product), ShapeError);
  DeepOnetOptions two_outputs;
  two_outputs.outputs = 2;
  CHECK_THROWS_AS(output_and_gradient(small_model(4, 2, 3, two_outputs), u, y, Form::cartesian_product), ValueError);
}

TEST_CASE("physics loss gradient reaches the parameters") {
  // d/dW of the residual loss needs the second derivative d^2 s / (dW dx).
  const Tensor w0 = random_tensor({6, 1}, 5);
  const Tensor u = random_tensor({2, 3}, 6);
  const Tensor x = random_tensor({2, 4, 1}, 7, 0.0, 1.0);
  const Tensor u_at_x = random_tensor({2, 4}, 8);
  auto loss_of_weight = [&](const std::vector<Tensor>& in) {
    auto trunk = dense_net({1, 6, 5}, 9, nn::Activation::tanh, nn::Activation::tanh);
    trunk->weights[0] = in[0];
    // The replaced tensor is the one the DenseNet uses in forward().
    const DeepOnet model(dense_net({3, 5}, 10), trunk);
    return ode_residual_loss(model, Ode::nonlinear, u, x, u_at_x, 0.0, Form::aligned, 2.0).total;
  };
  const GradcheckResult result = gradcheck(loss_of_weight, {w0});
  CHECK_MESSAGE(result.passed, result.message());
}

TEST_CASE("physics-informed training learns the antiderivative without solution data") {
  // One thread: the products here are small enough that OpenMP start-up costs more than
  // it saves, and on a loaded machine much more (12 s instead of 0.5 s measured).
  const ThreadCountGuard one_thread(1);
  // Input functions from a Gaussian random field; the RK4 solutions serve only to test.
  data::GaussianRandomField field({.length = 1.0, .length_scale = 0.4, .variance = 1.0, .grid_points = 101});
  const std::int64_t functions = 12, sensors = 21;
  const data::PointDataset set = data::generate_antiderivative_data(
      field, functions, 5, {.sensor_count = sensors, .query_count = sensors, .steps = 100});
  const Tensor u = Tensor::from_vector(set.branch_inputs, {functions, sensors});
  // The sensors serve as collocation points, shared by all functions.
  const Tensor x = Tensor::from_vector(set.sensors, {sensors, 1});
  const Tensor truth = Tensor::from_vector(set.outputs, {functions, sensors});

  Rng rng(1);
  auto branch = std::make_shared<DenseNet>(std::vector<std::int64_t>{sensors, 24, 24}, nn::Activation::tanh, rng);
  auto trunk = std::make_shared<DenseNet>(std::vector<std::int64_t>{1, 24, 24}, nn::Activation::tanh, rng,
                                          nn::Activation::tanh);
  DeepOnet model(branch, trunk, {.domain = {{0.0}, {1.0}}});
  auto relative_error = [&] {
    NoGradGuard no_grad;
    const Tensor prediction = model.forward_product(u, x);
    return std::sqrt(sum(square(prediction - truth)).item() / sum(square(truth)).item());
  };
  const double initial_error = relative_error();
  optim::Adam adam(model.parameters(), {.learning_rate = 3e-3});
  double last_loss = 0.0;
  for (int step = 0; step < 800; ++step) {
    adam.zero_grad();
    const PhysicsLossTerms loss = ode_residual_loss(model, Ode::antiderivative, u, x, u, 0.0, Form::cartesian_product);
    loss.total.backward();
    adam.step();
    last_loss = loss.total.item();
  }
  const double final_error = relative_error();
  MESSAGE("physics-informed antiderivative: relative L2 error ", initial_error, " -> ", final_error,
          ", final loss ", last_loss);
  CHECK(final_error < 0.2 * initial_error);
  CHECK(final_error < 0.05);
}
