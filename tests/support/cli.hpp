// Runs the built `neurop` program for the command-line tests and collects its output.
// NEUROP_EXECUTABLE is the program's path, defined by tests/apps/meson.build.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>

namespace neurop::test_cli {

struct Run {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `neurop <arguments>` through the shell and waits for it.
inline Run run(const std::string& arguments) {
  const std::string command = fmt::format("{} {} 2>&1", NEUROP_EXECUTABLE, arguments);
  Run result;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  std::size_t read = 0;
  while ((read = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), read);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Returns the folder for one test file's data, `<temp>/<prefix>-<process id>`, creating it.
inline std::filesystem::path scratch_folder(const std::string& prefix) {
  const std::filesystem::path folder = std::filesystem::temp_directory_path() / fmt::format("{}-{}", prefix, ::getpid());
  std::filesystem::create_directories(folder);
  return folder;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace neurop::test_cli
