// 2D convolution, its adjoint and its weight gradient by im2col and Eigen GEMM.
#include "lib/tensor/conv2d.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include <Eigen/Core>

#include "lib/autodiff/graph.hpp"
#include "lib/tensor/kernels.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop {
namespace {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using StridedMap = Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename T>
using ConstStridedMap = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

// Size of the column matrix of one im2col block: GEMM reads the block right after it
// is written, so it should stay in a 512 KB L2 cache (216 x 512 floats for 24 channels
// and k = 3). On a loaded 2-core machine 512 columns ran about 1.5 times faster than
// 2048 (bench/conv2d_bench, 85 x 85, one thread); the measurements were noisy.
constexpr std::int64_t kBlockBytes = 448 * 1024;

// Multiply-adds below which a convolution runs on one thread. An OpenMP parallel
// region costs tens of microseconds (far more when another process occupies a core),
// about the time of 1e6 multiply-adds on one core.
constexpr std::int64_t kParallelWork = std::int64_t{1} << 20;

// Geometry of one convolution: input grid [C_in, H, W], kernel k, stride, padding,
// output grid [C_out, H_out, W_out], and for every padded row/column the grid index it
// copies (-1 for a zero).
struct ConvGeometry {
  std::int64_t batch = 0, in_channels = 0, out_channels = 0;
  std::int64_t height = 0, width = 0, out_height = 0, out_width = 0;
  std::int64_t kernel = 0, stride = 1, padding = 0;
  PaddingMode mode = PaddingMode::zeros;
  std::vector<std::int64_t> source_row, source_col;

