// Two-dimensional convolutions on NCHW tensors, differentiable to any order.
//
// Layout and geometry:
//   input x        [B, C_in, H, W]
//   weight w       [C_out, C_in, k, k]   (PyTorch's nn.Conv2d layout, square kernels)
//   conv2d(x, w)   [B, C_out, H_out, W_out],  H_out = floor((H + 2p - k) / s) + 1,
//   y[b, o, i, j] = sum_{c, t, u} w[o, c, t, u] x_pad[b, c, s i + t, s j + u]
// (a cross-correlation, as in every deep-learning library), where x_pad is x with p
// extra rows and columns on each side filled by the padding mode:
//   zeros     x_pad = 0 outside the grid (homogeneous Dirichlet data);
//   circular  x_pad[i] = x[(i - p) mod H] (periodic data), needs p <= H;
//   reflect   mirror about the edge without repeating it, x_pad[p - 1] = x[1]
//             (PyTorch's "reflect"; even extension, homogeneous Neumann data), needs
//             p <= H - 1.
// The same rules apply along W.
//
// conv_transpose2d(y, w, output_size) is the adjoint of x -> conv2d(x, w) on the grid
// output_size = {H, W}: <conv2d(x, w), y> = <x, conv_transpose2d(y, w, {H, W})> for
// every x and y, including the padding mode (the margins of x_pad are folded back onto
// the grid points they copy). Its weight is the conv2d weight [C_out, C_in, k, k], so it
// maps [B, C_out, H_out, W_out] to [B, C_in, H, W]; this is also PyTorch's
// nn.ConvTranspose2d layout [in, out, k, k] seen from the transposed side. With zero
// padding it equals PyTorch's conv_transpose2d with output_padding = H - H_min, where
// H_min = (H_out - 1) s + k - 2p. Every H with floor((H + 2p - k) / s) + 1 = H_out,
// that is H_min <= H <= H_min + s - 1, is valid; others throw ShapeError.
//
// conv2d_weight(x, g, k) is the gradient of <conv2d(x, w), g> with respect to w, the
// correlation sum_{b, i, j} g[b, o, i, j] x_pad[b, c, s i + t, s j + u] -> [C_out, C_in, k, k].
//
// Gradients are expressed with these three operations (conv2d's input gradient is a
// transposed convolution, its weight gradient is conv2d_weight, and so on), so
// gradients of gradients work. Inputs must share a dtype (float32 or float64).
//
// Performance: each sample is padded once and unfolded into a column matrix
// (im2col) in blocks of output rows, and each block is one Eigen GEMM with
// C_in k^2 inner extent. Batches run in parallel on OpenMP threads; a batch smaller
// than the thread count leaves the threads to Eigen's GEMM instead. The summed weight
// gradient adds per-thread partial sums in thread order, so results depend on the
// thread count only through that order (round-off).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "lib/tensor/tensor.hpp"

namespace neurop {

enum class PaddingMode { zeros, circular, reflect };

// Parses "zeros", "circular" or "reflect"; throws ValueError listing them otherwise.
PaddingMode parse_padding_mode(const std::string& name);
const char* padding_mode_name(PaddingMode mode);

struct Conv2dOptions {
  std::int64_t stride = 1;   // >= 1, the same along both axes
  std::int64_t padding = 0;  // >= 0 rows/columns added on each side
  PaddingMode padding_mode = PaddingMode::zeros;
};

// Output extent of a convolution along one axis: floor((n + 2p - k) / s) + 1.
// Throws ShapeError when the padded extent n + 2p is smaller than k or the padding
// mode cannot pad n points by p (see above).
std::int64_t conv2d_output_extent(std::int64_t n, std::int64_t kernel_size, const Conv2dOptions& options);

// x [B, C_in, H, W], weight [C_out, C_in, k, k] -> [B, C_out, H_out, W_out].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Conv2dOptions& options = {});

// y [B, C_out, H_out, W_out], weight [C_out, C_in, k, k] -> [B, C_in, H, W] with
// {H, W} = output_size; the adjoint of conv2d (see above).
Tensor conv_transpose2d(const Tensor& y, const Tensor& weight, const std::array<std::int64_t, 2>& output_size,
                        const Conv2dOptions& options = {});

// x [B, C_in, H, W], g [B, C_out, H_out, W_out] -> [C_out, C_in, k, k]; the weight
// gradient of conv2d (see above).
Tensor conv2d_weight(const Tensor& x, const Tensor& g, std::int64_t kernel_size, const Conv2dOptions& options = {});

// Reference implementation of conv2d by direct loops (no im2col, no GEMM, one
// thread), for tests and benchmarks. Not differentiable.
Tensor conv2d_reference(const Tensor& x, const Tensor& weight, const Conv2dOptions& options = {});

}  // namespace neurop
