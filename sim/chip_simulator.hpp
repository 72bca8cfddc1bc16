// The cycle-accurate chip: one SystemC process per core running the unit the mapping put there
// (runtime/unit_behavior.hpp, the same code the mapping executor runs), one per router
// (sim/network.hpp). Events travel as packets through the network-on-chip; every core charges
// cycles for what it does from the chip description (CoreTiming).
//
// step() runs one token: it ends when the last core is done and no packet is in flight — the
// barrier between generated tokens, each of which needs the one before. prefill() overlaps the
// tokens it is given (a prompt, a text under teacher forcing): a core starts the next token as
// soon as it has finished its last one and every core it sends to has started that last one, so
// token t + 1 runs in layer 0 while token t is in layer 1, and no core ever holds events of more
// than one token ahead of its own. A core learns that a core on its own chip started at once, and
// one on another chip one inter-chip link latency later: no signal crosses chips faster (and that
// latency is the lookahead that lets the chips run apart, sim/README.md). The bits are those of
// stepping token by token.
//
// SystemC allows one elaboration per process: build one ChipSimulator per program.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chips/chip_spec.hpp"
#include "compiler/mapping.hpp"
#include "models/output_file.hpp"
#include "models/token_counting.hpp"
#include "models/token_model.hpp"
#include "runtime/core_timing.hpp"
#include "runtime/power_states.hpp"
#include "runtime/stats.hpp"
#include "rtl/loop/neuron_core_backend.hpp"
#include "runtime/unit_behavior.hpp"
#include "sim/clock.hpp"
#include "sim/rank_group.hpp"
#include "sim/rank_partition.hpp"

namespace spiketile::sim {

class Network;
class CoreModule;
class CrossChipStarts;

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

// What running in windows cost (sim/README.md, "Windows"; over ranks, rank 0 sums every rank's).
struct WindowStats {
  int64_t windows = 0;           // window ends (the same on every rank)
  int64_t messages = 0;          // packets, credits and start notices sent to another rank
  int64_t bytes = 0;             // parcel bytes sent to other ranks, headers included
  double exchange_seconds = 0;   // wall time in exchanges: waiting for the slowest rank, and MPI
  double exchange_seconds_max = 0;  // the most one rank spent so (the one that waited longest)
  double exchange_seconds_min = 0;  // the least (the busiest rank: about the exchanges' own cost)
};

// Progress of a run, for a terminal line.
struct SimulationProgress {
  int64_t tokens_done = 0;
  Cycle cycles = 0;
  double wall_seconds = 0;
};

struct SimulatorOptions {
  std::string trace_path;              // VCD of the selected cores' routers, named as given (empty: none)
  std::vector<int> trace_cores;        // core indices
  Cycle watchdog_cycles = 0;           // 0: the network's default
  std::function<void(const SimulationProgress&)> progress;  // called after every token
  RtlInTheLoop rtl;
  // Prefix of the SystemC module names: two chips in one elaboration (SystemC allows one per process).
  std::string instance_name;
  // Sees every event a unit sends, as it sends it (comparisons of two runs, core by core).
  std::function<void(int unit, const UnitEvent&)> on_send;
  // Sees every start of a unit on a token of a run (the token's index in the run, its cycle).
  std::function<void(int unit, int64_t token, Cycle at)> on_token_start;
  // A run over MPI ranks (sim/README.md, "Runs over MPI ranks"): this process simulates the chips
  // the partition gives its rank, rank 0 gathers every token's results and the statistics, and
  // every rank returns the same logits. Null: every chip in this process.
  std::shared_ptr<RankGroup> ranks;
};


class ChipSimulator final : public TokenModel, private UnitOutbox {
 public:
  ChipSimulator(std::shared_ptr<const Mapping> mapping, const SimulatorOptions& options = {});
  ~ChipSimulator() override;

  // Closes the VCD writer and hands over the trace file for the caller to commit with the run's
  // other outputs (null without a trace). Without this call the trace is discarded: a run that
  // failed leaves no partial VCD.
  std::unique_ptr<OutputFile> finish_trace();

