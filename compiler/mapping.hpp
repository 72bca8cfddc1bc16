// A compiled SpikeGPT: everything the chip needs to run the model, and nothing from the checkpoint.
//
// The lowering (compiler/lowering.hpp) turns a QuantizedSpikeGpt into units — one per core — and the
// flows of events between them; placement puts each unit on a core and routing builds the tables.
// The mapping executor (runtime/mapping_executor.hpp) and the SystemC simulator run a token step
// from this structure alone: each unit keeps its own parameters and state and reacts to the events
// its incoming flows deliver (runtime/unit_behavior.hpp). The file format is docs/mapping-format.md.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/graph.hpp"
#include "compiler/placement.hpp"
#include "compiler/routing.hpp"
#include "models/event_counts.hpp"
#include "models/numerics.hpp"
#include "models/quantized.hpp"
#include "models/tokenizer.hpp"

namespace spiketile {

enum class UnitKind : uint8_t {
  Residual = 0,  // a slice of the residual stream of one layer: LayerNorms, token shifts, spike adds
  Crossbar = 1,  // one crossbar tile of a weight matrix; a tile with in_index 0 also reduces its row block
  // One crossbar tile of a NIR population's input matrix (compiler/nir_lowering.hpp): rows are the
  // population's neurons (or the readout's rows), columns its input column space (NirProgram).
  NirCrossbar = 2,
};
const char* unit_kind_name(UnitKind k);

// What a reducing tile's neuron unit does once its rows' accumulators are complete.
enum class NeuronFunction : uint8_t {
  PartialSum = 0,       // not a reducer: ships its partial sums to the block's reducer
  Receptance = 1,       // r = σ(requantize(acc))                 -> WKV gate / FFN gate units
  AttKey = 2,           // k = requantize(acc) (log2 units)       -> WKV units
  AttValueWkvGate = 3,  // v = requantize(acc); wkv(k, v) with state; y = r·wkv -> att.output tiles
  AttOutputLif = 4,     // current = requantize(acc); LIF         -> spikes into the residual
  FfnKeyRelu2 = 5,      // h = requantize(max(0, k)²)             -> ffn.value tiles
  FfnValueGateLif = 6,  // current = requantize(r·acc); LIF       -> spikes into the residual
  HeadLogits = 7,       // the logit accumulators leave the chip to the host
  // NIR tiles (UnitKind::NirCrossbar):
  NirNeuron = 8,        // current = requantize(acc); the general neuron of docs/numerics.md §4.8a -> spikes
  NirReadout = 9,       // the readout's accumulators leave the chip to the host
};
const char* neuron_function_name(NeuronFunction f);

// What a flow's events mean to their destinations.
enum class FlowRole : uint8_t {
  Activation = 0,  // graded crossbar inputs (xk, xv, xr, y, h, z): (index, value)
  PartialSum = 1,  // wide partial sums of a row block, to its reducer
  Receptance = 2,  // r of a row range, to the units that gate with it
  Key = 3,         // k of a row range, to the WKV units
  Spikes = 4,      // binary: (channel) into the residual
  Residual = 5,    // x of a channel range, from one layer's residual to the next layer's
  LnGather = 6,    // a residual slice's partial LayerNorm statistic, to the layer's leader slice
  LnScatter = 7,   // the leader's mean or σ, to the other slices
};
const char* flow_role_name(FlowRole r);

// A typed array of one unit's integer parameters (weights, multipliers, LayerNorm constants, ...).
enum class ParamType : uint8_t { i8 = 1, i32 = 4, i64 = 8 };
struct ParamArray {
  std::string name;
  ParamType type = ParamType::i32;
  int64_t count = 0;
  std::vector<uint8_t> bytes;  // count × sizeof(type), little endian

