// Elementwise operations: broadcasting binary arithmetic and unary functions.
#include <cmath>
#include <numbers>

#include <unsupported/Eigen/SpecialFunctions>

#include "lib/autodiff/graph.hpp"
#include "lib/tensor/kernels.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop {

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  NEUROP_CHECK(a.dtype() == b.dtype(), ShapeError,
               "{}: operands have different dtypes ({} and {}); convert one with Tensor::to() first", op,
               dtype_name(a.dtype()), dtype_name(b.dtype()));
}

namespace {

enum class BinaryKind { add, sub, mul, div };

const char* binary_name(BinaryKind kind) {
  switch (kind) {
    case BinaryKind::add: return "add";
    case BinaryKind::sub: return "sub";
    case BinaryKind::mul: return "mul";
    default: return "div";
  }
}

Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t ea = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t eb = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    NEUROP_CHECK(ea == eb || ea == 1 || eb == 1, ShapeError,
                 "{}: shapes {} and {} cannot be broadcast together (axis {} has extents {} and {})", op,
                 shape_string(a), shape_string(b), static_cast<std::int64_t>(i) - static_cast<std::int64_t>(rank),
                 ea, eb);
    out[i] = std::max(ea, eb);
    if (ea == 0 || eb == 0) out[i] = 0;
  }
  return out;
}

// Element strides of `shape` seen from an output of rank `rank`; broadcast axes get 0.
std::vector<std::int64_t> broadcast_strides(const Shape& shape, const Shape& out) {
  std::vector<std::int64_t> strides(out.size(), 0);
  std::int64_t stride = 1;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    const std::size_t i = shape.size() - 1 - k;
    const std::size_t o = out.size() - 1 - k;
    strides[o] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

template <typename T>
inline T apply(BinaryKind kind, T x, T y) {
  switch (kind) {
    case BinaryKind::add: return x + y;
    case BinaryKind::sub: return x - y;
    case BinaryKind::mul: return x * y;
    default: return x / y;
  }
}

template <typename T, BinaryKind kind>
void inner_loop(const T* a, std::int64_t sa, const T* b, std::int64_t sb, T* out, std::int64_t n) {
  // Specialised strides let the compiler vectorise the common cases.
  if (sa == 1 && sb == 1) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = apply(kind, a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const T y = b[0];
    for (std::int64_t i = 0; i < n; ++i) out[i] = apply(kind, a[i], y);
  } else if (sa == 0 && sb == 1) {
    const T x = a[0];
    for (std::int64_t i = 0; i < n; ++i) out[i] = apply(kind, x, b[i]);
  } else {
    for (std::int64_t i = 0; i < n; ++i) out[i] = apply(kind, a[i * sa], b[i * sb]);
  }
}

template <typename T, BinaryKind kind>
void binary_kernel(const Tensor& a, const Tensor& b, Tensor& out) {
  const Shape& shape = out.shape();
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const std::int64_t n = out.numel();
  if (n == 0) return;
  if (a.shape() == b.shape()) {
    detail::parallel_chunks(n, [&](std::int64_t begin, std::int64_t end) {
      inner_loop<T, kind>(pa + begin, 1, pb + begin, 1, po + begin, end - begin);
    });
    return;
  }
  const auto sa = broadcast_strides(a.shape(), shape);
  const auto sb = broadcast_strides(b.shape(), shape);
  const std::size_t rank = shape.size();
  // Inner loop over the last axis; the outer index is unravelled per row.
  const std::int64_t inner = shape[rank - 1];
  const std::int64_t rows = n / inner;
  auto run_rows = [&](std::int64_t first, std::int64_t last) {
    for (std::int64_t row = first; row < last; ++row) {
      std::int64_t rest = row, offset_a = 0, offset_b = 0;
      for (std::size_t k = rank - 1; k-- > 0;) {
        const std::int64_t index = rest % shape[k];
        rest /= shape[k];
        offset_a += index * sa[k];
        offset_b += index * sb[k];
      }
      inner_loop<T, kind>(pa + offset_a, sa[rank - 1], pb + offset_b, sb[rank - 1], po + row * inner, inner);
    }
  };
  if (n < detail::kParallelThreshold || rows == 1) {
    run_rows(0, rows);
  } else {
#pragma omp parallel for schedule(static)
    for (std::int64_t row = 0; row < rows; ++row) run_rows(row, row + 1);
  }
}

Tensor binary_forward(BinaryKind kind, const Tensor& a, const Tensor& b) {
  check_same_dtype(binary_name(kind), a, b);
  Tensor out = Tensor::empty(broadcast_shape(binary_name(kind), a.shape(), b.shape()), a.dtype());
  dispatch(a.dtype(), [&]<typename T>() {
    switch (kind) {
      case BinaryKind::add: binary_kernel<T, BinaryKind::add>(a, b, out); break;
      case BinaryKind::sub: binary_kernel<T, BinaryKind::sub>(a, b, out); break;
      case BinaryKind::mul: binary_kernel<T, BinaryKind::mul>(a, b, out); break;
      case BinaryKind::div: binary_kernel<T, BinaryKind::div>(a, b, out); break;
    }
  });
  return out;
}

class BinaryNode : public Node {
public:
  BinaryNode(BinaryKind kind, Tensor a, Tensor b) : kind_(kind), a_(std::move(a)), b_(std::move(b)) {}
  const char* name() const override { return binary_name(kind_); }

  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga, gb;
    switch (kind_) {
      case BinaryKind::add:
        if (needs_input_grad(0)) ga = sum_to(g, a_.shape());
        if (needs_input_grad(1)) gb = sum_to(g, b_.shape());
        break;
      case BinaryKind::sub:
        if (needs_input_grad(0)) ga = sum_to(g, a_.shape());
        if (needs_input_grad(1)) gb = sum_to(neg(g), b_.shape());
        break;
      case BinaryKind::mul:
        // d(a b) = b da + a db
        if (needs_input_grad(0)) ga = sum_to(mul(g, b_), a_.shape());
        if (needs_input_grad(1)) gb = sum_to(mul(g, a_), b_.shape());
        break;
      case BinaryKind::div:
        // d(a / b) = da / b - a db / b^2
        if (needs_input_grad(0)) ga = sum_to(div(g, b_), a_.shape());
        if (needs_input_grad(1)) gb = sum_to(neg(div(mul(g, a_), square(b_))), b_.shape());
        break;
    }
    return {ga, gb};
  }

private:
  BinaryKind kind_;
  Tensor a_, b_;
};

