// A minibatch training loop shared by every model: shuffling, learning-rate
// schedule, progress reports, periodic checkpoints and divergence handling.
//
// The loop is model-agnostic: the caller supplies a function that computes the loss
// of a batch of sample indices, summed over the batch (so that batches of different
// sizes average correctly; see lib/nn/loss.hpp). A loss that becomes NaN or infinite
// is a numerical outcome, not an exception: fit() restores the parameters and
// optimizer state from the end of the last good epoch and returns
// TrainStatus::diverged with a message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lib/nn/module.hpp"
#include "lib/optim/optimizer.hpp"
#include "lib/optim/schedule.hpp"

namespace neurop::train {

struct EpochReport {
  std::int64_t epoch = 0;   // 1-based
  std::int64_t epochs = 0;  // total planned
  double train_loss = 0;    // per-sample mean over the epoch
  double test_metric = 0;   // NaN when not evaluated this epoch
  double learning_rate = 0;
  double seconds = 0;       // this epoch, evaluation included
  double elapsed = 0;       // since fit() started
};

enum class TrainStatus { completed, diverged };

struct TrainResult {
  TrainStatus status = TrainStatus::completed;
  std::int64_t last_good_epoch = 0;  // parameters now hold this epoch's values
  double final_train_loss = 0;
  std::string message;
};

struct TrainerOptions {
  std::int64_t epochs = 1;
  std::int64_t batch_size = 20;
  std::uint64_t seed = 0;            // the shuffle of epoch e uses Rng::stream(seed, e)
  std::int64_t start_epoch = 0;      // epochs already done (when resuming)
  bool schedule_per_step = false;    // advance the schedule per optimizer step instead of per epoch
  std::int64_t evaluate_every = 1;   // epochs between evaluations (the last epoch is always evaluated)
  std::int64_t checkpoint_every = 1; // epochs between checkpoint writes (the last epoch always)
};

// Returns the loss of the samples `indices`, summed over them, with a graph.
using BatchLoss = std::function<Tensor(const std::vector<std::int64_t>& indices)>;
// Returns a test metric (called without gradient recording).
using Evaluator = std::function<double()>;
using EpochCallback = std::function<void(const EpochReport&)>;
// Writes a checkpoint after `epoch` (1-based count of completed epochs).
using CheckpointWriter = std::function<void(std::int64_t epoch)>;

struct TrainerHooks {
  Evaluator evaluate;
  EpochCallback on_epoch;
  CheckpointWriter write_checkpoint;
};

TrainResult fit(nn::Module& model, optim::Optimizer& optimizer, const optim::Schedule& schedule,
                std::int64_t train_size, const BatchLoss& batch_loss, const TrainerOptions& options,
                const TrainerHooks& hooks = {});

// The order in which epoch `epoch` visits samples 0 .. size-1.
std::vector<std::int64_t> epoch_order(std::int64_t size, std::uint64_t seed, std::int64_t epoch, bool shuffle = true);

}  // namespace neurop::train
