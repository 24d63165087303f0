// Thread-count setting shared by OpenMP loops and Eigen's GEMM.
#pragma once

namespace neurop {

// Sets the number of threads used by neurop's OpenMP loops and Eigen's matrix products.
// n must be >= 1. Results are reproducible for a fixed thread count.
void set_num_threads(int n);

// Returns the current thread count.
int num_threads();

}  // namespace neurop
