#include "lib/core/fftw_planner.hpp"

namespace neurop {

std::mutex& fftw_planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace neurop
