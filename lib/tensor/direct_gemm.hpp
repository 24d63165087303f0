// Matrix products for the skinny shapes of operator layers, without packing; internal.
#pragma once

#include <cstdint>

namespace neurop::detail {

// C [m, n] = A [m, k] B [k, n], or C += A B when `accumulate`. All three are row-major
// with leading dimensions lda >= k, ldb >= n and ldc >= n (elements from one row to the
// next). Without `accumulate`, C is written without being read, so it may hold anything.
//
// With libxsmm in the build, the product runs on its JIT-generated kernels, which read
// A and B in place. Eigen's GEMM first copies both into packed panels and zeroes C. FNO
// layers have k or n of 16 to 128 and the other dimension 1000 or more. For those shapes,
// a profile of a 1D FNO training step put 18% of its time in that copying and zeroing and
// 42% in the arithmetic. Without libxsmm, Eigen computes the product.
// Row or column blocks run on the OpenMP threads when the call is made outside a parallel
// region.
// Instantiated for float and double.
template <typename T>
void direct_gemm(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t m,
                 std::int64_t n, std::int64_t k, bool accumulate);

// True when the build uses libxsmm for direct_gemm.
bool direct_gemm_uses_libxsmm();

}  // namespace neurop::detail
