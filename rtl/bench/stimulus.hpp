// Stimulus for the RTL bench: a stream of core operations (events, ticks, resets, idle gaps,
// weight, multiplier and neuron parameter loads), produced one scenario at a time. Directed scenarios come first,
// once each, then random segments until the driver has run its cycles. Model-independent: the
// same stream drives the RTL and the reference.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "rtl/bench/core_reference.hpp"

namespace spiketile::rtl {

class Rng {  // xoshiro256**: fast, and the stream is the same on every platform
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  int64_t uniform(int64_t lo, int64_t hi);  // inclusive
  bool chance(double p) { return double(next() >> 11) * 0x1.0p-53 < p; }
  template <typename T> const T& pick(const std::vector<T>& v) { return v[std::size_t(uniform(0, int64_t(v.size()) - 1))]; }

 private:
  uint64_t s_[4];
};

struct Op {
  enum class Type : uint8_t {
    kEvent, kTick, kReset, kGap, kWeights, kMultiplier, kPartialSum, kReadout,
    kNeuronParams,   // one neuron's entry of the neuron parameter table
    kParamReset,     // the table back to SpikeGPT's LIF (par_rst_n)
  };
  Type type = Type::kGap;
  uint8_t scenario = 0;          // index into Stimulus::scenario_names()
  AxonEvent event;               // kEvent
  int count = 0;                 // kGap: idle cycles
  int axon = 0, group = 0;       // kWeights: row, lane group
  std::vector<int32_t> weights;  // kWeights: LANES values
  int neuron = 0;                // kMultiplier, kPartialSum, kNeuronParams
  q::Multiplier multiplier;      // kMultiplier
  q::NeuronParams params;        // kNeuronParams
  int64_t partial_sum = 0;       // kPartialSum: added to the neuron's accumulator
};

// The RTL's cmd_value for an event (two's complement for signed payloads; bit-serial: the sign
// in the MSB and the bit position in the low bits).
uint64_t encode_payload(const AxonEvent& e, int activation_bits);
// {m, s} with requantize(1, {m, s}) == t exactly (0 <= t <= 2^30), m in [2^30, 2^31).
q::Multiplier exact_multiplier(int64_t t);

// One field of a port word: `width` bits at `lsb`, the value already in two's complement.
struct PortField {
  int lsb = 0, width = 0;
  uint64_t value = 0;
};
// One neuron's parameters as the RTL's par_wr_data (the layout in rtl/neuron_param_table.sv),
// LSB first; the word is neuron_param_bits() wide.
std::array<PortField, 9> neuron_param_fields(const q::NeuronParams& p, int membrane_bits);
constexpr int neuron_param_bits(int membrane_bits) { return 3 * membrane_bits + 31; }
// "" for SpikeGPT's LIF, otherwise " [dv=.. di=.. current=.. ...]" for a mismatch report.
std::string describe_neuron_params(const q::NeuronParams& p);

enum class Profile { kMixed, kTicks };

class Stimulus {
 public:
  Stimulus(const CoreShape& shape, int lanes, uint64_t seed, Profile profile, bool directed,
           uint64_t cycle_budget);
  // Appends the next scenario's operations (never empty).
  void next_segment(std::deque<Op>& out);
  static const std::vector<std::string>& scenario_names();
  // Directed scenarios that did not fit the cycle budget.
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  // emitters: each appends one operation of the current scenario
  Op& emit(Op::Type type);
  void event(const AxonEvent& e);
  void tick();
  void readout();   // the tick with the readout function: accumulators out, membranes kept
  void partial_sum(int neuron, int64_t value);
  void reset();
  void gap(int cycles);
  void load_row_word(int axon, int group);
  void load_weights();  // the whole matrix
  void load_multiplier(int neuron, const q::Multiplier& m);
  void load_neuron_params(int neuron, const q::NeuronParams& p);
  void reset_neuron_params();
  // One tick whose LIF input current is exactly x[n] for every neuron (saturated by the
  // requantizer when |x| >= 2^(MEM_W-1)): acc = ±1 from one binary event, |x| in the multiplier.
  void tick_with_currents(const std::vector<int64_t>& x);

  // scenarios
  void threshold();
  void membrane_extremes();
  void requantizer_extremes();
  void rounding_ties();
  void reset_midstream();
  void same_axon();
  void empty_ticks();
  void accumulator_extremes();
  void partial_sums();
  void neuron_models();
  void neuron_thresholds();
  void neuron_saturation();
  void neuron_table();
  void random_segment();
  void random_neuron_table();
  void random_currents();
  void ticks_only();

  int32_t random_weight(int mode);
  AxonEvent random_event(int kind_mode, int value_mode, int axon);
  int64_t random_partial_sum();
  q::Multiplier random_multiplier(double typical_acc);
  // A valid configuration of one neuron family: 0 SpikeGPT's LIF, 1 LIF, 2 IF, 3 LI, 4 I, 5 CubaLIF,
  // 6 CubaLI (docs/numerics.md §4.8a); -1 any of them.
  q::NeuronParams random_neuron_params(int family = -1);
  int32_t random_rate();

  CoreShape shape_;
  int lanes_, groups_;
  Rng rng_;
  Profile profile_;
  std::vector<int> directed_queue_;
  uint64_t cycle_budget_;
  std::vector<std::string> skipped_;
  std::vector<int32_t> w_;      // the matrix the stream has loaded, [axon][neuron]
  bool weights_loaded_ = false, multipliers_loaded_ = false;
  std::deque<Op>* out_ = nullptr;
  uint8_t scenario_ = 0;
};

}  // namespace spiketile::rtl
