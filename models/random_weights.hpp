// Random SpikeGPT weights in the upstream layout, for benchmarks and scale tests of shapes
// whose real checkpoints cannot be had here (46M, 216M).
#pragma once

#include <cstdint>

#include "models/spikegpt.hpp"

namespace spiketile {

// Every tensor of expected_tensors(config), filled so the network is numerically alive:
// linear weights ~ U(-1, 1)/sqrt(fan_in), LayerNorm weight 1 / bias 0, time_* in upstream ranges.
TensorFile random_spikegpt_checkpoint(const ModelConfig& config, uint64_t seed);

}  // namespace spiketile
