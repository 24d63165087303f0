// The gradient-check harness used for every differentiable operation.
//
// gradcheck() builds the full Jacobian of f at the given inputs twice, once from the
// backward pass (one vector-Jacobian product per output element) and once by central
// differences in float64, and compares them with a normalised error:
//   error = max_ij |J_backward - J_fd| / max(1, max_ij |J_fd|).
// The finite-difference step is h_i = cbrt(eps) * max(1, |x_i|), which balances the
// O(h^2) truncation error against the O(eps / h) round-off.
//
// gradgradcheck() applies gradcheck() to x -> J(x)^T u for a fixed random u, with the
// inner gradient computed with create_graph, which checks second derivatives.
//
// Known exclusions: at kinks (relu at 0, abs at 0) central differences do not
// approximate the one-sided derivative the backward pass returns, so test inputs
// must keep a distance from kinks larger than the step.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lib/tensor/tensor.hpp"

namespace neurop {

struct GradcheckOptions {
  // Maximum normalised error accepted.
  double tolerance = 1e-6;
  // Seed of the random vector u used by gradgradcheck.
  std::uint64_t seed = 7;
};

struct GradcheckResult {
  bool passed = false;
  double error = 0.0;
  // Input, input element and output element of the largest error, and both values.
  std::size_t input = 0;
  std::int64_t element = 0, output = 0;
  double backward_value = 0.0, finite_difference_value = 0.0;
  std::string message() const;
};

using TensorFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Inputs must be float64 (round-off would hide errors in float32). f is called
// several times and must be deterministic.
GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});
GradcheckResult gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {});

}  // namespace neurop
