#include <cmath>
#include <filesystem>
#include <limits>
#include <unistd.h>

#include <doctest/doctest.h>

#include "lib/autodiff/graph.hpp"
#include "lib/io/checkpoint.hpp"
#include "lib/io/hdf5.hpp"
#include "lib/nn/layers.hpp"
#include "lib/nn/loss.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/optim/schedule.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/train/trainer.hpp"
#include "tests/support/check.hpp"

using namespace neurop;
using neurop::testing::kF64Tight;

namespace {

Tensor f64(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape, DType::f64);
}

Tensor leaf(const std::vector<double>& values, const Shape& shape) {
  Tensor t = f64(values, shape);
  t.set_requires_grad();
  return t;
}

std::filesystem::path scratch_file(const std::string& name) {
  const auto folder = std::filesystem::temp_directory_path() / fmt::format("neurop-nn-test-{}", ::getpid());
  std::filesystem::create_directories(folder);
  return folder / name;
}

class TwoLayer : public nn::Module {
public:
  explicit TwoLayer(Rng& rng, std::int64_t hidden = 8)
      : first(1, hidden, rng, true, DType::f64), second(hidden, 1, rng, true, DType::f64) {
    register_module("first", first);
    register_module("second", second);
  }
  Tensor forward(const Tensor& x) const { return second.forward(tanh(first.forward(x))); }
  nn::Linear first, second;
};

}  // namespace

TEST_CASE("adam treats a complex weight as two reals") {
  // w0 = 0, g = 3 + 4i, lr 0.1: each part moves by lr g / (|g| + eps) separately, so
  // w1 = -0.1 - 0.1i up to eps (the complex-magnitude convention gives -0.06 - 0.08i).
  Tensor w = leaf({0.0, 0.0}, {1, 2});
  optim::Adam adam({w}, {.learning_rate = 0.1});
  w.set_grad(f64({3.0, 4.0}, {1, 2}));
  adam.step();
  CHECK_CLOSE(w.at({0, 0}), -0.1 * 3.0 / (3.0 + 1e-8), kF64Tight);
  CHECK_CLOSE(w.at({0, 1}), -0.1 * 4.0 / (4.0 + 1e-8), kF64Tight);
}

TEST_CASE("adamw decays weights with a zero gradient") {
  // (1 + 1i)(1 - 0.1 * 0.01) = 0.999 + 0.999i.
  Tensor w = leaf({1.0, 1.0}, {1, 2});
  optim::AdamW adamw({w}, {.learning_rate = 0.1, .weight_decay = 0.01});
  w.set_grad(f64({0.0, 0.0}, {1, 2}));
  adamw.step();
  CHECK_CLOSE(w.at({0, 0}), 0.999, kF64Tight);
  CHECK_CLOSE(w.at({0, 1}), 0.999, kF64Tight);
}

TEST_CASE("complex weight as pairs or as split tensors gives one trajectory") {
  Tensor pairs = leaf({0.3, -0.2, 0.1, 0.5}, {2, 2});
  Tensor real = leaf({0.3, 0.1}, {2});
  Tensor imag = leaf({-0.2, 0.5}, {2});
  optim::AdamW a({pairs}, {.learning_rate = 0.05, .weight_decay = 0.01});
  optim::AdamW b({real, imag}, {.learning_rate = 0.05, .weight_decay = 0.01});
  for (int step = 0; step < 10; ++step) {
    // Gradient of sum(w^3): 3 w^2, the same function of each real number in both layouts.
    pairs.set_grad(3.0 * square(pairs.detach()));
    real.set_grad(3.0 * square(real.detach()));
    imag.set_grad(3.0 * square(imag.detach()));
    a.step();
    b.step();
  }
  CHECK_CLOSE(pairs.at({0, 0}), real.at({0}), kF64Tight);
  CHECK_CLOSE(pairs.at({1, 0}), real.at({1}), kF64Tight);
  CHECK_CLOSE(pairs.at({0, 1}), imag.at({0}), kF64Tight);
  CHECK_CLOSE(pairs.at({1, 1}), imag.at({1}), kF64Tight);
}

