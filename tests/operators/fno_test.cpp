#include <cmath>

#include <doctest/doctest.h>

#include "datasets/burgers.hpp"
#include "lib/autodiff/gradcheck.hpp"
#include "lib/autodiff/graph.hpp"
#include "lib/core/threads.hpp"
#include "lib/nn/loss.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/optim/schedule.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/train/trainer.hpp"
#include "operators/fno/fno.hpp"
#include "tests/support/check.hpp"
#include "tests/support/tensors.hpp"

using namespace neurop;
using neurop::testing::random_tensor;
using neurop::testing::max_abs_difference;

namespace {

fno::FnoConfig small_config(int dims, DType dtype = DType::f64) {
  fno::FnoConfig config;
  config.width = 6;
  config.modes.assign(static_cast<std::size_t>(dims), 3);
  config.layers = 2;
  config.projection_width = 8;
  config.dtype = dtype;
  config.seed = 11;
  return config;
}

}  // namespace

TEST_CASE("fno default is the Burgers configuration") {
  const fno::Fno model(fno::FnoConfig{});
  // lifting 2->64, 4 x (spectral 64x64x16 complex + pointwise 64x64 + 64), projection 64->128->1.
  const std::int64_t expected = (2 * 64 + 64) + 4 * (64 * 64 * 16 * 2 + 64 * 64 + 64) + (64 * 128 + 128) + (128 + 1);
  CHECK(model.parameter_count() == expected);
  CHECK(model.forward(Tensor::zeros({2, 1, 64})).shape() == Shape{2, 1, 64});
}

TEST_CASE("fno keeps batch of one and matches batched rows") {
  const fno::Fno model(small_config(2));
  const Tensor batch = random_tensor({4, 1, 16, 16}, 1);
  const Tensor single = slice(batch, 0, 0, 1);
  const Tensor single_out = model.forward(single);
  CHECK(single_out.shape() == Shape{1, 1, 16, 16});
  CHECK(max_abs_difference(slice(model.forward(batch), 0, 0, 1), single_out) < 1e-12);
}

TEST_CASE("fno rejects channels-last and wrong channel counts") {
  const fno::Fno model(small_config(2));
  try {
    model.forward(random_tensor({1, 1024, 2}, 2));
    FAIL("a rank-3 input to a 2D FNO did not throw");
  } catch (const ShapeError& error) {
    const std::string message = error.what();
    CHECK(message.find("rank 4") != std::string::npos);
    CHECK(message.find("[1, 1024, 2]") != std::string::npos);
  }
  try {
    model.forward(random_tensor({1, 3, 8, 8}, 3));
    FAIL("3 data channels for a 1-channel FNO did not throw");
  } catch (const ShapeError& error) {
    const std::string message = error.what();
    CHECK(message.find("3 channels") != std::string::npos);
    CHECK(message.find("plus 2 grid channels") != std::string::npos);
  }
  CHECK_THROWS_AS(model.forward(random_tensor({1, 1, 8, 8}, 4, DType::f32)), ShapeError);
}

TEST_CASE("fno with grid embedding lifts data plus grid channels") {
  fno::FnoConfig config = small_config(2);
  config.in_channels = 3;
  const fno::Fno model(config);
  const auto params = model.named_parameters();
  CHECK(params.front().first == "lifting.weight");
  CHECK(params.front().second.shape() == Shape{6, 5});
  CHECK(model.forward(random_tensor({2, 3, 8, 8}, 5)).shape() == Shape{2, 1, 8, 8});
}

TEST_CASE("fno is seeded") {
  const fno::Fno a(small_config(1)), b(small_config(1));
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].second.to_vector() == pb[i].second.to_vector());
}

TEST_CASE("fno evaluates at other resolutions and with padding") {
  fno::FnoConfig config = small_config(1);
  config.padding_fraction = 0.25;
  const fno::Fno model(config);
  for (std::int64_t n : {5, 8, 33, 64}) {
    INFO("grid ", n);
    CHECK(model.forward(random_tensor({2, 1, n}, 6)).shape() == Shape{2, 1, n});
  }
  // A smooth input sampled at two resolutions gives nearly the same output. Not exactly:
  // GELU creates frequencies above the kept modes, which alias differently on the two
  // grids (observed difference 2.3e-5 for this model).
  auto sampled = [](std::int64_t n) {
    std::vector<double> values;
    for (std::int64_t j = 0; j < n; ++j) values.push_back(std::sin(2 * 3.14159265358979 * static_cast<double>(j) / n));
    return Tensor::from_vector(values, {1, 1, n}, DType::f64);
  };
  fno::FnoConfig periodic = small_config(1);
  const fno::Fno smooth_model(periodic);
  const Tensor coarse = smooth_model.forward(sampled(64));
  const Tensor fine = smooth_model.forward(sampled(128));
  CHECK(max_abs_difference(coarse, slice(fine, 2, 0, 128, 2)) < 1e-3);
}

