#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include <doctest/doctest.h>

#include "lib/autodiff/graph.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/tensor/unary_specs.hpp"
#include "tests/support/check.hpp"
#include "tests/support/tensors.hpp"

using namespace neurop;
using neurop::testing::kF32Tight;
using neurop::testing::kF64Tight;

namespace {

Tensor f64(const std::vector<double>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape, DType::f64);
}

}  // namespace

TEST_CASE("tensor factories and accessors") {
  const Tensor t = Tensor::full({2, 3}, 1.5, DType::f64);
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.numel() == 6);
  CHECK(t.size(-1) == 3);
  CHECK(t.dtype() == DType::f64);
  CHECK(t.at({1, 2}) == 1.5);
  CHECK(Tensor::arange(4).to_vector() == std::vector<double>{0, 1, 2, 3});
  CHECK(Tensor::scalar(2.0).item() == 2.0);
  CHECK_THROWS_AS(t.item(), ShapeError);
  CHECK_THROWS_AS(t.data<float>(), ShapeError);
  CHECK_THROWS_AS(Tensor::from_vector(std::vector<double>{1.0, 2.0}, {3}), ShapeError);
  CHECK_THROWS_AS(Tensor().shape(), ValueError);
}

TEST_CASE("broadcasting arithmetic values") {
  const Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor row = f64({10, 20, 30}, {3});
  const Tensor column = f64({100, 200}, {2, 1});
  CHECK((a + row).to_vector() == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK((a * column).to_vector() == std::vector<double>{100, 200, 300, 800, 1000, 1200});
  CHECK((column - row).shape() == Shape{2, 3});
  CHECK((column - row).to_vector() == std::vector<double>{90, 80, 70, 190, 180, 170});
  CHECK((a / 2.0).to_vector() == std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3});
  CHECK((1.0 - a).to_vector() == std::vector<double>{0, -1, -2, -3, -4, -5});
}

TEST_CASE("shape errors name the operation and both shapes") {
  const Tensor a = Tensor::zeros({2, 3}, DType::f64);
  const Tensor b = Tensor::zeros({4}, DType::f64);
  try {
    add(a, b);
    FAIL("add of [2, 3] and [4] did not throw");
  } catch (const ShapeError& error) {
    const std::string message = error.what();
    CHECK(message.find("add") != std::string::npos);
    CHECK(message.find("[2, 3]") != std::string::npos);
    CHECK(message.find("[4]") != std::string::npos);
  }
  CHECK_THROWS_AS(matmul(a, a), ShapeError);
  CHECK_THROWS_AS(add(a, Tensor::zeros({2, 3}, DType::f32)), ShapeError);
  CHECK_THROWS_AS(reshape(a, {4, 2}), ShapeError);
  CHECK_THROWS_AS(slice(a, 1, 2, 5), ShapeError);
  CHECK_THROWS_AS(permute(a, {0, 0}), ShapeError);
  CHECK_THROWS_AS(index_select(a, 0, {2}), ShapeError);
}

TEST_CASE("shape operations values") {
  const Tensor x = f64({0, 1, 2, 3, 4, 5}, {2, 3});
  CHECK(permute(x, {1, 0}).to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(slice(x, 1, 0, 3, 2).to_vector() == std::vector<double>{0, 2, 3, 5});
  CHECK(pad(x, 1, 1, 0).to_vector() == std::vector<double>{0, 0, 1, 2, 0, 3, 4, 5});
  CHECK(concat({x, x}, 0).shape() == Shape{4, 3});
  CHECK(concat({x, slice(x, 1, 0, 1)}, 1).to_vector() == std::vector<double>{0, 1, 2, 0, 3, 4, 5, 3});
  CHECK(sum(x, {1}).to_vector() == std::vector<double>{3, 12});
  CHECK(sum(x, {0}, true).shape() == Shape{1, 3});
  CHECK(mean(x).item() == 2.5);
  CHECK(broadcast_to(f64({1, 2}, {2, 1}), {2, 2}).to_vector() == std::vector<double>{1, 1, 2, 2});
}

TEST_CASE("permuting rows in place does not alias") {
  // X = X[perm] with perm = [2, 0, 1]; a row-by-row overwrite would repeat row 2.
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {3, 2});
  x = index_select(x, 0, {2, 0, 1});
  CHECK(x.to_vector() == std::vector<double>{5, 6, 1, 2, 3, 4});
}

