// The per-element float32 rules of one SpikeGPT step (spikegpt.md §3.2) other than the LIF
// (models/lif.hpp): token shift, sigmoid and the WKV recurrence. The golden model calls them,
// and so do the GPU benchmark's kernels (bench/gpu/), so the two cannot drift apart. Plain
// <math.h> float functions because they exist on both sides (std::exp(float) is expf on the host).
#pragma once

#include <math.h>

#include "models/host_device.hpp"

namespace spiketile {

// x·μ + prev·(1 − μ), the operand order of upstream's token shift.
SPIKETILE_HOST_DEVICE inline float token_mix(float x, float prev, float mix) { return x * mix + prev * (1.0f - mix); }

SPIKETILE_HOST_DEVICE inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// The spike function of a spike-input variant (docs/spiking-frontier.md §1): an integrate-and-fire
// neuron with threshold 1 driven T steps by x fires clamp(floor(T·x), 0, T) times, and the
// projection receives that count / T (T = 1: the binary spike x ≥ 1). The float32 operations of
// the training script's RateSpike, so the golden model reproduces its forward pass.
SPIKETILE_HOST_DEVICE inline float spike_input(float x, int steps) {
  const float t = float(steps);
  const float count = floorf(x * t);
  return (count < 0.0f ? 0.0f : count > t ? t : count) / t;
}

// One WKV step for one channel (spikegpt.md §3.2): updates (a, b, p) in place and returns wkv.
// The maxima are std::max's (a < b ? b : a), spelled out for the device.
SPIKETILE_HOST_DEVICE inline float wkv_step(float k, float v, float u, float w, float& a, float& b, float& p) {
  const float uk = u + k;
  float q = p < uk ? uk : p;
  float e1 = expf(p - q);
  float e2 = expf(uk - q);
  const float num = e1 * a + e2 * v;
  const float den = e1 * b + e2;
  const float pw = p + w;
  q = pw < k ? k : pw;
  e1 = expf(pw - q);
  e2 = expf(k - q);
  a = e1 * a + e2 * v;
  b = e1 * b + e2;
  p = q;
  return num / den;
}

}  // namespace spiketile
