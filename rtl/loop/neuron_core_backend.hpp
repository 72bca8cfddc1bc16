// What a simulated neurosynaptic core needs from its neuron datapath, behind one small interface
// with implementations registered by name:
//   reference  CoreReference (models/numerics.hpp) timed by CorePipelineModel, the RTL's cycle rule
//   verilated  the verilated --cc model of rtl/neuron_core.sv, clocked edge by edge, real cycles
// Both drive the same port protocol (NeuronCoreBackend below), so they consume the same cycles
// for the same calls whenever the cycle model matches the RTL; the tests compare both.
//
// Time advances only inside the calls ("lazy clock"): a call clocks the core until its command
// is accepted (a tick: until its last lane group is out), and returns the cycles that took.
// Between calls the core is frozen: a caller that wants the RTL's timing adds the returned
// cycles to its own clock and hands the time between its commands over with idle(cycles)
// (NeuronCoreModule does both). See rtl/README.md "RTL in the loop" for the cycle formula.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/numerics.hpp"
#include "rtl/bench/bench.hpp"   // RtlModel, rtl_models(), find_rtl_model()

namespace spiketile::rtl {

struct TickResult {
  std::vector<uint8_t> spikes;     // per neuron, 0 or 1
  std::vector<int32_t> membranes;  // per neuron, after this tick's neuron update (Q.8); read_out: as they are
  std::vector<int64_t> accumulators;   // read_out only: each neuron's accumulator before the clear
  int spike_count = 0;
  uint64_t cycles = 0;             // what the tick call advanced the core's clock by
};

// Cycle counts by what the core was doing; total() == NeuronCoreBackend::cycles().
struct CoreCycleStats {
  uint64_t events = 0, partial_sums = 0, ticks = 0, readouts = 0, resets = 0, writes = 0;   // calls
  uint64_t event_cycles = 0, partial_sum_cycles = 0, tick_cycles = 0, readout_cycles = 0, reset_cycles = 0,
           write_cycles = 0, idle_cycles = 0;
  uint64_t idle_cycles_clocked = 0;   // of idle_cycles, those the core still had work in (evaluated)
  uint64_t neuron_updates = 0, sops = 0;   // neuron ticks x neurons, events x neurons
  uint64_t total() const {
    return event_cycles + partial_sum_cycles + tick_cycles + readout_cycles + reset_cycles + write_cycles +
           idle_cycles;
  }
};

class NeuronCoreBackend {
 public:
  virtual ~NeuronCoreBackend() = default;
  NeuronCoreBackend(const NeuronCoreBackend&) = delete;
  NeuronCoreBackend& operator=(const NeuronCoreBackend&) = delete;

  const std::string& backend_name() const { return backend_; }  // "reference", "verilated"
  const std::string& model_name() const { return model_; }      // "default", "small", "small_m2", ...
  const CoreGeometry& geometry() const { return geometry_; }
  const CoreShape& shape() const { return geometry_.shape; }

  // ---- configuration: waits for an idle core, one weight word, multiplier or neuron's
  //      parameters per cycle; reset() keeps all of it ---------------------------------------
  // Weights w[0..count) of row `axon` for neurons first_neuron.. (signed, weight_bits wide).
  uint64_t set_weights(int axon, int first_neuron, const int32_t* w, int count);
  // A rows × neurons tile, row-major [axon][neuron], into the top-left corner of the
  // crossbar; every other weight becomes 0.
  uint64_t load_weights(const int32_t* w, int rows, int neurons);
  uint64_t set_multiplier(int neuron, const q::Multiplier& m);
  uint64_t load_multipliers(const std::vector<q::Multiplier>& m);   // neurons 0..m.size()
  // One neuron's entry of the neuron parameter table (docs/numerics.md §4.8a): which neuron model
  // its ticks run. Until written, every neuron runs SpikeGPT's LIF. Throws std::out_of_range
  // naming the field of an invalid configuration (q::NeuronParams::validation_error).
  uint64_t set_neuron_params(int neuron, const q::NeuronParams& p);
  uint64_t load_neuron_params(const std::vector<q::NeuronParams>& p);   // neurons 0..p.size()
  // Every neuron back to SpikeGPT's LIF (the RTL's par_rst_n): one cycle.
  uint64_t reset_neuron_params();
  int32_t weight(int axon, int neuron) const { return weights_[std::size_t(axon) * shape().neurons + neuron]; }

