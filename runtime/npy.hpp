// NumPy .npy (format 1.0) float32 arrays: --logits-out writes them, tests read golden values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spiketile {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data);
// Reads little-endian float32 ('<f4'), C order. Anything else is a clear error.
NpyArray read_npy(const std::string& path);

}  // namespace spiketile