  template <class T>
  const T* data() const { return reinterpret_cast<const T*>(bytes.data()); }
  int element_bytes() const { return int(type); }
};

// Resources one unit takes on its core; the compiler checks each against the chip.
struct UnitResources {
  int64_t axons = 0;           // crossbar inputs used
  int64_t neurons = 0;         // neuron-unit rows (accumulators / membranes / residual channels)
  int64_t synapse_bytes = 0;   // weights, or read-only parameters of a unit without a crossbar
  int64_t state_bytes = 0;     // recurrent state, per-row parameters and staging buffers
};

struct Unit {
  int id = 0;
  std::string name;            // "L0.ffn.key[1,0]", "L2.residual[0]"
  UnitKind kind = UnitKind::Crossbar;
  NeuronFunction function = NeuronFunction::PartialSum;
  int layer = -1;              // -1: the head
  Op op = Op::Head;            // the crossbar op, or Op::Ln1 for residual slices
  // Crossbar: the tile's input (column) and output (row) ranges. Residual: the channel range in out_*.
  int64_t in_begin = 0, in_end = 0, out_begin = 0, out_end = 0;
  int in_index = 0, out_index = 0, in_tiles = 1, out_tiles = 1;
  int slice = 0, slices = 1;   // residual slices of the layer (slice 0 leads the LayerNorms)
  std::vector<ParamArray> params;
  UnitResources resources;

  int64_t rows() const { return out_end - out_begin; }
  int64_t cols() const { return in_end - in_begin; }
  bool crossbar() const { return kind == UnitKind::Crossbar || kind == UnitKind::NirCrossbar; }
  bool reduces() const { return crossbar() && function != NeuronFunction::PartialSum; }
  // The named parameter array; throws naming the unit and the array when it is missing.
  const ParamArray& param(const std::string& name) const;
  const ParamArray* find_param(const std::string& name) const;
};

struct MappedFlow {
  int source = 0;                 // unit
  std::vector<int> destinations;  // units
  FlowRole role = FlowRole::Activation;
  ir::Encoding encoding = ir::Encoding::Graded;
  std::string tensor;             // "L0.att.xk"
  int64_t index_begin = 0, index_end = 0;  // the source's output indices the flow carries
  int payload_bits = 0;           // bits of one event's value (0 for spikes)
  double flits_per_token = 0.0;   // expected traffic (placement weight)
};

// What a mapping holds: a compiled SpikeGPT (token steps) or a compiled NIR graph (time steps).
enum class MappingKind : uint8_t { SpikeGpt = 0, Nir = 1 };
const char* mapping_kind_name(MappingKind k);

// A compiled NIR graph's own description: its populations, the projections between them, how each
// projection's inputs lie in its target's column space, and the host's side of a time step (the
// graph input it quantizes, the outputs it reads back). compiler/nir_lowering.hpp builds it from a
// nir::IntegerGraph; the NIR units and flows of the mapping refer to it by index.
struct NirProgram {
  enum class Output : uint8_t { Spikes = 0, Membrane = 1, Readout = 2 };
  struct Population {
    std::string node;        // NIR node id ("input" node for population 0; "<output>" for a readout)
    std::string type;        // "Input", "LIF", "CubaLIF", ..., "Readout"
    int64_t size = 0;
    bool binary = true;      // puts out spikes
    double scale = 1.0;      // graded input: value per LSB; neurons: membrane value per LSB
    // Its input column space: the projections into it side by side (Projection::column_begin),
    // then the always-on bias column and the late-bias column where it has them (-1: none).
    int64_t columns = 0;
    int64_t bias_column = -1, late_bias_column = -1;
  };
  struct Projection {
    int source = 0, target = 0;      // populations
    bool recurrent = false;          // carries the source's spikes of the previous step
    int32_t spike_value = 1;         // 1: binary events; p > 1: graded events of value p
    int64_t column_begin = 0;        // the source's neuron j is the target's column column_begin + j
    std::vector<std::string> path;   // the linear nodes folded into it
    int64_t synapses = 0, distinct_weights = 0;
  };
  std::string source_path;                         // the .nir file (informational)
  std::vector<int64_t> input_shape, output_shape;  // one time step's
  double dt = 0;
  int weight_bits = 8, activation_bits = 8, membrane_bits = 16;
  std::vector<Population> populations;  // 0: the graph input (never on a core: the host writes it)
  std::vector<Projection> projections;
  Output output = Output::Spikes;
  int output_population = 0;            // whose values the host reads back (the readout's, for Readout)
  std::vector<double> output_scale, output_bias;  // per output element: value = integer × scale + bias
  std::vector<int> flow_projection;     // per flow of the mapping: the projection it carries, -1 for partial sums

