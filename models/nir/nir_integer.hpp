// A NIR graph in the integer contract (docs/numerics.md; the NIR mapping in docs/nir.md): what the
// chip computes for it, one time step at a time, and the level the compiled mapping and the
// SystemC chip must reproduce bit for bit.
//
// The graph is cut into *populations* — its input and the neurons of each neuron node — joined by
// *projections*: every path of stateless linear nodes (Affine, Linear, Scale, Conv1d/2d,
// SumPool2d/AvgPool2d, Flatten) from one population to the next is folded into one sparse weight
// matrix, so a convolution that follows a pooling of spikes still receives spikes. Weights are
// quantized per target neuron (one scale for every projection into it: they share its
// accumulator), the neuron constants become q::NeuronParams with a membrane scale chosen per
// node from its constants and the calibration input, and each step runs the general neuron of
// §4.8a. An Output fed straight by a linear path reads its accumulators (a readout, as
// SpikeGPT's head).
#pragma once

#include <string>
#include <vector>

#include "models/nir/nir_graph.hpp"
#include "models/nir/nir_input.hpp"
#include "models/nir/nir_reference.hpp"
#include "models/numerics.hpp"

namespace spiketile::nir {

struct IntegerOptions {
  int weight_bits = 8;
  int activation_bits = 8;   // graded (non-spike) graph inputs
  int membrane_bits = 16;
  ReferenceOptions reference;  // dt, reset and firing rule: the same model as the float reference
};

// One sparse row of integer weights: (source index, weight).
using IntRow = std::vector<std::pair<int32_t, int32_t>>;

struct Projection {
  int source = 0;           // population index
  int target = 0;           // population index, or -1: the output readout
  bool recurrent = false;   // delivers the source's output of the previous step
  // What one spike of the source is worth: 1, a binary event; p > 1, a graded event of value p
  // (1.0 in the graph input's scale), where the target also takes graded input and one
  // accumulator must hold both.
  int32_t spike_value = 1;
  std::vector<std::string> path;  // the linear nodes folded into it, in order
  std::vector<IntRow> rows;       // per target neuron (or readout row)
  int64_t synapses() const;       // stored weights (non-zero)
  int64_t distinct_float_weights = 0;  // parameters behind them: < synapses() when a convolution shares them
};

struct Population {
  std::string node;   // node id ("input" node for the graph's input)
  Op op = Op::Input;
  int64_t size = 0;
  bool binary = true;  // puts out spikes; graded: integer values of `scale` (graph input) or membranes
  double scale = 1.0;  // graded input: value per LSB; neurons: membrane value per LSB
  std::vector<q::NeuronParams> params;     // per neuron
  std::vector<q::Multiplier> multiplier;   // per neuron: accumulator -> input current
  std::vector<double> input_scale;         // per neuron: value of one accumulator LSB
  std::vector<int32_t> bias_weight;        // per neuron: weight of the always-on bias input, or empty
  std::vector<int32_t> late_bias_weight;   // the same for a bias that arrives through a recurrent edge: from step 1
};

enum class OutputKind { Spikes, Membrane, Readout };

struct IntegerCounts {
  int64_t binary_sops = 0, graded_sops = 0, bias_sops = 0, neuron_updates = 0;
  std::vector<int64_t> spikes;  // per population
};

class IntegerGraph {
 public:
  // Quantizes `graph` with ranges measured by the float reference on `calibration` ([T, *input]).
  // Errors name the node: a primitive the chip does not run (Delay), a non-spiking neuron feeding
  // another layer, dt above a time constant.
  static IntegerGraph build(const Graph& graph, const IntegerOptions& options, const Shape& calibration_shape,
                            const std::vector<double>& calibration);

  // One time step from the graph input's float values; returns the output's float values
  // (spikes 0/1, membranes × scale, readout accumulators × scale + bias).
  std::vector<double> step(const std::vector<double>& input);
  void reset();

  const std::vector<Population>& populations() const { return populations_; }
  const std::vector<Projection>& projections() const { return projections_; }
  OutputKind output_kind() const { return output_kind_; }
  int output_population() const { return output_population_; }
  // Readout: per row, the value of one accumulator LSB and the bias the host adds.
  const std::vector<double>& readout_scale() const { return readout_scale_; }
  const std::vector<double>& readout_bias() const { return readout_bias_; }
  const IntegerCounts& counts() const { return counts_; }
  const IntegerOptions& options() const { return options_; }
  // After a step: a population's spikes (0/1) or integer values, and its neurons' state.
  const std::vector<int32_t>& values(int population) const { return values_[std::size_t(population)]; }
  const std::vector<q::NeuronState>& state(int population) const { return state_[std::size_t(population)]; }
  // Every decision of the quantization, for inspect and the run's report.
  const std::vector<std::string>& decisions() const { return decisions_; }

 private:

  IntegerOptions options_;
  std::vector<Population> populations_;
  std::vector<Projection> projections_;
  std::vector<int> order_;  // populations in evaluation order
  OutputKind output_kind_ = OutputKind::Spikes;
  int output_population_ = 0;
  std::vector<double> readout_scale_, readout_bias_;  // per readout row
  std::vector<std::vector<int32_t>> values_, previous_values_;
  std::vector<std::vector<q::NeuronState>> state_;
  IntegerCounts counts_;
  int64_t steps_ = 0;
  std::vector<std::string> decisions_;
};

// Float reference and integer model over the same input: how far quantization moved each layer.
struct PopulationAgreement {
  std::string node;
  int64_t neurons = 0, steps = 0;
  double float_rate = 0, integer_rate = 0;  // spikes per neuron per step
  double spike_agreement = 1.0;             // fraction of (step, neuron) with the same spike
};
struct Agreement {
  std::vector<PopulationAgreement> populations;
  OutputKind output = OutputKind::Spikes;
  double output_agreement = 1.0;   // spikes: fraction equal; otherwise 1 − relative RMS error
  double output_max_abs_error = 0;
  std::vector<double> integer_output;  // [T, *output shape], from the integer model
};
Agreement compare_with_reference(const Graph& graph, IntegerGraph& integer, const Shape& input_shape,
                                 const std::vector<double>& input);

}  // namespace spiketile::nir
