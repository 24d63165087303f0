#include "lib/nn/module.hpp"

#include "lib/core/error.hpp"

namespace neurop::nn {

void Module::register_parameter(const std::string& name, Tensor& parameter) {
  NEUROP_CHECK(parameter.defined(), ValueError, "Module: parameter '{}' is undefined; create it before registering",
               name);
  for (const auto& [existing, pointer] : parameters_)
    NEUROP_CHECK(existing != name, ValueError, "Module: parameter '{}' registered twice", name);
  parameter.set_requires_grad(true);
  parameters_.emplace_back(name, &parameter);
}

void Module::register_module(const std::string& name, Module& child) {
  for (const auto& [existing, pointer] : children_)
    NEUROP_CHECK(existing != name, ValueError, "Module: child module '{}' registered twice", name);
  children_.emplace_back(name, &child);
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) const {
  for (const auto& [name, pointer] : parameters_) out.emplace_back(prefix + name, pointer);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor*>> pointers;
  collect("", pointers);
  std::vector<std::pair<std::string, Tensor>> result;
  result.reserve(pointers.size());
  for (const auto& [name, pointer] : pointers) result.emplace_back(name, *pointer);
  return result;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> result;
  for (const auto& [name, tensor] : named_parameters()) result.push_back(tensor);
  return result;
}

std::int64_t Module::parameter_count() const {
  std::int64_t count = 0;
  for (const auto& [name, tensor] : named_parameters()) count += tensor.numel();
  return count;
}

void Module::zero_grad() {
  for (auto& [name, tensor] : named_parameters()) tensor.zero_grad();
}

void Module::to(DType dtype) {
  std::vector<std::pair<std::string, Tensor*>> pointers;
  collect("", pointers);
  for (const auto& [name, pointer] : pointers) {
    if (pointer->dtype() == dtype) continue;
    Tensor converted = pointer->detach().to(dtype);
    converted.set_requires_grad(true);
    *pointer = converted;
  }
}

DType Module::dtype() const {
  const auto params = named_parameters();
  return params.empty() ? DType::f32 : params.front().second.dtype();
}

}  // namespace neurop::nn
