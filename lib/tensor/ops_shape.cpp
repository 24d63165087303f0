// Shape operations: reshape, permute, slice, padding, concatenation, broadcasting,
// gathers, and the copies and casts.
#include <cstring>
#include <numeric>

#include "lib/autodiff/graph.hpp"
#include "lib/tensor/kernels.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop {

namespace detail {

std::int64_t normalize_axis(const char* op, std::int64_t axis, std::int64_t rank) {
  NEUROP_CHECK(axis >= -rank && axis < rank, ShapeError, "{}: axis {} is out of range for a tensor of rank {}", op,
               axis, rank);
  return axis < 0 ? axis + rank : axis;
}

}  // namespace detail

namespace {

// Views a tensor as [outer, extent, inner] around `axis`.
struct AxisSplit {
  std::int64_t outer = 1, extent = 1, inner = 1;
};

AxisSplit split_at(const Shape& shape, std::int64_t axis) {
  AxisSplit split;
  for (std::int64_t i = 0; i < axis; ++i) split.outer *= shape[static_cast<std::size_t>(i)];
  split.extent = shape[static_cast<std::size_t>(axis)];
  for (std::size_t i = static_cast<std::size_t>(axis) + 1; i < shape.size(); ++i) split.inner *= shape[i];
  return split;
}

std::size_t element_bytes(const Tensor& t) { return dtype_size(t.dtype()); }

constexpr std::int64_t kSumBlock = 256;

const char* bytes_of(const Tensor& t) { return static_cast<const char*>(t.impl()->raw()); }
char* bytes_of(Tensor& t) { return static_cast<char*>(t.impl()->raw()); }

// ---- reshape ----

class ReshapeNode : public Node {
public:
  explicit ReshapeNode(Shape input_shape) : input_shape_(std::move(input_shape)) {}
  const char* name() const override { return "reshape"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {reshape(g, input_shape_)}; }

private:
  Shape input_shape_;
};

// ---- permute ----

class PermuteNode : public Node {
public:
  explicit PermuteNode(std::vector<std::int64_t> axes) : axes_(std::move(axes)) {}
  const char* name() const override { return "permute"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    std::vector<std::int64_t> inverse(axes_.size());
    for (std::size_t i = 0; i < axes_.size(); ++i) inverse[static_cast<std::size_t>(axes_[i])] = static_cast<std::int64_t>(i);
    return {permute(g, inverse)};
  }

private:
  std::vector<std::int64_t> axes_;
};

// ---- slice / unslice ----

class SliceNode : public Node {
public:
  SliceNode(std::int64_t axis, std::int64_t size, std::int64_t start, std::int64_t step)
      : axis_(axis), size_(size), start_(start), step_(step) {}
  const char* name() const override { return "slice"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {unslice(g, axis_, size_, start_, step_)}; }

private:
  std::int64_t axis_, size_, start_, step_;
};

class UnsliceNode : public Node {
public:
  UnsliceNode(std::int64_t axis, std::int64_t start, std::int64_t step, std::int64_t count)
      : axis_(axis), start_(start), step_(step), count_(count) {}
  const char* name() const override { return "unslice"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    return {slice(g, axis_, start_, start_ + (count_ - 1) * step_ + 1, step_)};
  }

private:
  std::int64_t axis_, start_, step_, count_;
};

// ---- concat ----

class ConcatNode : public Node {
public:
  ConcatNode(std::int64_t axis, std::vector<std::int64_t> extents) : axis_(axis), extents_(std::move(extents)) {}
  const char* name() const override { return "concat"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    std::vector<Tensor> grads;
    std::int64_t start = 0;
    for (std::size_t i = 0; i < extents_.size(); ++i) {
      if (needs_input_grad(i)) grads.push_back(slice(g, axis_, start, start + extents_[i]));
      else grads.emplace_back();
      start += extents_[i];
    }
    return grads;
  }

private:
  std::int64_t axis_;
  std::vector<std::int64_t> extents_;
};

// ---- broadcast_to / sum_to ----

class BroadcastNode : public Node {
public:
  explicit BroadcastNode(Shape input_shape) : input_shape_(std::move(input_shape)) {}
  const char* name() const override { return "broadcast_to"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {sum_to(g, input_shape_)}; }

private:
  Shape input_shape_;
};

class SumToNode : public Node {
public:
  explicit SumToNode(Shape input_shape) : input_shape_(std::move(input_shape)) {}
  const char* name() const override { return "sum_to"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {broadcast_to(g, input_shape_)}; }

private:
  Shape input_shape_;
};

// Checks that `small` broadcasts to `large` and returns `small` left-padded with 1s.
Shape aligned_shape(const char* op, const Shape& small, const Shape& large) {
  NEUROP_CHECK(small.size() <= large.size(), ShapeError, "{}: shape {} has more axes than target {}", op,
               shape_string(small), shape_string(large));
  Shape aligned(large.size() - small.size(), 1);
  aligned.insert(aligned.end(), small.begin(), small.end());
  for (std::size_t i = 0; i < large.size(); ++i) {
    NEUROP_CHECK(aligned[i] == large[i] || aligned[i] == 1, ShapeError,
                 "{}: shape {} does not broadcast to {} (axis {} has extent {}, expected 1 or {})", op,
                 shape_string(small), shape_string(large), i, aligned[i], large[i]);
  }
  return aligned;
}

std::vector<std::int64_t> strides_with_zeros(const Shape& aligned) {
  std::vector<std::int64_t> strides(aligned.size(), 0);
  std::int64_t stride = 1;
  for (std::size_t k = aligned.size(); k-- > 0;) {
    strides[k] = aligned[k] == 1 ? 0 : stride;
    stride *= aligned[k];
  }
  return strides;
}

// ---- index_select / index_add ----

class IndexSelectNode : public Node {
public:
  IndexSelectNode(std::int64_t axis, std::vector<std::int64_t> indices, std::int64_t size)
      : axis_(axis), indices_(std::move(indices)), size_(size) {}
  const char* name() const override { return "index_select"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {index_add(g, axis_, indices_, size_)}; }

private:
  std::int64_t axis_;
  std::vector<std::int64_t> indices_;
  std::int64_t size_;
};

class IndexAddNode : public Node {
public:
  IndexAddNode(std::int64_t axis, std::vector<std::int64_t> indices) : axis_(axis), indices_(std::move(indices)) {}
  const char* name() const override { return "index_add"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {index_select(g, axis_, indices_)}; }

private:
  std::int64_t axis_;
  std::vector<std::int64_t> indices_;
};

void check_indices(const char* op, const std::vector<std::int64_t>& indices, std::int64_t size) {
  for (std::size_t k = 0; k < indices.size(); ++k) {
    NEUROP_CHECK(indices[k] >= 0 && indices[k] < size, ShapeError,
                 "{}: index {} at position {} is out of range [0, {})", op, indices[k], k, size);
  }
}

// ---- clone / cast ----

class CloneNode : public Node {
public:
  const char* name() const override { return "clone"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g}; }
};

