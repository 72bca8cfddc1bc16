#include "runtime/generation_stats.hpp"

#include "models/spikegpt.hpp"

namespace spiketile {

RunStats generation_stats(const std::string& model_path, const QuantOptions* quant, const TokenModel& model,
                          const std::vector<int>& prompt, const std::vector<int>& generated, const CountTotals& counts) {
  RunStats stats;
  stats.level = model.level_name();
  stats.model.path = model_path;
  stats.model.n_layer = model.n_layer();
  stats.model.n_embd = model.n_embd();
  stats.model.vocab = model.vocab_size();
  stats.model.params = ModelConfig{model.n_layer(), model.n_embd(), model.vocab_size()}.parameter_count();
  stats.model.spike_input_steps = model.spike_input_steps();
  if (quant) {
    stats.model.weight_bits = quant->weight_bits;
    stats.model.activation_bits = quant->activation_bits;
    stats.model.membrane_bits = quant->membrane_bits;
  }
  stats.tokens.prompt = prompt;
  stats.tokens.generated = generated;
  stats.tokens.steps = int64_t(counts.per_step.size());
  stats.counts = counts;
  return stats;
}

}  // namespace spiketile
