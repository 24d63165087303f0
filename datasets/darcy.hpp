// Darcy flow data with the defaults of the FNO benchmark.
//
// Each sample solves
//   -div(a grad u) = f  on the unit square,  u = 0 on the boundary,
// with f constant and a piecewise constant coefficient
//   a(x) = high_value where psi(x) >= 0,  low_value where psi(x) < 0,
//   psi ~ N(0, (-Laplacian + tau^2 I)^(-alpha)) with zero Neumann boundary values,
// i.e. the FNO setting a in {12, 3}, alpha = 2, tau = 3, f = 1. psi is the mean-free
// NeumannGrf2d field (datasets/grf2d.hpp) on the vertex grid of the solve, with all
// `resolution` cosine modes per axis. Its scale sigma does not change the sign, so it
// is fixed at 1. The solve uses the harmonic-mean 5-point scheme and multigrid-
// preconditioned CG of solvers/multigrid.hpp on a resolution x resolution vertex grid
// (421 in the benchmark, boundary points included).
//
// Output: a GridDataset with
//   inputs  [N, 1, s, s] = a,  outputs [N, 1, s, s] = u,
//   grid x0 = x1 = k / (s - 1), k = 0..s-1 (both ends included), periodic = false,
//   generator = "darcy", seed = options.seed, and the parameters listed in darcy.cpp,
// where s = output_resolution: the solve grid subsampled by the stride
// (resolution - 1) / (s - 1), the non-periodic rule of data::subsample (from 421:
// 211, 141, 106, 85, ...). Value [n, 0, i, j] is at (x0, x1) = (x_i, x_j).
//
// Sample i draws its field from Rng::stream(seed, i) only, so the data do not depend on
// the thread count. Samples run in parallel on OpenMP threads (neurop::set_num_threads).
// The data set is built in memory: 2 N s^2 doubles, 2.8 GB for N = 1000 at s = 421.
#pragma once

#include <cstdint>
#include <vector>

#include "datasets/dataset_file.hpp"
#include "solvers/multigrid.hpp"

namespace neurop::data {

struct DarcyOptions {
  std::int64_t samples = 1;
  // Points per axis of the solve grid, boundary included; >= 3.
  std::int64_t resolution = 421;
  // Points per axis stored; 0 stores the solve grid. Otherwise 2 <= s <= resolution and
  // s - 1 must divide resolution - 1.
  std::int64_t output_resolution = 0;
  double alpha = 2.0;
  double tau = 3.0;
  double high_value = 12.0;  // a where psi >= 0; > 0
  double low_value = 3.0;    // a where psi < 0; > 0
  double forcing = 1.0;      // f, finite
  std::uint64_t seed = 0;
  solvers::MultigridOptions solver{};
};

// Throws ValueError naming the option that is out of range (including the multigrid
// options, checked against the solve grid).
void validate(const DarcyOptions& options);

// The coefficient and solution of one sample on the solve grid, [resolution, resolution] each.
struct DarcySample {
  std::vector<double> coefficient;
  std::vector<double> solution;
  solvers::MultigridStatus status;
};

// Computes sample `index` of the data set `options` describes, on the solve grid.
// Returns the solver status instead of throwing when the solve does not converge.
DarcySample solve_darcy_sample(const DarcyOptions& options, std::uint64_t index);

// Generates options.samples samples. Throws ValueError for invalid options and
// DataError when a solve does not reach the tolerance (naming the first such sample,
// its iterations and residual), so a data set never contains an unconverged sample.
GridDataset generate_darcy(const DarcyOptions& options);

}  // namespace neurop::data
