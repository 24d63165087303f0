#include "operators/deeponet/gemm.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include <Eigen/Core>

namespace neurop::deeponet::detail {
namespace {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;

// Rows [begin, end) of thread `thread` out of `threads`, in blocks of whole rows.
std::pair<std::int64_t, std::int64_t> row_block(std::int64_t rows, int thread, int threads) {
  return {rows * thread / threads, rows * (thread + 1) / threads};
}

// Runs body(begin, end) on row blocks, one per thread. With one thread the call is made
// directly, and Eigen stays serial unless the product is large but has fewer than 16
// rows (then Eigen may split its columns itself).
template <typename Body>
void for_row_blocks(std::int64_t rows, int threads, Body&& body) {
  if (threads <= 1) {
    body(std::int64_t{0}, rows);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const auto [begin, end] = row_block(rows, omp_get_thread_num(), omp_get_num_threads());
    if (begin < end) body(begin, end);
  }
}

template <typename T>
void abt(const T* a, const T* b, T* c, std::int64_t rows, std::int64_t k, std::int64_t n, bool accumulate) {
  const ConstMatrixMap<T> B(b, n, k);
  for_row_blocks(rows, product_threads(rows, double(rows) * double(k) * double(n)),
                 [&](std::int64_t begin, std::int64_t end) {
                   const ConstMatrixMap<T> A(a + begin * k, end - begin, k);
                   MatrixMap<T> C(c + begin * n, end - begin, n);
                   if (accumulate) C.noalias() += A * B.transpose();
                   else C.noalias() = A * B.transpose();
                 });
}

template <typename T>
void ab(const T* a, const T* b, T* c, std::int64_t rows, std::int64_t k, std::int64_t n) {
  const ConstMatrixMap<T> B(b, k, n);
  for_row_blocks(rows, product_threads(rows, double(rows) * double(k) * double(n)),
                 [&](std::int64_t begin, std::int64_t end) {
                   MatrixMap<T>(c + begin * n, end - begin, n).noalias() =
                       ConstMatrixMap<T>(a + begin * k, end - begin, k) * B;
                 });
}

template <typename T>
void atb(const T* a, const T* b, T* c, std::int64_t rows, std::int64_t m, std::int64_t n, T* sums) {
  const int threads = product_threads(rows, double(rows) * double(m) * double(n));
  MatrixMap<T> C(c, m, n);
  if (threads <= 1) {
    const ConstMatrixMap<T> A(a, rows, m);
    C.noalias() = A.transpose() * ConstMatrixMap<T>(b, rows, n);
    if (sums != nullptr) Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(sums, m) = A.colwise().sum();
    return;
  }
  // Partial sums over each thread's rows, added in thread order.
  std::vector<RowMatrix<T>> partial(static_cast<std::size_t>(threads));
  std::vector<Eigen::Matrix<T, 1, Eigen::Dynamic>> partial_sums(static_cast<std::size_t>(threads));
  int used = threads;
#pragma omp parallel num_threads(threads)
  {
    const int thread = omp_get_thread_num();
#pragma omp single
    used = omp_get_num_threads();
    const auto [begin, end] = row_block(rows, thread, used);
    const ConstMatrixMap<T> A(a + begin * m, end - begin, m);
    partial[static_cast<std::size_t>(thread)].noalias() = A.transpose() * ConstMatrixMap<T>(b + begin * n, end - begin, n);
    if (sums != nullptr) partial_sums[static_cast<std::size_t>(thread)] = A.colwise().sum();
  }
  C = partial[0];
  for (int t = 1; t < used; ++t) C += partial[static_cast<std::size_t>(t)];
  if (sums != nullptr) {
    Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> S(sums, m);
    S = partial_sums[0];
    for (int t = 1; t < used; ++t) S += partial_sums[static_cast<std::size_t>(t)];
  }
}

}  // namespace

int product_threads(std::int64_t rows, double flops) {
  if (omp_in_parallel()) return 1;
  // Eigen's own threshold: 5 x 10^4 multiply-adds per thread; each thread gets >= 8 rows.
  const double by_work = flops / 5e4;
  const std::int64_t by_rows = rows / 8;
  const auto limit = static_cast<std::int64_t>(std::min<double>(by_work, static_cast<double>(by_rows)));
  return static_cast<int>(std::clamp<std::int64_t>(limit, 1, omp_get_max_threads()));
}

void multiply_abt(const float* a, const float* b, float* c, std::int64_t rows, std::int64_t k, std::int64_t n,
                  bool accumulate) {
  abt(a, b, c, rows, k, n, accumulate);
}
void multiply_abt(const double* a, const double* b, double* c, std::int64_t rows, std::int64_t k, std::int64_t n,
                  bool accumulate) {
  abt(a, b, c, rows, k, n, accumulate);
}
void multiply_ab(const float* a, const float* b, float* c, std::int64_t rows, std::int64_t k, std::int64_t n) {
  ab(a, b, c, rows, k, n);
}
void multiply_ab(const double* a, const double* b, double* c, std::int64_t rows, std::int64_t k, std::int64_t n) {
  ab(a, b, c, rows, k, n);
}
void multiply_atb(const float* a, const float* b, float* c, std::int64_t rows, std::int64_t m, std::int64_t n,
                  float* a_column_sums) {
  atb(a, b, c, rows, m, n, a_column_sums);
}
void multiply_atb(const double* a, const double* b, double* c, std::int64_t rows, std::int64_t m, std::int64_t n,
                  double* a_column_sums) {
  atb(a, b, c, rows, m, n, a_column_sums);
}

}  // namespace neurop::deeponet::detail