  std::int64_t padded_height() const { return height + 2 * padding; }
  std::int64_t padded_width() const { return width + 2 * padding; }
  std::int64_t patch() const { return in_channels * kernel * kernel; }
  std::int64_t out_points() const { return out_height * out_width; }
  // Output rows per im2col block (at least one).
  std::int64_t block_rows(std::size_t element_size) const {
    const std::int64_t columns = kBlockBytes / static_cast<std::int64_t>(element_size) / std::max<std::int64_t>(patch(), 1);
    return std::max<std::int64_t>(1, columns / std::max<std::int64_t>(out_width, 1));
  }
};

// Grid index that padded position `i` (0 <= i < n + 2p) copies, or -1 for a zero.
std::int64_t padded_source(std::int64_t i, std::int64_t n, std::int64_t p, PaddingMode mode) {
  const std::int64_t k = i - p;
  switch (mode) {
    case PaddingMode::zeros:
      return (k >= 0 && k < n) ? k : -1;
    case PaddingMode::circular:
      return ((k % n) + n) % n;
    case PaddingMode::reflect:
      // x_pad[p - 1 - m] = x[1 + m] and x_pad[p + n + m] = x[n - 2 - m].
      if (k < 0) return -k;
      if (k >= n) return 2 * (n - 1) - k;
      return k;
  }
  return -1;
}

std::vector<std::int64_t> padded_sources(std::int64_t n, std::int64_t p, PaddingMode mode) {
  std::vector<std::int64_t> sources(static_cast<std::size_t>(n + 2 * p));
  for (std::int64_t i = 0; i < n + 2 * p; ++i) sources[static_cast<std::size_t>(i)] = padded_source(i, n, p, mode);
  return sources;
}

void check_options(const char* op, const Conv2dOptions& options) {
  NEUROP_CHECK(options.stride >= 1, ValueError, "{}: stride must be >= 1, got {}", op, options.stride);
  NEUROP_CHECK(options.padding >= 0, ValueError, "{}: padding must be >= 0, got {}", op, options.padding);
}

void check_padding_fits(const char* op, std::int64_t n, const Conv2dOptions& options) {
  if (options.padding_mode == PaddingMode::circular) {
    NEUROP_CHECK(options.padding <= n, ShapeError,
                 "{}: circular padding {} exceeds the grid extent {}; use padding <= the extent", op, options.padding,
                 n);
  } else if (options.padding_mode == PaddingMode::reflect) {
    NEUROP_CHECK(options.padding <= n - 1, ShapeError,
                 "{}: reflect padding {} needs a grid extent of at least {}, got {}; lower the padding or use zeros",
                 op, options.padding, options.padding + 1, n);
  }
}

std::int64_t output_extent(const char* op, std::int64_t n, std::int64_t k, const Conv2dOptions& options) {
  check_options(op, options);
  NEUROP_CHECK(n >= 1, ShapeError, "{}: grid extent must be >= 1, got {}", op, n);
  NEUROP_CHECK(k >= 1, ShapeError, "{}: kernel size must be >= 1, got {}", op, k);
  check_padding_fits(op, n, options);
  NEUROP_CHECK(n + 2 * options.padding >= k, ShapeError,
               "{}: grid extent {} with padding {} on each side is smaller than the kernel size {}", op, n,
               options.padding, k);
  return (n + 2 * options.padding - k) / options.stride + 1;
}

void check_weight(const char* op, const Tensor& weight) {
  NEUROP_CHECK(weight.ndim() == 4 && weight.size(2) == weight.size(3), ShapeError,
               "{}: weight must be [C_out, C_in, k, k] with a square kernel, got shape {}", op,
               shape_string(weight.shape()));
}

ConvGeometry make_geometry(std::int64_t batch, std::int64_t in_channels, std::int64_t out_channels,
                           std::int64_t height, std::int64_t width, std::int64_t kernel, const Conv2dOptions& options,
                           const char* op) {
  ConvGeometry g;
  g.batch = batch;
  g.in_channels = in_channels;
  g.out_channels = out_channels;
  g.height = height;
  g.width = width;
  g.kernel = kernel;
  g.stride = options.stride;
  g.padding = options.padding;
  g.mode = options.padding_mode;
  g.out_height = output_extent(op, height, kernel, options);
  g.out_width = output_extent(op, width, kernel, options);
  g.source_row = padded_sources(height, options.padding, options.padding_mode);
  g.source_col = padded_sources(width, options.padding, options.padding_mode);
  return g;
}

// x_pad [C, H + 2p, W + 2p] from x [C, H, W].
template <typename T>
void pad_sample(const ConvGeometry& g, const T* x, T* padded) {
  const std::int64_t hp = g.padded_height(), wp = g.padded_width();
  for (std::int64_t c = 0; c < g.in_channels; ++c) {
    const T* plane = x + c * g.height * g.width;
    T* out = padded + c * hp * wp;
    for (std::int64_t i = 0; i < hp; ++i) {
      const std::int64_t si = g.source_row[static_cast<std::size_t>(i)];
      T* row = out + i * wp;
      if (si < 0) {
        std::fill(row, row + wp, T(0));
        continue;
      }
      const T* source = plane + si * g.width;
      for (std::int64_t j = 0; j < g.padding; ++j) {
        const std::int64_t sj = g.source_col[static_cast<std::size_t>(j)];
        row[j] = sj < 0 ? T(0) : source[sj];
      }
      std::copy(source, source + g.width, row + g.padding);
      for (std::int64_t j = g.padding + g.width; j < wp; ++j) {
        const std::int64_t sj = g.source_col[static_cast<std::size_t>(j)];
        row[j] = sj < 0 ? T(0) : source[sj];
      }
    }
  }
}

// x [C, H, W] += the padded array folded back onto the grid: every padded entry is
// added to the grid point it copies (the adjoint of pad_sample).
template <typename T>
void fold_sample(const ConvGeometry& g, const T* padded, T* x) {
  const std::int64_t hp = g.padded_height(), wp = g.padded_width();
  for (std::int64_t c = 0; c < g.in_channels; ++c) {
    const T* plane = padded + c * hp * wp;
    T* out = x + c * g.height * g.width;
    std::fill(out, out + g.height * g.width, T(0));
    for (std::int64_t i = 0; i < hp; ++i) {
      const std::int64_t si = g.source_row[static_cast<std::size_t>(i)];
      if (si < 0) continue;
      const T* row = plane + i * wp;
      T* target = out + si * g.width;
      for (std::int64_t j = 0; j < wp; ++j) {
        const std::int64_t sj = g.source_col[static_cast<std::size_t>(j)];
        if (sj >= 0) target[sj] += row[j];
      }
    }
  }
}

// Column matrix of output rows [row_begin, row_end):
//   cols[(c, t, u), q] = x_pad[c, s i + t, s j + u] for q = (i - row_begin) W_out + j.
template <typename T>
void im2col_block(const ConvGeometry& g, const T* padded, std::int64_t row_begin, std::int64_t row_end, T* cols) {
  const std::int64_t hp = g.padded_height(), wp = g.padded_width(), k = g.kernel, s = g.stride;
  const std::int64_t columns = (row_end - row_begin) * g.out_width;
  for (std::int64_t c = 0; c < g.in_channels; ++c) {
    const T* plane = padded + c * hp * wp;
    for (std::int64_t t = 0; t < k; ++t) {
      for (std::int64_t u = 0; u < k; ++u) {
        T* out = cols + ((c * k + t) * k + u) * columns;
        for (std::int64_t i = row_begin; i < row_end; ++i) {
          const T* source = plane + (s * i + t) * wp + u;
          T* target = out + (i - row_begin) * g.out_width;
          if (s == 1) {
            std::copy(source, source + g.out_width, target);
          } else {
            for (std::int64_t j = 0; j < g.out_width; ++j) target[j] = source[s * j];
          }
        }
      }
    }
  }
}

// x_pad[c, s i + t, s j + u] += cols[(c, t, u), q] (the adjoint of im2col_block).
template <typename T>
void col2im_block(const ConvGeometry& g, const T* cols, std::int64_t row_begin, std::int64_t row_end, T* padded) {
  const std::int64_t hp = g.padded_height(), wp = g.padded_width(), k = g.kernel, s = g.stride;
  const std::int64_t columns = (row_end - row_begin) * g.out_width;
  for (std::int64_t c = 0; c < g.in_channels; ++c) {
    T* plane = padded + c * hp * wp;
    for (std::int64_t t = 0; t < k; ++t) {
      for (std::int64_t u = 0; u < k; ++u) {
        const T* in = cols + ((c * k + t) * k + u) * columns;
        for (std::int64_t i = row_begin; i < row_end; ++i) {
          T* target = plane + (s * i + t) * wp + u;
          const T* source = in + (i - row_begin) * g.out_width;
          if (s == 1) {
            for (std::int64_t j = 0; j < g.out_width; ++j) target[j] += source[j];
          } else {
            for (std::int64_t j = 0; j < g.out_width; ++j) target[s * j] += source[j];
          }
        }
      }
    }
  }
}

// Alignment of every scratch buffer and of the column matrix inside it, in bytes: the
// alignment of tensor storage (lib/tensor/tensor.cpp). Eigen splits a product with one
// row or column (a GEMV) into aligned and unaligned parts by the operand's address, so
// an operand whose alignment changed from run to run would change the rounding.
constexpr std::size_t kScratchAlignment = 64;

// Elements of T in the padded copy of one sample, rounded up so that the column matrix
// that follows it in the scratch buffer starts on a kScratchAlignment boundary.
template <typename T>
std::int64_t aligned_extent(std::int64_t n) {
  constexpr auto per_block = static_cast<std::int64_t>(kScratchAlignment / sizeof(T));
  return (n + per_block - 1) / per_block * per_block;
}

struct FreeDeleter {
  void operator()(void* block) const { std::free(block); }
};

// This thread's scratch buffer of at least n values, kScratchAlignment-aligned and left
// uninitialised (every user writes before reading). The buffer lives as long as the
// thread and only grows, so repeated convolutions reuse its pages instead of faulting
// in fresh ones (page faults and kernel zeroing took about 10% of an MgNO training step
// otherwise). Only one buffer per thread and dtype is in use at a time: the kernels
// below never nest.
template <typename T>
T* thread_scratch(std::int64_t n) {
  thread_local std::unique_ptr<T[], FreeDeleter> buffer;
  thread_local std::int64_t capacity = 0;
  const std::int64_t size = aligned_extent<T>(std::max<std::int64_t>(n, 1));
  if (capacity < size) {
    buffer.reset();
    void* block = std::aligned_alloc(kScratchAlignment, static_cast<std::size_t>(size) * sizeof(T));
    if (block == nullptr) throw std::bad_alloc();
    buffer.reset(static_cast<T*>(block));
    capacity = size;
  }
  return buffer.get();
}

// Runs body(b, scratch) for every sample b, on OpenMP threads when the batch can
// occupy them. `scratch` is a per-thread buffer of `scratch_size` elements.
template <typename T, typename Body>
void for_each_sample(const ConvGeometry& g, std::int64_t scratch_size, Body&& body) {
  const std::int64_t work = g.batch * g.out_points() * g.patch() * g.out_channels;
  const int threads = omp_get_max_threads();
  const bool parallel = g.batch >= threads && threads > 1 && !omp_in_parallel() && work > kParallelWork;
  if (!parallel) {
    T* scratch = thread_scratch<T>(scratch_size);
    for (std::int64_t b = 0; b < g.batch; ++b) body(b, scratch);
    return;
  }
#pragma omp parallel
  {
    T* scratch = thread_scratch<T>(scratch_size);
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < g.batch; ++b) body(b, scratch);
  }
}

