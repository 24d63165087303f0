// The README's library example, compiled and run: rebuild a model from a checkpoint
// and evaluate it from C++.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "lib/autodiff/graph.hpp"
#include "lib/io/checkpoint.hpp"
#include "operators/fno/fno.hpp"
#include "operators/grid_model.hpp"

TEST_CASE("readme example evaluates a checkpointed fno") {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / fmt::format("neurop-embedding-{}", ::getpid());
  std::filesystem::create_directories(folder);
  const std::string path = (folder / "fno.h5").string();
  neurop::fno::FnoConfig config;
  config.width = 8;
  config.modes = {4};
  const neurop::fno::Fno trained(config);
  neurop::save_checkpoint(path, trained, nullptr, {.epoch = 1, .model = config.to_json()});
  const std::vector<float> values(1024, 0.5f);

  // --- README example starts here ---
  neurop::CheckpointInfo info = neurop::read_checkpoint_info(path);
  neurop::fno::Fno model(neurop::fno::FnoConfig::from_json(info.model));
  neurop::load_checkpoint(path, model, /*optimizer=*/nullptr);
  neurop::NoGradGuard no_grad;
  neurop::Tensor u0 = neurop::Tensor::from_vector(values, {1, 1, 1024});  // [batch, channels, points]
  neurop::Tensor u1 = model.forward(u0);
  // --- README example ends here ---

  CHECK(u1.shape() == neurop::Shape{1, 1, 1024});
  const auto loaded = model.named_parameters(), saved = trained.named_parameters();
  for (std::size_t i = 0; i < loaded.size(); ++i)
    CHECK_MESSAGE(loaded[i].second.to_vector() == saved[i].second.to_vector(), loaded[i].first);
  // Bit for bit, also while u1 is alive and the next call gets other buffers: a GEMV on
  // buffers of varying alignment once made the last bit depend on the address.
  CHECK(model.forward(u0).to_vector() == u1.to_vector());
  CHECK(trained.forward(u0).to_vector() == u1.to_vector());
}

TEST_CASE("readme example loads a normalised grid model") {
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / fmt::format("neurop-embedding-normalized-{}", ::getpid());
  std::filesystem::create_directories(folder);
  const std::string path = (folder / "fno.h5").string();
  neurop::fno::FnoConfig config;
  config.width = 8;
  config.modes = {4};
  // Training data [4, 1, 64] with inputs near 3 and outputs near 0.01, far from unit scale.
  std::vector<double> inputs(4 * 64), outputs(4 * 64);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    inputs[i] = 3.0 + std::sin(0.37 * static_cast<double>(i));
    outputs[i] = 0.01 * std::cos(0.21 * static_cast<double>(i));
  }
  const neurop::Tensor train_inputs = neurop::Tensor::from_vector(inputs, {4, 1, 64});
  const neurop::Tensor train_outputs = neurop::Tensor::from_vector(outputs, {4, 1, 64});
  const neurop::nn::NormalizerOptions options{.kind = neurop::nn::NormalizerKind::channel, .periodic = true};
  const std::unique_ptr<neurop::GridModel> trained = neurop::normalize_grid_model(
      neurop::build_grid_model(config.to_json()), train_inputs, train_outputs, options);
  neurop::save_checkpoint(path, trained->module(), nullptr, {.epoch = 1, .model = trained->to_json()});
  const std::vector<float> values(1024, 0.5f);

  // --- README example starts here ---
  std::unique_ptr<neurop::GridModel> model = neurop::load_grid_model(path);  // FNO or MgNO, normalisers included
  neurop::NoGradGuard no_grad;
  neurop::Tensor u0 = neurop::Tensor::from_vector(values, {1, 1, 1024});  // [batch, channels, points]
  neurop::Tensor u1 = model->forward(u0);
  // --- README example ends here ---

  CHECK(u1.shape() == neurop::Shape{1, 1, 1024});
  CHECK(model->to_json() == trained->to_json());
  const auto loaded = model->module().named_parameters(), saved = trained->module().named_parameters();
  REQUIRE(loaded.size() == saved.size());
  for (std::size_t i = 0; i < loaded.size(); ++i)
    CHECK_MESSAGE(loaded[i].second.to_vector() == saved[i].second.to_vector(), loaded[i].first);
  CHECK(trained->forward(u0).to_vector() == u1.to_vector());

  // u1 = inner(encode(u0)) (std_y + eps) + mean_y, with one mean and std (n - 1 in the
  // denominator) per channel over the training samples and points. The wrapped FNO was
  // never trained, so a new one from the same configuration has its weights.
  auto mean_and_std = [](const std::vector<double>& x) {
    double mean = 0.0, squares = 0.0;
    for (double v : x) mean += v;
    mean /= static_cast<double>(x.size());
    for (double v : x) squares += (v - mean) * (v - mean);
    return std::pair{mean, std::sqrt(squares / static_cast<double>(x.size() - 1))};
  };
  constexpr double kEps = 1e-5;
  const auto [mean_x, std_x] = mean_and_std(inputs);
  const auto [mean_y, std_y] = mean_and_std(outputs);
  const neurop::fno::Fno inner(config);
  const std::vector<double> z =
      inner.forward(neurop::Tensor::full({1, 1, 1024}, (0.5 - mean_x) / (std_x + kEps))).to_vector();
  const std::vector<double> got = u1.to_vector();
  // float32 rounding of z (about 1e-7 relative) scaled by std_y; a missing decode would be
  // off by about |z|.
  const double tolerance = 1e-5 * std_y;
  for (std::size_t i = 0; i < got.size(); i += 97)
    CHECK(std::abs(got[i] - (z[i] * (std_y + kEps) + mean_y)) <= tolerance);
  std::filesystem::remove_all(folder);
}
