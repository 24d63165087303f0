// The library's one logger. neurop never writes to stdout or stderr by itself: every
// message goes through the spdlog logger returned by logger(), which discards
// everything until an application installs sinks with set_logger().
#pragma once

#include <memory>

#include <spdlog/spdlog.h>

namespace neurop {

// Returns the library logger; never null.
spdlog::logger& logger();

// Replaces the library logger (for example with a console logger in the `neurop`
// program). Passing nullptr restores the silent default.
void set_logger(std::shared_ptr<spdlog::logger> new_logger);

}  // namespace neurop
