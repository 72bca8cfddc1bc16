// Next-token sampling as upstream's TOKENIZER.sample_logits: softmax, nucleus (top-p) cut,
// optional temperature, draw. Temperature 0 means greedy argmax.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace spiketile {

struct SamplingOptions {
  float temperature = 1.0f;
  float top_p = 0.7f;   // upstream char-mode default
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);
  int sample(const std::vector<float>& logits);

 private:
  SamplingOptions options_;
  std::mt19937_64 rng_;
  std::vector<double> probs_, sorted_;
};

int argmax(const std::vector<float>& logits);

}  // namespace spiketile
