#include "runtime/spike_raster.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

#include "runtime/npy.hpp"

namespace spiketile {

namespace {

// Shared by the file and the array, so both are refused alike; `data` is read only once dtype and
// shape are known to be a raster's.
template <class T>
SpikeRaster spike_raster_of(const std::string& source, const std::string& dtype, const std::vector<int64_t>& shape,
                            const T* data, int layer, const RunStats& stats) {
  const auto fail = [&](const std::string& why) { throw std::invalid_argument(fmt::format("spike raster {}: {}", source, why)); };
  if (stats.nir) fail("a NIR graph's run has no SpikeGPT layers to draw (its stats count spikes per population)");
  const int64_t L = stats.model.n_layer, C = stats.model.n_embd;
  if (dtype != "|u1" && dtype != "|b1")
    fail(fmt::format("holds {}; a raster is uint8 or bool, as --spikes-out writes it", dtype));
  if (shape.size() != 4 || shape[1] != L || shape[2] != 2 || shape[3] != C)
    fail(fmt::format("has shape ({}); the stats' model (L{} C{}) needs (steps, {}, 2, {}) as --spikes-out writes it",
                     fmt::join(shape, ", "), L, C, L, C));
  if (shape[0] != stats.tokens.steps)
    fail(fmt::format("has {} steps, the stats {}: both must come from the same run", shape[0], stats.tokens.steps));
  if (layer < 0 || layer >= L) fail(fmt::format("layer {} asked for; the model has layers 0 to {}", layer, L - 1));
  SpikeRaster r;
  r.layer = layer;
  r.steps = shape[0];
  r.neurons = C;
  for (int64_t t = 0; t < r.steps; ++t)
    for (int lif = 0; lif < 2; ++lif)
      for (int64_t c = 0; c < C; ++c) {
        const double v = double(data[std::size_t(((t * L + layer) * 2 + lif) * C + c)]);
        if (v != 0 && v != 1) fail(fmt::format("holds {} at step {}, layer {}, neuron {}; spikes are 0 or 1", v, t, layer, c));
        if (v != 0) (lif == 0 ? r.att : r.ffn).emplace_back(t, c);
      }
  return r;
}

}  // namespace

SpikeRaster read_spike_raster(const std::string& path, int layer, const RunStats& stats) {
  const NpyValues a = read_npy_values(path);
  SpikeRaster r = spike_raster_of(path, a.dtype, a.shape, a.data.data(), layer, stats);
  r.path = path;
  return r;
}

SpikeRaster spike_raster_of_array(const std::string& source, const std::string& dtype, const std::vector<int64_t>& shape,
                                  const uint8_t* data, int layer, const RunStats& stats) {
  return spike_raster_of(source, dtype, shape, data, layer, stats);
}

nlohmann::json spike_raster_json(const SpikeRaster& raster) {
  const auto spikes = [](const std::vector<std::pair<int64_t, int64_t>>& s) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& [step, neuron] : s) list.push_back({step, neuron});
    return list;
  };
  return {{"file", raster.path},
          {"layer", raster.layer},
          {"steps", raster.steps},
          {"neurons", raster.neurons},
          {"spikes_att", raster.att.size()},
          {"spikes_ffn", raster.ffn.size()},
          {"att", spikes(raster.att)},
          {"ffn", spikes(raster.ffn)}};
}

}  // namespace spiketile
