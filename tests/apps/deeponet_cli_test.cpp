// Runs the DeepONet paths of the `neurop` program on good and bad input.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "datasets/point_dataset.hpp"
#include "lib/io/hdf5.hpp"
#include "tests/support/cli.hpp"

namespace fs = std::filesystem;

namespace {

using neurop::test_cli::contains;
using neurop::test_cli::run;
using neurop::test_cli::Run;

fs::path scratch() { return neurop::test_cli::scratch_folder("neurop-deeponet-cli-test"); }

// Generates a small data set once per file name and returns its path.
fs::path generated(const std::string& name, const std::string& arguments) {
  const fs::path file = scratch() / name;
  if (!fs::exists(file)) {
    const Run r = run(fmt::format("generate {} --grid-points 101 --threads 1 --out {}", arguments, file.string()));
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  }
  return file;
}

// 24 antiderivative samples, 20 sensors, 15 shared query points on [0, 1].
fs::path small_antiderivative() {
  return generated("antiderivative.h5", "antiderivative --samples 24 --sensors 20 --queries 15 --steps 100");
}

// A point data set file with the full layout but no samples: [0, 20] branch inputs, 15
// shared query points and [0, 15, 1] outputs. write_point_dataset rejects such data, so
// the file is written with the HDF5 layer directly.
fs::path empty_point_data() {
  const fs::path file = scratch() / "empty.h5";
  if (fs::exists(file)) return file;
  std::vector<double> sensors(20), queries(15);
  for (std::size_t i = 0; i < sensors.size(); ++i) sensors[i] = static_cast<double>(i) / 19.0;
  for (std::size_t i = 0; i < queries.size(); ++i) queries[i] = static_cast<double>(i) / 14.0;
  neurop::h5::File h5 = neurop::h5::File::create(file);
  h5.write("sensors", {20, 1}, sensors.data());
  h5.write("branch_inputs", {0, 20}, sensors.data());
  h5.write("queries", {15, 1}, queries.data());
  h5.write("outputs", {0, 15, 1}, queries.data());
  h5.set_attribute("/", "format", std::string("neurop-dataset"));
  h5.set_attribute("/", "version", std::int64_t{1});
  h5.set_attribute("/", "spatial_dims", std::int64_t{0});
  h5.set_attribute("/", "generator", std::string("antiderivative"));
  h5.set_attribute("/", "seed", std::int64_t{0});
  h5.set_attribute("/", "layout", std::string("product"));
  h5.set_attribute("/", "domain_lower", std::vector<double>{0.0});
  h5.set_attribute("/", "domain_upper", std::vector<double>{1.0});
  h5.set_attribute("/", "parameter_types", std::string());
  h5.close();
  return file;
}

// Small networks and few epochs: these tests check the program, not the learning.
const std::string kSmallNets = "--branch 8,6 --trunk 8,6 --threads 1";
const std::string kSmallModel = kSmallNets + " --epochs 5";

}  // namespace

TEST_CASE("deeponet cli generates point data sets") {
  const fs::path file = small_antiderivative();
  const neurop::data::PointDataset set = neurop::data::read_point_dataset(file);
  CHECK(set.generator == "antiderivative");
  CHECK(set.samples == 24);
  CHECK(set.sensor_count == 20);
  CHECK(set.query_count == 15);
  CHECK(set.layout == neurop::data::QueryLayout::product);

  const neurop::data::PointDataset pendulum = neurop::data::read_point_dataset(
      generated("pendulum.h5", "pendulum --samples 6 --sensors 10 --queries 5 --steps 100 --layout aligned"));
  CHECK(pendulum.output_channels == 2);
  CHECK(pendulum.layout == neurop::data::QueryLayout::aligned);
  const neurop::data::PointDataset reaction = neurop::data::read_point_dataset(generated(
      "reaction.h5", "diffusion-reaction --samples 6 --sensors 10 --query-x 5 --query-t 4 --nx 20 --nt 20"));
  CHECK(reaction.query_dims == 2);
  CHECK(reaction.query_count == 20);
  const neurop::data::PointDataset nonlinear = neurop::data::read_point_dataset(
      generated("nonlinear.h5", "nonlinear-ode --samples 4 --sensors 10 --queries 5 --steps 100 --space chebyshev"));
  CHECK(nonlinear.generator == "nonlinear_ode");
}

