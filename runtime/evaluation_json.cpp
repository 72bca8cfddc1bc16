#include "runtime/evaluation_json.hpp"

#include "runtime/counts_report.hpp"

namespace spiketile {

bool evaluates_characters(const TokenizerSource& tokenizer) { return tokenizer.kind == TokenizerKind::Characters; }

nlohmann::json evaluation_json(const EvaluationInput& input, const TokenModel& model, const EvalResult& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (int i = 0; i < model.n_layer(); ++i)
    layers.push_back({{"layer", i},
                      {"firing_rate_att", r.activity.firing_rate_att(i)},
                      {"firing_rate_ffn", r.activity.firing_rate_ffn(i)},
                      {"relu2_density", r.activity.relu2_density(i)}});
  nlohmann::json j = {{"model", input.model},
                      {input.kind, input.source},
                      {"tokenizer",
                       {{"kind", tokenizer_kind_name(input.tokenizer.kind)},
                        {"path", input.tokenizer.path},
                        {"rule", input.tokenizer.rule}}},
                      {"level", model.level_name()},
                      {"unit", evaluates_characters(input.tokenizer) ? "bits per character" : "bits per token"},
                      {"tokens_evaluated", r.tokens_evaluated},
                      {"bits_per_token", r.bits_per_token()},
                      {"mean_nll_nats", r.mean_nll_nats},
                      {"unknown_characters_replaced", input.unknown_characters_replaced},
                      {"layers", layers}};
  if (!r.counts.empty()) j["counts"] = counts_json(r.counts)["sum"];
  return j;
}

}  // namespace spiketile
