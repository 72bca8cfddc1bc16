// Lowering a NIR graph, quantized as nir::IntegerGraph (models/nir/nir_integer.hpp), onto a chip.
//
// Each population that receives input — every neuron node, and the readout when the graph's
// output reads accumulators — gets one input matrix: rows are its neurons, columns its *column
// space*, the projections into it side by side (a convolution or pooling already unrolled into a
// sparse projection), then one always-on bias column and one late-bias column where it has them.
// The matrix is tiled onto crossbars as SpikeGPT's are (row blocks × column blocks, partial sums
// reduced at each row block's first tile); a tile with no weight but not needed as a reducer is
// dropped. The reducer of a row block runs the general neuron (docs/numerics.md §4.8a) and sends
// spikes to the tiles whose columns take them; a recurrent projection's spikes travel at the start
// of the next step. The graph input never occupies a core: the host writes it into the tiles that
// take it each step, as it writes SpikeGPT's embedding row. Every choice is recorded in the
// mapping's decisions; every resource that does not fit is reported at once.
#pragma once

#include <string>

#include "chips/chip_spec.hpp"
#include "compiler/lowering.hpp"
#include "compiler/mapping.hpp"
#include "models/nir/nir_integer.hpp"

namespace spiketile {

// Units, flows, resources and decisions of `integer` (built from `graph`); DoesNotFitError lists
// every problem found.
Mapping lower_nir_to_units(const nir::Graph& graph, const nir::IntegerGraph& integer, const ChipSpec& chip,
                           const std::string& chip_yaml, const CompileOptions& options = {});

// lower_nir_to_units, then placement and routing (compiler/lowering.hpp).
Mapping compile_nir(const nir::Graph& graph, const nir::IntegerGraph& integer, const ChipSpec& chip,
                    const std::string& chip_yaml, const CompileOptions& options = {});

// Per-row bytes of state SRAM of a NIR neuron reducer: the multiplier, the neuron's constants,
// its membrane, its synaptic current when it has one, and its last spike (for recurrent sends).
int64_t nir_neuron_state_bytes_per_row(int membrane_bits, bool current);

}  // namespace spiketile
