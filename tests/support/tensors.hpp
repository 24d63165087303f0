// Tensor helpers shared by the unit suites: seeded random tensors and the largest
// elementwise difference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include "lib/core/random.hpp"
#include "lib/tensor/tensor.hpp"

namespace neurop::testing {

// Values drawn uniformly from [low, high) by Rng(seed), stored in `dtype`.
inline Tensor random_tensor(const Shape& shape, std::uint64_t seed, double low, double high,
                            DType dtype = DType::f64) {
  Rng rng(seed);
  std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
  for (double& v : values) v = rng.uniform(low, high);
  return Tensor::from_vector(values, shape, dtype);
}

// Values drawn uniformly from [-1, 1).
inline Tensor random_tensor(const Shape& shape, std::uint64_t seed, DType dtype = DType::f64) {
  return random_tensor(shape, seed, -1.0, 1.0, dtype);
}

// The largest |a_i - b_i|. The shapes must be equal.
inline double max_abs_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector(), vb = b.to_vector();
  double worst = 0.0;
  for (std::size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(va[i] - vb[i]));
  return worst;
}

}  // namespace neurop::testing
