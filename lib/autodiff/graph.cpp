#include "lib/autodiff/graph.hpp"

#include <atomic>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "lib/tensor/ops.hpp"

namespace neurop {
namespace {

thread_local bool grad_mode_enabled = true;
std::atomic<std::uint64_t> next_sequence{0};

struct LaterFirst {
  bool operator()(const Node* a, const Node* b) const { return a->sequence() < b->sequence(); }
};

Tensor accumulate(const Tensor& sum, const Tensor& term) {
  if (!sum.defined()) return term;
  return add(sum, term);
}

Tensor default_grad_output(const Tensor& output, const Tensor& given) {
  if (given.defined()) {
    NEUROP_CHECK(given.shape() == output.shape(), ShapeError,
                 "backward: gradient of shape {} given for an output of shape {}; they must match",
                 shape_string(given.shape()), shape_string(output.shape()));
    return given;
  }
  NEUROP_CHECK(output.numel() == 1, ShapeError,
               "backward: an output of shape {} needs an explicit gradient; only one-element outputs default to 1",
               shape_string(output.shape()));
  return Tensor::ones(output.shape(), output.dtype());
}

// The engine shared by backward() and grad(). When `targets` is non-empty, only the
// gradients reaching those tensors are computed and returned; leaves' .grad() stay
// untouched. Otherwise gradients accumulate into the leaves.
std::vector<Tensor> run_engine(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                               bool create_graph, const std::vector<Tensor>& targets) {
  NEUROP_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), ValueError,
               "backward: {} gradients given for {} outputs", grad_outputs.size(), outputs.size());
  const bool capture = !targets.empty();

  // Target lookup: leaves by their impl, non-leaves by the node that produced them.
  std::unordered_map<const TensorImpl*, std::size_t> target_leaves;
  std::unordered_map<const Node*, std::size_t> target_nodes;
  for (std::size_t j = 0; j < targets.size(); ++j) {
    NEUROP_CHECK(targets[j].defined(), ValueError, "grad: input {} is an undefined tensor", j);
    NEUROP_CHECK(targets[j].requires_grad(), ValueError,
                 "grad: input {} does not require gradients; call set_requires_grad() on it before the forward pass",
                 j);
    if (targets[j].grad_fn())
      target_nodes[targets[j].grad_fn().get()] = j;
    else
      target_leaves[targets[j].impl().get()] = j;
  }
  std::vector<Tensor> captured(targets.size());

  GradModeGuard mode(create_graph);

