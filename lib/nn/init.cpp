#include "lib/nn/init.hpp"

#include <cmath>

namespace neurop::nn {

void uniform_(Tensor& t, double low, double high, Rng& rng) {
  std::vector<double> values(static_cast<std::size_t>(t.numel()));
  for (double& v : values) v = rng.uniform(low, high);
  t.copy_(Tensor::from_vector(values, t.shape(), t.dtype()));
}

void normal_(Tensor& t, double mean, double std, Rng& rng) {
  std::vector<double> values(static_cast<std::size_t>(t.numel()));
  for (double& v : values) v = mean + std * rng.normal();
  t.copy_(Tensor::from_vector(values, t.shape(), t.dtype()));
}

void fan_in_uniform_(Tensor& t, std::int64_t fan_in, Rng& rng) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  uniform_(t, -bound, bound, rng);
}

}  // namespace neurop::nn
