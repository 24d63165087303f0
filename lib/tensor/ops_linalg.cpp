// Matrix products through Eigen's GEMM: matmul, linear, channel mixing.
#include <omp.h>

#include <algorithm>
#include <vector>

#include <Eigen/Core>

#include "lib/autodiff/graph.hpp"
#include "lib/tensor/direct_gemm.hpp"
#include "lib/tensor/kernels.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/tensor/unary_specs.hpp"

namespace neurop {
namespace {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;

// out = op(a) op(b) for row-major blocks; op(a) is [m, k], op(b) is [k, n].
template <typename T>
void gemm(const T* a, const T* b, T* out, std::int64_t m, std::int64_t k, std::int64_t n, bool ta, bool tb,
          bool accumulate = false) {
  const ConstMatrixMap<T> A(a, ta ? k : m, ta ? m : k);
  const ConstMatrixMap<T> B(b, tb ? n : k, tb ? k : n);
  MatrixMap<T> C(out, m, n);
  if (accumulate) {
    if (!ta && !tb) C.noalias() += A * B;
    else if (ta && !tb) C.noalias() += A.transpose() * B;
    else if (!ta && tb) C.noalias() += A * B.transpose();
    else C.noalias() += A.transpose() * B.transpose();
  } else {
    if (!ta && !tb) C.noalias() = A * B;
    else if (ta && !tb) C.noalias() = A.transpose() * B;
    else if (!ta && tb) C.noalias() = A * B.transpose();
    else C.noalias() = A.transpose() * B.transpose();
  }
}

struct MatmulDims {
  std::int64_t batch = 1, m = 0, k = 0, n = 0;
  bool batched_a = false, batched_b = false;
};

MatmulDims matmul_dims(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  NEUROP_CHECK((a.ndim() == 2 || a.ndim() == 3) && (b.ndim() == 2 || b.ndim() == 3), ShapeError,
               "matmul: operands must have rank 2 or 3, got shapes {} and {}", shape_string(a.shape()),
               shape_string(b.shape()));
  MatmulDims d;
  d.batched_a = a.ndim() == 3;
  d.batched_b = b.ndim() == 3;
  const std::int64_t a_rows = a.size(-2), a_cols = a.size(-1);
  const std::int64_t b_rows = b.size(-2), b_cols = b.size(-1);
  d.m = ta ? a_cols : a_rows;
  d.k = ta ? a_rows : a_cols;
  const std::int64_t kb = tb ? b_cols : b_rows;
  d.n = tb ? b_rows : b_cols;
  NEUROP_CHECK(d.k == kb, ShapeError,
               "matmul: inner extents differ: op(a) is [{}, {}] from shape {}{} and op(b) is [{}, {}] from shape {}{}",
               d.m, d.k, shape_string(a.shape()), ta ? " transposed" : "", kb, d.n, shape_string(b.shape()),
               tb ? " transposed" : "");
  if (d.batched_a && d.batched_b) {
    NEUROP_CHECK(a.size(0) == b.size(0), ShapeError, "matmul: batch extents differ: shapes {} and {}",
                 shape_string(a.shape()), shape_string(b.shape()));
  }
  d.batch = d.batched_a ? a.size(0) : (d.batched_b ? b.size(0) : 1);
  return d;
}

class MatmulNode : public Node {
public:
  MatmulNode(Tensor a, Tensor b, bool ta, bool tb) : a_(std::move(a)), b_(std::move(b)), ta_(ta), tb_(tb) {}
  const char* name() const override { return "matmul"; }

  // C = op(A) op(B):
  //   dA = dC op(B)^T        (A not transposed)     dA = op(B) dC^T   (A transposed)
  //   dB = op(A)^T dC        (B not transposed)     dB = dC^T op(A)   (B transposed)
  // A matrix shared by a batch receives the sum over the batch.
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga, gb;
    if (needs_input_grad(0)) {
      ga = ta_ ? matmul(b_, g, tb_, true) : matmul(g, b_, false, !tb_);
      if (a_.ndim() == 2 && ga.ndim() == 3) ga = sum(ga, {0});
    }
    if (needs_input_grad(1)) {
      gb = tb_ ? matmul(g, a_, true, ta_) : matmul(a_, g, !ta_, false);
      if (b_.ndim() == 2 && gb.ndim() == 3) gb = sum(gb, {0});
    }
    return {ga, gb};
  }

private:
  Tensor a_, b_;
  bool ta_, tb_;
};

class ChannelMixNode : public Node {
public:
  ChannelMixNode(Tensor x, Tensor w, bool tw) : x_(std::move(x)), w_(std::move(w)), tw_(tw) {}
  const char* name() const override { return "channel_mix"; }

