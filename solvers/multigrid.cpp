#include "solvers/multigrid.hpp"

#include <algorithm>
#include <cmath>

#include "lib/core/error.hpp"

namespace neurop::solvers {
namespace {

// Automatic hierarchies stop coarsening once a grid has at most this many points per
// axis; the direct solve there costs less than one more level.
constexpr std::int64_t kAutomaticCoarsestSize = 17;

std::size_t to_index(std::int64_t value) { return static_cast<std::size_t>(value); }

// Interior unknown (i, j), 1 <= i, j <= n - 2, of an n x n grid.
std::int64_t interior_index(std::int64_t n, std::int64_t i, std::int64_t j) { return (i - 1) * (n - 2) + (j - 1); }

void check_coefficient(std::span<const double> coefficient, std::int64_t n, const char* function) {
  NEUROP_CHECK(n >= 3, ValueError, "{}: the grid needs at least 3 points per axis (one interior point), got n = {}",
               function, n);
  NEUROP_CHECK(static_cast<std::int64_t>(coefficient.size()) == n * n, ValueError,
               "{}: coefficient has {} values, expected n * n = {} for n = {}", function, coefficient.size(), n * n, n);
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      const double value = coefficient[to_index(i * n + j)];
      NEUROP_CHECK(std::isfinite(value) && value > 0.0, ValueError,
                   "{}: coefficient a = {} at grid point (i, j) = ({}, {}) makes the operator singular or undefined; "
                   "a must be positive and finite everywhere, boundary points included",
                   function, value, i, j);
    }
  }
}

double harmonic_mean(double left, double right) { return 2.0 * left * right / (left + right); }

// out = b - A x, row by row. Written out instead of Eigen's sparse product, which runs
// on OpenMP threads for row-major matrices: that costs more than it gains on the small
// coarse levels and competes with the per-sample threads of the data generators.
void compute_residual(const SparseMatrix& a, const Eigen::VectorXd& b, const Eigen::VectorXd& x,
                      Eigen::VectorXd& out) {
  const int* outer = a.outerIndexPtr();
  const int* inner = a.innerIndexPtr();
  const double* values = a.valuePtr();
  for (Eigen::Index row = 0; row < a.outerSize(); ++row) {
    double sum = b[row];
    for (int k = outer[row]; k < outer[row + 1]; ++k) sum -= values[k] * x[inner[k]];
    out[row] = sum;
  }
}

// out = A x, serial for the same reason as compute_residual.
void multiply(const SparseMatrix& a, const Eigen::VectorXd& x, Eigen::VectorXd& out) {
  const int* outer = a.outerIndexPtr();
  const int* inner = a.innerIndexPtr();
  const double* values = a.valuePtr();
  for (Eigen::Index row = 0; row < a.outerSize(); ++row) {
    double sum = 0.0;
    for (int k = outer[row]; k < outer[row + 1]; ++k) sum += values[k] * x[inner[k]];
    out[row] = sum;
  }
}

// Fine interior point i (1 <= i <= n - 2) and its coarse parents with weights. Coarse
// point I sits at fine index 2I, except the last coarse point, which sits at n - 1.
// Parents on the boundary (coarse index 0 or n_c - 1) carry u = 0 and are dropped.
struct Parents {
  int count = 0;
  std::int64_t index[2] = {0, 0};
  double weight[2] = {0.0, 0.0};
};

// Returns the parents of every fine index; entries 0 and n - 1 (boundary) stay empty.
std::vector<Parents> interpolation_parents(std::int64_t n) {
  const std::int64_t nc = coarse_grid_size(n);
  std::vector<Parents> all(to_index(n));
  for (std::int64_t i = 1; i <= n - 2; ++i) {
    Parents& parents = all[to_index(i)];
    auto add = [&](std::int64_t coarse, double weight) {
      if (coarse >= 1 && coarse <= nc - 2) {
        parents.index[parents.count] = coarse;
        parents.weight[parents.count] = weight;
        ++parents.count;
      }
    };
    if (i % 2 == 0) {
      // An even interior index is at most n - 2, so it is never the moved last point.
      add(i / 2, 1.0);
    } else {
      // Odd i lies halfway between fine points i - 1 and i + 1, which are both coarse
      // points; when i + 1 = n - 1 the right one is the boundary.
      add((i - 1) / 2, 0.5);
      add((i + 1) / 2, 0.5);
    }
  }
  return all;
}

}  // namespace

std::int64_t coarse_grid_size(std::int64_t n) { return n / 2 + 1; }

