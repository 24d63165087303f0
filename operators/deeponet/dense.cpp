#include "operators/deeponet/dense.hpp"

#include <omp.h>

#include <cmath>

#include <Eigen/Core>

#include "lib/autodiff/graph.hpp"
#include "lib/core/error.hpp"
#include "lib/nn/init.hpp"
#include "lib/tensor/ops.hpp"
#include "operators/deeponet/gemm.hpp"

namespace neurop::deeponet {
namespace {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <typename T>
using ConstRowVectorMap = Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>;

// Elementwise sweeps below this many entries run on one thread.
constexpr std::int64_t kParallelEntries = 1 << 15;

// Activations whose derivative follows from the output value y = act(z) alone:
// relu' = [y > 0], tanh' = 1 - y^2, sigmoid' = y (1 - y), identity' = 1.
bool is_fused(nn::Activation activation) {
  return activation == nn::Activation::identity || activation == nn::Activation::relu ||
         activation == nn::Activation::tanh || activation == nn::Activation::sigmoid;
}

// Y <- act(Y + b) row by row, in place: Y [rows, cols], b [cols] or null.
template <typename T>
void add_bias_activate(T* y, const T* b, std::int64_t rows, std::int64_t cols, nn::Activation activation) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelEntries && !omp_in_parallel())
  for (std::int64_t r = 0; r < rows; ++r) {
    Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>> row(y + r * cols, cols);
    if (b != nullptr) row += ConstRowVectorMap<T>(b, cols);
    switch (activation) {
      case nn::Activation::relu: row = row.max(T(0)); break;
      case nn::Activation::tanh: row = row.tanh(); break;
      case nn::Activation::sigmoid: row = row.logistic(); break;
      default: break;
    }
  }
}

// G = g * act'(z) from the output values y = act(z): g, y, G [n].
template <typename T>
void scale_by_derivative(const T* g, const T* y, T* out, std::int64_t n, nn::Activation activation) {
  const std::int64_t chunk = 4096;
  const std::int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n > kParallelEntries && !omp_in_parallel())
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t begin = c * chunk, count = std::min(chunk, n - begin);
    Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> gv(g + begin, count), yv(y + begin, count);
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> ov(out + begin, count);
    switch (activation) {
      case nn::Activation::relu: ov = (yv > T(0)).select(gv, T(0)); break;
      case nn::Activation::tanh: ov = gv * (T(1) - yv.square()); break;
      case nn::Activation::sigmoid: ov = gv * yv * (T(1) - yv); break;
      default: ov = gv; break;
    }
  }
}

class DenseNode : public Node {
public:
  DenseNode(Tensor x, Tensor weight, Tensor bias, nn::Activation activation, Tensor output_values)
      : x_(std::move(x)),
        weight_(std::move(weight)),
        bias_(std::move(bias)),
        activation_(activation),
        output_values_(std::move(output_values)) {}
  const char* name() const override { return "dense"; }

