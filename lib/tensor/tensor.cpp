#include "lib/tensor/tensor.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>
#include <unordered_map>

#include "lib/autodiff/graph.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop {

const char* dtype_name(DType dtype) { return dtype == DType::f32 ? "float32" : "float64"; }

std::size_t dtype_size(DType dtype) { return dtype == DType::f32 ? 4 : 8; }

std::int64_t shape_numel(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
}

std::string shape_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

namespace {

// Keeps freed blocks for reuse. Training allocates the same few sizes every step;
// handing them back to the system makes every step pay for fresh pages (page faults
// and zeroing by the kernel cost about 10% of an FNO step otherwise).
class BlockCache {
public:
  // Blocks are 64-byte aligned (AVX-512 loads) and their sizes rounded up to 64 bytes,
  // or to 4 KiB above 64 KiB so that nearby sizes share blocks.
  static std::size_t round_up(std::size_t bytes) {
    const std::size_t granule = bytes > (std::size_t{1} << 16) ? 4096 : 64;
    return std::max<std::size_t>(granule, (bytes + granule - 1) / granule * granule);
  }

  void* take(std::size_t rounded) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = free_.find(rounded);
      if (found != free_.end() && !found->second.empty()) {
        void* block = found->second.back();
        found->second.pop_back();
        cached_bytes_ -= rounded;
        return block;
      }
    }
    void* block = std::aligned_alloc(64, rounded);
    if (block == nullptr) {
      release_all();
      block = std::aligned_alloc(64, rounded);
      if (block == nullptr) throw std::bad_alloc();
    }
    return block;
  }

  void give(void* block, std::size_t rounded) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_bytes_ + rounded > kMaxCachedBytes) {
      std::free(block);
      return;
    }
    free_[rounded].push_back(block);
    cached_bytes_ += rounded;
  }

  void release_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, blocks] : free_)
      for (void* block : blocks) std::free(block);
    free_.clear();
    cached_bytes_ = 0;
  }

  ~BlockCache() { release_all(); }

private:
  // NOTE: an upper bound on idle memory, not on use; 2 GiB covers the working set of
  // the benchmark models several times over.
  static constexpr std::size_t kMaxCachedBytes = std::size_t{2} << 30;
  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t cached_bytes_ = 0;
};

BlockCache& block_cache() {
  // Never destroyed: tensors in static storage may be freed after it otherwise.
  static BlockCache* cache = new BlockCache();
  return *cache;
}

}  // namespace

Storage::Storage(std::size_t size) : bytes(size) { data = block_cache().take(BlockCache::round_up(size)); }

Storage::~Storage() { block_cache().give(data, BlockCache::round_up(bytes)); }

void release_cached_memory() { block_cache().release_all(); }

namespace {

std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype) {
  for (std::int64_t extent : shape)
    NEUROP_CHECK(extent >= 0, ShapeError, "Tensor: negative extent in shape {}", shape_string(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype));
  return impl;
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) { return Tensor(make_impl(shape, dtype)); }

Tensor Tensor::zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }

Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor result = empty(shape, dtype);
  result.fill_(value);
  return result;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  NEUROP_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), ShapeError,
               "Tensor::from_vector: {} values given for shape {} which holds {}", values.size(),
               shape_string(shape), shape_numel(shape));
  Tensor result = empty(shape, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* out = result.data<T>();
    for (std::size_t i = 0; i < values.size(); ++i) out[i] = static_cast<T>(values[i]);
  });
  return result;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  NEUROP_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), ShapeError,
               "Tensor::from_vector: {} values given for shape {} which holds {}", values.size(),
               shape_string(shape), shape_numel(shape));
  Tensor result = empty(shape, DType::f32);
  if (!values.empty()) std::memcpy(result.data<float>(), values.data(), values.size() * sizeof(float));
  return result;
}

Tensor Tensor::arange(std::int64_t n, DType dtype) {
  Tensor result = empty({n}, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* out = result.data<T>();
    for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(i);
  });
  return result;
}

void Tensor::check_defined(const char* what) const {
  NEUROP_CHECK(impl_ != nullptr, ValueError, "Tensor::{}: the tensor is undefined (default-constructed)", what);
}

const Shape& Tensor::shape() const {
  check_defined("shape");
  return impl_->shape;
}

std::int64_t Tensor::size(std::int64_t axis) const {
  const std::int64_t rank = ndim();
  NEUROP_CHECK(axis >= -rank && axis < rank, ShapeError, "Tensor::size: axis {} out of range for shape {}", axis,
               shape_string(shape()));
  return shape()[static_cast<std::size_t>(axis < 0 ? axis + rank : axis)];
}

std::int64_t Tensor::numel() const { return shape_numel(shape()); }

DType Tensor::dtype() const {
  check_defined("dtype");
  return impl_->dtype;
}

template <typename T>
T* Tensor::data() {
  check_defined("data");
  NEUROP_CHECK(impl_->dtype == dtype_of<T>(), ShapeError, "Tensor::data: tensor is {} but {} was requested",
               dtype_name(impl_->dtype), dtype_name(dtype_of<T>()));
  return static_cast<T*>(impl_->raw());
}

