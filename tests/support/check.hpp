// The one tolerance helper of the test suites.
//
// A check passes when |actual - expected| <= abs + rel * |expected|. Tolerances have
// names that say which precision they belong to; a test that needs another value
// builds a Tolerance inline and states why in a comment beside it.
#pragma once

#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>

namespace neurop::testing {

struct Tolerance {
  double abs;
  double rel;
};

// Round-off of a short chain of float64 operations.
inline constexpr Tolerance kF64Tight{1e-12, 1e-12};
// float64 results after many operations (FFTs, long sums, solvers at machine precision).
inline constexpr Tolerance kF64Loose{1e-9, 1e-9};
// Round-off of a short chain of float32 operations.
inline constexpr Tolerance kF32Tight{1e-6, 1e-5};
// float32 results after many operations.
inline constexpr Tolerance kF32Loose{1e-4, 1e-4};

template <typename T>
constexpr Tolerance tight_tolerance() {
  return std::is_same_v<T, float> ? kF32Tight : kF64Tight;
}

inline bool is_close(double actual, double expected, Tolerance tolerance) {
  if (std::isnan(actual) || std::isnan(expected)) return false;
  return std::abs(actual - expected) <= tolerance.abs + tolerance.rel * std::abs(expected);
}

inline std::string describe_mismatch(double actual, double expected, Tolerance tolerance) {
  return fmt::format("actual {:.17g}, expected {:.17g}, difference {:.3g}, allowed {:.3g}", actual, expected,
                     std::abs(actual - expected), tolerance.abs + tolerance.rel * std::abs(expected));
}

// The message of the exception that f throws, or an empty string when f returns.
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

}  // namespace neurop::testing

// Checks that two numbers agree within a Tolerance; prints both on failure.
#define CHECK_CLOSE(actual, expected, tolerance)                                                             \
  do {                                                                                                       \
    const double neurop_actual_ = static_cast<double>(actual);                                               \
    const double neurop_expected_ = static_cast<double>(expected);                                           \
    CHECK_MESSAGE(::neurop::testing::is_close(neurop_actual_, neurop_expected_, tolerance),                  \
                  ::neurop::testing::describe_mismatch(neurop_actual_, neurop_expected_, tolerance));        \
  } while (false)

#define REQUIRE_CLOSE(actual, expected, tolerance)                                                           \
  do {                                                                                                       \
    const double neurop_actual_ = static_cast<double>(actual);                                               \
    const double neurop_expected_ = static_cast<double>(expected);                                           \
    REQUIRE_MESSAGE(::neurop::testing::is_close(neurop_actual_, neurop_expected_, tolerance),                \
                    ::neurop::testing::describe_mismatch(neurop_actual_, neurop_expected_, tolerance));      \
  } while (false)
