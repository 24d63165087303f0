// Runs the `neurop` program on good and bad input and checks exit codes and messages.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <hdf5.h>

#include "datasets/dataset_file.hpp"
#include "lib/io/hdf5.hpp"
#include "tests/support/cli.hpp"

namespace fs = std::filesystem;

namespace {

using neurop::test_cli::contains;
using neurop::test_cli::run;
using neurop::test_cli::Run;

fs::path scratch() { return neurop::test_cli::scratch_folder("neurop-cli-test"); }

// A small Burgers file shared by the tests of this file.
const fs::path& small_burgers() {
  static const fs::path path = [] {
    const fs::path file = scratch() / "burgers.h5";
    const Run generated =
        run(fmt::format("generate burgers --samples 24 --fine-resolution 256 --resolution 64 --out {}", file.string()));
    REQUIRE_MESSAGE(generated.exit_code == 0, generated.output);
    return file;
  }();
  return path;
}

// A checkpoint of a 1-epoch FNO on small_burgers() trained with `optimizer_options`.
fs::path small_checkpoint(const std::string& name, const std::string& optimizer_options = "") {
  const fs::path checkpoint = scratch() / name;
  const Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 --width 8 --modes 4 --batch-size 4 --epochs 1 "
                                "--threads 2 {} --checkpoint {}",
                                small_burgers().string(), optimizer_options, checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  return checkpoint;
}

std::string file_bytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("cli unknown option is a usage error") {
  const Run r = run("train --no-such-option 3");
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, "no-such-option"));
  const Run unknown = run("frobnicate --epochs 3");
  CHECK(unknown.exit_code == 2);
  CHECK(contains(unknown.output, "unknown command 'frobnicate'"));
  CHECK(contains(unknown.output, "generate, train, evaluate"));
  const Run nested = run("generate burger --samples 2");
  CHECK(nested.exit_code == 2);
  CHECK(contains(nested.output, "unknown command 'burger' after 'neurop generate'"));
  CHECK(contains(nested.output, "burgers"));
}

