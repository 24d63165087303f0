// First-order optimizers over a list of parameter tensors.
//
// Complex parameters are stored as real tensors with a trailing (real, imaginary)
// axis, so every optimizer treats a complex weight as two independent real
// parameters: Adam normalises the real and imaginary parts separately. (The other
// convention, a second moment of |g|^2, gives steps parallel to g instead.)
//
// step() reads each parameter's .grad() (parameters without a gradient are skipped)
// and updates the values in place. State tensors have the parameter's shape and
// dtype; the update arithmetic runs in float64.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lib/tensor/tensor.hpp"

namespace neurop::optim {

class Optimizer {
public:
  explicit Optimizer(std::vector<Tensor> parameters, double learning_rate);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual void step() = 0;
  virtual const char* name() const = 0;
  void zero_grad();

  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double rate);
  std::int64_t steps() const { return steps_; }

  // State for checkpoints: per parameter index, named state tensors; plus the step count.
  std::vector<std::map<std::string, Tensor>>& state() { return state_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }
  const std::vector<Tensor>& parameters() const { return parameters_; }

protected:
  std::vector<Tensor> parameters_;
  std::vector<std::map<std::string, Tensor>> state_;
  double learning_rate_;
  std::int64_t steps_ = 0;
  Tensor& state_tensor(std::size_t index, const std::string& key);
};

struct SgdOptions {
  double learning_rate = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2 penalty added to the gradient
  bool nesterov = false;
};

// SGD with momentum as in torch.optim.SGD:
//   g <- g + wd w;  b <- mu b + (1 - dampening) g (b = g on the first step);
//   d = g + mu b (Nesterov) or b;  w <- w - lr d.
class Sgd : public Optimizer {
public:
  Sgd(std::vector<Tensor> parameters, const SgdOptions& options);
  void step() override;
  const char* name() const override { return "SGD"; }

private:
  SgdOptions options_;
};

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  // Adam: L2 penalty added to the gradient (torch.optim.Adam). AdamW: decoupled decay
  // w <- w (1 - lr wd) before the Adam step (torch.optim.AdamW).
  double weight_decay = 0.0;
};

// Adam (Kingma & Ba 2015) with bias correction:
//   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
//   w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
class Adam : public Optimizer {
public:
  Adam(std::vector<Tensor> parameters, const AdamOptions& options, bool decoupled_weight_decay = false);
  void step() override;
  const char* name() const override { return decoupled_ ? "AdamW" : "Adam"; }

private:
  AdamOptions options_;
  bool decoupled_;
};

// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019).
class AdamW : public Adam {
public:
  AdamW(std::vector<Tensor> parameters, const AdamOptions& options) : Adam(std::move(parameters), options, true) {}
};

}  // namespace neurop::optim
