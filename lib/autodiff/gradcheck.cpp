#include "lib/autodiff/gradcheck.hpp"

#include <cmath>
#include <limits>

#include "lib/autodiff/graph.hpp"
#include "lib/core/random.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop {
namespace {

std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> leaves;
  for (const Tensor& input : inputs) {
    Tensor leaf = input.detach().clone();
    leaf.set_requires_grad(true);
    leaves.push_back(leaf);
  }
  return leaves;
}

}  // namespace

std::string GradcheckResult::message() const {
  return fmt::format(
      "gradcheck {}: normalised error {:.3g} at input {}, element {}, output {}: backward {:.12g}, finite "
      "differences {:.12g}",
      passed ? "passed" : "failed", error, input, element, output, backward_value, finite_difference_value);
}

GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    NEUROP_CHECK(inputs[i].dtype() == DType::f64, ValueError,
                 "gradcheck: input {} is {}; gradient checks run in float64, convert with .to(DType::f64)", i,
                 dtype_name(inputs[i].dtype()));
  }
  const std::vector<Tensor> leaves = fresh_leaves(inputs);
  const Tensor output = f(leaves);
  const std::int64_t outputs = output.numel();

  // Backward Jacobian, one row per output element: rows[j][i] holds d out_j / d input_i.
  std::vector<std::vector<std::vector<double>>> rows(static_cast<std::size_t>(outputs));
  for (std::int64_t j = 0; j < outputs; ++j) {
    Tensor unit = Tensor::zeros(output.shape(), DType::f64);
    unit.data<double>()[j] = 1.0;
    std::vector<Tensor> grads;
    if (output.requires_grad()) grads = grad({output}, leaves, {unit}, false, /*allow_unused=*/true);
    for (std::size_t i = 0; i < leaves.size(); ++i) {
      rows[static_cast<std::size_t>(j)].push_back(
          i < grads.size() && grads[i].defined() ? grads[i].to_vector()
                                                 : std::vector<double>(static_cast<std::size_t>(leaves[i].numel()), 0.0));
    }
  }

  GradcheckResult result;
  double max_reference = 0.0, max_difference = 0.0;
  const double base_step = std::cbrt(std::numeric_limits<double>::epsilon());
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    for (std::int64_t e = 0; e < leaves[i].numel(); ++e) {
      const double x = leaves[i].data<double>()[e];
      const double h = base_step * std::max(1.0, std::abs(x));
      auto evaluate = [&](double value) {
        std::vector<Tensor> shifted = fresh_leaves(leaves);
        shifted[i].data<double>()[e] = value;
        return f(shifted).to_vector();
      };
      const std::vector<double> plus = evaluate(x + h);
      const std::vector<double> minus = evaluate(x - h);
      for (std::int64_t j = 0; j < outputs; ++j) {
        const double numeric = (plus[static_cast<std::size_t>(j)] - minus[static_cast<std::size_t>(j)]) / (2.0 * h);
        const double analytic = rows[static_cast<std::size_t>(j)][i][static_cast<std::size_t>(e)];
        max_reference = std::max(max_reference, std::abs(numeric));
        const double difference = std::abs(analytic - numeric);
        if (!(difference <= max_difference)) {  // also catches NaN
          max_difference = std::isnan(difference) ? std::numeric_limits<double>::infinity() : difference;
          result.input = i;
          result.element = e;
          result.output = j;
          result.backward_value = analytic;
          result.finite_difference_value = numeric;
        }
      }
    }
  }
  result.error = max_difference / std::max(1.0, max_reference);
  result.passed = result.error <= options.tolerance;
  return result;
}

GradcheckResult gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options) {
  // u is fixed by the seed and the output shape, so every evaluation uses the same one.
  Tensor u;
  {
    const Tensor output = f(fresh_leaves(inputs));
    Rng rng(options.seed);
    std::vector<double> values(static_cast<std::size_t>(output.numel()));
    for (double& v : values) v = rng.uniform(-1.0, 1.0);
    u = Tensor::from_vector(values, output.shape(), DType::f64);
  }
  const TensorFunction vjp = [&](const std::vector<Tensor>& xs) {
    const Tensor output = f(xs);
    std::vector<Tensor> flat;
    const std::vector<Tensor> grads = grad({output}, xs, {u}, /*create_graph=*/true, /*allow_unused=*/true);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      flat.push_back(grads[i].defined() ? reshape(grads[i], {-1}) : Tensor::zeros({xs[i].numel()}, DType::f64));
    }
    return concat(flat, 0);
  };
  return gradcheck(vjp, inputs, options);
}

}  // namespace neurop
