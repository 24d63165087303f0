#include "lib/core/log.hpp"

#include <mutex>

#include <spdlog/sinks/null_sink.h>

namespace neurop {
namespace {

std::shared_ptr<spdlog::logger> make_silent_logger() {
  return std::make_shared<spdlog::logger>("neurop", std::make_shared<spdlog::sinks::null_sink_mt>());
}

std::mutex logger_mutex;
std::shared_ptr<spdlog::logger> current_logger = make_silent_logger();

}  // namespace

spdlog::logger& logger() {
  std::lock_guard<std::mutex> lock(logger_mutex);
  return *current_logger;
}

void set_logger(std::shared_ptr<spdlog::logger> new_logger) {
  std::lock_guard<std::mutex> lock(logger_mutex);
  current_logger = new_logger ? std::move(new_logger) : make_silent_logger();
}

}  // namespace neurop
