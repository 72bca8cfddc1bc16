// The float reference for NIR graphs: what every integer level of a NIR import is measured
// against. float64 throughout, forward Euler with the time step the user gives (NIR graphs are
// continuous-time and carry none); the scheme, node by node, is in docs/nir.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "models/nir/nir_graph.hpp"

namespace spiketile::nir {

// NIR defines the reset as v <- v_reset; exporters of reset-by-subtraction models (snnTorch's
// "subtract") cannot say so in the file, so the user does.
enum class ResetMode { ToValue, Subtract };

struct ReferenceOptions {
  double dt = 0;  // seconds per step; needed by neurons and delays
  ResetMode reset = ResetMode::ToValue;
  std::map<std::string, ResetMode> reset_of;  // per node id, overriding `reset`
  bool fire_at_threshold = false;             // v >= v_threshold instead of NIR's v > v_threshold
};

// Parses "subtract", "value", or "NODE=subtract,NODE2=value" lists into `options`; an unknown
// mode or a node that is not a spiking neuron of `graph` is an error naming it.
void parse_reset_option(const std::string& text, const Graph& graph, ReferenceOptions& options);

class ReferenceExecutor {
 public:
  // Throws std::invalid_argument when the graph needs a time step and options.dt is not positive.
  ReferenceExecutor(const Graph& graph, ReferenceOptions options);

  // One time step. `inputs[k]` feeds graph.inputs[k] (element_count of its shape values);
  // returns one vector per graph.outputs entry.
  std::vector<std::vector<double>> step(const std::vector<std::vector<double>>& inputs);
  void reset();

  // After a step: what node `n` put out this step, its membranes (neurons; else empty) and the
  // spikes it has fired since the last reset.
  const std::vector<double>& output(int n) const { return out_[std::size_t(n)]; }
  const std::vector<double>& membrane(int n) const { return v_[std::size_t(n)]; }
  const std::vector<double>& synaptic_current(int n) const { return i_[std::size_t(n)]; }  // Cuba neurons
  const std::vector<double>& input(int n) const { return in_[std::size_t(n)]; }  // what flowed in this step, summed
  int64_t spike_count(int n) const { return spikes_[std::size_t(n)]; }
  int64_t steps() const { return steps_; }
  ResetMode reset_mode(int n) const;

 private:
  void evaluate(int n, const std::vector<double>& x);
  double param(int n, const char* name, std::size_t i, double fallback = 0) const;

  const Graph& graph_;
  ReferenceOptions options_;
  std::vector<std::vector<double>> out_, previous_out_, in_, v_, i_;
  std::vector<std::vector<std::vector<double>>> delay_line_;  // per Delay node: [slot][element]
  std::vector<std::vector<int64_t>> delay_steps_;
  std::vector<int64_t> spikes_;
  int64_t steps_ = 0;
};

// A whole run: `input` holds [T, *input shape] for the graph's one Input node; returns
// [T, *output shape] of its one Output node. Graphs with several inputs or outputs are refused.
struct ReferenceRun {
  Shape shape;                 // [T, *output shape]
  std::vector<double> output;  // row-major
  std::vector<int64_t> spikes_per_node;  // by node index
  int64_t steps = 0;
};
ReferenceRun run_reference(const Graph& graph, const ReferenceOptions& options, const Shape& input_shape,
                           const std::vector<double>& input);

}  // namespace spiketile::nir
