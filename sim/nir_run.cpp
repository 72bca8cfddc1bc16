#include "sim/nir_run.hpp"

#include "runtime/nir_executor.hpp"

namespace spiketile::sim {

namespace {

// The statistics of a NIR run: the graph, its dense equivalent and each population's spikes; the
// counts are per-step totals (counts.sum has no layers: a graph has populations, not SpikeGPT ops).
RunStats nir_run_stats(const Mapping& m, const std::vector<int64_t>& spikes, const std::vector<Counts>& per_step) {
  const NirProgram& p = m.nir;
  RunStats s;
  s.level = "simulator";
  StatsNir nir;
  nir.graph = p.source_path;
  nir.dt = p.dt;
  nir.input_shape = p.input_shape;
  nir.output_shape = p.output_shape;
  for (std::size_t k = 1; k < p.populations.size(); ++k) {
    const auto& pop = p.populations[k];
    nir.populations.push_back({pop.node, pop.type, pop.size, pop.binary, spikes[k]});
    nir.state_elements += pop.type == "Readout" ? 0 : pop.size;
  }
  for (const auto& proj : p.projections) {
    nir.dense_macs_per_step += proj.synapses;
    nir.weight_elements += proj.distinct_weights;
  }
  for (const Unit& u : m.units)  // a synaptic current doubles a neuron's state
    if (u.function == NeuronFunction::NirNeuron)
      for (const q::NeuronParams& n : read_neuron_params(u, m.quant.membrane_bits)) nir.state_elements += n.current;
  s.model.path = p.source_path;
  s.model.params = nir.weight_elements;
  s.model.weight_bits = m.quant.weight_bits;
  s.model.activation_bits = m.quant.activation_bits;
  s.model.membrane_bits = m.quant.membrane_bits;
  s.tokens.steps = int64_t(per_step.size());
  s.counts.sum.reset(0);
  for (const Counts& c : per_step) s.counts.per_step.push_back(c);
  s.nir = nir;
  return s;
}

}  // namespace

NirChipRun run_nir_on_chip(ChipSimulator& chip, const std::vector<int64_t>& input_shape, const std::vector<double>& input,
                           const std::string& input_name) {
  const Mapping& mapping = chip.mapping();
  const NirProgram& program = mapping.nir;
  const std::vector<std::vector<int32_t>> steps = nir_quantize_steps(program, input_shape, input, input_name);
  const int64_t T = int64_t(steps.size());
  NirChipRun run;
  std::vector<int64_t> spikes(program.populations.size(), 0);
  chip.run_nir_steps(steps, [&](int64_t, const std::vector<int64_t>& integers) {
    for (double v : nir_output_values(program, integers)) run.outputs.push_back(float(v));
    count_population_spikes(program, chip.last_observations(), spikes);
  });
  run.stats = nir_run_stats(mapping, spikes, chip.work_per_step());
  run.shape = {T};
  run.shape.insert(run.shape.end(), program.output_shape.begin(), program.output_shape.end());
  return run;
}

}  // namespace spiketile::sim
