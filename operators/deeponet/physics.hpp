// Physics-informed DeepONet training (Wang, Wang and Perdikaris, "Learning the solution
// operator of parametric partial differential equations with physics-informed
// DeepONets", Science Advances 7, 2021). The loss penalises the residual of the
// governing equation in place of (or besides) a misfit to solution data. The residual
// uses derivatives of the model output with respect to the trunk coordinates.
//
// The derivatives come from reverse mode with create_graph = true, so they stay
// differentiable and the training step's backward pass differentiates through them (a
// gradient of a gradient):
//   aligned form  with the queries y [B, P, d] as a leaf, grad(s, y, ones) returns
//                 ds/dy at every point, because s[b, i] depends on y[b, i, :] alone;
//   product form  s[b, i] = sum_k br[b, k] t_k(y_i) + b0 needs only the trunk Jacobian
//                 dt_k/dy at the n shared points. The trunk runs on p copies of the
//                 points [p, n, d], and one grad call with grad_outputs selecting feature
//                 k of copy k returns J[k, i, :] = dt_k(y_i)/dy. Then
//                 ds/dy[b, i, :] = sum_k br[b, k] J[k, i, :], one matrix product. The
//                 cost grows with p n and not with the number of functions B.
#pragma once

#include <cstdint>
#include <string>

#include "operators/deeponet/deeponet.hpp"

namespace neurop::deeponet {

struct OutputAndGradient {
  Tensor value;     // s [B, P]
  Tensor gradient;  // ds/dy [B, P, d]
};

// Evaluates a single-output model at the queries y and returns s and ds/dy, both with a
// graph back to the parameters (and to y when y requires gradients). Shapes: product
// form y [n, d] -> s [B, n], ds/dy [B, n, d]; aligned form y [B, P, d] -> s [B, P],
// ds/dy [B, P, d]. Throws ValueError for a model with several outputs and ShapeError
// for queries of another rank.
OutputAndGradient output_and_gradient(const DeepOnet& model, const Tensor& u, const Tensor& y, Form form);

// First-order ODEs ds/dx = f(s, u(x)) with s(x_0) = 0 on an interval, x_0 its left end.
enum class Ode {
  antiderivative,  // ds/dx = u(x)
  nonlinear,       // ds/dx = -s^2 + u(x)
};

// Parses "antiderivative" or "nonlinear-ode"; throws ValueError listing both otherwise.
Ode parse_ode(const std::string& name);
const char* ode_name(Ode ode);

struct PhysicsLossTerms {
  Tensor total;           // residual + initial_weight * initial (scalar, with a graph)
  double residual = 0.0;  // mean over points of (ds/dx - f(s, u))^2
  double initial = 0.0;   // mean over functions of s(x_0)^2
};

// Physics-informed loss of a one-dimensional model (d = 1, one output) for `ode`:
//   mean_{b,i} (ds/dx(x_bi) - f(s(x_bi), u_b(x_bi)))^2 + initial_weight mean_b s_b(x_0)^2
// u [B, m] are the branch inputs and u_at_x [B, P] the input functions' values at the
// collocation points x: [P, 1] shared by all functions (product form) or [B, P, 1]
// (aligned form). x0 is the left end of the interval. No solution values enter the
// loss. Throws ShapeError for inconsistent shapes.
PhysicsLossTerms ode_residual_loss(const DeepOnet& model, Ode ode, const Tensor& u, const Tensor& x,
                                   const Tensor& u_at_x, double x0, Form form, double initial_weight = 1.0);

}  // namespace neurop::deeponet
