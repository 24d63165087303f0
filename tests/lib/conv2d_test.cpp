// 2D convolution, its adjoint and its weight gradient: values against direct loops
// and hand-computed cases, the adjoint identity, and first and second derivatives for
// every padding mode, odd grids and stride 2.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lib/autodiff/gradcheck.hpp"
#include "lib/autodiff/graph.hpp"
#include "lib/core/random.hpp"
#include "lib/core/threads.hpp"
#include "lib/nn/conv_layers.hpp"
#include "lib/tensor/conv2d.hpp"
#include "lib/tensor/ops.hpp"
#include "tests/support/check.hpp"
#include "tests/support/tensors.hpp"

using namespace neurop;
using neurop::testing::max_abs_difference;
using neurop::testing::random_tensor;
using neurop::testing::kF32Tight;
using neurop::testing::kF64Loose;
using neurop::testing::kF64Tight;

namespace {

double inner(const Tensor& a, const Tensor& b) { return sum(mul(a, b)).item(); }

struct Case {
  std::int64_t height, width, kernel, stride, padding;
  PaddingMode mode;
};

std::string describe(const Case& c) {
  return fmt::format("{}x{} grid, kernel {}, stride {}, padding {} {}", c.height, c.width, c.kernel, c.stride,
                     c.padding, padding_mode_name(c.mode));
}

// Odd and even grids, stride 1 and 2, every padding mode, kernels 1 to 4.
const std::vector<Case> kCases = {
    {5, 5, 3, 1, 1, PaddingMode::zeros},     {5, 5, 3, 2, 1, PaddingMode::zeros},
    {6, 7, 3, 2, 1, PaddingMode::zeros},     {7, 5, 4, 2, 1, PaddingMode::zeros},
    {5, 6, 3, 1, 1, PaddingMode::circular},  {7, 7, 3, 2, 1, PaddingMode::circular},
    {6, 5, 3, 2, 2, PaddingMode::circular},  {5, 5, 3, 1, 1, PaddingMode::reflect},
    {7, 6, 3, 2, 1, PaddingMode::reflect},   {6, 6, 4, 2, 1, PaddingMode::reflect},
    {4, 5, 1, 1, 0, PaddingMode::zeros},     {5, 5, 3, 2, 0, PaddingMode::zeros},
};

Conv2dOptions options_of(const Case& c) { return {.stride = c.stride, .padding = c.padding, .padding_mode = c.mode}; }

}  // namespace

TEST_CASE("conv2d matches direct loops") {
  for (const Case& c : kCases) {
    CAPTURE(describe(c));
    const Tensor x = random_tensor({3, 2, c.height, c.width}, 1);
    const Tensor w = random_tensor({4, 2, c.kernel, c.kernel}, 2);
    const Tensor fast = conv2d(x, w, options_of(c));
    const Tensor slow = conv2d_reference(x, w, options_of(c));
    CHECK(fast.shape() == slow.shape());
    CHECK(fast.size(2) == (c.height + 2 * c.padding - c.kernel) / c.stride + 1);
    CHECK(max_abs_difference(fast, slow) <= kF64Tight.abs * 10);
  }
}

TEST_CASE("conv2d float32 matches float64") {
  const Conv2dOptions options{.stride = 2, .padding = 1, .padding_mode = PaddingMode::reflect};
  const Tensor x = random_tensor({2, 3, 9, 8}, 3);
  const Tensor w = random_tensor({5, 3, 3, 3}, 4);
  const Tensor exact = conv2d(x, w, options);
  const Tensor single = conv2d(x.to(DType::f32), w.to(DType::f32), options);
  CHECK(single.dtype() == DType::f32);
  CHECK(max_abs_difference(single.to(DType::f64), exact) <= kF32Tight.rel * 10);
}