TEST_CASE("matmul assigned to its own operand") {
  Tensor a = Tensor::ones({4, 4}, DType::f64);
  const Tensor b = Tensor::ones({4, 4}, DType::f64);
  a = matmul(a, b);
  for (double value : a.to_vector()) CHECK(value == 4.0);
}

TEST_CASE("gather backward accumulates repeated indices") {
  Tensor x = f64({10, 20}, {2});
  x.set_requires_grad();
  const Tensor y = index_select(x, 0, {1, 1, 0});
  y.backward(Tensor::ones({3}, DType::f64));
  CHECK(x.grad().to_vector() == std::vector<double>{1, 2});
}

TEST_CASE("float32 reductions accumulate in double") {
  // Sequential float32 accumulation stalls at 2^24 and gives 0.8388608 here.
  const Tensor ones = Tensor::ones({20'000'000}, DType::f32);
  CHECK_CLOSE(mean(ones).item(), 1.0, kF32Tight);
}

TEST_CASE("backward accumulates into leaves") {
  Tensor x = f64({1, 2, 3}, {3});
  x.set_requires_grad();
  const Tensor y = sum(square(x));
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{2, 4, 6});
  sum(x).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{3, 5, 7});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("grad leaves .grad untouched") {
  Tensor x = f64({1, 2}, {2});
  x.set_requires_grad();
  const Tensor y = sum(mul(x, x));
  const std::vector<Tensor> g = grad({y}, {x});
  CHECK(g[0].to_vector() == std::vector<double>{2, 4});
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("grad raises for unused inputs unless allowed") {
  Tensor x = f64({1}, {1});
  Tensor unused = f64({1}, {1});
  x.set_requires_grad();
  unused.set_requires_grad();
  const Tensor y = sum(exp(x));
  CHECK_THROWS_AS(grad({y}, {unused}), ValueError);
  CHECK_FALSE(grad({y}, {unused}, {}, false, /*allow_unused=*/true)[0].defined());
}

TEST_CASE("second derivative of a cubic") {
  // y = x^3: dy/dx = 3 x^2 and d2y/dx2 = 6 x.
  Tensor x = f64({0.5, -2.0}, {2});
  x.set_requires_grad();
  const Tensor y = sum(mul(square(x), x));
  const Tensor dy = grad({y}, {x}, {}, /*create_graph=*/true)[0];
  CHECK(dy.requires_grad());
  CHECK_CLOSE(dy.at({0}), 0.75, kF64Tight);
  const Tensor d2y = grad({sum(dy)}, {x})[0];
  CHECK_CLOSE(d2y.at({0}), 3.0, kF64Tight);
  CHECK_CLOSE(d2y.at({1}), -12.0, kF64Tight);
}

TEST_CASE("no_grad guard records nothing") {
  Tensor x = f64({1}, {1});
  x.set_requires_grad();
  NoGradGuard guard;
  const Tensor y = exp(x);
  CHECK_FALSE(y.requires_grad());
  CHECK_THROWS_AS(y.backward(), ValueError);
}

TEST_CASE("in-place writes to graph tensors are rejected") {
  Tensor x = f64({1}, {1});
  x.set_requires_grad();
  Tensor y = exp(x);
  CHECK_THROWS_AS(y.fill_(0.0), ValueError);
  CHECK_THROWS_AS(y.set_requires_grad(), ValueError);
}

TEST_CASE("pointwise_mlp fused path equals two layers") {
  // 2 x 300 = 600 points per sample: two full blocks of 256 and a partial one.
  for (DType dtype : {DType::f32, DType::f64}) {
    INFO("dtype ", dtype_name(dtype));
    const Tensor x = testing::random_tensor({3, 5, 2, 300}, 41, dtype);
    const Tensor w1 = testing::random_tensor({7, 5}, 42, dtype), b1 = testing::random_tensor({7}, 43, dtype);
    const Tensor w2 = testing::random_tensor({2, 7}, 44, dtype), b2 = testing::random_tensor({2}, 45, dtype);
    const Tensor fused = pointwise_mlp(x, w1, b1, Activation::gelu, w2, b2);
    const Tensor layered = pointwise_conv(pointwise_conv(x, w1, b1, Activation::gelu), w2, b2);
    REQUIRE(fused.shape() == (Shape{3, 2, 2, 300}));
    const testing::Tolerance tolerance = dtype == DType::f32 ? kF32Tight : kF64Tight;
    CHECK(testing::max_abs_difference(fused, layered) <= tolerance.abs);
  }
}

TEST_CASE("float32 fused GELU matches float64 erf") {
  // 1013 values (not a multiple of 16) across [-10, 10], the ends of the tabulated range
  // and zero. Fused layers evaluate GELU through activation_forward.
  std::vector<float> x;
  for (int i = 0; i <= 1000; ++i) x.push_back(-10.0F + 0.02F * static_cast<float>(i));
  for (float v : {0.0F, 6.0F, -6.0F, 5.9999F, -5.9999F, 1e-30F, -1e-30F, 0.1875F, -0.1875F, 3.0F, -3.0F, 1.0F})
    x.push_back(v);
  std::vector<float> y(x.size());
  detail::activation_forward<float>(Activation::gelu, x.data(), y.data(), static_cast<std::int64_t>(x.size()));
  // Half an ulp of 10 in float is 4.8e-7; a relative bound applies where cancellation in
  // 1 + erf does not dominate.
  const testing::Tolerance absolute{1e-6, 0.0}, relative{0.0, 2e-5};
  int mismatches = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i], expected = 0.5 * v * (1.0 + std::erf(v / std::numbers::sqrt2));
    const bool close = testing::is_close(y[i], expected, absolute) &&
                       (std::abs(expected) <= 0.01 || testing::is_close(y[i], expected, relative));
    if (!close) {
      ++mismatches;
      INFO("x = ", v, ": ", testing::describe_mismatch(y[i], expected, absolute));
      CHECK(close);
    }
  }
  CHECK(mismatches == 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float nan_out = 0.0F;
  detail::activation_forward<float>(Activation::gelu, &nan, &nan_out, 1);
  CHECK(std::isnan(nan_out));
}

TEST_CASE("pointwise_mlp rejects unchained weights") {
  const Tensor x = Tensor::zeros({1, 3, 4}, DType::f64);
  const Tensor w1 = Tensor::zeros({6, 3}, DType::f64), b1 = Tensor::zeros({6}, DType::f64);
  const Tensor b2 = Tensor::zeros({1}, DType::f64);
  const std::string message =
      testing::message_of([&] { pointwise_mlp(x, w1, b1, Activation::gelu, Tensor::zeros({1, 5}, DType::f64), b2); });
  CHECK(message.find("[1, 5]") != std::string::npos);
  CHECK(message.find("[6, 3]") != std::string::npos);
  CHECK_THROWS_AS(pointwise_mlp(Tensor::zeros({1, 4, 4}, DType::f64), w1, b1, Activation::gelu,
                                Tensor::zeros({1, 6}, DType::f64), b2),
                  ShapeError);
  CHECK_THROWS_AS(pointwise_mlp(x, w1, b1, Activation::gelu, Tensor::zeros({1, 6}, DType::f64), Tensor()), ShapeError);
}
