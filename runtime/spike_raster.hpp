// The spike raster of one layer, for the report: what `run`/`simulate --spikes-out` wrote,
// checked against the run's statistics it is shown beside, kept as the list of spikes (sparse:
// SpikeGPT's LIFs fire a few percent of the time).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/stats.hpp"

namespace spiketile {

struct SpikeRaster {
  std::string path;
  int layer = 0;
  int64_t steps = 0, neurons = 0;
  // (step, neuron) of every spike, by step then neuron: the time-mix LIF's and the channel-mix LIF's.
  std::vector<std::pair<int64_t, int64_t>> att, ffn;
};

// Reads layer `layer` of a raster [steps × n_layer × 2 × n_embd] (uint8 or bool, 0/1). Errors name
// the file and what disagrees with `stats` (another model's shape, another run's step count) or
// is not a raster (a value other than 0 and 1, another shape).
SpikeRaster read_spike_raster(const std::string& path, int layer, const RunStats& stats);

// The same checks of a raster already in memory (the Python module's array, given no file): its
// dtype as a .npy header names it ('|u1', '|b1'), its shape and C-order bytes. `source` names it in
// errors; the raster's `path` is "" (no file).
SpikeRaster spike_raster_of_array(const std::string& source, const std::string& dtype, const std::vector<int64_t>& shape,
                                  const uint8_t* data, int layer, const RunStats& stats);

// {file, layer, steps, neurons, spikes_att, spikes_ffn, att: [[step, neuron], ...], ffn: [...]}.
nlohmann::json spike_raster_json(const SpikeRaster& raster);

}  // namespace spiketile