TEST_CASE("conv2d hand-computed values per padding mode") {
  // A 3x3 box filter over a 4x4 grid of ones: each output counts the kernel taps that
  // land on a non-zero padded value.
  const Tensor ones = Tensor::ones({1, 1, 4, 4}, DType::f64);
  const Tensor box = Tensor::ones({1, 1, 3, 3}, DType::f64);
  const Tensor zeros_box = conv2d(ones, box, {.stride = 1, .padding = 1, .padding_mode = PaddingMode::zeros});
  CHECK(zeros_box.at({0, 0, 0, 0}) == 4.0);
  CHECK(zeros_box.at({0, 0, 0, 1}) == 6.0);
  CHECK(zeros_box.at({0, 0, 1, 2}) == 9.0);
  const Tensor circular_box = conv2d(ones, box, {.stride = 1, .padding = 1, .padding_mode = PaddingMode::circular});
  CHECK(circular_box.at({0, 0, 0, 0}) == 9.0);

  // A kernel that picks the neighbour above: y[i, j] = x_pad[i - 1, j]. On x[i, j] = 10 i + j:
  // circular wraps row -1 to row 3; reflect maps it to row 1; zeros gives 0.
  std::vector<double> ramp(16);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) ramp[static_cast<std::size_t>(4 * i + j)] = 10.0 * i + j;
  const Tensor x = Tensor::from_vector(ramp, {1, 1, 4, 4}, DType::f64);
  std::vector<double> up(9, 0.0);
  up[1] = 1.0;  // tap (t, u) = (0, 1)
  const Tensor w = Tensor::from_vector(up, {1, 1, 3, 3}, DType::f64);
  const Tensor zeros_up = conv2d(x, w, {.stride = 1, .padding = 1, .padding_mode = PaddingMode::zeros});
  const Tensor circular_up = conv2d(x, w, {.stride = 1, .padding = 1, .padding_mode = PaddingMode::circular});
  const Tensor reflect_up = conv2d(x, w, {.stride = 1, .padding = 1, .padding_mode = PaddingMode::reflect});
  CHECK(zeros_up.at({0, 0, 0, 2}) == 0.0);
  CHECK(circular_up.at({0, 0, 0, 2}) == 32.0);
  CHECK(reflect_up.at({0, 0, 0, 2}) == 12.0);
  CHECK(reflect_up.at({0, 0, 2, 3}) == 13.0);

  // Stride 2, kernel 3, padding 1 on 5 points keeps the centres 0, 2, 4: (5 + 1) / 2 = 3.
  const Tensor coarse = conv2d(Tensor::ones({1, 1, 5, 5}, DType::f64), box, {.stride = 2, .padding = 1});
  CHECK(coarse.shape() == Shape{1, 1, 3, 3});
  CHECK(coarse.at({0, 0, 1, 1}) == 9.0);
  CHECK(coarse.at({0, 0, 2, 2}) == 4.0);
}

TEST_CASE("conv2d and conv_transpose2d satisfy <Ax, y> = <x, A*y>") {
  for (const Case& c : kCases) {
    CAPTURE(describe(c));
    const Conv2dOptions options = options_of(c);
    const Tensor x = random_tensor({2, 3, c.height, c.width}, 5);
    const Tensor w = random_tensor({4, 3, c.kernel, c.kernel}, 6);
    const Tensor ax = conv2d(x, w, options);
    const Tensor y = random_tensor(ax.shape(), 7);
    const Tensor aty = conv_transpose2d(y, w, {c.height, c.width}, options);
    CHECK(aty.shape() == x.shape());
    CHECK_CLOSE(inner(ax, y), inner(x, aty), kF64Tight);
  }
}

TEST_CASE("conv2d_weight is the weight gradient of <conv2d(x, w), g>") {
  for (const Case& c : kCases) {
    CAPTURE(describe(c));
    const Conv2dOptions options = options_of(c);
    const Tensor x = random_tensor({3, 2, c.height, c.width}, 8);
    const Tensor v = random_tensor({4, 2, c.kernel, c.kernel}, 9);
    const Tensor g = random_tensor(conv2d(x, v, options).shape(), 10);
    const Tensor dw = conv2d_weight(x, g, c.kernel, options);
    CHECK(dw.shape() == v.shape());
    CHECK_CLOSE(inner(conv2d(x, v, options), g), inner(v, dw), kF64Tight);
  }
}