int max_multigrid_levels(std::int64_t n) {
  int levels = 0;
  while (n >= 3) {
    ++levels;
    const std::int64_t next = coarse_grid_size(n);
    if (next < 3 || next == n) break;
    n = next;
  }
  return levels;
}

SparseMatrix assemble_diffusion_matrix(std::span<const double> coefficient, std::int64_t n) {
  check_coefficient(coefficient, n, "assemble_diffusion_matrix");
  const std::int64_t m = n - 2;
  const double inverse_h2 = static_cast<double>((n - 1) * (n - 1));
  auto a = [&](std::int64_t i, std::int64_t j) { return coefficient[to_index(i * n + j)]; };

  std::vector<Eigen::Triplet<double>> triplets;
  triplets.reserve(to_index(5 * m * m));
  for (std::int64_t i = 1; i <= n - 2; ++i) {
    for (std::int64_t j = 1; j <= n - 2; ++j) {
      const std::int64_t row = interior_index(n, i, j);
      const std::int64_t neighbours[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
      double diagonal = 0.0;
      for (const auto& neighbour : neighbours) {
        const std::int64_t ni = neighbour[0], nj = neighbour[1];
        // Flux through the face between (i, j) and its neighbour: a_face (u_ij - u_nb) / h^2.
        const double face = harmonic_mean(a(i, j), a(ni, nj)) * inverse_h2;
        diagonal += face;
        const bool interior = ni >= 1 && ni <= n - 2 && nj >= 1 && nj <= n - 2;
        if (interior) triplets.emplace_back(row, interior_index(n, ni, nj), -face);
      }
      triplets.emplace_back(row, row, diagonal);
    }
  }
  SparseMatrix matrix(m * m, m * m);
  matrix.setFromTriplets(triplets.begin(), triplets.end());
  return matrix;
}

void apply_prolongation(std::int64_t n, std::span<const double> coarse, std::span<double> fine) {
  const std::int64_t m = n - 2, mc = coarse_grid_size(n) - 2;
  NEUROP_CHECK(n >= 4, ValueError, "apply_prolongation: an n x n grid with n = {} has no coarser level; need n >= 4",
               n);
  NEUROP_CHECK(static_cast<std::int64_t>(coarse.size()) == mc * mc && static_cast<std::int64_t>(fine.size()) == m * m,
               ValueError, "apply_prolongation: for n = {} expected {} coarse and {} fine values, got {} and {}", n,
               mc * mc, m * m, coarse.size(), fine.size());
  const std::vector<Parents> parents = interpolation_parents(n);
  // u_f(i, j) = sum over parents I of i and J of j of w_I w_J u_c(I, J)  (tensor-product interpolation)
  for (std::int64_t i = 1; i <= n - 2; ++i) {
    const Parents& pi = parents[to_index(i)];
    for (std::int64_t j = 1; j <= n - 2; ++j) {
      const Parents& pj = parents[to_index(j)];
      double value = 0.0;
      for (int a = 0; a < pi.count; ++a) {
        for (int b = 0; b < pj.count; ++b) {
          value += pi.weight[a] * pj.weight[b] * coarse[to_index((pi.index[a] - 1) * mc + (pj.index[b] - 1))];
        }
      }
      fine[to_index(interior_index(n, i, j))] = value;
    }
  }
}

void apply_restriction(std::int64_t n, std::span<const double> fine, std::span<double> coarse) {
  const std::int64_t m = n - 2, nc = coarse_grid_size(n), mc = nc - 2;
  NEUROP_CHECK(n >= 4, ValueError, "apply_restriction: an n x n grid with n = {} has no coarser level; need n >= 4",
               n);
  NEUROP_CHECK(static_cast<std::int64_t>(coarse.size()) == mc * mc && static_cast<std::int64_t>(fine.size()) == m * m,
               ValueError, "apply_restriction: for n = {} expected {} fine and {} coarse values, got {} and {}", n,
               m * m, mc * mc, fine.size(), coarse.size());
  // Written as a gather over each coarse point's fine children, so that it is checked
  // against the parent form of apply_prolongation rather than derived from it. The
  // interior coarse point I sits at fine index 2I, because the moved last point n - 1 is
  // on the boundary. Its children are 2I with weight 1 and the interior ones of 2I +- 1
  // with weight 1/2.
  auto children = [&](std::int64_t coarse_index, std::int64_t* index, double* weight) {
    int count = 0;
    const std::int64_t centre = 2 * coarse_index;
    for (const std::int64_t child : {centre - 1, centre, centre + 1}) {
      if (child < 1 || child > n - 2) continue;
      index[count] = child;
      weight[count] = child == centre ? 1.0 : 0.5;
      ++count;
    }
    return count;
  };
  for (std::int64_t ci = 1; ci <= nc - 2; ++ci) {
    std::int64_t rows[3];
    double row_weights[3];
    const int row_count = children(ci, rows, row_weights);
    for (std::int64_t cj = 1; cj <= nc - 2; ++cj) {
      std::int64_t columns[3];
      double column_weights[3];
      const int column_count = children(cj, columns, column_weights);
      // r_c(I, J) = sum over children i of I and j of J of w_i w_j r_f(i, j)
      double value = 0.0;
      for (int a = 0; a < row_count; ++a) {
        for (int b = 0; b < column_count; ++b) {
          value += row_weights[a] * column_weights[b] * fine[to_index(interior_index(n, rows[a], columns[b]))];
        }
      }
      coarse[to_index((ci - 1) * mc + (cj - 1))] = value;
    }
  }
}

SparseMatrix prolongation_matrix(std::int64_t n) {
  NEUROP_CHECK(n >= 4, ValueError, "prolongation_matrix: an n x n grid with n = {} has no coarser level; need n >= 4",
               n);
  const std::int64_t m = n - 2, mc = coarse_grid_size(n) - 2;
  std::vector<Eigen::Triplet<double>> triplets;
  triplets.reserve(to_index(4 * m * m));
  const std::vector<Parents> parents = interpolation_parents(n);
  for (std::int64_t i = 1; i <= n - 2; ++i) {
    const Parents& pi = parents[to_index(i)];
    for (std::int64_t j = 1; j <= n - 2; ++j) {
      const Parents& pj = parents[to_index(j)];
      for (int a = 0; a < pi.count; ++a) {
        for (int b = 0; b < pj.count; ++b) {
          triplets.emplace_back(interior_index(n, i, j), (pi.index[a] - 1) * mc + (pj.index[b] - 1),
                                pi.weight[a] * pj.weight[b]);
        }
      }
    }
  }
  SparseMatrix matrix(m * m, mc * mc);
  matrix.setFromTriplets(triplets.begin(), triplets.end());
  return matrix;
}

DiffusionMultigrid::DiffusionMultigrid(std::span<const double> coefficient, std::int64_t n0, std::int64_t n1,
                                       const MultigridOptions& options)
    : n_(n0), options_(options) {
  NEUROP_CHECK(n0 == n1, ValueError,
               "DiffusionMultigrid: the grid is {} x {}, but only square n x n grids are supported; resample the "
               "coefficient to a square grid",
               n0, n1);
  check_coefficient(coefficient, n0, "DiffusionMultigrid");
  const int max_levels = max_multigrid_levels(n0);
  NEUROP_CHECK(options.levels >= 0 && options.levels <= max_levels, ValueError,
               "DiffusionMultigrid: a {} x {} grid can be coarsened to at most {} levels (each level needs at least 3 "
               "points per axis), but {} levels were requested; pass levels between 1 and {}, or 0 for automatic",
               n0, n0, max_levels, options.levels, max_levels);
  NEUROP_CHECK(options.pre_smoothing >= 0 && options.post_smoothing >= 0, ValueError,
               "DiffusionMultigrid: smoothing counts must be >= 0, got pre_smoothing = {} and post_smoothing = {}",
               options.pre_smoothing, options.post_smoothing);
  NEUROP_CHECK(options.method != MultigridMethod::preconditioned_cg || options.pre_smoothing == options.post_smoothing,
               ValueError,
               "DiffusionMultigrid: preconditioned_cg needs a symmetric V-cycle, so pre_smoothing ({}) must equal "
               "post_smoothing ({})",
               options.pre_smoothing, options.post_smoothing);
  NEUROP_CHECK(options.max_iterations >= 1, ValueError, "DiffusionMultigrid: max_iterations must be >= 1, got {}",
               options.max_iterations);
  NEUROP_CHECK(std::isfinite(options.relative_tolerance) && options.relative_tolerance > 0.0, ValueError,
               "DiffusionMultigrid: relative_tolerance must be positive and finite, got {}",
               options.relative_tolerance);

  int level_count = options.levels;
  if (level_count == 0) {
    level_count = 1;
    for (std::int64_t size = n0; size > kAutomaticCoarsestSize && level_count < max_levels; ++level_count) {
      size = coarse_grid_size(size);
    }
  }
  NEUROP_CHECK(level_count == 1 || options.pre_smoothing + options.post_smoothing >= 1, ValueError,
               "DiffusionMultigrid: a V-cycle over {} levels needs at least one smoothing sweep, got pre_smoothing = 0 "
               "and post_smoothing = 0",
               level_count);

  levels_.resize(to_index(level_count));
  levels_[0].n = n0;
  levels_[0].matrix = assemble_diffusion_matrix(coefficient, n0);
  for (std::size_t l = 1; l < levels_.size(); ++l) {
    const std::int64_t fine_n = levels_[l - 1].n;
    levels_[l].n = coarse_grid_size(fine_n);
    // A_{l} = P^T A_{l-1} P  (Galerkin coarse operator, R = P^T)
    const SparseMatrix prolongation = prolongation_matrix(fine_n);
    const SparseMatrix restriction = prolongation.transpose();
    const SparseMatrix fine_times_prolongation = levels_[l - 1].matrix * prolongation;
    levels_[l].matrix = restriction * fine_times_prolongation;
  }
  for (Level& level : levels_) {
    // The smoother and residual loops read the CSR arrays directly.
    level.matrix.makeCompressed();
    const Eigen::Index size = level.matrix.rows();
    level.inverse_diagonal = level.matrix.diagonal().cwiseInverse();
    level.solution = Eigen::VectorXd::Zero(size);
    level.rhs = Eigen::VectorXd::Zero(size);
    level.residual = Eigen::VectorXd::Zero(size);
  }
  const Eigen::SparseMatrix<double> coarsest = levels_.back().matrix;
  coarse_solver_.compute(coarsest);
  // The Galerkin operator of an SPD matrix with a full-rank P is SPD, so a failed
  // factorisation is a bug rather than a property of the input.
  NEUROP_ASSERT(coarse_solver_.info() == Eigen::Success);
}

void DiffusionMultigrid::smooth_forward(Level& level, int sweeps) const {
  const SparseMatrix& a = level.matrix;
  const int* outer = a.outerIndexPtr();
  const int* inner = a.innerIndexPtr();
  const double* values = a.valuePtr();
  double* x = level.solution.data();
  const double* b = level.rhs.data();
  const double* inverse_diagonal = level.inverse_diagonal.data();
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    for (Eigen::Index row = 0; row < a.outerSize(); ++row) {
      // x_row <- x_row + (b_row - sum_k a_row,k x_k) / a_row,row, using the newest x_k
      double sum = b[row];
      for (int k = outer[row]; k < outer[row + 1]; ++k) sum -= values[k] * x[inner[k]];
      x[row] += sum * inverse_diagonal[row];
    }
  }
}