  // y = act(z), z = x W^T + b, G = g * act'(z):
  //   dx = G W,  dW = G^T x,  db = sum over rows of G.
  std::vector<Tensor> backward(const Tensor& g) override {
    if (GradMode::enabled()) return backward_with_graph(g);
    const std::int64_t in = weight_.size(1), out = weight_.size(0);
    const std::int64_t rows = x_.numel() / in;
    Tensor scaled = g;
    if (activation_ != nn::Activation::identity) {
      scaled = Tensor::empty(g.shape(), g.dtype());
      dispatch(g.dtype(), [&]<typename T>() {
        scale_by_derivative<T>(g.data<T>(), output_values_.data<T>(), scaled.data<T>(), g.numel(), activation_);
      });
    }
    Tensor gx, gw, gb;
    dispatch(g.dtype(), [&]<typename T>() {
      const T* G = scaled.data<T>();
      if (needs_input_grad(0)) {
        gx = Tensor::empty(x_.shape(), x_.dtype());
        // [rows, out] x [out, in] -> [rows, in]
        detail::multiply_ab(G, weight_.data<T>(), gx.data<T>(), rows, out, in);
      }
      if (needs_input_grad(2)) gb = Tensor::empty(bias_.shape(), bias_.dtype());
      if (needs_input_grad(1)) {
        gw = Tensor::empty(weight_.shape(), weight_.dtype());
        // [out, rows] x [rows, in] -> [out, in], and the column sums of G into db
        detail::multiply_atb(G, x_.data<T>(), gw.data<T>(), rows, out, in, gb.defined() ? gb.data<T>() : nullptr);
      } else if (gb.defined()) {
        Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>(gb.data<T>(), out) = ConstMatrixMap<T>(G, rows, out).colwise().sum();
      }
    });
    return {gx, gw, gb};
  }

private:
  // The same gradients with differentiable operations. act'(z) is taken from a
  // recomputed y = dense(x, W, b), which carries the dependence on x, W and b that
  // second derivatives need (relu' = [y > 0] is piecewise constant and needs none).
  std::vector<Tensor> backward_with_graph(const Tensor& g) {
    const std::int64_t in = weight_.size(1), out = weight_.size(0);
    const std::int64_t rows = x_.numel() / in;
    Tensor scaled = g;
    if (activation_ == nn::Activation::relu) {
      scaled = mul(g, step(output_values_));
    } else if (activation_ != nn::Activation::identity) {
      const Tensor y = dense(x_, weight_, bias_, activation_);
      const Tensor derivative = activation_ == nn::Activation::tanh ? 1.0 - square(y) : y * (1.0 - y);
      scaled = mul(g, derivative);
    }
    const Tensor G = reshape(scaled, {rows, out});
    const Tensor X = reshape(x_, {rows, in});
    Tensor gx, gw, gb;
    if (needs_input_grad(0)) gx = reshape(matmul(G, weight_), x_.shape());
    if (needs_input_grad(1)) gw = matmul(G, X, /*transpose_a=*/true, /*transpose_b=*/false);
    if (needs_input_grad(2)) gb = sum(G, {0});
    return {gx, gw, gb};
  }

  Tensor x_, weight_, bias_;
  nn::Activation activation_;
  // y = act(z) without history: keeping the output itself would make a reference cycle.
  Tensor output_values_;
};

void check_dense_shapes(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  NEUROP_CHECK(weight.ndim() == 2, ShapeError, "dense: weight must be [out, in], got shape {}",
               shape_string(weight.shape()));
  NEUROP_CHECK(x.ndim() >= 1 && x.size(-1) == weight.size(1), ShapeError,
               "dense: input shape {} has last extent {}, but the weight {} expects {} input features",
               shape_string(x.shape()), x.ndim() >= 1 ? x.size(-1) : 0, shape_string(weight.shape()), weight.size(1));
  check_same_dtype("dense", x, weight);
  if (bias.defined()) {
    NEUROP_CHECK(bias.shape() == Shape{weight.size(0)}, ShapeError, "dense: bias shape {} should be [{}]",
                 shape_string(bias.shape()), weight.size(0));
    check_same_dtype("dense", x, bias);
  }
}

}  // namespace

Tensor dense(const Tensor& x, const Tensor& weight, const Tensor& bias, nn::Activation activation) {
  check_dense_shapes(x, weight, bias);
  // NOTE: gelu and selu need the pre-activation for their derivative; they take the
  // unfused path of three graph nodes.
  if (!is_fused(activation)) return nn::activate(linear(x, weight, bias), activation);

  const std::int64_t in = weight.size(1), out_features = weight.size(0);
  const std::int64_t rows = x.numel() / in;
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    // [rows, in] x [in, out] -> [rows, out], then bias and activation in place.
    detail::multiply_abt(x.data<T>(), weight.data<T>(), out.data<T>(), rows, in, out_features);
    add_bias_activate<T>(out.data<T>(), bias.defined() ? bias.data<T>() : nullptr, rows, out_features, activation);
  });
  if (needs_graph({x, weight, bias}))
    record(out, std::make_shared<DenseNode>(x, weight, bias, activation, out.detach()), {x, weight, bias});
  return out;
}


Initializer parse_initializer(const std::string& name) {
  if (name == "glorot-normal") return Initializer::glorot_normal;
  if (name == "fan-in-uniform") return Initializer::fan_in_uniform;
  throw ValueError(fmt::format("unknown initializer '{}'; expected glorot-normal or fan-in-uniform", name));
}