  // Discover the reachable graph and count, for each node, how many edges feed it.
  std::unordered_map<Node*, int> pending;
  std::unordered_map<Node*, Tensor> buffers;
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& output = outputs[i];
    NEUROP_CHECK(output.defined(), ValueError, "backward: output {} is an undefined tensor", i);
    NEUROP_CHECK(output.requires_grad(), ValueError,
                 "backward: output {} does not require gradients (no parameter or input with requires_grad "
                 "contributed to it, or it was computed under NoGradGuard)",
                 i);
    const Tensor seed = default_grad_output(output, grad_outputs.empty() ? Tensor() : grad_outputs[i]);
    if (Node* node = output.grad_fn().get()) {
      buffers[node] = accumulate(buffers[node], seed);
      if (seen.insert(node).second) stack.push_back(node);
    } else {
      // The output is itself a leaf.
      if (capture) {
        auto found = target_leaves.find(output.impl().get());
        if (found != target_leaves.end()) captured[found->second] = accumulate(captured[found->second], seed);
      } else {
        Tensor(output.impl()).set_grad(accumulate(output.grad(), seed));
      }
    }
  }
  std::vector<Node*> order;
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    order.push_back(node);
    for (const Edge& edge : node->edges()) {
      if (!edge.node) continue;
      ++pending[edge.node.get()];
      if (seen.insert(edge.node.get()).second) stack.push_back(edge.node.get());
    }
  }

  // Topological order (every node after all of its consumers) by Kahn's algorithm;
  // ties go to the most recently created node, as in a reverse sweep over the tape.
  std::vector<Node*> topological;
  topological.reserve(order.size());
  {
    std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
    for (Node* node : order)
      if (pending[node] == 0) ready.push(node);
    while (!ready.empty()) {
      Node* node = ready.top();
      ready.pop();
      topological.push_back(node);
      for (const Edge& edge : node->edges())
        if (edge.node && --pending[edge.node.get()] == 0) ready.push(edge.node.get());
    }
  }

  // With targets, skip every node from which no target can be reached. Producers come
  // after consumers in `topological`, so a reverse sweep sees producers first.
  std::unordered_set<Node*> useful;
  if (capture) {
    for (auto it = topological.rbegin(); it != topological.rend(); ++it) {
      Node* node = *it;
      bool reaches = target_nodes.count(node) > 0;
      for (const Edge& edge : node->edges()) {
        if (edge.leaf && target_leaves.count(edge.leaf.get())) reaches = true;
        if (edge.node && useful.count(edge.node.get())) reaches = true;
      }
      if (reaches) useful.insert(node);
    }
  }

  for (Node* node : topological) {
    auto buffer = buffers.find(node);
    if (buffer == buffers.end()) continue;
    const Tensor grad_output = std::move(buffer->second);
    buffers.erase(buffer);

    if (capture) {
      auto found = target_nodes.find(node);
      if (found != target_nodes.end()) captured[found->second] = accumulate(captured[found->second], grad_output);
      if (!useful.count(node)) continue;
    }

    const std::vector<Tensor> input_grads = node->backward(grad_output);
    NEUROP_CHECK(input_grads.size() == node->edges().size(), ValueError,
                 "backward of '{}' returned {} gradients for {} inputs", node->name(), input_grads.size(),
                 node->edges().size());

    for (std::size_t i = 0; i < node->edges().size(); ++i) {
      const Edge& edge = node->edges()[i];
      const Tensor& gradient = input_grads[i];
      if (!gradient.defined()) continue;
      if (edge.node) {
        buffers[edge.node.get()] = accumulate(buffers[edge.node.get()], gradient);
      } else if (edge.leaf) {
        if (capture) {
          auto found = target_leaves.find(edge.leaf.get());
          if (found != target_leaves.end())
            captured[found->second] = accumulate(captured[found->second], gradient);
        } else {
          Tensor leaf(edge.leaf);
          // The first gradient is copied, because `gradient` may share storage with
          // tensors elsewhere in the graph and later accumulation must not alias it.
          leaf.set_grad(leaf.grad().defined() ? add(leaf.grad(), gradient)
                                              : (create_graph ? gradient : gradient.detach().clone()));
        }
      }
    }
  }
  return captured;
}

}  // namespace

bool GradMode::enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }

Node::Node() : sequence_(next_sequence++) {}

void Node::connect(const std::vector<Tensor>& inputs) {
  edges_.clear();
  edges_.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    if (input.defined() && input.requires_grad()) {
      if (input.grad_fn())
        edge.node = input.grad_fn();
      else
        edge.leaf = input.impl();
    }
    edges_.push_back(std::move(edge));
  }
}

bool needs_graph(const std::vector<Tensor>& inputs) {
  if (!GradMode::enabled()) return false;
  for (const Tensor& input : inputs)
    if (input.defined() && input.requires_grad()) return true;
  return false;
}

Tensor record(Tensor output, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs) {
  node->output_shape = output.shape();
  node->output_dtype = output.dtype();
  node->connect(inputs);
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
  return output;
}

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool create_graph) {
  run_engine(outputs, grad_outputs, create_graph, {});
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool create_graph, bool allow_unused) {
  NEUROP_CHECK(!inputs.empty(), ValueError, "grad: no inputs given; pass the tensors to differentiate against");
  std::vector<Tensor> result = run_engine(outputs, grad_outputs, create_graph, inputs);
  for (std::size_t j = 0; j < result.size(); ++j) {
    if (result[j].defined()) continue;
    NEUROP_CHECK(allow_unused, ValueError,
                 "grad: the outputs do not depend on input {} (shape {}); pass allow_unused = true to get an "
                 "undefined tensor instead",
                 j, shape_string(inputs[j].shape()));
  }
  return result;
}

}  // namespace neurop