class CastNode : public Node {
public:
  explicit CastNode(DType source) : source_(source) {}
  const char* name() const override { return "cast"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {cast(g, source_)}; }

private:
  DType source_;
};

// A new tensor of shape `out_shape` whose element at index (i_0, .., i_r) is element
// sum_k i_k strides[k] of x's storage: a permutation, or a broadcast where a stride is 0.
Tensor gather_strided(const Tensor& x, const Shape& out_shape, const std::vector<std::int64_t>& strides) {
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const std::int64_t n = out.numel();
  if (n == 0) return out;
  dispatch(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* o = out.data<T>();
    const std::size_t last = out_shape.size() - 1;
    const std::int64_t inner = out_shape[last], inner_stride = strides[last];
    const std::int64_t rows = n / inner;
#pragma omp parallel for schedule(static) if (n > detail::kParallelThreshold)
    for (std::int64_t row = 0; row < rows; ++row) {
      std::int64_t rest = row, offset = 0;
      for (std::size_t k = last; k-- > 0;) {
        offset += (rest % out_shape[k]) * strides[k];
        rest /= out_shape[k];
      }
      T* dst = o + row * inner;
      for (std::int64_t j = 0; j < inner; ++j) dst[j] = in[offset + j * inner_stride];
    }
  });
  return out;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& requested) {
  Shape shape = requested;
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      NEUROP_CHECK(inferred < 0, ShapeError, "reshape: more than one -1 in target shape {}", shape_string(requested));
      inferred = static_cast<int>(i);
    } else {
      NEUROP_CHECK(shape[i] >= 0, ShapeError, "reshape: negative extent in target shape {}", shape_string(requested));
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    NEUROP_CHECK(known > 0 && x.numel() % known == 0, ShapeError,
                 "reshape: cannot infer the -1 extent of {} for {} elements (input shape {})",
                 shape_string(requested), x.numel(), shape_string(x.shape()));
    shape[static_cast<std::size_t>(inferred)] = x.numel() / known;
  }
  NEUROP_CHECK(shape_numel(shape) == x.numel(), ShapeError,
               "reshape: cannot view a tensor of shape {} ({} elements) as {} ({} elements)", shape_string(x.shape()),
               x.numel(), shape_string(shape), shape_numel(shape));
  if (shape == x.shape()) return x;
  Tensor out = x.detach();
  out.impl()->shape = shape;
  if (needs_graph(x)) record(out, std::make_shared<ReshapeNode>(x.shape()), {x});
  return out;
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& requested) {
  const std::int64_t rank = x.ndim();
  NEUROP_CHECK(static_cast<std::int64_t>(requested.size()) == rank, ShapeError,
               "permute: {} axes given for a tensor of rank {} (shape {})", requested.size(), rank,
               shape_string(x.shape()));
  std::vector<std::int64_t> axes(requested.size());
  std::vector<bool> used(requested.size(), false);
  for (std::size_t i = 0; i < requested.size(); ++i) {
    axes[i] = detail::normalize_axis("permute", requested[i], rank);
    NEUROP_CHECK(!used[static_cast<std::size_t>(axes[i])], ShapeError, "permute: axis {} appears twice in [{}]",
                 axes[i], fmt::join(requested, ", "));
    used[static_cast<std::size_t>(axes[i])] = true;
  }
  bool identity = true;
  for (std::size_t i = 0; i < axes.size(); ++i) identity = identity && axes[i] == static_cast<std::int64_t>(i);
  if (identity) return x;

  const Shape& in_shape = x.shape();
  Shape out_shape(axes.size());
  std::vector<std::int64_t> in_strides(axes.size());
  {
    std::int64_t stride = 1;
    for (std::size_t k = axes.size(); k-- > 0;) {
      in_strides[k] = stride;
      stride *= in_shape[k];
    }
  }
  std::vector<std::int64_t> strides(axes.size());  // input stride of each output axis
  for (std::size_t i = 0; i < axes.size(); ++i) {
    out_shape[i] = in_shape[static_cast<std::size_t>(axes[i])];
    strides[i] = in_strides[static_cast<std::size_t>(axes[i])];
  }
  Tensor out = gather_strided(x, out_shape, strides);
  if (needs_graph(x)) record(out, std::make_shared<PermuteNode>(axes), {x});
  return out;
}

