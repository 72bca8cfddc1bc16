// The integer contract (docs/numerics.md): every fixed-point rule of quantized SpikeGPT,
// implemented once. The quantized functional model, the mapping executor, the SystemC
// simulator and the RTL bench's reference all call these functions; nothing re-derives them.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace spiketile::q {

// ---- fixed formats (docs/numerics.md §2) --------------------------------------------------
constexpr int kResidualFrac = 12;        // residual stream x: int32, Q.12
constexpr int kMembraneFrac = 8;         // LIF current and membrane: Q.8, threshold 1.0 = 256
constexpr int kNeuronRateFrac = 12;      // general neuron's dv, di (dt/τ): Q.12, 4096 = 1.0
constexpr int kLogFrac = 8;              // WKV exponent domain: log2 units, Q.8
constexpr int kExpFrac = 16;             // exp2 results and WKV a, b: Q.16
constexpr int kMixFrac = 10;             // token-shift mix coefficients μ: Q0.10
constexpr int kSigmoidInBits = 10;       // sigmoid input: int10, Q4.6 (range [-8, 8))
constexpr int kSigmoidInFrac = 6;
constexpr int kSigmoidOutFrac = 8;       // sigmoid output: 0..256, Q0.8 (256 = 1.0)
constexpr int kLayerNormGainFrac = 16;   // LayerNorm gain/bias constants: Q.16
constexpr int32_t kWkvNegInf = -(1 << 29);          // "p = -1e30": exp2 of anything minus it is 0
constexpr int64_t kWkvDenMax = int64_t(1) << 30;    // b saturates at 2^14 (Q.16)

// ---- rounding and saturation ---------------------------------------------------------------
// Every rounding in the contract is round-half-away-from-zero.
inline int64_t round_shift(int64_t v, int s) {
  if (s <= 0) return v * (int64_t(1) << -s);
  const int64_t half = int64_t(1) << (s - 1);
  return v >= 0 ? (v + half) >> s : -((-v + half) >> s);
}
inline int64_t div_round(int64_t n, int64_t d) {  // d > 0
  return n >= 0 ? (n + d / 2) / d : -((-n + d / 2) / d);
}
inline int64_t saturate(int64_t v, int bits) {  // signed two's complement range of `bits`
  const int64_t hi = (int64_t(1) << (bits - 1)) - 1, lo = -(int64_t(1) << (bits - 1));
  return v > hi ? hi : v < lo ? lo : v;
}
inline int64_t saturate_unsigned(int64_t v, int bits) {
  const int64_t hi = (int64_t(1) << bits) - 1;
  return v > hi ? hi : v < 0 ? 0 : v;
}

// A positive real scale factor as mantissa · 2^-shift with mantissa in [2^30, 2^31): the
// requantization every neuron unit applies to an accumulator (TFLite-style, no floats).
struct Multiplier {
  int32_t mantissa = 0;
  int shift = 0;
  double value() const;
};
Multiplier make_multiplier(double real);

// round(v · m), saturated to `bits` (signed) — the one requantization rule.
int64_t requantize(int64_t v, const Multiplier& m, int bits);
int64_t requantize_unsigned(int64_t v, const Multiplier& m, int bits);

// ---- quantizers (compile time: float -> integer) ------------------------------------------
// Symmetric per-row weight quantization: q = clamp(round(w / s), ±(2^(bits-1) - 1)),
// s = max|w_row| / (2^(bits-1) - 1) (s = 1 for an all-zero row).
struct QuantizedMatrix {
  int rows = 0, cols = 0, bits = 8;
  std::vector<int8_t> q;        // row-major; int8 holds every supported width (2..8)
  std::vector<double> scale;    // per output row
  std::vector<int32_t> row_sum; // Σ of each row's q (the crossbar kernel needs it for signed inputs)
};
QuantizedMatrix quantize_rows(const float* w, int rows, int cols, int bits);
// The same matrix filled block by block, for matrices whose float rows are streamed (a reader's
// row blocks): quantize_rows == for each block, quantize_row_block into an empty_quantized_matrix.
QuantizedMatrix empty_quantized_matrix(int rows, int cols, int bits);
// Quantizes rows [first_row, first_row + count) of `m` from `block` (those rows only, row-major).
void quantize_row_block(const float* block, int first_row, int count, QuantizedMatrix& m);
// Activation scale for a calibrated max |value| at `bits` (signed) or `bits` (unsigned).
double activation_scale(double max_abs, int bits, bool is_unsigned);
int64_t quantize_value(double x, double scale, int bits);   // signed, saturating

