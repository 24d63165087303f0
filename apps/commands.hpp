// Registration of the `neurop` subcommands.
#pragma once

#include <CLI/CLI.hpp>

namespace neurop::app {

void add_generate_commands(CLI::App& app);
void add_train_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);

// Exit code requested by the subcommand that ran (see apps/common.hpp).
int& command_exit_code();

}  // namespace neurop::app
