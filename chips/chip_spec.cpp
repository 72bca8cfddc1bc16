#include "chips/chip_spec.hpp"

#include "chips/event_packet.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace spiketile {

using config::ImplChoice;
using config::Need;
using config::ParamSpec;
using config::ParamType;
using config::ParsedConfig;
using config::ProblemSink;
using config::SectionSpec;

namespace {

constexpr double kMaxCount = 1 << 20;
constexpr double kMaxLatency = 1'000'000;

ParamSpec required_integer(std::string key, std::string unit, double min, double max, std::string description) {
  ParamSpec param;
  param.key = std::move(key);
  param.unit = std::move(unit);
  param.min_value = min;
  param.max_value = max;
  param.description = std::move(description);
  return param;
}

ParamSpec integer_with_default(std::string key, std::string unit, int64_t default_value, double min, double max,
                               std::string description) {
  ParamSpec param = required_integer(std::move(key), std::move(unit), min, max, std::move(description));
  param.need = Need::defaulted;
  param.default_value = std::to_string(default_value);
  return param;
}

ParamSpec text_param(std::string key, Need need, std::string default_value, std::string description) {
  ParamSpec param;
  param.key = std::move(key);
  param.type = ParamType::string;
  param.need = need;
  param.default_value = std::move(default_value);
  param.description = std::move(description);
  return param;
}

ParamSpec impl_param(ParamType type, std::string key, std::string default_value, std::vector<ImplChoice> choices,
                     std::string description) {
  ParamSpec param;
  param.key = std::move(key);
  param.type = type;
  param.need = Need::defaulted;
  param.default_value = std::move(default_value);
  param.choices = std::move(choices);
  param.description = std::move(description);
  return param;
}

// Power domains. A file without the section has none (every tile powered for the whole run), the
// figures of every description written before power states.
SectionSpec power_section() {
  ParamSpec fraction = required_integer(
      "gated_static_fraction", "", 0, 1,
      "Share of a tile's static power (the energy table's `static_power_mw_per_core`) a switched-off tile still "
      "draws: leakage through its off power switch, 1 / the switch's leakage reduction. Cite the figure in a "
      "`#` comment.");
  fraction.type = ParamType::number;
  auto choice = [](PowerGating gating, std::string description, std::vector<ParamSpec> params) {
    return ImplChoice{power_gating_name(gating), std::move(description), std::move(params)};
  };
  return SectionSpec{
      "power",
      "Power domains. A tile (one core with its router; `static_power_mw_per_core` covers both) is needed when its "
      "core runs a unit of the mapping or its router forwards a route (gateways and routers of chips a route only "
      "crosses included); the simulator decides this from the mapping and records it in the statistics. Gated "
      "tiles hold no unit, so nothing needs retaining; they are switched off for the whole run.",
      false,
      {impl_param(ParamType::impl, "gating", power_gating_name(PowerGating::none),
                  {choice(PowerGating::none, "no power switches: every tile draws static power for the whole run.", {}),
                   choice(PowerGating::chip,
                          "one switch per chip: a chip with no needed tile is off, a chip with one is fully powered.",
                          {fraction}),
                   choice(PowerGating::core, "one switch per tile: every tile that is not needed is off.", {fraction})},
                  "Which tiles that the mapping does not need are switched off.")},
      std::nullopt};
}

// Defaults below are the shipped default chip's values (chips/default.yaml), so a description
// that states only the required sizes gets the same micro-architecture.
config::Schema build_chip_schema() {
  config::Schema schema;

  ParamSpec clock = required_integer("clock_frequency_mhz", "MHz", 0.001, 100'000,
                                     "Clock of cores, routers and on-chip links; every `*_cycles` value counts "
                                     "this clock.");
  clock.type = ParamType::number;
  schema.push_back(SectionSpec{
      "",
      "Identity and clock of the chip description.",
      false,
      {required_integer("version", "", 1, 1000,
                        fmt::format("Format version of this file; this build reads {}.", kChipSpecVersion)),
       text_param("name", Need::required, "", "Short name, used in reports."),
       text_param("description", Need::defaulted, "", "Free text for people; ignored by the tools."),
       clock},
      std::nullopt});

  schema.push_back(SectionSpec{
      "system",
      "How many chips there are and how they are tiled. Chips are numbered row-major in the chip grid.",
      false,
      {integer_with_default("chip_count", "chips", 1, 1, 65536, "Number of identical chips."),
       impl_param(ParamType::impl, "topology", "chain_1d",
                  {ImplChoice{"chain_1d",
                              "chips in one row; chip i's east edge links to chip i+1's west edge.",
                              {}},
                   ImplChoice{"grid_2d",
                              "chips in a rows × cols grid (rows · cols = chip_count); horizontally adjacent "
                              "chips link east-west edges, vertically adjacent chips north-south edges.",
                              {required_integer("rows", "chips", 1, 65536, "Chip rows."),
                               required_integer("cols", "chips", 1, 65536, "Chip columns.")}}},
                  "How chips connect.")},
      std::nullopt});

  schema.push_back(SectionSpec{
      "system.inter_chip_link",
      "The slower links between facing edges of neighbouring chips. On each facing edge, "
      "`gateways_per_edge` edge routers (the gateways) each own one link to the router opposite.",
      false,
      {integer_with_default("latency_cycles", "cycles", 20, 1, kMaxLatency,
                            "Cycles from a flit leaving a gateway to its arrival at the opposite gateway."),
       integer_with_default("bandwidth_bits_per_cycle", "bits/cycle", 8, 1, 4096,
                            "Bits one link carries per cycle; a flit takes ceil(flit_bits / this) cycles."),
       integer_with_default("gateways_per_edge", "routers", 1, 1, 4096,
                            "Gateway routers per facing edge, spread evenly: gateway k of n on an edge of L "
                            "routers sits at offset floor((2k+1)·L / (2n)).")},
      std::nullopt});

  schema.push_back(SectionSpec{
      "mesh",
      "The 2D mesh of cores on one chip; one router per core.",
      false,
      {required_integer("rows", "cores", 1, 4096, "Cores per chip in the Y (north-south) direction."),
       required_integer("cols", "cores", 1, 4096, "Cores per chip in the X (east-west) direction.")},
      std::nullopt});

  schema.push_back(SectionSpec{
      "mesh.link",
      "The links between neighbouring routers on a chip.",
      false,
      {integer_with_default("latency_cycles", "cycles", 1, 1, 1000, "Cycles to cross one link."),
       integer_with_default("bandwidth_flits_per_cycle", "flits/cycle", 1, 1, 64,
                            "Flits one link carries per cycle and direction.")},
      std::nullopt});

  ParamSpec weight_signed;
  weight_signed.key = "weight_signed";
  weight_signed.type = ParamType::boolean;
  weight_signed.need = Need::defaulted;
  weight_signed.default_value = "true";
  weight_signed.description = "Weights are two's-complement signed.";
  schema.push_back(SectionSpec{
      "core",
      "One neurosynaptic core: crossbar, accumulators, neuron unit, special-function units.",
      false,
      {required_integer("weight_bits", "bits", 1, 32, "Width of one synaptic weight."),
       weight_signed,
       required_integer("activation_bits", "bits", 1, 32,
                        "Payload of a graded event, i.e. the value width a graded or bit-serial synaptic op "
                        "multiplies a weight by."),
       required_integer("accumulator_bits", "bits", 1, 64,
                        "Width of the per-neuron accumulators that sum weight × input over the axons."),
       required_integer("membrane_bits", "bits", 1, 64, "Width of a stored membrane potential."),
       integer_with_default("axon_input_queue_depth", "events", 64, 1, kMaxCount,
                            "Incoming events buffered at the core before the router is back-pressured.")},
      std::nullopt});

  schema.push_back(SectionSpec{
      "core.crossbar",
      "The synaptic crossbar: axons (inputs) × neurons (outputs), one weight per pair.",
      false,
      {required_integer("axons", "axons", 1, kMaxCount, "Inputs of the crossbar."),
       required_integer("neurons", "neurons", 1, kMaxCount, "Outputs of the crossbar.")},
      std::nullopt});

  schema.push_back(SectionSpec{
      "core.synapse_sram",
      "The SRAM that holds the crossbar's weights.",
      false,
      {required_integer("size_bytes", "bytes", 1, 1e12,
                        "Capacity; at least axons × neurons × weight_bits / 8."),
       integer_with_default("read_width_bits", "bits", 256, 1, 4096,
                            "Bits returned by one read (one counted `sram.synapse_read`); a multiple of "
                            "weight_bits."),
       integer_with_default("read_latency_cycles", "cycles", 1, 1, 1000, "Cycles from address to data.")},
      std::nullopt});

  schema.push_back(SectionSpec{
      "core.state_sram",
      "The SRAM that holds membrane potentials and recurrent state (RWKV token-shift and WKV state).",
      false,
      {required_integer("size_bytes", "bytes", 1, 1e12,
                        "Capacity; at least neurons × membrane_bits / 8."),
       integer_with_default("access_width_bits", "bits", 64, 1, 4096,
                            "Bits moved by one access (one counted `sram.state_read` or `sram.state_write`)."),
       integer_with_default("access_latency_cycles", "cycles", 1, 1, 1000, "Cycles per access.")},
      std::nullopt});

  schema.push_back(SectionSpec{
      "core.neuron_unit",
      "Applies a neuron function to accumulated values, `lanes` neurons per cycle.",
      false,
      {integer_with_default("lanes", "neurons/cycle", 16, 1, kMaxCount, "Neurons updated per cycle."),
       integer_with_default("pipeline_latency_cycles", "cycles", 3, 1, 1000,
                            "Cycles from accumulator value to neuron output."),
       impl_param(ParamType::impl_list, "functions", "lif, relu2, identity",
                  {ImplChoice{"lif",
                              "leaky integrate-and-fire: leak, integrate, compare with threshold, emit a binary "
                              "spike and reset (SpikeGPT's spiking neurons).",
                              {}},
                   ImplChoice{"integrate_and_fire", "non-leaky integrate-and-fire.", {}},
                   ImplChoice{"relu", "max(x, 0).", {}},
                   ImplChoice{"relu2", "max(x, 0)², the channel-mix activation of RWKV.", {}},
                   ImplChoice{"identity", "passes the (requantised) value on as a graded event.", {}}},
                  "Neuron functions the unit implements.")},
      std::nullopt});

  schema.push_back(SectionSpec{
      "core.sfu",
      "Special-function units: LayerNorm statistics, exp, sigmoid, reciprocal/rsqrt/division and "
      "element-wise products, in fixed point.",
      false,
      {integer_with_default("units", "units", 4, 0, 64, "Special-function units per core (0 = none)."),
       integer_with_default("operand_bits", "bits", 32, 2, 64, "Fixed-point width of SFU operands.")},
      std::nullopt});

  schema.push_back(SectionSpec{
      "core.sfu.ops",
      "Supported SFU operations, each with its timing; an operation left out is unsupported. All operate "
      "element by element; `mean_var` consumes one element per initiation interval and delivers mean and "
      "variance `latency_cycles` after the last.",
      false,
      {},
      std::nullopt});
  for (const std::string& op : sfu_op_names()) {
    schema.push_back(SectionSpec{
        "core.sfu.ops." + op,
        fmt::format("Timing of `{}`.", op),
        true,
        {required_integer("latency_cycles", "cycles", 1, 10'000, "Cycles from operand in to result out."),
         integer_with_default("initiation_interval_cycles", "cycles", 1, 1, 10'000,
                              "Cycles between successive operands into one unit (1 = fully pipelined).")},
        std::nullopt});
  }

  schema.push_back(SectionSpec{
      "router",
      "The per-core router of the 2D mesh. Events travel as single-flit packets (docs/chip.md, "
      "\"Event packet\"), or several values of one flow as one multi-flit burst (max_burst_events).",
      false,
      {integer_with_default("ports", "ports", 5, 1, 16, "Ports; a 2D mesh router has 5 (N, E, S, W, local)."),
       integer_with_default("input_buffer_depth_flits", "flits", 16, 1, 65536, "Buffer per input port."),
       required_integer("flit_bits", "bits", 1, 4096, "Flit width; must hold one event packet."),
       integer_with_default("max_burst_events", "events", 1, 1, 255,
                            "Values of one flow for consecutive axons that a core may send as one multi-flit "
                            "packet (a burst: one header, a length field, the payloads packed; chips/event_packet.hpp). "
                            "1: every value is its own packet. A burst never exceeds a router input buffer or "
                            "the axon input queue."),
       integer_with_default("multicast_branch_buffer_flits", "flits", 0, 0, 65536,
                            "Room at each output port for branches of multicast packets that cannot leave yet: a "
                            "branch blocked for credits waits there while the packet's other branches go on and its "
                            "input buffer slot frees, so one slow destination does not hold up the others "
                            "(docs/chip.md, \"Multicast branches\"). 0: a multicast packet holds its input buffer "
                            "until every branch has left. Otherwise at least input_buffer_depth_flits, so every packet fits."),
       impl_param(ParamType::impl, "routing", "xy",
                  {ImplChoice{"xy", "dimension order: along X (columns) first, then Y; deadlock-free on a mesh.", {}},
                   ImplChoice{"yx", "dimension order: along Y first, then X.", {}}},
                  "Routing algorithm."),
       impl_param(ParamType::impl, "arbitration", "round_robin",
                  {ImplChoice{"round_robin", "input ports take turns for each output port.", {}},
                   ImplChoice{"fixed_priority", "lowest-numbered input port wins (can starve others).", {}}},
                  "Output-port arbitration."),
       integer_with_default("routing_table_entries", "entries", 256, 0, 1 << 24,
                            "Multicast routing-table entries (0 = unicast only)."),
       integer_with_default("pipeline_latency_cycles", "cycles", 2, 1, 1000,
                            "Cycles a flit spends in one router (per hop, excluding the link).")},
      std::nullopt});

  schema.push_back(power_section());
  return schema;
}

int64_t ceil_div(int64_t numerator, int64_t denominator) { return (numerator + denominator - 1) / denominator; }

// Checks that span several fields. Each check runs only when all its inputs validated, so one bad
// value is reported once rather than again by every rule that uses it.
void check_consistency(const ParsedConfig& c, ProblemSink& sink) {
  auto at = [&c](const std::string& path) { return c.position(path); };

  if (auto version = c.integer("version"); version && *version != kChipSpecVersion) {
    sink.add(at("version"), fmt::format("version: unsupported chip description version {}; this build reads "
                                        "version {}",
                                        *version, kChipSpecVersion));
  }

  const auto axons = c.integer("core.crossbar.axons");
  const auto neurons = c.integer("core.crossbar.neurons");
  const auto weight_bits = c.integer("core.weight_bits");
  const auto weight_signed = c.boolean("core.weight_signed");
  const auto activation_bits = c.integer("core.activation_bits");
  const auto accumulator_bits = c.integer("core.accumulator_bits");
  const auto membrane_bits = c.integer("core.membrane_bits");
  const auto synapse_bytes = c.integer("core.synapse_sram.size_bytes");
  const auto synapse_width = c.integer("core.synapse_sram.read_width_bits");
  const auto state_bytes = c.integer("core.state_sram.size_bytes");
  const auto state_width = c.integer("core.state_sram.access_width_bits");

  if (weight_signed && *weight_signed && weight_bits && *weight_bits < 2) {
    sink.add(at("core.weight_bits"),
             fmt::format("core.weight_bits: a signed weight needs at least 2 bits, got {}", *weight_bits));
  }

  if (axons && neurons && weight_bits && synapse_bytes) {
    const int64_t needed = ceil_div(*axons * *neurons * *weight_bits, 8);
    if (*synapse_bytes < needed) {
      sink.add(at("core.synapse_sram.size_bytes"),
               fmt::format("core.synapse_sram.size_bytes: {} bytes cannot hold the crossbar's weights: {} axons × "
                           "{} neurons × {} bits / 8 = {} bytes",
                           *synapse_bytes, *axons, *neurons, *weight_bits, needed));
    }
  }
  if (synapse_width && weight_bits && *synapse_width % *weight_bits != 0) {
    sink.add(at("core.synapse_sram.read_width_bits"),
             fmt::format("core.synapse_sram.read_width_bits: {} is not a multiple of core.weight_bits ({}); a "
                         "read must return whole weights",
                         *synapse_width, *weight_bits));
  }
  auto check_whole_accesses = [&](const char* size_path, std::optional<int64_t> bytes, const char* width_name,
                                  std::optional<int64_t> width_bits) {
    if (bytes && width_bits && (*bytes * 8) % *width_bits != 0) {
      sink.add(at(size_path), fmt::format("{}: {} bytes is not a whole number of {}-bit accesses ({})", size_path,
                                          *bytes, *width_bits, width_name));
    }
  };
  check_whole_accesses("core.synapse_sram.size_bytes", synapse_bytes, "read_width_bits", synapse_width);
  check_whole_accesses("core.state_sram.size_bytes", state_bytes, "access_width_bits", state_width);

  if (weight_bits && activation_bits && axons && accumulator_bits) {
    const int axon_bits = config::index_bits(static_cast<uint64_t>(*axons));
    const int64_t needed = *weight_bits + *activation_bits + axon_bits;
    if (*accumulator_bits < needed) {
      sink.add(at("core.accumulator_bits"),
               fmt::format("core.accumulator_bits: {} bits can overflow; summing {} products of a {}-bit weight and "
                           "a {}-bit activation needs {} + {} + ceil(log2({})) = {} bits",
                           *accumulator_bits, *axons, *weight_bits, *activation_bits, *weight_bits,
                           *activation_bits, *axons, needed));
    }
  }
  if (membrane_bits && accumulator_bits && *membrane_bits > *accumulator_bits) {
    sink.add(at("core.membrane_bits"),
             fmt::format("core.membrane_bits: {} bits is wider than core.accumulator_bits ({})", *membrane_bits,
                         *accumulator_bits));
  }
  if (neurons && membrane_bits && state_bytes) {
    const int64_t needed = ceil_div(*neurons * *membrane_bits, 8);
    if (*state_bytes < needed) {
      sink.add(at("core.state_sram.size_bytes"),
               fmt::format("core.state_sram.size_bytes: {} bytes cannot hold the membrane potentials: {} neurons × "
                           "{} bits / 8 = {} bytes",
                           *state_bytes, *neurons, *membrane_bits, needed));
    }
  }
  if (auto lanes = c.integer("core.neuron_unit.lanes"); lanes && neurons && *lanes > *neurons) {
    sink.add(at("core.neuron_unit.lanes"),
             fmt::format("core.neuron_unit.lanes: {} lanes exceed the crossbar's {} neurons", *lanes, *neurons));
  }

  std::vector<std::string> listed_ops;
  for (const std::string& op : sfu_op_names()) {
    const std::string base = "core.sfu.ops." + op;
    if (!c.has_section(base)) continue;
    listed_ops.push_back(op);
    auto latency = c.integer(base + ".latency_cycles");
    auto interval = c.integer(base + ".initiation_interval_cycles");
    if (latency && interval && *interval > *latency) {
      sink.add(at(base + ".initiation_interval_cycles"),
               fmt::format("{}.initiation_interval_cycles: {} exceeds its latency_cycles ({}); a unit cannot "
                           "take longer to accept an operand than to finish one",
                           base, *interval, *latency));
    }
  }
  if (auto units = c.integer("core.sfu.units"); units && *units == 0 && !listed_ops.empty()) {
    sink.add(at("core.sfu.units"), fmt::format("core.sfu.units: 0 units cannot perform the listed operations ({})",
                                               fmt::join(listed_ops, ", ")));
  }

  const auto chip_count = c.integer("system.chip_count");
  const auto mesh_rows = c.integer("mesh.rows");
  const auto mesh_cols = c.integer("mesh.cols");
  const auto topology = c.string("system.topology");
  const bool is_grid = topology && *topology == "grid_2d";
  if (is_grid) {
    auto grid_rows = c.integer("system.topology.rows"), grid_cols = c.integer("system.topology.cols");
    if (grid_rows && grid_cols && chip_count && *grid_rows * *grid_cols != *chip_count) {
      sink.add(at("system.topology"),
               fmt::format("system.topology: a {} × {} chip grid holds {} chips but system.chip_count is {}",
                           *grid_rows, *grid_cols, *grid_rows * *grid_cols, *chip_count));
    }
  }
  if (auto gateways = c.integer("system.inter_chip_link.gateways_per_edge"); gateways && mesh_rows && mesh_cols) {
    // East-west edges have mesh.rows routers; north-south edges (grids only) have mesh.cols.
    const int64_t shortest_edge = is_grid ? std::min(*mesh_rows, *mesh_cols) : *mesh_rows;
    if (*gateways > shortest_edge) {
      sink.add(at("system.inter_chip_link.gateways_per_edge"),
               fmt::format("system.inter_chip_link.gateways_per_edge: {} gateways do not fit on a chip edge of {} "
                           "routers",
                           *gateways, shortest_edge));
    }
  }

  if (auto ports = c.integer("router.ports"); ports && *ports != 5) {
    sink.add(at("router.ports"),
             fmt::format("router.ports: a 2D mesh router has 5 ports (north, east, south, west, local), got {}",
                         *ports));
  }
  const auto flit_bits = c.integer("router.flit_bits");
  const auto table_entries = c.integer("router.routing_table_entries");
  if (flit_bits && chip_count && mesh_rows && mesh_cols && table_entries && axons && activation_bits) {
    const EventPacketFormat packet = compute_event_packet_format(*chip_count, *mesh_rows, *mesh_cols, *table_entries,
                                                                 *axons, *activation_bits);
    if (*flit_bits < packet.total_bits()) {
      sink.add(at("router.flit_bits"),
               fmt::format("router.flit_bits: {} bits cannot carry an event packet of {} bits = {} kind + {} "
                           "destination (max of {} address bits = {} chip + {} row + {} column, and {} route-id "
                           "bits) + {} axon index + {} payload",
                           *flit_bits, packet.total_bits(), packet.kind_bits, packet.destination_bits(),
                           packet.address_bits(), packet.chip_bits, packet.row_bits, packet.col_bits,
                           packet.route_id_bits, packet.axon_bits, packet.payload_bits));
    } else if (const auto burst = c.integer("router.max_burst_events");
               burst && *flit_bits < packet.single_event_bits(int(*burst))) {
      sink.add(at("router.max_burst_events"),
               fmt::format("router.max_burst_events: bursts add a burst bit to every event packet, which then needs "
                           "{} bits, more than router.flit_bits = {}; widen the flits or set max_burst_events to 1",
                           packet.single_event_bits(int(*burst)), *flit_bits));
    } else if (const auto buffer = c.integer("router.input_buffer_depth_flits"); buffer && accumulator_bits) {
      // A packet moves whole between input buffers, so the simulator could never forward one wider
      // than a buffer: the widest is a partial sum of up to the accumulator's bits.
      const int burst = int(c.integer("router.max_burst_events").value_or(1));
      const int widest = flits_per_packet(packet, int(*flit_bits), int(*accumulator_bits), 1, burst);
      if (*buffer < widest)
        sink.add(at("router.input_buffer_depth_flits"),
                 fmt::format("router.input_buffer_depth_flits: {} flit{} cannot hold the widest event packet, a partial "
                             "sum of up to core.accumulator_bits = {} bits, which takes {} flits of {} bits; a packet "
                             "must fit one input buffer whole",
                             *buffer, *buffer == 1 ? "" : "s", *accumulator_bits, widest, *flit_bits));
    }
  }
  const auto branch = c.integer("router.multicast_branch_buffer_flits");
  const auto buffer = c.integer("router.input_buffer_depth_flits");
  if (branch && buffer && *branch > 0 && *branch < *buffer)
    sink.add(at("router.multicast_branch_buffer_flits"),
             fmt::format("router.multicast_branch_buffer_flits: {} flit{} is less than an input buffer "
                         "(router.input_buffer_depth_flits = {}), so a packet an input buffer holds might not fit; "
                         "use 0 (no branch buffers) or at least {}",
                         *branch, *branch == 1 ? "" : "s", *buffer, *buffer));
}

SramSpec read_sram(const ParsedConfig& c, const std::string& base, const std::string& width_key,
                   const std::string& latency_key) {
  SramSpec sram;
  sram.size_bytes = c.integer(base + ".size_bytes").value_or(0);
  sram.access_width_bits = static_cast<int>(c.integer(base + "." + width_key).value_or(0));
  sram.latency_cycles = static_cast<int>(c.integer(base + "." + latency_key).value_or(0));
  return sram;
}

ChipSpec build_chip_spec(const ParsedConfig& c, const std::string& path) {
  auto integer = [&c](const std::string& key) { return static_cast<int>(c.integer(key).value_or(0)); };
  ChipSpec spec;
  spec.source_path = path;
  spec.version = integer("version");
  spec.name = c.string("name").value_or("");
  spec.description = c.string("description").value_or("");
  spec.clock_frequency_mhz = c.number("clock_frequency_mhz").value_or(0.0);

  spec.system.chip_count = integer("system.chip_count");
  spec.system.topology.impl = c.string("system.topology").value_or("");
  if (spec.system.topology.impl == "grid_2d") {
    spec.system.topology.grid_rows = integer("system.topology.rows");
    spec.system.topology.grid_cols = integer("system.topology.cols");
  } else {
    spec.system.topology.grid_rows = 1;
    spec.system.topology.grid_cols = spec.system.chip_count;
  }
  spec.system.inter_chip_link.latency_cycles = integer("system.inter_chip_link.latency_cycles");
  spec.system.inter_chip_link.bandwidth_bits_per_cycle = integer("system.inter_chip_link.bandwidth_bits_per_cycle");
  spec.system.inter_chip_link.gateways_per_edge = integer("system.inter_chip_link.gateways_per_edge");

  spec.mesh.rows = integer("mesh.rows");
  spec.mesh.cols = integer("mesh.cols");
  spec.mesh.link.latency_cycles = integer("mesh.link.latency_cycles");
  spec.mesh.link.bandwidth_flits_per_cycle = integer("mesh.link.bandwidth_flits_per_cycle");

  CoreSpec& core = spec.core;
  core.crossbar.axons = integer("core.crossbar.axons");
  core.crossbar.neurons = integer("core.crossbar.neurons");
  core.weight_bits = integer("core.weight_bits");
  core.weight_signed = c.boolean("core.weight_signed").value_or(true);
  core.activation_bits = integer("core.activation_bits");
  core.accumulator_bits = integer("core.accumulator_bits");
  core.membrane_bits = integer("core.membrane_bits");
  core.synapse_sram = read_sram(c, "core.synapse_sram", "read_width_bits", "read_latency_cycles");
  core.state_sram = read_sram(c, "core.state_sram", "access_width_bits", "access_latency_cycles");
  core.axon_input_queue_depth = integer("core.axon_input_queue_depth");
  core.neuron_unit.lanes = integer("core.neuron_unit.lanes");
  core.neuron_unit.pipeline_latency_cycles = integer("core.neuron_unit.pipeline_latency_cycles");
  core.neuron_unit.functions = c.list("core.neuron_unit.functions").value_or(std::vector<std::string>{});
  core.sfu.units = integer("core.sfu.units");
  core.sfu.operand_bits = integer("core.sfu.operand_bits");
  for (const std::string& op : sfu_op_names()) {
    const std::string base = "core.sfu.ops." + op;
    if (!c.has_section(base)) continue;
    core.sfu.ops[op] = SfuOpSpec{integer(base + ".latency_cycles"), integer(base + ".initiation_interval_cycles")};
  }

  RouterSpec& router = spec.router;
  router.ports = integer("router.ports");
  router.input_buffer_depth_flits = integer("router.input_buffer_depth_flits");
  router.flit_bits = integer("router.flit_bits");
  router.routing = c.string("router.routing").value_or("");
  router.arbitration = c.string("router.arbitration").value_or("");
  router.routing_table_entries = integer("router.routing_table_entries");
  router.pipeline_latency_cycles = integer("router.pipeline_latency_cycles");
  router.max_burst_events = integer("router.max_burst_events");
  router.multicast_branch_buffer_flits = integer("router.multicast_branch_buffer_flits");

  spec.power.gating = parse_power_gating(c.string("power.gating").value_or("")).value_or(PowerGating::none);
  spec.power.gated_static_fraction = c.number("power.gating.gated_static_fraction").value_or(1.0);
  return spec;
}

}  // namespace

const char* power_gating_name(PowerGating gating) {
  switch (gating) {
    case PowerGating::none: return "none";
    case PowerGating::chip: return "chip";
    case PowerGating::core: return "core";
  }
  return "?";
}

std::optional<PowerGating> parse_power_gating(const std::string& name) {
  for (PowerGating gating : kPowerGatings)
    if (name == power_gating_name(gating)) return gating;
  return std::nullopt;
}

bool NeuronUnitSpec::supports(const std::string& function) const {
  return std::find(functions.begin(), functions.end(), function) != functions.end();
}

EventPacketFormat compute_event_packet_format(int64_t chip_count, int64_t mesh_rows, int64_t mesh_cols,
                                              int64_t routing_table_entries, int64_t axons,
                                              int64_t activation_bits) {
  auto bits = [](int64_t count) { return config::index_bits(static_cast<uint64_t>(std::max<int64_t>(count, 0))); };
  EventPacketFormat packet;
  packet.chip_bits = bits(chip_count);
  packet.row_bits = bits(mesh_rows);
  packet.col_bits = bits(mesh_cols);
  packet.route_id_bits = bits(routing_table_entries);
  packet.axon_bits = bits(axons);
  packet.payload_bits = static_cast<int>(activation_bits);
  return packet;
}

EventPacketFormat ChipSpec::event_packet_format() const {
  return compute_event_packet_format(system.chip_count, mesh.rows, mesh.cols, router.routing_table_entries,
                                     core.crossbar.axons, core.activation_bits);
}

int ChipSpec::inter_chip_cycles_per_flit() const {
  const int bandwidth = system.inter_chip_link.bandwidth_bits_per_cycle;
  return bandwidth > 0 ? (router.flit_bits + bandwidth - 1) / bandwidth : 0;
}

std::vector<int> ChipSpec::gateway_offsets(int edge_length) const {
  const int gateways = std::min(system.inter_chip_link.gateways_per_edge, edge_length);
  std::vector<int> offsets;
  for (int k = 0; k < gateways; ++k) offsets.push_back((2 * k + 1) * edge_length / (2 * gateways));
  return offsets;
}

const config::Schema& chip_spec_schema() {
  static const config::Schema kSchema = build_chip_schema();
  return kSchema;
}

std::string describe_chip_spec() { return config::describe_markdown(chip_spec_schema()); }

namespace {
template <class Parse>
ChipSpec load_chip_spec_with(Parse parse, const std::string& name) {
  ProblemSink sink(name);
  const ParsedConfig parsed = parse(sink);
  check_consistency(parsed, sink);
  if (!sink.empty()) {
    std::vector<ConfigProblem> problems = sink.sorted();
    const std::size_t count = problems.size();
    throw ChipSpecError(fmt::format("invalid chip description {} ({} problem{}):", name, count, count == 1 ? "" : "s"),
                        std::move(problems));
  }
  return build_chip_spec(parsed, name);
}
}  // namespace

ChipSpec load_chip_spec(const std::string& path) {
  return load_chip_spec_with([&](ProblemSink& sink) { return config::parse_file(path, chip_spec_schema(), sink); },
                             path);
}

ChipSpec load_chip_spec_from_string(const std::string& yaml, const std::string& name) {
  return load_chip_spec_with([&](ProblemSink& sink) { return config::parse_text(yaml, chip_spec_schema(), sink); },
                             name);
}

}  // namespace spiketile
