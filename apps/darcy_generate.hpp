// `neurop generate darcy`: Darcy flow data sets (datasets/darcy.hpp).
#pragma once

#include <CLI/CLI.hpp>

namespace neurop::app {

// Registers the `darcy` subcommand on `neurop generate`.
void add_darcy_generate_command(CLI::App& generate);

}  // namespace neurop::app