TEST_CASE("cli missing and corrupt data files") {
  Run r = run(fmt::format("train --data {}", (scratch() / "missing.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "not found"));
  const fs::path corrupt = scratch() / "corrupt.h5";
  std::ofstream(corrupt) << "not hdf5 at all";
  r = run(fmt::format("train --data {}", corrupt.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "not a readable HDF5 file"));
  r = run("train");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "no data given"));
  r = run(fmt::format("train --train {} --epochs 1", small_burgers().string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--test is missing"));
  r = run(fmt::format("train --test {} --epochs 1", small_burgers().string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--train is missing"));
}

TEST_CASE("cli rejects NaN in data") {
  const fs::path file = scratch() / "nan.h5";
  fs::copy_file(small_burgers(), file, fs::copy_options::overwrite_existing);
  {
    neurop::h5::File h5 = neurop::h5::File::open(file, /*writable=*/true);
    std::vector<double> inputs = h5.read_f64("inputs");
    inputs[70] = std::numeric_limits<double>::quiet_NaN();
    h5.write("inputs", {24, 1, 64}, inputs.data());
  }
  const Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 --epochs 1", file.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "nan"));
  CHECK(contains(r.output, "sample 1"));
}

TEST_CASE("cli rejects unavailable resolutions and sample counts") {
  Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 --resolution 48 --epochs 1", small_burgers().string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "resolution 48"));
  r = run(fmt::format("train --data {} --ntrain 20 --ntest 8 --epochs 1", small_burgers().string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "24 samples"));
}

TEST_CASE("cli warns about modes the training grid lacks") {
  // A grid of 16 points has 9 modes on the last axis.
  const std::string common = fmt::format("train --data {} --ntrain 8 --ntest 4 --resolution 16 --width 4 --epochs 1",
                                         small_burgers().string());
  Run r = run(common + fmt::format(" --modes 12 --checkpoint {}", (scratch() / "modes12.h5").string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "--modes 12 exceeds the modes of the training grid 16 (9)"));
  r = run(common + fmt::format(" --modes 9 --checkpoint {}", (scratch() / "modes9.h5").string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK_FALSE(contains(r.output, "exceeds the modes"));
}

TEST_CASE("cli rejects an unresolvable burgers setting") {
  const Run r = run(fmt::format("generate burgers --samples 2 --fine-resolution 64 --resolution 64 --nu 1e-4 --out {}",
                                (scratch() / "never.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK_FALSE(fs::exists(scratch() / "never.h5"));
}

TEST_CASE("cli train, resume and evaluate") {
  const fs::path checkpoint = scratch() / "model.h5";
  const std::string common =
      fmt::format("train --data {} --ntrain 16 --ntest 8 --batch-size 4 --checkpoint {} --checkpoint-every 1",
                  small_burgers().string(), checkpoint.string());
  Run r = run(common + " --width 8 --modes 4 --epochs 2");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "epoch    2/2"));
  r = run(common + fmt::format(" --epochs 3 --resume {}", checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "resumed from"));
  CHECK(contains(r.output, "epoch    3/3"));
  CHECK_FALSE(contains(r.output, "epoch    1/3"));

  const fs::path json = scratch() / "errors.json";
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 8 --resolutions 16,32,64 --out {}",
                      checkpoint.string(), small_burgers().string(), json.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(fs::exists(json));
  CHECK(contains(r.output, "32"));
  CHECK_FALSE(contains(r.output, "not held-out"));
  // 12 test samples of 24 start at index 12, inside the 16 training samples.
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 12", checkpoint.string(), small_burgers().string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "include 4 of the 16 samples the checkpoint was trained on"));
  CHECK(contains(r.output, "not held-out"));
  r = run(fmt::format("evaluate --checkpoint {} --data {} --resolutions 30", checkpoint.string(),
                      small_burgers().string()));
  CHECK(r.exit_code == 1);
  // A bad entry after good ones fails before any row of the table is printed.
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 8 --resolutions 16,32,30", checkpoint.string(),
                      small_burgers().string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "30"));
  CHECK_FALSE(contains(r.output, "relative L2"));
}

TEST_CASE("cli 1d default normaliser is channel") {
  // The default (auto) wraps a 1D FNO in channel statistics, which fit every resolution.
  const fs::path checkpoint = small_checkpoint("channel-default.h5");
  Run r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 8 --resolutions 16,64", checkpoint.string(),
                          small_burgers().string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "normalised with channel Gaussian statistics"));
  // --normalizer none trains the bare FNO, as the FNO paper's code does.
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 8 --resolutions 16,64",
                      small_checkpoint("unnormalised.h5", "--normalizer none").string(), small_burgers().string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "FNO, 1D"));
  CHECK_FALSE(contains(r.output, "Gaussian statistics"));
}

TEST_CASE("cli diverging training keeps the last good checkpoint") {
  const fs::path checkpoint = scratch() / "diverged.h5";
  const Run r = run(fmt::format(
      "train --data {} --ntrain 16 --ntest 8 --width 8 --modes 4 --batch-size 4 --epochs 20 --lr 1e30 "
      "--schedule constant --checkpoint {}",
      small_burgers().string(), checkpoint.string()));
  CHECK(r.exit_code == 3);
  CHECK(contains(r.output, "diverged"));
  CHECK(contains(r.output, "Lower the learning rate"));
  // The message is printed once, by the program, not also by the library.
  const std::size_t first = r.output.find("training diverged");
  CHECK(r.output.find("training diverged", first + 1) == std::string::npos);
  CHECK(fs::exists(checkpoint));
}

TEST_CASE("cli resume rejects conflicting settings") {
  const fs::path checkpoint = scratch() / "resume-base.h5";
  const std::string common =
      fmt::format("train --data {} --ntrain 16 --ntest 8 --batch-size 4", small_burgers().string());
  Run r = run(common + fmt::format(" --width 8 --modes 4 --epochs 1 --checkpoint {}", checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string resume = fmt::format(" --resume {} --checkpoint {}", checkpoint.string(),
                                         (scratch() / "resume-out.h5").string());

  r = run(common + resume + " --epochs 2 --width 32");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--width cannot be combined with --resume"));

  r = run(common + resume + " --epochs 2 --optimizer sgd");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "holds the state of optimizer Adam, but the run uses SGD"));

  r = run(common + resume + " --epochs 1");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "already at epoch 1"));
}

TEST_CASE("cli config keys outside a command section are errors") {
  const fs::path config = scratch() / "top-level.toml";
  std::ofstream(config) << "ntrain = 16\n";
  Run r = run(fmt::format("--config {} train --data {}", config.string(), small_burgers().string()));
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, "config file: unknown key 'ntrain'"));

  const fs::path misspelt = scratch() / "misspelt.toml";
  std::ofstream(misspelt) << "[train]\nepoch = 3\n";
  r = run(fmt::format("--config {} train --data {}", misspelt.string(), small_burgers().string()));
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, "config file: unknown key 'train.epoch'"));
  CHECK(contains(r.output, "without the dashes"));
}