  // y[b] = op(W) x[b]:  dx[b] = op(W)^T dy[b];  dW = sum_b dy[b] x[b]^T (transposed when W is).
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx, gw;
    if (needs_input_grad(0)) gx = channel_mix(g, w_, !tw_);
    if (needs_input_grad(1)) gw = tw_ ? batch_outer(x_, g) : batch_outer(g, x_);
    return {gx, gw};
  }

private:
  Tensor x_, w_;
  bool tw_;
};

class BatchOuterNode : public Node {
public:
  BatchOuterNode(Tensor a, Tensor b) : a_(std::move(a)), b_(std::move(b)) {}
  const char* name() const override { return "batch_outer"; }

  // C = sum_b a[b] b[b]^T:  da[b] = dC b[b];  db[b] = dC^T a[b].
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga, gb;
    if (needs_input_grad(0)) ga = channel_mix(b_, g, false);
    if (needs_input_grad(1)) gb = channel_mix(a_, g, true);
    return {ga, gb};
  }

private:
  Tensor a_, b_;
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  check_same_dtype("matmul", a, b);
  const MatmulDims d = matmul_dims(a, b, ta, tb);
  // A batch against a shared matrix is one GEMM over the stacked rows.
  if (d.batched_a && !d.batched_b && !ta) {
    const Tensor stacked = reshape(a, {d.batch * d.m, d.k});
    return reshape(matmul(stacked, b, false, tb), {d.batch, d.m, d.n});
  }
  const bool batched = d.batched_a || d.batched_b;
  Tensor out = batched ? Tensor::empty({d.batch, d.m, d.n}, a.dtype()) : Tensor::empty({d.m, d.n}, a.dtype());
  dispatch(a.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const std::int64_t stride_a = d.batched_a ? d.m * d.k : 0;
    const std::int64_t stride_b = d.batched_b ? d.k * d.n : 0;
    if (!batched || d.batch == 1) {
      gemm<T>(pa, pb, po, d.m, d.k, d.n, ta, tb);
    } else {
#pragma omp parallel for schedule(static) if (d.batch * d.m * d.k * d.n > detail::kParallelThreshold)
      for (std::int64_t i = 0; i < d.batch; ++i)
        gemm<T>(pa + i * stride_a, pb + i * stride_b, po + i * d.m * d.n, d.m, d.k, d.n, ta, tb);
    }
  });
  if (needs_graph(a, b)) record(out, std::make_shared<MatmulNode>(a, b, ta, tb), {a, b});
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  NEUROP_CHECK(weight.ndim() == 2, ShapeError, "linear: weight must be [out, in], got shape {}",
               shape_string(weight.shape()));
  NEUROP_CHECK(x.ndim() >= 1 && x.size(-1) == weight.size(1), ShapeError,
               "linear: input shape {} has last extent {}, but the weight {} expects {} input features",
               shape_string(x.shape()), x.ndim() >= 1 ? x.size(-1) : 0, shape_string(weight.shape()), weight.size(1));
  const std::int64_t in = weight.size(1), out_features = weight.size(0);
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  Tensor y = matmul(reshape(x, {x.numel() / std::max<std::int64_t>(in, 1), in}), weight, false, true);
  if (bias.defined()) {
    NEUROP_CHECK(bias.shape() == Shape{out_features}, ShapeError, "linear: bias shape {} should be [{}]",
                 shape_string(bias.shape()), out_features);
    y = add(y, bias);
  }
  return reshape(y, out_shape);
}