Tensor transpose(const Tensor& x, std::int64_t axis0, std::int64_t axis1) {
  const std::int64_t rank = x.ndim();
  std::vector<std::int64_t> axes(static_cast<std::size_t>(rank));
  std::iota(axes.begin(), axes.end(), 0);
  std::swap(axes[static_cast<std::size_t>(detail::normalize_axis("transpose", axis0, rank))],
            axes[static_cast<std::size_t>(detail::normalize_axis("transpose", axis1, rank))]);
  return permute(x, axes);
}

Tensor slice(const Tensor& x, std::int64_t axis_in, std::int64_t start, std::int64_t stop, std::int64_t step) {
  const std::int64_t axis = detail::normalize_axis("slice", axis_in, x.ndim());
  const std::int64_t size = x.shape()[static_cast<std::size_t>(axis)];
  NEUROP_CHECK(step >= 1, ShapeError, "slice: step must be >= 1, got {}", step);
  NEUROP_CHECK(0 <= start && start <= stop && stop <= size, ShapeError,
               "slice: range [{}, {}) is invalid for axis {} of extent {} (shape {})", start, stop, axis, size,
               shape_string(x.shape()));
  const std::int64_t count = (stop - start + step - 1) / step;
  if (start == 0 && count == size && step == 1) return x;
  const AxisSplit split = split_at(x.shape(), axis);
  Shape out_shape = x.shape();
  out_shape[static_cast<std::size_t>(axis)] = count;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const std::size_t bytes = element_bytes(x);
  const char* in = bytes_of(x);
  char* o = bytes_of(out);
  for (std::int64_t outer = 0; outer < split.outer; ++outer) {
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t source = (outer * split.extent + start + k * step) * split.inner;
      const std::int64_t target = (outer * count + k) * split.inner;
      std::memcpy(o + static_cast<std::size_t>(target) * bytes, in + static_cast<std::size_t>(source) * bytes,
                  static_cast<std::size_t>(split.inner) * bytes);
    }
  }
  if (needs_graph(x)) record(out, std::make_shared<SliceNode>(axis, size, start, step), {x});
  return out;
}

