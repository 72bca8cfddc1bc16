#include "runtime/execution.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <stdexcept>

namespace spiketile {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

void ActivityTotals::add(const StepActivity& a) {
  const std::size_t L = a.spikes_att.size();
  if (spikes_att.empty()) {
    spikes_att.assign(L, 0);
    spikes_ffn.assign(L, 0);
    relu2_nonzero.assign(L, 0);
    n_embd = L ? int(a.spikes_att[0].size()) : 0;
  }
  for (std::size_t i = 0; i < L; ++i) {
    for (uint8_t s : a.spikes_att[i]) spikes_att[i] += s;
    for (uint8_t s : a.spikes_ffn[i]) spikes_ffn[i] += s;
    relu2_nonzero[i] += a.relu2_nonzero[i];
  }
  ++steps;
}

double ActivityTotals::firing_rate_att(int layer) const {
  return steps ? double(spikes_att[layer]) / (double(steps) * n_embd) : 0.0;
}
double ActivityTotals::firing_rate_ffn(int layer) const {
  return steps ? double(spikes_ffn[layer]) / (double(steps) * n_embd) : 0.0;
}
double ActivityTotals::relu2_density(int layer) const {
  return steps ? double(relu2_nonzero[layer]) / (double(steps) * 4 * n_embd) : 0.0;
}

void CountTotals::add(const TokenCounts* step) {
  if (!step) return;
  sum += *step;
  per_step.push_back(step->total());
}

GenerationResult generate(TokenModel& model, const std::vector<int>& prompt, int n_tokens,
                          const SamplingOptions& sampling, const GenerationRecording& keep,
                          const std::function<void(int)>& on_token) {
  if (prompt.empty()) throw std::invalid_argument("the prompt must contain at least one token");
  const auto t0 = std::chrono::steady_clock::now();
  GenerationResult r;
  Sampler sampler(sampling);
  auto record = [&](const std::vector<float>& logits) {
    const StepActivity& activity = model.last_activity();
    r.activity.add(activity);
    r.counts.add(model.last_counts());
    if (keep.logits) r.logits.insert(r.logits.end(), logits.begin(), logits.end());
    // Layer by layer, the time mix's LIF then the channel mix's: the raster's layout.
    const auto keep_layers = [](const auto& att, const auto& ffn, auto& into) {
      for (std::size_t layer = 0; layer < att.size(); ++layer) {
        into.insert(into.end(), att[layer].begin(), att[layer].end());
        into.insert(into.end(), ffn[layer].begin(), ffn[layer].end());
      }
    };
    if (keep.spikes) keep_layers(activity.spikes_att, activity.spikes_ffn, r.spikes);
    if (keep.membranes) keep_layers(activity.membrane_att, activity.membrane_ffn, r.membranes);
    ++r.logit_rows;
  };
  model.reset();
  // The prompt goes in as one prefill (pipelined where the level can); only its last logits
  // choose the first generated token.
  std::vector<float> latest;
  model.prefill(prompt, [&](int64_t position, const std::vector<float>& logits) {
    record(logits);
    if (position + 1 == int64_t(prompt.size())) latest = logits;
  });
  const std::vector<float>* logits = &latest;
  for (int n = 0; n < n_tokens; ++n) {
    const int next = sampler.sample(*logits);
    r.generated.push_back(next);
    if (on_token) on_token(next);
    logits = &model.step(next);
    record(*logits);
  }
  r.seconds = seconds_since(t0);
  return r;
}

double EvalResult::bits_per_token() const { return mean_nll_nats / std::log(2.0); }

EvalResult evaluate(TokenModel& model, const std::vector<int>& tokens,
                    const std::function<void(int64_t, int64_t)>& progress) {
  if (tokens.size() < 2) throw std::invalid_argument("evaluation needs at least two tokens");
  const auto t0 = std::chrono::steady_clock::now();
  EvalResult r;
  model.reset();
  double total = 0;
  const int64_t n = int64_t(tokens.size()) - 1;
  // Teacher forcing: every token of the text is known, so the whole text is one prefill. The
  // last token predicts nothing but still runs, so activity covers every token of the text.
  model.prefill(tokens, [&](int64_t t, const std::vector<float>& logits) {
    r.activity.add(model.last_activity());
    r.counts.add(model.last_counts());
    if (t == n) return;
    double max_logit = logits[0];
    for (float l : logits) max_logit = std::max(max_logit, double(l));
    double sum = 0;
    for (float l : logits) sum += std::exp(double(l) - max_logit);
    total += std::log(sum) + max_logit - double(logits[std::size_t(tokens[std::size_t(t + 1)])]);
    if (progress && ((t + 1) % 1024 == 0 || t + 1 == n)) progress(t + 1, n);  // the last too: a bar ends full
  });
  r.tokens_evaluated = n;
  r.mean_nll_nats = total / double(n);
  r.seconds = seconds_since(t0);
  return r;
}

}  // namespace spiketile
