// Every differentiable operation through the one gradient-check harness, first and
// second order.
#include <doctest/doctest.h>

#include "lib/autodiff/gradcheck.hpp"
#include "lib/autodiff/graph.hpp"
#include "lib/core/random.hpp"
#include "lib/tensor/ops.hpp"
#include "tests/support/tensors.hpp"

using namespace neurop;
using neurop::testing::random_tensor;

namespace {

// Values whose magnitude is at least `gap`, so kinks at 0 stay out of reach of the
// finite-difference step.
Tensor away_from_zero(const Shape& shape, std::uint64_t seed, double gap = 0.05) {
  Tensor t = random_tensor(shape, seed);
  double* values = t.data<double>();
  for (std::int64_t i = 0; i < t.numel(); ++i) values[i] += values[i] >= 0 ? gap : -gap;
  return t;
}

void check_first_and_second(const char* label, const TensorFunction& f, const std::vector<Tensor>& inputs,
                            bool second_order = true) {
  const GradcheckResult first = gradcheck(f, inputs);
  CHECK_MESSAGE(first.passed, label, ": ", first.message());
  if (second_order) {
    const GradcheckResult second = gradgradcheck(f, inputs);
    CHECK_MESSAGE(second.passed, label, " (second order): ", second.message());
  }
}

}  // namespace

TEST_CASE("gradcheck broadcasting arithmetic") {
  const Tensor a = random_tensor({2, 3, 4}, 1);
  const Tensor b = random_tensor({3, 1}, 2, 0.5, 1.5);
  check_first_and_second("add", [](const auto& x) { return add(x[0], x[1]); }, {a, b});
  check_first_and_second("sub", [](const auto& x) { return sub(x[0], x[1]); }, {a, b});
  check_first_and_second("mul", [](const auto& x) { return mul(x[0], x[1]); }, {a, b});
  check_first_and_second("div", [](const auto& x) { return div(x[0], x[1]); }, {a, b});
  check_first_and_second("mul leading broadcast", [](const auto& x) { return mul(x[0], x[1]); },
                         {random_tensor({1, 4}, 3), random_tensor({3, 1}, 4)});
  check_first_and_second("affine", [](const auto& x) { return affine(x[0], -2.5, 0.25); }, {a});
  check_first_and_second("pow", [](const auto& x) { return pow(x[0], 1.7); }, {b});
}

TEST_CASE("gradcheck unary functions") {
  const Tensor x = random_tensor({3, 5}, 5, -2.0, 2.0);
  const Tensor positive = random_tensor({3, 5}, 6, 0.2, 2.0);
  const Tensor kinked = away_from_zero({3, 5}, 7);
  check_first_and_second("neg", [](const auto& v) { return neg(v[0]); }, {x});
  check_first_and_second("exp", [](const auto& v) { return exp(v[0]); }, {x});
  check_first_and_second("log", [](const auto& v) { return log(v[0]); }, {positive});
  check_first_and_second("sqrt", [](const auto& v) { return sqrt(v[0]); }, {positive});
  check_first_and_second("square", [](const auto& v) { return square(v[0]); }, {x});
  check_first_and_second("sin", [](const auto& v) { return sin(v[0]); }, {x});
  check_first_and_second("cos", [](const auto& v) { return cos(v[0]); }, {x});
  check_first_and_second("erf", [](const auto& v) { return erf(v[0]); }, {x});
  check_first_and_second("tanh", [](const auto& v) { return tanh(v[0]); }, {x});
  check_first_and_second("sigmoid", [](const auto& v) { return sigmoid(v[0]); }, {x});
  check_first_and_second("gelu", [](const auto& v) { return gelu(v[0]); }, {x});
  check_first_and_second("relu", [](const auto& v) { return relu(v[0]); }, {kinked});
  check_first_and_second("selu", [](const auto& v) { return selu(v[0]); }, {kinked});
  check_first_and_second("clone", [](const auto& v) { return clone(v[0]); }, {x});
}

TEST_CASE("gradcheck shape operations") {
  const Tensor x = random_tensor({2, 3, 4}, 8);
  check_first_and_second("reshape", [](const auto& v) { return reshape(v[0], {4, -1}); }, {x});
  check_first_and_second("permute", [](const auto& v) { return permute(v[0], {2, 0, 1}); }, {x});
  check_first_and_second("transpose", [](const auto& v) { return transpose(v[0], 0, -1); }, {x});
  check_first_and_second("slice", [](const auto& v) { return slice(v[0], 2, 1, 4, 2); }, {x});
  check_first_and_second("unslice", [](const auto& v) { return unslice(v[0], 1, 7, 1, 2); }, {x});
  check_first_and_second("pad", [](const auto& v) { return pad(v[0], -1, 2, 1); }, {x});
  check_first_and_second("concat", [](const auto& v) { return concat({v[0], v[1]}, 1); },
                         {x, random_tensor({2, 2, 4}, 9)});
  check_first_and_second("broadcast_to", [](const auto& v) { return broadcast_to(v[0], {2, 3, 4}); },
                         {random_tensor({3, 1}, 10)});
  check_first_and_second("sum_to", [](const auto& v) { return sum_to(v[0], {3, 1}); }, {x});
  check_first_and_second("index_select", [](const auto& v) { return index_select(v[0], 1, {2, 0, 2, 1}); }, {x});
  check_first_and_second("index_add", [](const auto& v) { return index_add(v[0], 1, {1, 1, 0}, 4); }, {x});
}