TEST_CASE("cli output paths and batch sizes are checked first") {
  const fs::path blocker = scratch() / "a-file";
  std::ofstream(blocker) << "not a folder\n";
  Run r = run(fmt::format("generate burgers --samples 2 --fine-resolution 256 --resolution 64 --out {}",
                          (blocker / "data.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--out"));
  CHECK(contains(r.output, "cannot create the folder"));

  const fs::path checkpoint = scratch() / "batch-model.h5";
  r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 --width 8 --modes 4 --batch-size 4 --epochs 1 "
                      "--checkpoint {}",
                      small_burgers().string(), checkpoint.string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run(fmt::format("evaluate --checkpoint {} --data {} --ntest 8 --batch-size 0", checkpoint.string(),
                      small_burgers().string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--batch-size must be >= 1"));
}

TEST_CASE("cli rejects thread counts above the limit") {
  const std::string data = small_burgers().string();
  const std::string never = (scratch() / "never-threads.h5").string();
  const std::vector<std::string> commands = {
      fmt::format("train --data {} --ntrain 16 --ntest 8 --epochs 1 --checkpoint {}", data, never),
      fmt::format("evaluate --checkpoint {} --data {} --ntest 8", never, data),
      fmt::format("generate burgers --samples 2 --fine-resolution 256 --resolution 64 --out {}", never),
      fmt::format("generate darcy --samples 2 --solve-resolution 33 --resolution 17 --out {}", never),
      fmt::format("generate antiderivative --samples 2 --grid-points 101 --out {}", never),
  };
  for (const std::string& command : commands) {
    for (const char* threads : {"100000", "20000", "1025", "-1"}) {
      CAPTURE(command);
      CAPTURE(threads);
      const Run r = run(fmt::format("{} --threads {}", command, threads));
      CHECK(r.exit_code == 1);
      CHECK(contains(r.output, fmt::format("--threads {} is out of range", threads)));
      CHECK(contains(r.output, "0 (all cores) to 1024"));
    }
  }
  CHECK_FALSE(fs::exists(never));
}

TEST_CASE("cli outputs must not replace inputs") {
  const fs::path data = scratch() / "outputs-data.h5";
  fs::copy_file(small_burgers(), data, fs::copy_options::overwrite_existing);
  const std::string data_bytes = file_bytes(data);
  // The same file through another spelling of its path.
  const std::string data_alias = (scratch() / "." / "outputs-data.h5").string();

  Run r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 --epochs 1 --checkpoint {}", data.string(),
                          data_alias));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--checkpoint"));
  CHECK(contains(r.output, "same file as the input --data"));
  r = run(fmt::format("train --train {0} --test {0} --ntrain 16 --ntest 8 --epochs 1 --checkpoint {0}", data.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "same file as the input --train"));
  CHECK(file_bytes(data) == data_bytes);

  const fs::path checkpoint = small_checkpoint("outputs-model.h5");
  const std::string checkpoint_bytes = file_bytes(checkpoint);
  const std::string evaluate = fmt::format("evaluate --checkpoint {} --data {} --ntest 8", checkpoint.string(),
                                           data.string());
  r = run(evaluate + fmt::format(" --save-predictions {}", data_alias));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--save-predictions"));
  CHECK(contains(r.output, "same file as the input --data"));
  r = run(evaluate + fmt::format(" --out {}", checkpoint.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "same file as the input --checkpoint"));
  r = run(evaluate + fmt::format(" --markdown {}", data.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--markdown"));
  const fs::path table = scratch() / "outputs-table.txt";
  r = run(evaluate + fmt::format(" --out {0} --markdown {0}", table.string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--markdown"));
  CHECK(contains(r.output, "same file as --out"));
  CHECK(file_bytes(data) == data_bytes);
  CHECK(file_bytes(checkpoint) == checkpoint_bytes);
  CHECK_FALSE(fs::exists(table));
}

TEST_CASE("cli rejects invalid rates and intervals") {
  const std::string common = fmt::format("train --data {} --ntrain 16 --ntest 8 --epochs 1 --checkpoint {}",
                                         small_burgers().string(), (scratch() / "never-rate.h5").string());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--lr 0", "--lr 0 is invalid"},
      {"--lr -1e-3", "--lr -0.001 is invalid"},
      {"--checkpoint-every 0", "--checkpoint-every 0 is invalid"},
      {"--checkpoint-every -1", "--checkpoint-every -1 is invalid"},
      {"--evaluate-every 0", "--evaluate-every 0 is invalid"},
      {"--evaluate-every -1", "--evaluate-every -1 is invalid"},
      {"--log-every 0", "--log-every 0 is invalid"},
      {"--log-every -1", "--log-every -1 is invalid"},
  };
  for (const auto& [options, message] : cases) {
    CAPTURE(options);
    const Run r = run(common + " " + options);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.output, message));
  }
  CHECK_FALSE(fs::exists(scratch() / "never-rate.h5"));
}

TEST_CASE("cli names the invalid count") {
  const std::string data = small_burgers().string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--ntrain 0", "--ntrain 0 is invalid: expected an integer >= 1"},
      {"--ntest 0", "--ntest 0 is invalid: expected an integer >= 1"},
      {"--epochs 0", "--epochs 0 is invalid: expected an integer >= 1"},
      {"--epochs -1", "--epochs -1 is invalid: expected an integer >= 1"},
      {"--batch-size 0", "--batch-size 0 is invalid: expected an integer >= 1"},
      {"--batch-size -4", "--batch-size -4 is invalid: expected an integer >= 1"},
  };
  for (const auto& [options, message] : cases) {
    CAPTURE(options);
    // Each option appears once: the case's value replaces the default below.
    std::string command = fmt::format("train --data {} --checkpoint {} {}", data,
                                      (scratch() / "never-count.h5").string(), options);
    for (const char* fallback : {"--ntrain 16", "--ntest 8", "--epochs 1", "--batch-size 4"}) {
      const std::string option = std::string(fallback).substr(0, std::string(fallback).find(' '));
      if (!contains(options, option + " ")) command += std::string(" ") + fallback;
    }
    const Run r = run(command);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.output, message));
    CHECK_FALSE(contains(r.output, "--epochs, --batch-size"));
  }
}

