// The bit widths of the integer contract (docs/numerics.md §2), chosen per compile.
#pragma once

namespace spiketile {

struct QuantOptions {
  int weight_bits = 8;       // crossbar weights, symmetric per output row
  int activation_bits = 8;   // real-valued crossbar inputs (graded event payload)
  int membrane_bits = 16;    // LIF membrane and input current, Q.8
};

}  // namespace spiketile
