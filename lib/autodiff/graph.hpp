// The dynamic autodiff graph and the reverse-mode engine.
//
// Each differentiable operation that runs while gradient recording is on (GradMode)
// and has an input that requires gradients creates a Node. The node keeps its input
// tensors (not its output, so the graph has no cycles) and computes the gradients
// with respect to them from the gradient of its one output.
//
// A node's backward() is written with differentiable tensor operations. The engine
// runs it with recording off for an ordinary backward pass and on when the caller
// asks for create_graph, so the gradients themselves become differentiable: this is
// how gradients of gradients (Jacobian penalties, physics-informed losses) work.
// Nodes may take a faster fused path when GradMode::enabled() is false.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lib/tensor/tensor.hpp"

namespace neurop {

// Thread-local switch for recording operations into the graph.
class GradMode {
public:
  static bool enabled();
  static void set_enabled(bool enabled);
};

// Sets GradMode for the lifetime of the guard and restores the previous value.
class GradModeGuard {
public:
  explicit GradModeGuard(bool enabled) : previous_(GradMode::enabled()) { GradMode::set_enabled(enabled); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;
  ~GradModeGuard() { GradMode::set_enabled(previous_); }

private:
  bool previous_;
};

// Turns recording off, for inference and in-place parameter updates.
class NoGradGuard : public GradModeGuard {
public:
  NoGradGuard() : GradModeGuard(false) {}
};

// Where the gradient of one node input goes: to the node that produced the input,
// or, for a leaf that requires gradients, into the leaf itself.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool defined() const { return node != nullptr || leaf != nullptr; }
};

class Node {
public:
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Short name for error messages, e.g. "matmul".
  virtual const char* name() const = 0;
  // Returns one gradient per input (an undefined Tensor where an input needs none),
  // given the gradient of the output. Shapes equal the input shapes.
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;

  bool needs_input_grad(std::size_t input) const { return input < edges_.size() && edges_[input].defined(); }
  const std::vector<Edge>& edges() const { return edges_; }
  std::uint64_t sequence() const { return sequence_; }

  // Connects the node to the producers of `inputs`; called by record().
  void connect(const std::vector<Tensor>& inputs);

  Shape output_shape;
  DType output_dtype = DType::f32;

private:
  std::vector<Edge> edges_;
  std::uint64_t sequence_;
};

// True when an operation on `inputs` must be recorded.
bool needs_graph(const std::vector<Tensor>& inputs);
inline bool needs_graph(const Tensor& a) { return GradMode::enabled() && a.defined() && a.requires_grad(); }
inline bool needs_graph(const Tensor& a, const Tensor& b) { return needs_graph(std::vector<Tensor>{a, b}); }

// Makes `node` the grad_fn of `output` (which must be a fresh tensor) and connects it
// to `inputs`. Returns output.
Tensor record(Tensor output, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs);

// Accumulates d(sum_i <outputs_i, grad_outputs_i>)/d(leaf) into the .grad() of every
// leaf that requires gradients. An undefined grad_output means ones for a
// one-element output.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool create_graph = false);

// Returns d(sum_i <outputs_i, grad_outputs_i>)/d(inputs_j) for each input without
// touching any .grad(). With create_graph the results are differentiable.
// An input that the outputs do not depend on gets an undefined tensor when
// allow_unused is true and raises ValueError otherwise.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool create_graph = false,
                         bool allow_unused = false);

}  // namespace neurop
