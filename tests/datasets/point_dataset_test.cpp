#include <unistd.h>

#include <filesystem>
#include <limits>

#include <doctest/doctest.h>

#include "datasets/dataset_file.hpp"
#include "datasets/function_space.hpp"
#include "datasets/ode_generators.hpp"
#include "datasets/point_dataset.hpp"
#include "lib/core/error.hpp"
#include "lib/io/hdf5.hpp"

namespace fs = std::filesystem;
using namespace neurop;
using namespace neurop::data;

namespace {

// N = 3 samples, m = 4 sensors on [0, 1], P = 5 queries in [0, 1] x [0, 2], c_out = 2.
PointDataset make_dataset(QueryLayout layout) {
  PointDataset dataset;
  dataset.generator = "test";
  dataset.seed = 9;
  dataset.layout = layout;
  dataset.samples = 3;
  dataset.sensor_count = 4;
  dataset.sensor_dims = 1;
  dataset.query_count = 5;
  dataset.query_dims = 2;
  dataset.output_channels = 2;
  dataset.sensors = uniform_points(0.0, 1.0, 4);
  for (int i = 0; i < 12; ++i) dataset.branch_inputs.push_back(0.5 * i);
  const std::int64_t rows = layout == QueryLayout::product ? 5 : 15;
  for (std::int64_t row = 0; row < rows; ++row) {
    dataset.queries.push_back(static_cast<double>(row % 5) / 4.0);
    dataset.queries.push_back(static_cast<double>(row % 3));
  }
  for (int i = 0; i < 30; ++i) dataset.outputs.push_back(-0.25 * i);
  dataset.domain_lower = {0.0, 0.0};
  dataset.domain_upper = {1.0, 2.0};
  dataset.parameters["diffusion"] = 0.01;
  dataset.parameters["steps"] = std::int64_t{100};
  dataset.parameters["scheme"] = std::string("crank_nicolson");
  return dataset;
}

fs::path scratch_file(const std::string& name) {
  const fs::path folder = fs::temp_directory_path() / fmt::format("neurop-point-dataset-test-{}", ::getpid());
  fs::create_directories(folder);
  return folder / name;
}

void check_equal(const PointDataset& read, const PointDataset& written) {
  CHECK(read.generator == written.generator);
  CHECK(read.seed == written.seed);
  CHECK(read.layout == written.layout);
  CHECK(read.samples == written.samples);
  CHECK(read.sensor_count == written.sensor_count);
  CHECK(read.sensor_dims == written.sensor_dims);
  CHECK(read.query_count == written.query_count);
  CHECK(read.query_dims == written.query_dims);
  CHECK(read.output_channels == written.output_channels);
  CHECK(read.sensors == written.sensors);
  CHECK(read.branch_inputs == written.branch_inputs);
  CHECK(read.queries == written.queries);
  CHECK(read.outputs == written.outputs);
  CHECK(read.domain_lower == written.domain_lower);
  CHECK(read.domain_upper == written.domain_upper);
  CHECK(read.parameters == written.parameters);
}

}  // namespace

TEST_CASE("point dataset round trip in both layouts") {
  for (const QueryLayout layout : {QueryLayout::product, QueryLayout::aligned}) {
    const PointDataset dataset = make_dataset(layout);
    const fs::path path = scratch_file(fmt::format("round_trip_{}.h5", to_string(layout)));
    write_point_dataset(path, dataset);
    const PointDataset read = read_point_dataset(path);
    check_equal(read, dataset);
    const h5::File file = h5::File::open(path);
    CHECK(file.attribute_i64("/", "spatial_dims") == 0);
    CHECK(file.attribute_string("/", "layout") == to_string(layout));
    CHECK(file.shape("queries") == dataset.query_shape());
  }
}

TEST_CASE("point dataset query accessor follows the layout") {
  const PointDataset product = make_dataset(QueryLayout::product);
  CHECK(product.query(2, 3) == product.queries.data() + 6);
  const PointDataset aligned = make_dataset(QueryLayout::aligned);
  CHECK(aligned.query(2, 3) == aligned.queries.data() + 26);
}