template <typename T>
const T* Tensor::data() const {
  check_defined("data");
  NEUROP_CHECK(impl_->dtype == dtype_of<T>(), ShapeError, "Tensor::data: tensor is {} but {} was requested",
               dtype_name(impl_->dtype), dtype_name(dtype_of<T>()));
  return static_cast<const T*>(impl_->raw());
}

template float* Tensor::data<float>();
template double* Tensor::data<double>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;

std::vector<double> Tensor::to_vector() const {
  std::vector<double> values(static_cast<std::size_t>(numel()));
  dispatch(dtype(), [&]<typename T>() {
    const T* in = data<T>();
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(in[i]);
  });
  return values;
}

double Tensor::item() const {
  NEUROP_CHECK(numel() == 1, ShapeError, "Tensor::item: tensor of shape {} has {} elements, expected exactly 1",
               shape_string(shape()), numel());
  return dispatch(dtype(), [&]<typename T>() { return static_cast<double>(*data<T>()); });
}

double Tensor::at(std::initializer_list<std::int64_t> index) const {
  NEUROP_CHECK(static_cast<std::int64_t>(index.size()) == ndim(), ShapeError,
               "Tensor::at: {} indices for a tensor of rank {}", index.size(), ndim());
  std::int64_t flat = 0;
  std::size_t axis = 0;
  for (std::int64_t i : index) {
    const std::int64_t extent = shape()[axis];
    NEUROP_CHECK(i >= 0 && i < extent, ShapeError, "Tensor::at: index {} out of range [0, {}) on axis {}", i,
                 extent, axis);
    flat = flat * extent + i;
    ++axis;
  }
  return dispatch(dtype(), [&]<typename T>() { return static_cast<double>(data<T>()[flat]); });
}

bool Tensor::requires_grad() const {
  check_defined("requires_grad");
  return impl_->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool value) {
  check_defined("set_requires_grad");
  NEUROP_CHECK(impl_->grad_fn == nullptr, ValueError,
               "Tensor::set_requires_grad: only leaf tensors can be marked; this tensor was computed by '{}'; use "
               "detach() first",
               impl_->grad_fn->name());
  impl_->requires_grad = value;
  return *this;
}

bool Tensor::is_leaf() const {
  check_defined("is_leaf");
  return impl_->grad_fn == nullptr;
}

Tensor Tensor::grad() const {
  check_defined("grad");
  return Tensor(impl_->grad);
}

void Tensor::set_grad(const Tensor& gradient) {
  check_defined("set_grad");
  if (gradient.defined()) {
    NEUROP_CHECK(gradient.shape() == shape(), ShapeError, "Tensor::set_grad: gradient shape {} for tensor shape {}",
                 shape_string(gradient.shape()), shape_string(shape()));
  }
  impl_->grad = gradient.impl();
}

void Tensor::zero_grad() {
  check_defined("zero_grad");
  impl_->grad.reset();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  check_defined("grad_fn");
  return impl_->grad_fn;
}

void Tensor::backward(const Tensor& gradient, bool create_graph) const {
  neurop::backward({*this}, gradient.defined() ? std::vector<Tensor>{gradient} : std::vector<Tensor>{},
                   create_graph);
}

Tensor Tensor::detach() const {
  check_defined("detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(impl);
}

Tensor Tensor::clone() const { return neurop::clone(*this); }

Tensor Tensor::to(DType target) const {
  if (dtype() == target) return *this;
  return neurop::cast(*this, target);
}

Tensor Tensor::reshape(const Shape& new_shape) const { return neurop::reshape(*this, new_shape); }

void Tensor::fill_(double value) {
  check_defined("fill_");
  NEUROP_CHECK(impl_->grad_fn == nullptr, ValueError,
               "Tensor::fill_: cannot modify a tensor computed by '{}' in place; it is part of an autodiff graph",
               impl_->grad_fn ? impl_->grad_fn->name() : "");
  dispatch(dtype(), [&]<typename T>() {
    T* out = data<T>();
    const std::int64_t n = numel();
    for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(value);
  });
}

void Tensor::copy_(const Tensor& source) {
  check_defined("copy_");
  NEUROP_CHECK(impl_->grad_fn == nullptr, ValueError,
               "Tensor::copy_: cannot modify a tensor computed by '{}' in place; it is part of an autodiff graph",
               impl_->grad_fn ? impl_->grad_fn->name() : "");
  NEUROP_CHECK(source.shape() == shape(), ShapeError, "Tensor::copy_: source shape {} differs from target shape {}",
               shape_string(source.shape()), shape_string(shape()));
  const Tensor converted = source.dtype() == dtype() ? source : cast(source.detach(), dtype());
  std::memcpy(impl_->raw(), converted.impl()->raw(), static_cast<std::size_t>(numel()) * dtype_size(dtype()));
}

}  // namespace neurop
