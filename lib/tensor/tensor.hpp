// Dense tensors with reverse-mode automatic differentiation.
//
// A Tensor is a shared handle to a contiguous, row-major block of float32 or float64
// values plus its shape. Copying a Tensor copies the handle, not the values (use
// clone() for a deep copy). Every tensor is contiguous: reshape() shares storage,
// while permute(), slice() and friends produce new storage.
//
// Complex values (Fourier coefficients, spectral weights) are stored as real tensors
// whose last axis has extent 2 holding (real, imaginary). Gradients of such tensors
// are the pairs (dL/d re, dL/d im), so gradient descent on them decreases the loss
// and optimizers treat each complex number as two real parameters.
//
// Autodiff: operations on tensors that require gradients record a node in a dynamic
// graph (see lib/autodiff/graph.hpp). backward() accumulates dL/dx into x.grad() for
// leaf tensors; neurop::grad() returns gradients without touching .grad() and can
// build a graph of the gradient itself (create_graph) for gradients of gradients.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/error.hpp"

namespace neurop {

enum class DType : std::uint8_t { f32, f64 };

using Shape = std::vector<std::int64_t>;

const char* dtype_name(DType dtype);
std::size_t dtype_size(DType dtype);
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}

std::int64_t shape_numel(const Shape& shape);
std::string shape_string(const Shape& shape);

class Node;
struct TensorImpl;

class Tensor {
public:
  Tensor() = default;

  // Factories. Values are uninitialised for empty(); the others fill.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  static Tensor scalar(double value, DType dtype = DType::f32);
  // Copies `values` (row-major, prod(shape) of them) into a new tensor.
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype = DType::f32);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  // 0, 1, ..., n-1.
  static Tensor arange(std::int64_t n, DType dtype = DType::f32);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  // Extent of axis `axis`; negative values count from the end.
  std::int64_t size(std::int64_t axis) const;
  std::int64_t ndim() const { return static_cast<std::int64_t>(shape().size()); }
  std::int64_t numel() const;
  DType dtype() const;

  // Typed access to the values; throws ShapeError when T does not match dtype().
  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;
  // Copies the values to a vector of doubles (row-major).
  std::vector<double> to_vector() const;
  // Value of a one-element tensor.
  double item() const;
  // Value at a multi-index (slow; for tests and small tensors).
  double at(std::initializer_list<std::int64_t> index) const;

  // Autodiff state.
  bool requires_grad() const;
  // Marks a leaf tensor as a parameter whose gradient backward() accumulates.
  Tensor& set_requires_grad(bool value = true);
  bool is_leaf() const;
  // Accumulated gradient of a leaf (undefined until a backward pass reaches it).
  Tensor grad() const;
  void set_grad(const Tensor& gradient);
  void zero_grad();
  const std::shared_ptr<Node>& grad_fn() const;
  // Runs backward from this tensor. `gradient` defaults to 1 for one-element tensors.
  // With create_graph = true the accumulated gradients carry a graph of their own.
  void backward(const Tensor& gradient = Tensor(), bool create_graph = false) const;

  // A tensor sharing these values with no autodiff history.
  Tensor detach() const;
  // A deep copy of the values (differentiable).
  Tensor clone() const;
  // Converts to another dtype (differentiable; returns *this when dtype matches).
  Tensor to(DType dtype) const;
  // Same values, new shape with the same element count; one extent may be -1.
  Tensor reshape(const Shape& shape) const;

  // Fills the values in place. Only allowed on tensors outside any graph
  // (leaves or detached tensors); used by initialisers and optimizers.
  void fill_(double value);
  void copy_(const Tensor& source);

  // Internal: identity of the storage, for tests and the autodiff engine.
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

private:
  void check_defined(const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

// Returns the memory of freed tensors, which neurop keeps for reuse, to the system.
void release_cached_memory();

struct Storage {
  explicit Storage(std::size_t bytes);
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();
  void* data = nullptr;
  std::size_t bytes = 0;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  std::int64_t offset = 0;  // in elements
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  std::shared_ptr<TensorImpl> grad;

  void* raw() const {
    return static_cast<char*>(storage->data) + static_cast<std::size_t>(offset) * dtype_size(dtype);
  }
};

// Calls f.template operator()<T>() with T = float or double matching `dtype`.
template <typename F>
decltype(auto) dispatch(DType dtype, F&& f) {
  if (dtype == DType::f32) return f.template operator()<float>();
  return f.template operator()<double>();
}

}  // namespace neurop
