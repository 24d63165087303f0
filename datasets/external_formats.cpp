#include "datasets/external_formats.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "lib/core/error.hpp"
#include "lib/core/log.hpp"
#include "lib/io/hdf5.hpp"

#ifdef NEUROP_HAVE_MATIO
#include <matio.h>
#endif

namespace neurop::data {
namespace {

std::size_t to_index(std::int64_t value) { return static_cast<std::size_t>(value); }

// Resolves a SampleRange against a file holding `total` samples.
std::pair<std::int64_t, std::int64_t> resolve_range(const SampleRange& range, std::int64_t total,
                                                    const std::filesystem::path& path) {
  const std::int64_t count = range.count == -1 ? total - range.first : range.count;
  NEUROP_CHECK(range.first >= 0 && count >= 1 && range.first + count <= total, ValueError,
               "'{}' holds {} samples, so samples [{}, {}) cannot be read; pass first in [0, {}) and count >= 1 "
               "(or -1 for the rest)",
               path.string(), total, range.first, range.first + count, total);
  return {range.first, count};
}

// Rejects a rank other than `expected`. When the only difference is a leading axis of
// extent 1, the message names that case, because such an axis is never a spatial axis.
void check_rank(const std::filesystem::path& path, const std::string& name, const Shape& shape, std::size_t expected,
                const std::string& layout) {
  if (shape.size() == expected) return;
  if (shape.size() == expected + 1 && shape.front() == 1) {
    throw FileError(fmt::format(
        "'{}': array '{}' has shape {} (rank {}), but the layout is {} (rank {}). The leading axis of extent 1 is "
        "not a spatial axis; remove it from the file (for example with h5py or numpy.squeeze(axis=0)) and read it "
        "again",
        path.string(), name, shape, shape.size(), layout, expected));
  }
  throw FileError(fmt::format("'{}': array '{}' has shape {} (rank {}), expected the layout {} (rank {})",
                              path.string(), name, shape, shape.size(), layout, expected));
}

// Rejects an extent that contradicts the one another array declares for the same axis.
void check_extent(const std::filesystem::path& path, const std::string& name, const std::string& axis,
                  std::int64_t stored, const std::string& declared_by, std::int64_t declared) {
  NEUROP_CHECK(stored == declared, FileError,
               "'{}': array '{}' holds {} points on axis {}, but {} declares {}; the file is inconsistent",
               path.string(), name, stored, axis, declared_by, declared);
}

void check_increasing(const std::filesystem::path& path, const std::string& name, const std::vector<double>& x) {
  for (std::size_t k = 1; k < x.size(); ++k) {
    NEUROP_CHECK(x[k] > x[k - 1], FileError, "'{}': coordinate array '{}' is not strictly increasing at index {} ({} "
                 "after {})", path.string(), name, k, x[k], x[k - 1]);
  }
}

#ifdef NEUROP_HAVE_MATIO

std::vector<double> vertex_grid(std::int64_t points) {
  std::vector<double> x(to_index(points));
  for (std::int64_t k = 0; k < points; ++k) {
    x[to_index(k)] = points == 1 ? 0.0 : static_cast<double>(k) / static_cast<double>(points - 1);
  }
  return x;
}

std::vector<double> periodic_unit_grid(std::int64_t points) {
  std::vector<double> x(to_index(points));
  for (std::int64_t k = 0; k < points; ++k) x[to_index(k)] = static_cast<double>(k) / static_cast<double>(points);
  return x;
}

// matio prints its errors to stderr by default; route them to the library logger.
void route_matio_messages() {
  static const bool done = [] {
    Mat_LogInitFunc("neurop", [](int level, char* message) {
      logger().debug("matio (level {}): {}", level, message);
    });
    return true;
  }();
  (void)done;
}

class MatFile {
public:
  explicit MatFile(const std::filesystem::path& path) : path_(path) {
    route_matio_messages();
    NEUROP_CHECK(std::filesystem::exists(path), FileError, "MAT file '{}' does not exist", path.string());
    mat_ = Mat_Open(path.c_str(), MAT_ACC_RDONLY);
    NEUROP_CHECK(mat_ != nullptr, FileError, "'{}' could not be opened as a MATLAB v5 or v7.3 MAT file",
                 path.string());
  }
  ~MatFile() { Mat_Close(mat_); }
  MatFile(const MatFile&) = delete;
  MatFile& operator=(const MatFile&) = delete;

