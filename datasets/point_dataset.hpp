// The HDF5 layout of DeepONet (point-cloud) data sets, and its reader and writer.
//
// A sample pairs an input function u, given by its values at m fixed sensors, with the
// output function G(u) at P query points. The query layout is one of:
//   product  one query set shared by all samples, so every function is evaluated at
//            every query point (the Cartesian product of samples and queries).
//   aligned  one query set per sample, for example P random points for each function.
//
// Layout (readable with h5py; all arrays float64, row-major):
//   /sensors        [m, d_in]            sensor coordinates, shared by all samples
//   /branch_inputs  [N, m]               u_n at the sensors (branch-network input)
//   /queries        [P, d_q]             layout "product"
//                   [N, P, d_q]          layout "aligned"
//   /outputs        [N, P, c_out]        G(u_n) at query p, c_out output components
// Root attributes:
//   format           "neurop-dataset" (shared with grid data sets, see dataset_file.hpp)
//   version          1
//   spatial_dims     0, which marks the point layout; read_grid_dataset rejects it
//   generator        name of the generator, e.g. "antiderivative"
//   seed             the generator's seed; sample n depends only on (seed, n)
//   layout           "product" or "aligned"
//   domain_lower     [d_q] lower bounds of the query domain
//   domain_upper     [d_q] upper bounds; every query lies in [lower, upper], so a model
//                    can reject out-of-domain queries
//   parameter_types  "name=type;name=type;..." (type f64, i64 or str) listing the
//                    generator parameters, so the reader can restore them
// plus one attribute per generator parameter.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "datasets/dataset_file.hpp"

namespace neurop::data {

enum class QueryLayout { product, aligned };

struct PointDataset {
  std::string generator;
  std::uint64_t seed = 0;
  QueryLayout layout = QueryLayout::product;
  std::int64_t samples = 0;          // N
  std::int64_t sensor_count = 0;     // m
  std::int64_t sensor_dims = 1;      // d_in
  std::int64_t query_count = 0;      // P (per sample in the aligned layout)
  std::int64_t query_dims = 1;       // d_q
  std::int64_t output_channels = 1;  // c_out
  std::vector<double> sensors;        // [m, d_in]
  std::vector<double> branch_inputs;  // [N, m]
  std::vector<double> queries;        // product: [P, d_q]; aligned: [N, P, d_q]
  std::vector<double> outputs;        // [N, P, c_out]
  std::vector<double> domain_lower;   // [d_q]
  std::vector<double> domain_upper;   // [d_q]
  std::map<std::string, Attribute> parameters;

  Shape sensor_shape() const { return {sensor_count, sensor_dims}; }
  Shape branch_shape() const { return {samples, sensor_count}; }
  Shape query_shape() const;
  Shape output_shape() const { return {samples, query_count, output_channels}; }
  // Query point p of sample n [d_q] (n is ignored in the product layout).
  const double* query(std::int64_t n, std::int64_t p) const;
};

// Returns "product" or "aligned".
const char* to_string(QueryLayout layout);

// Checks `dataset` and throws on the first problem:
//   ShapeError  extents < 1 for dimensions, array sizes that do not match the extents,
//               bounds vectors whose length is not d_q;
//   DataError   empty data (N, m or P equal to 0), NaN or infinite values (naming the
//               array and the sample), lower >= upper bounds, a query outside the domain;
//   ValueError  an empty generator name or a parameter name that is empty, reserved
//               (format, version, ...) or contains one of "=;/".
void validate(const PointDataset& dataset);

// Validates `dataset` and writes it to `path` atomically (temporary name, then rename),
// so a failed write leaves any existing file untouched.
void write_point_dataset(const std::filesystem::path& path, const PointDataset& dataset);

// Reads and validates a file written by write_point_dataset. Throws FileError for a
// missing or corrupt file, a grid data set, a different version, or arrays whose ranks
// or extents do not match the layout (the message names the file and the array).
PointDataset read_point_dataset(const std::filesystem::path& path);

}  // namespace neurop::data
