// Sobolev (H1) losses for operators on uniform grids, as MgNO trains with.
//
// The discrete H1 norm of u [B, C, S_1..S_d] on a grid of spacing h (the same on every
// axis) uses forward differences between neighbouring points:
//   |u|^2_{H1,h} = h^d [ sum_points u^2 + sum_axes sum_edges ((u_{i+1} - u_i) / h)^2 ],
// summed over channels, per sample. For a smooth u that vanishes on the boundary of
// the unit square this approximates ||u||^2_{L2} + ||grad u||^2_{L2} with O(h^2) error
// (the difference quotient is second-order accurate at the edge midpoint, and the sums
// are trapezoidal rules whose end corrections vanish with u). Boundary edges are not
// wrapped, so the norm treats every grid as non-periodic.
//
// The relative H1 error is |p - y|_{H1,h} / |y|_{H1,h}; the factor h^d cancels, so
// only the weight of the gradient part against the value part depends on h.
// NOTE: the reference MgNO code (utilities3.py, HsLoss) computes its H1 loss in Fourier
// space instead, weighting coefficients by sqrt(1 + kx^2 + ky^2) with integer
// wavenumbers truncated below 20 and a periodic extension of the grid. That weights
// the squared gradient by about 1 / (2 pi)^2 against this form, so the two H1 losses
// differ in scale and are not interchangeable as reported numbers.
#pragma once

#include "lib/tensor/tensor.hpp"

namespace neurop::mgno {

// |u|^2_{H1,h} per sample: u [B, C, S_1..S_d] (d >= 1) -> [B]. Throws ValueError for
// h <= 0 and ShapeError for rank < 3.
Tensor h1_squared_norm_per_sample(const Tensor& u, double spacing);

// |p - y|_{H1,h} / |y|_{H1,h} per sample -> [B]. Throws ShapeError when the shapes
// differ and DataError when a target has zero norm (the ratio is undefined).
Tensor relative_h1_per_sample(const Tensor& pred, const Tensor& target, double spacing);

}  // namespace neurop::mgno
