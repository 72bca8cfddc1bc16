// The graph input of a NIR graph as the integers the chip takes: one rule for the integer model
// and every level that runs a compiled NIR graph (header-only, so that those levels need not link
// the HDF5 reader).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/numerics.hpp"

namespace spiketile::nir {

// Spikes as 0/1 (any other value is refused, naming the element); currents quantized at `scale`
// into `activation_bits` signed bits.
inline std::vector<int32_t> quantize_input(const std::string& node, int64_t size, bool binary, double scale,
                                           int activation_bits, const std::vector<double>& values) {
  if (int64_t(values.size()) != size)
    throw std::invalid_argument(fmt::format("input '{}' takes {} values per step; {} given", node, size, values.size()));
  std::vector<int32_t> q(values.size());
  for (std::size_t j = 0; j < values.size(); ++j) {
    if (binary && values[j] != 0.0 && values[j] != 1.0)
      throw std::invalid_argument(fmt::format("input '{}' holds {:g} at element {}; the model was calibrated on spikes "
                                              "(0 and 1 only)",
                                              node, values[j], j));
    q[j] = binary ? int32_t(values[j]) : int32_t(q::quantize_value(values[j], scale, activation_bits));
  }
  return q;
}

}  // namespace spiketile::nir
