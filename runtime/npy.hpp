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
// The same as uint8 ('|u1'): spike rasters.
void write_npy(OutputFile& out, const std::vector<int64_t>& shape, const uint8_t* data);
// Reads little-endian float32 ('<f4'), C order. Anything else is a clear error.
NpyArray read_npy(const std::string& path);

// Any numeric .npy in C order (float16/32/64, bool, signed and unsigned integers of 1-8 bytes,
// little-endian or single-byte) as double: the time-stepped inputs of NIR graphs, which users
// write as spikes (bool, uint8) or currents (float32, float64).
struct NpyValues {
  std::vector<int64_t> shape;
  std::vector<double> data;
  std::string dtype;  // as the header gives it, e.g. '<f8'
};
NpyValues read_npy_values(const std::string& path);

}  // namespace spiketile
