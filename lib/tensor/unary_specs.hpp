// Elementwise functions as "specs": the forward map and the fused first derivative as
// Eigen array expressions, and the derivative as differentiable tensor operations.
// Internal to lib/tensor: the unary operations (ops_elementwise.cpp) and the fused
// layers (spectral.cpp, ops_linalg.cpp) share them.
#pragma once

#include <algorithm>
#include <type_traits>
#include <cmath>
#include <numbers>

#include <unsupported/Eigen/SpecialFunctions>

#include "lib/tensor/gelu_table.hpp"
#include "lib/tensor/kernels.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::detail::unary_specs {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;

struct NegSpec {
  static constexpr const char* kName = "neg";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return -x;
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>&, const ConstArrayMap<T>& g) const {
    return -g;
  }
  Tensor derivative(const Tensor& x) const { return Tensor::full({}, -1.0, x.dtype()); }
};

struct AffineSpec {
  static constexpr const char* kName = "affine";
  double scale = 1.0, shift = 0.0;
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x * static_cast<T>(scale) + static_cast<T>(shift);
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>&, const ConstArrayMap<T>& g) const {
    return g * static_cast<T>(scale);
  }
  Tensor derivative(const Tensor& x) const { return Tensor::full({}, scale, x.dtype()); }
};

struct ExpSpec {
  static constexpr const char* kName = "exp";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.exp();
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * x.exp();
  }
  Tensor derivative(const Tensor& x) const { return exp(x); }
};

struct LogSpec {
  static constexpr const char* kName = "log";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.log();
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g / x;
  }
  Tensor derivative(const Tensor& x) const { return pow(x, -1.0); }
};

struct SqrtSpec {
  static constexpr const char* kName = "sqrt";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.sqrt();
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * static_cast<T>(0.5) / x.sqrt();
  }
  Tensor derivative(const Tensor& x) const { return affine(pow(x, -0.5), 0.5, 0.0); }
};

struct SquareSpec {
  static constexpr const char* kName = "square";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.square();
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * static_cast<T>(2) * x;
  }
  Tensor derivative(const Tensor& x) const { return affine(x, 2.0, 0.0); }
};

struct PowSpec {
  static constexpr const char* kName = "pow";
  double p = 1.0;
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.pow(static_cast<T>(p));
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * static_cast<T>(p) * x.pow(static_cast<T>(p - 1));
  }
  Tensor derivative(const Tensor& x) const {
    if (p == 1.0) return Tensor::full({}, 1.0, x.dtype());
    return affine(pow(x, p - 1.0), p, 0.0);
  }
};

struct SinSpec {
  static constexpr const char* kName = "sin";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.sin();
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * x.cos();
  }
  Tensor derivative(const Tensor& x) const { return cos(x); }
};

struct CosSpec {
  static constexpr const char* kName = "cos";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.cos();
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return -g * x.sin();
  }
  Tensor derivative(const Tensor& x) const { return neg(sin(x)); }
};

struct ErfSpec {
  static constexpr const char* kName = "erf";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.erf();
  }
  // d erf(x)/dx = 2/sqrt(pi) exp(-x^2)
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * static_cast<T>(2.0 * kInvSqrt2Pi * std::numbers::sqrt2) * (-x.square()).exp();
  }
  Tensor derivative(const Tensor& x) const {
    return affine(exp(neg(square(x))), 2.0 * kInvSqrt2Pi * std::numbers::sqrt2, 0.0);
  }
};

struct TanhSpec {
  static constexpr const char* kName = "tanh";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.tanh();
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * (static_cast<T>(1) - x.tanh().square());
  }
  Tensor derivative(const Tensor& x) const { return 1.0 - square(tanh(x)); }
};

struct SigmoidSpec {
  static constexpr const char* kName = "sigmoid";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.logistic();
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * x.logistic() * (static_cast<T>(1) - x.logistic());
  }
  Tensor derivative(const Tensor& x) const {
    const Tensor s = sigmoid(x);
    return s * (1.0 - s);
  }
};

struct ReluSpec {
  static constexpr const char* kName = "relu";
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return x.max(static_cast<T>(0));
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return (x > static_cast<T>(0)).select(g, static_cast<T>(0));
  }
  Tensor derivative(const Tensor& x) const { return step(x); }
};

struct GeluSpec {
  static constexpr const char* kName = "gelu";
  // gelu(x) = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return static_cast<T>(0.5) * x * (static_cast<T>(1) + (x * static_cast<T>(kInvSqrt2)).erf());
  }
  // gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * (static_cast<T>(0.5) * (static_cast<T>(1) + (x * static_cast<T>(kInvSqrt2)).erf()) +
                x * static_cast<T>(kInvSqrt2Pi) * (x.square() * static_cast<T>(-0.5)).exp());
  }
  Tensor derivative(const Tensor& x) const {
    const Tensor cdf = affine(erf(affine(x, kInvSqrt2, 0.0)), 0.5, 0.5);
    const Tensor pdf = affine(exp(affine(square(x), -0.5, 0.0)), kInvSqrt2Pi, 0.0);
    return cdf + x * pdf;
  }
};