TEST_CASE("transposed convolution accepts every output size of its input") {
  // Stride 2, kernel 3, padding 1 maps 2m - 1 and 2m points to m. A coarse grid of m
  // points therefore prolongs to either size, and other sizes are rejected.
  const Conv2dOptions options{.stride = 2, .padding = 1};
  const Tensor y = random_tensor({1, 2, 4, 4}, 11);
  const Tensor w = random_tensor({2, 3, 3, 3}, 12);
  CHECK(conv_transpose2d(y, w, {7, 8}, options).shape() == Shape{1, 3, 7, 8});
  CHECK(conv_transpose2d(y, w, {8, 7}, options).shape() == Shape{1, 3, 8, 7});
  CHECK_THROWS_AS(conv_transpose2d(y, w, {9, 8}, options), ShapeError);
  CHECK_THROWS_AS(conv_transpose2d(y, w, {6, 8}, options), ShapeError);
  try {
    conv_transpose2d(y, w, {9, 8}, options);
  } catch (const ShapeError& error) {
    const std::string message = error.what();
    CHECK(message.find("conv_transpose2d") != std::string::npos);
    CHECK(message.find("[9, 8]") != std::string::npos);
  }
}

TEST_CASE("gradcheck conv2d, conv_transpose2d and conv2d_weight") {
  // Small grids: the harness builds full Jacobians, second order included.
  const std::vector<Case> cases = {
      {5, 4, 3, 1, 1, PaddingMode::zeros},    {5, 5, 3, 2, 1, PaddingMode::zeros},
      {4, 5, 3, 1, 1, PaddingMode::circular}, {5, 3, 3, 2, 1, PaddingMode::circular},
      {4, 5, 3, 1, 1, PaddingMode::reflect},  {5, 5, 3, 2, 1, PaddingMode::reflect},
  };
  for (const Case& c : cases) {
    CAPTURE(describe(c));
    const Conv2dOptions options = options_of(c);
    const Tensor x = random_tensor({2, 2, c.height, c.width}, 13);
    const Tensor w = random_tensor({2, 2, c.kernel, c.kernel}, 14);
    const Tensor y = random_tensor(conv2d(x, w, options).shape(), 15);
    const std::array<std::int64_t, 2> size = {c.height, c.width};
    const TensorFunction forward = [options](const auto& v) { return conv2d(v[0], v[1], options); };
    const TensorFunction transposed = [options, size](const auto& v) {
      return conv_transpose2d(v[0], v[1], size, options);
    };
    const TensorFunction weight = [options, k = c.kernel](const auto& v) {
      return conv2d_weight(v[0], v[1], k, options);
    };
    // A nonlinearity between two convolutions makes the second derivative non-zero in
    // the data as well as in the weight.
    const TensorFunction chained = [options](const auto& v) {
      return conv2d(tanh(conv2d(v[0], v[1], options)), v[1], {.stride = 1, .padding = 1, .padding_mode = options.padding_mode});
    };
    for (const auto& [label, f, inputs] :
         std::vector<std::tuple<const char*, TensorFunction, std::vector<Tensor>>>{
             {"conv2d", forward, {x, w}},
             {"conv_transpose2d", transposed, {y, w}},
             {"conv2d_weight", weight, {x, y}},
             {"conv2d chain", chained, {x, w}}}) {
      const GradcheckResult first = gradcheck(f, inputs);
      CHECK_MESSAGE(first.passed, label, ": ", first.message());
      const GradcheckResult second = gradgradcheck(f, inputs);
      CHECK_MESSAGE(second.passed, label, " (second order): ", second.message());
    }
  }
}

TEST_CASE("conv2d results do not depend on the thread count") {
  const Conv2dOptions options{.stride = 1, .padding = 1, .padding_mode = PaddingMode::reflect};
  const Tensor x = random_tensor({4, 6, 33, 31}, 16, DType::f32);
  const Tensor w = random_tensor({8, 6, 3, 3}, 17, DType::f32);
  const Tensor g = random_tensor({4, 8, 33, 31}, 18, DType::f32);
  const int previous = num_threads();
  set_num_threads(1);
  const Tensor y1 = conv2d(x, w, options);
  const Tensor t1 = conv_transpose2d(g, w, {33, 31}, options);
  const Tensor w1 = conv2d_weight(x, g, 3, options);
  set_num_threads(2);
  const Tensor y2 = conv2d(x, w, options);
  const Tensor t2 = conv_transpose2d(g, w, {33, 31}, options);
  const Tensor w2 = conv2d_weight(x, g, 3, options);
  set_num_threads(previous);
  CHECK(max_abs_difference(y1, y2) == 0.0);
  CHECK(max_abs_difference(t1, t2) == 0.0);
  // The weight gradient sums per-thread partial sums: equal up to float32 round-off.
  CHECK(max_abs_difference(w1, w2) <= kF32Tight.rel * 100);
}

