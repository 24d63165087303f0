// Geometric multigrid for the variable-coefficient diffusion problem
//
//   -div(a grad u) = f  on the unit square,  u = 0 on the boundary,
//
// on an n x n vertex grid x_i = i h, h = 1 / (n - 1), i = 0, ..., n - 1 (n counts the
// boundary points; the FNO Darcy benchmark uses n = 421). Fields are row-major
// [n, n] arrays, value[i * n + j] at (x0, x1) = (x_i, x_j). The unknowns are the
// (n - 2)^2 interior values; boundary entries of a solution are set to 0.
//
// Discretisation: the conservative 5-point flux scheme
//   (A u)_ij = [ a_{i+1/2,j} (u_ij - u_{i+1,j}) + a_{i-1/2,j} (u_ij - u_{i-1,j})
//              + a_{i,j+1/2} (u_ij - u_{i,j+1}) + a_{i,j-1/2} (u_ij - u_{i,j-1}) ] / h^2 = f_ij
// with face coefficients taken as the harmonic mean of the two vertex values,
// a_{i+1/2,j} = 2 a_ij a_{i+1,j} / (a_ij + a_{i+1,j}). When a is constant on each half of
// the segment between two vertices, flux continuity across the jump makes the two
// halves act as resistances in series, and their effective conductivity is exactly
// this harmonic mean. It therefore carries the flux across the 12 <-> 3 jumps of the
// Darcy benchmark correctly, and for smooth a it differs from a at the face midpoint by
// O(h^2), so the scheme stays second-order accurate. The matrix is symmetric positive
// definite for any a > 0.
//
// Hierarchy: level 0 is the n x n grid. A grid of n points is coarsened to
// n_c = floor(n / 2) + 1 points that are the fine points with even index plus the last
// point. For odd n this is the usual vertex-centred coarsening (n + 1) / 2 with
// uniform spacing 2h. For even n the last coarse interval has width h instead of 2h.
// Examples: 421 -> 211 -> 106 -> 54 -> 28 -> 15 -> 8 -> 5 -> 3, and 85 -> 43 -> 22 ->
// 12 -> 7 -> 4 -> 3. Every level needs at least one interior point (n_l >= 3).
// Prolongation P is bilinear interpolation on these point sets, restriction is its
// exact transpose R = P^T, and the coarse operators are the Galerkin products
// A_{l+1} = R A_l P (9-point stencils). Galerkin operators need no averaged coarse
// coefficients, so they stay robust for the jumpy coefficients of the benchmark.
// The coarsest level is solved directly with a sparse Cholesky factorisation
// (Eigen::SimplicialLDLT).
//
// Cycle: a V-cycle with `pre_smoothing` forward Gauss-Seidel sweeps before the
// coarse-grid correction and `post_smoothing` backward sweeps after it. With equal
// counts the cycle is a symmetric positive definite operator, so it can precondition
// the conjugate gradient method (the default), which converges in a few iterations for
// the 12/3 coefficient jumps. Plain V-cycle iteration is available as well.
//
// Non-convergence is a returned status, never an exception; invalid input throws
// ValueError. One DiffusionMultigrid object is not safe to use from several threads at
// once (solve() reuses its work vectors); distinct objects are independent.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>