Tensor unslice(const Tensor& x, std::int64_t axis_in, std::int64_t size, std::int64_t start, std::int64_t step) {
  const std::int64_t axis = detail::normalize_axis("unslice", axis_in, x.ndim());
  const std::int64_t count = x.shape()[static_cast<std::size_t>(axis)];
  NEUROP_CHECK(step >= 1 && start >= 0 && (count == 0 || start + (count - 1) * step < size), ShapeError,
               "unslice: {} entries from position {} with step {} do not fit in extent {}", count, start, step, size);
  Shape out_shape = x.shape();
  out_shape[static_cast<std::size_t>(axis)] = size;
  Tensor out = Tensor::zeros(out_shape, x.dtype());
  const AxisSplit split = split_at(x.shape(), axis);
  const std::size_t bytes = element_bytes(x);
  const char* in = bytes_of(x);
  char* o = bytes_of(out);
  for (std::int64_t outer = 0; outer < split.outer; ++outer) {
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t source = (outer * count + k) * split.inner;
      const std::int64_t target = (outer * size + start + k * step) * split.inner;
      std::memcpy(o + static_cast<std::size_t>(target) * bytes, in + static_cast<std::size_t>(source) * bytes,
                  static_cast<std::size_t>(split.inner) * bytes);
    }
  }
  if (needs_graph(x)) record(out, std::make_shared<UnsliceNode>(axis, start, step, count), {x});
  return out;
}

