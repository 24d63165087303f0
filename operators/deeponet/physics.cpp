#include "operators/deeponet/physics.hpp"

#include "lib/autodiff/graph.hpp"
#include "lib/core/error.hpp"
#include "lib/tensor/ops.hpp"

namespace neurop::deeponet {

namespace {

// y itself when it requires gradients (a caller differentiating through it), otherwise
// a leaf copy that does.
Tensor differentiable_queries(const Tensor& y) {
  if (y.requires_grad()) return y;
  Tensor leaf = y.detach().clone();
  leaf.set_requires_grad(true);
  return leaf;
}

OutputAndGradient aligned_output_and_gradient(const DeepOnet& model, const Tensor& u, const Tensor& y) {
  NEUROP_CHECK(y.ndim() == 3, ShapeError, "output_and_gradient: the aligned form takes queries [B, P, d], got {}",
               shape_string(y.shape()));
  const Tensor points = differentiable_queries(y);
  OutputAndGradient result;
  result.value = model.forward_aligned(u, points);
  // d(sum_bi s[b, i])/dy[b, i, :] = ds[b, i]/dy[b, i, :], since s[b, i] depends on y[b, i, :] only.
  result.gradient = grad({result.value}, {points}, {Tensor::ones(result.value.shape(), result.value.dtype())},
                         /*create_graph=*/true)[0];
  return result;
}

OutputAndGradient product_output_and_gradient(const DeepOnet& model, const Tensor& u, const Tensor& y) {
  NEUROP_CHECK(y.ndim() == 2, ShapeError,
               "output_and_gradient: the Cartesian product form takes queries [n, d], got {}", shape_string(y.shape()));
  const std::int64_t p = model.latent_width(), n = y.size(0), d = y.size(1);
  // One copy of the points per trunk feature: [p, n, d].
  Tensor copies = broadcast_to(reshape(y, {1, n, d}), {p, n, d});
  if (!copies.requires_grad()) copies = differentiable_queries(copies);
  const Tensor features = model.trunk_features(copies);  // [p, n, p]
  // selector[k, i, k'] = [k == k'] picks feature k of copy k.
  std::vector<double> identity(static_cast<std::size_t>(p * p), 0.0);
  for (std::int64_t k = 0; k < p; ++k) identity[static_cast<std::size_t>(k * p + k)] = 1.0;
  const Tensor selector = broadcast_to(Tensor::from_vector(identity, {p, 1, p}, features.dtype()), {p, n, p});
  // J[k, i, j] = d t_k(y_i) / d y_ij: [p, n, d]
  const Tensor jacobian = grad({features}, {copies}, {selector}, /*create_graph=*/true)[0];

  const Tensor branch = model.branch_features(u);  // [B, p]
  const Tensor trunk = reshape(slice(features, 0, 0, 1), {n, p});
  OutputAndGradient result;
  result.value = combine_product(branch, trunk, model.bias);
  // ds/dy[b, i, j] = sum_k br[b, k] J[k, i, j]: [B, p] x [p, n d] -> [B, n, d]
  result.gradient = reshape(matmul(branch, reshape(jacobian, {p, n * d})), {u.size(0), n, d});
  return result;
}

}  // namespace

OutputAndGradient output_and_gradient(const DeepOnet& model, const Tensor& u, const Tensor& y, Form form) {
  NEUROP_CHECK(model.options().outputs == 1, ValueError,
               "output_and_gradient: the model has {} outputs; derivatives are taken for single-output models",
               model.options().outputs);
  return form == Form::cartesian_product ? product_output_and_gradient(model, u, y)
                                         : aligned_output_and_gradient(model, u, y);
}

Ode parse_ode(const std::string& name) {
  if (name == "antiderivative") return Ode::antiderivative;
  if (name == "nonlinear-ode") return Ode::nonlinear;
  throw ValueError(fmt::format("unknown equation '{}'; expected antiderivative or nonlinear-ode", name));
}

const char* ode_name(Ode ode) { return ode == Ode::antiderivative ? "antiderivative" : "nonlinear-ode"; }

PhysicsLossTerms ode_residual_loss(const DeepOnet& model, Ode ode, const Tensor& u, const Tensor& x,
                                   const Tensor& u_at_x, double x0, Form form, double initial_weight) {
  NEUROP_CHECK(model.query_dims() == 1, ValueError,
               "ode_residual_loss: the model takes {}-dimensional queries; the ODE losses need d = 1",
               model.query_dims());
  const bool product = form == Form::cartesian_product;
  const Shape expected_values = product ? Shape{u.size(0), x.size(0)} : Shape{x.size(0), x.size(1)};
  const bool shapes_fit = x.ndim() == (product ? 2 : 3) && x.size(-1) == 1 && u_at_x.shape() == expected_values;
  NEUROP_CHECK(shapes_fit, ShapeError,
               "ode_residual_loss: expected collocation points x {} and input values u(x) [B, P] for the {} form, got "
               "{} and {}",
               product ? "[P, 1]" : "[B, P, 1]", form_name(form), shape_string(x.shape()),
               shape_string(u_at_x.shape()));
  const OutputAndGradient s = output_and_gradient(model, u, x, form);
  // r = ds/dx - f(s, u):  f = u (antiderivative) or -s^2 + u (nonlinear)
  Tensor residual = sub(reshape(s.gradient, u_at_x.shape()), u_at_x);
  if (ode == Ode::nonlinear) residual = add(residual, square(s.value));
  const Tensor residual_loss = mean(square(residual));

  // s_b(x_0) for every function: aligned queries [B, 1]
  const Tensor start = Tensor::full({u.size(0), 1}, x0, u.dtype());
  const Tensor initial_loss = mean(square(model.forward_aligned(u, start)));

  PhysicsLossTerms terms;
  terms.total = add(residual_loss, affine(initial_loss, initial_weight, 0.0));
  terms.residual = residual_loss.item();
  terms.initial = initial_loss.item();
  return terms;
}

}  // namespace neurop::deeponet
