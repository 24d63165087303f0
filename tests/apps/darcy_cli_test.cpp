// Runs `neurop generate darcy`, and `neurop train` / `neurop evaluate` with FNO-2D and
// MgNO on Darcy files, on good and bad input.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "datasets/dataset_file.hpp"
#include "lib/io/hdf5.hpp"
#include "tests/support/cli.hpp"

namespace fs = std::filesystem;

namespace {

using neurop::test_cli::contains;
using neurop::test_cli::run;
using neurop::test_cli::Run;

fs::path scratch() { return neurop::test_cli::scratch_folder("neurop-darcy-cli-test"); }

// 12 Darcy samples solved on 33 x 33 points and stored at 17 x 17, shared by the tests.
const fs::path& small_darcy() {
  static const fs::path path = [] {
    const fs::path file = scratch() / "darcy17.h5";
    const Run generated = run(fmt::format(
        "generate darcy --samples 12 --solve-resolution 33 --resolution 17 --seed 3 --out {}", file.string()));
    REQUIRE_MESSAGE(generated.exit_code == 0, generated.output);
    return file;
  }();
  return path;
}

// A Darcy-like file written directly, with the given coefficient values.
fs::path write_darcy_like(const std::string& name, std::int64_t samples, std::int64_t h, std::int64_t w,
                          double coefficient, double bad_value, std::int64_t bad_index) {
  neurop::data::GridDataset dataset;
  dataset.generator = "darcy";
  dataset.spatial_dims = 2;
  dataset.input_shape = {samples, 1, h, w};
  dataset.output_shape = {samples, 1, h, w};
  dataset.inputs.assign(static_cast<std::size_t>(samples * h * w), coefficient);
  if (bad_index >= 0) dataset.inputs[static_cast<std::size_t>(bad_index)] = bad_value;
  dataset.outputs.resize(dataset.inputs.size());
  for (std::size_t i = 0; i < dataset.outputs.size(); ++i) dataset.outputs[i] = 0.01 + 0.001 * static_cast<double>(i % 7);
  for (std::int64_t extent : {h, w}) {
    std::vector<double> x(static_cast<std::size_t>(extent));
    for (std::int64_t k = 0; k < extent; ++k) x[static_cast<std::size_t>(k)] = static_cast<double>(k) / (extent - 1);
    dataset.grid.push_back(x);
  }
  const fs::path path = scratch() / name;
  neurop::data::write_grid_dataset(path, dataset);
  return path;
}

// The number after `label` on the last line that contains it.
double last_number_after(const std::string& text, const std::string& label) {
  const std::regex pattern(label + R"(\s+([0-9.eE+-]+))");
  double value = std::nan("");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern); it != std::sregex_iterator(); ++it)
    value = std::stod((*it)[1].str());
  return value;
}

const char* kSmallMgno = "--model mgno --width 4 --layers 2 --pre-smoothing 1,1,1 --batch-size 4 --threads 2";
const char* kSmallFno = "--model fno --width 6 --modes 4 --layers 2 --projection-width 8 --padding 0.1 --batch-size 4 "
                        "--threads 2";

}  // namespace

TEST_CASE("darcy cli generates a data set") {
  neurop::h5::File file = neurop::h5::File::open(small_darcy());
  CHECK(file.shape("inputs") == std::vector<std::int64_t>{12, 1, 17, 17});
  CHECK(file.shape("outputs") == std::vector<std::int64_t>{12, 1, 17, 17});
  CHECK(file.attribute_string("/", "generator") == "darcy");
  const std::vector<double> a = file.read_f64("inputs");
  for (double value : a) CHECK((value == 12.0 || value == 3.0));
}