Tensor pad(const Tensor& x, std::int64_t axis, std::int64_t before, std::int64_t after) {
  NEUROP_CHECK(before >= 0 && after >= 0, ShapeError, "pad: padding must be >= 0, got before = {}, after = {}", before,
               after);
  if (before == 0 && after == 0) return x;
  const std::int64_t a = detail::normalize_axis("pad", axis, x.ndim());
  return unslice(x, a, x.shape()[static_cast<std::size_t>(a)] + before + after, before, 1);
}

Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis_in) {
  NEUROP_CHECK(!tensors.empty(), ShapeError, "concat: no tensors given");
  const Tensor& first = tensors.front();
  const std::int64_t axis = detail::normalize_axis("concat", axis_in, first.ndim());
  Shape out_shape = first.shape();
  out_shape[static_cast<std::size_t>(axis)] = 0;
  std::vector<std::int64_t> extents;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    check_same_dtype("concat", first, t);
    bool compatible = t.ndim() == first.ndim();
    for (std::size_t k = 0; compatible && k < out_shape.size(); ++k)
      compatible = static_cast<std::int64_t>(k) == axis || t.shape()[k] == first.shape()[k];
    NEUROP_CHECK(compatible, ShapeError,
                 "concat: tensor {} has shape {} but tensor 0 has shape {}; all extents except axis {} must agree", i,
                 shape_string(t.shape()), shape_string(first.shape()), axis);
    extents.push_back(t.shape()[static_cast<std::size_t>(axis)]);
    out_shape[static_cast<std::size_t>(axis)] += extents.back();
  }
  Tensor out = Tensor::empty(out_shape, first.dtype());
  const AxisSplit split = split_at(out_shape, axis);
  const std::size_t bytes = element_bytes(first);
  char* o = bytes_of(out);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const char* in = bytes_of(tensors[i]);
    const std::int64_t block = extents[i] * split.inner;
    for (std::int64_t outer = 0; outer < split.outer; ++outer) {
      std::memcpy(o + static_cast<std::size_t>(outer * split.extent * split.inner + offset) * bytes,
                  in + static_cast<std::size_t>(outer * block) * bytes, static_cast<std::size_t>(block) * bytes);
    }
    offset += block;
  }
  if (needs_graph(tensors)) record(out, std::make_shared<ConcatNode>(axis, extents), tensors);
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const Shape aligned = aligned_shape("broadcast_to", x.shape(), shape);
  const auto strides = strides_with_zeros(aligned);
  Tensor out = gather_strided(x, shape, strides);
  if (needs_graph(x)) record(out, std::make_shared<BroadcastNode>(x.shape()), {x});
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const Shape aligned = aligned_shape("sum_to", shape, x.shape());
  const auto strides = strides_with_zeros(aligned);
  const Shape& in_shape = x.shape();
  const std::int64_t n = x.numel();
  // Accumulate in float64 whatever the dtype, so long sums keep their digits.
  std::vector<double> accumulator(static_cast<std::size_t>(shape_numel(shape)), 0.0);
  if (n > 0) {
    dispatch(x.dtype(), [&]<typename T>() {
      const T* in = x.data<T>();
      const std::size_t last = in_shape.size() - 1;
      const std::int64_t inner = in_shape[last], inner_stride = strides[last];
      const std::int64_t rows = n / inner;
      for (std::int64_t row = 0; row < rows; ++row) {
        std::int64_t rest = row, offset = 0;
        for (std::size_t k = last; k-- > 0;) {
          offset += (rest % in_shape[k]) * strides[k];
          rest /= in_shape[k];
        }
        const T* src = in + row * inner;
        if (inner_stride == 0) {
          // Blocks of kSumBlock elements are summed by Eigen's vectorised tree reduction in
          // the input dtype (relative error below log2(kSumBlock) eps) and the block sums
          // in float64, so long rows keep their digits.
          double total = 0.0;
          for (std::int64_t j = 0; j < inner; j += kSumBlock)
            total += static_cast<double>(detail::ConstArrayMap<T>(src + j, std::min(kSumBlock, inner - j)).sum());
          accumulator[static_cast<std::size_t>(offset)] += total;
        } else {
          double* dst = accumulator.data() + offset;
          for (std::int64_t j = 0; j < inner; ++j) dst[j] += static_cast<double>(src[j]);
        }
      }
    });
  }
  Tensor out = Tensor::from_vector(accumulator, shape, x.dtype());
  if (needs_graph(x)) record(out, std::make_shared<SumToNode>(x.shape()), {x});
  return out;
}

Tensor index_select(const Tensor& x, std::int64_t axis_in, const std::vector<std::int64_t>& indices) {
  const std::int64_t axis = detail::normalize_axis("index_select", axis_in, x.ndim());
  const AxisSplit split = split_at(x.shape(), axis);
  check_indices("index_select", indices, split.extent);
  Shape out_shape = x.shape();
  const auto count = static_cast<std::int64_t>(indices.size());
  out_shape[static_cast<std::size_t>(axis)] = count;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const std::size_t bytes = element_bytes(x);
  const char* in = bytes_of(x);
  char* o = bytes_of(out);
  for (std::int64_t outer = 0; outer < split.outer; ++outer) {
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t source = (outer * split.extent + indices[static_cast<std::size_t>(k)]) * split.inner;
      const std::int64_t target = (outer * count + k) * split.inner;
      std::memcpy(o + static_cast<std::size_t>(target) * bytes, in + static_cast<std::size_t>(source) * bytes,
                  static_cast<std::size_t>(split.inner) * bytes);
    }
  }
  if (needs_graph(x)) record(out, std::make_shared<IndexSelectNode>(axis, indices, split.extent), {x});
  return out;
}