  int64_t output_size() const { return int64_t(output_scale.size()); }
  int64_t input_size() const { return populations.empty() ? 0 : populations[0].size; }
};

// The host's side of a time step, one rule for every level that runs a NIR mapping: the graph
// input's float values as the integers the tiles take (models/nir/nir_input.hpp), and the
// output's integers as float values (integer × scale + bias).
std::vector<int32_t> nir_quantize_input(const NirProgram& program, const std::vector<double>& input);
std::vector<double> nir_output_values(const NirProgram& program, const std::vector<int64_t>& integers);
// An input [T, *input shape] (`shape`, flattened `values`) as its T steps, each quantized by
// nir_quantize_input; any other shape is an std::invalid_argument naming `input_name`.
std::vector<std::vector<int32_t>> nir_quantize_steps(const NirProgram& program, const std::vector<int64_t>& shape,
                                                     const std::vector<double>& values, const std::string& input_name);

// Names of the NIR tiles' parameter arrays (docs/mapping-format.md): the weights, and on a NirNeuron
// reducer per row the multiplier "out" (accumulator -> input current) and the neuron constants.
namespace param {
inline constexpr const char* kNeuronDv = "neuron.dv";            // i32: dt/τ_mem on the 1/4096 grid
inline constexpr const char* kNeuronDi = "neuron.di";            // i32: dt/τ_syn on the 1/4096 grid
inline constexpr const char* kNeuronBias = "neuron.bias";        // i32: membrane LSBs
inline constexpr const char* kNeuronTheta = "neuron.theta";      // i32: membrane LSBs
inline constexpr const char* kNeuronVReset = "neuron.v_reset";   // i32: membrane LSBs
inline constexpr const char* kNeuronMode = "neuron.mode";        // i8: bit 0 current, 1 leak, 2–3 reset mode, 4 fire at ≥
}  // namespace param

// Everything the host keeps: the embedding table it streams in and the logit scales it applies.
struct HostData {
  std::vector<int32_t> embedding;        // [V × C], Q.12
  std::vector<double> head_logit_scale;  // [V]
};

// The compiler's estimate of one token on the chip (runtime/latency_estimate.hpp): profile tokens
// replayed through the units with the chip's core timing and the network's latencies but no
// contention for links or buffers between flows; mean values per token, in cycles from its start.
struct LatencyEstimate {
  // When a tensor's stage sends: the first and the last packet of the tensor's flows.
  struct Stage {
    std::string tensor;   // "L0.att.xk"
    int layer = -1;       // -1: the head
    double first_send = 0.0, last_send = 0.0;
  };
  // One stretch of the critical path: a unit working, or waiting for the input that ends the stretch.
  struct PathStep {
    int unit = 0;
    double start = 0.0, end = 0.0;
  };
  int profile_tokens = 0;   // 0: the mapping holds no estimate
  double cycles_per_token = 0.0;   // the latency bound
  double packets_per_token = 0.0, flits_injected_per_token = 0.0, flits_delivered_per_token = 0.0;
  double mesh_flit_hops_per_token = 0.0, inter_chip_flits_per_token = 0.0;
  std::vector<double> unit_busy_cycles;   // per unit, per token
  std::vector<Stage> stages;              // by last_send
  std::vector<PathStep> critical_path;    // of the last profile token, first step first
};

class MappingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Mapping {
  MappingKind kind = MappingKind::SpikeGpt;
  NirProgram nir;                 // kind Nir: the graph's populations, projections and host side
  // Model.
  ModelConfig config;
  QuantOptions quant;
  bool binary_embedding = false;
  bool rescale_every_6_layers = true;
  std::string model_source;       // checkpoint path it was compiled from (informational)
  // The tokenizer compile found for the vocabulary, content and all, so text is encoded and decoded
  // from the mapping alone (kind None: the vocabulary had none).
  TokenizerSource tokenizer;
  bool tokenizer_recorded = true;  // false: read from a format-3 file, which predates the record
  // Chip: the description is kept verbatim so the mapping runs without the YAML beside it.
  std::string chip_name;
  std::string chip_yaml;
  ir::EncodingRule encoding_rule;
  // Compiled program.
  std::vector<Unit> units;
  std::vector<MappedFlow> flows;
  HostData host;
  std::vector<CoreCoord> unit_cores;  // placement, one core per unit
  Placement placement;                // cost, baseline and lower bound of the placement
  // Per-router tables (index = core index, compiler/routing.hpp) as build_routing_tables(topology,
  // unit_cores, to_placement_flows(flows), routing_options) returns them; the loader rebuilds and compares.
  std::vector<std::vector<RouteEntry>> routing_tables;
  RoutingOptions routing_options;
  std::vector<std::string> decisions; // the lowering's explanation of its choices, in order
  LatencyEstimate estimate;           // what compile predicts for a token (empty if it did not profile)

