// The per-op rules of quantized SpikeGPT (docs/numerics.md §4–§5), in one place for every level
// that runs them: what a neuron unit computes from an accumulator, and how each op is counted.
// The functional model applies them to whole vectors; the mapping executor and the simulator
// apply the element rules per core and the count rules per op, so counts agree by construction
// of the observations (non-zero inputs, set bits, spikes) and not by copying.
#pragma once

#include <cstdint>
#include <vector>

#include "models/event_counts.hpp"
#include "models/numerics.hpp"

namespace spiketile::rules {

constexpr int kInternalBits = 16;  // att value and ffn key inside a core: int16
constexpr int kKeyBits = 24;       // att key in log2 units Q.8: int24

// ---- element rules: accumulator (or operands) -> the op's output format ---------------------
inline int32_t receptance(int64_t acc, const q::Multiplier& m) {
  return q::sigmoid_q(int32_t(q::requantize(acc, m, q::kSigmoidInBits)));
}
inline int32_t att_key(int64_t acc, const q::Multiplier& m) { return int32_t(q::requantize(acc, m, kKeyBits)); }
inline int32_t att_value(int64_t acc, const q::Multiplier& m) { return int32_t(q::requantize(acc, m, kInternalBits)); }
// y = requantize(r · wkv): the receptance gate of the time mix, to a graded activation; for a
// spike-input variant (thresholds given) the spike count of r · wkv instead (§4.10).
inline int32_t att_gate(int32_t r, int32_t wkv, const q::Multiplier& gate, int activation_bits,
                        const std::vector<int64_t>& spike_thresholds) {
  if (!spike_thresholds.empty()) return q::spike_count(int64_t(r) * wkv, spike_thresholds);
  return int32_t(q::requantize(int64_t(r) * wkv, gate, activation_bits));
}
// LIF input current (Q.8) from the output projection's accumulator.
inline int32_t att_current(int64_t acc, const q::Multiplier& m, int membrane_bits) {
  return int32_t(q::requantize(acc, m, membrane_bits));
}
// h = requantize(max(0, k)²) with k = requantize(acc) in int16; for a spike-input variant the
// spike count of k² (§4.10).
inline int32_t ffn_hidden(int64_t acc, const q::Multiplier& key, const q::Multiplier& hidden, int activation_bits,
                          const std::vector<int64_t>& spike_thresholds) {
  const int64_t k = q::requantize(acc, key, kInternalBits);
  if (k <= 0) return 0;
  if (!spike_thresholds.empty()) return q::spike_count(k * k, spike_thresholds);
  return int32_t(q::requantize_unsigned(k * k, hidden, activation_bits));
}
// LIF input current of the channel mix: requantize(r · acc) (the gate folds into the multiplier).
inline int32_t ffn_current(int32_t r, int64_t acc, const q::Multiplier& m, int membrane_bits) {
  return int32_t(q::requantize(int64_t(r) * acc, m, membrane_bits));
}
// A spike adds 1.0 (Q.12) to the residual stream.
constexpr int32_t kSpikeResidual = int32_t(1) << q::kResidualFrac;
// The upstream "x = x / 2 every 6 layers" on the Q.12 residual.
inline int32_t rescale_residual(int32_t x) { return int32_t(q::round_shift(x, 1)); }

// ---- observations and count rules -------------------------------------------------------------
// What a crossbar op's counts depend on: its non-zero inputs and their set magnitude bits.
struct CrossbarInputs {
  int64_t nonzero = 0, set_bits = 0;
  void add(int32_t x) {
    if (x == 0) return;
    ++nonzero;
    set_bits += __builtin_popcount(uint32_t(x < 0 ? -x : x));
  }
  CrossbarInputs& operator+=(const CrossbarInputs& o) {
    nonzero += o.nonzero;
    set_bits += o.set_bits;
    return *this;
  }
};
inline CrossbarInputs observe_inputs(const int32_t* x, int64_t n) {
  CrossbarInputs in;
  for (int64_t i = 0; i < n; ++i) in.add(x[i]);
  return in;
}

// A rows × cols crossbar op: each non-zero input is one graded event (or set_bits bit-serial
// events) reaching every row; every row's accumulator is read out once.
// With binary inputs (a binary spike-input variant, §4.10) each input is one binary event instead:
// its SOPs are binary, and it still reads its column's weights.
inline void count_crossbar(Counts& c, int64_t rows, int64_t cols, int weight_bits, const CrossbarInputs& in,
                           bool binary_inputs) {
  if (binary_inputs) {
    c.events_binary += in.nonzero;
    c.sop_binary += in.nonzero * rows;
  } else {
    c.events_graded += in.nonzero;
    c.sop_graded += in.nonzero * rows;
    c.events_bit_serial += in.set_bits;
    c.sop_bit_serial += in.set_bits * rows;
  }
  c.dense_macs += rows * cols;
  c.synapse_read_bits += in.nonzero * rows * weight_bits;
  c.neuron_updates += rows;
}
// A spike-input variant's spike function: one threshold comparison per element, in the neuron unit
// that produced the value.
inline void count_spike_function(Counts& c, int64_t n) { c.neuron_updates += n; }

inline int64_t packed_bytes(int64_t elements, int bits) { return (elements * bits + 7) / 8; }

inline void count_layer_norm(Counts& c, int64_t n, int out_bits) {
  c.sfu[int(Sfu::MeanVar)] += n;
  c.sfu[int(Sfu::Rsqrt)] += 1;
  c.sfu[int(Sfu::Divide)] += n;
  c.output_bytes += packed_bytes(n, out_bits);
}

// Token shift producing `outputs` mixed vectors of n values of `output_bits` (the activation's,
// or a variant's spike counts) from one LN output of `activation_bits`.
inline void count_token_shift(Counts& c, int64_t n, int activation_bits, int output_bits, int outputs) {
  const int64_t vector_bytes = packed_bytes(n, activation_bits);
  c.sfu[int(Sfu::Multiply)] += 2 * outputs * n;
  c.state_read_bytes += vector_bytes;   // the previous token's LN output
  c.state_write_bytes += vector_bytes;  // replaced by this token's
  c.output_bytes += outputs * packed_bytes(n, output_bits);
}

inline void count_receptance(Counts& c, int64_t n) { c.sfu[int(Sfu::Sigmoid)] += n; }

inline void count_wkv_and_gate(Counts& wkv, Counts& gate, int64_t n, int activation_bits) {
  wkv.sfu[int(Sfu::Exp)] += 4 * n;
  wkv.sfu[int(Sfu::Divide)] += n;
  wkv.sfu[int(Sfu::Multiply)] += 6 * n;
  wkv.state_read_bytes += n * (8 + 8 + 4);   // a, b (int64), p (int32)
  wkv.state_write_bytes += n * (8 + 8 + 4);
  gate.sfu[int(Sfu::Multiply)] += n;
  gate.output_bytes += packed_bytes(n, activation_bits);
}

inline void count_relu2(Counts& c, int64_t n, int activation_bits) {
  c.neuron_updates += n;
  c.sfu[int(Sfu::Multiply)] += n;
  c.output_bytes += packed_bytes(n, activation_bits);
}

inline void count_ffn_gate(Counts& c, int64_t n) { c.sfu[int(Sfu::Multiply)] += n; }

// n LIF neurons updated, `spikes` of them fired; each spike is a binary event into the residual.
inline void count_lif_and_residual(Counts& lif, Counts& residual, int64_t n, int64_t spikes, int membrane_bits) {
  lif.neuron_updates += n;
  lif.spikes += spikes;
  lif.state_read_bytes += packed_bytes(n, membrane_bits);
  lif.state_write_bytes += packed_bytes(n, membrane_bits);
  lif.output_bytes += packed_bytes(n, 1);
  residual.events_binary += spikes;
  residual.sop_binary += spikes;
}

inline void count_rescale(Counts& c, int64_t n) { c.neuron_updates += n; }

// The embedding row enters as binary events (ones) or as a dense Q.12 vector.
inline void count_embedding(Counts& c, int64_t n, bool binary, int64_t ones) {
  if (binary) {
    c.events_binary += ones;
    c.spikes += ones;
    c.output_bytes += packed_bytes(n, 1);
  } else {
    c.output_bytes += n * 4;
  }
}

}  // namespace spiketile::rules
