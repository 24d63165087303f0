// DeepONet support of the `neurop` program: the `generate` subcommands for point data
// sets, and the DeepONet paths of `train` and `evaluate`.
//
// `train` and `evaluate` keep one option set for every model. The DeepONet paths read
// the shared options (--data, --epochs, --lr, ...) from the parsed subcommand, and use
// DeepONet defaults for those the user did not give: activation relu, loss mse,
// constant learning rate, no weight decay, 10000 epochs, full-batch steps.
#pragma once

#include <filesystem>

#include <CLI/CLI.hpp>

namespace neurop::app {

// Adds antiderivative, nonlinear-ode, pendulum and diffusion-reaction under `generate`.
void add_deeponet_generate_commands(CLI::App& generate);

// Adds the DeepONet options (--variant, --branch, --trunk, --form, --physics, ...) to
// the `train` subcommand.
void add_deeponet_train_options(CLI::App& train);

// True when `train` should take the DeepONet path: --model deeponet, or a --data or
// --train file that contains a point data set.
bool is_deeponet_training(const CLI::App& train);
// Trains a DeepONet with the parsed options of `train`; returns the exit code.
int run_deeponet_train(const CLI::App& train);

// True when the --checkpoint of `evaluate` contains a DeepONet. False for other models and
// for files that cannot be read (the grid path then reports the problem).
bool is_deeponet_evaluation(const CLI::App& evaluate);
// Evaluates a DeepONet checkpoint with the parsed options of `evaluate`.
int run_deeponet_evaluate(const CLI::App& evaluate);

// True when `path` is a readable neurop data set file with the point layout
// (spatial_dims = 0).
bool is_point_data_file(const std::filesystem::path& path);

}  // namespace neurop::app
