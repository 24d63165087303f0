// Parameter initialisers drawing from neurop::Rng, so that a seed fixes the weights.
#pragma once

#include "lib/core/random.hpp"
#include "lib/tensor/tensor.hpp"

namespace neurop::nn {

// Fills `t` in place with independent U[low, high) values, in row-major order.
void uniform_(Tensor& t, double low, double high, Rng& rng);
// Fills `t` in place with independent N(mean, std^2) values, in row-major order.
void normal_(Tensor& t, double mean, double std, Rng& rng);
// PyTorch's default for Linear and ConvNd weights and biases: kaiming_uniform with
// a = sqrt(5) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void fan_in_uniform_(Tensor& t, std::int64_t fan_in, Rng& rng);

}  // namespace neurop::nn