  std::string level_name() const override { return "simulator"; }
  int vocab_size() const override { return mapping_->config.vocab_size; }
  int n_layer() const override { return mapping_->config.n_layer; }
  int n_embd() const override { return mapping_->config.n_embd; }
  int spike_input_steps() const override { return mapping_->config.spike_input_steps; }
  // The recurrent state returns to zero; simulated time goes on.
  void reset() override;
  const std::vector<float>& step(int token) override;
  void prefill(const std::vector<int>& tokens, const TokenCallback& on_token) override;
  // A NIR mapping's time steps, each from its quantized graph input (nir_quantize_input),
  // overlapped as a prefill's tokens are: a core starts step t + 1 once it has finished step t
  // and every core it sends to has started step t. `on_step` gets each step's output integers
  // (last_observations() then holds its population values). The bits are those of the executor.
  using StepCallback = std::function<void(int64_t step, const std::vector<int64_t>& outputs)>;
  void run_nir_steps(const std::vector<std::vector<int32_t>>& inputs, const StepCallback& on_step);
  const TokenObservations& last_observations() const { return observations_; }
  // What every unit did in each step run so far (NIR runs; SpikeGPT steps count through last_counts()).
  const std::vector<Counts>& work_per_step() const { return work_per_step_; }
  const StepActivity& last_activity() const override { return observations_.activity; }
  const TokenCounts* last_counts() const override { return &counts_; }

  const Mapping& mapping() const { return *mapping_; }
  const ChipSpec& chip() const { return chip_; }
  const std::vector<int64_t>& last_logit_accumulators() const { return last_accumulators_; }
  Cycle last_token_cycles() const { return cycles_per_step_.empty() ? 0 : cycles_per_step_.back(); }
  const std::vector<int64_t>& cycles_per_step() const { return cycles_per_step_; }
  Cycle now() const;
  double wall_seconds() const { return wall_seconds_; }   // spent in step() and prefill()
  // Tokens and simulated cycles of the pipelined prefills and of the steps (decode), in all.
  struct PhaseTotals {
    int64_t tokens = 0;
    Cycle cycles = 0;
  };
  const PhaseTotals& prefill_totals() const { return prefill_; }
  const PhaseTotals& decode_totals() const { return decode_; }
  // Most events one core held at once for the token after its own (prefill only), and that core.
  int64_t peak_held_events() const;
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
  // The split of a run over ranks (null in one process) and this process's rank.
  const RankPartition* partition() const { return partition_.get(); }
  // Over ranks, on rank 0: every rank's, summed (the other ranks: their own).
  const WindowStats& window_stats() const { return over_ranks() && rank() == 0 ? window_stats_ : own_windows_; }
  int rank() const { return ranks_ ? ranks_->rank() : 0; }

 private:
  friend class CoreModule;
  void send(int unit, const UnitEvent& event) override;
  void logit(int64_t vocab_index, int64_t accumulator) override;