// ---- element-wise rules ----------------------------------------------------------------------
// 2^(t / 2^kLogFrac) for t <= 0, in Q.16 (so 65536 = 1.0): 256-entry table of 2^(f/256)
// and a right shift by the integer part.
int64_t exp2_neg(int64_t t);
// σ(x) for x in Q4.6 (int10), returned in Q0.8 (0..256): a 1024-entry table.
int32_t sigmoid_q(int32_t x);

// LIF, integer form: v += (x - v) >> 1 (arithmetic shift, floor), v saturated to
// membrane_bits, fire at v >= θ = 1.0 (Q.8: 256), hard reset to 0.
inline bool lif_step_int(int32_t& v, int32_t x, int membrane_bits) {
  v = int32_t(saturate(int64_t(v) + ((int64_t(x) - v) >> 1), membrane_bits));
  const bool spike = v >= (1 << kMembraneFrac);
  if (spike) v = 0;
  return spike;
}

// A Q.8 membrane in units of the firing threshold (1.0 fires), as the float model holds it:
// what --membranes-out writes for every level, exact in float32 for membranes of up to 24 bits.
inline float membrane_in_thresholds(int32_t v) { return float(v) / float(1 << kMembraneFrac); }

// ---- the general neuron (docs/numerics.md §4.8a) --------------------------------------------
// One current-based LIF whose parameters select LIF, IF, LI, I, CubaLIF and CubaLI; the chip's
// neuron unit implements it (rtl/neuron_unit.sv). SpikeGPT's LIF is the default configuration,
// bit-identical to lif_step_int, which stays as its fast path.
enum class ResetMode : uint8_t {
  kToValue = 0,   // v <- v_reset
  kSubtract = 1,  // v <- sat(v - theta)
  kNone = 2,      // never spikes: the membrane is the output (LI, I, CubaLI)
};

struct NeuronParams {
  int32_t dv = 2048;          // dt/τ_mem, Q.12 in [0, 4096]
  int32_t di = 4096;          // dt/τ_syn, Q.12 in [0, 4096]; used only with `current`
  bool current = false;       // current stage on: the membrane integrates the previous step's i
  bool leak = true;           // the membrane leaks toward `bias`; false: a pure integrator
  int32_t bias = 0;           // v_leak (folded), Q.8, membrane_bits signed
  int32_t theta = 256;        // threshold, Q.8, membrane_bits signed
  int32_t v_reset = 0;        // reset_mode kToValue's target, Q.8, membrane_bits signed
  ResetMode reset_mode = ResetMode::kToValue;
  bool fire_ge = true;        // fires at v >= theta; false: at v > theta (NIR's definition)

  // SpikeGPT's LIF (docs/numerics.md §4.8), the neuron parameter table's reset value; also what a
  // default-constructed NeuronParams holds.
  static NeuronParams spikegpt_lif() { return NeuronParams{}; }
  // "" when every field lies in its range for `membrane_bits`, otherwise which field is wrong:
  // its name, its value and the allowed range.
  std::string validation_error(int membrane_bits) const;
  bool operator==(const NeuronParams& o) const {
    return dv == o.dv && di == o.di && current == o.current && leak == o.leak && bias == o.bias && theta == o.theta &&
           v_reset == o.v_reset && reset_mode == o.reset_mode && fire_ge == o.fire_ge;
  }
  bool operator!=(const NeuronParams& o) const { return !(*this == o); }
};

struct NeuronState {
  int32_t v = 0;   // membrane, Q.8
  int32_t i = 0;   // synaptic current, Q.8 (current stage only)
};

// What one step computed on the way, for callers that look inside it (the RTL bench counts the
// corners its stimulus reached from these).
struct NeuronStepTrace {
  int64_t v_unclamped = 0;        // v + ((u · dv) >> 12) before saturation
  int32_t v_integrated = 0;       // the same saturated: what the spike decision compares with theta
  int64_t v_subtracted = 0;       // a subtract reset's v - theta before saturation (0 without one)
};