TEST_CASE("fno inference matches the recorded forward") {
  // Without recording, forward() folds the lifting into the first Fourier layer
  // (operators/fno/fno.hpp). With recording it evaluates layer by layer. The two differ
  // by rounding only.
  for (int dims : {1, 2, 3}) {
    for (std::int64_t channels : {1, 3}) {
      // 8 points keep all 3 modes on every axis. On 5 and 4 points the last axis still
      // keeps 3 and the other axes are clamped to 2. An odd extent has no Nyquist bin.
      for (std::int64_t n : {8, 5, 4}) {
        // With one layer, the folded layer is also the last one (no activation).
        for (std::int64_t layers : {2, 1}) {
          INFO("dims ", dims, ", input channels ", channels, ", grid ", n, ", layers ", layers);
          fno::FnoConfig config = small_config(dims);
          config.in_channels = channels;
          config.layers = layers;
          const fno::Fno model(config);
          Shape shape = {2, channels};
          shape.insert(shape.end(), static_cast<std::size_t>(dims), n);
          const Tensor x = random_tensor(shape, 20 + dims);

          const Tensor recorded = model.forward(x);
          NoGradGuard no_grad;
          CHECK(max_abs_difference(recorded, model.forward(x)) < 1e-12);
        }
      }
    }
  }

  // In float32, the Burgers configuration agrees to float rounding.
  fno::FnoConfig config;
  config.seed = 3;
  const fno::Fno model(config);
  const Tensor x = random_tensor({3, 1, 128}, 30, DType::f32);
  const Tensor recorded = model.forward(x);
  NoGradGuard no_grad;
  CHECK(max_abs_difference(recorded, model.forward(x)) < 1e-5);
}

TEST_CASE("gradcheck of a whole fno") {
  const fno::Fno model(small_config(1));
  const Tensor x = random_tensor({2, 1, 8}, 7);
  const GradcheckResult result = gradcheck(
      [&](const std::vector<Tensor>& v) { return model.forward(v[0]); }, {x});
  CHECK_MESSAGE(result.passed, result.message());
}

TEST_CASE("fno training on burgers data lowers the test error") {
  // 48 + 16 samples on 64 points, 30 epochs: the mean test relative L2 error must fall
  // below 0.2 (it starts near 1). A regression in any layer's gradient stalls it.
  data::BurgersConfig burgers;
  burgers.samples = 64;
  burgers.fine_resolution = 256;
  burgers.resolution = 64;
  burgers.seed = 3;
  const data::GridDataset dataset = data::generate_burgers(burgers);
  const Tensor inputs = Tensor::from_vector(dataset.inputs, dataset.input_shape, DType::f32);
  const Tensor outputs = Tensor::from_vector(dataset.outputs, dataset.output_shape, DType::f32);
  const Tensor train_x = slice(inputs, 0, 0, 48), train_y = slice(outputs, 0, 0, 48);
  const Tensor test_x = slice(inputs, 0, 48, 64), test_y = slice(outputs, 0, 48, 64);

  fno::FnoConfig config;
  config.width = 16;
  config.modes = {8};
  config.projection_width = 32;
  config.seed = 1;
  fno::Fno model(config);
  optim::Adam adam(model.parameters(), {.learning_rate = 3e-3});
  const optim::CosineSchedule schedule(3e-3, 30);
  const nn::Loss loss{nn::LossKind::relative_l2, nn::Reduction::sum};
  auto test_error = [&] {
    NoGradGuard no_grad;
    return mean(nn::relative_l2_per_sample(model.forward(test_x), test_y)).item();
  };
  const double before = test_error();
  const auto result = train::fit(
      model, adam, schedule, 48,
      [&](const std::vector<std::int64_t>& indices) {
        return loss(model.forward(index_select(train_x, 0, indices)), index_select(train_y, 0, indices));
      },
      {.epochs = 30, .batch_size = 8, .seed = 2});
  const double after = test_error();
  CHECK(result.status == train::TrainStatus::completed);
  CHECK(before > 0.5);
  CHECK(after < 0.2);
}

TEST_CASE("fno training repeats bit for bit with a fixed seed and thread count") {
  // Two runs with seed 5 on 2 threads must end with identical weights: OpenMP chunks and
  // partial sums depend only on the sizes and the thread count.
  const int previous_threads = num_threads();
  set_num_threads(2);
  const Tensor x = random_tensor({16, 1, 64}, 8, DType::f32);
  const Tensor y = random_tensor({16, 1, 64}, 9, DType::f32);
  auto train_once = [&] {
    fno::FnoConfig config;
    config.width = 16;
    config.modes = {8};
    config.seed = 5;
    fno::Fno model(config);
    optim::Adam adam(model.parameters(), {.learning_rate = 1e-3});
    const optim::ConstantSchedule schedule(1e-3);
    const nn::Loss loss{nn::LossKind::relative_l2, nn::Reduction::sum};
    train::fit(
        model, adam, schedule, 16,
        [&](const std::vector<std::int64_t>& indices) {
          return loss(model.forward(index_select(x, 0, indices)), index_select(y, 0, indices));
        },
        {.epochs = 2, .batch_size = 4, .seed = 5});
    std::vector<double> weights;
    for (const Tensor& p : model.parameters()) {
      const std::vector<double> values = p.to_vector();
      weights.insert(weights.end(), values.begin(), values.end());
    }
    return weights;
  };
  const std::vector<double> first = train_once();
  const std::vector<double> second = train_once();
  set_num_threads(previous_threads);
  CHECK(first == second);
}
