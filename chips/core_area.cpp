#include "chips/core_area.hpp"

#include <fmt/format.h>

#include <cmath>

namespace spiketile {

namespace {

// Fitted to two syntheses at the calibrated widths (rtl/portable/synth.sh, Yosys 0.23,
// 2026-12-06, the core with the general neuron of docs/numerics.md §4.8a): `small` (4 lanes,
// 8 neurons) 63,176 cells and 2,853 flip-flops, `default` (32 lanes, 256 neurons) 575,650 and
// 57,217. Per module (rtl/README.md's table): a requantizer and a neuron datapath (two Q.12
// multiplies) per lane, the accumulators' adders per lane and their registers and read
// multiplexers per neuron, the membranes and synaptic currents, the multiplier and neuron
// parameter tables' registers and read multiplexers per neuron, the issue stage and pipeline
// registers per lane.
struct Calibration {
  int weight_bits, activation_bits, accumulator_bits, membrane_bits;
  double cells_per_lane, cells_per_neuron, cells_fixed;
  double flip_flops_per_lane, flip_flops_per_neuron, flip_flops_fixed;
};
constexpr Calibration kSynthesized{8, 8, 32, 16,
                                   // cells: 4a + 8b + c = 63,176 and 32a + 256b + c = 575,650, with
                                   // c = 2,874, the part of the requantizers and the issue stage
                                   // that does not grow with the lanes (their per-module fits)
                                   14134.25, 470.625, 2874.0,
                                   // flip-flops: per neuron 32 accumulator + 16 membrane + 16
                                   // synaptic current + 40 multiplier-table + 79 parameter-table
                                   // bits; 4a + c = 1,389, 32a + c = 10,369
                                   320.714, 183.0, 106.14};

}  // namespace

std::optional<CoreAreaProxy> core_area_proxy(const ChipSpec& chip, std::string* why_not) {
  const Calibration& k = kSynthesized;
  const CoreSpec& core = chip.core;
  auto differs = [&](const char* field, int have, int calibrated) {
    if (have == calibrated) return false;
    if (why_not)
      *why_not = fmt::format("{} is {} bits, the synthesis that calibrates it used {}", field, have,
                             calibrated);
    return true;
  };
  if (differs("core.weight_bits", core.weight_bits, k.weight_bits) ||
      differs("core.activation_bits", core.activation_bits, k.activation_bits) ||
      differs("core.accumulator_bits", core.accumulator_bits, k.accumulator_bits) ||
      differs("core.membrane_bits", core.membrane_bits, k.membrane_bits))
    return std::nullopt;
  const double lanes = core.neuron_unit.lanes, neurons = core.crossbar.neurons;
  CoreAreaProxy p;
  p.logic_cells = std::llround(k.cells_per_lane * lanes + k.cells_per_neuron * neurons + k.cells_fixed);
  p.flip_flops = std::llround(k.flip_flops_per_lane * lanes + k.flip_flops_per_neuron * neurons + k.flip_flops_fixed);
  p.synapse_sram_bits = int64_t(core.crossbar.axons) * core.crossbar.neurons * core.weight_bits;
  return p;
}

}  // namespace spiketile
