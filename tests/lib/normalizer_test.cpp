// Gaussian normaliser: exact values, channel and resolution rules, zero-variance
// points, and the statistics it fits.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "lib/autodiff/graph.hpp"
#include "lib/core/random.hpp"
#include "lib/nn/normalizer.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/tensor/ops.hpp"
#include "tests/support/check.hpp"
#include "tests/support/tensors.hpp"

using namespace neurop;
using neurop::testing::message_of;
using neurop::testing::random_tensor;
using neurop::testing::kF32Tight;
using neurop::testing::kF64Tight;

TEST_CASE("scalar normaliser with mean 5 and std 2") {
  const nn::NormalizerOptions options{.kind = nn::NormalizerKind::channel, .eps = 1e-5};
  const nn::GaussianNormalizer normalizer(Tensor::full({1}, 5.0, DType::f64), Tensor::full({1}, 2.0, DType::f64),
                                          options);
  const Tensor zero = Tensor::zeros({1, 1}, DType::f64);
  CHECK(normalizer.decode(zero).item() == 5.0);
  const Tensor seven = Tensor::full({1, 1}, 7.0, DType::f64);
  CHECK_CLOSE(normalizer.encode(seven).item(), 2.0 / (2.0 + 1e-5), kF64Tight);
  CHECK_CLOSE(normalizer.decode(normalizer.encode(seven)).item(), 7.0, kF64Tight);
  // Any trailing grid: the channel statistics broadcast over it.
  const Tensor grid = Tensor::full({2, 1, 3, 4}, 7.0, DType::f64);
  CHECK_CLOSE(normalizer.decode(normalizer.encode(grid)).at({1, 0, 2, 3}), 7.0, kF64Tight);
}

TEST_CASE("statistics apply only to tensors with their channel count") {
  // Outputs with 3 channels and inputs with 1: the output statistics decode a
  // 3-channel prediction channel by channel; the input statistics reject it.
  std::vector<double> outputs;
  for (int n = 0; n < 4; ++n)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 5; ++p) outputs.push_back(10.0 * c + (n % 2 == 0 ? 1.0 : -1.0));
  const Tensor y = Tensor::from_vector(outputs, {4, 3, 5}, DType::f64);
  const Tensor a = random_tensor({4, 1, 5}, 1, 0.0, 1.0);
  const nn::NormalizerOptions options{.kind = nn::NormalizerKind::channel};
  const auto output_normalizer = nn::GaussianNormalizer::fit(y, options, DType::f64);
  const auto input_normalizer = nn::GaussianNormalizer::fit(a, options, DType::f64);
  // Channel c has mean 10 c and unbiased std sqrt(20 / 19) over 20 values of +-1.
  for (int c = 0; c < 3; ++c) CHECK_CLOSE(output_normalizer->mean.at({c}), 10.0 * c, kF64Tight);
  CHECK_CLOSE(output_normalizer->stddev.at({1}), std::sqrt(20.0 / 19.0), kF64Tight);

  const Tensor prediction = Tensor::zeros({2, 3, 5}, DType::f64);
  const Tensor decoded = output_normalizer->decode(prediction);
  for (int c = 0; c < 3; ++c) CHECK(decoded.at({1, c, 4}) == 10.0 * c);
  CHECK_THROWS_AS(input_normalizer->decode(prediction), ShapeError);
  const std::string message = message_of([&] { input_normalizer->decode(prediction); });
  CHECK(message.find("3 channel(s)") != std::string::npos);
  CHECK(message.find("1 channel(s)") != std::string::npos);
}

TEST_CASE("zero-variance points stay finite and invertible") {
  // Every sample is 0 on the boundary of a 5x5 grid (a Dirichlet solution): mean 0 and
  // std 0 there, so encode divides by eps alone.
  const std::int64_t samples = 6, n = 5;
  std::vector<double> values;
  Rng rng(2);
  for (std::int64_t s = 0; s < samples; ++s)
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        const bool boundary = i == 0 || j == 0 || i == n - 1 || j == n - 1;
        values.push_back(boundary ? 0.0 : rng.uniform(0.01, 0.02));
      }
  const Tensor u = Tensor::from_vector(values, {samples, 1, n, n}, DType::f32);
  const auto normalizer = nn::GaussianNormalizer::fit(u, {.kind = nn::NormalizerKind::pointwise, .eps = 1e-5});
  CHECK(normalizer->mean.dtype() == DType::f32);
  CHECK(normalizer->stddev.at({0, 0, 2}) == 0.0);

  const Tensor small = Tensor::full({1, 1, n, n}, 1e-7, DType::f32);
  const Tensor encoded = normalizer->encode(small);
  CHECK_CLOSE(encoded.at({0, 0, 0, 2}), 1e-2, kF32Tight);
  const Tensor decoded = normalizer->decode(encoded);
  // float32: one division and one multiplication by the same (std + eps) round-trip to
  // within a few units in the last place, far inside 1e-6 relative.
  const neurop::testing::Tolerance relative_1e6{0.0, 1e-6};
  for (std::int64_t k = 0; k < n; ++k) {
    CHECK_CLOSE(decoded.at({0, 0, 0, k}), 1e-7, relative_1e6);
    CHECK_CLOSE(decoded.at({0, 0, k, n - 1}), 1e-7, relative_1e6);
  }
  // Values of the training range round-trip at every point (inside, mean and std are
  // O(1e-2), so there is no cancellation).
  const Tensor typical = random_tensor({3, 1, n, n}, 3, 0.01, 0.02, DType::f32);
  const Tensor round_trip = normalizer->decode(normalizer->encode(typical));
  for (std::int64_t i = 0; i < n; ++i) CHECK_CLOSE(round_trip.at({2, 0, i, 1}), typical.at({2, 0, i, 1}), relative_1e6);
}