  int64_t weight_bytes() const;       // crossbar weight bytes over all tiles
};

// Names of the parameter arrays (docs/mapping-format.md lists each kind's arrays, types and sizes).
namespace param {
inline constexpr const char* kWeights = "weights";        // crossbar: i8 [rows × cols], row-major
inline constexpr const char* kOut = "out";                // reducers: multipliers per row (out.mantissa, out.shift)
inline constexpr const char* kGate = "gate";              // att.value / ffn.key reducers: one multiplier
inline constexpr const char* kTimeFirst = "time_first";   // att.value reducers: i32 per row, log2 Q.8
inline constexpr const char* kTimeDecay = "time_decay";   // i32 per row, log2 Q.8, <= -1
// Residual slices: LayerNorm constants per channel of the slice, "<ln>.gain" / "<ln>.bias" (i64,
// Q.16) for ln0 (layer 0 only), ln1, ln2, ln_out (last layer only); token-shift mixes (i32, Q0.10).
inline constexpr const char* kLn0 = "ln0";
inline constexpr const char* kLn1 = "ln1";
inline constexpr const char* kLn2 = "ln2";
inline constexpr const char* kLnOut = "ln_out";
inline constexpr const char* kMixAttK = "mix.att_k";
inline constexpr const char* kMixAttV = "mix.att_v";
inline constexpr const char* kMixAttR = "mix.att_r";
inline constexpr const char* kMixFfnK = "mix.ffn_k";
inline constexpr const char* kMixFfnR = "mix.ffn_r";
// A spike-input variant's thresholds (docs/numerics.md §4.10), i64 × T each, only when the model is
// one (config.spike_input_steps = T): residual slices on their token-shift outputs, att.value
// reducers on r·wkv, ffn.key reducers on k².
inline constexpr const char* kSpikesAttMix = "spikes.att_mix";
inline constexpr const char* kSpikesFfnMix = "spikes.ffn_mix";
inline constexpr const char* kSpikesGate = "spikes.gate";
}  // namespace param

// Helpers shared by the lowering and the loader.
ParamArray make_param(const std::string& name, ParamType type, int64_t count, const void* data);
template <class T>
ParamArray make_param(const std::string& name, const std::vector<T>& v) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 4 || sizeof(T) == 8);
  return make_param(name, ParamType(sizeof(T)), int64_t(v.size()), v.data());
}
// Multipliers as two arrays "<prefix>.mantissa" (i32) and "<prefix>.shift" (i8).
void add_multipliers(Unit& unit, const std::string& prefix, const std::vector<q::Multiplier>& m);
std::vector<q::Multiplier> read_multipliers(const Unit& unit, const std::string& prefix);
// A NIR reducer's general neurons (docs/numerics.md §4.8a) as the arrays param::kNeuron* hold them,
// and back; reading checks every field's range for `membrane_bits`, naming the unit and row.
void add_neuron_params(Unit& unit, const std::vector<q::NeuronParams>& neurons);
std::vector<q::NeuronParams> read_neuron_params(const Unit& unit, int membrane_bits);
// The unit a command-line word names: a core index (the unit placed on that core) or a unit's
// name ("L0.ffn.value[0,2]"); -1 when none. One rule for every option that selects cores
// (--rtl, --trace-cores), so they take the same words.
int find_unit(const Mapping& mapping, const Topology& topology, const std::string& core_or_name);

// The flows as placement and routing see them: unit ids and flits per token, in the same order.
std::vector<Flow> to_placement_flows(const std::vector<MappedFlow>& flows);

}  // namespace spiketile
