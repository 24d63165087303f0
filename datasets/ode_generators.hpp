// ODE solution operators for DeepONet data sets, on [0, T] with T = space.length():
//   antiderivative   ds/dx = u(x),                           s(0) = 0
//   nonlinear ODE    ds/dx = -s^2 + u(x),                    s(0) = 0
//   gravity pendulum s1' = s2,  s2' = -k sin(s1) + u(x),     s1(0) = s2(0) = 0
//
// Each ODE is integrated by the classical fixed-step RK4 method (global error O(h^4))
// with u evaluated by its SampledFunction, which is the interpolation rule that
// produced the stored branch inputs. Values between the RK4 nodes come from cubic
// Hermite interpolation of the node values and slopes, which is also O(h^4).
//
// A generated data set (see point_dataset.hpp) has
//   sensors        [m, 1]  uniform_points(0, T, m)
//   branch_inputs  [N, m]  u_n at the sensors
//   queries        product: [P, 1] uniform_points(0, T, P);
//                  aligned: [N, P, 1], P points drawn from U(0, T) for each sample
//   outputs        [N, P, c_out], c_out = 1, or 2 for the pendulum (s1, s2)
//   domain         [0, T]
// Sample n draws u_n and then its aligned queries from Rng::stream(seed, n).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "datasets/function_space.hpp"
#include "datasets/point_dataset.hpp"

namespace neurop::data {

// Right-hand side f of s' = f(x, s): writes f(x, state) into derivative [dimension].
using OdeRightHandSide = std::function<void(double x, const double* state, double* derivative)>;
using ScalarFunction = std::function<double(double)>;

// Fixed-step solution on the nodes x_n = n T / steps, n = 0..steps.
struct OdeSolution {
  double length = 1.0;          // T
  std::int64_t steps = 0;
  std::int64_t dimension = 1;
  std::vector<double> states;       // [steps + 1, dimension], s(x_n)
  std::vector<double> derivatives;  // [steps + 1, dimension], f(x_n, s(x_n))
  // False when a state became NaN or infinite (blow-up). Integration stops at that
  // step and the remaining nodes hold NaN.
  bool finite = true;

  // Cubic Hermite interpolant of component `component` at x in [0, T] (a round-off
  // margin of 1e-12 T is clamped; further outside throws ValueError).
  double evaluate(double x, std::int64_t component = 0) const;
};

// Integrates s' = f(x, s), s(0) = initial [dimension], over [0, length] with `steps`
// classical RK4 steps. Throws ValueError for steps < 1, length <= 0 or an empty
// initial state. A blow-up is reported through OdeSolution::finite, not thrown.
OdeSolution integrate_rk4(const OdeRightHandSide& rhs, const std::vector<double>& initial, double length,
                          std::int64_t steps);

// ds/dx = u(x), s(0) = 0 on [0, length].
OdeSolution solve_antiderivative(const ScalarFunction& u, double length, std::int64_t steps);
// ds/dx = -s^2 + u(x), s(0) = 0 on [0, length].
OdeSolution solve_nonlinear_ode(const ScalarFunction& u, double length, std::int64_t steps);
// s1' = s2, s2' = -k sin(s1) + u(x), s1(0) = s2(0) = 0 on [0, length]; k = g / L, the
// gravitational acceleration over the pendulum length. Components: 0 = s1, 1 = s2.
OdeSolution solve_pendulum(const ScalarFunction& u, double length, std::int64_t steps, double k = 1.0);

struct OdeDataOptions {
  std::int64_t sensor_count = 100;  // m
  std::int64_t query_count = 100;   // P
  QueryLayout layout = QueryLayout::product;
  // RK4 steps on [0, T]. NOTE: for spline inputs (the random fields) a multiple of
  // grid_points - 1 keeps each step inside whole spline intervals, where u is one cubic.
  // Other counts still converge, but with a larger error constant because u''' jumps at
  // the knots. The default matches the default 1001-point field grid.
  std::int64_t steps = 1000;
};

// Each generates `samples` input-output pairs of the named operator with inputs drawn from
// `space`. Throws ValueError for samples < 1 or counts < 1 in `options`, and DataError
// naming the first sample whose solution blew up (choose a smaller input variance or
// a shorter interval). Parallel over samples with OpenMP; the result does not depend
// on the thread count.
PointDataset generate_antiderivative_data(const FunctionSpace& space, std::int64_t samples, std::uint64_t seed,
                                          const OdeDataOptions& options = {});
PointDataset generate_nonlinear_ode_data(const FunctionSpace& space, std::int64_t samples, std::uint64_t seed,
                                         const OdeDataOptions& options = {});
PointDataset generate_pendulum_data(const FunctionSpace& space, std::int64_t samples, std::uint64_t seed,
                                    const OdeDataOptions& options = {}, double k = 1.0);

}  // namespace neurop::data
