// The README's library example, compiled and run: rebuild a model from a checkpoint
// and evaluate it from C++.
#include <unistd.h>

#include <filesystem>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "lib/autodiff/graph.hpp"
#include "lib/io/checkpoint.hpp"
#include "operators/fno/fno.hpp"

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
