// Diffusion-reaction solution operator for DeepONet data sets:
//   s_t = D s_xx + k s^2 + u(x),   x in [0, L], t in [0, t_final],
//   s(x, 0) = 0,  s(0, t) = s(L, t) = 0,
// with L = space.length() (1 by default) and D = k = 0.01 by default.
//
// Scheme (second order in dx and dt): Crank-Nicolson on the uniform grid
// x_i = i dx, t_n = n dt, with the reaction term at t_{n+1/2} linearised as
// s^2(t_{n+1/2}) ~= s^n s^{n+1}. That product differs from the midpoint square by
// -(s^{n+1} - s^n)^2 / 4 = O(dt^2), so the scheme stays second order in time while
// each step is one tridiagonal solve (no Newton iteration). Stability of that solve
// needs 1 / dt > k s^n_i, which holds for the default settings.
//
// A generated data set (see point_dataset.hpp) has
//   sensors        [m, 1]  uniform_points(0, L, m)
//   branch_inputs  [N, m]  u_n at the sensors
//   queries        product: [Px Pt, 2] pairs (x_i, t_j) at row j Px + i, with
//                  x_i = uniform_points(0, L, Px) and t_j = uniform_points(0, t_final, Pt);
//                  aligned: [N, P, 2] with (x, t) drawn from U(0, L) x U(0, t_final)
//   outputs        [N, P, 1]
//   domain         [0, L] x [0, t_final]
// Values off the solver grid come from bilinear interpolation. Its O(dx^2 + dt^2) error
// matches the scheme, and query points on solver nodes get the nodal values exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "datasets/function_space.hpp"
#include "datasets/point_dataset.hpp"

namespace neurop::data {

struct DiffusionReactionOptions {
  double diffusion = 0.01;              // D
  double reaction = 0.01;               // k
  double final_time = 1.0;              // t_final
  std::int64_t space_intervals = 100;   // Nx, dx = L / Nx
  std::int64_t time_steps = 100;        // Nt, dt = t_final / Nt
};

struct DiffusionReactionSolution {
  double length = 1.0;
  double final_time = 1.0;
  std::int64_t space_intervals = 0;  // Nx
  std::int64_t time_steps = 0;       // Nt
  // [Nt + 1, Nx + 1]: values[n (Nx + 1) + i] = s(x_i, t_n).
  std::vector<double> values;
  // False when a value became NaN or infinite; later time levels then hold NaN.
  bool finite = true;

  // Bilinear interpolation at (x, t) in [0, L] x [0, t_final]; a round-off margin of
  // 1e-12 of each extent is clamped, and points further outside throw ValueError.
  double evaluate(double x, double t) const;
};

using SpaceTimeFunction = std::function<double(double x, double t)>;

// Solves s_t = D s_xx + k s^2 + f(x, t) on [0, length] x [0, t_final] with zero initial
// and boundary values. The general source f(x, t) lets tests use manufactured
// solutions; the generator passes f(x, t) = u(x). Throws ValueError for Nx < 2, Nt < 1,
// D < 0, a non-finite k, or non-positive lengths. A blow-up is reported through
// DiffusionReactionSolution::finite.
DiffusionReactionSolution solve_diffusion_reaction(const SpaceTimeFunction& source, double length,
                                                   const DiffusionReactionOptions& options = {});

struct DiffusionReactionDataOptions {
  std::int64_t sensor_count = 100;       // m
  QueryLayout layout = QueryLayout::product;
  std::int64_t query_space_points = 51;  // Px (product layout)
  std::int64_t query_time_points = 51;   // Pt (product layout)
  std::int64_t query_count = 100;        // P (aligned layout)
  DiffusionReactionOptions solver;
};

// Generates `samples` input-output pairs with u_n drawn from `space` by
// Rng::stream(seed, n) (then the aligned queries from the same stream). Throws
// ValueError for samples < 1 or counts < 1, and DataError naming the first sample whose
// solution blew up. Parallel over samples with OpenMP; independent of the thread count.
PointDataset generate_diffusion_reaction_data(const FunctionSpace& space, std::int64_t samples, std::uint64_t seed,
                                              const DiffusionReactionDataOptions& options = {});

}  // namespace neurop::data