Tensor index_add(const Tensor& x, std::int64_t axis_in, const std::vector<std::int64_t>& indices, std::int64_t size) {
  const std::int64_t axis = detail::normalize_axis("index_add", axis_in, x.ndim());
  const AxisSplit split = split_at(x.shape(), axis);
  NEUROP_CHECK(split.extent == static_cast<std::int64_t>(indices.size()), ShapeError,
               "index_add: {} indices for axis {} of extent {}", indices.size(), axis, split.extent);
  check_indices("index_add", indices, size);
  Shape out_shape = x.shape();
  out_shape[static_cast<std::size_t>(axis)] = size;
  Tensor out = Tensor::zeros(out_shape, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* o = out.data<T>();
    // Repeated indices accumulate; the output is a fresh buffer, so nothing aliases.
    for (std::int64_t outer = 0; outer < split.outer; ++outer) {
      for (std::int64_t k = 0; k < split.extent; ++k) {
        const T* src = in + (outer * split.extent + k) * split.inner;
        T* dst = o + (outer * size + indices[static_cast<std::size_t>(k)]) * split.inner;
        for (std::int64_t j = 0; j < split.inner; ++j) dst[j] += src[j];
      }
    }
  });
  if (needs_graph(x)) record(out, std::make_shared<IndexAddNode>(axis, indices), {x});
  return out;
}

Tensor clone(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  if (x.numel() > 0)
    std::memcpy(out.impl()->raw(), x.impl()->raw(), static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype()));
  if (needs_graph(x)) record(out, std::make_shared<CloneNode>(), {x});
  return out;
}

Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.shape(), dtype);
  const std::int64_t n = x.numel();
  if (dtype == DType::f64) {
    const float* in = x.data<float>();
    double* o = out.data<double>();
    for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<double>(in[i]);
  } else {
    const double* in = x.data<double>();
    float* o = out.data<float>();
    for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(in[i]);
  }
  if (needs_graph(x)) record(out, std::make_shared<CastNode>(x.dtype()), {x});
  return out;
}

// ---- reductions ----

Tensor sum(const Tensor& x) { return reshape(sum_to(x, Shape(static_cast<std::size_t>(x.ndim()), 1)), {}); }

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes, bool keep_dims) {
  Shape kept = x.shape();
  for (std::int64_t axis : axes) kept[static_cast<std::size_t>(detail::normalize_axis("sum", axis, x.ndim()))] = 1;
  Tensor out = sum_to(x, kept);
  if (keep_dims) return out;
  Shape squeezed;
  std::vector<bool> reduced(kept.size(), false);
  for (std::int64_t axis : axes) reduced[static_cast<std::size_t>(detail::normalize_axis("sum", axis, x.ndim()))] = true;
  for (std::size_t i = 0; i < kept.size(); ++i)
    if (!reduced[i]) squeezed.push_back(kept[i]);
  return reshape(out, squeezed);
}

Tensor mean(const Tensor& x) {
  NEUROP_CHECK(x.numel() > 0, ShapeError, "mean: the tensor of shape {} is empty", shape_string(x.shape()));
  return affine(sum(x), 1.0 / static_cast<double>(x.numel()), 0.0);
}

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes, bool keep_dims) {
  std::int64_t count = 1;
  for (std::int64_t axis : axes) count *= x.shape()[static_cast<std::size_t>(detail::normalize_axis("mean", axis, x.ndim()))];
  NEUROP_CHECK(count > 0, ShapeError, "mean: reducing empty axes of shape {}", shape_string(x.shape()));
  return affine(sum(x, axes, keep_dims), 1.0 / static_cast<double>(count), 0.0);
}

}  // namespace neurop