void DiffusionMultigrid::smooth_backward(Level& level, int sweeps) const {
  const SparseMatrix& a = level.matrix;
  const int* outer = a.outerIndexPtr();
  const int* inner = a.innerIndexPtr();
  const double* values = a.valuePtr();
  double* x = level.solution.data();
  const double* b = level.rhs.data();
  const double* inverse_diagonal = level.inverse_diagonal.data();
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    for (Eigen::Index row = a.outerSize() - 1; row >= 0; --row) {
      double sum = b[row];
      for (int k = outer[row]; k < outer[row + 1]; ++k) sum -= values[k] * x[inner[k]];
      x[row] += sum * inverse_diagonal[row];
    }
  }
}

void DiffusionMultigrid::v_cycle(std::size_t l) {
  Level& level = levels_[l];
  if (l + 1 == levels_.size()) {
    level.solution = coarse_solver_.solve(level.rhs);
    return;
  }
  Level& coarse = levels_[l + 1];
  level.solution.setZero();
  smooth_forward(level, options_.pre_smoothing);

  // r = b - A x, restricted: b_c = R r
  compute_residual(level.matrix, level.rhs, level.solution, level.residual);
  apply_restriction(level.n, {level.residual.data(), to_index(level.residual.size())},
                    {coarse.rhs.data(), to_index(coarse.rhs.size())});
  v_cycle(l + 1);

  // x <- x + P x_c
  apply_prolongation(level.n, {coarse.solution.data(), to_index(coarse.solution.size())},
                     {level.residual.data(), to_index(level.residual.size())});
  level.solution += level.residual;
  smooth_backward(level, options_.post_smoothing);
}

