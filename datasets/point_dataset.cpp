#include "datasets/point_dataset.hpp"

#include <array>
#include <cmath>
#include <string_view>

#include "lib/core/error.hpp"
#include "lib/io/hdf5.hpp"

namespace neurop::data {
namespace {

constexpr const char* kFormat = "neurop-dataset";
constexpr std::int64_t kVersion = 1;

// Root attributes that the layout itself uses; generator parameters may not take these names.
constexpr std::array<std::string_view, 9> kReservedNames{
    "format", "version", "spatial_dims", "generator", "seed", "layout", "domain_lower", "domain_upper",
    "parameter_types"};

std::int64_t product(const Shape& shape) {
  std::int64_t count = 1;
  for (const std::int64_t extent : shape) count *= extent;
  return count;
}

void check_size(const std::vector<double>& values, const Shape& shape, const char* name) {
  NEUROP_CHECK(static_cast<std::int64_t>(values.size()) == product(shape), ShapeError,
               "point data set: '{}' holds {} values but its shape {} needs {}", name, values.size(), shape,
               product(shape));
}

// Each run of `per_sample` values belongs to one sample. Pass 0 for arrays shared by all samples.
void check_finite(const std::vector<double>& values, std::int64_t per_sample, const char* name) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) continue;
    if (per_sample > 0) {
      throw DataError(fmt::format(
          "point data set: '{}' contains {} at sample {} (flat index {}); regenerate the data or remove that sample",
          name, values[i], static_cast<std::int64_t>(i) / per_sample, i));
    }
    throw DataError(
        fmt::format("point data set: '{}' contains {} at flat index {}; replace it with a finite value", name,
                    values[i], i));
  }
}

void check_parameter_name(const std::string& name) {
  NEUROP_CHECK(!name.empty(), ValueError, "point data set: a generator parameter has an empty name");
  NEUROP_CHECK(name.find_first_of("=;/") == std::string::npos, ValueError,
               "point data set: parameter name '{}' contains one of the characters '=;/'; rename it", name);
  for (const std::string_view reserved : kReservedNames) {
    NEUROP_CHECK(name != reserved, ValueError,
                 "point data set: parameter name '{}' is reserved for the file layout; rename it", name);
  }
}

std::string describe_parameter_types(const std::map<std::string, Attribute>& parameters) {
  std::string text;
  for (const auto& [name, value] : parameters) {
    if (!text.empty()) text += ';';
    text += name;
    text += '=';
    text += std::holds_alternative<std::int64_t>(value) ? "i64" : std::holds_alternative<double>(value) ? "f64" : "str";
  }
  return text;
}

std::map<std::string, Attribute> read_parameters(const h5::File& file) {
  std::map<std::string, Attribute> parameters;
  const std::string types = file.attribute_string("/", "parameter_types");
  std::size_t begin = 0;
  while (begin < types.size()) {
    std::size_t end = types.find(';', begin);
    if (end == std::string::npos) end = types.size();
    const std::string entry = types.substr(begin, end - begin);
    const std::size_t equals = entry.find('=');
    NEUROP_CHECK(equals != std::string::npos && equals > 0, FileError,
                 "'{}': root attribute parameter_types has the malformed entry '{}'; expected name=type",
                 file.path().string(), entry);
    const std::string name = entry.substr(0, equals);
    const std::string type = entry.substr(equals + 1);
    if (type == "i64") {
      parameters[name] = file.attribute_i64("/", name);
    } else if (type == "f64") {
      parameters[name] = file.attribute_f64("/", name);
    } else if (type == "str") {
      parameters[name] = file.attribute_string("/", name);
    } else {
      throw FileError(fmt::format("'{}': parameter '{}' has type '{}'; expected i64, f64 or str",
                                 file.path().string(), name, type));
    }
    begin = end + 1;
  }
  return parameters;
}

}  // namespace

Shape PointDataset::query_shape() const {
  if (layout == QueryLayout::product) return {query_count, query_dims};
  return {samples, query_count, query_dims};
}

const double* PointDataset::query(std::int64_t n, std::int64_t p) const {
  const std::int64_t row = layout == QueryLayout::product ? p : n * query_count + p;
  return queries.data() + row * query_dims;
}

const char* to_string(QueryLayout layout) { return layout == QueryLayout::product ? "product" : "aligned"; }

