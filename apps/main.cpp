// The `neurop` command-line program.
#include <exception>

#include <CLI/CLI.hpp>

#include "apps/commands.hpp"
#include "apps/common.hpp"
#include "lib/core/error.hpp"
#include "lib/core/log.hpp"

namespace neurop::app {

int& command_exit_code() {
  static int code = kExitOk;
  return code;
}

}  // namespace neurop::app

int main(int argc, char** argv) {
  using namespace neurop::app;
  CLI::App app{"neurop: operator learning (FNO, DeepONet, MgNO) from the command line"};
  app.set_version_flag("--version", "neurop 0.1.0");
  app.set_config("--config", "",
                 "read options from a TOML or INI file: one [section] per command, e.g. [train]; "
                 "command-line options take precedence");
  // A misspelt or misplaced key in a config file is an error, not a silently ignored line.
  app.allow_config_extras(CLI::config_extras_mode::error);
  setup_logging(/*verbose=*/false);
  app.add_flag_callback(
      "--verbose,-v", [] { neurop::logger().set_level(spdlog::level::debug); }, "log debug messages");
  app.require_subcommand(1);
  add_generate_commands(app);
  add_train_command(app);
  add_evaluate_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    app.exit(error);
    return kExitUsage;
  } catch (const std::exception& error) {
    neurop::logger().error("{}", error.what());
    return kExitError;
  }
  return command_exit_code();
}
