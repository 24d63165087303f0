// The DeepONet paths of `neurop train` and `neurop evaluate`.
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "apps/common.hpp"
#include "apps/deeponet_commands.hpp"
#include "apps/deeponet_data.hpp"
#include "lib/autodiff/graph.hpp"
#include "lib/core/error.hpp"
#include "lib/core/log.hpp"
#include "lib/io/checkpoint.hpp"
#include "lib/io/hdf5.hpp"
#include "lib/nn/loss.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/optim/schedule.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/train/trainer.hpp"
#include "operators/deeponet/config.hpp"
#include "operators/deeponet/physics.hpp"

namespace neurop::app {
namespace {

using deeponet::DeepOnetConfig;
using deeponet::DeepOnetModel;
using deeponet::Form;

// ---- reading the parsed options ----

bool given(const CLI::App& app, const char* name) { return app.get_option(name)->count() > 0; }

template <typename T>
T value_of(const CLI::App& app, const char* name) {
  return app.get_option(name)->as<T>();
}

// The user's value, or `fallback` when the option was not given (the shared defaults
// of `train` suit the FNO, not DeepONet).
template <typename T>
T value_or(const CLI::App& app, const char* name, T fallback) {
  return given(app, name) ? value_of<T>(app, name) : fallback;
}

struct TrainSettings {
  std::string data, train_file, test_file;
  std::int64_t ntrain = 0, ntest = 0;
  std::string form;
  std::string physics;
  double initial_weight = 1.0;
  std::int64_t epochs = 0, batch_size = 0;
  // Last epoch of this run; the schedule still spans `epochs`, so --resume continues it.
  std::int64_t stop_epoch = 0;
  double learning_rate = 0, weight_decay = 0, momentum = 0, gamma = 0;
  std::string optimizer, schedule, loss;
  std::int64_t step_size = 0;
  std::uint64_t seed = 0;
  std::string checkpoint, resume;
  std::int64_t checkpoint_every = 0, evaluate_every = 0, log_every = 0;
  int threads = 0;
  DType dtype = DType::f32;
};

TrainSettings read_train_settings(const CLI::App& app) {
  TrainSettings s;
  s.data = value_of<std::string>(app, "--data");
  s.train_file = value_of<std::string>(app, "--train");
  s.test_file = value_of<std::string>(app, "--test");
  s.ntrain = value_of<std::int64_t>(app, "--ntrain");
  s.ntest = value_of<std::int64_t>(app, "--ntest");

  s.form = value_of<std::string>(app, "--form");
  s.physics = value_of<std::string>(app, "--physics");
  s.initial_weight = value_of<double>(app, "--initial-weight");

  s.epochs = value_or<std::int64_t>(app, "--epochs", 10000);
  s.stop_epoch = value_or<std::int64_t>(app, "--stop-epoch", s.epochs);
  // 0 stands for full-batch steps, resolved once the training set size is known.
  s.batch_size = value_or<std::int64_t>(app, "--batch-size", 0);
  s.learning_rate = value_of<double>(app, "--lr");
  s.weight_decay = value_or<double>(app, "--weight-decay", 0.0);
  s.momentum = value_of<double>(app, "--momentum");
  s.optimizer = value_of<std::string>(app, "--optimizer");
  s.schedule = value_or<std::string>(app, "--schedule", "constant");
  s.step_size = value_of<std::int64_t>(app, "--step-size");
  s.gamma = value_of<double>(app, "--gamma");
  s.loss = value_or<std::string>(app, "--loss", "mse");

  s.seed = value_of<std::uint64_t>(app, "--seed");
  s.checkpoint = value_of<std::string>(app, "--checkpoint");
  s.resume = value_of<std::string>(app, "--resume");
  s.evaluate_every = value_or<std::int64_t>(app, "--evaluate-every", std::max<std::int64_t>(1, s.epochs / 20));
  s.checkpoint_every = value_or<std::int64_t>(app, "--checkpoint-every", s.evaluate_every);
  s.log_every = value_or<std::int64_t>(app, "--log-every", s.evaluate_every);
  s.threads = value_of<int>(app, "--threads");
  s.dtype = value_of<std::string>(app, "--dtype") == "float64" ? DType::f64 : DType::f32;
  return s;
}

// ---- data ----

struct Split {
  OperatorData train, test;
  std::string description;
};

Split load_split(const TrainSettings& s) {
  Split split;
  if (!s.data.empty()) {
    NEUROP_CHECK(s.train_file.empty() && s.test_file.empty(), ValueError,
                 "give either --data (one file, split into the first --ntrain and last --ntest samples) or --train "
                 "and --test, not both");
    const OperatorData all = read_operator_data(s.data, s.dtype);
    NEUROP_CHECK(s.ntrain + s.ntest <= all.size(), ValueError,
                 "{} contains {} samples, fewer than --ntrain {} + --ntest {}; lower them or generate more samples",
                 s.data, all.size(), s.ntrain, s.ntest);
    split.train = select_samples(all, 0, s.ntrain);
    split.test = select_samples(all, all.size() - s.ntest, s.ntest);
    split.description = fmt::format("{} (first {} for training, last {} for testing)", s.data, s.ntrain, s.ntest);
    return split;
  }
  check_train_test_pair(s.train_file, s.test_file);
  const OperatorData train = read_operator_data(s.train_file, s.dtype);
  const OperatorData test = read_operator_data(s.test_file, s.dtype);
  NEUROP_CHECK(s.ntrain <= train.size() && s.ntest <= test.size(), ValueError,
               "--ntrain {} / --ntest {} exceed the {} / {} samples in {} / {}", s.ntrain, s.ntest, train.size(),
               test.size(), s.train_file, s.test_file);
  check_compatible(train, test, s.train_file, s.test_file);
  split.train = select_samples(train, 0, s.ntrain);
  split.test = select_samples(test, 0, s.ntest);
  split.description =
      fmt::format("{} ({} samples) and {} ({} samples)", s.train_file, s.ntrain, s.test_file, s.ntest);
  return split;
}

// The form a data layout calls for, or the one requested with --form.
Form choose_form(const std::string& requested, const OperatorData& data) {
  const Form natural = data.layout == data::QueryLayout::product ? Form::cartesian_product : Form::aligned;
  if (requested == "auto") return natural;
  const Form form = deeponet::parse_form(requested);
  NEUROP_CHECK(form == Form::aligned || data.layout == data::QueryLayout::product, ValueError,
               "--form product needs one query set shared by all functions, but the data have the aligned layout "
               "(query points per function); use --form aligned or auto");
  return form;
}

// Queries in the shape `form` takes for the samples of `data`: [P, d] or [B, P, d].
Tensor queries_for(const OperatorData& data, Form form) {
  if (form == Form::cartesian_product || data.layout == data::QueryLayout::aligned) return data.queries;
  const std::int64_t points = data.query_count(), dims = data.query_dims();
  return broadcast_to(reshape(data.queries, {1, points, dims}), {data.size(), points, dims});
}

// ---- metrics ----

struct Metrics {
  double mse = 0.0;          // mean over samples, points and components
  double relative_l2 = 0.0;  // mean over samples of ||G(u) - s|| / ||s||
  double max_abs_error = 0.0;
};

Metrics evaluate_metrics(const DeepOnetModel& model, const OperatorData& test, Form form, std::int64_t batch_size) {
  NoGradGuard no_grad;
  Metrics metrics;
  double squared_sum = 0.0, relative_sum = 0.0;
  std::int64_t values = 0;
  for (std::int64_t first = 0; first < test.size(); first += batch_size) {
    const std::int64_t count = std::min(batch_size, test.size() - first);
    const OperatorData batch = select_samples(test, first, count);
    const Tensor prediction = model.forward(batch.inputs, queries_for(batch, form), form).to(DType::f64);
    const std::vector<double> predicted = prediction.to_vector();
    const std::vector<double> expected = batch.outputs.to(DType::f64).to_vector();
    const std::size_t per_sample = predicted.size() / static_cast<std::size_t>(count);
    for (std::int64_t b = 0; b < count; ++b) {
      double error = 0.0, norm = 0.0;
      for (std::size_t i = 0; i < per_sample; ++i) {
        const std::size_t k = static_cast<std::size_t>(b) * per_sample + i;
        const double difference = predicted[k] - expected[k];
        error += difference * difference;
        norm += expected[k] * expected[k];
        metrics.max_abs_error = std::max(metrics.max_abs_error, std::abs(difference));
      }
      squared_sum += error;
      // A zero target (s = 0 for u = 0) has no relative error; it counts as exact or as 1.
      relative_sum += norm > 0.0 ? std::sqrt(error / norm) : (error > 0.0 ? 1.0 : 0.0);
    }
    values += static_cast<std::int64_t>(predicted.size());
  }
  metrics.mse = squared_sum / static_cast<double>(values);
  metrics.relative_l2 = relative_sum / static_cast<double>(test.size());
  return metrics;
}

// ---- building the model ----

std::vector<std::int64_t> widths_with_input(std::int64_t input, const std::string& text, const char* option) {
  std::vector<std::int64_t> widths = {input};
  const std::vector<std::int64_t> rest = parse_int_list(text, option);
  widths.insert(widths.end(), rest.begin(), rest.end());
  return widths;
}

DeepOnetConfig make_config(const CLI::App& app, const TrainSettings& s, const OperatorData& train) {
  DeepOnetConfig config;
  config.variant = deeponet::parse_variant(value_of<std::string>(app, "--variant"));
  config.branch_widths = widths_with_input(train.sensor_count(), value_of<std::string>(app, "--branch"), "--branch");
  config.trunk_widths = widths_with_input(train.query_dims(), value_of<std::string>(app, "--trunk"), "--trunk");
  config.activation = nn::parse_activation(value_or<std::string>(app, "--activation", "relu"));
  config.trunk_final_activation = value_of<bool>(app, "--trunk-final-activation");
  config.initializer = deeponet::parse_initializer(value_of<std::string>(app, "--initializer"));

  config.outputs = config.variant == deeponet::Variant::pod ? 1 : train.output_channels();
  config.multi_output = deeponet::parse_multi_output(value_of<std::string>(app, "--multi-output"));
  config.fourier_modes = value_of<std::int64_t>(app, "--fourier-modes");
  if (config.fourier_modes > 0) {
    double period = value_of<double>(app, "--fourier-period");
    if (period == 0.0) {
      NEUROP_CHECK(!train.periods.empty(), ValueError,
                   "--fourier-modes makes the model periodic, but the data are not on a periodic grid; give the "
                   "period with --fourier-period if periodicity is intended");
      for (const double axis_period : train.periods) {
        NEUROP_CHECK(std::abs(axis_period - train.periods.front()) <= 1e-12 * axis_period, ValueError,
                     "the grid axes have different periods ({} and {}); give one with --fourier-period",
                     train.periods.front(), axis_period);
      }
      period = train.periods.front();
    }
    config.fourier_period = period;
  }

  config.domain = train.domain;
  config.extrapolate = given(app, "--extrapolate");
  config.dtype = s.dtype;
  config.seed = s.seed;

  if (config.variant == deeponet::Variant::pod) {
    NEUROP_CHECK(train.layout == data::QueryLayout::product, ValueError,
                 "--variant pod needs one query set shared by all functions (the product layout): the POD modes are "
                 "computed at those points, but this data set has query points per function");
    config.pod_output_shape = train.output_channels() == 1 ? Shape{train.query_count()}
                                                           : Shape{train.query_count(), train.output_channels()};
  }
  return config;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainSettings& s, std::vector<Tensor> parameters) {
  if (s.optimizer == "adam")
    return std::make_unique<optim::Adam>(std::move(parameters), optim::AdamOptions{.learning_rate = s.learning_rate,
                                                                                   .weight_decay = s.weight_decay});
  if (s.optimizer == "adamw")
    return std::make_unique<optim::AdamW>(std::move(parameters), optim::AdamOptions{.learning_rate = s.learning_rate,
                                                                                    .weight_decay = s.weight_decay});
  return std::make_unique<optim::Sgd>(std::move(parameters),
                                      optim::SgdOptions{.learning_rate = s.learning_rate,
                                                        .momentum = s.momentum,
                                                        .weight_decay = s.weight_decay});
}

std::unique_ptr<optim::Schedule> make_schedule(const TrainSettings& s, std::int64_t steps_per_epoch) {
  if (s.schedule == "step") return std::make_unique<optim::StepSchedule>(s.learning_rate, s.step_size, s.gamma);
  if (s.schedule == "cosine") return std::make_unique<optim::CosineSchedule>(s.learning_rate, s.epochs);
  if (s.schedule == "onecycle")
    return std::make_unique<optim::OneCycleSchedule>(s.learning_rate, s.epochs * steps_per_epoch);
  return std::make_unique<optim::ConstantSchedule>(s.learning_rate);
}

// ---- losses ----

// Returns the loss of a batch summed over its samples (the trainer's convention).
using BatchLoss = std::function<Tensor(const OperatorData& batch)>;

BatchLoss make_data_loss(const DeepOnetModel& model, Form form, const std::string& loss_name) {
  NEUROP_CHECK(loss_name == "mse" || loss_name == "relative-l2", ValueError,
               "--loss {} is not available for DeepONet; use mse or relative-l2", loss_name);
  const nn::Loss loss{loss_name == "mse" ? nn::LossKind::mse : nn::LossKind::relative_l2, nn::Reduction::sum};
  return [&model, form, loss](const OperatorData& batch) {
    return loss(model.forward(batch.inputs, queries_for(batch, form), form), batch.outputs);
  };
}

BatchLoss make_physics_loss(const DeepOnetModel& model, const OperatorData& train, deeponet::Ode ode,
                            double initial_weight) {
  const deeponet::DeepOnet* network = model.deeponet();
  NEUROP_CHECK(network != nullptr, ValueError,
               "--physics needs a trunk net to differentiate; the POD variant has none (use unstacked or stacked)");
  NEUROP_CHECK(train.query_dims() == 1 && train.output_channels() == 1 && train.sensors.size(1) == 1, ValueError,
               "--physics {} needs one-dimensional inputs and queries with one output component, got {}-dimensional "
               "queries and {} output components",
               deeponet::ode_name(ode), train.query_dims(), train.output_channels());
  if (train.generator != deeponet::ode_name(ode) &&
      !(ode == deeponet::Ode::nonlinear && train.generator == "nonlinear_ode")) {
    logger().warn("--physics {} on data from the '{}' generator: the test error compares with that generator's "
                  "outputs",
                  deeponet::ode_name(ode), train.generator);
  }
  const double x0 = train.domain.lower.front();
  // Collocation points: the sensors [m, 1], where u is known exactly, shared by all
  // functions (the product form needs the trunk Jacobian at these m points only).
  const Tensor collocation = train.sensors;
  return [network, ode, initial_weight, x0, collocation](const OperatorData& batch) {
    const deeponet::PhysicsLossTerms terms = deeponet::ode_residual_loss(
        *network, ode, batch.inputs, collocation, batch.inputs, x0, Form::cartesian_product, initial_weight);
    return affine(terms.total, static_cast<double>(batch.size()), 0.0);
  };
}

// Throws ValueError naming `file` when its query dimension or output component count
// differs from the model's; the sensor count is checked by the caller.
void check_evaluation_data(const DeepOnetConfig& config, const OperatorData& data, const std::string& file) {
  if (config.variant == deeponet::Variant::pod) {
    const Shape per_sample = data.output_channels() == 1 ? Shape{data.query_count()}
                                                         : Shape{data.query_count(), data.output_channels()};
    NEUROP_CHECK(per_sample == config.pod_output_shape, ValueError,
                 "{} has outputs of shape {} per function, but the POD model predicts {} (its training query points "
                 "and output components); evaluate it on data with the training query points",
                 file, shape_string(per_sample), shape_string(config.pod_output_shape));
    return;
  }
  NEUROP_CHECK(data.query_dims() == config.trunk_widths.front(), ValueError,
               "{} has {}-dimensional query points, but the model was trained on {}-dimensional ones", file,
               data.query_dims(), config.trunk_widths.front());
  NEUROP_CHECK(data.output_channels() == config.outputs, ValueError,
               "{} has {} output components per query point, but the model predicts {}", file, data.output_channels(),
               config.outputs);
}

}  // namespace

void add_deeponet_train_options(CLI::App& train) {
  train.add_option("--variant",
                   "DeepONet variant: unstacked, stacked (p branch nets) or pod (POD modes as trunk). Unless given, "
                   "DeepONet runs use --activation relu --loss mse --schedule constant --weight-decay 0 --epochs "
                   "10000 and full-batch steps")
      ->check(CLI::IsMember({"unstacked", "stacked", "pod"}))
      ->default_val("unstacked");
  train.add_option("--branch", "DeepONet branch widths after the m sensor inputs; the last is p, e.g. 40,40")
      ->default_val("40,40");
  train.add_option("--trunk", "DeepONet trunk widths after the d query coordinates; the last is p, e.g. 40,40")
      ->default_val("40,40");

  train.add_option("--form", "DeepONet form: auto (from the data layout), product or aligned")
      ->check(CLI::IsMember({"auto", "product", "aligned"}))
      ->default_val("auto");
  train.add_option("--trunk-final-activation", "DeepONet: apply the activation after the trunk's last layer (true or false)")
      ->default_val("true");
  train.add_option("--initializer", "DeepONet weights: glorot-normal (zero biases) or fan-in-uniform")
      ->check(CLI::IsMember({"glorot-normal", "fan-in-uniform"}))
      ->default_val("glorot-normal");
  train.add_option("--multi-output", "DeepONet with several output components: split-trunk or split-branch")
      ->check(CLI::IsMember({"split-trunk", "split-branch"}))
      ->default_val("split-trunk");

  train.add_option("--fourier-modes", "DeepONet: periodic Fourier features cos/sin(2 pi k y / L), k = 1..K, as trunk "
                                      "input (0 = raw coordinates)")
      ->default_val("0");
  train.add_option("--fourier-period", "DeepONet: the period L of the Fourier features (0 = the period of the data "
                                       "grid)")
      ->default_val("0");
  const std::string extrapolate_help = "DeepONet: accept query points outside the training domain";
  train.add_flag("--extrapolate", extrapolate_help);

  train.add_option("--physics", "DeepONet: train on the residual of this equation instead of the outputs: none, "
                                "antiderivative or nonlinear-ode")
      ->check(CLI::IsMember({"none", "antiderivative", "nonlinear-ode"}))
      ->default_val("none");
  train.add_option("--initial-weight", "DeepONet --physics: weight of the initial condition s(x_0) = 0 in the loss")
      ->default_val("1");
  train.add_option("--stop-epoch", "DeepONet: stop after this epoch (default: --epochs) while the learning-rate "
                                   "schedule still spans --epochs, so that a run with --resume continues it");
}

bool is_deeponet_training(const CLI::App& train) {
  if (value_of<std::string>(train, "--model") == "deeponet") return true;
  const std::string data = value_of<std::string>(train, "--data");
  const std::string file = data.empty() ? value_of<std::string>(train, "--train") : data;
  return !file.empty() && is_point_data_file(file);
}

int run_deeponet_train(const CLI::App& app) {
  const TrainSettings s = read_train_settings(app);
  apply_threads(s.threads);
  check_at_least("--epochs", s.epochs, 1);
  NEUROP_CHECK(s.batch_size >= 0, ValueError,
               "--batch-size {} is invalid: expected an integer >= 1, or 0 for full-batch steps", s.batch_size);
  check_at_least("--ntrain", s.ntrain, 1);
  check_at_least("--ntest", s.ntest, 1);
  check_positive("--lr", s.learning_rate);
  // --checkpoint-every and --log-every default to --evaluate-every, so that one comes first.
  check_at_least("--evaluate-every", s.evaluate_every, 1);
  check_at_least("--checkpoint-every", s.checkpoint_every, 1);
  check_at_least("--log-every", s.log_every, 1);
  NEUROP_CHECK(s.stop_epoch >= 1 && s.stop_epoch <= s.epochs, ValueError,
               "--stop-epoch {} is out of range; pass an epoch between 1 and --epochs {}", s.stop_epoch, s.epochs);
  const Split split = load_split(s);
  const OperatorData& train = split.train;
  logger().info("data: {}; {} sensors, {} query points of dimension {} per function ({} layout), {} output "
                "components",
                split.description, train.sensor_count(), train.query_count(), train.query_dims(),
                data::to_string(train.layout), train.output_channels());

  std::int64_t start_epoch = 0;
  DeepOnetConfig config;
  std::unique_ptr<DeepOnetModel> model;
  if (!s.resume.empty()) {
    const CheckpointInfo info = read_checkpoint_info(s.resume);
    NEUROP_CHECK(deeponet::is_deeponet_description(info.model), ValueError,
                 "--resume {} contains another kind of model, but these data need a DeepONet", s.resume);
    config = DeepOnetConfig::from_json(info.model);
    model = std::make_unique<DeepOnetModel>(config);
    start_epoch = info.epoch;
    NEUROP_CHECK(start_epoch < s.stop_epoch, ValueError,
                 "--resume {} was written after epoch {}, so training to epoch {} has nothing left to do; raise "
                 "--epochs or --stop-epoch",
                 s.resume, start_epoch, s.stop_epoch);
  } else {
    config = make_config(app, s, train);
    if (config.variant == deeponet::Variant::pod) {
      const deeponet::PodBasis basis = deeponet::compute_pod_basis(train.outputs, config.latent_width(), s.dtype);
      logger().info("POD: {} modes capture {:.6f} of the training output variance", config.latent_width(),
                    basis.captured_variance);
      model = std::make_unique<DeepOnetModel>(config, &basis);
    } else {
      model = std::make_unique<DeepOnetModel>(config);
    }
  }
  NEUROP_CHECK(config.sensors() == train.sensor_count(), ValueError,
               "the model takes {} sensor values per function but the data have {}", config.sensors(),
               train.sensor_count());
  logger().info("model: {}", model->describe());

  const Form form = model->pod() ? Form::cartesian_product : choose_form(s.form, train);
  const std::string physics = s.physics;
  const bool physics_informed = physics != "none";
  const BatchLoss batch_loss =
      physics_informed ? make_physics_loss(*model, train, deeponet::parse_ode(physics), s.initial_weight)
                       : make_data_loss(*model, form, s.loss);
  const std::string loss_name = physics_informed ? fmt::format("{} residual", physics) : s.loss;
  const Form test_form = model->pod() ? Form::cartesian_product : choose_form("auto", split.test);

  const std::int64_t batch_size = s.batch_size == 0 ? train.size() : s.batch_size;
  auto optimizer = make_optimizer(s, model->trainable_parameters());
  auto schedule = make_schedule(s, (train.size() + batch_size - 1) / batch_size);
  if (!s.resume.empty()) {
    load_resume_checkpoint(s.resume, model->module(), *optimizer, s.optimizer != "sgd" || s.momentum > 0.0);
    logger().info("resumed from {} after epoch {}", s.resume, start_epoch);
  }

  const std::filesystem::path checkpoint = s.checkpoint;
  if (checkpoint.has_parent_path()) std::filesystem::create_directories(checkpoint.parent_path());
  auto write_checkpoint = [&](std::int64_t epoch) {
    CheckpointInfo info;
    info.epoch = epoch;
    info.model = model->to_json();
    info.metadata["data"] = split.description;
    info.metadata["form"] = deeponet::form_name(form);
    info.metadata["loss"] = loss_name;
    save_checkpoint(checkpoint, model->module(), optimizer.get(), info);
  };

  logger().info("training epochs {} to {} of {}, {} functions per step ({} form), {} lr {}, schedule {} (t counts {}), "
                "loss {}",
                start_epoch + 1, s.stop_epoch, s.epochs, batch_size, deeponet::form_name(form), optimizer->name(), s.learning_rate,
                schedule->describe(), s.schedule == "onecycle" ? "optimizer steps" : "epochs", loss_name);
  const std::int64_t test_batch = std::max<std::int64_t>(batch_size, 100);
  const train::TrainResult result = train::fit(
      model->module(), *optimizer, *schedule, train.size(),
      [&](const std::vector<std::int64_t>& indices) { return batch_loss(gather_samples(train, indices)); },
      {.epochs = s.stop_epoch,
       .batch_size = batch_size,
       .seed = s.seed,
       .start_epoch = start_epoch,
       .schedule_per_step = s.schedule == "onecycle",
       .evaluate_every = s.evaluate_every,
       .checkpoint_every = s.checkpoint_every},
      {.evaluate = [&] { return evaluate_metrics(*model, split.test, test_form, test_batch).mse; },
       .on_epoch =
           [&](const train::EpochReport& r) {
             print_epoch_line(r, start_epoch,
                              {.loss_name = loss_name,
                               .test_name = "MSE",
                               .scientific = true,
                               .milliseconds = true,
                               .epoch_width = 5,
                               .log_every = s.log_every});
           },
       .write_checkpoint = write_checkpoint});

  if (result.status == train::TrainStatus::diverged) {
    write_checkpoint(result.last_good_epoch);
    logger().error("{}", result.message);
    logger().error("checkpoint {} contains the parameters after epoch {}", checkpoint.string(), result.last_good_epoch);
    return kExitDiverged;
  }
  const Metrics metrics = evaluate_metrics(*model, split.test, test_form, test_batch);
  logger().info("finished: train {} {:.4e}, test MSE {:.4e}, test relative L2 {:.4e}, max error {:.3e}; checkpoint {}",
                loss_name, result.final_train_loss, metrics.mse, metrics.relative_l2, metrics.max_abs_error,
                checkpoint.string());
  return kExitOk;
}

bool is_deeponet_evaluation(const CLI::App& evaluate) {
  try {
    return deeponet::is_deeponet_description(read_checkpoint_info(value_of<std::string>(evaluate, "--checkpoint")).model);
  } catch (const std::exception&) {
    return false;
  }
}

int run_deeponet_evaluate(const CLI::App& app) {
  apply_threads(value_of<int>(app, "--threads"));
  const std::string checkpoint = value_of<std::string>(app, "--checkpoint");
  const std::string data = value_of<std::string>(app, "--data");
  const std::string test_file = value_of<std::string>(app, "--test");
  const std::int64_t ntest = value_of<std::int64_t>(app, "--ntest");
  const std::int64_t batch_size = value_of<std::int64_t>(app, "--batch-size");
  NEUROP_CHECK(data.empty() != test_file.empty(), ValueError,
               "give exactly one of --data FILE (its last --ntest samples) or --test FILE (its first --ntest samples)");
  NEUROP_CHECK(!given(app, "--resolutions"), ValueError,
               "--resolutions does not apply to a DeepONet: its branch net takes the input functions at the fixed "
               "sensors of its training data");
  NEUROP_CHECK(batch_size >= 1, ValueError, "--batch-size must be >= 1, got {}", batch_size);
  NEUROP_CHECK(!given(app, "--save-predictions"), ValueError,
               "--save-predictions is not available for a DeepONet checkpoint ('{}'): prediction files hold grid "
               "samples; drop --save-predictions",
               checkpoint);

  const CheckpointInfo info = read_checkpoint_info(checkpoint);
  const DeepOnetConfig config = DeepOnetConfig::from_json(info.model);
  const DeepOnetModel model(config);
  load_checkpoint(checkpoint, model.module(), nullptr);
  logger().info("model: {} (epoch {}, from {})", model.describe(), info.epoch, checkpoint);

  const std::string file = data.empty() ? test_file : data;
  const OperatorData all = read_operator_data(file, config.dtype);
  NEUROP_CHECK(ntest >= 1 && ntest <= all.size(), ValueError,
               "--ntest {} is out of range: {} contains {} samples; pass --ntest between 1 and {}", ntest, file,
               all.size(), all.size());
  NEUROP_CHECK(all.sensor_count() == config.sensors(), ValueError,
               "{} samples the input functions at {} sensors, but the model was trained with {}", file,
               all.sensor_count(), config.sensors());
  check_evaluation_data(config, all, file);
  const OperatorData test = select_samples(all, data.empty() ? 0 : all.size() - ntest, ntest);
  const Form form = model.pod() ? Form::cartesian_product : choose_form("auto", test);

  const auto start = std::chrono::steady_clock::now();
  const Metrics metrics = evaluate_metrics(model, test, form, batch_size);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("{:>7}  {:>12}  {:>12}  {:>12}  {:>8}\n", "samples", "MSE", "relative L2", "max error", "seconds");
  fmt::print("{:>7}  {:>12.4e}  {:>12.4e}  {:>12.4e}  {:>8.2f}\n", ntest, metrics.mse, metrics.relative_l2,
             metrics.max_abs_error, seconds);
  std::fflush(stdout);

  const std::string out = value_of<std::string>(app, "--out");
  if (!out.empty()) {
    const nlohmann::json report = {{"checkpoint", checkpoint},
                                   {"epoch", info.epoch},
                                   {"data", file},
                                   {"samples", ntest},
                                   {"mse", metrics.mse},
                                   {"relative_l2", metrics.relative_l2},
                                   {"max_abs_error", metrics.max_abs_error},
                                   {"seconds", seconds}};
    write_text_atomically(out, report.dump(2) + "\n");
  }
  const std::string markdown = value_of<std::string>(app, "--markdown");
  if (!markdown.empty()) {
    write_text_atomically(markdown, fmt::format("| test samples | MSE | relative L2 error | max error |\n"
                                                "|---:|---:|---:|---:|\n| {} | {:.4e} | {:.4e} | {:.4e} |\n",
                                                ntest, metrics.mse, metrics.relative_l2, metrics.max_abs_error));
  }
  return kExitOk;
}

}  // namespace neurop::app
