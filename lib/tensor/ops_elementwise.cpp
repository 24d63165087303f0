// Elementwise operations: broadcasting binary arithmetic and unary functions.
#include <cmath>
#include <numbers>

#include <unsupported/Eigen/SpecialFunctions>

#include "lib/autodiff/graph.hpp"
#include "lib/tensor/kernels.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/tensor/unary_specs.hpp"

namespace neurop {

using namespace detail::unary_specs;

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

Tensor activate(const Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::identity: return x;
    case Activation::relu: return relu(x);
    case Activation::gelu: return gelu(x);
    case Activation::tanh: return tanh(x);
    case Activation::selu: return selu(x);
    case Activation::sigmoid: return sigmoid(x);
  }
  return x;
}

Tensor activation_derivative(const Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::identity: return Tensor::ones(x.shape(), x.dtype());
    case Activation::relu: return ReluSpec{}.derivative(x);
    case Activation::gelu: return GeluSpec{}.derivative(x);
    case Activation::tanh: return TanhSpec{}.derivative(x);
    case Activation::selu: return SeluSpec{}.derivative(x);
    case Activation::sigmoid: return SigmoidSpec{}.derivative(x);
  }
  return x;
}

Activation parse_activation(const std::string& name) {
  for (Activation a : {Activation::identity, Activation::relu, Activation::gelu, Activation::tanh, Activation::selu,
                       Activation::sigmoid}) {
    if (name == activation_name(a)) return a;
  }
  throw ValueError(
      fmt::format("unknown activation '{}'; expected one of identity, relu, gelu, tanh, selu, sigmoid", name));
}

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::gelu: return "gelu";
    case Activation::tanh: return "tanh";
    case Activation::selu: return "selu";
    case Activation::sigmoid: return "sigmoid";
  }
  return "identity";
}

}  // namespace neurop
