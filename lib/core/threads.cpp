#include "lib/core/threads.hpp"

#include <omp.h>

#include <Eigen/Core>

#include "lib/core/error.hpp"

namespace neurop {

void set_num_threads(int n) {
  NEUROP_CHECK(n >= 1, ValueError, "set_num_threads: thread count must be >= 1, got {}", n);
  omp_set_num_threads(n);
  Eigen::setNbThreads(n);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace neurop
