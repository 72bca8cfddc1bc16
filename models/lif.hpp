// The float32 leaky integrate-and-fire rule of SpikeGPT (spikingjelly LIFNode, tau = 2,
// threshold 1, hard reset to 0, decay_input = True). The one implementation every float
// level calls; the integer form lives with the other fixed-point rules.
#pragma once

#include "models/host_device.hpp"

namespace spiketile {

// Charge, fire, reset. The charge is evaluated as v + (x - v) / 2 in exactly this order:
// 0.5*v + 0.5*x rounds differently in float32 and would not match upstream bit for bit.
// Fires at v >= 1 (spikingjelly's heaviside(v - 1) is 1 at 0, and v - 1 is exact near 1).
SPIKETILE_HOST_DEVICE inline bool lif_step(float& v, float x) {
  v = v + (x - v) / 2.0f;
  const bool spike = (v - 1.0f) >= 0.0f;
  if (spike) v = 0.0f;
  return spike;
}

}  // namespace spiketile
