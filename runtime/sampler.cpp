#include "runtime/sampler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

namespace spiketile {

int argmax(const std::vector<float>& logits) {
  return int(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Sampler::Sampler(const SamplingOptions& options) : options_(options), rng_(options.seed) {
  if (!(options.temperature >= 0.0f) || !std::isfinite(options.temperature))
    throw std::invalid_argument(fmt::format("temperature must be finite and >= 0 (got {})", options.temperature));
  if (!(options.top_p > 0.0f && options.top_p <= 1.0f))
    throw std::invalid_argument(fmt::format("top-p must be in (0, 1] (got {})", options.top_p));
}

int Sampler::sample(const std::vector<float>& logits) {
  if (options_.temperature == 0.0f) return argmax(logits);
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  probs_.resize(logits.size());
  double total = 0;
  for (std::size_t i = 0; i < logits.size(); ++i) total += probs_[i] = std::exp(double(logits[i]) - max_logit);
  for (double& p : probs_) p /= total;
  // Nucleus cut as upstream: the cutoff is the probability at which the descending cumulative
  // sum first exceeds top_p; everything below it is dropped (ties at the cutoff survive).
  sorted_ = probs_;
  std::sort(sorted_.begin(), sorted_.end(), std::greater<double>());
  double cumulative = 0, cutoff = sorted_.back();
  for (double p : sorted_) {
    cumulative += p;
    if (cumulative > options_.top_p) {
      cutoff = p;
      break;
    }
  }
  double kept = 0;
  for (double& p : probs_) {
    if (p < cutoff) p = 0;
    else if (options_.temperature != 1.0f) p = std::pow(p, 1.0 / options_.temperature);
    kept += p;
  }
  double u = std::uniform_real_distribution<double>(0.0, kept)(rng_);
  for (std::size_t i = 0; i < probs_.size(); ++i) {
    if (probs_[i] == 0) continue;
    if (u < probs_[i]) return int(i);
    u -= probs_[i];
  }
  // Rounding left u a hair above the last kept probability: that token is the draw.
  for (std::size_t i = probs_.size(); i-- > 0;)
    if (probs_[i] > 0) return int(i);
  return argmax(logits);
}

}  // namespace spiketile
