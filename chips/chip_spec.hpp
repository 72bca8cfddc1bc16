// The chip description: a mesh of neurosynaptic crossbar cores on one or more chips.
//
// Loaded from YAML (chips/default.yaml; schema in docs/chip.md) and validated in full before use:
// types, ranges, required keys, unknown keys (with a did-you-mean), implementation names, and the
// consistency of widths and sizes across sections. All problems are reported together, each with
// its file and line, in one ChipSpecError.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chips/config_schema.hpp"

namespace spiketile {

class ChipSpecError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

// The only chip description format version this build reads.
inline constexpr int kChipSpecVersion = 1;

// Element-wise functions the neuron unit can apply to an accumulated value.
inline const std::vector<std::string>& neuron_function_names() {
  static const std::vector<std::string> kNames{"lif", "integrate_and_fire", "relu", "relu2", "identity"};
  return kNames;
}

// Operations of the special-function units.
inline const std::vector<std::string>& sfu_op_names() {
  static const std::vector<std::string> kNames{"exp",    "sigmoid",  "rsqrt",   "reciprocal",
                                               "divide", "multiply", "mean_var"};
  return kNames;
}

struct InterChipLinkSpec {
  int latency_cycles = 0;
  int bandwidth_bits_per_cycle = 0;
  int gateways_per_edge = 0;  // links per facing chip edge; placement in gateway_offsets()
};

struct ChipTopologySpec {
  std::string impl;    // "chain_1d" or "grid_2d"
  int grid_rows = 1;   // chips per column of the chip grid (1 for a chain)
  int grid_cols = 1;   // chips per row of the chip grid (chip_count for a chain)
};

struct SystemSpec {
  int chip_count = 1;
  ChipTopologySpec topology;
  InterChipLinkSpec inter_chip_link;
};

struct MeshLinkSpec {
  int latency_cycles = 0;
  int bandwidth_flits_per_cycle = 0;
};

struct MeshSpec {
  int rows = 0;  // cores per chip in the Y direction
  int cols = 0;  // cores per chip in the X direction
  MeshLinkSpec link;
};

struct CrossbarSpec {
  int axons = 0;    // inputs (rows of the weight matrix slice)
  int neurons = 0;  // outputs (columns)
};

struct SramSpec {
  int64_t size_bytes = 0;
  int access_width_bits = 0;  // bits moved by one access (one counted sram.* action)
  int latency_cycles = 0;
};

struct NeuronUnitSpec {
  int lanes = 0;  // neurons updated per cycle
  int pipeline_latency_cycles = 0;
  std::vector<std::string> functions;

  bool supports(const std::string& function) const;
};

struct SfuOpSpec {
  int latency_cycles = 0;
  int initiation_interval_cycles = 0;  // cycles between successive element inputs to one unit
};

struct SfuSpec {
  int units = 0;
  int operand_bits = 0;
  std::map<std::string, SfuOpSpec> ops;  // only the supported operations

  bool supports(const std::string& op) const { return ops.count(op) != 0; }
};

struct CoreSpec {
  CrossbarSpec crossbar;
  int weight_bits = 0;
  bool weight_signed = true;
  int activation_bits = 0;  // payload of a graded event, and the input width of a graded synaptic op
  int accumulator_bits = 0;
  int membrane_bits = 0;
  SramSpec synapse_sram;
  SramSpec state_sram;
  int axon_input_queue_depth = 0;
  NeuronUnitSpec neuron_unit;
  SfuSpec sfu;
};

struct RouterSpec {
  int ports = 0;
  int input_buffer_depth_flits = 0;
  int flit_bits = 0;
  std::string routing;      // "xy" or "yx"
  std::string arbitration;  // "round_robin" or "fixed_priority"
  int routing_table_entries = 0;
  int pipeline_latency_cycles = 0;  // per hop
  int max_burst_events = 1;         // values of one flow one packet may carry (1: no bursts)
  int multicast_branch_buffer_flits = 0;  // per output port; 0: a multicast holds its input buffer
};

// The single-flit event packet (docs/chip.md, "Event packet"). A unicast packet's destination
// field holds chip, row and column; a multicast packet's holds a routing-table index.
struct EventPacketFormat {
  int kind_bits = 1;      // unicast / multicast
  int chip_bits = 0;      // destination chip
  int row_bits = 0;       // destination core row
  int col_bits = 0;       // destination core column
  int route_id_bits = 0;  // routing-table index
  int axon_bits = 0;      // target axon in the destination crossbar
  int payload_bits = 0;   // graded value (activation_bits); unused by binary spikes