  std::vector<std::string> variable_names() const {
    std::vector<std::string> names;
    Mat_Rewind(mat_);
    while (matvar_t* variable = Mat_VarReadNextInfo(mat_)) {
      if (variable->name != nullptr) names.emplace_back(variable->name);
      Mat_VarFree(variable);
    }
    return names;
  }

  mat_t* get() const { return mat_; }
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
  mat_t* mat_ = nullptr;
};

// Header of one variable (shape and class), read without its data.
class MatVariable {
public:
  MatVariable(const MatFile& file, const std::string& name) : name_(name) {
    variable_ = Mat_VarReadInfo(file.get(), name.c_str());
    if (variable_ == nullptr) {
      throw FileError(fmt::format("'{}' has no variable '{}'; it contains {}", file.path().string(), name,
                                  file.variable_names()));
    }
    NEUROP_CHECK(!variable_->isComplex, FileError, "'{}': variable '{}' is complex; expected a real numeric array",
                 file.path().string(), name);
    const int type = variable_->class_type;
    const bool numeric = type == MAT_C_DOUBLE || type == MAT_C_SINGLE || (type >= MAT_C_INT8 && type <= MAT_C_UINT64);
    NEUROP_CHECK(numeric, FileError,
                 "'{}': variable '{}' has MATLAB class number {}, expected a dense numeric array (double, single or "
                 "integer)",
                 file.path().string(), name, type);
  }
  ~MatVariable() { Mat_VarFree(variable_); }
  MatVariable(const MatVariable&) = delete;
  MatVariable& operator=(const MatVariable&) = delete;

  Shape shape() const {
    Shape shape;
    for (int axis = 0; axis < variable_->rank; ++axis) {
      shape.push_back(static_cast<std::int64_t>(variable_->dims[axis]));
    }
    return shape;
  }

  // Reads samples [first, first + count) along axis 0 and returns them row-major as
  // [count, rest...] in float64. The file stores the array column-major.
  std::vector<double> read_samples(const MatFile& file, std::int64_t first, std::int64_t count) const {
    const Shape full = shape();
    std::vector<int> start(full.size(), 0), stride(full.size(), 1), edge(full.size());
    start[0] = static_cast<int>(first);
    edge[0] = static_cast<int>(count);
    std::int64_t total = count;
    for (std::size_t axis = 1; axis < full.size(); ++axis) {
      edge[axis] = static_cast<int>(full[axis]);
      total *= full[axis];
    }
    std::vector<unsigned char> raw(to_index(total) * Mat_SizeOfClass(variable_->class_type));
    const int failed = Mat_VarReadData(file.get(), variable_, raw.data(), start.data(), stride.data(), edge.data());
    NEUROP_CHECK(failed == 0, FileError, "'{}': reading samples [{}, {}) of variable '{}' failed (matio error {})",
                 file.path().string(), first, first + count, name_, failed);
    const std::vector<double> column_major = convert(raw, to_index(total));

    // Column-major [count, e1, e2, ...] -> row-major: element (n, i, j) sits at
    // n + count (i + e1 j) in the file and at (n e1 + i) e2 + j in the result.
    std::vector<double> row_major(column_major.size());
    const std::size_t rank = full.size();
    std::vector<std::int64_t> extents(edge.begin(), edge.end());
    std::vector<std::int64_t> index(rank, 0);
    for (std::size_t flat = 0; flat < row_major.size(); ++flat) {
      std::int64_t source = 0, scale = 1;
      for (std::size_t axis = 0; axis < rank; ++axis) {
        source += index[axis] * scale;
        scale *= extents[axis];
      }
      row_major[flat] = column_major[to_index(source)];
      // Advance the row-major multi-index (last axis fastest).
      for (std::size_t axis = rank; axis-- > 0;) {
        if (++index[axis] < extents[axis]) break;
        index[axis] = 0;
      }
    }
    return row_major;
  }

private:
  template <typename T>
  static void append(const std::vector<unsigned char>& raw, std::size_t count, std::vector<double>& out) {
    const T* values = reinterpret_cast<const T*>(raw.data());
    for (std::size_t k = 0; k < count; ++k) out[k] = static_cast<double>(values[k]);
  }

