// Differentiable tensor operations.
//
// Every function here records itself in the autodiff graph when an input requires
// gradients (see lib/autodiff/graph.hpp), and every one is covered by the gradient
// check in tests/lib/gradcheck_ops_test.cpp, including second derivatives.
//
// Conventions:
//  - Inputs of a binary operation must have the same dtype; mixing float32 and
//    float64 raises ShapeError (convert explicitly with Tensor::to).
//  - Binary elementwise operations broadcast like NumPy: shapes are aligned at the
//    trailing axis and an extent of 1 stretches to match.
//  - Axes may be negative, counting from the end.
//  - Reductions accumulate in float64 whatever the tensor dtype (contiguous runs of up
//    to 256 elements are first summed in the tensor dtype by a vectorised tree).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/tensor/tensor.hpp"

namespace neurop {

// ---- elementwise, broadcasting ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// a * s + t for scalars s, t.
Tensor affine(const Tensor& a, double scale, double shift);
// a^p for a scalar exponent p; a must be positive unless p is an integer.
Tensor pow(const Tensor& a, double p);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(const Tensor& a, double s);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(const Tensor& a, double s);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(const Tensor& a, double s);

// ---- elementwise, unary ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor erf(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
// max(x, 0). The derivative at 0 is taken as 0.
Tensor relu(const Tensor& x);
// Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), as PyTorch's default.
Tensor gelu(const Tensor& x);
// SELU with the constants of Klambauer et al. (2017): scale 1.0507009873554805,
// alpha 1.6732632423543772. The derivative at 0 is the left-hand value, scale alpha.
Tensor selu(const Tensor& x);
// Activation functions by name, for layers that take one as a setting.
enum class Activation { identity, relu, gelu, tanh, selu, sigmoid };
Tensor activate(const Tensor& x, Activation activation);
// The derivative f'(x) of an activation, as differentiable operations.
Tensor activation_derivative(const Tensor& x, Activation activation);
// Parses "identity", "relu", "gelu", "tanh", "selu" or "sigmoid"; throws ValueError
// listing these for anything else.
Activation parse_activation(const std::string& name);
const char* activation_name(Activation activation);

// Indicator (x > 0) as 0/1 values; not differentiable (its gradient is zero).
Tensor step(const Tensor& x);
// A deep copy.
Tensor clone(const Tensor& x);
// Converts to another dtype; the gradient is converted back.
Tensor cast(const Tensor& x, DType dtype);

// ---- shape ----
// Same values, new shape (one extent may be -1). Shares storage with x.
Tensor reshape(const Tensor& x, const Shape& shape);
// Reorders axes: result.shape[i] = x.shape[axes[i]].
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& axes);
Tensor transpose(const Tensor& x, std::int64_t axis0, std::int64_t axis1);
// Elements start, start + step, ... < stop along `axis` (step >= 1).
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t stop, std::int64_t step = 1);
// Inverse of slice: places x at positions start, start + step, ... along `axis` of a
// zero tensor whose extent on that axis is `size`.
Tensor unslice(const Tensor& x, std::int64_t axis, std::int64_t size, std::int64_t start, std::int64_t step = 1);
// Zero padding with `before` and `after` entries along `axis`.
Tensor pad(const Tensor& x, std::int64_t axis, std::int64_t before, std::int64_t after);
// Joins tensors along `axis`; all other extents must agree.
Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis);
// Broadcasts x to `shape` (NumPy rules).
Tensor broadcast_to(const Tensor& x, const Shape& shape);
// Sums x down to `shape`, the reverse of broadcast_to (the gradient of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);
// Rows x[indices[k]] along `axis`; indices may repeat.
Tensor index_select(const Tensor& x, std::int64_t axis, const std::vector<std::int64_t>& indices);
// Adds x's slices into a zero tensor of extent `size` on `axis` at `indices`
// (repeated indices accumulate); the adjoint of index_select.
Tensor index_add(const Tensor& x, std::int64_t axis, const std::vector<std::int64_t>& indices, std::int64_t size);

// ---- reductions ----
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes, bool keep_dims = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes, bool keep_dims = false);

// ---- linear algebra (Eigen GEMM) ----
// op(a) @ op(b) where op transposes the last two axes when requested.
// Shapes: [m, k] @ [k, n]; batched [B, m, k] @ [B, k, n]; or [B, m, k] @ [k, n]
// (the matrix is shared by the batch).
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// x @ weight^T + bias over the last axis: x [..., in], weight [out, in], bias [out]
// (may be undefined) -> [..., out]. PyTorch's nn.Linear layout.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// Pointwise channel mixing (a 1x1 convolution): y[b] = op(w) @ x[b] for x [B, K, S],
// op(w) [M, K] -> y [B, M, S]. S is the flattened spatial extent.
Tensor channel_mix(const Tensor& x, const Tensor& weight, bool transpose_weight = false);
// sum_b a[b] @ b[b]^T for a [B, P, S], b [B, Q, S] -> [P, Q]; the weight gradient of channel_mix.
Tensor batch_outer(const Tensor& a, const Tensor& b);
// act(channel_mix + bias) for x [B, C_in, *spatial], weight [C_out, C_in], bias
// [C_out] (may be undefined) -> [B, C_out, *spatial]. With a bias, the bias, the GEMM
// and the activation run per sample in one pass.
Tensor pointwise_conv(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                      Activation activation = Activation::identity);
// Applies two pointwise convolutions with an activation between them (the projection of
// a neural operator): pointwise_conv(pointwise_conv(x, w1, b1, activation), w2, b2) for
// x [B, C_in, *spatial], w1 [H, C_in], b1 [H], w2 [C_out, H], b2 [C_out] (both biases
// defined) -> [B, C_out, *spatial]. When no input needs a gradient, each block of points
// passes through both layers while its H hidden values are in cache, so the hidden
// tensor is never stored. Otherwise the two layers are recorded one by one.
Tensor pointwise_mlp(const Tensor& x, const Tensor& w1, const Tensor& b1, Activation activation, const Tensor& w2,
                     const Tensor& b2);

// Throws ShapeError naming `op` unless a and b share a dtype.
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);

}  // namespace neurop
