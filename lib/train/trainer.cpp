#include "lib/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "lib/autodiff/graph.hpp"
#include "lib/core/error.hpp"
#include "lib/core/log.hpp"
#include "lib/core/random.hpp"

namespace neurop::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Deep copies of the parameters and optimizer state, to roll back a diverged epoch.
struct Snapshot {
  std::vector<Tensor> parameters;
  std::vector<std::map<std::string, Tensor>> state;
  std::int64_t steps = 0;

  void take(const nn::Module& model, optim::Optimizer& optimizer) {
    parameters.clear();
    for (const Tensor& p : model.parameters()) parameters.push_back(p.detach().clone());
    state.clear();
    for (const auto& entry : optimizer.state()) {
      std::map<std::string, Tensor> copy;
      for (const auto& [key, value] : entry) copy[key] = value.detach().clone();
      state.push_back(std::move(copy));
    }
    steps = optimizer.steps();
  }

  void restore(nn::Module& model, optim::Optimizer& optimizer) const {
    std::vector<Tensor> current = model.parameters();
    for (std::size_t i = 0; i < current.size(); ++i) current[i].copy_(parameters[i]);
    optimizer.state() = state;
    optimizer.set_steps(steps);
    model.zero_grad();
  }
};

}  // namespace

std::vector<std::int64_t> epoch_order(std::int64_t size, std::uint64_t seed, std::int64_t epoch, bool shuffle) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) return order;
  Rng rng = Rng::stream(seed, static_cast<std::uint64_t>(epoch));
  // Fisher-Yates.
  for (std::int64_t i = size - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

TrainResult fit(nn::Module& model, optim::Optimizer& optimizer, const optim::Schedule& schedule,
                std::int64_t train_size, const BatchLoss& batch_loss, const TrainerOptions& options,
                const TrainerHooks& hooks) {
  NEUROP_CHECK(train_size >= 1, ValueError, "fit: the training set is empty");
  NEUROP_CHECK(options.batch_size >= 1, ValueError, "fit: batch size must be >= 1, got {}", options.batch_size);
  NEUROP_CHECK(options.epochs >= options.start_epoch, ValueError,
               "fit: {} epochs planned but {} already done; raise the epoch count to continue training",
               options.epochs, options.start_epoch);
  const auto start = Clock::now();
  const std::int64_t batches = (train_size + options.batch_size - 1) / options.batch_size;

  Snapshot last_good;
  last_good.take(model, optimizer);
  TrainResult result;
  result.last_good_epoch = options.start_epoch;
  std::int64_t step = optimizer.steps();

  for (std::int64_t epoch = options.start_epoch; epoch < options.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    if (!options.schedule_per_step) optimizer.set_learning_rate(schedule.rate(epoch));
    const std::vector<std::int64_t> order = epoch_order(train_size, options.seed, epoch);
    double loss_total = 0.0;

    for (std::int64_t b = 0; b < batches; ++b) {
      const std::int64_t first = b * options.batch_size;
      const std::int64_t last = std::min(train_size, first + options.batch_size);
      const std::vector<std::int64_t> indices(order.begin() + first, order.begin() + last);
      if (options.schedule_per_step) optimizer.set_learning_rate(schedule.rate(step));

      optimizer.zero_grad();
      const Tensor loss = batch_loss(indices);
      const double value = loss.item();
      if (!std::isfinite(value)) {
        last_good.restore(model, optimizer);
        result.status = TrainStatus::diverged;
        result.message = fmt::format(
            "training diverged: the loss became {} in epoch {}, batch {} of {}; parameters were restored to the end "
            "of epoch {}. Lower the learning rate (now {:.3g}) or check the data for outliers",
            value, epoch + 1, b + 1, batches, result.last_good_epoch, optimizer.learning_rate());
        return result;
      }
      loss.backward();
      optimizer.step();
      ++step;
      loss_total += value;
    }

    EpochReport report;
    report.epoch = epoch + 1;
    report.epochs = options.epochs;
    report.train_loss = loss_total / static_cast<double>(train_size);
    report.learning_rate = optimizer.learning_rate();
    report.test_metric = std::numeric_limits<double>::quiet_NaN();
    const bool last_epoch = epoch + 1 == options.epochs;
    if (hooks.evaluate && (last_epoch || (epoch + 1) % std::max<std::int64_t>(options.evaluate_every, 1) == 0)) {
      NoGradGuard no_grad;
      report.test_metric = hooks.evaluate();
    }
    result.last_good_epoch = epoch + 1;
    result.final_train_loss = report.train_loss;
    last_good.take(model, optimizer);
    if (hooks.write_checkpoint &&
        (last_epoch || (epoch + 1) % std::max<std::int64_t>(options.checkpoint_every, 1) == 0)) {
      hooks.write_checkpoint(epoch + 1);
    }
    report.seconds = seconds_since(epoch_start);
    report.elapsed = seconds_since(start);
    if (hooks.on_epoch) hooks.on_epoch(report);
  }
  result.message = fmt::format("trained {} epochs", options.epochs - options.start_epoch);
  return result;
}

}  // namespace neurop::train