TEST_CASE("point dataset validation rejects bad data") {
  PointDataset dataset = make_dataset(QueryLayout::product);
  dataset.branch_inputs[7] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(validate(dataset), DataError);
  CHECK_THROWS_AS(write_point_dataset(scratch_file("nan.h5"), dataset), DataError);
  CHECK_FALSE(fs::exists(scratch_file("nan.h5")));

  dataset = make_dataset(QueryLayout::aligned);
  dataset.outputs[29] = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(validate(dataset), DataError);

  dataset = make_dataset(QueryLayout::product);
  dataset.samples = 0;
  dataset.branch_inputs.clear();
  dataset.outputs.clear();
  CHECK_THROWS_AS(validate(dataset), DataError);

  // Branch inputs sized for 4 sensors while 5 sensors are declared.
  dataset = make_dataset(QueryLayout::product);
  dataset.sensor_count = 5;
  dataset.sensors.push_back(1.0);
  CHECK_THROWS_AS(validate(dataset), ShapeError);

  dataset = make_dataset(QueryLayout::aligned);
  dataset.queries.resize(10);
  CHECK_THROWS_AS(validate(dataset), ShapeError);

  dataset = make_dataset(QueryLayout::product);
  dataset.queries[1] = 2.5;
  CHECK_THROWS_AS(validate(dataset), DataError);

  dataset = make_dataset(QueryLayout::product);
  dataset.domain_upper = {1.0};
  CHECK_THROWS_AS(validate(dataset), ShapeError);

  dataset = make_dataset(QueryLayout::product);
  dataset.domain_upper = {0.0, 2.0};
  CHECK_THROWS_AS(validate(dataset), DataError);

  dataset = make_dataset(QueryLayout::product);
  dataset.parameters["layout"] = 1.0;
  CHECK_THROWS_AS(validate(dataset), ValueError);
  dataset.parameters.erase("layout");
  dataset.parameters["a=b"] = 1.0;
  CHECK_THROWS_AS(validate(dataset), ValueError);
}

TEST_CASE("point and grid readers reject each other's files") {
  const fs::path point_path = scratch_file("point.h5");
  write_point_dataset(point_path, make_dataset(QueryLayout::product));
  CHECK_THROWS_WITH_AS(read_grid_dataset(point_path),
                       doctest::Contains("is a point data set (sensor values and query points, for DeepONet)"),
                       FileError);

  GridDataset grid;
  grid.generator = "grid";
  grid.input_shape = {1, 1, 4};
  grid.output_shape = {1, 1, 4};
  grid.inputs.assign(4, 0.0);
  grid.outputs.assign(4, 1.0);
  grid.grid = {uniform_points(0.0, 1.0, 4)};
  const fs::path grid_path = scratch_file("grid.h5");
  write_grid_dataset(grid_path, grid);
  CHECK_THROWS_AS(read_point_dataset(grid_path), FileError);
  CHECK_THROWS_AS(read_point_dataset(scratch_file("missing.h5")), FileError);
}

TEST_CASE("point reader rejects sensor count mismatch") {
  const fs::path path = scratch_file("sensors.h5");
  write_point_dataset(path, make_dataset(QueryLayout::product));
  {
    h5::File file = h5::File::open(path, /*writable=*/true);
    const std::vector<double> sensors = uniform_points(0.0, 1.0, 6);
    file.write("sensors", {6, 1}, sensors.data());
  }
  CHECK_THROWS_AS(read_point_dataset(path), FileError);
}

TEST_CASE("point reader rejects wrong query rank") {
  const fs::path path = scratch_file("rank.h5");
  write_point_dataset(path, make_dataset(QueryLayout::product));
  {
    h5::File file = h5::File::open(path, /*writable=*/true);
    file.set_attribute("/", "layout", std::string("aligned"));
  }
  CHECK_THROWS_AS(read_point_dataset(path), FileError);
}

TEST_CASE("generated antiderivative data round trip") {
  const ChebyshevSpace space({/*length=*/1.0, /*terms=*/6, CoefficientDistribution::normal, /*scale=*/1.0});
  OdeDataOptions options;
  options.sensor_count = 8;
  options.query_count = 5;
  options.layout = QueryLayout::aligned;
  options.steps = 40;
  const PointDataset dataset = generate_antiderivative_data(space, 4, 77, options);
  const fs::path path = scratch_file("antiderivative.h5");
  write_point_dataset(path, dataset);
  check_equal(read_point_dataset(path), dataset);
}