// One tick of the general neuron with x the requantized input current (membrane_bits wide):
//   current: x_src = i, i <- sat(i + (((x - i) · di) >> 12));  otherwise x_src = x
//   u = bias + x_src - (leak ? v : 0);  v <- sat(v + ((u · dv) >> 12))
//   spike = reset_mode != none and (fire_ge ? v >= theta : v > theta)
//   spike: v <- reset_mode == to-value ? v_reset : sat(v - theta)
// All shifts are arithmetic (floor). The parameters must be valid (validation_error() == "").
inline bool neuron_step_int(const NeuronParams& p, NeuronState& s, int32_t x, int membrane_bits,
                            NeuronStepTrace* trace) {
  int64_t x_src = x;
  if (p.current) {
    x_src = s.i;   // the membrane sees the previous step's current (NIR's reference scheme)
    s.i = int32_t(saturate(s.i + (((int64_t(x) - s.i) * p.di) >> kNeuronRateFrac), membrane_bits));
  }
  const int64_t u = int64_t(p.bias) + x_src - (p.leak ? s.v : 0);
  const int64_t v = s.v + ((u * p.dv) >> kNeuronRateFrac);
  s.v = int32_t(saturate(v, membrane_bits));
  const bool spike = p.reset_mode != ResetMode::kNone && (p.fire_ge ? s.v >= p.theta : s.v > p.theta);
  const int64_t subtracted = spike && p.reset_mode == ResetMode::kSubtract ? int64_t(s.v) - p.theta : 0;
  if (trace) *trace = {v, s.v, subtracted};
  if (spike) s.v = p.reset_mode == ResetMode::kToValue ? p.v_reset : int32_t(saturate(subtracted, membrane_bits));
  return spike;
}
inline bool neuron_step_int(const NeuronParams& p, NeuronState& s, int32_t x, int membrane_bits) {
  return neuron_step_int(p, s, x, membrane_bits, nullptr);
}

// Token shift: round((μ·z + (2^10 − μ)·prev) / 2^10) with μ in Q0.10; stays in z's format.
inline int32_t token_shift_int(int32_t z, int32_t prev, int32_t mix) {
  return int32_t(round_shift(int64_t(mix) * z + int64_t((1 << kMixFrac) - mix) * prev, kMixFrac));
}

// The spike function of a spike-input variant in integer form (docs/numerics.md §4.10): a value v
// whose real value is v·scale fires count = clamp(floor(T·v·scale), 0, T), i.e. the number of the T
// thresholds θ_j = ceil(j / (T·scale)), j = 1..T, that v reaches. The thresholds are compile-time
// constants in v's own units, so the chip compares integers and never multiplies.
std::vector<int64_t> make_spike_thresholds(double scale, int steps);
inline int32_t spike_count(int64_t v, const std::vector<int64_t>& thresholds) {
  int32_t count = 0;
  for (int64_t t : thresholds) count += v >= t;
  return count;
}
// Bits of a spike count of T steps on the network: 1 for binary spikes.
int spike_count_bits(int steps);
// Bits of a projection's input: a spike-input variant's counts (T ≥ 1), else the activation's.
inline int projection_input_bits(int steps, int activation_bits) {
  return steps ? spike_count_bits(steps) : activation_bits;
}

// Integer LayerNorm constants for one output format: G = γ/s_out and B = β/s_out in Q.16.
struct LayerNormConstants {
  std::vector<int64_t> gain, bias;
  int out_bits = 8;
  bool out_unsigned = false;
};
LayerNormConstants make_layer_norm_constants(const float* gamma, const float* beta, int n, double out_scale,
                                             int out_bits);
// x in Q.12 (int32). mean and variance by rounded integer division, σ = floor(sqrt(var + eps))
// in Q.12, out_i = sat(round((d_i·G_i / σ + B_i) / 2^16)). Returns the SFU op counts it used.
void layer_norm_int(const int32_t* x, int n, const LayerNormConstants& c, int32_t* out);
// The same LayerNorm in the stages a chip with the vector split over several cores runs: each
// core sums its slice, one core turns the total into the mean, each sums its squared deviations,
// one turns their total into σ, each normalises its slice. layer_norm_int is exactly these stages.
int64_t ln_partial_sum(const int32_t* x, int n);
int64_t ln_mean(int64_t total_sum, int n_total);
int64_t ln_partial_squares(const int32_t* x, int n, int64_t mean);
int64_t ln_sigma(int64_t total_squares, int n_total);
// x, out and the constants' gain/bias start at the slice's first channel (c.gain.data() + offset).
void ln_normalize(const int32_t* x, int n, int64_t mean, int64_t sigma, const int64_t* gain, const int64_t* bias,
                  int out_bits, bool out_unsigned, int32_t* out);
int64_t isqrt(int64_t v);   // floor(sqrt(v)), exact

// One WKV channel step in fixed point. k, u, w, p in log2 units Q.8; v and the returned wkv in
// v's integer units; a, b in Q.16. Max subtraction keeps every exp2 argument <= 0 (no
// overflow); b saturates at kWkvDenMax and a at ±2^46 (docs/numerics.md §4.5).
int32_t wkv_step_int(int32_t k, int32_t v, int32_t u, int32_t w, int64_t& a, int64_t& b, int32_t& p);

}  // namespace spiketile::q
