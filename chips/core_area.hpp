// An area proxy for a chip's neuron-core datapath, from the Yosys synthesis of the RTL core
// (rtl/README.md, "Other simulators, synthesis and area"): generic logic cells and flip-flops as
// a function of the core's lanes and neurons, and the synapse SRAM bits apart. What the RTL
// covers only: the crossbar datapath (synapse memory, accumulators, requantizers, LIF), not the
// SFUs, the state SRAM or the router.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "chips/chip_spec.hpp"

namespace spiketile {

struct CoreAreaProxy {
  int64_t logic_cells = 0;  // Yosys generic gates and flip-flops, no technology library
  int64_t flip_flops = 0;
  int64_t synapse_sram_bits = 0;
};

// The proxy for `chip`'s core, or nullopt when the chip's widths differ from those the synthesis
// calibrated (8-bit weights and activations, 32-bit accumulators, 16-bit membranes): the
// requantizer's multiplier, most of the area, scales with the widths in ways two syntheses at
// one width cannot tell. `why_not` then says which width differs.
std::optional<CoreAreaProxy> core_area_proxy(const ChipSpec& chip, std::string* why_not = nullptr);

}  // namespace spiketile