Eigen::VectorXd DiffusionMultigrid::apply_v_cycle(const Eigen::VectorXd& rhs) {
  NEUROP_CHECK(rhs.size() == levels_[0].matrix.rows(), ValueError,
               "DiffusionMultigrid::apply_v_cycle: expected {} interior values, got {}", levels_[0].matrix.rows(),
               rhs.size());
  levels_[0].rhs = rhs;
  v_cycle(0);
  return levels_[0].solution;
}

MultigridStatus DiffusionMultigrid::solve_with_v_cycles(const Eigen::VectorXd& rhs, Eigen::VectorXd& x) {
  const SparseMatrix& a = levels_[0].matrix;
  const double rhs_norm = rhs.norm();
  MultigridStatus status;
  Eigen::VectorXd residual = rhs;
  for (int iteration = 1; iteration <= options_.max_iterations; ++iteration) {
    // x <- x + V (b - A x)
    levels_[0].rhs = residual;
    v_cycle(0);
    x += levels_[0].solution;
    compute_residual(a, rhs, x, residual);
    status.iterations = iteration;
    status.relative_residual = residual.norm() / rhs_norm;
    if (!std::isfinite(status.relative_residual)) break;
    if (status.relative_residual <= options_.relative_tolerance) break;
  }
  return status;
}