TEST_CASE("cli checks prediction samples first") {
  const fs::path checkpoint = small_checkpoint("predictions-model.h5");
  const fs::path predictions = scratch() / "predictions.h5";
  const std::string evaluate = fmt::format("evaluate --checkpoint {} --data {} --ntest 8 --save-predictions {}",
                                           checkpoint.string(), small_burgers().string(), predictions.string());
  Run r = run(evaluate + " --prediction-samples 0");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "--prediction-samples 0 is invalid"));
  // The check comes before the evaluation, so no table is printed.
  CHECK_FALSE(contains(r.output, "relative L2"));
  CHECK_FALSE(fs::exists(predictions));

  r = run(evaluate + " --prediction-samples 50");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "--prediction-samples 50 exceeds the 8 test samples"));
  CHECK(neurop::h5::File::open(predictions).shape("predictions") == std::vector<std::int64_t>{8, 1, 64});
}

TEST_CASE("cli suggests an accepted fine resolution") {
  const fs::path out = scratch() / "suggested.h5";
  Run r = run(fmt::format("generate burgers --samples 1 --nu 1e-3 --resolution 1024 --fine-resolution 1024 --out {}",
                          out.string()));
  REQUIRE(r.exit_code == 1);
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_search(r.output, match, std::regex(R"(use fine_resolution = (\d+))")), r.output);
  const std::int64_t suggested = std::stoll(match[1].str());
  CHECK(suggested % 1024 == 0);
  CHECK(suggested > 1024);
  // Validation runs before the output folder is created. An output path below a regular
  // file therefore fails with a folder error for a setting that passes validation, and
  // with the BurgersConfig error for one that does not, without solving anything.
  const fs::path blocker = scratch() / "suggestion-blocker";
  std::ofstream(blocker) << "not a folder\n";
  r = run(fmt::format("generate burgers --samples 1 --nu 1e-3 --resolution 1024 --fine-resolution {} --out {}",
                      suggested, (blocker / "data.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK_FALSE(contains(r.output, "BurgersConfig"));
  CHECK(contains(r.output, "cannot create the folder"));
  // The multiple below the suggestion does not resolve the front.
  r = run(fmt::format("generate burgers --samples 1 --nu 1e-3 --resolution 1024 --fine-resolution {} --out {}",
                      suggested - 1024, (blocker / "data.h5").string()));
  CHECK(r.exit_code == 1);
  CHECK(contains(r.output, "below the minimum"));
}

TEST_CASE("cli warns when the optimizer state is missing") {
  const fs::path checkpoint = small_checkpoint("no-moments.h5");
  {
    const hid_t file = H5Fopen(checkpoint.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    REQUIRE(file >= 0);
    CHECK(H5Ldelete(file, "/optimizer", H5P_DEFAULT) >= 0);
    H5Fclose(file);
  }
  const std::string resume =
      fmt::format("train --data {} --ntrain 16 --ntest 8 --batch-size 4 --epochs 2 --threads 2 --resume {} "
                  "--checkpoint {}",
                  small_burgers().string(), checkpoint.string(), (scratch() / "no-moments-resumed.h5").string());
  Run r = run(resume);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(contains(r.output, "contains no optimizer state"));
  CHECK(contains(r.output, "the Adam moments start from zero"));

  // SGD without momentum keeps no state, so its checkpoints have no /optimizer group.
  const fs::path plain = small_checkpoint("plain-sgd.h5", "--optimizer sgd --momentum 0");
  r = run(fmt::format("train --data {} --ntrain 16 --ntest 8 --batch-size 4 --epochs 2 --threads 2 --optimizer sgd "
                      "--momentum 0 --resume {} --checkpoint {}",
                      small_burgers().string(), plain.string(), (scratch() / "plain-sgd-resumed.h5").string()));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK_FALSE(contains(r.output, "no optimizer state"));
}
