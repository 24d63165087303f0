// `neurop train`: trains a grid-to-grid model on a data set file.
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>

#include "apps/commands.hpp"
#include "apps/common.hpp"
#include "apps/darcy_training.hpp"
#include "apps/deeponet_commands.hpp"
#include "apps/grid_models.hpp"
#include "lib/core/error.hpp"
#include "lib/core/log.hpp"
#include "lib/io/checkpoint.hpp"
#include "lib/nn/loss.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/optim/schedule.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/tensor/spectral.hpp"
#include "lib/train/trainer.hpp"
#include "operators/fno/fno.hpp"

namespace neurop::app {
namespace {

struct TrainOptions {
  // data
  std::string data, train_file, test_file;
  std::int64_t ntrain = 1000, ntest = 100, resolution = 0;
  // model
  std::string model = "fno";
  std::int64_t width = 64, layers = 4, projection_width = 128;
  std::string modes = "16";
  std::string activation = "gelu";
  double padding = 0.0;
  std::string dtype = "float32";
  // optimisation
  std::int64_t epochs = 500, batch_size = 20;
  double learning_rate = 1e-3, weight_decay = 1e-4, momentum = 0.9;
  std::string optimizer = "adam", schedule = "step", loss = "relative-l2";
  std::int64_t step_size = 100;
  double gamma = 0.5;
  std::uint64_t seed = 0;
  // output
  std::string checkpoint = "runs/model.h5", resume;
  std::vector<std::string> architecture_options_given;  // filled from the command line before the run
  std::int64_t checkpoint_every = 10, evaluate_every = 10, log_every = 1;
  int threads = 0;
  // normalisation, MgNO and one-cycle options
  GridTrainingOptions grid;
};

std::vector<std::int64_t> modes_for(const std::string& text, int spatial_dims) {
  std::vector<std::int64_t> modes = parse_int_list(text, "--modes");
  if (modes.size() == 1) modes.assign(static_cast<std::size_t>(spatial_dims), modes.front());
  NEUROP_CHECK(static_cast<int>(modes.size()) == spatial_dims, ValueError,
               "--modes lists {} counts but the data have {} spatial axes; give one count or one per axis",
               modes.size(), spatial_dims);
  return modes;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainOptions& o, std::vector<Tensor> parameters) {
  if (o.optimizer == "adam")
    return std::make_unique<optim::Adam>(std::move(parameters),
                                         optim::AdamOptions{.learning_rate = o.learning_rate,
                                                            .weight_decay = o.weight_decay});
  if (o.optimizer == "adamw")
    return std::make_unique<optim::AdamW>(std::move(parameters),
                                          optim::AdamOptions{.learning_rate = o.learning_rate,
                                                             .weight_decay = o.weight_decay});
  return std::make_unique<optim::Sgd>(std::move(parameters),
                                      optim::SgdOptions{.learning_rate = o.learning_rate, .momentum = o.momentum,
                                                        .weight_decay = o.weight_decay});
}

std::unique_ptr<optim::Schedule> make_schedule(const TrainOptions& o, std::int64_t steps_per_epoch) {
  if (o.schedule == "step") return std::make_unique<optim::StepSchedule>(o.learning_rate, o.step_size, o.gamma);
  if (o.schedule == "cosine") return std::make_unique<optim::CosineSchedule>(o.learning_rate, o.epochs);
  if (o.schedule == "onecycle")
    return std::make_unique<optim::OneCycleSchedule>(o.learning_rate, o.epochs * steps_per_epoch, o.grid.pct_start,
                                                     o.grid.div_factor, o.grid.final_div_factor);
  return std::make_unique<optim::ConstantSchedule>(o.learning_rate);
}

struct Split {
  TensorPair train, test;
  std::string description;
  bool periodic = false;
};

Split load_split(const TrainOptions& o, DType dtype) {
  Split split;
  if (!o.data.empty()) {
    NEUROP_CHECK(o.train_file.empty() && o.test_file.empty(), ValueError,
                 "give either --data (one file, split into the first --ntrain and last --ntest samples) or --train "
                 "and --test, not both");
    const data::GridDataset dataset = data::read_grid_dataset(o.data);
    check_grid_data(dataset, o.data);
    split.periodic = dataset.periodic;
    NEUROP_CHECK(o.ntrain + o.ntest <= dataset.size(), ValueError,
                 "{} holds {} samples, fewer than --ntrain {} + --ntest {}; lower them or generate more samples",
                 o.data, dataset.size(), o.ntrain, o.ntest);
    split.train = to_tensors(dataset, 0, o.ntrain, o.resolution, dtype);
    split.test = to_tensors(dataset, dataset.size() - o.ntest, o.ntest, o.resolution, dtype);
    split.description = fmt::format("{} (first {} for training, last {} for testing)", o.data, o.ntrain, o.ntest);
    return split;
  }
  check_train_test_pair(o.train_file, o.test_file);
  const data::GridDataset train = data::read_grid_dataset(o.train_file);
  const data::GridDataset test = data::read_grid_dataset(o.test_file);
  check_grid_data(train, o.train_file);
  check_grid_data(test, o.test_file);
  split.periodic = train.periodic;
  NEUROP_CHECK(o.ntrain <= train.size() && o.ntest <= test.size(), ValueError,
               "--ntrain {} / --ntest {} exceed the {} / {} samples in {} / {}", o.ntrain, o.ntest, train.size(),
               test.size(), o.train_file, o.test_file);
  split.train = to_tensors(train, 0, o.ntrain, o.resolution, dtype);
  split.test = to_tensors(test, 0, o.ntest, o.resolution, dtype);
  split.description = fmt::format("{} ({} samples) and {} ({} samples)", o.train_file, o.ntrain, o.test_file, o.ntest);
  return split;
}

// Logs a warning when the training grid (padded as the FNO pads it) has fewer modes than
// `config` requests. The layers then keep every mode of the grid, and the weights of the
// other modes never train, yet a finer grid at evaluation would use them.
void warn_if_modes_exceed_grid(const fno::FnoConfig& config, const Shape& input_shape) {
  Shape padded(input_shape.begin() + 2, input_shape.end());
  for (std::int64_t& extent : padded)
    extent += std::lround(config.padding_fraction * static_cast<double>(extent));
  const std::vector<std::int64_t> used = clamp_modes(padded, config.modes);
  if (used == config.modes) return;
  logger().warn("--modes {} exceeds the modes of the training grid {} ({}); the weights of the other modes are "
                "never trained but would be used on a finer grid at evaluation, so pass --modes {}",
                fmt::join(config.modes, ","), fmt::join(padded, " x "), fmt::join(used, ","),
                fmt::join(used, ","));
}

std::unique_ptr<GridModel> make_model(const TrainOptions& o, const Split& split, DType dtype) {
  NEUROP_CHECK(o.model == "fno" || o.model == "mgno", ValueError,
               "--model {} is not available for grid data; this build trains: fno, mgno", o.model);
  const ModelSize size = model_size_for(o.model, split.train.inputs.ndim() - 2, o.grid,
                                        {.width = o.width, .layers = o.layers, .modes = o.modes});
  if (o.model == "mgno") {
    const GridModelShape shape{.in_channels = split.train.inputs.size(1),
                               .out_channels = split.train.outputs.size(1),
                               .width = size.width,
                               .layers = size.layers,
                               .activation = o.activation,
                               .dtype = dtype,
                               .seed = o.seed};
    return add_normalizers(make_mgno_for_data(o.grid, shape, split.train), o.grid, split.train, split.periodic);
  }
  fno::FnoConfig config;
  config.in_channels = split.train.inputs.size(1);
  config.out_channels = split.train.outputs.size(1);
  config.modes = modes_for(size.modes, static_cast<int>(split.train.inputs.ndim()) - 2);
  config.width = size.width;
  config.layers = size.layers;
  config.projection_width = o.projection_width;
  config.activation = nn::parse_activation(o.activation);
  config.padding_fraction = o.padding;
  config.dtype = dtype;
  config.seed = o.seed;
  warn_if_modes_exceed_grid(config, split.train.inputs.shape());
  return add_normalizers(build_grid_model(config.to_json()), o.grid, split.train, split.periodic);
}

int run_train(const TrainOptions& o) {
  apply_threads(o.threads);
  check_at_least("--epochs", o.epochs, 1);
  check_at_least("--batch-size", o.batch_size, 1);
  check_at_least("--ntrain", o.ntrain, 1);
  check_at_least("--ntest", o.ntest, 1);
  check_positive("--lr", o.learning_rate);
  check_at_least("--checkpoint-every", o.checkpoint_every, 1);
  check_at_least("--evaluate-every", o.evaluate_every, 1);
  check_at_least("--log-every", o.log_every, 1);
  const DType dtype = o.dtype == "float64" ? DType::f64 : DType::f32;
  const Split split = load_split(o, dtype);
  check_split_shapes(split.train, split.test);
  logger().info("data: {}, {} training samples of shape {}", split.description, split.train.inputs.size(0),
                shape_string(Shape(split.train.inputs.shape().begin() + 1, split.train.inputs.shape().end())));

  std::int64_t start_epoch = 0;
  std::unique_ptr<GridModel> model;
  if (!o.resume.empty()) {
    for (const std::string& option : o.architecture_options_given)
      NEUROP_CHECK(false, ValueError,
                   "{} cannot be combined with --resume: the architecture comes from checkpoint '{}'; drop {} to "
                   "resume, or train a new model without --resume",
                   option, o.resume, option);
    const CheckpointInfo info = read_checkpoint_info(o.resume);
    model = build_grid_model(info.model);
    check_model_fits_data(info.model, static_cast<int>(split.train.inputs.ndim() - 2), split.train.inputs.size(1),
                          split.train.outputs.size(1), o.resume, o.data.empty() ? o.train_file : o.data);
    start_epoch = info.epoch;
    NEUROP_CHECK(start_epoch < o.epochs, ValueError,
                 "checkpoint '{}' is already at epoch {} and --epochs is {}; --epochs counts every epoch including "
                 "those before the resume, so pass --epochs greater than {}",
                 o.resume, start_epoch, o.epochs, start_epoch);
  } else {
    model = make_model(o, split, dtype);
  }
  logger().info("model: {}", model->summary());

  auto optimizer = make_optimizer(o, model->module().parameters());
  const std::int64_t steps_per_epoch = (o.ntrain + o.batch_size - 1) / o.batch_size;
  auto schedule = make_schedule(o, steps_per_epoch);
  if (!o.resume.empty()) {
    load_resume_checkpoint(o.resume, model->module(), *optimizer, o.optimizer != "sgd" || o.momentum > 0.0);
    logger().info("resumed from {} after epoch {}", o.resume, start_epoch);
  }
  NEUROP_CHECK(model->forward(slice(split.train.inputs, 0, 0, 1)).shape() == slice(split.train.outputs, 0, 0, 1).shape(),
               ShapeError, "the model output shape does not match the data outputs {}",
               shape_string(split.train.outputs.shape()));

  const GridLoss loss = make_grid_loss(o.loss, split.train);
  const std::filesystem::path checkpoint = o.checkpoint;
  create_parent_folder(checkpoint, "--checkpoint");
  auto write_checkpoint = [&](std::int64_t epoch) {
    CheckpointInfo info;
    info.epoch = epoch;
    info.model = model->to_json();
    info.metadata["data"] = split.description;
    info.metadata["resolution"] = std::to_string(split.train.inputs.size(-1));
    // The training file and sample count let `neurop evaluate` warn when its test
    // samples include training samples.
    info.metadata["train_file"] = std::filesystem::weakly_canonical(o.data.empty() ? o.train_file : o.data).string();
    info.metadata["ntrain"] = std::to_string(o.ntrain);
    save_checkpoint(checkpoint, model->module(), optimizer.get(), info);
  };

  logger().info("training {} epochs (from epoch {}), batch {}, {} lr {}, schedule {} (t counts {}), loss {}", o.epochs,
                start_epoch, o.batch_size, optimizer->name(), o.learning_rate, schedule->describe(),
                o.schedule == "onecycle" ? "optimizer steps" : "epochs", loss.name);
  double last_test = std::numeric_limits<double>::quiet_NaN();
  const train::TrainResult result = train::fit(
      model->module(), *optimizer, *schedule, o.ntrain,
      [&](const std::vector<std::int64_t>& indices) {
        return loss.sum_over_batch(model->forward(index_select(split.train.inputs, 0, indices)),
                                   index_select(split.train.outputs, 0, indices));
      },
      {.epochs = o.epochs,
       .batch_size = o.batch_size,
       .seed = o.seed,
       .start_epoch = start_epoch,
       .schedule_per_step = o.schedule == "onecycle",
       .evaluate_every = o.evaluate_every,
       .checkpoint_every = o.checkpoint_every},
      {.evaluate = [&] { return mean_relative_l2(*model, split.test.inputs, split.test.outputs, o.batch_size); },
       .on_epoch =
           [&](const train::EpochReport& r) {
             if (!std::isnan(r.test_metric)) last_test = r.test_metric;
             print_epoch_line(r, start_epoch,
                              {.loss_name = loss.name, .test_name = "relative L2", .log_every = o.log_every});
           },
       .write_checkpoint = write_checkpoint});

  if (result.status == train::TrainStatus::diverged) {
    write_checkpoint(result.last_good_epoch);
    logger().error("{}", result.message);
    logger().error("checkpoint {} holds the parameters after epoch {}", checkpoint.string(), result.last_good_epoch);
    return kExitDiverged;
  }
  logger().info("finished: train {} {:.6f}, test relative L2 {:.6f} at resolution {}; checkpoint {}", loss.name,
                result.final_train_loss, last_test, split.train.inputs.size(-1), checkpoint.string());
  return kExitOk;
}

// Throws ValueError when --model fno or mgno is given explicitly for a point data set,
// which only the DeepONet path can train.
void check_model_fits_data(const CLI::App& train, const std::string& model) {
  if (train.count("--model") == 0 || model == "deeponet") return;
  for (const char* option : {"--data", "--train"}) {
    const std::string file = train.get_option(option)->as<std::string>();
    NEUROP_CHECK(file.empty() || !is_point_data_file(file), ValueError,
                 "--model {} needs grid data, but {} '{}' is a point data set (the DeepONet layout, with "
                 "spatial_dims = 0); pass --model deeponet or leave --model out for this file, or train {} on a "
                 "grid data set such as one from `neurop generate burgers`",
                 model, option, file, model);
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* sub = app.add_subcommand("train", "train a neural operator on a data set file");
  sub->add_option("--data", o->data, "data set file, split into training (first) and test (last) samples");
  sub->add_option("--train", o->train_file, "training data set file (with --test)");
  sub->add_option("--test", o->test_file, "test data set file (with --train)");
  sub->add_option("--ntrain", o->ntrain, "training samples")->capture_default_str();
  sub->add_option("--ntest", o->ntest, "test samples")->capture_default_str();
  sub->add_option("--resolution", o->resolution, "points per spatial axis to train at (0 = as stored)")
      ->capture_default_str();
  sub->add_option("--model", o->model, "model kind")->check(CLI::IsMember({"fno", "mgno", "deeponet"}))->capture_default_str();
  sub->add_option("--width", o->width, "channels in the hidden layers (default on 2D grids: 32 for fno, 24 for mgno)")
      ->capture_default_str();
  sub->add_option("--modes", o->modes,
                  "Fourier modes per axis (one count, or one per axis: 12,12; default on 2D grids: 12)")
      ->capture_default_str();
  sub->add_option("--layers", o->layers, "Fourier or multigrid layers (default for mgno on 2D grids: 5)")
      ->capture_default_str();
  sub->add_option("--projection-width", o->projection_width, "hidden channels of the projection")
      ->capture_default_str();
  sub->add_option("--activation", o->activation, "activation: gelu, relu, tanh, selu, sigmoid")
      ->capture_default_str();
  sub->add_option("--padding", o->padding, "domain padding as a fraction of each axis (non-periodic data)")
      ->capture_default_str();
  sub->add_option("--dtype", o->dtype, "float32 or float64")
      ->check(CLI::IsMember({"float32", "float64"}))
      ->capture_default_str();
  sub->add_option("--epochs", o->epochs, "total epochs (including those of a resumed run)")->capture_default_str();
  sub->add_option("--batch-size", o->batch_size, "samples per optimizer step")->capture_default_str();
  sub->add_option("--lr", o->learning_rate, "initial learning rate (> 0)")->capture_default_str();
  sub->add_option("--optimizer", o->optimizer, "adam (L2 weight decay), adamw (decoupled) or sgd")
      ->check(CLI::IsMember({"adam", "adamw", "sgd"}))
      ->capture_default_str();
  sub->add_option("--weight-decay", o->weight_decay, "weight decay")->capture_default_str();
  sub->add_option("--momentum", o->momentum, "SGD momentum")->capture_default_str();
  sub->add_option("--schedule", o->schedule, "learning-rate schedule: step, cosine, onecycle, constant")
      ->check(CLI::IsMember({"step", "cosine", "onecycle", "constant"}))
      ->capture_default_str();
  sub->add_option("--step-size", o->step_size, "epochs between decays of the step schedule")->capture_default_str();
  sub->add_option("--gamma", o->gamma, "decay factor of the step schedule")->capture_default_str();
  sub->add_option("--loss", o->loss, "training loss: relative-l2, mse or h1 (relative H1, 2D grids)")
      ->check(CLI::IsMember({"relative-l2", "mse", "h1"}))
      ->capture_default_str();
  sub->add_option("--seed", o->seed, "seed of the weights and the shuffling")->capture_default_str();
  sub->add_option("--checkpoint", o->checkpoint, "checkpoint file to write (atomically)")->capture_default_str();
  sub->add_option("--checkpoint-every", o->checkpoint_every,
                  "epochs between checkpoint writes (>= 1; the last epoch is always written)")
      ->capture_default_str();
  sub->add_option("--evaluate-every", o->evaluate_every,
                  "epochs between test evaluations (>= 1; the last epoch is always evaluated)")
      ->capture_default_str();
  sub->add_option("--log-every", o->log_every,
                  "epochs between progress lines (>= 1; the last epoch is always printed)")
      ->capture_default_str();
  sub->add_option("--resume", o->resume, "continue from this checkpoint (model, optimizer state and epoch)");
  sub->add_option("--threads", o->threads, fmt::format("threads (0 = all cores, at most {})", kMaxThreads))
      ->capture_default_str();
  add_grid_training_options(*sub, o->grid);
  add_deeponet_train_options(*sub);
  sub->callback([o, sub] {
    record_given_options(*sub, o->grid);
    for (const char* option : {"--model", "--width", "--modes", "--layers", "--projection-width", "--activation",
                               "--padding", "--dtype"})
      if (sub->count(option) > 0) o->architecture_options_given.emplace_back(option);
    check_model_fits_data(*sub, o->model);
    // --resume and --checkpoint may name one file: the run reads it before writing it.
    check_distinct_outputs({{"--data", o->data}, {"--train", o->train_file}, {"--test", o->test_file}},
                           {{"--checkpoint", o->checkpoint}});
    command_exit_code() = is_deeponet_training(*sub) ? run_deeponet_train(*sub) : run_train(*o);
  });
}

}  // namespace neurop::app