const char* initializer_name(Initializer initializer) {
  return initializer == Initializer::glorot_normal ? "glorot-normal" : "fan-in-uniform";
}

DenseNet::DenseNet(const std::vector<std::int64_t>& widths, nn::Activation activation, Rng& rng,
                   nn::Activation final_activation, Initializer initializer, DType dtype)
    : widths_(widths), activation_(activation), final_activation_(final_activation) {
  NEUROP_CHECK(widths.size() >= 2, ValueError,
               "DenseNet: expected at least an input and an output width, got {} widths [{}]", widths.size(),
               fmt::join(widths, ", "));
  for (std::size_t i = 0; i < widths.size(); ++i) {
    NEUROP_CHECK(widths[i] >= 1, ValueError, "DenseNet: width {} of [{}] is {}; every width must be >= 1", i,
                 fmt::join(widths, ", "), widths[i]);
  }
  for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
    const std::int64_t in = widths[i], out = widths[i + 1];
    Tensor weight = Tensor::empty({out, in}, dtype);
    Tensor bias = Tensor::zeros({out}, dtype);
    if (initializer == Initializer::glorot_normal) {
      nn::normal_(weight, 0.0, std::sqrt(2.0 / static_cast<double>(in + out)), rng);
    } else {
      nn::fan_in_uniform_(weight, in, rng);
      nn::fan_in_uniform_(bias, in, rng);
    }
    weights.push_back(weight);
    biases.push_back(bias);
  }
  // Registration stores pointers into the vectors, so it waits until they stop growing.
  for (std::size_t i = 0; i < weights.size(); ++i) {
    register_parameter(fmt::format("layers.{}.weight", i), weights[i]);
    register_parameter(fmt::format("layers.{}.bias", i), biases[i]);
  }
}

Tensor DenseNet::forward(const Tensor& x) const {
  Tensor h = x;
  for (std::size_t i = 0; i < weights.size(); ++i)
    h = dense(h, weights[i], biases[i], i + 1 == weights.size() ? final_activation_ : activation_);
  return h;
}

std::string DenseNet::describe() const {
  std::string text = fmt::format("dense [{}] {}", fmt::join(widths_, ", "), nn::activation_name(activation_));
  if (final_activation_ != nn::Activation::identity)
    text += fmt::format(", {} after the last layer", nn::activation_name(final_activation_));
  return text;
}

StackedDenseNet::StackedDenseNet(std::int64_t in_features, const std::vector<std::int64_t>& hidden_widths,
                                 std::int64_t outputs, nn::Activation activation, Rng& rng, Initializer initializer,
                                 DType dtype)
    : in_features_(in_features), hidden_widths_(hidden_widths), activation_(activation) {
  NEUROP_CHECK(outputs >= 1, ValueError, "StackedDenseNet: the number of stacked nets must be >= 1, got {}", outputs);
  std::vector<std::int64_t> widths = {in_features};
  widths.insert(widths.end(), hidden_widths.begin(), hidden_widths.end());
  widths.push_back(1);
  for (std::int64_t k = 0; k < outputs; ++k) {
    nets_.push_back(std::make_unique<DenseNet>(widths, activation, rng, nn::Activation::identity, initializer, dtype));
    register_module(fmt::format("nets.{}", k), *nets_.back());
  }
}

Tensor StackedDenseNet::forward(const Tensor& x) const {
  // p outputs [..., 1] -> [..., p]
  std::vector<Tensor> columns;
  columns.reserve(nets_.size());
  for (const auto& net : nets_) columns.push_back(net->forward(x));
  return concat(columns, -1);
}

std::string StackedDenseNet::describe() const {
  std::vector<std::int64_t> widths = {in_features_};
  widths.insert(widths.end(), hidden_widths_.begin(), hidden_widths_.end());
  widths.push_back(1);
  return fmt::format("{} stacked dense nets [{}] {}", nets_.size(), fmt::join(widths, ", "),
                     nn::activation_name(activation_));
}

}  // namespace neurop::deeponet
