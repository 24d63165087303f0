#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "datasets/external_formats.hpp"
#include "lib/core/error.hpp"
#include "lib/io/hdf5.hpp"
#include "tests/support/check.hpp"

#ifdef NEUROP_HAVE_MATIO
#include <matio.h>
#endif

namespace fs = std::filesystem;
using namespace neurop;
using namespace neurop::data;
using neurop::testing::kF64Tight;

namespace {

std::size_t at(std::int64_t value) { return static_cast<std::size_t>(value); }

fs::path scratch_file(const std::string& name) {
  const fs::path folder = fs::temp_directory_path() / fmt::format("neurop-external-formats-test-{}", ::getpid());
  fs::create_directories(folder);
  return folder / name;
}

// Checks that `action` throws E and that its message contains `fragment`.
template <typename E, typename Action>
void check_throws_with(Action&& action, const std::string& fragment) {
  try {
    action();
    FAIL("no exception; expected one mentioning: " << fragment);
  } catch (const E& error) {
    const std::string message = error.what();
    CHECK_MESSAGE(message.find(fragment) != std::string::npos, message);
  }
}

}  // namespace

#ifdef NEUROP_HAVE_MATIO

namespace {

// A distinct value for every index, so that any transposition shows.
double darcy_value(std::int64_t n, std::int64_t i, std::int64_t j, double offset) {
  return offset + 1000.0 * static_cast<double>(n) + 10.0 * static_cast<double>(i) + 0.1 * static_cast<double>(j);
}


// Writes a real array given in MATLAB's column-major order.
void write_mat_variable(mat_t* mat, const std::string& name, std::vector<std::size_t> dims, std::vector<double> values,
                        matio_compression compression = MAT_COMPRESSION_NONE) {
  matvar_t* variable = Mat_VarCreate(name.c_str(), MAT_C_DOUBLE, MAT_T_DOUBLE, static_cast<int>(dims.size()),
                                     dims.data(), values.data(), 0);
  REQUIRE(variable != nullptr);
  REQUIRE(Mat_VarWrite(mat, variable, compression) == 0);
  Mat_VarFree(variable);
}

void write_mat_single(mat_t* mat, const std::string& name, std::vector<std::size_t> dims, std::vector<float> values) {
  matvar_t* variable = Mat_VarCreate(name.c_str(), MAT_C_SINGLE, MAT_T_SINGLE, static_cast<int>(dims.size()),
                                     dims.data(), values.data(), 0);
  REQUIRE(variable != nullptr);
  REQUIRE(Mat_VarWrite(mat, variable, MAT_COMPRESSION_NONE) == 0);
  Mat_VarFree(variable);
}

// MATLAB array [samples, s0, s1] with element (n, i, j) = darcy_value(...), column-major.
std::vector<double> darcy_column_major(std::int64_t samples, std::int64_t s0, std::int64_t s1, double offset) {
  std::vector<double> values(at(samples * s0 * s1));
  for (std::int64_t j = 0; j < s1; ++j)
    for (std::int64_t i = 0; i < s0; ++i)
      for (std::int64_t n = 0; n < samples; ++n) values[at(n + samples * (i + s0 * j))] = darcy_value(n, i, j, offset);
  return values;
}

fs::path write_darcy_mat(const std::string& name, std::int64_t samples, std::int64_t s0, std::int64_t s1,
                         matio_compression compression) {
  const fs::path path = scratch_file(name);
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  REQUIRE(mat != nullptr);
  const std::vector<std::size_t> dims = {at(samples), at(s0), at(s1)};
  write_mat_variable(mat, "coeff", dims, darcy_column_major(samples, s0, s1, 0.0), compression);
  write_mat_variable(mat, "sol", dims, darcy_column_major(samples, s0, s1, 0.5), compression);
  Mat_Close(mat);
  return path;
}

}  // namespace

