// The cycle-accurate chip: one SystemC process per core running the unit the mapping put there
// (runtime/unit_behavior.hpp, the same code the mapping executor runs), one per router
// (sim/network.hpp). Events travel as packets through the network-on-chip; every core charges
// cycles for what it does from the chip description (CoreTiming). A token ends when the last core
// is done and no packet is in flight — the barrier between tokens.
//
// SystemC allows one elaboration per process: build one ChipSimulator per program.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chips/chip_spec.hpp"
#include "compiler/mapping.hpp"
#include "models/token_model.hpp"
#include "runtime/core_timing.hpp"
#include "runtime/power_states.hpp"
#include "runtime/stats.hpp"
#include "rtl/loop/neuron_core_backend.hpp"
#include "runtime/unit_behavior.hpp"
#include "sim/clock.hpp"

namespace spiketile::sim {

class Network;
class CoreModule;

// Which crossbar cores accumulate on the RTL neuron core (sim/accumulator_engines.hpp, engine "rtl").
struct RtlInTheLoop {
  std::vector<std::string> cores;   // "all", core indices (as --trace-cores), or unit names; empty: none
  std::string backend = "verilated";   // or "reference"
  std::string model = "default";       // verilated model (rtl/CMakeLists.txt)
  bool enabled() const { return !cores.empty(); }
};

// The RTL cores of a run, summed.
struct RtlLoopStats {
  int cores = 0;
  std::string backend, model;
  rtl::CoreCycleStats totals;       // calls and cycles by kind, summed over the cores
  int64_t neuron_updates = 0;       // (LIF + readout ticks) × the core's neurons: what the neuron unit passed
  double wall_seconds = 0;          // the whole simulation's
};

// Progress of a run, for a terminal line.
struct SimulationProgress {
  int64_t tokens_done = 0;
  Cycle cycles = 0;
  double wall_seconds = 0;
};

struct SimulatorOptions {
  std::string trace_path;              // VCD of the selected cores' routers (empty: none)
  std::vector<int> trace_cores;        // core indices
  Cycle watchdog_cycles = 0;           // 0: the network's default
  std::function<void(const SimulationProgress&)> progress;  // called after every token
  RtlInTheLoop rtl;
  // Prefix of the SystemC module names: two chips in one elaboration (SystemC allows one per process).
  std::string instance_name;
  // Sees every event a unit sends, as it sends it (comparisons of two runs, core by core).
  std::function<void(int unit, const UnitEvent&)> on_send;
};

class ChipSimulator final : public TokenModel, private UnitOutbox {
 public:
  ChipSimulator(std::shared_ptr<const Mapping> mapping, const SimulatorOptions& options = {});
  ~ChipSimulator() override;

  std::string level_name() const override { return "simulator"; }
  int vocab_size() const override { return mapping_->config.vocab_size; }
  int n_layer() const override { return mapping_->config.n_layer; }
  int n_embd() const override { return mapping_->config.n_embd; }
  // The recurrent state returns to zero; simulated time goes on.
  void reset() override;
  const std::vector<float>& step(int token) override;
  const StepActivity& last_activity() const override { return observations_.activity; }
  const TokenCounts* last_counts() const override { return &counts_; }

  const Mapping& mapping() const { return *mapping_; }
  const ChipSpec& chip() const { return chip_; }
  const std::vector<int64_t>& last_logit_accumulators() const { return host_.accumulators(); }
  Cycle last_token_cycles() const { return cycles_per_step_.empty() ? 0 : cycles_per_step_.back(); }
  const std::vector<int64_t>& cycles_per_step() const { return cycles_per_step_; }
  Cycle now() const;
  double wall_seconds() const { return wall_seconds_; }   // spent in step()
  double clock_mhz() const { return chip_.clock_frequency_mhz; }

  // Adds the chip, cycle, network and per-core sections to a run's statistics.
  void fill_stats(RunStats& stats) const;
  // Readable summary: cycles and latency per token, utilization, network, the RTL cores.
  std::string summary() const;
  // Units whose crossbar accumulates on the RTL neuron core.
  const std::vector<int>& rtl_units() const { return rtl_units_; }
  RtlLoopStats rtl_loop_stats() const;
  // The core index (chip-major, row-major) of unit `id`.
  int core_index(int id) const;

 private:
  friend class CoreModule;
  void send(int unit, const UnitEvent& event) override;
  void logit(int64_t vocab_index, int64_t accumulator) override;

  std::shared_ptr<const Mapping> mapping_;
  ChipSpec chip_;
  SimulatorOptions options_;
  TokenHost host_;
  CoreTiming timing_;
  std::vector<UnitLinks> links_;
  TokenObservations observations_;
  std::vector<std::unique_ptr<UnitBehavior>> behaviors_;
  std::vector<int> rtl_units_;
  std::unique_ptr<Network> network_;
  std::vector<std::unique_ptr<CoreModule>> cores_;  // per unit
  std::vector<int> burst_capacity_;      // per flow: values one packet may carry (Network::burst_capacity)
  std::vector<int64_t> burst_values_;    // the values of this token's bursts; a burst's payload indexes it
  TokenCounts counts_;
  std::vector<int64_t> cycles_per_step_;
  std::vector<NetworkStepStats> network_per_step_;
  double wall_seconds_ = 0;
  void* trace_file_ = nullptr;
};

}  // namespace spiketile::sim