MultigridStatus DiffusionMultigrid::solve_with_cg(const Eigen::VectorXd& rhs, Eigen::VectorXd& x) {
  const SparseMatrix& a = levels_[0].matrix;
  const double rhs_norm = rhs.norm();
  MultigridStatus status;
  Eigen::VectorXd residual = rhs;  // r = b - A x with x = 0
  Eigen::VectorXd preconditioned = apply_v_cycle(residual);
  Eigen::VectorXd direction = preconditioned;
  Eigen::VectorXd a_direction(rhs.size());
  double rho = residual.dot(preconditioned);

  for (int iteration = 1; iteration <= options_.max_iterations; ++iteration) {
    status.iterations = iteration;
    multiply(a, direction, a_direction);
    const double curvature = direction.dot(a_direction);
    // p^T A p <= 0 or NaN means the operator or preconditioner lost positivity
    // (non-finite data); stop and let the recomputed residual report it.
    if (!(curvature > 0.0) || !(rho > 0.0)) break;

    const double step = rho / curvature;
    x += step * direction;
    residual -= step * a_direction;
    const double recursive_residual = residual.norm() / rhs_norm;
    if (!std::isfinite(recursive_residual)) break;
    if (recursive_residual <= options_.relative_tolerance) {
      // The recurrence drifts from the true residual at high accuracy; confirm it.
      compute_residual(a, rhs, x, residual);
      if (residual.norm() / rhs_norm <= options_.relative_tolerance) break;
    }

    preconditioned = apply_v_cycle(residual);
    const double rho_next = residual.dot(preconditioned);
    // p <- z + (rho_next / rho) p
    direction = preconditioned + (rho_next / rho) * direction;
    rho = rho_next;
  }

  compute_residual(a, rhs, x, residual);
  status.relative_residual = residual.norm() / rhs_norm;
  return status;
}

MultigridStatus DiffusionMultigrid::solve(std::span<const double> rhs, std::span<double> solution) {
  const std::int64_t n = n_;
  NEUROP_CHECK(static_cast<std::int64_t>(rhs.size()) == n * n && static_cast<std::int64_t>(solution.size()) == n * n,
               ValueError,
               "DiffusionMultigrid::solve: rhs and solution must hold n * n = {} values for n = {}, got {} and {}",
               n * n, n, rhs.size(), solution.size());
  Eigen::VectorXd b(levels_[0].matrix.rows());
  for (std::int64_t i = 1; i <= n - 2; ++i) {
    for (std::int64_t j = 1; j <= n - 2; ++j) {
      const double value = rhs[to_index(i * n + j)];
      NEUROP_CHECK(std::isfinite(value), ValueError,
                   "DiffusionMultigrid::solve: right-hand side f = {} at grid point (i, j) = ({}, {}); f must be "
                   "finite",
                   value, i, j);
      b[interior_index(n, i, j)] = value;
    }
  }

  Eigen::VectorXd x = Eigen::VectorXd::Zero(b.size());
  MultigridStatus status;
  if (b.norm() == 0.0) {
    // u = 0 solves the problem exactly.
    status.converged = true;
  } else if (levels_.size() == 1) {
    x = coarse_solver_.solve(b);
    status.iterations = 1;
    Eigen::VectorXd residual(b.size());
    compute_residual(levels_[0].matrix, b, x, residual);
    status.relative_residual = residual.norm() / b.norm();
  } else if (options_.method == MultigridMethod::v_cycle) {
    status = solve_with_v_cycles(b, x);
  } else {
    status = solve_with_cg(b, x);
  }
  if (b.norm() != 0.0) {
    status.converged =
        std::isfinite(status.relative_residual) && status.relative_residual <= options_.relative_tolerance;
  }

  std::fill(solution.begin(), solution.end(), 0.0);
  for (std::int64_t i = 1; i <= n - 2; ++i) {
    for (std::int64_t j = 1; j <= n - 2; ++j) solution[to_index(i * n + j)] = x[interior_index(n, i, j)];
  }
  return status;
}

}  // namespace neurop::solvers