TEST_CASE("sgd with momentum follows the recurrence") {
  // b1 = g1, w1 = w0 - lr b1; b2 = mu b1 + g2, w2 = w1 - lr b2, with g = 2 w.
  Tensor w = leaf({1.0}, {1});
  optim::Sgd sgd({w}, {.learning_rate = 0.1, .momentum = 0.9});
  w.set_grad(f64({2.0}, {1}));
  sgd.step();
  CHECK_CLOSE(w.at({0}), 0.8, kF64Tight);
  w.set_grad(f64({1.6}, {1}));
  sgd.step();
  CHECK_CLOSE(w.at({0}), 0.8 - 0.1 * (0.9 * 2.0 + 1.6), kF64Tight);
}

TEST_CASE("learning-rate schedules") {
  const optim::StepSchedule step(1e-3, 50, 0.5);
  CHECK_CLOSE(step.rate(0), 1e-3, kF64Tight);
  CHECK_CLOSE(step.rate(49), 1e-3, kF64Tight);
  CHECK_CLOSE(step.rate(50), 5e-4, kF64Tight);
  CHECK_CLOSE(step.rate(499), 1e-3 * std::pow(0.5, 9), kF64Tight);
  const optim::CosineSchedule cosine(1.0, 10, 0.1);
  CHECK_CLOSE(cosine.rate(0), 1.0, kF64Tight);
  CHECK_CLOSE(cosine.rate(5), 0.55, kF64Tight);
  CHECK_CLOSE(cosine.rate(10), 0.1, kF64Tight);
  // One cycle: starts at max / 25, peaks at step 0.3 * 10 - 1 = 2, ends at max / 25e4.
  const optim::OneCycleSchedule cycle(1.0, 10);
  CHECK_CLOSE(cycle.rate(0), 0.04, kF64Tight);
  CHECK_CLOSE(cycle.rate(2), 1.0, kF64Tight);
  CHECK_CLOSE(cycle.rate(9), 0.04 / 1e4, kF64Tight);
  CHECK(cycle.rate(1) > 0.04);
  CHECK(cycle.rate(1) < 1.0);
  CHECK_THROWS_AS(optim::StepSchedule(1e-3, 0, 0.5), ValueError);
}

TEST_CASE("epoch metric is the per-sample mean for every batch size") {
  // pred = y (1 + e_i) gives relative errors e_i = 0.1, 0.2, ..., 1.0; mean 0.55.
  std::vector<double> target, prediction;
  for (int i = 0; i < 10; ++i) {
    const double e = 0.1 * (i + 1);
    for (double y : {1.0, -2.0, 0.5}) {
      target.push_back(y);
      prediction.push_back(y * (1 + e));
    }
  }
  const Tensor y = f64(target, {10, 3}), p = f64(prediction, {10, 3});
  for (nn::Reduction reduction : {nn::Reduction::sum, nn::Reduction::mean}) {
    const nn::Loss loss{nn::LossKind::relative_l2, reduction};
    for (std::int64_t batch : {1, 4, 10}) {
      double total = 0.0;
      for (std::int64_t first = 0; first < 10; first += batch) {
        const std::int64_t count = std::min<std::int64_t>(batch, 10 - first);
        const double value = loss(slice(p, 0, first, first + count), slice(y, 0, first, first + count)).item();
        total += loss.to_sum(value, count);
      }
      INFO("batch size ", batch);
      CHECK_CLOSE(total / 10.0, 0.55, kF64Tight);
    }
  }
}

TEST_CASE("losses check shapes and zero targets") {
  CHECK_THROWS_AS(nn::relative_l2_per_sample(Tensor::ones({2, 3}, DType::f64), Tensor::ones({2, 4}, DType::f64)),
                  ShapeError);
  CHECK_THROWS_AS(nn::relative_l2_per_sample(Tensor::ones({2, 3}, DType::f64), Tensor::zeros({2, 3}, DType::f64)),
                  DataError);
  CHECK_CLOSE(nn::mse_per_sample(f64({1, 2, 3, 4}, {2, 2}), f64({0, 0, 0, 0}, {2, 2})).at({1}), 12.5, kF64Tight);
}

