#include "apps/deeponet_data.hpp"

#include "apps/deeponet_commands.hpp"
#include "datasets/dataset_file.hpp"
#include "lib/core/error.hpp"
#include "lib/io/hdf5.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::app {
namespace {

OperatorData from_point_dataset(const data::PointDataset& set, DType dtype) {
  OperatorData data;
  data.generator = set.generator;
  data.layout = set.layout;
  data.inputs = Tensor::from_vector(set.branch_inputs, set.branch_shape(), dtype);
  data.queries = Tensor::from_vector(set.queries, set.query_shape(), dtype);
  data.outputs = Tensor::from_vector(set.outputs, set.output_shape(), dtype);
  if (set.output_channels == 1) data.outputs = reshape(data.outputs, {set.samples, set.query_count});
  data.sensors = Tensor::from_vector(set.sensors, set.sensor_shape(), dtype);
  data.domain = {set.domain_lower, set.domain_upper};
  return data;
}

OperatorData from_grid_dataset(const data::GridDataset& set, DType dtype) {
  OperatorData data;
  data.generator = set.generator;
  data.layout = data::QueryLayout::product;
  const std::int64_t samples = set.size();
  const auto dims = static_cast<std::size_t>(set.spatial_dims);
  const std::int64_t in_channels = set.input_shape[1], out_channels = set.output_shape[1];
  const Shape extents(set.input_shape.begin() + 2, set.input_shape.end());
  const std::int64_t points = shape_numel(extents);

  // Query point q is grid point (i_1, ..., i_d) in row-major order: [Q, d].
  std::vector<double> coordinates(static_cast<std::size_t>(points) * dims);
  for (std::int64_t q = 0; q < points; ++q) {
    std::int64_t rest = q;
    for (std::size_t j = dims; j-- > 0;) {
      const std::int64_t index = rest % extents[j];
      rest /= extents[j];
      coordinates[static_cast<std::size_t>(q) * dims + j] = set.grid[j][static_cast<std::size_t>(index)];
    }
  }
  data.queries = Tensor::from_vector(coordinates, {points, static_cast<std::int64_t>(dims)}, dtype);
  // Every input channel is sampled at every grid point.
  std::vector<double> sensors;
  for (std::int64_t c = 0; c < in_channels; ++c) sensors.insert(sensors.end(), coordinates.begin(), coordinates.end());
  data.sensors = Tensor::from_vector(sensors, {in_channels * points, static_cast<std::int64_t>(dims)}, dtype);

  data.inputs = Tensor::from_vector(set.inputs, {samples, in_channels * points}, dtype);
  // [N, C_out, Q] -> [N, Q, C_out]
  const Tensor outputs = Tensor::from_vector(set.outputs, {samples, out_channels, points}, dtype);
  data.outputs = out_channels == 1 ? reshape(outputs, {samples, points}) : permute(outputs, {0, 2, 1});

  for (std::size_t j = 0; j < dims; ++j) {
    const std::vector<double>& axis = set.grid[j];
    NEUROP_CHECK(axis.size() >= 2, FileError, "grid axis {} has {} points; DeepONet data need at least 2", j,
                 axis.size());
    const double lower = axis.front();
    double upper = axis.back();
    if (set.periodic) {
      // x_k = x_0 + k L / S, so L = S (x_1 - x_0) and the domain is [x_0, x_0 + L).
      const double period = static_cast<double>(axis.size()) * (axis[1] - axis[0]);
      data.periods.push_back(period);
      upper = lower + period;
    }
    data.domain.lower.push_back(lower);
    data.domain.upper.push_back(upper);
  }
  return data;
}

}  // namespace

bool is_point_data_file(const std::filesystem::path& path) {
  try {
    const h5::File file = h5::File::open(path);
    return file.has_attribute("/", "format") && file.attribute_string("/", "format") == "neurop-dataset" &&
           file.has_attribute("/", "spatial_dims") && file.attribute_i64("/", "spatial_dims") == 0;
  } catch (const std::exception&) {
    return false;
  }
}

OperatorData read_operator_data(const std::filesystem::path& path, DType dtype) {
  if (is_point_data_file(path)) return from_point_dataset(data::read_point_dataset(path), dtype);
  return from_grid_dataset(data::read_grid_dataset(path), dtype);
}

OperatorData select_samples(const OperatorData& data, std::int64_t first, std::int64_t count) {
  NEUROP_CHECK(first >= 0 && count >= 1 && first + count <= data.size(), ValueError,
               "samples [{}, {}) requested from a data set of {} samples", first, first + count, data.size());
  OperatorData part = data;
  part.inputs = slice(data.inputs, 0, first, first + count);
  part.outputs = slice(data.outputs, 0, first, first + count);
  if (data.layout == data::QueryLayout::aligned) part.queries = slice(data.queries, 0, first, first + count);
  return part;
}

OperatorData gather_samples(const OperatorData& data, const std::vector<std::int64_t>& indices) {
  OperatorData part = data;
  part.inputs = index_select(data.inputs, 0, indices);
  part.outputs = index_select(data.outputs, 0, indices);
  if (data.layout == data::QueryLayout::aligned) part.queries = index_select(data.queries, 0, indices);
  return part;
}

void check_compatible(const OperatorData& train, const OperatorData& test, const std::string& train_name,
                      const std::string& test_name) {
  NEUROP_CHECK(train.sensor_count() == test.sensor_count(), ValueError,
               "{} samples the input functions at {} sensors but {} at {}; the branch net needs the same sensors",
               train_name, train.sensor_count(), test_name, test.sensor_count());
  NEUROP_CHECK(train.query_dims() == test.query_dims(), ValueError,
               "{} has {}-dimensional query points but {} has {}-dimensional ones", train_name, train.query_dims(),
               test_name, test.query_dims());
  NEUROP_CHECK(train.output_channels() == test.output_channels(), ValueError,
               "{} has {} output components per query point but {} has {}", train_name, train.output_channels(),
               test_name, test.output_channels());
}

}  // namespace neurop::app
