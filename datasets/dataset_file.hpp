// The HDF5 layout of every neurop data set, and its reader and writer.
//
// Layout (readable with h5py; all arrays row-major):
//   /inputs   float64 [N, C_in,  S_1, ..., S_d]   input functions on the grid
//   /outputs  float64 [N, C_out, S_1, ..., S_d]   output functions on the same grid
//   /grid/x0 ... /grid/x{d-1}  float64 [S_k]      coordinates along each spatial axis
// Root attributes:
//   format        "neurop-dataset"          identifies the layout
//   version       1
//   generator     name of the generator, e.g. "burgers"
//   spatial_dims  d (the rank of inputs is d + 2; a mismatch is rejected on read)
//   periodic      1 when every spatial axis is periodic; the grid then excludes the
//                 right end point (x_k = k L / S), so no sample is stored twice
//   seed          the generator's seed; sample i depends only on (seed, i)
// plus one attribute per generator parameter (numbers or strings).
//
// Point-cloud data sets (DeepONet sensors and queries) use the same file with
// spatial_dims = 0 and their own arrays; see datasets/point_dataset.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace neurop::data {

using Shape = std::vector<std::int64_t>;
using Attribute = std::variant<std::int64_t, double, std::string>;

struct GridDataset {
  std::string generator;
  int spatial_dims = 1;
  bool periodic = false;
  std::uint64_t seed = 0;
  Shape input_shape;   // [N, C_in, S...]
  Shape output_shape;  // [N, C_out, S...]
  std::vector<double> inputs;
  std::vector<double> outputs;
  std::vector<std::vector<double>> grid;  // one coordinate vector per spatial axis
  std::map<std::string, Attribute> parameters;

  std::int64_t size() const { return input_shape.empty() ? 0 : input_shape[0]; }
};

// Checks the shapes, grid lengths and values of `dataset`; throws ShapeError for
// inconsistent extents and DataError for NaN or infinite values in the inputs, the
// outputs or the grid coordinates, naming the array and the first bad index.
void validate(const GridDataset& dataset);

// Writes `dataset` to `path` atomically (temporary name, then rename).
void write_grid_dataset(const std::filesystem::path& path, const GridDataset& dataset);

// Reads and validates a data set written by write_grid_dataset. Throws FileError for
// missing or corrupt files, layouts that do not match the declared spatial_dims, and
// any problem validate() finds (its message is kept, prefixed with the file name).
GridDataset read_grid_dataset(const std::filesystem::path& path);

// Returns a copy of `dataset` subsampled by `stride` along every spatial axis
// (point k * stride, k = 0, 1, ...). For periodic data the extent must be divisible
// by the stride, so the subsampled grid is again uniform and periodic.
GridDataset subsample(const GridDataset& dataset, std::int64_t stride);

// Returns samples [first, first + count) of `dataset`.
GridDataset slice_samples(const GridDataset& dataset, std::int64_t first, std::int64_t count);

}  // namespace neurop::data