  // What one token of a run needs until every unit has finished it.
  struct TokenInFlight {
    explicit TokenInFlight(const Mapping& m) : host(m) {}
    const int32_t* embedding_row = nullptr;
    TokenObservations observations;
    TokenHost host;
    int units_finished = 0;
    Cycle finished_at = 0;           // the end of the last unit's work on it
    int64_t packets = 0;
    int64_t first_burst = -1;        // handle of its first burst (-1: none yet)
    // What the cores' datapaths did for it, reaction by reaction, as their counters count it.
    Counts core_work;
    int64_t synapse_accesses = 0, state_reads = 0, state_writes = 0, lif_updates = 0, events_out = 0;
    // Over ranks: the logits this rank's head units wrote.
    struct LogitWrite {
      int64_t index, accumulator;
    };
    std::vector<LogitWrite> logit_writes;
  };
  // Runs `tokens` overlapped; each finished token's results go to `on_token` (may be empty).
  void run_tokens(const std::vector<int>& tokens, const TokenCallback& on_token);
  // Runs the run's `steps` tokens (or NIR time steps) overlapped.
  void run_steps(int64_t steps);
  TokenInFlight& token_in_flight(int64_t token);
  // Core callbacks: a unit started its next token, or finished the run's token `token`, at `at`.
  void unit_started(int unit, Cycle at);
  void unit_finished(int unit, int64_t token, Cycle at);
  void start_next_token_if_allowed(int unit, Cycle at);
  // The kernel in windows of the inter-chip link latency, what crossed chips handed over at each
  // window's end (sim/chip_windows.cpp), until no chip has anything left to do.
  void run_windows();
  // Hands what crossed chips in the window to this rank's routers and start queue, and to the
  // other ranks in `parcels` (per rank).
  // Returns the messages that went into parcels.
  int64_t hand_over_held_traffic(std::vector<ByteWriter>* parcels);
  void take_parcel(ByteReader& in);
  // Over ranks, after the windows: every rank at the run's last cycle, the tokens' results and
  // the counters gathered on rank 0, which finishes the tokens; every rank gets their logits.
  void finish_run_over_ranks();
  Bytes core_counters(int unit) const;
  void set_core_counters(int unit, ByteReader& in);
  bool over_ranks() const { return ranks_ && ranks_->size() > 1; }
  Cycle latest_over_ranks(Cycle mine);
  bool owns_unit(int unit) const { return own_unit_[std::size_t(unit)] != 0; }
  // Where unit `unit`'s core stands in the run: its token, and whether it finished it.
  std::pair<int64_t, bool> unit_progress(int unit) const;
  int rank_of_router(int router) const;
  int rank_of_unit(int unit) const;
  // Unit `unit` learns at `at` that its `k`-th destination started the run's token `token`.
  void destination_started(int unit, std::size_t k, int64_t token, Cycle at);
  void token_finished(Cycle at);
  // Burst values, kept until the token that sent them has finished.
  int64_t store_burst(const int64_t* values, int events, int64_t token);
  int64_t burst_value(int64_t handle, int k) const { return burst_values_[std::size_t(handle - burst_base_ + k)]; }

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
  std::deque<int64_t> burst_values_;     // values of the bursts of tokens in flight; a burst's payload
  int64_t burst_base_ = 0;               // is its handle, burst_values_[handle - burst_base_]
  // Per unit, one slot per unit its flows reach (in unit order): the token that destination has
  // started as the unit knows it, and whether it sits on another chip (its starts arrive through
  // cross_chip_starts_).
  std::vector<std::vector<int64_t>> known_started_;
  std::vector<std::vector<char>> destination_off_chip_;
  // Per unit: (source, the unit's slot among the source's destinations).
  std::vector<std::vector<std::pair<int, std::size_t>>> source_slots_;
  std::unique_ptr<CrossChipStarts> cross_chip_starts_;
  bool windows_ = false;   // the mapping spans chips: they run in windows
  std::shared_ptr<RankGroup> ranks_;
  std::unique_ptr<RankPartition> partition_;
  std::vector<char> own_unit_;           // per unit: simulated by this rank
  int own_units_ = 0;
  std::vector<std::vector<uint64_t>> remote_totals_;  // per rank: its network totals as last added
  WindowStats own_windows_;    // this rank's
  WindowStats window_stats_;   // over ranks, on rank 0: every rank's as of the last run's end
  CountedModel counted_;
  // The run under way.
  std::vector<int> run_tokens_;
  const TokenCallback* on_token_ = nullptr;
  const std::vector<std::vector<int32_t>>* run_inputs_ = nullptr;  // NIR: the run's quantized inputs
  const StepCallback* on_step_ = nullptr;
  int64_t run_length_ = 0;               // tokens (or time steps) of the run
  std::vector<int64_t> population_sizes_;  // NIR: per population, for the steps' observations
  std::vector<Counts> work_per_step_;
  std::deque<TokenInFlight> in_flight_;  // run tokens [tokens_finished_, ...) some unit has started
  int64_t tokens_finished_ = 0;
  int64_t reacting_token_ = 0;           // the token of the reaction under way (its logits' token)
  Cycle last_finished_at_ = 0;
  std::vector<int64_t> traffic_by_token_;  // Network::count_traffic_by_token
  // The last finished token's results (what step() returns and last_*() describe).
  std::vector<float> logits_;
  std::vector<int64_t> last_accumulators_;
  TokenCounts counts_;
  std::vector<int64_t> cycles_per_step_;
  std::vector<NetworkStepStats> network_per_step_;
  std::vector<CoreWork> cores_per_step_;
  PhaseTotals prefill_, decode_;
  double wall_seconds_ = 0;
  void* trace_file_ = nullptr;
  std::unique_ptr<OutputFile> trace_output_;  // where the trace goes (finish_trace)
  std::string trace_scratch_;                 // where SystemC writes trace_file_ meanwhile
};

}  // namespace spiketile::sim