TEST_CASE("fno darcy mat keeps axis order") {
  for (const matio_compression compression : {MAT_COMPRESSION_NONE, MAT_COMPRESSION_ZLIB}) {
    CAPTURE(static_cast<int>(compression));
    const std::int64_t samples = 4, s0 = 5, s1 = 3;
    const fs::path path = write_darcy_mat("darcy.mat", samples, s0, s1, compression);
    const GridDataset dataset = read_fno_darcy_mat(path);
    CHECK(dataset.generator == "fno-darcy-mat");
    CHECK(dataset.spatial_dims == 2);
    CHECK_FALSE(dataset.periodic);
    CHECK(dataset.input_shape == Shape{samples, 1, s0, s1});
    CHECK(dataset.output_shape == Shape{samples, 1, s0, s1});
    for (std::int64_t n = 0; n < samples; ++n) {
      for (std::int64_t i = 0; i < s0; ++i) {
        for (std::int64_t j = 0; j < s1; ++j) {
          CHECK(dataset.inputs[at((n * s0 + i) * s1 + j)] == darcy_value(n, i, j, 0.0));
          CHECK(dataset.outputs[at((n * s0 + i) * s1 + j)] == darcy_value(n, i, j, 0.5));
        }
      }
    }
    // Vertex grid with both ends.
    CHECK(dataset.grid[0] == std::vector<double>{0.0, 0.25, 0.5, 0.75, 1.0});
    CHECK(dataset.grid[1] == std::vector<double>{0.0, 0.5, 1.0});

    FnoDarcyMatOptions options;
    options.samples = {1, 2};
    const GridDataset part = read_fno_darcy_mat(path, options);
    CHECK(part.input_shape == Shape{2, 1, s0, s1});
    CHECK(part.inputs[0] == darcy_value(1, 0, 0, 0.0));
    CHECK(part.outputs.back() == darcy_value(2, s0 - 1, s1 - 1, 0.5));
  }
}

TEST_CASE("fno burgers mat is periodic") {
  const fs::path path = scratch_file("burgers.mat");
  const std::int64_t samples = 3, points = 8;
  {
    mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
    REQUIRE(mat != nullptr);
    std::vector<float> a(at(samples * points));
    std::vector<double> u(at(samples * points));
    for (std::int64_t k = 0; k < points; ++k) {
      for (std::int64_t n = 0; n < samples; ++n) {
        a[at(n + samples * k)] = static_cast<float>(10 * n + k);
        u[at(n + samples * k)] = -static_cast<double>(10 * n + k);
      }
    }
    write_mat_single(mat, "a", {at(samples), at(points)}, a);
    write_mat_variable(mat, "u", {at(samples), at(points)}, u);
    Mat_Close(mat);
  }
  const GridDataset dataset = read_fno_burgers_mat(path);
  CHECK(dataset.periodic);
  CHECK(dataset.input_shape == Shape{samples, 1, points});
  CHECK(dataset.inputs[at(2 * points + 5)] == 25.0);
  CHECK(dataset.outputs[at(1 * points + 7)] == -17.0);
  REQUIRE(dataset.grid[0].size() == at(points));
  CHECK(dataset.grid[0].back() == 7.0 / 8.0);
}

