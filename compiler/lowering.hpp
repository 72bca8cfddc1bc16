// Lowering a quantized SpikeGPT onto a chip: crossbar tiles for every weight matrix, the non-linear
// ops on the tiles that reduce each row block, residual slices for LayerNorm, token shift and the
// spike adds; the flows between them; per-core resources checked against the chip; placement and
// routing. Every choice is recorded in Mapping::decisions, every failure names what does not fit.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "chips/chip_spec.hpp"
#include "compiler/mapping.hpp"
#include "compiler/placement.hpp"
#include "compiler/routing.hpp"
#include "compiler/tiling.hpp"

namespace spiketile {

// One resource that does not fit: what, where, how much is needed, how much there is, and what
// would make it fit.
struct FitProblem {
  std::string resource;   // "cores", "state SRAM", "routing-table entries", "weight bits", ...
  std::string where;      // "L3.att.value[0,0]", "chip 0 (row 2, col 5)", "the chip system"
  int64_t need = 0, capacity = 0;
  std::string fix;
  std::string str() const;
};

class DoesNotFitError : public MappingError {
 public:
  DoesNotFitError(std::string chip, std::vector<FitProblem> problems);
  const std::vector<FitProblem>& problems() const { return problems_; }

 private:
  std::vector<FitProblem> problems_;
};

struct CompileOptions {
  PlacementOptions placement;
  RoutingOptions routing;
  // Expected fraction of LIF neurons that fire per token, to weigh spike flows for placement
  // (measured on the shipped model: 0.14–0.33; the paper assumes 0.15).
  double expected_firing_rate = 0.2;
  // Splits beyond what the chip needs, to shorten a token's critical path (chosen by the compile
  // objective's search, runtime/compile_objective.hpp): at least this many row blocks for the
  // matrix of (layer, op) (layer -1: the head), and at least this many residual slices per layer.
  std::map<std::pair<int, Op>, int> row_blocks;
  int residual_slices = 0;
};

// Pieces every lowering (SpikeGPT's here, NIR's in compiler/nir_lowering.hpp) builds with.
// A flow of `events_per_token` value events (plus its end-of-stream marker): its encoding from its
// role and payload, and its traffic in flits, which placement weighs.
MappedFlow make_flow(const ChipSpec& chip, const ir::EncodingRule& rule, int source, std::vector<int> destinations,
                     FlowRole role, const std::string& tensor, int64_t begin, int64_t end, int payload_bits,
                     double events_per_token);
// The indices [begin, end) a source produces, cut into maximal runs with the same destinations:
// one flow each. A destination takes the indices [begin, end) of its range.
struct DestinationRange {
  int unit = 0;
  int64_t begin = 0, end = 0;
};
struct IndexRun {
  int64_t begin = 0, end = 0;
  std::vector<int> destinations;
};
std::vector<IndexRun> runs_by_destination(int64_t begin, int64_t end, const std::vector<DestinationRange>& ranges);
// Bits of a two's-complement value of magnitude up to `worst`, at most the accumulator's width.
int signed_bits_for(int64_t worst, int accumulator_bits);
// A crossbar tile of a row-major weight matrix [rows × matrix_cols] as a unit: its ranges and grid
// position, its weights (param::kWeights) and the axons, neurons and synapse bytes it takes. The
// caller gives it its kind, layer, op, function, name, reducer parameters and state bytes.
Unit tile_unit(const Tile& tile, const MatrixTiling& tiling, const int8_t* matrix, int64_t matrix_cols, int weight_bits);
// Appends a FitProblem for weights or membranes wider than the chip's cells and neurons hold.
void check_word_widths(const ChipSpec& chip, int weight_bits, int membrane_bits, const std::string& neurons,
                       std::vector<FitProblem>& problems);
// Appends a FitProblem for each of the unit's resources beyond its core's.
void check_unit_resources(const ChipSpec& chip, const Unit& u, std::vector<FitProblem>& problems);

// Per-row bytes of state SRAM a reducing tile with this function keeps (docs/mapping-format.md).
int64_t state_bytes_per_row(NeuronFunction f, const QuantOptions& quant);
// Per-channel state bytes of a residual slice, and read-only bytes (LayerNorm constants) per
// channel kept in its otherwise unused synapse SRAM.
int64_t residual_state_bytes_per_channel(const QuantOptions& quant);
int64_t residual_parameter_bytes_per_channel(int layer_norms);

// Lowers without placing: units, flows, resources and decisions. Throws DoesNotFitError listing
// every problem found (not just the first).
Mapping lower_to_units(const QuantizedSpikeGpt& model, const ChipSpec& chip, const std::string& chip_yaml,
                       const CompileOptions& options = {});
// The same, releasing the model's weights as they move into tiles (the compile command's path: the
// weights are never held twice).
Mapping lower_to_units(QuantizedSpikeGpt&& model, const ChipSpec& chip, const std::string& chip_yaml,
                       const CompileOptions& options = {});

// Places a lowered mapping's units on cores (weighing flows by their flits_per_token) and builds
// the routing tables; a routing-table overflow is a DoesNotFitError.
Mapping place_and_route(Mapping m, const ChipSpec& chip, const CompileOptions& options = {});

// The whole compile: lower_to_units, then place and route; routing-table overflow and placement
// failures are reported as DoesNotFitError too.
Mapping compile_model(const QuantizedSpikeGpt& model, const ChipSpec& chip, const std::string& chip_yaml,
                      const CompileOptions& options = {});
Mapping compile_model(QuantizedSpikeGpt&& model, const ChipSpec& chip, const std::string& chip_yaml,
                      const CompileOptions& options = {});


}  // namespace spiketile