  std::vector<double> convert(const std::vector<unsigned char>& raw, std::size_t count) const {
    std::vector<double> out(count);
    switch (variable_->class_type) {
      case MAT_C_DOUBLE: append<double>(raw, count, out); break;
      case MAT_C_SINGLE: append<float>(raw, count, out); break;
      case MAT_C_INT8: append<std::int8_t>(raw, count, out); break;
      case MAT_C_UINT8: append<std::uint8_t>(raw, count, out); break;
      case MAT_C_INT16: append<std::int16_t>(raw, count, out); break;
      case MAT_C_UINT16: append<std::uint16_t>(raw, count, out); break;
      case MAT_C_INT32: append<std::int32_t>(raw, count, out); break;
      case MAT_C_UINT32: append<std::uint32_t>(raw, count, out); break;
      case MAT_C_INT64: append<std::int64_t>(raw, count, out); break;
      case MAT_C_UINT64: append<std::uint64_t>(raw, count, out); break;
      default: NEUROP_ASSERT(false);
    }
    return out;
  }

  std::string name_;
  matvar_t* variable_ = nullptr;
};

// Reads an input/output pair of MAT variables with `spatial_dims` spatial axes after the
// sample axis, and checks that both have the same extents.
void read_mat_pair(const std::filesystem::path& path, const std::string& input_name, const std::string& output_name,
                   int spatial_dims, const SampleRange& range, GridDataset& dataset) {
  const MatFile file(path);
  const MatVariable input(file, input_name);
  const MatVariable output(file, output_name);
  const std::string layout = spatial_dims == 1 ? "[samples, x]" : "[samples, x0, x1]";
  const auto rank = static_cast<std::size_t>(spatial_dims) + 1;
  const Shape input_shape = input.shape(), output_shape = output.shape();
  check_rank(path, input_name, input_shape, rank, layout);
  check_rank(path, output_name, output_shape, rank, layout);
  for (std::size_t axis = 0; axis < rank; ++axis) {
    const std::string axis_name = axis == 0 ? "samples" : fmt::format("x{}", axis - 1);
    check_extent(path, output_name, axis_name, output_shape[axis], "'" + input_name + "'", input_shape[axis]);
  }
  const auto [first, count] = resolve_range(range, input_shape[0], path);

  dataset.spatial_dims = spatial_dims;
  dataset.inputs = input.read_samples(file, first, count);
  dataset.outputs = output.read_samples(file, first, count);
  dataset.input_shape = {count, 1};
  for (std::size_t axis = 1; axis < rank; ++axis) dataset.input_shape.push_back(input_shape[axis]);
  dataset.output_shape = dataset.input_shape;
  dataset.parameters["source_file"] = path.filename().string();
  dataset.parameters["first_sample"] = first;
}

#endif  // NEUROP_HAVE_MATIO

#ifndef NEUROP_HAVE_MATIO
[[noreturn]] void throw_no_matio(const std::filesystem::path& path) {
  throw FileError(fmt::format("cannot read '{}': this build of neurop has no MAT-file support; install libmatio "
                              "(Debian: libmatio-dev) and reconfigure with -Dmatio=enabled",
                              path.string()));
}
#endif

// Reads `count` samples of `name` ([N, ...]) in blocks of rows, calling take(k, row)
// with the k-th sample's values, so that only one block is in memory at a time.
template <typename Take>
void for_each_sample(const h5::File& file, const std::string& name, std::int64_t first, std::int64_t count,
                     std::int64_t values_per_sample, Take&& take) {
  // Blocks of about 64 MiB of doubles.
  const std::int64_t block = std::max<std::int64_t>(1, (std::int64_t{8} << 20) / std::max<std::int64_t>(1, values_per_sample));
  for (std::int64_t start = 0; start < count; start += block) {
    const std::int64_t rows = std::min(block, count - start);
    const std::vector<double> values = file.read_rows_f64(name, first + start, rows);
    for (std::int64_t r = 0; r < rows; ++r) take(start + r, values.data() + r * values_per_sample);
  }
}

}  // namespace

bool has_mat_file_support() {
#ifdef NEUROP_HAVE_MATIO
  return true;
#else
  return false;
#endif
}

GridDataset read_fno_darcy_mat(const std::filesystem::path& path, const FnoDarcyMatOptions& options) {
#ifdef NEUROP_HAVE_MATIO
  GridDataset dataset;
  dataset.generator = "fno-darcy-mat";
  dataset.periodic = false;
  read_mat_pair(path, options.coefficient_name, options.solution_name, 2, options.samples, dataset);
  dataset.grid = {vertex_grid(dataset.input_shape[2]), vertex_grid(dataset.input_shape[3])};
  validate(dataset);
  return dataset;
#else
  (void)options;
  throw_no_matio(path);
#endif
}

GridDataset read_fno_burgers_mat(const std::filesystem::path& path, const FnoBurgersMatOptions& options) {
#ifdef NEUROP_HAVE_MATIO
  GridDataset dataset;
  dataset.generator = "fno-burgers-mat";
  dataset.periodic = true;
  read_mat_pair(path, options.input_name, options.output_name, 1, options.samples, dataset);
  dataset.grid = {periodic_unit_grid(dataset.input_shape[2])};
  validate(dataset);
  return dataset;
#else
  (void)options;
  throw_no_matio(path);
#endif
}

GridDataset read_pdebench_burgers(const std::filesystem::path& path, const PdebenchBurgersOptions& options) {
  const h5::File file = h5::File::open(path);
  for (const char* name : {"tensor", "x-coordinate", "t-coordinate"}) {
    NEUROP_CHECK(file.exists(name), FileError,
                 "'{}' has no data set '{}'; a PDEBench 1D Burgers file holds tensor [N, t, x], x-coordinate and "
                 "t-coordinate",
                 path.string(), name);
  }
  const Shape shape = file.shape("tensor");
  check_rank(path, "tensor", shape, 3, "[samples, t, x]");
  const Shape x_shape = file.shape("x-coordinate"), t_shape = file.shape("t-coordinate");
  check_rank(path, "x-coordinate", x_shape, 1, "[x]");
  check_rank(path, "t-coordinate", t_shape, 1, "[t]");
  const std::int64_t steps = shape[1], points = shape[2];
  check_extent(path, "tensor", "x", points, "x-coordinate", x_shape[0]);
  NEUROP_CHECK(t_shape[0] == steps || t_shape[0] == steps + 1, FileError,
               "'{}': array 'tensor' holds {} points on axis t, but t-coordinate declares {} (expected {} or {})",
               path.string(), steps, t_shape[0], steps, steps + 1);

  auto resolve_time = [&](std::int64_t index, const char* option) {
    const std::int64_t resolved = index < 0 ? steps + index : index;
    NEUROP_CHECK(resolved >= 0 && resolved < steps, ValueError,
                 "read_pdebench_burgers: {} = {} is outside the {} stored times of '{}'; pass an index in [{}, {})",
                 option, index, steps, path.string(), -steps, steps);
    return resolved;
  };
  const std::int64_t input_time = resolve_time(options.input_time, "input_time");
  const std::int64_t output_time = resolve_time(options.output_time, "output_time");
  const auto [first, count] = resolve_range(options.samples, shape[0], path);

  GridDataset dataset;
  dataset.generator = "pdebench-burgers";
  dataset.spatial_dims = 1;
  dataset.periodic = true;
  dataset.input_shape = {count, 1, points};
  dataset.output_shape = {count, 1, points};
  dataset.inputs.resize(to_index(count * points));
  dataset.outputs.resize(to_index(count * points));
  for_each_sample(file, "tensor", first, count, steps * points, [&](std::int64_t k, const double* sample) {
    // sample is [t, x]; copy rows input_time and output_time.
    std::copy_n(sample + input_time * points, points, dataset.inputs.begin() + k * points);
    std::copy_n(sample + output_time * points, points, dataset.outputs.begin() + k * points);
  });

  std::vector<double> x = file.read_f64("x-coordinate");
  check_increasing(path, "x-coordinate", x);
  const std::vector<double> t = file.read_f64("t-coordinate");
  dataset.grid = {std::move(x)};
  dataset.parameters["source_file"] = path.filename().string();
  dataset.parameters["first_sample"] = first;
  dataset.parameters["input_time_index"] = input_time;
  dataset.parameters["output_time_index"] = output_time;
  // NOTE: with nt + 1 stored times, entry k of t-coordinate is taken as the time of
  // tensor step k. The PDEBench files do not document which convention they follow.
  dataset.parameters["input_time"] = t[to_index(input_time)];
  dataset.parameters["output_time"] = t[to_index(output_time)];
  if (file.has_attribute("/", "Nu")) dataset.parameters["nu"] = file.attribute_f64("/", "Nu");
  validate(dataset);
  return dataset;
}

GridDataset read_pdebench_darcy(const std::filesystem::path& path, const PdebenchDarcyOptions& options) {
  const h5::File file = h5::File::open(path);
  for (const char* name : {"tensor", "nu", "x-coordinate", "y-coordinate"}) {
    NEUROP_CHECK(file.exists(name), FileError,
                 "'{}' has no data set '{}'; a PDEBench Darcy file holds tensor [N, 1, x, y], nu [N, x, y], "
                 "x-coordinate and y-coordinate",
                 path.string(), name);
  }
  const Shape solution_shape = file.shape("tensor");
  const Shape coefficient_shape = file.shape("nu");
  check_rank(path, "tensor", solution_shape, 4, "[samples, 1, x, y]");
  check_rank(path, "nu", coefficient_shape, 3, "[samples, x, y]");
  NEUROP_CHECK(solution_shape[1] == 1, FileError,
               "'{}': array 'tensor' has shape {}; axis 1 must have extent 1 (one stored time), got {}",
               path.string(), solution_shape, solution_shape[1]);
  const Shape x_shape = file.shape("x-coordinate"), y_shape = file.shape("y-coordinate");
  check_rank(path, "x-coordinate", x_shape, 1, "[x]");
  check_rank(path, "y-coordinate", y_shape, 1, "[y]");
  const std::int64_t nx = x_shape[0], ny = y_shape[0];
  check_extent(path, "tensor", "x", solution_shape[2], "x-coordinate", nx);
  check_extent(path, "tensor", "y", solution_shape[3], "y-coordinate", ny);
  check_extent(path, "nu", "samples", coefficient_shape[0], "'tensor'", solution_shape[0]);
  check_extent(path, "nu", "x", coefficient_shape[1], "x-coordinate", nx);
  check_extent(path, "nu", "y", coefficient_shape[2], "y-coordinate", ny);
  const auto [first, count] = resolve_range(options.samples, solution_shape[0], path);

  GridDataset dataset;
  dataset.generator = "pdebench-darcy";
  dataset.spatial_dims = 2;
  dataset.periodic = false;
  dataset.input_shape = {count, 1, nx, ny};
  dataset.output_shape = {count, 1, nx, ny};
  dataset.inputs.resize(to_index(count * nx * ny));
  dataset.outputs.resize(to_index(count * nx * ny));
  for_each_sample(file, "nu", first, count, nx * ny, [&](std::int64_t k, const double* sample) {
    std::copy_n(sample, nx * ny, dataset.inputs.begin() + k * nx * ny);
  });
  for_each_sample(file, "tensor", first, count, nx * ny, [&](std::int64_t k, const double* sample) {
    std::copy_n(sample, nx * ny, dataset.outputs.begin() + k * nx * ny);
  });

  std::vector<double> x = file.read_f64("x-coordinate"), y = file.read_f64("y-coordinate");
  check_increasing(path, "x-coordinate", x);
  check_increasing(path, "y-coordinate", y);
  dataset.grid = {std::move(x), std::move(y)};
  dataset.parameters["source_file"] = path.filename().string();
  dataset.parameters["first_sample"] = first;
  validate(dataset);
  return dataset;
}

}  // namespace neurop::data
