#include <filesystem>
#include <limits>

#include <doctest/doctest.h>

#include "datasets/dataset_file.hpp"
#include "lib/core/error.hpp"
#include "lib/io/hdf5.hpp"
#include "tests/support/check.hpp"

namespace fs = std::filesystem;
using namespace neurop;
using namespace neurop::data;

namespace {

GridDataset make_dataset(std::int64_t samples, std::int64_t points) {
  GridDataset dataset;
  dataset.generator = "test";
  dataset.spatial_dims = 1;
  dataset.periodic = true;
  dataset.seed = 3;
  dataset.input_shape = {samples, 1, points};
  dataset.output_shape = {samples, 1, points};
  for (std::int64_t i = 0; i < samples * points; ++i) {
    dataset.inputs.push_back(static_cast<double>(i));
    dataset.outputs.push_back(-static_cast<double>(i));
  }
  std::vector<double> x;
  for (std::int64_t k = 0; k < points; ++k) x.push_back(static_cast<double>(k) / static_cast<double>(points));
  dataset.grid = {x};
  dataset.parameters["nu"] = 0.1;
  dataset.parameters["scheme"] = std::string("etdrk4");
  return dataset;
}

fs::path scratch_file(const std::string& name) {
  const fs::path folder = fs::temp_directory_path() / fmt::format("neurop-dataset-test-{}", ::getpid());
  fs::create_directories(folder);
  return folder / name;
}

}  // namespace

TEST_CASE("grid dataset round trip") {
  const GridDataset dataset = make_dataset(3, 8);
  const fs::path path = scratch_file("round_trip.h5");
  write_grid_dataset(path, dataset);
  const GridDataset read = read_grid_dataset(path);
  CHECK(read.generator == "test");
  CHECK(read.periodic);
  CHECK(read.seed == 3);
  CHECK(read.input_shape == dataset.input_shape);
  CHECK(read.inputs == dataset.inputs);
  CHECK(read.outputs == dataset.outputs);
  CHECK(read.grid == dataset.grid);
  CHECK(h5::File::open(path).attribute_f64("/", "nu") == 0.1);
}

TEST_CASE("grid dataset rejects NaN and bad shapes") {
  GridDataset dataset = make_dataset(2, 4);
  dataset.outputs[5] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(validate(dataset), DataError);
  CHECK_THROWS_AS(write_grid_dataset(scratch_file("nan.h5"), dataset), DataError);
  CHECK_FALSE(fs::exists(scratch_file("nan.h5")));

  dataset = make_dataset(2, 4);
  dataset.output_shape = {2, 1, 5};
  CHECK_THROWS_AS(validate(dataset), ShapeError);
}

TEST_CASE("grid dataset rejects NaN in the grid") {
  GridDataset dataset = make_dataset(2, 4);
  dataset.grid[0][2] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(validate(dataset), DataError);
  const std::string validate_message = neurop::testing::message_of([&] { validate(dataset); });
  CHECK(validate_message.find("grid/x0") != std::string::npos);
  CHECK(validate_message.find("index 2") != std::string::npos);

  // A file edited after writing: the reader checks the grid it loads.
  const fs::path path = scratch_file("nan_grid.h5");
  write_grid_dataset(path, make_dataset(2, 4));
  {
    h5::File file = h5::File::open(path, /*writable=*/true);
    std::vector<double> x = file.read_f64("grid/x0");
    x[3] = std::numeric_limits<double>::infinity();
    file.write("grid/x0", {4}, x.data());
  }
  const std::string read_message = neurop::testing::message_of([&] { read_grid_dataset(path); });
  CHECK_THROWS_AS(read_grid_dataset(path), FileError);
  CHECK(read_message.find(path.string()) != std::string::npos);
  CHECK(read_message.find("grid/x0") != std::string::npos);
  CHECK(read_message.find("index 3") != std::string::npos);
}

TEST_CASE("grid dataset rejects a rank that contradicts spatial_dims") {
  // A leading singleton axis must not be read as an extra spatial axis.
  const fs::path path = scratch_file("rank.h5");
  write_grid_dataset(path, make_dataset(2, 4));
  {
    h5::File file = h5::File::open(path, /*writable=*/true);
    std::vector<double> values(8, 0.0);
    file.write("inputs", {1, 2, 1, 4}, values.data());
  }
  CHECK_THROWS_AS(read_grid_dataset(path), FileError);
}

TEST_CASE("subsample periodic grid by stride") {
  const GridDataset dataset = make_dataset(2, 8);
  const GridDataset coarse = subsample(dataset, 4);
  CHECK(coarse.input_shape == Shape{2, 1, 2});
  CHECK(coarse.inputs == std::vector<double>{0, 4, 8, 12});
  CHECK(coarse.grid[0] == std::vector<double>{0.0, 0.5});
  CHECK_THROWS_AS(subsample(dataset, 3), ValueError);
}