Tensor channel_mix(const Tensor& x, const Tensor& weight, bool tw) {
  check_same_dtype("channel_mix", x, weight);
  NEUROP_CHECK(x.ndim() == 3 && weight.ndim() == 2, ShapeError,
               "channel_mix: expected x [batch, channels, points] and a matrix weight, got shapes {} and {}",
               shape_string(x.shape()), shape_string(weight.shape()));
  const std::int64_t batch = x.size(0), k = x.size(1), points = x.size(2);
  const std::int64_t m = tw ? weight.size(1) : weight.size(0);
  const std::int64_t wk = tw ? weight.size(0) : weight.size(1);
  NEUROP_CHECK(wk == k, ShapeError, "channel_mix: input has {} channels (shape {}) but the weight {}{} expects {}", k,
               shape_string(x.shape()), shape_string(weight.shape()), tw ? " transposed" : "", wk);
  Tensor out = Tensor::empty({batch, m, points}, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    // The product reads W^T as a plain row-major matrix.
    RowMatrix<T> transposed;
    if (tw) transposed = ConstMatrixMap<T>(weight.data<T>(), weight.size(0), weight.size(1)).transpose();
    const T* pw = tw ? transposed.data() : weight.data<T>();
    const T* px = x.data<T>();
    T* po = out.data<T>();
    if (batch == 1) {
      detail::direct_gemm<T>(pw, k, px, points, po, points, m, points, k, /*accumulate=*/false);
    } else {
#pragma omp parallel for schedule(static) if (batch * m * k * points > detail::kParallelThreshold)
      for (std::int64_t b = 0; b < batch; ++b)
        detail::direct_gemm<T>(pw, k, px + b * k * points, points, po + b * m * points, points, m, points, k,
                               /*accumulate=*/false);
    }
  });
  if (needs_graph(x, weight)) record(out, std::make_shared<ChannelMixNode>(x, weight, tw), {x, weight});
  return out;
}

Tensor batch_outer(const Tensor& a, const Tensor& b) {
  check_same_dtype("batch_outer", a, b);
  NEUROP_CHECK(a.ndim() == 3 && b.ndim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(2), ShapeError,
               "batch_outer: expected a [B, P, S] and b [B, Q, S], got shapes {} and {}", shape_string(a.shape()),
               shape_string(b.shape()));
  const std::int64_t batch = a.size(0), p = a.size(1), q = b.size(1), points = a.size(2);
  Tensor out = Tensor::zeros({p, q}, a.dtype());
  dispatch(a.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const int threads = (batch > 1 && batch * p * q * points > detail::kParallelThreshold && !omp_in_parallel())
                            ? std::min<int>(omp_get_max_threads(), static_cast<int>(batch))
                            : 1;
    if (threads == 1) {
      for (std::int64_t i = 0; i < batch; ++i)
        gemm<T>(pa + i * p * points, pb + i * q * points, po, p, points, q, false, true, /*accumulate=*/true);
      return;
    }
    // Each thread sums a fixed range of the batch; partial sums are added in thread
    // order, so the result depends only on the thread count.
    std::vector<RowMatrix<T>> partial(static_cast<std::size_t>(threads), RowMatrix<T>::Zero(p, q));
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      const std::int64_t begin = batch * t / threads, end = batch * (t + 1) / threads;
      for (std::int64_t i = begin; i < end; ++i)
        gemm<T>(pa + i * p * points, pb + i * q * points, partial[static_cast<std::size_t>(t)].data(), p, points, q,
                false, true, /*accumulate=*/true);
    }
    MatrixMap<T> total(po, p, q);
    for (const auto& block : partial) total += block;
  });
  if (needs_graph(a, b)) record(out, std::make_shared<BatchOuterNode>(a, b), {a, b});
  return out;
}

namespace {

Tensor channel_mix_bias(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation activation);

class PointwiseConvNode : public Node {
public:
  // `slope` is act'(z) from the forward pass, undefined for the identity.
  PointwiseConvNode(Tensor x, Tensor w, Tensor bias, Tensor slope, Activation activation)
      : x_(std::move(x)), w_(std::move(w)), bias_(std::move(bias)), slope_(std::move(slope)), activation_(activation) {}
  const char* name() const override { return "pointwise_conv"; }

  // y[b] = act(z[b]), z[b] = W x[b] + bias. With gz = g act'(z):
  //   dx[b] = W^T gz[b];  dW = sum_b gz[b] x[b]^T;  dbias = sum of gz over b and points.
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gz = g;
    if (activation_ != Activation::identity) {
      if (GradMode::enabled()) {
        // Recompute z inside the graph so that the second derivative sees act''.
        gz = g * activation_derivative(channel_mix_bias(x_, w_, bias_, Activation::identity), activation_);
      } else {
        gz = Tensor::empty(g.shape(), g.dtype());
        dispatch(g.dtype(), [&]<typename T>() {
          detail::parallel_chunks(g.numel(), [&](std::int64_t begin, std::int64_t end) {
            const detail::ConstArrayMap<T> slope(slope_.data<T>() + begin, end - begin);
            const detail::ConstArrayMap<T> grad(g.data<T>() + begin, end - begin);
            detail::ArrayMap<T>(gz.data<T>() + begin, end - begin) = grad * slope;
          });
        });
      }
    }
    Tensor gx, gw, gb;
    if (needs_input_grad(0)) gx = channel_mix(gz, w_, true);
    if (needs_input_grad(1)) gw = batch_outer(gz, x_);
    if (needs_input_grad(2)) gb = sum(gz, {0, 2});
    return {gx, gw, gb};
  }

private:
  Tensor x_, w_, bias_, slope_;
  Activation activation_;
};

