// Error conventions for neurop.
//
// Two kinds of failure (see docs/architecture.md):
//  - a caller mistake (wrong shape, dtype, range, file, option) throws one of the
//    exceptions below; the message names the function, the value received, the
//    value expected and what to do;
//  - a numerical outcome (a solve that did not converge, a loss that became NaN)
//    is returned as a status by the routine that produced it.
// Internal invariants use NEUROP_ASSERT, which is compiled out in release builds.
#pragma once

#include <cassert>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace neurop {

// Invalid argument: a value, option or configuration that can never work.
class ValueError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

// Tensor shapes or dtypes that do not fit an operation.
class ShapeError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

// A file that is missing, unreadable, corrupt or laid out differently than declared.
class FileError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Data that is well-formed but unusable, such as NaN or infinite values.
class DataError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

}  // namespace neurop

// Throws `Exception` with a fmt-formatted message when `cond` is false. Always on.
#define NEUROP_CHECK(cond, Exception, ...)                 \
  do {                                                     \
    if (!(cond)) throw Exception(fmt::format(__VA_ARGS__)); \
  } while (false)

// Internal invariant; a failure is a bug in neurop, not in the caller's input.
#define NEUROP_ASSERT(cond) assert(cond)