TEST_CASE("conv_transpose2d repeats bit for bit") {
  // One input channel makes the flipped-kernel path a matrix-vector product, whose
  // rounding in Eigen follows the alignment of its operands. Heap blocks of varying
  // size held between the calls move where unaligned buffers would land.
  const Conv2dOptions options{.stride = 1, .padding = 1};
  const Tensor y = random_tensor({3, 5, 29, 27}, 21, DType::f32);
  const Tensor w = random_tensor({5, 1, 3, 3}, 22, DType::f32);
  const Tensor first = conv_transpose2d(y, w, {29, 27}, options);
  std::vector<std::vector<char>> heap_blocks;
  for (std::size_t shift = 1; shift <= 8; ++shift) {
    heap_blocks.emplace_back(16 * shift + 8);
    CAPTURE(shift);
    CHECK(max_abs_difference(conv_transpose2d(y, w, {29, 27}, options), first) == 0.0);
  }
}

TEST_CASE("conv2d errors name the operation and the shapes") {
  const Tensor x = random_tensor({1, 2, 5, 5}, 19);
  const Tensor w = random_tensor({3, 2, 3, 3}, 20);
  CHECK_THROWS_AS(conv2d(random_tensor({1, 3, 5, 5}, 21), w), ShapeError);
  CHECK_THROWS_AS(conv2d(random_tensor({2, 5, 5}, 22), w), ShapeError);
  CHECK_THROWS_AS(conv2d(x, random_tensor({3, 2, 3, 2}, 23)), ShapeError);
  CHECK_THROWS_AS(conv2d(x, w.to(DType::f32)), ShapeError);
  CHECK_THROWS_AS(conv2d(x, w, {.stride = 0}), ValueError);
  CHECK_THROWS_AS(conv2d(x, w, {.stride = 1, .padding = 5, .padding_mode = PaddingMode::reflect}), ShapeError);
  CHECK_THROWS_AS(conv2d(random_tensor({1, 2, 2, 2}, 24), w), ShapeError);
  CHECK_THROWS_AS(parse_padding_mode("replicate"), ValueError);
  try {
    conv2d(random_tensor({1, 3, 5, 5}, 25), w);
  } catch (const ShapeError& error) {
    const std::string message = error.what();
    CHECK(message.find("conv2d") != std::string::npos);
    CHECK(message.find("[1, 3, 5, 5]") != std::string::npos);
    CHECK(message.find("[3, 2, 3, 3]") != std::string::npos);
  }
}

TEST_CASE("conv layers initialise like PyTorch and transpose each other") {
  Rng rng(3);
  const Conv2dOptions options{.stride = 2, .padding = 1, .padding_mode = PaddingMode::zeros};
  nn::Conv2d conv(4, 6, 3, options, rng, true, DType::f64);
  nn::ConvTranspose2d transposed(6, 4, 3, options, rng, false, DType::f64);
  CHECK(conv.weight.shape() == Shape{6, 4, 3, 3});
  CHECK(conv.bias.shape() == Shape{6});
  CHECK(transposed.weight.shape() == Shape{6, 4, 3, 3});
  CHECK(conv.parameter_count() == 6 * 4 * 9 + 6);
  const double conv_bound = 1.0 / std::sqrt(4.0 * 9.0), transposed_bound = 1.0 / std::sqrt(4.0 * 9.0);
  for (double v : conv.weight.to_vector()) CHECK(std::abs(v) <= conv_bound);
  for (double v : transposed.weight.to_vector()) CHECK(std::abs(v) <= transposed_bound);

  // With one weight and no bias, the transposed layer is the adjoint of the conv layer.
  transposed.weight.copy_(conv.weight.detach());
  nn::Conv2d unbiased(4, 6, 3, options, rng, false, DType::f64);
  unbiased.weight.copy_(conv.weight.detach());
  NoGradGuard no_grad;
  const Tensor x = random_tensor({2, 4, 9, 9}, 26);
  const Tensor y = random_tensor({2, 6, 5, 5}, 27);
  CHECK_CLOSE(inner(unbiased.forward(x), y), inner(x, transposed.forward(y, {9, 9})), kF64Loose);
  // The bias adds b_o at every output point.
  const Tensor difference = sub(conv.forward(x), unbiased.forward(x));
  CHECK_CLOSE(difference.at({1, 2, 3, 4}), conv.bias.at({2}), kF64Tight);
}