// Points per column block of channel_mix_bias. A block of 128 output channels is 256 KiB
// in float32, well inside the 2 MiB L2 cache per core of the development machine.
constexpr std::int64_t kColumnBlock = 512;

// y[b] = act(W x[b] + bias) for x [B, K, S], W [M, K], and act'(z) for the backward pass
// when recording.

Tensor channel_mix_bias(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation activation) {
  check_same_dtype("pointwise_conv", x, weight);
  check_same_dtype("pointwise_conv", x, bias);
  const std::int64_t batch = x.size(0), k = x.size(1), points = x.size(2), m = weight.size(0);
  const bool recording = needs_graph({x, weight, bias});
  Tensor z = Tensor::empty({batch, m, points}, x.dtype());
  Tensor y = activation == Activation::identity ? z : Tensor::empty({batch, m, points}, x.dtype());
  Tensor slope =
      recording && activation != Activation::identity ? Tensor::empty({batch, m, points}, x.dtype()) : Tensor();
  dispatch(x.dtype(), [&]<typename T>() {
    const T* pw = weight.data<T>();
    const T* px = x.data<T>();
    const T* pb = bias.data<T>();
    T* pz = z.data<T>();
    T* py = y.data<T>();
    using Blocked = Eigen::OuterStride<>;
    const Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> bias_column(pb, m);
    // Sample b in column blocks of kColumnBlock points, so that the product, the bias and
    // the activation of a block run while it is in cache: z = W x + b, y = act(z).
    auto one = [&](std::int64_t b) {
      for (std::int64_t first = 0; first < points; first += kColumnBlock) {
        const std::int64_t columns = std::min(kColumnBlock, points - first);
        detail::direct_gemm<T>(pw, k, px + b * k * points + first, points, pz + b * m * points + first, points, m,
                               columns, k, /*accumulate=*/false);
        Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Blocked> zb(pz + b * m * points + first, m, columns,
                                                               Blocked(points));
        zb.colwise() += bias_column;
        if (activation == Activation::identity) continue;
        for (std::int64_t row = 0; row < m; ++row) {
          const std::int64_t offset = (b * m + row) * points + first;
          if (slope.defined()) {
            detail::activation_forward_and_slope<T>(activation, pz + offset, py + offset, slope.data<T>() + offset,
                                                    columns);
          } else {
            detail::activation_forward<T>(activation, pz + offset, py + offset, columns);
          }
        }
      }
    };
    if (batch == 1) {
      one(0);
    } else {
#pragma omp parallel for schedule(static) if (batch * m * k * points > detail::kParallelThreshold)
      for (std::int64_t b = 0; b < batch; ++b) one(b);
    }
  });
  if (recording) record(y, std::make_shared<PointwiseConvNode>(x, weight, bias, slope, activation), {x, weight, bias});
  return y;
}

}  // namespace

Tensor pointwise_conv(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation activation) {
  NEUROP_CHECK(x.ndim() >= 2, ShapeError, "pointwise_conv: input must be [batch, channels, ...], got shape {}",
               shape_string(x.shape()));
  NEUROP_CHECK(weight.ndim() == 2, ShapeError, "pointwise_conv: weight must be [out_channels, in_channels], got {}",
               shape_string(weight.shape()));
  NEUROP_CHECK(x.size(1) == weight.size(1), ShapeError,
               "pointwise_conv: input has {} channels (shape {}) but the weight {} expects {}", x.size(1),
               shape_string(x.shape()), shape_string(weight.shape()), weight.size(1));
  const std::int64_t batch = x.size(0), points = x.numel() / std::max<std::int64_t>(batch * x.size(1), 1);
  const Tensor flat = reshape(x, {batch, x.size(1), points});
  Tensor y;
  if (bias.defined()) {
    NEUROP_CHECK(bias.shape() == Shape{weight.size(0)}, ShapeError, "pointwise_conv: bias shape {} should be [{}]",
                 shape_string(bias.shape()), weight.size(0));
    y = channel_mix_bias(flat, weight, bias, activation);
  } else {
    y = activate(channel_mix(flat, weight, false), activation);
  }
  Shape out_shape = x.shape();
  out_shape[1] = weight.size(0);
  return reshape(y, out_shape);
}

