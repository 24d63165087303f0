// Matrix products of the DeepONet layers, split across threads by row blocks. Internal
// to operators/deeponet; not part of the public API.
//
// Eigen parallelises one product by having its threads share packed blocks and wait for
// each other in spin loops. On a machine with more runnable threads than cores, a thread
// that loses its core makes the others spin until it runs again. Here every thread
// instead computes the product of its own row block with a serial Eigen call (Eigen runs
// serially inside an OpenMP team). Reductions over rows add per-thread partial results
// in thread order, so results depend only on the thread count.
//
// All matrices are dense and row-major; the counts are the matrices' extents.
#pragma once

#include <cstdint>

namespace neurop::deeponet::detail {

// C [rows, n] = A [rows, k] B^T (B [n, k]); with accumulate, C += A B^T.
void multiply_abt(const float* a, const float* b, float* c, std::int64_t rows, std::int64_t k, std::int64_t n,
                  bool accumulate = false);
void multiply_abt(const double* a, const double* b, double* c, std::int64_t rows, std::int64_t k, std::int64_t n,
                  bool accumulate = false);

// C [rows, n] = A [rows, k] B (B [k, n]).
void multiply_ab(const float* a, const float* b, float* c, std::int64_t rows, std::int64_t k, std::int64_t n);
void multiply_ab(const double* a, const double* b, double* c, std::int64_t rows, std::int64_t k, std::int64_t n);

// C [m, n] = A^T B for A [rows, m] and B [rows, n], a sum over rows; also writes the
// column sums of A into a_column_sums [m] when it is not null.
void multiply_atb(const float* a, const float* b, float* c, std::int64_t rows, std::int64_t m, std::int64_t n,
                  float* a_column_sums = nullptr);
void multiply_atb(const double* a, const double* b, double* c, std::int64_t rows, std::int64_t m, std::int64_t n,
                  double* a_column_sums = nullptr);

// Number of threads for a product of `flops` multiply-adds over `rows` rows: 1 below
// about 10^5 multiply-adds, where starting a thread team costs more than it saves.
int product_threads(std::int64_t rows, double flops);

}  // namespace neurop::deeponet::detail
