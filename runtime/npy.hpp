// NumPy .npy (format 1.0) float32 arrays: --logits-out writes them, tests read golden values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/output_file.hpp"

namespace spiketile {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// Writes into `out`; the caller commits it.
void write_npy(OutputFile& out, const std::vector<int64_t>& shape, const float* data);
// Reads little-endian float32 ('<f4'), C order. Anything else is a clear error.
NpyArray read_npy(const std::string& path);

}  // namespace spiketile
