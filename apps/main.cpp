// The `neurop` command-line program.
#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/commands.hpp"
#include "apps/common.hpp"
#include "lib/core/error.hpp"
#include "lib/core/log.hpp"
#include "lib/io/temporary_files.hpp"

namespace neurop::app {

int& command_exit_code() {
  static int code = kExitOk;
  return code;
}

namespace {

std::string subcommand_names(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

// Follows the command words of argv (`generate burgers`) through the command tree and
// returns an error message for the first word that is not a command where one is expected,
// or an empty string. Options and the value of --config are skipped.
std::string unknown_command_message(CLI::App& app, int argc, char** argv) {
  CLI::App* current = &app;
  std::string path = "neurop";
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--config") {
      ++i;
      continue;
    }
    if (argument.empty() || argument[0] == '-') continue;
    if (current->get_subcommands({}).empty()) return {};
    CLI::App* next = nullptr;
    for (CLI::App* sub : current->get_subcommands({}))
      if (sub->check_name(argument)) next = sub;
    if (next == nullptr)
      return fmt::format("unknown command '{}' after '{}': expected one of {} (see {} --help)", argument, path,
                         subcommand_names(*current), path);
    current = next;
    path += " " + next->get_name();
  }
  return {};
}

}  // namespace

}  // namespace neurop::app

int main(int argc, char** argv) {
  using namespace neurop::app;
  neurop::h5::remove_temporary_files_on_signal();
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

  // CLI11 reports a misspelt command only as a missing one; name it and the known commands.
  if (const std::string message = unknown_command_message(app, argc, argv); !message.empty()) {
    neurop::logger().error("{}", message);
    return kExitUsage;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ConfigError& error) {
    // CLI11 words an unknown key as "INI was not able to parse train.key", even in TOML.
    const std::string prefix = "INI was not able to parse ";
    const std::string text = error.what();
    const std::string key = text.rfind(prefix, 0) == 0 ? text.substr(prefix.size()) : std::string();
    if (key.empty()) {
      neurop::logger().error("config file: {}", text);
    } else {
      neurop::logger().error("config file: unknown key '{}'; a key must be a long option of the command in its "
                             "[section], without the dashes (for example `epochs = 500` under [train]); see `neurop "
                             "COMMAND --help` for the options",
                             key);
    }
    return kExitUsage;
  } catch (const CLI::ParseError& error) {
    app.exit(error);
    return kExitUsage;
  } catch (const std::exception& error) {
    neurop::logger().error("{}", error.what());
    return kExitError;
  }
  return command_exit_code();
}