namespace neurop::solvers {

using SparseMatrix = Eigen::SparseMatrix<double, Eigen::RowMajor>;

enum class MultigridMethod {
  v_cycle,            // u <- u + V(f - A u) until the residual is small enough
  preconditioned_cg,  // conjugate gradients preconditioned by one V-cycle per iteration
};

struct MultigridOptions {
  // Number of grid levels including the finest. 0 selects it automatically: coarsen
  // while the grid has more than 17 points per axis. 1 means a direct solve on the
  // fine grid. Must not exceed max_multigrid_levels(n).
  int levels = 0;
  // Gauss-Seidel sweeps before and after the coarse-grid correction; preconditioned_cg
  // requires equal counts so that the preconditioner is symmetric.
  int pre_smoothing = 2;
  int post_smoothing = 2;
  MultigridMethod method = MultigridMethod::preconditioned_cg;
  // Stop when ||f - A u||_2 <= relative_tolerance * ||f||_2 over the interior points.
  // NOTE: round-off limits the attainable value to roughly 1e-16 times the condition
  // number of A (which grows like n^2): about 1e-12 was the floor observed at n = 129.
  double relative_tolerance = 1e-10;
  // V-cycles (v_cycle) or conjugate gradient iterations (preconditioned_cg).
  int max_iterations = 100;
};

struct MultigridStatus {
  int iterations = 0;
  // ||f - A u||_2 / ||f||_2 of the returned u, recomputed from u (not the recurrence);
  // 0 when f is zero on the interior.
  double relative_residual = 0.0;
  // True only when relative_residual is finite and <= relative_tolerance.
  bool converged = false;
};

// Number of points per axis of the next coarser grid: floor(n / 2) + 1.
std::int64_t coarse_grid_size(std::int64_t n);

// Maximum level count for an n x n grid: the number of grids n, coarse_grid_size(n),
// ... that keep n_l >= 3. Returns 0 for n < 3.
int max_multigrid_levels(std::int64_t n);

// Assembles the 5-point harmonic-mean flux matrix on the (n - 2)^2 interior unknowns,
// unknown (i, j), 1 <= i, j <= n - 2, at row (i - 1) (n - 2) + (j - 1). `coefficient`
// is [n, n] row-major including the boundary points, whose values enter the faces
// next to the boundary. Throws ValueError for n < 3, a wrong size, or a value of a that
// is zero, negative, infinite or NaN (naming its (i, j)).
SparseMatrix assemble_diffusion_matrix(std::span<const double> coefficient, std::int64_t n);

// Bilinear prolongation from the interior of the coarse grid (coarse_grid_size(n)
// points per axis) to the interior of the n x n grid. `coarse` has (n_c - 2)^2 values
// and `fine` (n - 2)^2, both row-major. `fine` is overwritten.
void apply_prolongation(std::int64_t n, std::span<const double> coarse, std::span<double> fine);

// Restriction, the transpose of apply_prolongation: <R x, y> = <x, P y> for all
// x on the fine interior and y on the coarse interior. At a coarse point with a full
// set of fine neighbours it is 4 times full weighting. `coarse` is overwritten.
void apply_restriction(std::int64_t n, std::span<const double> fine, std::span<double> coarse);

// Sparse form of apply_prolongation: [(n - 2)^2, (n_c - 2)^2].
SparseMatrix prolongation_matrix(std::int64_t n);

class DiffusionMultigrid {
public:
  // Builds the hierarchy for the coefficient `coefficient` ([n0, n1] row-major vertex
  // values including the boundary). Throws ValueError for a non-square grid
  // (n0 != n1, unsupported), n < 3, a coefficient that is zero, negative, infinite or
  // NaN (naming its (i, j)), a level count outside [0, max_multigrid_levels(n)],
  // negative smoothing counts, no smoothing at all on a multilevel hierarchy, unequal
  // smoothing counts with preconditioned_cg, max_iterations < 1, or a tolerance that
  // is not positive and finite.
  DiffusionMultigrid(std::span<const double> coefficient, std::int64_t n0, std::int64_t n1,
                     const MultigridOptions& options = {});

  // Solves A u = f starting from u = 0. `rhs` is [n, n] (boundary entries are ignored),
  // `solution` is [n, n] and is overwritten, with zeros on the boundary. Throws
  // ValueError for wrong sizes or a non-finite right-hand side (naming its (i, j)).
  // The returned status reports whether the tolerance was reached. When it was not,
  // `solution` contains the last iterate.
  MultigridStatus solve(std::span<const double> rhs, std::span<double> solution);

  std::int64_t grid_size() const { return n_; }
  int levels() const { return static_cast<int>(levels_.size()); }
  // Points per axis on level l (0 = finest).
  std::int64_t grid_size(int level) const { return levels_.at(static_cast<std::size_t>(level)).n; }
  // Operator on level l, on that level's interior unknowns.
  const SparseMatrix& level_matrix(int level) const { return levels_.at(static_cast<std::size_t>(level)).matrix; }

  // Applies one V-cycle to `rhs` on level 0 starting from zero: returns the
  // approximation V f of A^{-1} f on the interior unknowns ((n - 2)^2 values).
  Eigen::VectorXd apply_v_cycle(const Eigen::VectorXd& rhs);

private:
  struct Level {
    std::int64_t n = 0;
    SparseMatrix matrix;
    Eigen::VectorXd inverse_diagonal;
    Eigen::VectorXd solution, rhs, residual;
  };

  void v_cycle(std::size_t level);
  void smooth_forward(Level& level, int sweeps) const;
  void smooth_backward(Level& level, int sweeps) const;

  MultigridStatus solve_with_v_cycles(const Eigen::VectorXd& rhs, Eigen::VectorXd& x);
  MultigridStatus solve_with_cg(const Eigen::VectorXd& rhs, Eigen::VectorXd& x);

  std::int64_t n_ = 0;
  MultigridOptions options_;
  std::vector<Level> levels_;
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> coarse_solver_;
};

}  // namespace neurop::solvers
