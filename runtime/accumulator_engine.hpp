// The accumulation engine of a crossbar tile: what a CrossbarUnit (runtime/unit_behavior.hpp)
// hands its activation events and received partial sums to, and reads its accumulators (or, for
// a LIF reducer, its spikes) back from. Everything else a unit does — counting, observations, the
// neuron functions outside the core (sigmoid, WKV, ReLU², the channel-mix gate) — stays in the unit,
// so every engine yields the same counts.
//
// Implementations, registered by name in sim/accumulator_engines.hpp:
//   cpp  crossbar_matvec over the tile plus the contract's LIF rule (the default; defined here)
//   rtl  the RTL neuron core through rtl::NeuronCoreBackend (verilated or reference), which also
//        times the datapath (sim/rtl_accumulator_engine.hpp)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compiler/mapping.hpp"
#include "models/numerics.hpp"

namespace spiketile {

// One tile as an engine sees it, read from the unit's parameters.
struct CrossbarTile {
  const Unit* unit = nullptr;              // names the tile in errors
  const int8_t* weights = nullptr;         // [rows × cols] row-major: output row, input column
  int rows = 0, cols = 0;
  bool unsigned_inputs = false;            // inputs are unsigned activation_bits values (ffn.h), else signed
  bool lif = false;                        // the reducer ends in the LIF of att.output (fire_lif)
  std::vector<q::Multiplier> lif_current;  // lif or neurons: per row, accumulator -> Q.8 current
  std::vector<q::NeuronParams> neurons;    // a NIR reducer's general neurons (fire_neurons), else empty
  int weight_bits = 8, activation_bits = 8, membrane_bits = 16;
};
// The tile of a crossbar unit, its weights where the unit's parameters hold them (the mapping must
// outlive the tile); inputs are unsigned exactly for ffn.value (the ReLU² output h).
CrossbarTile crossbar_tile(const Mapping& mapping, const Unit& unit);

class AccumulatorEngine {
 public:
  virtual ~AccumulatorEngine() = default;
  virtual std::string name() const = 0;

  // ---- one token: events in any order, then read_out() or fire_lif() once ------------------
  // A graded activation event: input column `col` (0-based in the tile) carries x ≠ 0.
  virtual void activation(int col, int32_t x) = 0;
  // A partial sum from another tile of the same row block: row `row` += value.
  virtual void partial_sum(int row, int64_t value) = 0;
  // Every row's accumulator (its events and partial sums) into acc[0..rows); cleared for the next token.
  virtual void read_out(int64_t* acc) = 0;
  // lif tiles: current = requantize(acc, lif_current[r], membrane_bits), LIF step on the engine's
  // membranes (docs/numerics.md §4.8); spikes[0..rows) ∈ {0, 1} and each row's membrane after the
  // step; accumulators cleared.
  virtual void fire_lif(uint8_t* spikes, int32_t* membranes) = 0;
  // General-neuron tiles (a NIR reducer): current = requantize(acc, lif_current[r], membrane_bits),
  // then row r's neuron (neurons[r], docs/numerics.md §4.8a) on the engine's membranes and currents;
  // spikes[0..rows) ∈ {0, 1} and each row's membrane after the update; accumulators cleared.
  virtual void fire_neurons(uint8_t* spikes, int32_t* membranes) = 0;
  // Back to the zero recurrent state (membranes), accumulators cleared.
  virtual void reset_state() = 0;

  // ---- timing: an engine with its own clock (the RTL) gives the core its datapath cycles -----
  virtual bool timed() const { return false; }
  virtual uint64_t cycles() const { return 0; }   // the engine's clock
  virtual void idle(uint64_t cycles) {}           // the caller's time between its calls passes
  // Neuron-unit updates (in the fields of Counts, docs/numerics.md §5) the engine's datapath did:
  // a readout is one per row, a LIF tick two (the requantization and the LIF update).
  virtual int64_t neuron_updates() const { return 0; }
};

using AccumulatorEngineFactory = std::function<std::unique_ptr<AccumulatorEngine>(const CrossbarTile&)>;

// The C++ engine: the tile's integer matrix-vector product (models/crossbar_kernel.hpp).
std::unique_ptr<AccumulatorEngine> make_cpp_accumulator_engine(const CrossbarTile& tile);

}  // namespace spiketile
