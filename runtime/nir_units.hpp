// What a core holding a NIR tile (UnitKind::NirCrossbar) does in a time step, from its unit in the
// mapping alone; the mapping executor and the SystemC chip run this code, as they run SpikeGPT's
// units (runtime/unit_behavior.hpp), so they compute the same bits.
//
// Protocol per step. The host starts every NIR unit with host_input(): the unit first sends its
// row block's spikes of the previous step on its recurrent flows (then their end markers), writes
// the graph input's values into the columns that take them, and fires its always-on bias columns.
// Then it accumulates the events of its incoming flows. Once each has ended, a partial-sum tile
// ships its row sums to its row block's reducer; a reducer, once those have ended too, runs the
// general neuron (docs/numerics.md §4.8a) per row and sends the spikes on its non-recurrent flows,
// or (readout) hands its accumulators to the host. The output population's reducers hand each
// row's value to the host every step.
#pragma once

#include <memory>

#include "runtime/unit_behavior.hpp"

namespace spiketile {

std::unique_ptr<UnitBehavior> make_nir_unit_behavior(const Mapping& mapping, int id, const UnitLinks& links,
                                                     TokenObservations& observations,
                                                     const AccumulatorEngineFactory& make_engine);

}  // namespace spiketile
