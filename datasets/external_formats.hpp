// Readers that turn public operator-learning data files into GridDataset.
//
// FNO MAT files (MATLAB v5, or v7.3 where libmatio was built with HDF5), read through
// libmatio. They need a build with matio found (NEUROP_HAVE_MATIO); otherwise the
// readers throw FileError saying so, and has_mat_file_support() returns false.
//   Darcy (piececonst_r421_N1024_smooth1.mat and similar):
//     coeff [N, s0, s1] coefficient a, sol [N, s0, s1] solution u (MATLAB extents).
//     -> inputs [N, 1, s0, s1] = coeff, outputs [N, 1, s0, s1] = sol, vertex grid
//        x_k = k / (s - 1) on [0, 1] with both ends, periodic = false.
//   Burgers (burgers_data_R10.mat):
//     a [N, s] initial condition, u [N, s] solution at the final time.
//     -> inputs [N, 1, s], outputs [N, 1, s], periodic grid x_k = k / s on [0, 1).
//   Element (n, i, j) of a MATLAB array (0-based, column-major in the file) becomes
//   value [n, 0, i, j], so axis order is kept: MATLAB's second extent is x0.
//   NOTE: these files store no grid. The vertex grid for Darcy and the periodic [0, 1)
//   grid for Burgers follow the FNO paper's description of the data.
//
// PDEBench HDF5 files, read through lib/io/hdf5.hpp:
//   Burgers (1D_Burgers_Sols_Nu*.hdf5): tensor [N, nt, nx], x-coordinate [nx],
//     t-coordinate [nt] or [nt + 1] (PDEBench's 1D files store one more entry than
//     time steps), optional root attribute Nu (the viscosity).
//     -> inputs [N, 1, nx] = tensor[:, input_time, :], outputs [N, 1, nx] =
//        tensor[:, output_time, :], grid = x-coordinate, periodic = true.
//   Darcy (2D_DarcyFlow_beta*.hdf5): tensor [N, 1, nx, ny] solution, nu [N, nx, ny]
//     coefficient, x-coordinate [nx], y-coordinate [ny].
//     -> inputs [N, 1, nx, ny] = nu, outputs [N, 1, nx, ny] = tensor, grid =
//        (x-coordinate, y-coordinate), periodic = false.
//
// Validation: every array must have exactly the documented rank and extents, and the
// coordinate arrays declare the spatial extents. A mismatch throws FileError naming the
// array, the axis, the stored and the expected extent. A leading singleton axis (for
// example tensor [1, 10, 201, 1024] for a 1D file) is never taken as a spatial axis:
// such a file is rejected with a message that says so. Sample ranges and time indices
// out of range throw ValueError. Values are converted to float64.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "datasets/dataset_file.hpp"

namespace neurop::data {

// Samples [first, first + count) of a file; count = -1 reads to the end.
struct SampleRange {
  std::int64_t first = 0;
  std::int64_t count = -1;
};

// True when this build can read MAT files.
bool has_mat_file_support();

struct FnoDarcyMatOptions {
  std::string coefficient_name = "coeff";
  std::string solution_name = "sol";
  SampleRange samples{};
};

struct FnoBurgersMatOptions {
  std::string input_name = "a";
  std::string output_name = "u";
  SampleRange samples{};
};

GridDataset read_fno_darcy_mat(const std::filesystem::path& path, const FnoDarcyMatOptions& options = {});
GridDataset read_fno_burgers_mat(const std::filesystem::path& path, const FnoBurgersMatOptions& options = {});

struct PdebenchBurgersOptions {
  // Time indices into the t axis of tensor; negative values count from the end
  // (-1 is the last stored time).
  std::int64_t input_time = 0;
  std::int64_t output_time = -1;
  SampleRange samples{};
};

struct PdebenchDarcyOptions {
  SampleRange samples{};
};

GridDataset read_pdebench_burgers(const std::filesystem::path& path, const PdebenchBurgersOptions& options = {});
GridDataset read_pdebench_darcy(const std::filesystem::path& path, const PdebenchDarcyOptions& options = {});

}  // namespace neurop::data