TEST_CASE("deeponet cli rejects bad generator options") {
  Run r = run(fmt::format("generate antiderivative --samples 0 --out {}", (scratch() / "none.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK_FALSE(fs::exists(scratch() / "none.h5"));
  r = run("generate antiderivative --layout diagonal");
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, "diagonal"));
  r = run(fmt::format("generate pendulum --sensors 0 --out {}", (scratch() / "none.h5").string()));
  CHECK(r.exit_code == 1);
}

TEST_CASE("deeponet cli train, resume and evaluate") {
  const fs::path checkpoint = scratch() / "model.h5";
  const std::string common = fmt::format("train --data {} --ntrain 16 --ntest 8 {} --checkpoint {}",
                                         small_antiderivative().string(), kSmallNets, checkpoint.string());
  Run r = run(common + " --epochs 5");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "DeepONet"));
  CHECK(contains(r.output, "epoch     5/5"));
  CHECK(contains(r.output, "test MSE"));
  r = run(common + fmt::format(" --epochs 7 --resume {}", checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "resumed from"));
  CHECK(contains(r.output, "epoch     7/7"));

  const fs::path json = scratch() / "errors.json";
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 8 --out {}", checkpoint.string(),
                      small_antiderivative().string(), json.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "MSE"));
  std::ifstream report_file(json);
  const nlohmann::json report = nlohmann::json::parse(report_file);
  CHECK(report.at("samples") == 8);
  CHECK(report.at("mse").get<double>() >= 0.0);

  r = run(fmt::format("evaluate --checkpoint {} --data {} --resolutions 10", checkpoint.string(),
                      small_antiderivative().string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--resolutions does not apply"));
}

TEST_CASE("deeponet cli variants and forms") {
  const std::string data = small_antiderivative().string();
  for (const std::string variant : {"stacked", "pod"}) {
    CAPTURE(variant);
    const Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 {} --variant {} --checkpoint {}", data,
                                  kSmallModel, variant, (scratch() / (variant + ".h5")).string()));
    CHECK_MESSAGE(r.exit_code == 0, r.output);
  }
  const Run pod = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 8", (scratch() / "pod.h5").string(), data));
  CHECK_MESSAGE(pod.exit_code == 0, pod.output);
  const Run aligned = run(fmt::format("train --data {} --ntrain 16 --ntest 8 {} --form aligned --checkpoint {}", data,
                                      kSmallModel, (scratch() / "aligned_model.h5").string()));
  CHECK_MESSAGE(aligned.exit_code == 0, aligned.output);

  // Two output components (split over the trunk) and two-dimensional queries.
  const fs::path pendulum =
      generated("pendulum.h5", "pendulum --samples 6 --sensors 10 --queries 5 --steps 100 --layout aligned");
  Run r = run(fmt::format("train --data {} --ntrain 4 --ntest 2 {} --checkpoint {}", pendulum.string(), kSmallModel,
                          (scratch() / "pendulum_model.h5").string()));
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  const fs::path reaction = generated(
      "reaction.h5", "diffusion-reaction --samples 6 --sensors 10 --query-x 5 --query-t 4 --nx 20 --nt 20");
  r = run(fmt::format("train --data {} --ntrain 4 --ntest 2 {} --multi-output split-branch --checkpoint {}",
                      reaction.string(), kSmallModel, (scratch() / "reaction_model.h5").string()));
  CHECK_MESSAGE(r.exit_code == 0, r.output);
}

TEST_CASE("deeponet cli physics-informed training") {
  const Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 {} --physics antiderivative --activation tanh "
                                "--checkpoint {}",
                                small_antiderivative().string(), kSmallModel, (scratch() / "physics.h5").string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "antiderivative residual"));

  const fs::path pendulum =
      generated("pendulum.h5", "pendulum --samples 6 --sensors 10 --queries 5 --steps 100 --layout aligned");
  const Run bad = run(fmt::format("train --data {} --ntrain 4 --ntest 2 {} --physics antiderivative --checkpoint {}",
                                  pendulum.string(), kSmallModel, (scratch() / "never.h5").string()));
  CHECK(bad.exit_code == 1);
  CHECK(contains(bad.output, "one output component"));
}

TEST_CASE("deeponet cli on a periodic grid data set") {
  const fs::path burgers = scratch() / "burgers.h5";
  Run r = run(fmt::format("generate burgers --samples 12 --fine-resolution 256 --resolution 32 --out {}",
                          burgers.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run(fmt::format("train --data {} --model deeponet --ntrain 8 --ntest 4 {} --fourier-modes 3 --checkpoint {}",
                      burgers.string(), kSmallModel, (scratch() / "burgers_model.h5").string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "3 Fourier modes of period 1"));
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 4", (scratch() / "burgers_model.h5").string(),
                      burgers.string()));
  CHECK_MESSAGE(r.exit_code == 0, r.output);
}