struct SeluSpec {
  static constexpr const char* kName = "selu";
  // selu(x) = scale x for x > 0, scale alpha (e^x - 1) otherwise
  template <typename T>
  auto forward_array(const ConstArrayMap<T>& x) const {
    return (x > static_cast<T>(0))
        .select(x * static_cast<T>(kSeluScale),
                (x.min(static_cast<T>(0)).exp() - static_cast<T>(1)) * static_cast<T>(kSeluScale * kSeluAlpha));
  }
  template <typename T>
  auto grad_array(const ConstArrayMap<T>& x, const ConstArrayMap<T>& g) const {
    return g * (x > static_cast<T>(0))
                   .select(Eigen::Array<T, Eigen::Dynamic, 1>::Constant(x.size(), static_cast<T>(kSeluScale)),
                           x.min(static_cast<T>(0)).exp() * static_cast<T>(kSeluScale * kSeluAlpha));
  }
  // selu'(x) = scale (step(x) + alpha (1 - step(x)) exp(min(x, 0))); min(x, 0) = -relu(-x)
  // keeps exp finite for large positive x.
  Tensor derivative(const Tensor& x) const {
    const Tensor s = step(x);
    return affine(s + affine(1.0 - s, kSeluAlpha, 0.0) * exp(neg(relu(neg(x)))), kSeluScale, 0.0);
  }
};


}  // namespace neurop::detail::unary_specs

namespace neurop::detail {

// y = act(z) over n contiguous values; y may equal z. GELU in float uses
// gelu_table_forward where the build has AVX-512, so it differs from gelu() by rounding.
template <typename T>
void activation_forward(Activation activation, const T* z, T* y, std::int64_t n) {
  using namespace unary_specs;
  const ConstArrayMap<T> in(z, n);
  ArrayMap<T> out(y, n);
  switch (activation) {
    case Activation::identity: out = in; break;
    case Activation::relu: out = ReluSpec{}.forward_array<T>(in); break;
    case Activation::gelu:
      if constexpr (std::is_same_v<T, float>) {
        if (gelu_table_forward(z, y, n)) break;
      }
      out = GeluSpec{}.forward_array<T>(in);
      break;
    case Activation::tanh: out = TanhSpec{}.forward_array<T>(in); break;
    case Activation::selu: out = SeluSpec{}.forward_array<T>(in); break;
    case Activation::sigmoid: out = SigmoidSpec{}.forward_array<T>(in); break;
  }
}

// out = g * act'(z) over n contiguous values; out may equal g.
template <typename T>
void activation_backward(Activation activation, const T* z, const T* g, T* result, std::int64_t n) {
  using namespace unary_specs;
  const ConstArrayMap<T> in(z, n), grad(g, n);
  ArrayMap<T> out(result, n);
  switch (activation) {
    case Activation::identity: out = grad; break;
    case Activation::relu: out = ReluSpec{}.grad_array<T>(in, grad); break;
    case Activation::gelu: out = GeluSpec{}.grad_array<T>(in, grad); break;
    case Activation::tanh: out = TanhSpec{}.grad_array<T>(in, grad); break;
    case Activation::selu: out = SeluSpec{}.grad_array<T>(in, grad); break;
    case Activation::sigmoid: out = SigmoidSpec{}.grad_array<T>(in, grad); break;
  }
}

// y = act(z) and slope = act'(z) over n contiguous values, in one pass; y may equal z.
// A training forward pass keeps the slope for its backward pass, which then needs no
// second evaluation of erf and exp for GELU.
template <typename T>
void activation_forward_and_slope(Activation activation, const T* z, T* y, T* slope, std::int64_t n) {
  using namespace unary_specs;
  // Chunks of values that stay in the L1 cache between the passes below.
  constexpr std::int64_t kChunk = 1024;
  Eigen::Array<T, kChunk, 1> cdf;
  for (std::int64_t first = 0; first < n; first += kChunk) {
    const std::int64_t count = std::min(kChunk, n - first);
    const ConstArrayMap<T> in(z + first, count);
    ArrayMap<T> out(y + first, count), derivative(slope + first, count);
    if (activation == Activation::gelu) {
      // gelu(x) = x Phi(x), gelu'(x) = Phi(x) + x phi(x)
      auto phi = cdf.head(count);
      phi = static_cast<T>(0.5) * (static_cast<T>(1) + (in * static_cast<T>(kInvSqrt2)).erf());
      derivative = phi + in * static_cast<T>(kInvSqrt2Pi) * (in.square() * static_cast<T>(-0.5)).exp();
      out = in * phi;
      continue;
    }
    // The other activations are cheap enough to evaluate twice.
    auto ones = cdf.head(count);
    ones.setOnes();
    const ConstArrayMap<T> unit(ones.data(), count);
    switch (activation) {
      case Activation::identity: derivative = unit; break;
      case Activation::relu: derivative = ReluSpec{}.grad_array<T>(in, unit); break;
      case Activation::gelu: break;
      case Activation::tanh: derivative = TanhSpec{}.grad_array<T>(in, unit); break;
      case Activation::selu: derivative = SeluSpec{}.grad_array<T>(in, unit); break;
      case Activation::sigmoid: derivative = SigmoidSpec{}.grad_array<T>(in, unit); break;
    }
    activation_forward<T>(activation, z + first, y + first, count);
  }
}

// Samples [first, first + count) along axis 0 as a tensor sharing storage, outside any graph.
inline Tensor sample_view(const Tensor& t, std::int64_t first, std::int64_t count) {
  Tensor view = t.detach();
  view.impl()->offset += first * (t.numel() / std::max<std::int64_t>(t.size(0), 1));
  view.impl()->shape[0] = count;
  return view;
}

}  // namespace neurop::detail
