// `neurop evaluate`: test error of a trained model at several resolutions of the same
// test data, without retraining.
#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

#include "apps/commands.hpp"
#include "apps/common.hpp"
#include "apps/darcy_training.hpp"
#include "apps/deeponet_commands.hpp"
#include "apps/grid_models.hpp"
#include "lib/core/error.hpp"
#include "lib/core/log.hpp"
#include "lib/io/checkpoint.hpp"
#include "lib/io/hdf5.hpp"

namespace neurop::app {
namespace {

struct EvaluateOptions {
  std::string checkpoint, data, test_file, resolutions, out, markdown;
  std::int64_t ntest = 100, batch_size = 20;
  int threads = 0;
  std::string predictions;
  std::int64_t prediction_samples = 4;
};

// Logs a warning when the test samples from `first` on in `file` include samples the
// checkpoint was trained on (the first `ntrain` samples of its training file).
void warn_if_trained_on(const CheckpointInfo& info, const std::string& file, std::int64_t first) {
  const auto train_file = info.metadata.find("train_file");
  const auto ntrain = info.metadata.find("ntrain");
  if (train_file == info.metadata.end() || ntrain == info.metadata.end()) return;
  std::error_code error;
  if (!std::filesystem::equivalent(train_file->second, file, error) || error) return;
  std::int64_t trained = 0;
  try {
    trained = std::stoll(ntrain->second);
  } catch (const std::exception&) {
    return;  // Metadata from another program: skip the warning, which is only a courtesy.
  }
  if (first >= trained) return;
  logger().warn("the test samples from index {} of '{}' include {} of the {} samples the checkpoint was trained on, "
                "so the errors below are not held-out test errors; lower --ntest so the test set starts at index {} "
                "or later",
                first, file, trained - first, trained, trained);
}

int run_evaluate(const EvaluateOptions& o) {
  apply_threads(o.threads);
  NEUROP_CHECK(!o.checkpoint.empty(), ValueError, "--checkpoint is required: the model file written by `neurop train`");
  NEUROP_CHECK(o.batch_size >= 1, ValueError, "--batch-size must be >= 1, got {}", o.batch_size);
  check_at_least("--prediction-samples", o.prediction_samples, 1);
  // Output folders are checked before the evaluation, so a bad path fails fast.
  if (!o.out.empty()) create_parent_folder(o.out, "--out");
  if (!o.markdown.empty()) create_parent_folder(o.markdown, "--markdown");
  NEUROP_CHECK(o.data.empty() != o.test_file.empty(), ValueError,
               "give exactly one of --data FILE (its last --ntest samples) or --test FILE (its first --ntest samples)");
  const CheckpointInfo info = read_checkpoint_info(o.checkpoint);
  std::unique_ptr<GridModel> model = build_grid_model(info.model);
  load_checkpoint(o.checkpoint, model->module(), nullptr);
  logger().info("model: {} (epoch {}, from {})", model->summary(), info.epoch, o.checkpoint);

  const std::string file = o.data.empty() ? o.test_file : o.data;
  const data::GridDataset dataset = data::read_grid_dataset(file);
  check_grid_data(dataset, file);
  check_model_fits_data(info.model, dataset.spatial_dims, dataset.input_shape[1], dataset.output_shape[1],
                        o.checkpoint, file);
  NEUROP_CHECK(o.ntest >= 1 && o.ntest <= dataset.size(), ValueError,
               "--ntest {} is out of range: {} holds {} samples", o.ntest, file, dataset.size());
  const std::int64_t first = o.data.empty() ? 0 : dataset.size() - o.ntest;
  warn_if_trained_on(info, file, first);
  const std::int64_t stored = dataset.input_shape[2];
  const std::vector<std::int64_t> resolutions =
      o.resolutions.empty() ? std::vector<std::int64_t>{stored} : parse_int_list(o.resolutions, "--resolutions");
  // Every resolution is checked before the first is evaluated, so a bad entry prints no partial table.
  for (std::int64_t resolution : resolutions) resolution_stride(stored, resolution, dataset.periodic);
  const std::int64_t prediction_samples = std::min(o.prediction_samples, o.ntest);
  if (!o.predictions.empty() && o.prediction_samples > o.ntest)
    logger().info("--prediction-samples {} exceeds the {} test samples; {} will contain all {}", o.prediction_samples,
                  o.ntest, o.predictions, o.ntest);

  nlohmann::json results = nlohmann::json::array();
  std::string table = "| resolution | test samples | relative L2 error | seconds |\n|---:|---:|---:|---:|\n";
  fmt::print("{:>10}  {:>7}  {:>12}  {:>8}\n", "resolution", "samples", "relative L2", "seconds");
  for (std::int64_t resolution : resolutions) {
    const auto start = std::chrono::steady_clock::now();
    const TensorPair test = to_tensors(dataset, first, o.ntest, resolution, model->module().dtype());
    const double error = mean_relative_l2(*model, test.inputs, test.outputs, o.batch_size);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("{:>10}  {:>7}  {:>12.6f}  {:>8.2f}\n", resolution, o.ntest, error, seconds);
    std::fflush(stdout);
    results.push_back({{"resolution", resolution}, {"samples", o.ntest}, {"relative_l2", error}, {"seconds", seconds}});
    table += fmt::format("| {} | {} | {:.6f} | {:.2f} |\n", resolution, o.ntest, error, seconds);
    if (!o.predictions.empty() && resolution == resolutions.front())
      write_predictions(o.predictions, *model, test, prediction_samples);
  }
  if (!o.out.empty()) {
    const nlohmann::json report = {
        {"checkpoint", o.checkpoint}, {"epoch", info.epoch}, {"data", file}, {"results", results}};
    write_text_atomically(o.out, report.dump(2) + "\n");
  }
  if (!o.markdown.empty()) write_text_atomically(o.markdown, table);
  return kExitOk;
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto o = std::make_shared<EvaluateOptions>();
  CLI::App* sub = app.add_subcommand("evaluate", "test error of a trained model at one or more resolutions");
  sub->add_option("--checkpoint", o->checkpoint, "model checkpoint written by `neurop train`")->required();
  sub->add_option("--data", o->data, "data set file; its last --ntest samples are the test set");
  sub->add_option("--test", o->test_file, "test data set file; its first --ntest samples are used");
  sub->add_option("--ntest", o->ntest, "test samples")->capture_default_str();
  sub->add_option("--resolutions", o->resolutions, "comma-separated points per axis, e.g. 256,512,1024");
  sub->add_option("--batch-size", o->batch_size, "samples per forward pass")->capture_default_str();
  sub->add_option("--out", o->out, "write the results as JSON to this file");
  sub->add_option("--markdown", o->markdown, "write the results as a Markdown table to this file");
  sub->add_option("--threads", o->threads, fmt::format("threads (0 = all cores, at most {})", kMaxThreads))
      ->capture_default_str();
  sub->add_option("--save-predictions", o->predictions,
                  "write inputs, targets and predictions of the first test samples at the first resolution to this "
                  "HDF5 file");
  sub->add_option("--prediction-samples", o->prediction_samples,
                  "test samples in the --save-predictions file (>= 1); a count above --ntest writes all --ntest "
                  "samples")
      ->capture_default_str();
  sub->callback([o, sub] {
    check_distinct_outputs({{"--checkpoint", o->checkpoint}, {"--data", o->data}, {"--test", o->test_file}},
                           {{"--out", o->out}, {"--markdown", o->markdown}, {"--save-predictions", o->predictions}});
    command_exit_code() = is_deeponet_evaluation(*sub) ? run_deeponet_evaluate(*sub) : run_evaluate(*o);
  });
}

}  // namespace neurop::app
