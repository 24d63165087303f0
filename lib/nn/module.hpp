// Base class for layers and models: a named tree of parameters.
//
// A Module owns its parameters as Tensor members and registers pointers to them, so
// modules are neither copyable nor movable; hold them by value as members or by
// std::shared_ptr. Parameter names are dotted paths ("layers.0.weight") that
// checkpoints use as keys.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lib/tensor/tensor.hpp"

namespace neurop::nn {

class Module {
public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // Parameters in registration order, children after their parent's own.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::int64_t parameter_count() const;
  // Drops every parameter's accumulated gradient.
  void zero_grad();
  // Converts every parameter to `dtype` (new leaf tensors that require gradients).
  void to(DType dtype);
  DType dtype() const;

protected:
  // Registers `parameter` (a member of the derived class) under `name` and marks it
  // as requiring gradients.
  void register_parameter(const std::string& name, Tensor& parameter);
  void register_module(const std::string& name, Module& child);

private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) const;
  std::vector<std::pair<std::string, Tensor*>> parameters_;
  std::vector<std::pair<std::string, Module*>> children_;
};

}  // namespace neurop::nn
