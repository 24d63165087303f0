#include "lib/optim/schedule.hpp"

#include <cmath>
#include <numbers>

#include "lib/core/error.hpp"

namespace neurop::optim {
namespace {

void check_rate(const char* name, double rate) {
  NEUROP_CHECK(std::isfinite(rate) && rate >= 0.0, ValueError, "{}: learning rate must be finite and >= 0, got {}",
               name, rate);
}

// Cosine interpolation from `start` (fraction 0) to `end` (fraction 1).
double cosine_between(double start, double end, double fraction) {
  return end + (start - end) * 0.5 * (1.0 + std::cos(std::numbers::pi * fraction));
}

}  // namespace

ConstantSchedule::ConstantSchedule(double rate) : rate_(rate) { check_rate("constant schedule", rate); }

std::string ConstantSchedule::describe() const { return fmt::format("constant {}", rate_); }

StepSchedule::StepSchedule(double base, std::int64_t step_size, double gamma)
    : base_(base), step_size_(step_size), gamma_(gamma) {
  check_rate("step schedule", base);
  NEUROP_CHECK(step_size >= 1 && gamma > 0.0, ValueError,
               "step schedule: step size must be >= 1 and gamma > 0, got {} and {}", step_size, gamma);
}

double StepSchedule::rate(std::int64_t t) const {
  return base_ * std::pow(gamma_, static_cast<double>(t / step_size_));
}

std::string StepSchedule::describe() const {
  return fmt::format("step: {} x {}^floor(t / {})", base_, gamma_, step_size_);
}

CosineSchedule::CosineSchedule(double base, std::int64_t total, double minimum)
    : base_(base), total_(total), minimum_(minimum) {
  check_rate("cosine schedule", base);
  check_rate("cosine schedule minimum", minimum);
  NEUROP_CHECK(total >= 1, ValueError, "cosine schedule: total must be >= 1, got {}", total);
}

double CosineSchedule::rate(std::int64_t t) const {
  if (t >= total_) return minimum_;
  return cosine_between(base_, minimum_, static_cast<double>(t) / static_cast<double>(total_));
}

std::string CosineSchedule::describe() const {
  return fmt::format("cosine from {} to {} over t = 0..{}", base_, minimum_, total_);
}

OneCycleSchedule::OneCycleSchedule(double maximum, std::int64_t total, double pct_start, double div_factor,
                                   double final_div_factor)
    : maximum_(maximum), total_(total), pct_start_(pct_start), div_factor_(div_factor),
      final_div_factor_(final_div_factor) {
  check_rate("one-cycle schedule", maximum);
  NEUROP_CHECK(total >= 2 && pct_start > 0.0 && pct_start < 1.0 && div_factor > 0.0 && final_div_factor > 0.0,
               ValueError,
               "one-cycle schedule: needs total >= 2, 0 < pct_start < 1 and positive factors; got total {}, "
               "pct_start {}, div_factor {}, final_div_factor {}",
               total, pct_start, div_factor, final_div_factor);
}

double OneCycleSchedule::rate(std::int64_t t) const {
  const double initial = maximum_ / div_factor_;
  const double final_rate = initial / final_div_factor_;
  // Phase boundaries as in PyTorch: the peak is at step pct_start * total - 1.
  const double peak = pct_start_ * static_cast<double>(total_) - 1.0;
  const double last = static_cast<double>(total_) - 1.0;
  const double step = static_cast<double>(std::min(t, total_ - 1));
  if (step <= peak) return cosine_between(initial, maximum_, peak > 0.0 ? step / peak : 1.0);
  return cosine_between(maximum_, final_rate, (step - peak) / (last - peak));
}

std::string OneCycleSchedule::describe() const {
  return fmt::format("one-cycle to {} over t = 0..{} (warm-up fraction {})", maximum_, total_, pct_start_);
}

}  // namespace neurop::optim