TEST_CASE("fno mat layouts are validated") {
  const fs::path path = scratch_file("bad.mat");
  {
    mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
    REQUIRE(mat != nullptr);
    // coeff [3, 4, 4], sol [3, 4, 5]: the extents of axis x1 disagree.
    write_mat_variable(mat, "coeff", {3, 4, 4}, std::vector<double>(48, 1.0));
    write_mat_variable(mat, "sol", {3, 4, 5}, std::vector<double>(60, 1.0));
    // A single sample of a 1D problem stored with an extra leading axis: [1, 3, 8].
    write_mat_variable(mat, "a", {1, 3, 8}, std::vector<double>(24, 1.0));
    write_mat_variable(mat, "u", {1, 3, 8}, std::vector<double>(24, 1.0));
    // Rank 2 where [samples, x0, x1] is expected.
    write_mat_variable(mat, "flat", {3, 16}, std::vector<double>(48, 1.0));
    Mat_Close(mat);
  }
  check_throws_with<FileError>([&] { read_fno_darcy_mat(path); }, "axis x1");
  check_throws_with<FileError>([&] { read_fno_burgers_mat(path); }, "not a spatial axis");
  FnoDarcyMatOptions flat;
  flat.coefficient_name = "flat";
  flat.solution_name = "flat";
  check_throws_with<FileError>([&] { read_fno_darcy_mat(path, flat); }, "rank 2");
  FnoDarcyMatOptions missing;
  missing.coefficient_name = "kappa";
  check_throws_with<FileError>([&] { read_fno_darcy_mat(path, missing); }, "no variable 'kappa'");
  check_throws_with<FileError>([&] { read_fno_darcy_mat(scratch_file("absent.mat")); }, "does not exist");

  const fs::path good = write_darcy_mat("range.mat", 4, 3, 3, MAT_COMPRESSION_NONE);
  FnoDarcyMatOptions range;
  range.samples = {3, 2};
  check_throws_with<ValueError>([&] { read_fno_darcy_mat(good, range); }, "holds 4 samples");
}

#else

TEST_CASE("mat readers report a build without matio") {
  MESSAGE("built without libmatio: the MAT-file reader tests did not run");
  CHECK_FALSE(has_mat_file_support());
  CHECK_THROWS_AS(read_fno_darcy_mat(scratch_file("any.mat")), FileError);
}

#endif  // NEUROP_HAVE_MATIO

namespace {

// PDEBench 1D layout: tensor [N, nt, nx] with tensor[n, t, x] = 100 n + 10 t + x.
fs::path write_pdebench_burgers(const std::string& name, std::int64_t samples, std::int64_t steps,
                                std::int64_t points, std::int64_t stored_times, std::int64_t stored_points) {
  const fs::path path = scratch_file(name);
  h5::File file = h5::File::create(path);
  std::vector<double> tensor(at(samples * steps * points));
  for (std::int64_t n = 0; n < samples; ++n)
    for (std::int64_t t = 0; t < steps; ++t)
      for (std::int64_t x = 0; x < points; ++x)
        tensor[at((n * steps + t) * points + x)] = 100.0 * static_cast<double>(n) + 10.0 * static_cast<double>(t) +
                                                   static_cast<double>(x);
  file.write("tensor", {samples, steps, points}, tensor.data());
  std::vector<double> x(at(stored_points)), t(at(stored_times));
  for (std::int64_t k = 0; k < stored_points; ++k) x[at(k)] = (static_cast<double>(k) + 0.5) / static_cast<double>(stored_points);
  for (std::int64_t k = 0; k < stored_times; ++k) t[at(k)] = 0.01 * static_cast<double>(k);
  file.write("x-coordinate", {stored_points}, x.data());
  file.write("t-coordinate", {stored_times}, t.data());
  file.set_attribute("/", "Nu", 0.001);
  return path;
}

}  // namespace

