// Data-set files read as DeepONet training data: branch inputs, query points and
// outputs as tensors.
//
// Point data sets (datasets/point_dataset.hpp) map directly. Grid data sets
// (datasets/dataset_file.hpp) are read as the Cartesian-product layout: the grid points
// are both the sensors and the query points, the branch input of a sample is its
// input channels flattened [C_in S_1 ... S_d], and the outputs are [S_1 ... S_d, C_out]
// per sample. On a periodic grid x_k = k L / S, the period L = S (x_1 - x_0) of each
// axis is recorded for Fourier trunk features.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/point_dataset.hpp"
#include "lib/tensor/tensor.hpp"
#include "operators/deeponet/deeponet.hpp"

namespace neurop::app {

struct OperatorData {
  Tensor inputs;   // u [N, m]
  Tensor queries;  // product: [P, d]; aligned: [N, P, d]
  Tensor outputs;  // [N, P] for one output component, [N, P, c] for c > 1
  Tensor sensors;  // sensor coordinates [m, d_in]
  data::QueryLayout layout = data::QueryLayout::product;
  deeponet::QueryDomain domain;
  // Grid data with periodic axes: the period of every axis (empty otherwise).
  std::vector<double> periods;
  std::string generator;

  std::int64_t size() const { return inputs.size(0); }
  std::int64_t sensor_count() const { return inputs.size(1); }
  std::int64_t query_count() const { return queries.size(-2); }
  std::int64_t query_dims() const { return queries.size(-1); }
  std::int64_t output_channels() const { return outputs.ndim() == 3 ? outputs.size(2) : 1; }
};

// Reads a point or grid data set file into `dtype` tensors. Throws FileError for
// missing, corrupt or unrecognised files and DataError for NaN or infinite values (the
// data-set readers' checks).
OperatorData read_operator_data(const std::filesystem::path& path, DType dtype);

// Samples [first, first + count) of `data`. Throws ValueError when the range does not
// fit in the data.
OperatorData select_samples(const OperatorData& data, std::int64_t first, std::int64_t count);

// Samples `indices` of `data` (the product-layout queries are shared, not copied).
OperatorData gather_samples(const OperatorData& data, const std::vector<std::int64_t>& indices);

// Throws ValueError naming both files when `test` has another sensor count, query
// dimension or output component count than `train`.
void check_compatible(const OperatorData& train, const OperatorData& test, const std::string& train_name,
                      const std::string& test_name);

}  // namespace neurop::app