void validate(const PointDataset& dataset) {
  NEUROP_CHECK(!dataset.generator.empty(), ValueError, "point data set: the generator name is empty; set it");
  NEUROP_CHECK(dataset.sensor_dims >= 1 && dataset.query_dims >= 1 && dataset.output_channels >= 1, ShapeError,
               "point data set: sensor_dims, query_dims and output_channels must be >= 1, got {}, {} and {}",
               dataset.sensor_dims, dataset.query_dims, dataset.output_channels);
  NEUROP_CHECK(dataset.samples > 0 && dataset.sensor_count > 0 && dataset.query_count > 0, DataError,
               "point data set: empty data ({} samples, {} sensors, {} queries); each count must be >= 1",
               dataset.samples, dataset.sensor_count, dataset.query_count);
  check_size(dataset.sensors, dataset.sensor_shape(), "sensors");
  check_size(dataset.branch_inputs, dataset.branch_shape(), "branch_inputs");
  check_size(dataset.queries, dataset.query_shape(), "queries");
  check_size(dataset.outputs, dataset.output_shape(), "outputs");
  NEUROP_CHECK(static_cast<std::int64_t>(dataset.domain_lower.size()) == dataset.query_dims &&
                   static_cast<std::int64_t>(dataset.domain_upper.size()) == dataset.query_dims,
               ShapeError, "point data set: domain bounds have {} and {} entries but queries have {} coordinates",
               dataset.domain_lower.size(), dataset.domain_upper.size(), dataset.query_dims);
  for (const auto& [name, value] : dataset.parameters) check_parameter_name(name);

  check_finite(dataset.sensors, 0, "sensors");
  check_finite(dataset.branch_inputs, dataset.sensor_count, "branch_inputs");
  check_finite(dataset.queries, dataset.layout == QueryLayout::aligned ? dataset.query_count * dataset.query_dims : 0,
               "queries");
  check_finite(dataset.outputs, dataset.query_count * dataset.output_channels, "outputs");
  check_finite(dataset.domain_lower, 0, "domain_lower");
  check_finite(dataset.domain_upper, 0, "domain_upper");

  const auto dims = static_cast<std::size_t>(dataset.query_dims);
  for (std::size_t d = 0; d < dims; ++d) {
    NEUROP_CHECK(dataset.domain_lower[d] < dataset.domain_upper[d], DataError,
                 "point data set: query domain along coordinate {} is [{}, {}]; expected lower < upper", d,
                 dataset.domain_lower[d], dataset.domain_upper[d]);
  }
  const std::int64_t rows = static_cast<std::int64_t>(dataset.queries.size()) / dataset.query_dims;
  for (std::int64_t row = 0; row < rows; ++row) {
    for (std::size_t d = 0; d < dims; ++d) {
      const double value = dataset.queries[static_cast<std::size_t>(row) * dims + d];
      NEUROP_CHECK(value >= dataset.domain_lower[d] && value <= dataset.domain_upper[d], DataError,
                   "point data set: query row {} has coordinate {} = {}, outside the domain [{}, {}]; fix the "
                   "queries or widen domain_lower/domain_upper",
                   row, d, value, dataset.domain_lower[d], dataset.domain_upper[d]);
    }
  }
}

void write_point_dataset(const std::filesystem::path& path, const PointDataset& dataset) {
  validate(dataset);
  h5::AtomicWriter writer(path);
  h5::File& file = writer.file();
  file.write("sensors", dataset.sensor_shape(), dataset.sensors.data());
  file.write("branch_inputs", dataset.branch_shape(), dataset.branch_inputs.data());
  file.write("queries", dataset.query_shape(), dataset.queries.data());
  file.write("outputs", dataset.output_shape(), dataset.outputs.data());
  file.set_attribute("/", "format", std::string(kFormat));
  file.set_attribute("/", "version", kVersion);
  file.set_attribute("/", "spatial_dims", std::int64_t{0});
  file.set_attribute("/", "generator", dataset.generator);
  file.set_attribute("/", "seed", static_cast<std::int64_t>(dataset.seed));
  file.set_attribute("/", "layout", std::string(to_string(dataset.layout)));
  file.set_attribute("/", "domain_lower", dataset.domain_lower);
  file.set_attribute("/", "domain_upper", dataset.domain_upper);
  file.set_attribute("/", "parameter_types", describe_parameter_types(dataset.parameters));
  for (const auto& [key, value] : dataset.parameters) {
    std::visit([&](const auto& v) { file.set_attribute("/", key, v); }, value);
  }
  writer.commit();
}