TEST_CASE("gradcheck reductions") {
  const Tensor x = random_tensor({2, 3, 4}, 11);
  check_first_and_second("sum", [](const auto& v) { return sum(v[0]); }, {x});
  check_first_and_second("sum axes", [](const auto& v) { return sum(v[0], {0, 2}); }, {x});
  check_first_and_second("mean", [](const auto& v) { return mean(v[0]); }, {x});
  check_first_and_second("mean keep_dims", [](const auto& v) { return mean(v[0], {1}, true); }, {x});
  // A nonlinear function of reductions exercises the second derivative of sum.
  check_first_and_second("square of sum", [](const auto& v) { return square(sum(v[0], {-1})); }, {x});
}

TEST_CASE("gradcheck matrix products") {
  const Tensor a = random_tensor({3, 4}, 12);
  const Tensor b = random_tensor({4, 2}, 13);
  check_first_and_second("matmul", [](const auto& v) { return matmul(v[0], v[1]); }, {a, b});
  check_first_and_second("matmul transposed", [](const auto& v) { return matmul(v[0], v[1], true, true); },
                         {random_tensor({4, 3}, 14), random_tensor({2, 4}, 15)});
  check_first_and_second("matmul batched", [](const auto& v) { return matmul(v[0], v[1], false, true); },
                         {random_tensor({2, 3, 4}, 16), random_tensor({2, 5, 4}, 17)});
  check_first_and_second("matmul shared right", [](const auto& v) { return matmul(v[0], v[1]); },
                         {random_tensor({2, 3, 4}, 18), b});
  check_first_and_second("matmul shared right transposed a", [](const auto& v) { return matmul(v[0], v[1], true); },
                         {random_tensor({2, 4, 3}, 19), random_tensor({4, 2}, 20)});
  check_first_and_second("matmul shared left", [](const auto& v) { return matmul(v[0], v[1]); },
                         {a, random_tensor({2, 4, 2}, 21)});
  check_first_and_second("linear", [](const auto& v) { return linear(v[0], v[1], v[2]); },
                         {random_tensor({2, 3, 4}, 22), random_tensor({5, 4}, 23), random_tensor({5}, 24)});
  check_first_and_second("channel_mix", [](const auto& v) { return channel_mix(v[0], v[1]); },
                         {random_tensor({2, 3, 5}, 25), random_tensor({4, 3}, 26)});
  check_first_and_second("channel_mix transposed", [](const auto& v) { return channel_mix(v[0], v[1], true); },
                         {random_tensor({2, 3, 5}, 27), random_tensor({3, 4}, 28)});
  check_first_and_second("batch_outer", [](const auto& v) { return batch_outer(v[0], v[1]); },
                         {random_tensor({2, 3, 5}, 29), random_tensor({2, 4, 5}, 30)});
  check_first_and_second("pointwise_conv", [](const auto& v) { return pointwise_conv(v[0], v[1], v[2]); },
                         {random_tensor({2, 3, 2, 3}, 31), random_tensor({4, 3}, 32), random_tensor({4}, 33)});
  for (Activation activation : {Activation::gelu, Activation::tanh, Activation::selu}) {
    const auto f = [activation](const auto& v) { return pointwise_conv(v[0], v[1], v[2], activation); };
    const std::vector<Tensor> inputs = {random_tensor({2, 3, 5}, 35), random_tensor({4, 3}, 36),
                                        random_tensor({4}, 37)};
    check_first_and_second(activation_name(activation), f, inputs);
    CHECK(f(inputs).to_vector() == activate(pointwise_conv(inputs[0], inputs[1], inputs[2]), activation).to_vector());
  }
  check_first_and_second(
      "pointwise_mlp", [](const auto& v) { return pointwise_mlp(v[0], v[1], v[2], Activation::gelu, v[3], v[4]); },
      {random_tensor({2, 3, 5}, 46), random_tensor({4, 3}, 47), random_tensor({4}, 48), random_tensor({2, 4}, 49),
       random_tensor({2}, 50)});
  // Products of products: the second derivative of matmul is non-trivial only here.
  check_first_and_second("matmul chain", [](const auto& v) { return matmul(tanh(matmul(v[0], v[1])), v[1], false, true); },
                         {a, b});
}

TEST_CASE("gradcheck detects a wrong derivative") {
  // A function whose recorded backward ignores one path: x * stop_gradient(x).
  const Tensor x = random_tensor({4}, 34);
  const GradcheckResult result =
      gradcheck([](const auto& v) { return mul(v[0], v[0].detach()); }, {x});
  CHECK_FALSE(result.passed);
}