template <typename T>
std::int64_t block_scratch(const ConvGeometry& g) {
  return g.patch() * std::min(g.out_height, g.block_rows(sizeof(T))) * g.out_width;
}

template <typename T>
void conv2d_kernel(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const std::int64_t padded_size = aligned_extent<T>(g.in_channels * g.padded_height() * g.padded_width());
  const std::int64_t cols_size = block_scratch<T>(g);
  const std::int64_t rows_per_block = g.block_rows(sizeof(T));
  const Eigen::Map<const RowMatrix<T>> weight(w, g.out_channels, g.patch());
  for_each_sample<T>(g, padded_size + cols_size, [&](std::int64_t b, T* scratch) {
    T* padded = scratch;
    T* cols = scratch + padded_size;
    pad_sample(g, x + b * g.in_channels * g.height * g.width, padded);
    T* out = y + b * g.out_channels * g.out_points();
    for (std::int64_t r0 = 0; r0 < g.out_height; r0 += rows_per_block) {
      const std::int64_t r1 = std::min(g.out_height, r0 + rows_per_block);
      const std::int64_t columns = (r1 - r0) * g.out_width;
      im2col_block(g, padded, r0, r1, cols);
      // y[:, block] = W [C_out, C_in k^2] @ cols [C_in k^2, columns]
      StridedMap<T> target(out + r0 * g.out_width, g.out_channels, columns, Eigen::OuterStride<>(g.out_points()));
      target.noalias() = weight * Eigen::Map<const RowMatrix<T>>(cols, g.patch(), columns);
    }
  });
}

