// What a run measured, in one file every execution level writes and `spiketile report` reads
// (format "spiketile-stats-2", docs/stats-format.md).
//
// Counts are always present. The chip, cycle, network and per-core sections exist only at
// levels that measure them (the cycle-accurate simulator); an absent section means "not
// measured at this level", never zero, and the report says so.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/output_file.hpp"
#include "runtime/execution.hpp"

namespace spiketile {

inline constexpr const char* kStatsFormat = "spiketile-stats-2";

// Execution levels, from the float reference down to the cycle-accurate chip.
const std::vector<std::string>& stats_level_names();  // golden, quantized, mapping, simulator

struct StatsModel {
  std::string path;
  int n_layer = 0, n_embd = 0, vocab = 0;
  int64_t params = 0;
  int weight_bits = 0, activation_bits = 0, membrane_bits = 0;  // 0 = float (golden level)
  int spike_input_steps = 0;  // T of a spike-input variant; 0: the released graph
};

// A NIR graph's run (`simulate --map graph.stmap --input`): what the graph is, its dense
// equivalent (what a GPU multiplies every step, zeros included), and each population's spikes over
// the run. The counts of such a run hold only per-step totals (counts.sum has no layers).
struct StatsNir {
  struct Population {
    std::string node, type;   // NIR node id and primitive ("LIF", ...; "Readout" for a readout)
    int64_t neurons = 0;
    bool spiking = true;
    int64_t spikes = 0;       // over the run
  };
  std::string graph;          // the .nir file
  double dt = 0;
  std::vector<int64_t> input_shape, output_shape;
  std::vector<Population> populations;   // on the chip (not the graph input)
  int64_t dense_macs_per_step = 0;       // every stored synapse, each step
  int64_t weight_elements = 0;           // the graph's own weights (a shared convolution weight once)
  int64_t state_elements = 0;            // membranes and synaptic currents
};

struct StatsTokens {
  std::vector<int> prompt, generated;
  int64_t steps = 0;  // tokens consumed = counts.per_step.size()
};

struct StatsChip {
  std::string name, spec_path;
  double clock_mhz = 0;
  int chips = 0;
  int64_t cores_total = 0, cores_used = 0;
};

// Which tiles (a core with its router) drew static power, as the simulator decided from the mapping
// and the chip's `power.gating` (docs/chip.md, "Power states"). A stats file without this section
// predates power states: every tile of `chip.cores_total` counts as powered.
struct StatsPower {
  std::string gating;                 // "none", "chip" or "core"
  double gated_static_fraction = 1;   // share of a tile's static power a gated tile still draws
  int64_t tiles_total = 0, tiles_powered = 0, tiles_gated = 0;
  int64_t tiles_routing_only = 0;     // powered because their router forwards a route, running no unit
  int chips_total = 0, chips_powered = 0;  // chips with at least one powered tile
};

struct StatsCycles {
  // One-at-a-time steps: cycles from a token's first input event to its logits. Steps of a
  // pipelined prefill overlap: the cycles from the previous token's end to this one's.
  std::vector<int64_t> per_step;
  int64_t total = 0;              // never less than Σ per_step
  // The first prefill_steps steps were one pipelined prefill of prefill_cycles (0: none);
  // the rest were stepped one at a time (decode).
  int64_t prefill_steps = 0, prefill_cycles = 0;
};

struct NetworkStepStats {
  int64_t packets = 0, flit_hops = 0, flits_delivered = 0, inter_chip_flits = 0;
};

struct StatsNetwork {
  int64_t packets = 0;           // event packets injected
  // Flit-hops, the one definition (docs/stats-format.md): flits × links crossed from router to
  // router, mesh and inter-chip alike; a packet of f flits crossing h links makes f·h. A
  // multicast tree counts each of its links once.
  int64_t flit_hops = 0;
  int64_t flits_delivered = 0;   // flits handed from a router to its own core, one per destination
  int64_t inter_chip_flits = 0;  // flits across inter-chip links
  std::vector<NetworkStepStats> per_step;  // may be empty; otherwise one entry per step
  // Every statistic the network model registered by name (per router, port and link: packets,
  // flits, peak buffer occupancy, blocked cycles; totals), as a JSON object name -> value; a
  // string holding that object's text, empty when the level has none (kept as text so this header
  // needs no JSON type).
  std::string detail_json;
};

// What the RTL neuron core did for a core that accumulated on it (`simulate --rtl`), by its own
// clock: commands taken and cycles busy or idle.
struct RtlCoreStats {
  std::string backend, model;  // "verilated" or "reference"; the RTL geometry ("default", ...)
  int64_t events = 0, partial_sums = 0, ticks = 0, readouts = 0;
  int64_t busy_cycles = 0, idle_cycles = 0;
  int64_t neuron_updates = 0, sops = 0;
};

// One core's counters over the whole run, in the units the energy table prices.
// What a core's datapath did, as the report prices it: one core's over the run (CoreStats), or
// every core's for one step (RunStats::cores_per_step).
struct CoreWork {
  int64_t sop_binary = 0, sop_graded = 0, sop_bit_serial = 0;
  int64_t synapse_reads = 0;                    // accesses of read_width_bits
  int64_t state_reads = 0, state_writes = 0;    // accesses of access_width_bits
  int64_t neuron_updates_lif = 0, neuron_updates_other = 0;
  std::map<std::string, int64_t> sfu;           // by energy-table name: exp, sigmoid, ...
  int64_t events_out = 0;
};

struct CoreStats : CoreWork {
  int index = 0, chip = 0, row = 0, col = 0;
  std::string unit;    // what the core hosts, e.g. "att.key[0:256,0:192]"
  int layer = -1;      // -1 for global ops (embedding, ln_out, head)
  std::string op;      // op_name() of the op it serves, "" when it serves several
  int64_t busy_cycles = 0, stall_cycles = 0;
  std::optional<RtlCoreStats> rtl;  // only for cores on the RTL
};

// The compiler's latency bound for the mapping that ran (compiler/mapping.hpp LatencyEstimate),
// carried into the statistics so the report can set the measured cycles beside the critical path
// the compiler predicted: when each tensor's stage sends, and the path's steps by unit.
struct StatsEstimate {
  struct Stage {
    std::string tensor;
    int layer = -1;  // -1: the head / global ops
    double first_send = 0, last_send = 0;
  };
  struct PathStep {
    std::string unit;
    int layer = -1;
    double start = 0, end = 0;
  };
  int profile_tokens = 0;
  double cycles_per_token = 0;
  std::vector<Stage> stages;
  std::vector<PathStep> critical_path;
};
nlohmann::json estimate_to_json(const StatsEstimate& e);

struct RunStats {
  std::string level;  // one of stats_level_names()
  StatsModel model;
  StatsTokens tokens;
  CountTotals counts;
  std::optional<StatsChip> chip;
  std::optional<StatsPower> power;
  std::optional<StatsCycles> cycles;
  std::optional<StatsNetwork> network;
  std::optional<std::vector<CoreStats>> cores;
  // The cores' work summed per step, each reaction counted for the token it served (the
  // simulator's; a step then prices what the run's per-core counters price).
  std::optional<std::vector<CoreWork>> cores_per_step;
  std::optional<StatsEstimate> estimate;  // simulator runs of a mapping compiled with a profile
  std::optional<StatsNir> nir;            // a NIR graph's run; absent for SpikeGPT
};

nlohmann::json stats_model_json(const StatsModel& model);
nlohmann::json stats_to_json(const RunStats& stats);
// Validates format, level and every required field; errors name the field and the file's need.
RunStats stats_from_json(const nlohmann::json& j);
// Writes into `out`; the caller commits it (with the command's other outputs).
void write_stats(OutputFile& out, const RunStats& stats);
RunStats read_stats(const std::string& path);

}  // namespace spiketile
