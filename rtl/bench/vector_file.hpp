// The bench's run as a vector file that any Verilog simulator can replay (rtl/portable/
// vectors_tb.sv): per cycle, the inputs the bench drove and what the C++ reference and the
// pipeline model expect, never what the verilated core answered. One line per cycle, fields in
// hex, separated by spaces (the order is VectorFile::kFields; vectors_tb.sv reads the same):
//   inputs:   rst_n cmd_valid cmd_tick cmd_axon cmd_kind cmd_value cmd_psum cmd_neuron
//             cmd_psum_value wr_en wr_axon wr_group wr_weights mul_wr_en mul_wr_neuron
//             mul_wr_mantissa mul_wr_shift par_rst_n par_wr_en par_wr_neuron par_wr_data
//   before the rising edge: cmd_ready idle
//   after it: out_valid out_group out_readout out_spikes out_membrane out_acc
// Output fields the reference does not define (no beat, or out_acc on a LIF beat) are 0 and the
// replay does not compare them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "rtl/bench/port_bits.hpp"

namespace spiketile::rtl {

class VectorFile {
 public:
  static constexpr int kFields = 29;

  explicit VectorFile(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "w")) {
    if (!file_) throw std::runtime_error("cannot write the vector file '" + path + "'");
  }
  ~VectorFile() {
    if (file_) std::fclose(file_);
  }
  VectorFile(const VectorFile&) = delete;
  VectorFile& operator=(const VectorFile&) = delete;

  // A port's value as hex digits (ports of any width and C type).
  template <typename P>
  static std::string hex(const P& port, int width) {
    std::string out;
    for (int nibble = (width + 3) / 4 - 1; nibble >= 0; --nibble) {
      const int bits = std::min(4, width - 4 * nibble);
      out += "0123456789abcdef"[get_field(port, 4 * nibble, bits)];
    }
    return out;
  }
  // LANES values of `width` bits each, lane 0 in the low bits.
  static std::string hex_lanes(const std::vector<uint64_t>& lanes, int width) {
    std::vector<uint32_t> words((lanes.size() * std::size_t(width) + 31) / 32 + 1, 0);
    for (std::size_t l = 0; l < lanes.size(); ++l)
      for (int b = 0; b < width; ++b)
        if ((lanes[l] >> b) & 1) {
          const std::size_t bit = l * std::size_t(width) + std::size_t(b);
          words[bit / 32] |= uint32_t(1) << (bit % 32);
        }
    std::string out;
    const int total = int(lanes.size()) * width;
    for (int nibble = (total + 3) / 4 - 1; nibble >= 0; --nibble) {
      const int lsb = 4 * nibble, bits = std::min(4, total - lsb);
      const uint64_t v = (words[std::size_t(lsb / 32)] >> (lsb % 32)) & ((1u << bits) - 1);
      out += "0123456789abcdef"[v];
    }
    return out;
  }

  // One cycle: the inputs (already formatted), then the expectations.
  void cycle(const std::string& inputs, bool ready, bool idle, const std::string& outputs) {
    if (std::fprintf(file_, "%s %d %d %s\n", inputs.c_str(), int(ready), int(idle), outputs.c_str()) < 0)
      throw std::runtime_error("cannot write the vector file '" + path_ + "'");
    ++cycles_;
  }
  uint64_t cycles() const { return cycles_; }

 private:
  std::string path_;
  std::FILE* file_;
  uint64_t cycles_ = 0;
};

}  // namespace spiketile::rtl
