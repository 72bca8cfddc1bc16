#include "models/random_weights.hpp"

#include <cmath>
#include <random>

namespace spiketile {

TensorFile random_spikegpt_checkpoint(const ModelConfig& config, uint64_t seed) {
  TensorFile f;
  f.path = "<random weights>";
  f.format = "memory";
  std::mt19937_64 rng(seed);
  for (const auto& e : expected_tensors(config)) {
    Tensor t;
    t.shape = e.shape;
    t.data.resize(std::size_t(t.numel()));
    const auto& n = e.name;
    auto ends_with = [&](const char* s) {
      const std::string suffix(s);
      return n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    auto fill_uniform = [&](float lo, float hi) {
      std::uniform_real_distribution<float> d(lo, hi);
      for (float& x : t.data) x = d(rng);
    };
    if (ends_with("ln0.weight") || ends_with("ln1.weight") || ends_with("ln2.weight") || ends_with("ln_out.weight")) {
      std::fill(t.data.begin(), t.data.end(), 1.0f);
    } else if (ends_with(".bias")) {
      std::fill(t.data.begin(), t.data.end(), 0.0f);
    } else if (ends_with("time_decay")) {
      fill_uniform(-5.0f, 1.0f);
    } else if (ends_with("time_first")) {
      fill_uniform(-1.5f, 0.0f);
    } else if (n.find("time_mix") != std::string::npos) {
      fill_uniform(0.0f, 1.0f);
    } else if (n == "emb.weight") {
      fill_uniform(-1.0f, 1.0f);
    } else {
      // A LIF at threshold 1 fires only on currents around 2, so the output projections get a
      // larger gain than fan-in scaling would give them.
      const float gain = ends_with("att.output.weight") || ends_with("ffn.value.weight") ? 6.0f : 1.0f;
      const float bound = gain / std::sqrt(float(t.shape[1]));
      fill_uniform(-bound, bound);
    }
    f.order.push_back(n);
    f.tensors.emplace(n, std::move(t));
  }
  return f;
}

}  // namespace spiketile