TEST_CASE("pointwise statistics fitted per grid point") {
  // Sample s is s * (i + 1) at point i: mean (i + 1) * 1.5 and unbiased std (i + 1) sqrt(5 / 3)
  // over s = 0..3.
  std::vector<double> values;
  for (int s = 0; s < 4; ++s)
    for (int i = 0; i < 3; ++i) values.push_back(s * (i + 1.0));
  const Tensor data = Tensor::from_vector(values, {4, 1, 3}, DType::f64);
  const auto normalizer = nn::GaussianNormalizer::fit(data, {.kind = nn::NormalizerKind::pointwise}, DType::f64);
  CHECK(normalizer->statistics_shape() == Shape{1, 3});
  for (int i = 0; i < 3; ++i) {
    CHECK_CLOSE(normalizer->mean.at({0, i}), 1.5 * (i + 1), kF64Tight);
    CHECK_CLOSE(normalizer->stddev.at({0, i}), (i + 1) * std::sqrt(5.0 / 3.0), kF64Tight);
  }
  CHECK_THROWS_AS(nn::GaussianNormalizer::fit(slice(data, 0, 0, 1), {.kind = nn::NormalizerKind::pointwise}),
                  ValueError);
}

TEST_CASE("pointwise statistics on other resolutions") {
  // Fitted on 9 points per axis with end points: 5 and 3 points are subsamples
  // (strides 2 and 4); 7 and 17 points are not.
  const Tensor data = random_tensor({4, 1, 9, 9}, 4, -1.0, 1.0);
  const auto normalizer = nn::GaussianNormalizer::fit(data, {.kind = nn::NormalizerKind::pointwise}, DType::f64);
  const Tensor coarse = slice(slice(data, 2, 0, 9, 2), 3, 0, 9, 2);
  const Tensor full_encoded = normalizer->encode(data);
  const Tensor coarse_encoded = normalizer->encode(coarse);
  CHECK(coarse_encoded.shape() == Shape{4, 1, 5, 5});
  CHECK_CLOSE(coarse_encoded.at({3, 0, 2, 4}), full_encoded.at({3, 0, 4, 8}), kF64Tight);
  CHECK(normalizer->encode(Tensor::zeros({1, 1, 3, 3}, DType::f64)).shape() == Shape{1, 1, 3, 3});
  CHECK_THROWS_AS(normalizer->encode(Tensor::zeros({1, 1, 7, 7}, DType::f64)), ShapeError);

  // A normaliser fitted on (N, 64, 64) and applied at 256 x 256 fails naming both grids.
  const Tensor fine_data = random_tensor({2, 1, 64, 64}, 5, 0.0, 1.0, DType::f32);
  const auto fitted64 = nn::GaussianNormalizer::fit(fine_data, {.kind = nn::NormalizerKind::pointwise});
  const Tensor at256 = Tensor::zeros({3, 1, 256, 256});
  CHECK_THROWS_AS(fitted64->encode(at256), ShapeError);
  const std::string message = message_of([&] { fitted64->decode(at256); });
  CHECK(message.find("[64, 64]") != std::string::npos);
  CHECK(message.find("[256, 256]") != std::string::npos);

  // Periodic grids subsample by S / S': 64 -> 32 works, 48 does not.
  const auto periodic =
      nn::GaussianNormalizer::fit(fine_data, {.kind = nn::NormalizerKind::pointwise, .periodic = true});
  CHECK(periodic->encode(Tensor::zeros({1, 1, 32, 32})).shape() == Shape{1, 1, 32, 32});
  CHECK_THROWS_AS(periodic->encode(Tensor::zeros({1, 1, 48, 48})), ShapeError);

  // Channel statistics hold at every resolution.
  const auto channel = nn::GaussianNormalizer::fit(fine_data, {.kind = nn::NormalizerKind::channel});
  CHECK(channel->encode(at256).shape() == at256.shape());
}

TEST_CASE("normaliser statistics receive no gradient and survive optimizer steps") {
  const Tensor data = random_tensor({5, 2, 4}, 6, 1.0, 3.0);
  auto normalizer = nn::GaussianNormalizer::fit(data, {.kind = nn::NormalizerKind::pointwise}, DType::f64);
  const std::vector<double> mean_before = normalizer->mean.to_vector();
  Tensor z = random_tensor({3, 2, 4}, 7, -1.0, 1.0);
  z.set_requires_grad();
  optim::Adam adam(normalizer->parameters(), {.learning_rate = 0.1, .weight_decay = 0.1});
  const Tensor loss = sum(square(normalizer->decode(z)));
  loss.backward();
  CHECK(z.grad().defined());
  CHECK_FALSE(normalizer->mean.grad().defined());
  CHECK_FALSE(normalizer->stddev.grad().defined());
  adam.step();
  CHECK(normalizer->mean.to_vector() == mean_before);
}

TEST_CASE("normaliser description round trip") {
  const Tensor data = random_tensor({3, 2, 4, 5}, 8, 0.0, 1.0);
  const auto fitted = nn::GaussianNormalizer::fit(data, {.kind = nn::NormalizerKind::pointwise, .eps = 1e-6});
  const auto rebuilt = nn::GaussianNormalizer::from_json(fitted->to_json(), DType::f32);
  CHECK(rebuilt->statistics_shape() == Shape{2, 4, 5});
  CHECK(rebuilt->options().eps == 1e-6);
  CHECK(rebuilt->options().kind == nn::NormalizerKind::pointwise);
  CHECK_THROWS_AS(nn::GaussianNormalizer::from_json("{\"kind\": \"median\"}", DType::f32), ValueError);
  CHECK_THROWS_AS(nn::parse_normalizer_kind("unit"), ValueError);
}
