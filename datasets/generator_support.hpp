// Helpers shared by the DeepONet data generators (internal to datasets/).
#pragma once

#include <cstdint>
#include <exception>
#include <limits>
#include <map>
#include <string>

#include "datasets/function_space.hpp"

namespace neurop::data::detail {

// Calls body(i) for i in [0, count) on OpenMP threads. body must write only to the
// storage of sample i and draw its random numbers from Rng::stream(seed, i), so the
// result does not depend on the thread count. An exception thrown by body does not
// escape the parallel region (that would call std::terminate): the one from the
// lowest sample index is rethrown after the loop, so the error is reproducible.
template <typename Body>
void parallel_for_samples(std::int64_t count, Body&& body) {
  std::exception_ptr error;
  std::int64_t error_index = std::numeric_limits<std::int64_t>::max();
#pragma omp parallel for schedule(dynamic, 4)
  for (std::int64_t i = 0; i < count; ++i) {
    try {
      body(i);
    } catch (...) {
#pragma omp critical(neurop_parallel_for_samples)
      {
        if (i < error_index) {
          error_index = i;
          error = std::current_exception();
        }
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

// Records the function space in generator parameters: "space" = its name and
// "space_<key>" for each of its settings.
inline void add_space_parameters(const FunctionSpace& space, std::map<std::string, Attribute>& parameters) {
  parameters["space"] = space.name();
  for (const auto& [key, value] : space.parameters()) parameters["space_" + key] = value;
}

}  // namespace neurop::data::detail