template <typename T>
void conv_transpose2d_kernel(const ConvGeometry& g, const T* y, const T* w, T* x) {
  const std::int64_t padded_size = aligned_extent<T>(g.in_channels * g.padded_height() * g.padded_width());
  const std::int64_t cols_size = block_scratch<T>(g);
  const std::int64_t rows_per_block = g.block_rows(sizeof(T));
  const Eigen::Map<const RowMatrix<T>> weight(w, g.out_channels, g.patch());
  for_each_sample<T>(g, padded_size + cols_size, [&](std::int64_t b, T* scratch) {
    T* padded = scratch;
    T* cols = scratch + padded_size;
    std::fill(padded, padded + g.in_channels * g.padded_height() * g.padded_width(), T(0));
    const T* in = y + b * g.out_channels * g.out_points();
    for (std::int64_t r0 = 0; r0 < g.out_height; r0 += rows_per_block) {
      const std::int64_t r1 = std::min(g.out_height, r0 + rows_per_block);
      const std::int64_t columns = (r1 - r0) * g.out_width;
      // cols [C_in k^2, columns] = W^T [C_in k^2, C_out] @ y[:, block] [C_out, columns]
      Eigen::Map<RowMatrix<T>>(cols, g.patch(), columns).noalias() =
          weight.transpose() *
          ConstStridedMap<T>(in + r0 * g.out_width, g.out_channels, columns, Eigen::OuterStride<>(g.out_points()));
      col2im_block(g, cols, r0, r1, padded);
    }
    fold_sample(g, padded, x + b * g.in_channels * g.height * g.width);
  });
}