TEST_CASE("layer initialisation is seeded and bounded") {
  Rng a(5), b(5);
  const nn::Linear first(16, 4, a), second(16, 4, b);
  CHECK(first.weight.to_vector() == second.weight.to_vector());
  for (double v : first.weight.to_vector()) CHECK(std::abs(v) <= 0.25);
  Rng c(5);
  const nn::SpectralConv spectral(4, 8, {6}, c);
  CHECK(spectral.weight.shape() == Shape{4, 8, 6, 2});
  for (double v : spectral.weight.to_vector()) {
    CHECK(v >= 0.0);
    CHECK(v < 1.0 / 32.0);
  }
  CHECK_THROWS_AS(nn::parse_activation("swish"), ValueError);
}

TEST_CASE("checkpoint round trip with optimizer state") {
  Rng rng(1);
  TwoLayer model(rng);
  optim::Adam adam(model.parameters(), {});
  const Tensor x = f64({0.1, 0.5, 0.9}, {3, 1});
  sum(square(model.forward(x))).backward();
  adam.step();
  const auto path = scratch_file("model.h5");
  save_checkpoint(path, model, &adam, {.epoch = 7, .model = R"({"kind":"test"})", .metadata = {{"note", "hello"}}});

  Rng other(2);
  TwoLayer restored(other);
  optim::Adam restored_adam(restored.parameters(), {});
  const CheckpointInfo info = load_checkpoint(path, restored, &restored_adam);
  CHECK(info.epoch == 7);
  CHECK(info.model == R"({"kind":"test"})");
  CHECK(info.metadata.at("note") == "hello");
  CHECK(restored_adam.steps() == 1);
  const auto original = model.named_parameters();
  const auto loaded = restored.named_parameters();
  for (std::size_t i = 0; i < original.size(); ++i) CHECK(original[i].second.to_vector() == loaded[i].second.to_vector());
  CHECK(restored_adam.state()[0].at("exp_avg").to_vector() == adam.state()[0].at("exp_avg").to_vector());

  Rng third(3);
  TwoLayer wider(third, 9);
  CHECK_THROWS_AS(load_checkpoint(path, wider, nullptr), FileError);
  CHECK_THROWS_AS(load_checkpoint(scratch_file("missing.h5"), wider, nullptr), FileError);
}

TEST_CASE("checkpoint rejects non-finite values") {
  Rng rng(1);
  TwoLayer model(rng);
  optim::Adam adam(model.parameters(), {});
  const Tensor x = f64({0.1, 0.5, 0.9}, {3, 1});
  sum(square(model.forward(x))).backward();
  adam.step();

  const auto nan_parameter = scratch_file("nan_parameter.h5");
  save_checkpoint(nan_parameter, model, &adam, {.epoch = 3, .model = "{}"});
  {
    h5::File file = h5::File::open(nan_parameter, /*writable=*/true);
    std::vector<double> bias = file.read_f64("parameters/first.bias");
    bias[2] = std::numeric_limits<double>::quiet_NaN();
    file.write("parameters/first.bias", {static_cast<std::int64_t>(bias.size())}, bias.data());
  }
  Rng other(2);
  TwoLayer restored(other);
  const std::vector<double> before = restored.first.bias.to_vector();
  const std::string message = testing::message_of([&] { load_checkpoint(nan_parameter, restored, nullptr); });
  CHECK_THROWS_AS(load_checkpoint(nan_parameter, restored, nullptr), DataError);
  CHECK(message.find(nan_parameter.string()) != std::string::npos);
  CHECK(message.find("parameters/first.bias") != std::string::npos);
  CHECK(message.find("flat index 2") != std::string::npos);
  CHECK(message.find("earlier checkpoint") != std::string::npos);
  CHECK(restored.first.bias.to_vector() == before);

  const auto nan_state = scratch_file("nan_state.h5");
  save_checkpoint(nan_state, model, &adam, {.epoch = 3, .model = "{}"});
  {
    h5::File file = h5::File::open(nan_state, /*writable=*/true);
    h5::Shape shape;
    std::vector<double> state = file.read_f64("optimizer/0/exp_avg_sq", &shape);
    state[0] = std::numeric_limits<double>::infinity();
    file.write("optimizer/0/exp_avg_sq", shape, state.data());
  }
  optim::Adam restored_adam(restored.parameters(), {});
  const std::string state_message =
      testing::message_of([&] { load_checkpoint(nan_state, restored, &restored_adam); });
  CHECK_THROWS_AS(load_checkpoint(nan_state, restored, &restored_adam), DataError);
  CHECK(state_message.find("optimizer/0/exp_avg_sq") != std::string::npos);
  CHECK(state_message.find("inf") != std::string::npos);
  CHECK(restored_adam.steps() == 0);
  CHECK(restored.first.bias.to_vector() == before);
  // Without the optimizer the parameters alone are finite and load.
  CHECK_NOTHROW(load_checkpoint(nan_state, restored, nullptr));
}