  // ---- the token stream ---------------------------------------------------------------------
  // One axon event (the RTL's command port: binary, graded signed/unsigned, bit-serial).
  uint64_t apply(const AxonEvent& e);
  // A partial sum from another crossbar of the same tile: acc[neuron] += value, saturating at
  // accumulator_bits (one cycle: a single-lane-group command).
  uint64_t add_partial_sum(int neuron, int64_t value);
  // The token tick: requantize every accumulator, each neuron's update (its parameter table entry),
  // clear; spikes and membranes of all neurons.
  uint64_t tick(TickResult& out);
  // The readout tick (neuron function "identity"): every raw accumulator out, then cleared;
  // membranes untouched (reported as they are), no spikes. Same timing as tick(). For a tile
  // whose outputs are partial sums, or a layer whose neuron function runs elsewhere.
  uint64_t read_out(TickResult& out);
  // Synchronous reset: membranes, synaptic currents, accumulators and commands in flight; weights,
  // multipliers and neuron parameters stay.
  uint64_t reset();
  // `cycles` cycles pass with nothing driven (the caller's time between commands): commands in
  // flight drain, so the next call does not wait for them again. Only the cycles in which the
  // core still has work are evaluated; an idle core does not change. Returns `cycles`.
  uint64_t idle(uint64_t cycles);

  uint64_t cycles() const { return stats_.total(); }
  const CoreCycleStats& stats() const { return stats_; }

 protected:
  NeuronCoreBackend(std::string backend, std::string model, const CoreGeometry& geometry);

  // One clock cycle of the core's ports: what is driven in it (sampled at its rising edge).
  struct Drive {
    enum class Kind {
      kIdle, kEvent, kPartialSum, kTick, kReadout, kWeightWord, kMultiplier, kNeuronParams, kParamReset, kReset
    };
    Kind kind = Kind::kIdle;
    AxonEvent event;                   // kEvent
    int64_t partial_sum = 0;           // kPartialSum (with neuron)
    int axon = 0, group = 0;           // kWeightWord: row, lane group
    const int32_t* word = nullptr;     // kWeightWord: lanes weights
    int neuron = 0;                    // kMultiplier, kPartialSum, kNeuronParams
    q::Multiplier multiplier;          // kMultiplier
    q::NeuronParams params;            // kNeuronParams
  };
  // Port state during the current cycle.
  virtual bool cmd_ready() const = 0;
  virtual bool core_idle() const = 0;
  // Drive `d`, clock one rising edge. A tick's results are delivered by the output beats: after
  // the edge, if a lane group came out, its spikes and membranes (a readout: membranes and
  // accumulators) go into `out` and the group is returned; otherwise -1.
  virtual int clock(const Drive& d, TickResult& out) = 0;

 private:
  uint64_t cycle(const Drive& d, uint64_t& counter);
  uint64_t wait_until(bool idle, uint64_t& counter);
  uint64_t write_word(int axon, int group, uint64_t& counter);
  uint64_t write(const Drive& d);   // a configuration write: waits for an idle core, one cycle
  uint64_t command(const Drive& d, uint64_t& counter);
  uint64_t run_tick(TickResult& out, bool readout);

  std::string backend_, model_;
  CoreGeometry geometry_;
  std::vector<int32_t> weights_;   // what the synapse memory holds: writes are whole lane-group words
  CoreCycleStats stats_;
  TickResult scratch_;             // outputs of edges that carry none for the caller
};

// ---- registry ----------------------------------------------------------------------------------
struct BackendParam {
  std::string name, description, default_value;
};
struct BackendInfo {
  std::string name, description;
  std::vector<BackendParam> params;
  std::function<std::unique_ptr<NeuronCoreBackend>(const RtlModel&)> make;
};
const std::vector<BackendInfo>& neuron_core_backends();
// make_neuron_core_backend("verilated", find_rtl_model("default")); throws naming the backends.
std::unique_ptr<NeuronCoreBackend> make_neuron_core_backend(const std::string& backend, const RtlModel& model);

// The verilated model `model.name` (throws for a name the build has no model of).
std::unique_ptr<NeuronCoreBackend> make_verilated_backend(const RtlModel& model);
// The reference for any geometry (a core the compiler sizes differently from the RTL builds).
std::unique_ptr<NeuronCoreBackend> make_reference_backend(const CoreGeometry& geometry,
                                                          const std::string& model_name = "custom");

}  // namespace spiketile::rtl
