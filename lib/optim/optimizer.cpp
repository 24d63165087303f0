#include "lib/optim/optimizer.hpp"

#include <cmath>

#include "lib/autodiff/graph.hpp"
#include "lib/core/error.hpp"
#include "lib/tensor/kernels.hpp"

namespace neurop::optim {

Optimizer::Optimizer(std::vector<Tensor> parameters, double learning_rate)
    : parameters_(std::move(parameters)), state_(parameters_.size()), learning_rate_(learning_rate) {
  NEUROP_CHECK(!parameters_.empty(), ValueError, "optimizer: no parameters given");
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    NEUROP_CHECK(parameters_[i].defined() && parameters_[i].is_leaf(), ValueError,
                 "optimizer: parameter {} is not a leaf tensor; pass the model's parameters()", i);
  }
  set_learning_rate(learning_rate);
}

void Optimizer::set_learning_rate(double rate) {
  NEUROP_CHECK(std::isfinite(rate) && rate >= 0.0, ValueError,
               "optimizer: learning rate must be finite and >= 0, got {}", rate);
  learning_rate_ = rate;
}

void Optimizer::zero_grad() {
  for (Tensor& p : parameters_) p.zero_grad();
}

Tensor& Optimizer::state_tensor(std::size_t index, const std::string& key) {
  Tensor& t = state_[index][key];
  if (!t.defined()) t = Tensor::zeros(parameters_[index].shape(), parameters_[index].dtype());
  return t;
}

Sgd::Sgd(std::vector<Tensor> parameters, const SgdOptions& options)
    : Optimizer(std::move(parameters), options.learning_rate), options_(options) {
  NEUROP_CHECK(options.momentum >= 0.0 && options.weight_decay >= 0.0, ValueError,
               "SGD: momentum and weight_decay must be >= 0, got {} and {}", options.momentum, options.weight_decay);
  NEUROP_CHECK(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0), ValueError,
               "SGD: Nesterov momentum needs momentum > 0 and dampening = 0");
}

void Sgd::step() {
  NoGradGuard no_grad;
  const bool first = steps_ == 0;
  ++steps_;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = parameters_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor* buffer = options_.momentum > 0.0 ? &state_tensor(i, "momentum") : nullptr;
    dispatch(p.dtype(), [&]<typename T>() {
      T* w = p.data<T>();
      const T* grad = g.data<T>();
      T* b = buffer ? buffer->data<T>() : nullptr;
      const double lr = learning_rate_, mu = options_.momentum, wd = options_.weight_decay;
      for (std::int64_t j = 0; j < p.numel(); ++j) {
        double d = static_cast<double>(grad[j]) + wd * static_cast<double>(w[j]);
        if (b) {
          const double previous = static_cast<double>(b[j]);
          const double updated = first ? d : mu * previous + (1.0 - options_.dampening) * d;
          b[j] = static_cast<T>(updated);
          d = options_.nesterov ? d + mu * updated : updated;
        }
        w[j] = static_cast<T>(static_cast<double>(w[j]) - lr * d);
      }
    });
  }
}

Adam::Adam(std::vector<Tensor> parameters, const AdamOptions& options, bool decoupled_weight_decay)
    : Optimizer(std::move(parameters), options.learning_rate), options_(options), decoupled_(decoupled_weight_decay) {
  NEUROP_CHECK(options.beta1 >= 0.0 && options.beta1 < 1.0 && options.beta2 >= 0.0 && options.beta2 < 1.0, ValueError,
               "{}: betas must lie in [0, 1), got ({}, {})", name(), options.beta1, options.beta2);
  NEUROP_CHECK(options.eps > 0.0 && options.weight_decay >= 0.0, ValueError,
               "{}: eps must be > 0 and weight_decay >= 0, got {} and {}", name(), options.eps,
               options.weight_decay);
}

void Adam::step() {
  NoGradGuard no_grad;
  ++steps_;
  const double t = static_cast<double>(steps_);
  const double correction1 = 1.0 - std::pow(options_.beta1, t);
  const double correction2 = 1.0 - std::pow(options_.beta2, t);
  const double lr = learning_rate_, b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps;
  const double wd = options_.weight_decay;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = parameters_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor& first = state_tensor(i, "exp_avg");
    Tensor& second = state_tensor(i, "exp_avg_sq");
    dispatch(p.dtype(), [&]<typename T>() {
      // Computed in the parameter's precision, as PyTorch does:
      //   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
      //   w -= (lr / c1) m / (sqrt(v) / sqrt(c2) + eps),  c_i = 1 - b_i^t.
      const T step_size = static_cast<T>(lr / correction1), inverse_root = static_cast<T>(1.0 / std::sqrt(correction2));
      const T beta1 = static_cast<T>(b1), beta2 = static_cast<T>(b2), epsilon = static_cast<T>(eps);
      const T decay = static_cast<T>(wd), shrink = static_cast<T>(1.0 - lr * wd);
      const bool coupled_decay = !decoupled_ && wd != 0.0;
      detail::parallel_chunks(p.numel(), [&](std::int64_t begin, std::int64_t end) {
        const std::int64_t count = end - begin;
        detail::ArrayMap<T> weight(p.data<T>() + begin, count), m(first.data<T>() + begin, count),
            v(second.data<T>() + begin, count);
        const detail::ConstArrayMap<T> grad(g.data<T>() + begin, count);
        if (decoupled_) weight *= shrink;
        if (coupled_decay) {
          m = beta1 * m + (1 - beta1) * (grad + decay * weight);
          v = beta2 * v + (1 - beta2) * (grad + decay * weight).square();
        } else {
          m = beta1 * m + (1 - beta1) * grad;
          v = beta2 * v + (1 - beta2) * grad.square();
        }
        weight -= step_size * m / (v.sqrt() * inverse_root + epsilon);
      });
    });
  }
}

}  // namespace neurop::optim