TEST_CASE("checkpoint rejects a negative epoch") {
  Rng rng(1);
  TwoLayer model(rng);
  const auto path = scratch_file("negative_epoch.h5");
  save_checkpoint(path, model, nullptr, {.epoch = 3, .model = "{}"});
  h5::File::open(path, /*writable=*/true).set_attribute("/", "epoch", std::int64_t{-5});

  const std::string message = testing::message_of([&] { read_checkpoint_info(path); });
  CHECK_THROWS_AS(read_checkpoint_info(path), FileError);
  CHECK(message.find("epoch -5") != std::string::npos);
  CHECK(message.find(path.string()) != std::string::npos);
  CHECK_THROWS_AS(load_checkpoint(path, model, nullptr), FileError);
}

TEST_CASE("training a small network lowers the loss") {
  // Fit s(x) = sin(pi x) on [0, 1] with 32 points; the MSE starts near 0.5.
  Rng rng(4);
  TwoLayer model(rng, 16);
  std::vector<double> xs, ys;
  for (int i = 0; i < 32; ++i) {
    xs.push_back(i / 31.0);
    ys.push_back(std::sin(3.14159265358979 * xs.back()));
  }
  const Tensor x = f64(xs, {32, 1}), y = f64(ys, {32, 1});
  optim::Adam adam(model.parameters(), {.learning_rate = 1e-2});
  const optim::ConstantSchedule schedule(1e-2);
  const nn::Loss loss{nn::LossKind::mse, nn::Reduction::sum};
  std::vector<double> epoch_losses;
  const auto result = train::fit(
      model, adam, schedule, 32,
      [&](const std::vector<std::int64_t>& indices) {
        return loss(model.forward(index_select(x, 0, indices)), index_select(y, 0, indices));
      },
      {.epochs = 300, .batch_size = 8, .seed = 1},
      {.on_epoch = [&](const train::EpochReport& report) { epoch_losses.push_back(report.train_loss); }});
  CHECK(result.status == train::TrainStatus::completed);
  REQUIRE(epoch_losses.size() == 300);
  CHECK(epoch_losses.front() > 0.05);
  CHECK(epoch_losses.back() < 1e-3);
}

TEST_CASE("diverging training restores the last good epoch") {
  Rng rng(6);
  TwoLayer model(rng);
  optim::Sgd sgd(model.parameters(), {.learning_rate = 0.1});
  const optim::ConstantSchedule schedule(0.1);
  std::vector<std::vector<double>> after_epoch;
  int calls = 0;
  const auto result = train::fit(
      model, sgd, schedule, 4,
      [&](const std::vector<std::int64_t>&) {
        ++calls;
        const Tensor out = sum(model.forward(Tensor::ones({1, 1}, DType::f64)));
        // The third epoch (batch calls 5 and 6) produces NaN.
        return calls >= 5 ? out * std::numeric_limits<double>::quiet_NaN() : out;
      },
      {.epochs = 5, .batch_size = 2},
      {.on_epoch = [&](const train::EpochReport&) { after_epoch.push_back(model.first.weight.to_vector()); }});
  CHECK(result.status == train::TrainStatus::diverged);
  CHECK(result.last_good_epoch == 2);
  CHECK(result.message.find("epoch 3") != std::string::npos);
  REQUIRE(after_epoch.size() == 2);
  CHECK(model.first.weight.to_vector() == after_epoch.back());
}

TEST_CASE("epoch order is a seeded permutation") {
  const auto a = train::epoch_order(100, 3, 0), b = train::epoch_order(100, 3, 0), c = train::epoch_order(100, 3, 1);
  CHECK(a == b);
  CHECK(a != c);
  std::vector<std::int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 100; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
}