Tensor binary(BinaryKind kind, const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(kind, a, b);
  if (needs_graph(a, b)) record(out, std::make_shared<BinaryNode>(kind, a, b), {a, b});
  return out;
}

// ---- unary operations ----
//
// Each Spec supplies the forward map as an Eigen array expression, the fused
// first derivative g * f'(x) for ordinary backward passes, and f'(x) written with
// differentiable operations for passes that build a graph (gradients of gradients).

template <typename Spec>
class UnaryNode : public Node {
public:
  UnaryNode(Tensor x, Spec spec) : x_(std::move(x)), spec_(spec) {}
  const char* name() const override { return Spec::kName; }

  std::vector<Tensor> backward(const Tensor& g) override {
    if (GradMode::enabled()) return {mul(g, spec_.derivative(x_))};
    Tensor out = Tensor::empty(x_.shape(), x_.dtype());
    dispatch(x_.dtype(), [&]<typename T>() {
      detail::parallel_chunks(out.numel(), [&](std::int64_t begin, std::int64_t end) {
        detail::output_array<T>(out, begin, end) =
            spec_.template grad_array<T>(detail::input_array<T>(x_, begin, end), detail::input_array<T>(g, begin, end));
      });
    });
    return {out};
  }

private:
  Tensor x_;
  Spec spec_;
};

template <typename Spec>
Tensor unary(const Tensor& x, Spec spec = Spec{}) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    detail::parallel_chunks(out.numel(), [&](std::int64_t begin, std::int64_t end) {
      detail::output_array<T>(out, begin, end) = spec.template forward_array<T>(detail::input_array<T>(x, begin, end));
    });
  });
  if (needs_graph(x)) record(out, std::make_shared<UnaryNode<Spec>>(x, spec), {x});
  return out;
}

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;

struct NegSpec {
  static constexpr const char* kName = "neg";
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return -x;
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>&, const detail::ConstArrayMap<T>& g) const {
    return -g;
  }
  Tensor derivative(const Tensor& x) const { return Tensor::full({}, -1.0, x.dtype()); }
};

struct AffineSpec {
  static constexpr const char* kName = "affine";
  double scale = 1.0, shift = 0.0;
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x * static_cast<T>(scale) + static_cast<T>(shift);
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>&, const detail::ConstArrayMap<T>& g) const {
    return g * static_cast<T>(scale);
  }
  Tensor derivative(const Tensor& x) const { return Tensor::full({}, scale, x.dtype()); }
};

struct ExpSpec {
  static constexpr const char* kName = "exp";
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.exp();
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
    return g * x.exp();
  }
  Tensor derivative(const Tensor& x) const { return exp(x); }
};

struct LogSpec {
  static constexpr const char* kName = "log";
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.log();
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
    return g / x;
  }
  Tensor derivative(const Tensor& x) const { return pow(x, -1.0); }
};

struct SqrtSpec {
  static constexpr const char* kName = "sqrt";
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.sqrt();
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
    return g * static_cast<T>(0.5) / x.sqrt();
  }
  Tensor derivative(const Tensor& x) const { return affine(pow(x, -0.5), 0.5, 0.0); }
};