TEST_CASE("pdebench burgers time selection") {
  const std::int64_t samples = 3, steps = 5, points = 8;
  // PDEBench's 1D files store nt + 1 times; nt is accepted as well.
  for (const std::int64_t stored_times : {steps + 1, steps}) {
    CAPTURE(stored_times);
    const fs::path path = write_pdebench_burgers("burgers.h5", samples, steps, points, stored_times, points);
    const GridDataset last = read_pdebench_burgers(path);
    CHECK(last.generator == "pdebench-burgers");
    CHECK(last.periodic);
    CHECK(last.input_shape == Shape{samples, 1, points});
    CHECK(last.inputs[at(2 * points + 3)] == 203.0);
    CHECK(last.outputs[at(2 * points + 3)] == 243.0);
    CHECK_CLOSE(last.grid[0][0], 1.0 / 16.0, kF64Tight);
    CHECK(std::get<double>(last.parameters.at("nu")) == 0.001);
    CHECK(std::get<std::int64_t>(last.parameters.at("output_time_index")) == steps - 1);
    CHECK_CLOSE(std::get<double>(last.parameters.at("output_time")), 0.04, kF64Tight);

    PdebenchBurgersOptions options;
    options.input_time = 1;
    options.output_time = 2;
    options.samples = {1, 1};
    const GridDataset chosen = read_pdebench_burgers(path, options);
    CHECK(chosen.input_shape == Shape{1, 1, points});
    CHECK(chosen.inputs[0] == 110.0);
    CHECK(chosen.outputs[7] == 127.0);
  }
}

TEST_CASE("pdebench burgers layouts are validated") {
  // A coordinate that declares 4 points for a tensor holding 8.
  const fs::path short_x = write_pdebench_burgers("short_x.h5", 2, 5, 8, 6, 4);
  check_throws_with<FileError>([&] { read_pdebench_burgers(short_x); }, "axis x");
  const fs::path bad_t = write_pdebench_burgers("bad_t.h5", 2, 5, 8, 9, 8);
  check_throws_with<FileError>([&] { read_pdebench_burgers(bad_t); }, "axis t");

  // An extra leading singleton axis: tensor [1, 2, 5, 8] is not a 2D field.
  const fs::path extra = scratch_file("extra_axis.h5");
  {
    h5::File file = h5::File::create(extra);
    std::vector<double> tensor(80, 0.0), x(8, 0.0), t(6, 0.0);
    for (std::size_t k = 0; k < x.size(); ++k) x[k] = static_cast<double>(k);
    file.write("tensor", {1, 2, 5, 8}, tensor.data());
    file.write("x-coordinate", {8}, x.data());
    file.write("t-coordinate", {6}, t.data());
  }
  check_throws_with<FileError>([&] { read_pdebench_burgers(extra); }, "not a spatial axis");

  const fs::path good = write_pdebench_burgers("good.h5", 2, 5, 8, 6, 8);
  PdebenchBurgersOptions late;
  late.output_time = 5;
  check_throws_with<ValueError>([&] { read_pdebench_burgers(good, late); }, "output_time = 5");
  PdebenchBurgersOptions early;
  early.input_time = -6;
  check_throws_with<ValueError>([&] { read_pdebench_burgers(good, early); }, "input_time = -6");
  PdebenchBurgersOptions range;
  range.samples = {2, 1};
  check_throws_with<ValueError>([&] { read_pdebench_burgers(good, range); }, "holds 2 samples");

  const fs::path incomplete = scratch_file("incomplete.h5");
  {
    h5::File file = h5::File::create(incomplete);
    std::vector<double> tensor(80, 0.0);
    file.write("tensor", {2, 5, 8}, tensor.data());
  }
  check_throws_with<FileError>([&] { read_pdebench_burgers(incomplete); }, "no data set 'x-coordinate'");
}

namespace {

// PDEBench Darcy layout; `nu_shape` and `tensor_shape` may be made inconsistent on purpose.
fs::path write_pdebench_darcy(const std::string& name, const h5::Shape& tensor_shape, const h5::Shape& nu_shape,
                              std::int64_t nx, std::int64_t ny) {
  const fs::path path = scratch_file(name);
  h5::File file = h5::File::create(path);
  auto product = [](const h5::Shape& shape) {
    std::int64_t total = 1;
    for (std::int64_t extent : shape) total *= extent;
    return total;
  };
  std::vector<double> tensor(at(product(tensor_shape))), nu(at(product(nu_shape)));
  for (std::size_t k = 0; k < tensor.size(); ++k) tensor[k] = static_cast<double>(k);
  for (std::size_t k = 0; k < nu.size(); ++k) nu[k] = 0.5 + static_cast<double>(k);
  file.write("tensor", tensor_shape, tensor.data());
  file.write("nu", nu_shape, nu.data());
  std::vector<double> x(at(nx)), y(at(ny));
  for (std::int64_t k = 0; k < nx; ++k) x[at(k)] = (static_cast<double>(k) + 0.5) / static_cast<double>(nx);
  for (std::int64_t k = 0; k < ny; ++k) y[at(k)] = (static_cast<double>(k) + 0.5) / static_cast<double>(ny);
  file.write("x-coordinate", {nx}, x.data());
  file.write("y-coordinate", {ny}, y.data());
  return path;
}

}  // namespace