  int address_bits() const { return chip_bits + row_bits + col_bits; }
  int destination_bits() const { return address_bits() > route_id_bits ? address_bits() : route_id_bits; }
  int total_bits() const { return kind_bits + destination_bits() + axon_bits + payload_bits; }
  // The kind field on a chip that sends bursts (max_burst_events > 1) has one more bit, single or
  // burst, in every packet.
  int kind_field_bits(int max_burst_events) const { return kind_bits + (max_burst_events > 1 ? 1 : 0); }
  // One event's packet as it travels on a chip with that burst limit.
  int single_event_bits(int max_burst_events) const {
    return total_bits() - kind_bits + kind_field_bits(max_burst_events);
  }
};

EventPacketFormat compute_event_packet_format(int64_t chip_count, int64_t mesh_rows, int64_t mesh_cols,
                                              int64_t routing_table_entries, int64_t axons,
                                              int64_t activation_bits);

// Power domains (docs/chip.md, "Power states"). A tile is one core with its router. The simulator
// decides from the mapping which tiles are needed (their core runs a unit or their router forwards
// a route); the policy decides which of the others are switched off.
enum class PowerGating {
  none,  // every tile powered
  chip,  // a chip with no needed tile is switched off; chips with one are fully powered
  core,  // every tile that is not needed is switched off
};
inline constexpr PowerGating kPowerGatings[] = {PowerGating::none, PowerGating::chip, PowerGating::core};
const char* power_gating_name(PowerGating gating);  // "none", "chip", "core"
std::optional<PowerGating> parse_power_gating(const std::string& name);

struct PowerSpec {
  PowerGating gating = PowerGating::none;
  // Share of a tile's static power (the energy table's static_power_mw_per_core) a switched-off
  // tile still draws: the leakage through its off power switch. 1 under `none`, where no tile has
  // a switch.
  double gated_static_fraction = 1.0;
};

struct ChipSpec {
  int version = kChipSpecVersion;
  std::string name;
  std::string description;
  double clock_frequency_mhz = 0.0;
  SystemSpec system;
  MeshSpec mesh;
  CoreSpec core;
  RouterSpec router;
  PowerSpec power;
  std::string source_path;  // the file it was loaded from

  // Derived quantities.
  int cores_per_chip() const { return mesh.rows * mesh.cols; }
  int64_t total_cores() const { return int64_t{system.chip_count} * cores_per_chip(); }
  int64_t synapse_bytes_per_core() const { return core.synapse_sram.size_bytes; }
  int64_t total_synapse_bytes() const { return total_cores() * synapse_bytes_per_core(); }
  // Weights one crossbar holds (axons × neurons), and the bytes they need at weight_bits each.
  int64_t crossbar_weight_capacity() const { return int64_t{core.crossbar.axons} * core.crossbar.neurons; }
  int64_t crossbar_weight_bytes() const { return (crossbar_weight_capacity() * core.weight_bits + 7) / 8; }
  double clock_period_ns() const { return 1000.0 / clock_frequency_mhz; }
  EventPacketFormat event_packet_format() const;
  // Cycles an inter-chip link is busy with one flit.
  int inter_chip_cycles_per_flit() const;
  // Offsets (0-based, along an edge of `edge_length` routers) of the gateway routers on that edge:
  // gateway k of n sits at floor((2k + 1) · edge_length / (2n)), i.e. evenly spread, centred.
  std::vector<int> gateway_offsets(int edge_length) const;
};

// Loads and validates a chip description. Throws ChipSpecError listing every problem found.
ChipSpec load_chip_spec(const std::string& path);
// The same for a description held in memory (the copy a compiled mapping embeds); `name` stands
// for the file in messages and becomes source_path.
ChipSpec load_chip_spec_from_string(const std::string& yaml, const std::string& name);

// The parameter tables the loader uses, one per section.
const config::Schema& chip_spec_schema();

// Markdown reference of every section and parameter (for `spiketile chip --describe`, docs/chip.md).
std::string describe_chip_spec();

}  // namespace spiketile