// Points per block of pointwise_mlp: 128 hidden channels of 256 points are 128 KiB in
// float32, which stays in a 1 to 2 MiB L2 cache next to the input block.
constexpr std::int64_t kMlpColumnBlock = 256;

Tensor pointwise_mlp(const Tensor& x, const Tensor& w1, const Tensor& b1, Activation activation, const Tensor& w2,
                     const Tensor& b2) {
  NEUROP_CHECK(b1.defined() && b2.defined(), ShapeError,
               "pointwise_mlp: a bias is missing (b1 defined: {}, b2 defined: {}); pass one for each layer",
               b1.defined(), b2.defined());
  NEUROP_CHECK(w2.ndim() == 2 && w1.ndim() == 2 && w2.size(1) == w1.size(0), ShapeError,
               "pointwise_mlp: second weight {} must be [out_channels, {}] to follow the first weight {}",
               shape_string(w2.shape()), w1.ndim() == 2 ? w1.size(0) : -1, shape_string(w1.shape()));
  if (needs_graph({x, w1, b1, w2, b2})) return pointwise_conv(pointwise_conv(x, w1, b1, activation), w2, b2);
  NEUROP_CHECK(x.ndim() >= 2 && x.size(1) == w1.size(1), ShapeError,
               "pointwise_mlp: input shape {} does not fit the first weight {}; expected [batch, {}, ...]",
               shape_string(x.shape()), shape_string(w1.shape()), w1.size(1));
  NEUROP_CHECK(b1.shape() == Shape{w1.size(0)} && b2.shape() == Shape{w2.size(0)}, ShapeError,
               "pointwise_mlp: bias shapes {} and {} should be [{}] and [{}]", shape_string(b1.shape()),
               shape_string(b2.shape()), w1.size(0), w2.size(0));
  for (const Tensor* t : {&w1, &b1, &w2, &b2}) check_same_dtype("pointwise_mlp", x, *t);

  const std::int64_t batch = x.size(0), in_channels = x.size(1), hidden = w1.size(0), out_channels = w2.size(0);
  const std::int64_t points = x.numel() / std::max<std::int64_t>(batch * in_channels, 1);
  Shape out_shape = x.shape();
  out_shape[1] = out_channels;
  Tensor y = Tensor::empty(out_shape, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    const T* pw1 = w1.data<T>();
    const T* pw2 = w2.data<T>();
    const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> bias1(b1.data<T>(), hidden);
    const Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> bias2(b2.data<T>(), out_channels);
    T* py = y.data<T>();
    const std::int64_t blocks_per_sample = (points + kMlpColumnBlock - 1) / kMlpColumnBlock;
#pragma omp parallel if (batch * points * hidden * in_channels > detail::kParallelThreshold)
    {
      std::vector<T> scratch(static_cast<std::size_t>(hidden * kMlpColumnBlock));
#pragma omp for schedule(static)
      for (std::int64_t task = 0; task < batch * blocks_per_sample; ++task) {
        const std::int64_t b = task / blocks_per_sample, start = (task % blocks_per_sample) * kMlpColumnBlock;
        const std::int64_t columns = std::min(kMlpColumnBlock, points - start);
        // h = act(W1 x + b1) for this block, [hidden, columns] with row stride columns.
        detail::direct_gemm<T>(pw1, in_channels, px + b * in_channels * points + start, points, scratch.data(), columns,
                               hidden, columns, in_channels, /*accumulate=*/false);
        for (std::int64_t row = 0; row < hidden; ++row) {
          T* values = scratch.data() + row * columns;
          detail::ArrayMap<T>(values, columns) += bias1(row);
          detail::activation_forward<T>(activation, values, values, columns);
        }
        // y = W2 h + b2
        T* out = py + b * out_channels * points + start;
        detail::direct_gemm<T>(pw2, hidden, scratch.data(), columns, out, points, out_channels, columns, hidden,
                               /*accumulate=*/false);
        for (std::int64_t row = 0; row < out_channels; ++row)
          detail::ArrayMap<T>(out + row * points, columns) += bias2(row);
      }
    }
  });
  return y;
}

}  // namespace neurop
