// A compiled NIR graph's time steps on the SystemC chip: `spiketile simulate --map X --input` and
// the Python module's simulate() both run this, so both give the same output bits and statistics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/stats.hpp"
#include "sim/chip_simulator.hpp"

namespace spiketile::sim {

struct NirChipRun {
  std::vector<int64_t> shape;   // [T, *output shape]
  std::vector<float> outputs;   // the output node's values, step after step
  // The graph, its dense equivalent, each population's spikes and the per-step work; the chip's own
  // sections are added by ChipSimulator::fill_stats.
  RunStats stats;
};

// The input [T, *input shape] (`input_shape`, flattened `input`), quantized by the host as every
// level does, run overlapped on `chip`. A shape that is not [T, *input shape] is an
// std::invalid_argument naming `input_name`.
NirChipRun run_nir_on_chip(ChipSimulator& chip, const std::vector<int64_t>& input_shape,
                           const std::vector<double>& input, const std::string& input_name);

}  // namespace spiketile::sim