TEST_CASE("deeponet cli rejects bad training input") {
  const std::string data = small_antiderivative().string();
  const std::string never = (scratch() / "never.h5").string();

  // Widths that do not end in the same p: the message names both.
  Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 --branch 8,6 --trunk 8,5 --epochs 1 --checkpoint {}",
                          data, never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "branch net outputs 6 features but the trunk net outputs 5"));
  r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 --branch 8,x --checkpoint {}", data, never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "'x' is not a positive integer"));
  r = run(fmt::format("train --data {} --ntrain 20 --ntest 8 {} --checkpoint {}", data, kSmallModel, never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "24 samples"));
  r = run(fmt::format("train --data {} --variant tower", data));
  CHECK(r.exit_code == 2);

  // Training and test files with different sensors.
  const fs::path other = generated("other_sensors.h5", "antiderivative --samples 4 --sensors 30 --queries 15 --steps 100");
  r = run(fmt::format("train --train {} --test {} --ntrain 16 --ntest 4 {} --checkpoint {}", data, other.string(),
                      kSmallModel, never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "20 sensors"));
  CHECK(contains(r.output, "30"));

  // The aligned layout has no shared query set, so neither the product form nor POD applies.
  const fs::path aligned =
      generated("aligned.h5", "antiderivative --samples 12 --sensors 20 --queries 3 --steps 100 --layout aligned");
  r = run(fmt::format("train --data {} --ntrain 8 --ntest 4 {} --form product --checkpoint {}", aligned.string(),
                      kSmallModel, never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "aligned layout"));
  r = run(fmt::format("train --data {} --ntrain 8 --ntest 4 {} --variant pod --checkpoint {}", aligned.string(),
                      kSmallModel, never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--variant pod needs"));
  // Fourier features on data that are not periodic need an explicit period.
  r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 {} --fourier-modes 2 --checkpoint {}", data, kSmallModel,
                      never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--fourier-period"));
  CHECK_FALSE(fs::exists(never));
}

TEST_CASE("deeponet cli rejects queries outside the training domain") {
  const fs::path checkpoint = scratch() / "domain_model.h5";
  Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 {} --checkpoint {}", small_antiderivative().string(),
                          kSmallModel, checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  // Same sensors count, but functions and queries on [0, 2].
  const fs::path longer =
      generated("longer.h5", "antiderivative --samples 4 --sensors 20 --queries 15 --steps 100 --length 2");
  r = run(fmt::format("evaluate --checkpoint {} --test {} --ntest 4", checkpoint.string(), longer.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "outside the training domain [0, 1]"));

  // A checkpoint that is not a model, and one that is missing.
  r = run(fmt::format("evaluate --checkpoint {} --test {}", small_antiderivative().string(), longer.string()));
  CHECK(r.exit_code == 1);
  r = run(fmt::format("evaluate --checkpoint {} --test {}", (scratch() / "missing.h5").string(), longer.string()));
  CHECK(r.exit_code == 1);
}

TEST_CASE("deeponet cli rejects evaluation data that do not fit the model") {
  const fs::path checkpoint = scratch() / "fit_model.h5";
  Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 {} --checkpoint {}", small_antiderivative().string(),
                          kSmallModel, checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);

  // 30 sensors per function for a model trained with 20.
  const fs::path other = generated("other_sensors.h5", "antiderivative --samples 4 --sensors 30 --queries 15 --steps 100");
  r = run(fmt::format("evaluate --checkpoint {} --test {} --ntest 4", checkpoint.string(), other.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "at 30 sensors, but the model was trained with 20"));

  // The same 20 sensors, but two output components (s1, s2) for a one-output model.
  const fs::path pendulum =
      generated("pendulum_20.h5", "pendulum --samples 4 --sensors 20 --queries 15 --steps 100");
  r = run(fmt::format("evaluate --checkpoint {} --test {} --ntest 4", checkpoint.string(), pendulum.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "2 output components per query point, but the model predicts 1"));
}

TEST_CASE("deeponet cli rejects empty data") {
  const fs::path empty = empty_point_data();
  const std::string never = (scratch() / "never.h5").string();
  Run r = run(fmt::format("train --data {} --ntrain 1 --ntest 1 {} --checkpoint {}", empty.string(), kSmallModel,
                          never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "empty data (0 samples"));
  CHECK_FALSE(fs::exists(never));

  r = run(fmt::format("train --model deeponet --train {} --test {} --ntrain 16 --ntest 1 {} --checkpoint {}",
                      small_antiderivative().string(), empty.string(), kSmallModel, never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "empty data (0 samples"));

  const fs::path checkpoint = scratch() / "empty_eval_model.h5";
  r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 {} --checkpoint {}", small_antiderivative().string(),
                      kSmallModel, checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run(fmt::format("evaluate --checkpoint {} --test {} --ntest 1", checkpoint.string(), empty.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "empty data (0 samples"));
}

