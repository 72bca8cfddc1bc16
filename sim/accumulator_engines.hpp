// The accumulation engines a simulated crossbar core can run (runtime/accumulator_engine.hpp),
// registered by name with their parameters:
//   cpp  crossbar_matvec and the contract's LIF rule (the default)
//   rtl  the RTL neuron core (rtl/neuron_core.sv) through rtl::NeuronCoreBackend: the tile's weights
//        and per-row multipliers are loaded once; each activation event is one graded command
//        (signed, or unsigned for ffn.h), each received partial sum one partial-sum command; a
//        tile then ends its token with a LIF tick (att.output) or a readout tick (every other
//        function, computed by the unit from the raw accumulators). The core's cycles time the
//        datapath of the simulated core (sim/README.md, "RTL in the loop").
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rtl/loop/neuron_core_backend.hpp"
#include "runtime/accumulator_engine.hpp"

namespace spiketile::sim {

using EngineParams = std::map<std::string, std::string>;

struct AccumulatorEngineParam {
  std::string name, description, default_value;
};
struct AccumulatorEngineInfo {
  std::string name, description;
  std::vector<AccumulatorEngineParam> params;
  std::function<std::unique_ptr<AccumulatorEngine>(const CrossbarTile&, const EngineParams&)> make;
};
const std::vector<AccumulatorEngineInfo>& accumulator_engines();

// A factory for make_unit_behavior: engine `name` with `params` (missing ones take their defaults).
// Throws naming the engines, or the engine's parameters, when one is unknown.
AccumulatorEngineFactory accumulator_engine_factory(const std::string& name, const EngineParams& params = {});

// The neuron core an "rtl" engine drives; nullptr for any other engine.
const rtl::NeuronCoreBackend* rtl_core_of(const AccumulatorEngine& engine);

}  // namespace spiketile::sim
