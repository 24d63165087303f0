// Row-major products through libxsmm's JIT kernels, with Eigen as the fallback.
#include "lib/tensor/direct_gemm.hpp"

#include <omp.h>

#include <algorithm>
#include <type_traits>

#include <Eigen/Core>

#ifdef NEUROP_HAVE_LIBXSMM
#include <libxsmm.h>
#endif

namespace neurop::detail {
namespace {

// Rows and columns of C per kernel call. A block of 64 rows of A with k up to 1024
// (256 KiB in float32) and the 256 columns of B it meets stay in a 1 to 2 MiB L2 cache.
constexpr std::int64_t kRowBlock = 64;
constexpr std::int64_t kColumnBlock = 256;

// Products smaller than this many multiply-adds run on one thread.
constexpr std::int64_t kParallelWork = std::int64_t{1} << 21;

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Stride = Eigen::OuterStride<>;

template <typename T>
void eigen_block(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t m,
                 std::int64_t n, std::int64_t k, bool accumulate) {
  const Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Stride> A(a, m, k, Stride(lda));
  const Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Stride> B(b, k, n, Stride(ldb));
  Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Stride> C(c, m, n, Stride(ldc));
  if (accumulate) C.noalias() += A * B;
  else C.noalias() = A * B;
}

#ifdef NEUROP_HAVE_LIBXSMM
// libxsmm works on column-major matrices, and a row-major C = A B is the column-major
// C^T = B^T A^T, so B takes the place of libxsmm's first operand and A of its second.
template <typename T>
using Kernel = std::conditional_t<std::is_same_v<T, float>, libxsmm_smmfunction, libxsmm_dmmfunction>;

template <typename T>
Kernel<T> find_kernel(std::int64_t rows, std::int64_t columns, std::int64_t k, std::int64_t lda, std::int64_t ldb,
                      std::int64_t ldc, bool accumulate) {
  const auto m = static_cast<libxsmm_blasint>(columns), n = static_cast<libxsmm_blasint>(rows);
  const auto depth = static_cast<libxsmm_blasint>(k);
  const auto first_ld = static_cast<libxsmm_blasint>(ldb), second_ld = static_cast<libxsmm_blasint>(lda);
  const auto result_ld = static_cast<libxsmm_blasint>(ldc);
  const T alpha = 1, beta = accumulate ? 1 : 0;
  const int flags = accumulate ? LIBXSMM_GEMM_FLAG_NONE : LIBXSMM_GEMM_FLAG_BETA_0;
  const int prefetch = LIBXSMM_PREFETCH_NONE;
  if constexpr (std::is_same_v<T, float>) {
    return libxsmm_smmdispatch(m, n, depth, &first_ld, &second_ld, &result_ld, &alpha, &beta, &flags, &prefetch);
  } else {
    return libxsmm_dmmdispatch(m, n, depth, &first_ld, &second_ld, &result_ld, &alpha, &beta, &flags, &prefetch);
  }
}

// The rows [first, last) of C, in blocks of kRowBlock x kColumnBlock. Returns false,
// having written nothing, when libxsmm has no kernel for a block shape.
template <typename T>
bool libxsmm_rows(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc,
                  std::int64_t first, std::int64_t last, std::int64_t n, std::int64_t k, bool accumulate) {
  const std::int64_t rows = std::min(kRowBlock, last - first), columns = std::min(kColumnBlock, n);
  const std::int64_t row_tail = (last - first) % rows, column_tail = n % columns;
  const Kernel<T> full = find_kernel<T>(rows, columns, k, lda, ldb, ldc, accumulate);
  const Kernel<T> right = column_tail ? find_kernel<T>(rows, column_tail, k, lda, ldb, ldc, accumulate) : full;
  const Kernel<T> bottom = row_tail ? find_kernel<T>(row_tail, columns, k, lda, ldb, ldc, accumulate) : full;
  const Kernel<T> corner =
      row_tail && column_tail ? find_kernel<T>(row_tail, column_tail, k, lda, ldb, ldc, accumulate) : full;
  if (!full || !right || !bottom || !corner) return false;
  for (std::int64_t i = first; i < last; i += rows) {
    const bool short_rows = last - i < rows;
    for (std::int64_t j = 0; j < n; j += columns) {
      const bool short_columns = n - j < columns;
      Kernel<T> kernel = full;
      if (short_rows && short_columns) kernel = corner;
      else if (short_rows) kernel = bottom;
      else if (short_columns) kernel = right;
      kernel(b + j, a + i * lda, c + i * ldc + j);
    }
  }
  return true;
}
#endif

// The rows [first, last) of C on the calling thread.
template <typename T>
void gemm_rows(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t first,
               std::int64_t last, std::int64_t n, std::int64_t k, bool accumulate) {
  if (first >= last) return;
#ifdef NEUROP_HAVE_LIBXSMM
  if (libxsmm_rows(a, lda, b, ldb, c, ldc, first, last, n, k, accumulate)) return;
#endif
  eigen_block(a + first * lda, lda, b, ldb, c + first * ldc, ldc, last - first, n, k, accumulate);
}

}  // namespace

template <typename T>
void direct_gemm(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t m,
                 std::int64_t n, std::int64_t k, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (std::int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  const int threads = omp_in_parallel() || m * n * k < kParallelWork ? 1 : omp_get_max_threads();
  if (threads == 1) {
    gemm_rows(a, lda, b, ldb, c, ldc, 0, m, n, k, accumulate);
    return;
  }
  // Each thread takes a contiguous range of whole row blocks, or of whole column blocks
  // when there are fewer row blocks than threads, so every element of C is computed by
  // the same kernel whatever the thread count.
  const std::int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
  const std::int64_t column_blocks = (n + kColumnBlock - 1) / kColumnBlock;
  const bool split_rows = row_blocks >= threads || column_blocks < row_blocks;
#pragma omp parallel num_threads(threads)
  {
    const std::int64_t count = omp_get_num_threads(), thread = omp_get_thread_num();
    if (split_rows) {
      const std::int64_t first = std::min(m, row_blocks * thread / count * kRowBlock);
      const std::int64_t last = std::min(m, row_blocks * (thread + 1) / count * kRowBlock);
      gemm_rows(a, lda, b, ldb, c, ldc, first, last, n, k, accumulate);
    } else {
      const std::int64_t first = std::min(n, column_blocks * thread / count * kColumnBlock);
      const std::int64_t last = std::min(n, column_blocks * (thread + 1) / count * kColumnBlock);
      if (first < last) gemm_rows(a, lda, b + first, ldb, c + first, ldc, 0, m, last - first, k, accumulate);
    }
  }
}

bool direct_gemm_uses_libxsmm() {
#ifdef NEUROP_HAVE_LIBXSMM
  return true;
#else
  return false;
#endif
}

template void direct_gemm<float>(const float*, std::int64_t, const float*, std::int64_t, float*, std::int64_t,
                                 std::int64_t, std::int64_t, std::int64_t, bool);
template void direct_gemm<double>(const double*, std::int64_t, const double*, std::int64_t, double*, std::int64_t,
                                  std::int64_t, std::int64_t, std::int64_t, bool);

}  // namespace neurop::detail
