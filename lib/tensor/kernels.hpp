// Internal helpers shared by the operation sources; not part of the public API.
#pragma once

#include <omp.h>

#include <cstdint>

#include <Eigen/Core>

#include "lib/tensor/tensor.hpp"

namespace neurop::detail {

// Below this many elements a loop runs on one thread: the OpenMP start-up costs more.
inline constexpr std::int64_t kParallelThreshold = 1 << 15;

// Calls body(begin, end) on contiguous chunks of [0, n), in parallel when n is large.
// Chunk boundaries depend only on n and the thread count, so results are reproducible.
template <typename Body>
void parallel_chunks(std::int64_t n, Body&& body) {
  if (n < kParallelThreshold || omp_in_parallel() || omp_get_max_threads() == 1) {
    body(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t threads = omp_get_num_threads();
    const std::int64_t thread = omp_get_thread_num();
    // Chunks aligned to 16 elements keep vector loads aligned.
    const std::int64_t chunk = ((n + threads - 1) / threads + 15) / 16 * 16;
    const std::int64_t begin = std::min(n, thread * chunk);
    const std::int64_t end = std::min(n, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

template <typename T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// Elements [begin, end) of a tensor as an Eigen array, read-only or writable.
template <typename T>
ConstArrayMap<T> input_array(const Tensor& t, std::int64_t begin, std::int64_t end) {
  return ConstArrayMap<T>(t.data<T>() + begin, end - begin);
}

template <typename T>
ArrayMap<T> output_array(Tensor& t, std::int64_t begin, std::int64_t end) {
  return ArrayMap<T>(t.data<T>() + begin, end - begin);
}

// Normalises a possibly negative axis against `rank`; throws ShapeError naming `op`.
std::int64_t normalize_axis(const char* op, std::int64_t axis, std::int64_t rank);

}  // namespace neurop::detail