struct SquareSpec {
  static constexpr const char* kName = "square";
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.square();
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
    return g * static_cast<T>(2) * x;
  }
  Tensor derivative(const Tensor& x) const { return affine(x, 2.0, 0.0); }
};

struct PowSpec {
  static constexpr const char* kName = "pow";
  double p = 1.0;
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.pow(static_cast<T>(p));
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
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
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.sin();
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
    return g * x.cos();
  }
  Tensor derivative(const Tensor& x) const { return cos(x); }
};

struct CosSpec {
  static constexpr const char* kName = "cos";
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.cos();
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
    return -g * x.sin();
  }
  Tensor derivative(const Tensor& x) const { return neg(sin(x)); }
};

struct ErfSpec {
  static constexpr const char* kName = "erf";
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.erf();
  }
  // d erf(x)/dx = 2/sqrt(pi) exp(-x^2)
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
    return g * static_cast<T>(2.0 * kInvSqrt2Pi * std::numbers::sqrt2) * (-x.square()).exp();
  }
  Tensor derivative(const Tensor& x) const {
    return affine(exp(neg(square(x))), 2.0 * kInvSqrt2Pi * std::numbers::sqrt2, 0.0);
  }
};

struct TanhSpec {
  static constexpr const char* kName = "tanh";
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.tanh();
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
    return g * (static_cast<T>(1) - x.tanh().square());
  }
  Tensor derivative(const Tensor& x) const { return 1.0 - square(tanh(x)); }
};

struct SigmoidSpec {
  static constexpr const char* kName = "sigmoid";
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.logistic();
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
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
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return x.max(static_cast<T>(0));
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
    return (x > static_cast<T>(0)).select(g, static_cast<T>(0));
  }
  Tensor derivative(const Tensor& x) const { return step(x); }
};

struct GeluSpec {
  static constexpr const char* kName = "gelu";
  // gelu(x) = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2
  template <typename T>
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return static_cast<T>(0.5) * x * (static_cast<T>(1) + (x * static_cast<T>(kInvSqrt2)).erf());
  }
  // gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
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
  auto forward_array(const detail::ConstArrayMap<T>& x) const {
    return (x > static_cast<T>(0))
        .select(x * static_cast<T>(kSeluScale),
                (x.min(static_cast<T>(0)).exp() - static_cast<T>(1)) * static_cast<T>(kSeluScale * kSeluAlpha));
  }
  template <typename T>
  auto grad_array(const detail::ConstArrayMap<T>& x, const detail::ConstArrayMap<T>& g) const {
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

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryKind::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryKind::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryKind::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryKind::div, a, b); }

Tensor affine(const Tensor& a, double scale, double shift) { return unary(a, AffineSpec{scale, shift}); }
Tensor pow(const Tensor& a, double p) { return unary(a, PowSpec{p}); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator+(const Tensor& a, double s) { return affine(a, 1.0, s); }
Tensor operator+(double s, const Tensor& a) { return affine(a, 1.0, s); }
Tensor operator-(const Tensor& a, double s) { return affine(a, 1.0, -s); }
Tensor operator-(double s, const Tensor& a) { return affine(a, -1.0, s); }
Tensor operator*(const Tensor& a, double s) { return affine(a, s, 0.0); }
Tensor operator*(double s, const Tensor& a) { return affine(a, s, 0.0); }
Tensor operator/(const Tensor& a, double s) {
  NEUROP_CHECK(s != 0.0, ValueError, "operator/: division of a tensor of shape {} by the scalar 0",
               shape_string(a.shape()));
  return affine(a, 1.0 / s, 0.0);
}

Tensor neg(const Tensor& x) { return unary<NegSpec>(x); }
Tensor exp(const Tensor& x) { return unary<ExpSpec>(x); }
Tensor log(const Tensor& x) { return unary<LogSpec>(x); }
Tensor sqrt(const Tensor& x) { return unary<SqrtSpec>(x); }
Tensor square(const Tensor& x) { return unary<SquareSpec>(x); }
Tensor sin(const Tensor& x) { return unary<SinSpec>(x); }
Tensor cos(const Tensor& x) { return unary<CosSpec>(x); }
Tensor erf(const Tensor& x) { return unary<ErfSpec>(x); }
Tensor tanh(const Tensor& x) { return unary<TanhSpec>(x); }
Tensor sigmoid(const Tensor& x) { return unary<SigmoidSpec>(x); }
Tensor relu(const Tensor& x) { return unary<ReluSpec>(x); }
Tensor gelu(const Tensor& x) { return unary<GeluSpec>(x); }
Tensor selu(const Tensor& x) { return unary<SeluSpec>(x); }

Tensor step(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    detail::parallel_chunks(out.numel(), [&](std::int64_t begin, std::int64_t end) {
      detail::output_array<T>(out, begin, end) =
          (detail::input_array<T>(x, begin, end) > static_cast<T>(0)).template cast<T>();
    });
  });
  return out;
}

}  // namespace neurop
