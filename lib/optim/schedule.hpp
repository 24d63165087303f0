// Learning-rate schedules: rate(t) for t = 0, 1, ... counted in epochs or in steps,
// whichever the caller advances.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace neurop::optim {

class Schedule {
public:
  virtual ~Schedule() = default;
  virtual double rate(std::int64_t t) const = 0;
  virtual std::string describe() const = 0;
};

class ConstantSchedule : public Schedule {
public:
  explicit ConstantSchedule(double rate);
  double rate(std::int64_t) const override { return rate_; }
  std::string describe() const override;

private:
  double rate_;
};

// base * gamma^floor(t / step_size), as torch.optim.lr_scheduler.StepLR.
class StepSchedule : public Schedule {
public:
  StepSchedule(double base, std::int64_t step_size, double gamma);
  double rate(std::int64_t t) const override;
  std::string describe() const override;

private:
  double base_;
  std::int64_t step_size_;
  double gamma_;
};

// min + (base - min) (1 + cos(pi t / total)) / 2 for t <= total, min after, as
// torch.optim.lr_scheduler.CosineAnnealingLR without restarts.
class CosineSchedule : public Schedule {
public:
  CosineSchedule(double base, std::int64_t total, double minimum = 0.0);
  double rate(std::int64_t t) const override;
  std::string describe() const override;

private:
  double base_;
  std::int64_t total_;
  double minimum_;
};

// One-cycle policy as torch.optim.lr_scheduler.OneCycleLR with cosine annealing:
// from max / div_factor up to max over the first pct_start of `total`, then down
// to max / (div_factor * final_div_factor).
class OneCycleSchedule : public Schedule {
public:
  OneCycleSchedule(double maximum, std::int64_t total, double pct_start = 0.3, double div_factor = 25.0,
                   double final_div_factor = 1e4);
  double rate(std::int64_t t) const override;
  std::string describe() const override;

private:
  double maximum_;
  std::int64_t total_;
  double pct_start_, div_factor_, final_div_factor_;
};

}  // namespace neurop::optim