template <typename T>
void conv2d_weight_kernel(const ConvGeometry& g, const T* x, const T* grad, T* dw) {
  const std::int64_t padded_size = aligned_extent<T>(g.in_channels * g.padded_height() * g.padded_width());
  const std::int64_t cols_size = block_scratch<T>(g);
  const std::int64_t rows_per_block = g.block_rows(sizeof(T));
  const int threads = omp_get_max_threads();
  const bool parallel = g.batch >= 2 && threads > 1 && !omp_in_parallel() &&
                        g.batch * g.out_points() * g.patch() * g.out_channels > kParallelWork;
  const int used = parallel ? std::min<int>(threads, static_cast<int>(g.batch)) : 1;
  // One partial sum per thread over a fixed range of samples; the partial sums are
  // added in thread order afterwards.
  std::vector<RowMatrix<T>> partial(static_cast<std::size_t>(used), RowMatrix<T>::Zero(g.out_channels, g.patch()));
  auto accumulate = [&](int thread) {
    T* padded = thread_scratch<T>(padded_size + cols_size);
    T* cols = padded + padded_size;
    const std::int64_t begin = g.batch * thread / used, end = g.batch * (thread + 1) / used;
    RowMatrix<T>& sum = partial[static_cast<std::size_t>(thread)];
    for (std::int64_t b = begin; b < end; ++b) {
      pad_sample(g, x + b * g.in_channels * g.height * g.width, padded);
      const T* gb = grad + b * g.out_channels * g.out_points();
      for (std::int64_t r0 = 0; r0 < g.out_height; r0 += rows_per_block) {
        const std::int64_t r1 = std::min(g.out_height, r0 + rows_per_block);
        const std::int64_t columns = (r1 - r0) * g.out_width;
        im2col_block(g, padded, r0, r1, cols);
        // dW [C_out, C_in k^2] += g[:, block] [C_out, columns] @ cols^T [columns, C_in k^2]
        sum.noalias() +=
            ConstStridedMap<T>(gb + r0 * g.out_width, g.out_channels, columns, Eigen::OuterStride<>(g.out_points())) *
            Eigen::Map<const RowMatrix<T>>(cols, g.patch(), columns).transpose();
      }
    }
  };
  if (used == 1) {
    accumulate(0);
  } else {
#pragma omp parallel num_threads(used)
    accumulate(omp_get_thread_num());
  }
  Eigen::Map<RowMatrix<T>> total(dw, g.out_channels, g.patch());
  total.setZero();
  for (const auto& block : partial) total += block;
}

class Conv2dNode : public Node {
public:
  Conv2dNode(Tensor x, Tensor w, Conv2dOptions options) : x_(std::move(x)), w_(std::move(w)), options_(options) {}
  const char* name() const override { return "conv2d"; }

  // y = A_w x:  dx = A_w^T dy (a transposed convolution on x's grid);
  //             dw = conv2d_weight(x, dy).
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx, gw;
    if (needs_input_grad(0)) gx = conv_transpose2d(g, w_, {x_.size(2), x_.size(3)}, options_);
    if (needs_input_grad(1)) gw = conv2d_weight(x_, g, w_.size(2), options_);
    return {gx, gw};
  }

private:
  Tensor x_, w_;
  Conv2dOptions options_;
};

class ConvTranspose2dNode : public Node {
public:
  ConvTranspose2dNode(Tensor y, Tensor w, Conv2dOptions options)
      : y_(std::move(y)), w_(std::move(w)), options_(options) {}
  const char* name() const override { return "conv_transpose2d"; }

  // z = A_w^T y:  dy = A_w dz (a convolution);  since <dz, A_w^T y> = <A_w dz, y>,
  //               dw = conv2d_weight(dz, y).
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gy, gw;
    if (needs_input_grad(0)) gy = conv2d(g, w_, options_);
    if (needs_input_grad(1)) gw = conv2d_weight(g, y_, w_.size(2), options_);
    return {gy, gw};
  }

private:
  Tensor y_, w_;
  Conv2dOptions options_;
};

class Conv2dWeightNode : public Node {
public:
  Conv2dWeightNode(Tensor x, Tensor g, Conv2dOptions options)
      : x_(std::move(x)), g_(std::move(g)), options_(options) {}
  const char* name() const override { return "conv2d_weight"; }

  // W = G(x, g) with <V, G(x, g)> = <conv2d(x, V), g> for every V:
  //   dx = conv_transpose2d(g, dW) on x's grid;  dg = conv2d(x, dW).
  std::vector<Tensor> backward(const Tensor& dw) override {
    Tensor gx, gg;
    if (needs_input_grad(0)) gx = conv_transpose2d(g_, dw, {x_.size(2), x_.size(3)}, options_);
    if (needs_input_grad(1)) gg = conv2d(x_, dw, options_);
    return {gx, gg};
  }

private:
  Tensor x_, g_;
  Conv2dOptions options_;
};

}  // namespace

PaddingMode parse_padding_mode(const std::string& name) {
  if (name == "zeros") return PaddingMode::zeros;
  if (name == "circular") return PaddingMode::circular;
  if (name == "reflect") return PaddingMode::reflect;
  throw ValueError(fmt::format("unknown padding mode '{}'; expected zeros, circular or reflect", name));
}