TEST_CASE("pdebench darcy maps nu to tensor") {
  const std::int64_t samples = 3, nx = 4, ny = 6;
  const fs::path path = write_pdebench_darcy("darcy.h5", {samples, 1, nx, ny}, {samples, nx, ny}, nx, ny);
  const GridDataset dataset = read_pdebench_darcy(path);
  CHECK(dataset.generator == "pdebench-darcy");
  CHECK_FALSE(dataset.periodic);
  CHECK(dataset.input_shape == Shape{samples, 1, nx, ny});
  CHECK(dataset.output_shape == Shape{samples, 1, nx, ny});
  // Element [n, i, j] of nu and [n, 0, i, j] of tensor keep their flat order.
  CHECK(dataset.inputs[at((2 * nx + 1) * ny + 5)] == 0.5 + static_cast<double>((2 * nx + 1) * ny + 5));
  CHECK(dataset.outputs[at((1 * nx + 3) * ny + 2)] == static_cast<double>((1 * nx + 3) * ny + 2));
  CHECK(dataset.grid[0].size() == at(nx));
  CHECK(dataset.grid[1].size() == at(ny));
  CHECK_CLOSE(dataset.grid[1][0], 1.0 / 12.0, kF64Tight);

  PdebenchDarcyOptions options;
  options.samples = {2, -1};
  const GridDataset tail = read_pdebench_darcy(path, options);
  CHECK(tail.size() == 1);
  CHECK(tail.outputs[0] == static_cast<double>(2 * nx * ny));
}

TEST_CASE("pdebench darcy layouts are validated") {
  // nu declares 7 points on y where tensor and y-coordinate hold 6.
  const fs::path mismatch = write_pdebench_darcy("mismatch.h5", {2, 1, 4, 6}, {2, 4, 7}, 4, 6);
  check_throws_with<FileError>([&] { read_pdebench_darcy(mismatch); }, "axis y");
  // The coordinate declares 32 points on x, the arrays hold 4 (a mislabelled resolution).
  const fs::path mislabelled = write_pdebench_darcy("mislabelled.h5", {2, 1, 4, 6}, {2, 4, 6}, 32, 6);
  check_throws_with<FileError>([&] { read_pdebench_darcy(mislabelled); }, "axis x");
  // tensor without its singleton axis: [N, x, y].
  const fs::path flat = write_pdebench_darcy("flat.h5", {2, 4, 6}, {2, 4, 6}, 4, 6);
  check_throws_with<FileError>([&] { read_pdebench_darcy(flat); }, "[samples, 1, x, y]");
  // Two stored times where one is expected.
  const fs::path two_times = write_pdebench_darcy("two_times.h5", {2, 2, 4, 6}, {2, 4, 6}, 4, 6);
  check_throws_with<FileError>([&] { read_pdebench_darcy(two_times); }, "axis 1 must have extent 1");
  // A leading singleton axis in front of the whole layout.
  const fs::path extra = write_pdebench_darcy("extra.h5", {1, 2, 1, 4, 6}, {2, 4, 6}, 4, 6);
  check_throws_with<FileError>([&] { read_pdebench_darcy(extra); }, "not a spatial axis");
}