PointDataset read_point_dataset(const std::filesystem::path& path) {
  const h5::File file = h5::File::open(path);
  const std::string name = path.string();
  NEUROP_CHECK(file.has_attribute("/", "format") && file.attribute_string("/", "format") == kFormat, FileError,
               "'{}' is not a neurop data set (root attribute format = \"{}\" is missing)", name, kFormat);
  const std::int64_t version = file.attribute_i64("/", "version");
  NEUROP_CHECK(version == kVersion, FileError, "'{}' has data set format version {}, this build reads version {}",
               name, version, kVersion);
  const std::int64_t spatial_dims = file.attribute_i64("/", "spatial_dims");
  NEUROP_CHECK(spatial_dims == 0, FileError,
               "'{}' is a grid data set (spatial_dims = {}), not a point data set; read it with read_grid_dataset",
               name, spatial_dims);

  PointDataset dataset;
  dataset.generator = file.attribute_string("/", "generator");
  dataset.seed = static_cast<std::uint64_t>(file.attribute_i64("/", "seed"));
  const std::string layout = file.attribute_string("/", "layout");
  NEUROP_CHECK(layout == "product" || layout == "aligned", FileError,
               "'{}': root attribute layout is \"{}\"; expected \"product\" or \"aligned\"", name, layout);
  dataset.layout = layout == "product" ? QueryLayout::product : QueryLayout::aligned;
  dataset.domain_lower = file.attribute_f64_vector("/", "domain_lower");
  dataset.domain_upper = file.attribute_f64_vector("/", "domain_upper");
  dataset.parameters = read_parameters(file);

  Shape sensor_shape, branch_shape, query_shape, output_shape;
  dataset.sensors = file.read_f64("sensors", &sensor_shape);
  dataset.branch_inputs = file.read_f64("branch_inputs", &branch_shape);
  dataset.queries = file.read_f64("queries", &query_shape);
  dataset.outputs = file.read_f64("outputs", &output_shape);
  const std::size_t query_rank = dataset.layout == QueryLayout::product ? 2 : 3;
  NEUROP_CHECK(sensor_shape.size() == 2, FileError, "'{}': sensors have shape {}; expected [m, d_in]", name,
               sensor_shape);
  NEUROP_CHECK(branch_shape.size() == 2, FileError, "'{}': branch_inputs have shape {}; expected [N, m]", name,
               branch_shape);
  NEUROP_CHECK(query_shape.size() == query_rank, FileError,
               "'{}': queries have shape {} but layout \"{}\" needs rank {} ({})", name, query_shape, layout,
               query_rank, query_rank == 2 ? "[P, d_q]" : "[N, P, d_q]");
  NEUROP_CHECK(output_shape.size() == 3, FileError, "'{}': outputs have shape {}; expected [N, P, c_out]", name,
               output_shape);
  NEUROP_CHECK(branch_shape[1] == sensor_shape[0], FileError,
               "'{}': branch_inputs have {} values per sample but there are {} sensors", name, branch_shape[1],
               sensor_shape[0]);
  NEUROP_CHECK(output_shape[0] == branch_shape[0], FileError,
               "'{}': outputs have {} samples but branch_inputs have {}", name, output_shape[0], branch_shape[0]);
  NEUROP_CHECK(output_shape[1] == query_shape[query_rank - 2], FileError,
               "'{}': outputs have {} query points per sample but queries have {}", name, output_shape[1],
               query_shape[query_rank - 2]);
  NEUROP_CHECK(query_rank == 2 || query_shape[0] == branch_shape[0], FileError,
               "'{}': aligned queries have {} samples but branch_inputs have {}", name, query_shape[0],
               branch_shape[0]);
  dataset.samples = branch_shape[0];
  dataset.sensor_count = sensor_shape[0];
  dataset.sensor_dims = sensor_shape[1];
  dataset.query_count = output_shape[1];
  dataset.query_dims = query_shape[query_rank - 1];
  dataset.output_channels = output_shape[2];
  try {
    validate(dataset);
  } catch (const std::exception& error) {
    throw FileError(fmt::format("'{}': {}", name, error.what()));
  }
  return dataset;
}

}  // namespace neurop::data