const char* padding_mode_name(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::zeros:
      return "zeros";
    case PaddingMode::circular:
      return "circular";
    case PaddingMode::reflect:
      return "reflect";
  }
  return "zeros";
}

std::int64_t conv2d_output_extent(std::int64_t n, std::int64_t kernel_size, const Conv2dOptions& options) {
  return output_extent("conv2d", n, kernel_size, options);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Conv2dOptions& options) {
  check_same_dtype("conv2d", x, weight);
  check_weight("conv2d", weight);
  NEUROP_CHECK(x.ndim() == 4, ShapeError, "conv2d: input must be [batch, channels, height, width], got shape {}",
               shape_string(x.shape()));
  NEUROP_CHECK(x.size(1) == weight.size(1), ShapeError,
               "conv2d: input has {} channels (shape {}) but the weight {} expects {}", x.size(1),
               shape_string(x.shape()), shape_string(weight.shape()), weight.size(1));
  const ConvGeometry g = make_geometry(x.size(0), x.size(1), weight.size(0), x.size(2), x.size(3), weight.size(2),
                                       options, "conv2d");
  Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_height, g.out_width}, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() { conv2d_kernel<T>(g, x.data<T>(), weight.data<T>(), y.data<T>()); });
  if (needs_graph(x, weight)) record(y, std::make_shared<Conv2dNode>(x, weight, options), {x, weight});
  return y;
}

Tensor conv_transpose2d(const Tensor& y, const Tensor& weight, const std::array<std::int64_t, 2>& output_size,
                        const Conv2dOptions& options) {
  check_same_dtype("conv_transpose2d", y, weight);
  check_weight("conv_transpose2d", weight);
  NEUROP_CHECK(y.ndim() == 4, ShapeError,
               "conv_transpose2d: input must be [batch, channels, height, width], got shape {}",
               shape_string(y.shape()));
  NEUROP_CHECK(y.size(1) == weight.size(0), ShapeError,
               "conv_transpose2d: input has {} channels (shape {}) but the weight {} maps from {} (its first extent)",
               y.size(1), shape_string(y.shape()), shape_string(weight.shape()), weight.size(0));
  const ConvGeometry g = make_geometry(y.size(0), weight.size(1), weight.size(0), output_size[0], output_size[1],
                                       weight.size(2), options, "conv_transpose2d");
  NEUROP_CHECK(g.out_height == y.size(2) && g.out_width == y.size(3), ShapeError,
               "conv_transpose2d: output size [{}, {}] gives a convolution output of [{}, {}], not the input's "
               "[{}, {}] (kernel {}, stride {}, padding {}); valid output extents for an input extent m are "
               "(m - 1) * stride + kernel - 2 * padding plus 0 to stride - 1",
               output_size[0], output_size[1], g.out_height, g.out_width, y.size(2), y.size(3), g.kernel, g.stride,
               g.padding);
  Tensor x = Tensor::empty({g.batch, g.in_channels, g.height, g.width}, y.dtype());
  // With stride 1 the adjoint of a zero-padded correlation is the correlation with the
  // flipped, transposed kernel w'[c, o, t, u] = w[o, c, k-1-t, k-1-u] and padding k-1-p;
  // for circular padding this holds when the output grid equals the input grid
  // (k = 2p + 1). That path copies (im2col) where the general one scatter-adds (col2im),
  // which made it about 1.5 times faster on MgNO smoothers.
  const bool as_correlation = g.stride == 1 && ((g.mode == PaddingMode::zeros && g.padding <= g.kernel - 1) ||
                                                (g.mode == PaddingMode::circular && 2 * g.padding + 1 == g.kernel));
  dispatch(y.dtype(), [&]<typename T>() {
    if (!as_correlation) {
      conv_transpose2d_kernel<T>(g, y.data<T>(), weight.data<T>(), x.data<T>());
      return;
    }
    const std::int64_t k = g.kernel;
    // A tensor, not a std::vector: it is a GEMM operand, and tensor storage is 64-byte
    // aligned on every run (see kScratchAlignment).
    Tensor flipped_weight = Tensor::empty({g.in_channels, g.out_channels, k, k}, y.dtype());
    T* flipped = flipped_weight.data<T>();
    const T* w = weight.data<T>();
    for (std::int64_t o = 0; o < g.out_channels; ++o)
      for (std::int64_t c = 0; c < g.in_channels; ++c)
        for (std::int64_t t = 0; t < k; ++t)
          for (std::int64_t u = 0; u < k; ++u)
            flipped[((c * g.out_channels + o) * k + (k - 1 - t)) * k + (k - 1 - u)] =
                w[((o * g.in_channels + c) * k + t) * k + u];
    const Conv2dOptions correlation{.stride = 1, .padding = k - 1 - g.padding, .padding_mode = g.mode};
    const ConvGeometry h = make_geometry(g.batch, g.out_channels, g.in_channels, g.out_height, g.out_width, k,
                                         correlation, "conv_transpose2d");
    conv2d_kernel<T>(h, y.data<T>(), flipped, x.data<T>());
  });
  if (needs_graph(y, weight)) record(x, std::make_shared<ConvTranspose2dNode>(y, weight, options), {y, weight});
  return x;
}

