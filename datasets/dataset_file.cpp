#include "datasets/dataset_file.hpp"

#include <cmath>
#include <numeric>

#include "lib/core/error.hpp"
#include "lib/io/hdf5.hpp"

namespace neurop::data {
namespace {

constexpr const char* kFormat = "neurop-dataset";
constexpr std::int64_t kVersion = 1;

std::int64_t product(const Shape& shape, std::size_t from = 0) {
  return std::accumulate(shape.begin() + static_cast<std::ptrdiff_t>(from), shape.end(), std::int64_t{1},
                         std::multiplies<>());
}

void check_finite(const std::vector<double>& values, const Shape& shape, const char* name) {
  const std::int64_t per_sample = shape.size() > 1 ? product(shape, 1) : 1;
  for (std::size_t i = 0; i < values.size(); ++i) {
    NEUROP_CHECK(std::isfinite(values[i]), DataError,
                 "data set array '{}' contains {} at sample {} (flat index {}); regenerate the data or remove "
                 "that sample",
                 name, values[i], static_cast<std::int64_t>(i) / per_sample, i);
  }
}

}  // namespace

void validate(const GridDataset& dataset) {
  const auto rank = static_cast<std::size_t>(dataset.spatial_dims) + 2;
  NEUROP_CHECK(dataset.spatial_dims >= 1 && dataset.spatial_dims <= 3, ShapeError,
               "grid data set: spatial_dims must be 1, 2 or 3, got {}", dataset.spatial_dims);
  NEUROP_CHECK(dataset.input_shape.size() == rank, ShapeError,
               "grid data set: inputs have shape {} (rank {}), expected rank {} = [samples, channels] + {} spatial "
               "axes",
               dataset.input_shape, dataset.input_shape.size(), rank, dataset.spatial_dims);
  NEUROP_CHECK(dataset.output_shape.size() == rank, ShapeError,
               "grid data set: outputs have shape {} (rank {}), expected rank {} = [samples, channels] + {} spatial "
               "axes",
               dataset.output_shape, dataset.output_shape.size(), rank, dataset.spatial_dims);
  NEUROP_CHECK(dataset.input_shape[0] == dataset.output_shape[0], ShapeError,
               "grid data set: {} input samples but {} output samples", dataset.input_shape[0],
               dataset.output_shape[0]);
  for (std::size_t axis = 2; axis < rank; ++axis) {
    NEUROP_CHECK(dataset.input_shape[axis] == dataset.output_shape[axis], ShapeError,
                 "grid data set: inputs {} and outputs {} differ on spatial axis {}", dataset.input_shape,
                 dataset.output_shape, axis - 2);
  }
  NEUROP_CHECK(static_cast<std::int64_t>(dataset.inputs.size()) == product(dataset.input_shape), ShapeError,
               "grid data set: inputs hold {} values but shape {} needs {}", dataset.inputs.size(),
               dataset.input_shape, product(dataset.input_shape));
  NEUROP_CHECK(static_cast<std::int64_t>(dataset.outputs.size()) == product(dataset.output_shape), ShapeError,
               "grid data set: outputs hold {} values but shape {} needs {}", dataset.outputs.size(),
               dataset.output_shape, product(dataset.output_shape));
  NEUROP_CHECK(dataset.grid.size() == static_cast<std::size_t>(dataset.spatial_dims), ShapeError,
               "grid data set: {} coordinate vectors for {} spatial axes", dataset.grid.size(), dataset.spatial_dims);
  for (int axis = 0; axis < dataset.spatial_dims; ++axis) {
    NEUROP_CHECK(static_cast<std::int64_t>(dataset.grid[static_cast<std::size_t>(axis)].size()) ==
                     dataset.input_shape[static_cast<std::size_t>(axis) + 2],
                 ShapeError, "grid data set: coordinate vector x{} has {} points but the data have {} on that axis",
                 axis, dataset.grid[static_cast<std::size_t>(axis)].size(),
                 dataset.input_shape[static_cast<std::size_t>(axis) + 2]);
  }
  check_finite(dataset.inputs, dataset.input_shape, "inputs");
  check_finite(dataset.outputs, dataset.output_shape, "outputs");
  for (int axis = 0; axis < dataset.spatial_dims; ++axis) {
    const std::vector<double>& coordinates = dataset.grid[static_cast<std::size_t>(axis)];
    for (std::size_t i = 0; i < coordinates.size(); ++i) {
      NEUROP_CHECK(std::isfinite(coordinates[i]), DataError,
                   "data set array 'grid/x{}' contains {} at index {}, but grid coordinates must be finite; "
                   "regenerate the data or rewrite the coordinates of that axis",
                   axis, coordinates[i], i);
    }
  }
}

void write_grid_dataset(const std::filesystem::path& path, const GridDataset& dataset) {
  validate(dataset);
  h5::AtomicWriter writer(path);
  h5::File& file = writer.file();
  file.write("inputs", dataset.input_shape, dataset.inputs.data());
  file.write("outputs", dataset.output_shape, dataset.outputs.data());
  for (int axis = 0; axis < dataset.spatial_dims; ++axis) {
    const auto& coordinates = dataset.grid[static_cast<std::size_t>(axis)];
    file.write(fmt::format("grid/x{}", axis), {static_cast<std::int64_t>(coordinates.size())}, coordinates.data());
  }
  file.set_attribute("/", "format", std::string(kFormat));
  file.set_attribute("/", "version", kVersion);
  file.set_attribute("/", "generator", dataset.generator);
  file.set_attribute("/", "spatial_dims", static_cast<std::int64_t>(dataset.spatial_dims));
  file.set_attribute("/", "periodic", static_cast<std::int64_t>(dataset.periodic ? 1 : 0));
  file.set_attribute("/", "seed", static_cast<std::int64_t>(dataset.seed));
  for (const auto& [key, value] : dataset.parameters) {
    std::visit([&](const auto& v) { file.set_attribute("/", key, v); }, value);
  }
  writer.commit();
}

GridDataset read_grid_dataset(const std::filesystem::path& path) {
  const h5::File file = h5::File::open(path);
  NEUROP_CHECK(file.has_attribute("/", "format") && file.attribute_string("/", "format") == kFormat, FileError,
               "'{}' is not a neurop data set (root attribute format = \"{}\" is missing); write it with `neurop "
               "generate` or with the layout described in docs/architecture.md",
               path.string(), kFormat);
  const std::int64_t version = file.attribute_i64("/", "version");
  NEUROP_CHECK(version == kVersion, FileError, "'{}' has data set format version {}, this build reads version {}",
               path.string(), version, kVersion);

  NEUROP_CHECK(!file.has_attribute("/", "layout"), FileError,
               "'{}' is a point data set (sensor values and query points, for DeepONet), not a grid data set; pass "
               "a grid data set such as one from `neurop generate burgers` or `neurop generate darcy`, or train a "
               "DeepONet on this file",
               path.string());
  GridDataset dataset;
  dataset.generator = file.attribute_string("/", "generator");
  dataset.spatial_dims = static_cast<int>(file.attribute_i64("/", "spatial_dims"));
  dataset.periodic = file.attribute_i64("/", "periodic") != 0;
  dataset.seed = static_cast<std::uint64_t>(file.attribute_i64("/", "seed"));
  NEUROP_CHECK(dataset.spatial_dims >= 1 && dataset.spatial_dims <= 3, FileError,
               "'{}' declares spatial_dims = {}; expected 1, 2 or 3", path.string(), dataset.spatial_dims);
  const auto rank = static_cast<std::size_t>(dataset.spatial_dims) + 2;
  const Shape input_shape = file.shape("inputs");
  const Shape output_shape = file.shape("outputs");
  NEUROP_CHECK(input_shape.size() == rank, FileError,
               "'{}': inputs have shape {} but spatial_dims = {} declares rank {} [samples, channels, {} spatial "
               "axes]",
               path.string(), input_shape, dataset.spatial_dims, rank, dataset.spatial_dims);
  NEUROP_CHECK(output_shape.size() == rank, FileError,
               "'{}': outputs have shape {} but spatial_dims = {} declares rank {} [samples, channels, {} spatial "
               "axes]",
               path.string(), output_shape, dataset.spatial_dims, rank, dataset.spatial_dims);
  dataset.inputs = file.read_f64("inputs", &dataset.input_shape);
  dataset.outputs = file.read_f64("outputs", &dataset.output_shape);
  for (int axis = 0; axis < dataset.spatial_dims; ++axis) {
    dataset.grid.push_back(file.read_f64(fmt::format("grid/x{}", axis)));
  }
  try {
    validate(dataset);
  } catch (const std::exception& error) {
    throw FileError(fmt::format("'{}': {}", path.string(), error.what()));
  }
  return dataset;
}

GridDataset subsample(const GridDataset& dataset, std::int64_t stride) {
  NEUROP_CHECK(stride >= 1, ValueError, "subsample: stride must be >= 1, got {}", stride);
  if (stride == 1) return dataset;
  const int dims = dataset.spatial_dims;
  for (int axis = 0; axis < dims; ++axis) {
    const std::int64_t extent = dataset.input_shape[static_cast<std::size_t>(axis) + 2];
    if (dataset.periodic) {
      NEUROP_CHECK(extent % stride == 0, ValueError,
                   "subsample: periodic axis {} has {} points, which stride {} does not divide; choose a resolution "
                   "that divides {}",
                   axis, extent, stride, extent);
    } else {
      NEUROP_CHECK((extent - 1) % stride == 0, ValueError,
                   "subsample: axis {} has {} points including both end points, so the stride must divide {}; got {}",
                   axis, extent, extent - 1, stride);
    }
  }
  GridDataset result = dataset;
  auto reduce = [&](const std::vector<double>& values, const Shape& shape, Shape& new_shape) {
    new_shape = shape;
    for (int axis = 0; axis < dims; ++axis) {
      const std::int64_t extent = shape[static_cast<std::size_t>(axis) + 2];
      new_shape[static_cast<std::size_t>(axis) + 2] = (extent - 1) / stride + 1;
    }
    std::vector<double> out(static_cast<std::size_t>(product(new_shape)));
    const std::int64_t outer = shape[0] * shape[1];
    const std::int64_t in_block = product(shape, 2), out_block = product(new_shape, 2);
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t j = 0; j < out_block; ++j) {
        // Unravel j on the new grid, scale by stride, ravel on the old grid.
        std::int64_t rest = j, source = 0, scale = 1;
        for (int axis = dims - 1; axis >= 0; --axis) {
          const std::int64_t new_extent = new_shape[static_cast<std::size_t>(axis) + 2];
          const std::int64_t index = rest % new_extent;
          rest /= new_extent;
          source += index * stride * scale;
          scale *= shape[static_cast<std::size_t>(axis) + 2];
        }
        out[static_cast<std::size_t>(o * out_block + j)] = values[static_cast<std::size_t>(o * in_block + source)];
      }
    }
    return out;
  };
  result.inputs = reduce(dataset.inputs, dataset.input_shape, result.input_shape);
  result.outputs = reduce(dataset.outputs, dataset.output_shape, result.output_shape);
  for (auto& coordinates : result.grid) {
    std::vector<double> reduced;
    for (std::size_t k = 0; k < coordinates.size(); k += static_cast<std::size_t>(stride))
      reduced.push_back(coordinates[k]);
    coordinates = std::move(reduced);
  }
  return result;
}

GridDataset slice_samples(const GridDataset& dataset, std::int64_t first, std::int64_t count) {
  NEUROP_CHECK(first >= 0 && count >= 0 && first + count <= dataset.size(), ValueError,
               "slice_samples: samples [{}, {}) requested from a data set of {} samples", first, first + count,
               dataset.size());
  GridDataset result = dataset;
  const std::int64_t in_block = product(dataset.input_shape, 1), out_block = product(dataset.output_shape, 1);
  result.inputs.assign(dataset.inputs.begin() + first * in_block, dataset.inputs.begin() + (first + count) * in_block);
  result.outputs.assign(dataset.outputs.begin() + first * out_block,
                        dataset.outputs.begin() + (first + count) * out_block);
  result.input_shape[0] = count;
  result.output_shape[0] = count;
  return result;
}

}  // namespace neurop::data
