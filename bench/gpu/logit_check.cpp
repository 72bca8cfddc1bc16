#include "bench/gpu/logit_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace spiketile::gpu_bench {

namespace {

using Slot = RecurrentState::Slot;
constexpr int kSlots = RecurrentState::kSlots;
// A flip resets one membrane to 0 while the other stays just below the threshold of 1.
constexpr float kFlipMembraneGap = 0.5f;

const char* slot_name(int s) {
  static const char* kNames[kSlots] = {"ffn token shift", "att token shift", "WKV a", "WKV b", "WKV p",
                                       "att membrane",    "ffn membrane"};
  return kNames[s];
}

// Where the worst of each error was, for the failure message.
struct Worst {
  double value = 0;
  int step = -1, sequence = -1, layer = -1, slot = -1;
  void take(double v, int t, int b, int l = -1, int s = -1) {
    if (v > value) *this = {v, t, b, l, s};
  }
};

struct PairResult {
  int flips = 0;
  int first_flipped_layer = 0;
};

PairResult count_flips(const std::vector<float>& golden, const std::vector<float>& device, int n_layer, int C) {
  PairResult r{0, n_layer};
  for (int l = 0; l < n_layer; ++l)
    for (int s : {int(Slot::MemAtt), int(Slot::MemFfn)})
      for (int c = 0; c < C; ++c) {
        const std::size_t k = (std::size_t(l) * kSlots + std::size_t(s)) * std::size_t(C) + std::size_t(c);
        if (std::fabs(golden[k] - device[k]) > kFlipMembraneGap) {
          ++r.flips;
          r.first_flipped_layer = std::min(r.first_flipped_layer, l);
        }
      }
  return r;
}

}  // namespace

CheckTolerance check_tolerance(Precision p) {
  switch (p) {
    case Precision::fp16: return {10 * std::ldexp(1.0, -11), 0.01};
    case Precision::bf16: return {10 * std::ldexp(1.0, -8), 0.03};
    case Precision::int8: return {0.15, 0.10};
  }
  return {};
}

int check_token(int stream, int step, int vocab) {
  return int((int64_t(stream) * 7919 + int64_t(step) * 104729 + 13) % vocab);
}

GoldenTrajectory record_golden(GoldenModel& golden, int streams, int steps) {
  GoldenTrajectory g;
  g.streams = streams;
  g.steps = steps;
  g.tokens.assign(std::size_t(streams), {});
  g.state_before = g.logits = g.state_after = std::vector<std::vector<std::vector<float>>>(std::size_t(streams));
  for (int s = 0; s < streams; ++s) {
    golden.reset();
    for (int t = 0; t < steps; ++t) {
      const int token = check_token(s, t, golden.vocab_size());
      g.tokens[std::size_t(s)].push_back(token);
      g.state_before[std::size_t(s)].push_back(golden.state().raw());
      g.logits[std::size_t(s)].push_back(golden.step(token));
      g.state_after[std::size_t(s)].push_back(golden.state().raw());
    }
  }
  return g;
}

CheckOutcome run_check(LockstepDevice& device, const GoldenTrajectory& golden, const ModelConfig& config,
                       Precision precision) {
  const int B = device.batch(), L = config.n_layer, C = config.n_embd, V = config.vocab_size;
  if (golden.streams < 1 || golden.steps < 1) throw std::invalid_argument("run_check: an empty golden trajectory");
  const CheckTolerance tolerance = check_tolerance(precision);
  CheckOutcome out;
  GpuLogitCheck& r = out.result;
  r.tokens = golden.steps;
  r.sequences = B;
  r.tolerance = tolerance.error;
  r.spike_flip_tolerance = tolerance.spike_flip_share;
  Worst logits, state;
  int64_t flips = 0, agreeing = 0;
  std::vector<int> tokens(static_cast<std::size_t>(B));
  for (int t = 0; t < golden.steps; ++t) {
    for (int b = 0; b < B; ++b) {
      const std::size_t s = std::size_t(b % golden.streams);
      device.set_state(b, golden.state_before[s][std::size_t(t)]);
      tokens[std::size_t(b)] = golden.tokens[s][std::size_t(t)];
    }
    const std::vector<float>& got = device.step(tokens);
    for (int b = 0; b < B; ++b) {
      const std::size_t s = std::size_t(b % golden.streams);
      const std::vector<float>& want = golden.logits[s][std::size_t(t)];
      const float* have = got.data() + std::size_t(b) * std::size_t(V);
      const auto [lo, hi] = std::minmax_element(want.begin(), want.end());
      const double range = *hi > *lo ? double(*hi - *lo) : 1.0;
      double abs_error = 0;
      for (int v = 0; v < V; ++v) abs_error = std::max(abs_error, std::fabs(double(want[std::size_t(v)]) - have[v]));
      r.max_abs_error = std::max(r.max_abs_error, abs_error);
      agreeing += (std::max_element(want.begin(), want.end()) - want.begin()) == (std::max_element(have, have + V) - have);

      const std::vector<float> device_state = device.state(b);
      const std::vector<float>& golden_state = golden.state_after[s][std::size_t(t)];
      const PairResult pair = count_flips(golden_state, device_state, L, C);
      flips += pair.flips;
      if (pair.flips == 0) {
        ++r.pairs_without_flips;
        logits.take(abs_error / range, t, b);
      }
      for (int l = 0; l < pair.first_flipped_layer; ++l)
        for (int sl = 0; sl < kSlots; ++sl) {
          const std::size_t first = (std::size_t(l) * kSlots + std::size_t(sl)) * std::size_t(C);
          double largest = 0, error = 0;
          for (std::size_t c = first; c < first + std::size_t(C); ++c) {
            largest = std::max(largest, std::fabs(double(golden_state[c])));
            error = std::max(error, std::fabs(double(golden_state[c]) - device_state[c]));
          }
          state.take(largest > 0 ? error / largest : error, t, b, l, sl);
        }
    }
  }
  const double pairs = double(golden.steps) * B;
  r.max_normalized_error = logits.value;
  r.max_state_error = state.value;
  r.spike_flip_share = double(flips) / (pairs * 2 * L * C);
  r.argmax_agreement = double(agreeing) / pairs;
  if (r.spike_flip_share > r.spike_flip_tolerance)
    out.failure += fmt::format("; {:.3g} % of the LIF updates spiked otherwise than the golden model's (tolerance {:.3g} %)",
                               100 * r.spike_flip_share, 100 * r.spike_flip_tolerance);
  if (logits.value > r.tolerance)
    out.failure += fmt::format("; logits of step {} sequence {} are {:.3g} of the golden logits' range off (tolerance {:.3g})",
                               logits.step, logits.sequence, logits.value, r.tolerance);
  if (state.value > r.tolerance)
    out.failure += fmt::format("; the {} of layer {} after step {} sequence {} is {:.3g} of its largest value off "
                               "(tolerance {:.3g})",
                               slot_name(state.slot), state.layer, state.step, state.sequence, state.value, r.tolerance);
  if (!out.failure.empty()) out.failure.erase(0, 2);
  return out;
}

}  // namespace spiketile::gpu_bench