Tensor conv2d_weight(const Tensor& x, const Tensor& g, std::int64_t kernel_size, const Conv2dOptions& options) {
  check_same_dtype("conv2d_weight", x, g);
  NEUROP_CHECK(x.ndim() == 4 && g.ndim() == 4 && x.size(0) == g.size(0), ShapeError,
               "conv2d_weight: expected x [B, C_in, H, W] and g [B, C_out, H_out, W_out] with one batch extent, got "
               "shapes {} and {}",
               shape_string(x.shape()), shape_string(g.shape()));
  const ConvGeometry geometry =
      make_geometry(x.size(0), x.size(1), g.size(1), x.size(2), x.size(3), kernel_size, options, "conv2d_weight");
  NEUROP_CHECK(geometry.out_height == g.size(2) && geometry.out_width == g.size(3), ShapeError,
               "conv2d_weight: g has spatial extents [{}, {}] but a {}x{} convolution of x {} gives [{}, {}]",
               g.size(2), g.size(3), kernel_size, kernel_size, shape_string(x.shape()), geometry.out_height,
               geometry.out_width);
  Tensor dw = Tensor::empty({g.size(1), x.size(1), kernel_size, kernel_size}, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() { conv2d_weight_kernel<T>(geometry, x.data<T>(), g.data<T>(), dw.data<T>()); });
  if (needs_graph(x, g)) record(dw, std::make_shared<Conv2dWeightNode>(x, g, options), {x, g});
  return dw;
}

Tensor conv2d_reference(const Tensor& x, const Tensor& weight, const Conv2dOptions& options) {
  check_same_dtype("conv2d_reference", x, weight);
  check_weight("conv2d_reference", weight);
  NEUROP_CHECK(x.ndim() == 4 && x.size(1) == weight.size(1), ShapeError,
               "conv2d_reference: expected x [B, C_in, H, W] matching the weight {}, got shape {}",
               shape_string(weight.shape()), shape_string(x.shape()));
  const ConvGeometry g = make_geometry(x.size(0), x.size(1), weight.size(0), x.size(2), x.size(3), weight.size(2),
                                       options, "conv2d_reference");
  Tensor y = Tensor::empty({g.batch, g.out_channels, g.out_height, g.out_width}, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    const T* pw = weight.data<T>();
    T* py = y.data<T>();
    const std::int64_t k = g.kernel;
    for (std::int64_t b = 0; b < g.batch; ++b)
      for (std::int64_t o = 0; o < g.out_channels; ++o)
        for (std::int64_t i = 0; i < g.out_height; ++i)
          for (std::int64_t j = 0; j < g.out_width; ++j) {
            double sum = 0.0;
            for (std::int64_t c = 0; c < g.in_channels; ++c)
              for (std::int64_t t = 0; t < k; ++t) {
                const std::int64_t si = g.source_row[static_cast<std::size_t>(g.stride * i + t)];
                if (si < 0) continue;
                for (std::int64_t u = 0; u < k; ++u) {
                  const std::int64_t sj = g.source_col[static_cast<std::size_t>(g.stride * j + u)];
                  if (sj < 0) continue;
                  sum += static_cast<double>(pw[((o * g.in_channels + c) * k + t) * k + u]) *
                         static_cast<double>(px[((b * g.in_channels + c) * g.height + si) * g.width + sj]);
                }
              }
            py[((b * g.out_channels + o) * g.out_height + i) * g.out_width + j] = static_cast<T>(sum);
          }
  });
  return y;
}

}  // namespace neurop