TEST_CASE("darcy cli rejects invalid generator options") {
  Run r = run(fmt::format("generate darcy --samples 2 --solve-resolution 33 --resolution 17 --low-value 0 --out {}",
                          (scratch() / "singular.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "low_value must be positive"));
  r = run(fmt::format("generate darcy --samples 2 --solve-resolution 33 --resolution 16 --out {}",
                      (scratch() / "bad-resolution.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "output_resolution 16"));
  CHECK_FALSE(fs::exists(scratch() / "bad-resolution.h5"));
}

TEST_CASE("darcy cli trains and evaluates mgno with the h1 loss") {
  const fs::path checkpoint = scratch() / "mgno.h5";
  const fs::path predictions = scratch() / "mgno-predictions.h5";
  Run r = run(fmt::format(
      "train --data {} --ntrain 8 --ntest 4 {} --normalizer pointwise --loss h1 --schedule onecycle --lr 3e-3 "
      "--pct-start 0.2 --div-factor 2 --final-div-factor 100 --epochs 3 --checkpoint {}",
      small_darcy().string(), kSmallMgno, checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "MgNO, width 4, 2 layers, 3 levels"));
  CHECK(contains(r.output, "relative H1"));
  CHECK(contains(r.output, "pointwise Gaussian statistics"));
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 4 --save-predictions {} --prediction-samples 2",
                      checkpoint.string(), small_darcy().string(), predictions.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "relative L2"));
  neurop::h5::File file = neurop::h5::File::open(predictions);
  CHECK(file.attribute_string("/", "format") == "neurop-predictions");
  CHECK(file.attribute_i64("/", "version") == 1);
  CHECK(file.shape("predictions") == std::vector<std::int64_t>{2, 1, 17, 17});
  CHECK(file.shape("outputs") == std::vector<std::int64_t>{2, 1, 17, 17});
  // The stored targets are the last test samples of the file.
  const auto dataset = neurop::data::read_grid_dataset(small_darcy());
  CHECK(file.read_f64("outputs")[0] == dataset.outputs[8 * 17 * 17]);
}

TEST_CASE("darcy cli trains fno-2d with normalised data") {
  const fs::path checkpoint = scratch() / "fno.h5";
  Run r = run(fmt::format("train --data {} --ntrain 8 --ntest 4 {} --normalizer pointwise --epochs 2 --checkpoint {}",
                          small_darcy().string(), kSmallFno, checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "FNO, 2D, width 6, modes [4, 4]"));
  // The pointwise statistics fitted at 17 points apply to the 9-point subsample.
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 4 --resolutions 17,9", checkpoint.string(),
                      small_darcy().string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
}

TEST_CASE("darcy cli uses the 2d model defaults") {
  // Without --width, --modes, --layers and --normalizer, 2D data get the Darcy models.
  Run r = run(fmt::format("train --data {} --ntrain 8 --ntest 4 --epochs 1 --batch-size 4 --threads 2 --checkpoint {}",
                          small_darcy().string(), (scratch() / "fno-defaults.h5").string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "FNO, 2D, width 32, modes [12, 12], 4 layers"));
  CHECK(contains(r.output, "pointwise Gaussian statistics"));
  r = run(fmt::format(
      "train --data {} --ntrain 8 --ntest 4 --model mgno --pre-smoothing 1,1 --epochs 1 --batch-size 4 --threads 2 "
      "--checkpoint {}",
      small_darcy().string(), (scratch() / "mgno-defaults.h5").string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "MgNO, width 24, 5 layers, 2 levels"));
  // An explicit --normalizer none turns the statistics off.
  r = run(fmt::format(
      "train --data {} --ntrain 8 --ntest 4 {} --normalizer none --epochs 1 --checkpoint {}", small_darcy().string(),
      kSmallMgno, (scratch() / "mgno-raw.h5").string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK_FALSE(contains(r.output, "Gaussian statistics"));
}

TEST_CASE("darcy cli training and evaluation see the same normalised inputs") {
  // Adam moves each parameter by about the learning rate per step, so with 1e-30 (the
  // program rejects 0) the parameters stay fixed to within far less than the printed
  // digits. The epoch's training loss (the relative L2 error of the decoded predictions,
  // computed with the graph) must then equal the evaluation of the same samples without it.
  const fs::path checkpoint = scratch() / "frozen.h5";
  Run r = run(fmt::format(
      "train --train {0} --test {0} --ntrain 8 --ntest 8 {1} --normalizer pointwise --lr 1e-30 --schedule constant "
      "--epochs 1 --checkpoint {2}",
      small_darcy().string(), kSmallMgno, checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const double train_loss = last_number_after(r.output, "train relative L2");
  r = run(fmt::format("evaluate --checkpoint {} --test {} --ntest 8", checkpoint.string(), small_darcy().string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const double evaluated = last_number_after(r.output, R"(\n\s+17\s+8)");
  REQUIRE(std::isfinite(train_loss));
  REQUIRE(std::isfinite(evaluated));
  // The training line prints 5 decimals.
  CHECK(std::abs(train_loss - evaluated) <= 1e-5);
}

TEST_CASE("darcy cli rejects a level count the grid cannot coarsen to") {
  const Run r = run(fmt::format(
      "train --data {} --ntrain 8 --ntest 4 --model mgno --width 4 --layers 1 --pre-smoothing 1,1,1,1,1,1 --epochs 1 "
      "--checkpoint {}",
      small_darcy().string(), (scratch() / "too-deep.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "[17, 17]"));
  CHECK(contains(r.output, "6 levels"));
  CHECK(contains(r.output, "at most 5"));
}

TEST_CASE("darcy cli rejects a singular coefficient") {
  // Sample 1, point (2, 3) of a 9 x 9 grid has a = 0, and another file has a = -3.
  const fs::path zero = write_darcy_like("zero-coefficient.h5", 6, 9, 9, 3.0, 0.0, 81 + 2 * 9 + 3);
  Run r = run(fmt::format("train --data {} --ntrain 4 --ntest 2 {} --epochs 1 --checkpoint {}", zero.string(),
                          kSmallMgno, (scratch() / "zero.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "coefficient a of sample 1 is 0 at grid point (2, 3)"));
  CHECK(contains(r.output, "a > 0"));
  const fs::path good = write_darcy_like("good-coefficient.h5", 6, 9, 9, 3.0, 0.0, -1);
  const fs::path checkpoint = scratch() / "good.h5";
  r = run(fmt::format("train --data {} --ntrain 4 --ntest 2 {} --epochs 1 --checkpoint {}", good.string(), kSmallMgno,
                      checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const fs::path negative = write_darcy_like("negative-coefficient.h5", 6, 9, 9, 3.0, -3.0, 5);
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 2", checkpoint.string(), negative.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "coefficient a of sample 0 is -3 at grid point (0, 5)"));
}

TEST_CASE("darcy cli rejects mismatched and unsupported grids") {
  // Training set at 17 points, test set at 9.
  const fs::path coarse = scratch() / "darcy9.h5";
  Run r = run(fmt::format("generate darcy --samples 4 --solve-resolution 33 --resolution 9 --out {}", coarse.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run(fmt::format("train --train {} --test {} --ntrain 8 --ntest 4 {} --epochs 1 --checkpoint {}",
                      small_darcy().string(), coarse.string(), kSmallMgno, (scratch() / "mismatch.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "inputs [1, 17, 17]"));
  CHECK(contains(r.output, "inputs [1, 9, 9]"));

  // MgNO needs a 2D grid.
  const fs::path burgers = scratch() / "burgers.h5";
  r = run(fmt::format("generate burgers --samples 6 --fine-resolution 128 --resolution 32 --out {}", burgers.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run(fmt::format("train --data {} --ntrain 4 --ntest 2 {} --epochs 1 --checkpoint {}", burgers.string(),
                      kSmallMgno, (scratch() / "mgno1d.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "works on 2D grids"));

  // A non-square grid on the unit square has different spacings along the axes: MgNO
  // trains on it with the relative L2 loss, the H1 loss rejects it.
  const fs::path rectangle = write_darcy_like("rectangle.h5", 6, 9, 5, 3.0, 0.0, -1);
  r = run(fmt::format("train --data {} --ntrain 4 --ntest 2 {} --epochs 1 --checkpoint {}", rectangle.string(),
                      kSmallMgno, (scratch() / "rectangle-l2.h5").string()));
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  r = run(fmt::format("train --data {} --ntrain 4 --ntest 2 {} --loss h1 --epochs 1 --checkpoint {}",
                      rectangle.string(), kSmallMgno, (scratch() / "rectangle-h1.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "one uniform grid spacing on every axis"));

  // Pointwise statistics fitted at 9 points per axis do not apply at 17.
  const fs::path checkpoint = scratch() / "fitted9.h5";
  r = run(fmt::format(
      "train --data {} --ntrain 8 --ntest 4 --resolution 9 {} --normalizer pointwise --epochs 1 --checkpoint {}",
      small_darcy().string(), kSmallFno, checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 4 --resolutions 17", checkpoint.string(),
                      small_darcy().string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "[9, 9]"));
  CHECK(contains(r.output, "[17, 17]"));
}

TEST_CASE("darcy cli rejects a checkpoint trained on data of another dimension") {
  const fs::path fno2d = scratch() / "fno2d-for-1d.h5";
  Run r = run(fmt::format("train --data {} --ntrain 8 --ntest 4 {} --epochs 1 --checkpoint {}",
                          small_darcy().string(), kSmallFno, fno2d.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const fs::path burgers = scratch() / "burgers-for-2d.h5";
  r = run(fmt::format("generate burgers --samples 6 --fine-resolution 128 --resolution 32 --out {}", burgers.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string expected = fmt::format("checkpoint '{}' contains a 2D FNO model", fno2d.string());

  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 2", fno2d.string(), burgers.string()));
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(contains(r.output, expected), r.output);
  CHECK(contains(r.output, fmt::format("data set '{}' contains 1D data", burgers.string())));
  r = run(fmt::format("train --data {} --ntrain 4 --ntest 2 --epochs 3 --resume {} --checkpoint {}", burgers.string(),
                      fno2d.string(), (scratch() / "resumed-on-1d.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(contains(r.output, expected), r.output);

  // The other way round: a 1D FNO on the Darcy file.
  const fs::path fno1d = scratch() / "fno1d-for-2d.h5";
  r = run(fmt::format("train --data {} --ntrain 4 --ntest 2 --width 4 --modes 4 --layers 1 --epochs 1 --checkpoint {}",
                      burgers.string(), fno1d.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 2", fno1d.string(), small_darcy().string()));
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(contains(r.output, "contains a 1D FNO model"), r.output);
}