TEST_CASE("deeponet cli stops early and resumes the schedule") {
  const fs::path checkpoint = scratch() / "pieces_model.h5";
  const std::string common =
      fmt::format("train --data {} --ntrain 16 --ntest 8 {} --epochs 6 --schedule cosine --checkpoint {}",
                  small_antiderivative().string(), kSmallNets, checkpoint.string());
  Run r = run(common + " --stop-epoch 3");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "epoch     3/3"));
  CHECK(contains(r.output, "training epochs 1 to 3 of 6"));
  r = run(common + fmt::format(" --resume {}", checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "training epochs 4 to 6 of 6"));
  CHECK(contains(r.output, "epoch     6/6"));
  // Nothing is left to do after epoch 6.
  r = run(common + fmt::format(" --resume {}", checkpoint.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "nothing left to do"));
  r = run(common + " --stop-epoch 7");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--stop-epoch 7 is out of range"));
}

TEST_CASE("deeponet cli rejects grid models on point data") {
  const std::string data = small_antiderivative().string();
  const std::string never = (scratch() / "never-grid-model.h5").string();
  for (const char* model : {"fno", "mgno"}) {
    CAPTURE(model);
    Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 --model {} {} --checkpoint {}", data, model,
                            kSmallModel, never));
    CHECK(r.exit_code == 1);
    CHECK(contains(r.output, fmt::format("--model {} needs grid data", model)));
    CHECK(contains(r.output, "is a point data set"));
    CHECK(contains(r.output, "--model deeponet"));
    r = run(fmt::format("train --train {0} --test {0} --ntrain 16 --ntest 8 --model {1} {2} --checkpoint {3}", data,
                        model, kSmallModel, never));
    CHECK(r.exit_code == 1);
    CHECK(contains(r.output, "--train '"));
    CHECK(contains(r.output, "is a point data set"));
  }
  CHECK_FALSE(fs::exists(never));
}

TEST_CASE("deeponet cli checks each training option") {
  const std::string data = small_antiderivative().string();
  const std::string never = (scratch() / "never-options.h5").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--lr 0", "--lr 0 is invalid"},
      {"--lr -1", "--lr -1 is invalid"},
      {"--checkpoint-every 0", "--checkpoint-every 0 is invalid"},
      {"--evaluate-every -1", "--evaluate-every -1 is invalid"},
      {"--log-every 0", "--log-every 0 is invalid"},
      {"--ntrain 0", "--ntrain 0 is invalid"},
      {"--ntest 0", "--ntest 0 is invalid"},
      {"--epochs 0", "--epochs 0 is invalid"},
      {"--batch-size -4", "--batch-size -4 is invalid"},
      {"--threads 100000", "--threads 100000 is out of range"},
  };
  for (const auto& [options, message] : cases) {
    CAPTURE(options);
    // Each option appears once: the case's value replaces the default below.
    std::string command = fmt::format("train --data {} --branch 8,6 --trunk 8,6 --checkpoint {} {}", data, never,
                                      options);
    for (const char* fallback : {"--ntrain 16", "--ntest 8", "--epochs 5", "--threads 1"}) {
      const std::string option = std::string(fallback).substr(0, std::string(fallback).find(' '));
      if (!contains(options, option + " ")) command += std::string(" ") + fallback;
    }
    const Run r = run(command);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.output, message));
  }
  Run r = run(fmt::format("train --train {} {} --checkpoint {}", data, kSmallModel, never));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--test is missing"));
  CHECK_FALSE(fs::exists(never));
}

TEST_CASE("deeponet cli outputs must not replace inputs") {
  const fs::path data = scratch() / "outputs-antiderivative.h5";
  fs::copy_file(small_antiderivative(), data, fs::copy_options::overwrite_existing);
  const auto size = fs::file_size(data);
  Run r = run(fmt::format("train --data {0} --ntrain 16 --ntest 8 {1} --checkpoint {0}", data.string(), kSmallModel));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "same file as the input --data"));
  CHECK(neurop::data::read_point_dataset(data).samples == 24);
  CHECK(fs::file_size(data) == size);

  const fs::path checkpoint = scratch() / "outputs-deeponet.h5";
  r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 {} --checkpoint {}", data.string(), kSmallModel,
                      checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run(fmt::format("evaluate --checkpoint {0} --data {1} --ntest 8 --out {0}", checkpoint.string(), data.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "same file as the input --checkpoint"));
  r = run(fmt::format("evaluate --checkpoint {0} --data {1} --ntest 8 --markdown {1}", checkpoint.string(),
                      data.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "same file as the input --data"));
  CHECK(neurop::data::read_point_dataset(data).samples == 24);

  // Prediction files are written for grid models only; a DeepONet run rejects the option
  // instead of ignoring it.
  const fs::path predictions = scratch() / "deeponet-predictions.h5";
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 8 --save-predictions {}", checkpoint.string(),
                      data.string(), predictions.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--save-predictions is not available for a DeepONet checkpoint"));
  CHECK_FALSE(fs::exists(predictions));
}
