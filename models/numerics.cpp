#include "models/numerics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace spiketile::q {

double Multiplier::value() const { return std::ldexp(double(mantissa), -shift); }

Multiplier make_multiplier(double real) {
  if (!(real >= 0.0) || !std::isfinite(real)) throw std::invalid_argument("requantization scale must be finite and >= 0");
  if (real == 0.0) return {0, 0};
  int exponent = 0;
  const double fraction = std::frexp(real, &exponent);  // real = fraction · 2^exponent, fraction in [0.5, 1)
  int64_t mantissa = std::llround(std::ldexp(fraction, 31));
  int shift = 31 - exponent;
  if (mantissa == (int64_t(1) << 31)) {  // rounding carried into the next power of two
    mantissa >>= 1;
    --shift;
  }
  if (shift > 62 + 31) return {0, 0};  // below any representable product: the value is 0
  // A scale of 2^32 or more would need a left shift that overflows the 128-bit product; no
  // quantized tensor comes near it, so such a scale is a calibration bug.
  if (shift < -1) throw std::invalid_argument("requantization scale >= 2^32 is out of the contract's range");
  return {int32_t(mantissa), shift};
}

namespace {
// g++'s 128-bit integer: exact products of a 64-bit value and a 31-bit mantissa.
__extension__ typedef __int128 int128;

inline int128 round_shift128(int128 v, int s) {
  if (s <= 0) return v * (int128(1) << -s);
  if (s >= 126) return 0;
  const int128 half = int128(1) << (s - 1);
  return v >= 0 ? (v + half) >> s : -((-v + half) >> s);
}
inline int64_t clamp128(int128 v, int64_t lo, int64_t hi) { return v > hi ? hi : v < lo ? lo : int64_t(v); }
}  // namespace

std::string NeuronParams::validation_error(int membrane_bits) const {
  const int64_t rate_max = int64_t(1) << kNeuronRateFrac;
  const int64_t vmax = (int64_t(1) << (membrane_bits - 1)) - 1, vmin = -vmax - 1;
  const std::string membrane = fmt::format("{}-bit membrane, Q.8", membrane_bits);
  const auto outside = [](const char* field, int64_t value, int64_t lo, int64_t hi, const std::string& meaning) {
    return value < lo || value > hi
               ? fmt::format("neuron parameter {} = {} outside [{}, {}] ({})", field, value, lo, hi, meaning)
               : std::string();
  };
  for (const std::string& e :
       {outside("dv", dv, 0, rate_max, "dt/tau_mem in Q.12"), outside("di", di, 0, rate_max, "dt/tau_syn in Q.12"),
        outside("bias", bias, vmin, vmax, membrane), outside("theta", theta, vmin, vmax, membrane),
        outside("v_reset", v_reset, vmin, vmax, membrane),
        outside("reset_mode", int64_t(reset_mode), 0, 2, "0 to v_reset, 1 subtract theta, 2 no spikes")})
    if (!e.empty()) return e;
  return {};
}

int64_t requantize(int64_t v, const Multiplier& m, int bits) {
  const int128 r = round_shift128(int128(v) * m.mantissa, m.shift);
  return clamp128(r, -(int64_t(1) << (bits - 1)), (int64_t(1) << (bits - 1)) - 1);
}

int64_t requantize_unsigned(int64_t v, const Multiplier& m, int bits) {
  const int128 r = round_shift128(int128(v) * m.mantissa, m.shift);
  return clamp128(r, 0, (int64_t(1) << bits) - 1);
}

QuantizedMatrix empty_quantized_matrix(int rows, int cols, int bits) {
  if (bits < 2 || bits > 8) throw std::invalid_argument("weight bits must be in [2, 8]");
  QuantizedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.bits = bits;
  m.q.resize(std::size_t(rows) * cols);
  m.scale.resize(rows);
  m.row_sum.assign(rows, 0);
  return m;
}

void quantize_row_block(const float* block, int first_row, int count, QuantizedMatrix& m) {
  if (first_row < 0 || count < 0 || first_row + count > m.rows)
    throw std::out_of_range(fmt::format("rows [{}, {}) are outside a matrix of {} rows", first_row, first_row + count, m.rows));
  const int cols = m.cols, qmax = (1 << (m.bits - 1)) - 1;
  for (int r = first_row; r < first_row + count; ++r) {
    const float* row = block + std::size_t(r - first_row) * cols;
    double max_abs = 0;
    for (int c = 0; c < cols; ++c) max_abs = std::max(max_abs, double(std::abs(row[c])));
    const double s = max_abs > 0 ? max_abs / qmax : 1.0;
    m.scale[r] = s;
    int32_t sum = 0;
    for (int c = 0; c < cols; ++c) {
      const int8_t q = int8_t(std::clamp<int64_t>(std::llround(double(row[c]) / s), -qmax, qmax));
      m.q[std::size_t(r) * cols + c] = q;
      sum += q;
    }
    m.row_sum[r] = sum;
  }
}

QuantizedMatrix quantize_rows(const float* w, int rows, int cols, int bits) {
  QuantizedMatrix m = empty_quantized_matrix(rows, cols, bits);
  quantize_row_block(w, 0, rows, m);
  return m;
}

double activation_scale(double max_abs, int bits, bool is_unsigned) {
  const int qmax = is_unsigned ? (1 << bits) - 1 : (1 << (bits - 1)) - 1;
  return max_abs > 0 ? max_abs / qmax : 1.0;
}

std::vector<int64_t> make_spike_thresholds(double scale, int steps) {
  std::vector<int64_t> thresholds;
  for (int j = 1; j <= steps; ++j) {
    // The smallest integer v with T·v·scale ≥ j; at least 1, so a zero input never fires.
    const double real = std::min(std::ceil(double(j) / (double(steps) * scale)), 0x1p62);
    thresholds.push_back(std::max<int64_t>(1, int64_t(real)));
  }
  return thresholds;
}

int spike_count_bits(int steps) {
  int bits = 1;
  while ((int64_t(1) << bits) <= steps) ++bits;
  return bits;
}

int64_t quantize_value(double x, double scale, int bits) { return saturate(std::llround(x / scale), bits); }

namespace {
// round(2^(f/256) · 2^16), f = 0..255
const std::array<int64_t, 256>& exp2_fraction_table() {
  static const std::array<int64_t, 256> table = [] {
    std::array<int64_t, 256> t{};
    for (int f = 0; f < 256; ++f) t[f] = std::llround(std::ldexp(std::exp2(f / 256.0), kExpFrac));
    return t;
  }();
  return table;
}

// round(σ(i / 64) · 256) for i = -512..511
const std::array<int32_t, 1024>& sigmoid_table() {
  static const std::array<int32_t, 1024> table = [] {
    std::array<int32_t, 1024> t{};
    for (int i = -512; i < 512; ++i)
      t[i + 512] = int32_t(std::llround(256.0 / (1.0 + std::exp(-std::ldexp(double(i), -kSigmoidInFrac)))));
    return t;
  }();
  return table;
}
}  // namespace

int64_t exp2_neg(int64_t t) {
  if (t > 0) throw std::logic_error("exp2_neg: argument must be <= 0 (max subtraction broken)");
  const int64_t n = t >> kLogFrac;               // floor
  const int64_t f = t - n * (1 << kLogFrac);     // 0..255
  if (-n >= 40) return 0;
  return round_shift(exp2_fraction_table()[f], int(-n));
}

int32_t sigmoid_q(int32_t x) {
  const int32_t lo = -(1 << (kSigmoidInBits - 1)), hi = (1 << (kSigmoidInBits - 1)) - 1;
  return sigmoid_table()[std::clamp(x, lo, hi) - lo];
}

LayerNormConstants make_layer_norm_constants(const float* gamma, const float* beta, int n, double out_scale,
                                             int out_bits) {
  LayerNormConstants c;
  c.out_bits = out_bits;
  c.gain.resize(n);
  c.bias.resize(n);
  for (int i = 0; i < n; ++i) {
    c.gain[i] = std::llround(std::ldexp(double(gamma[i]) / out_scale, kLayerNormGainFrac));
    c.bias[i] = std::llround(std::ldexp(double(beta[i]) / out_scale, kLayerNormGainFrac));
  }
  return c;
}

int64_t isqrt(int64_t v) {
  if (v <= 0) return 0;
  // The double estimate is within 1 of the answer; fix it up exactly in 128-bit arithmetic.
  int64_t r = int64_t(std::sqrt(double(v)));
  while (int128(r) * r > v) --r;
  while (int128(r + 1) * (r + 1) <= v) ++r;
  return r;
}

int64_t ln_partial_sum(const int32_t* x, int n) {
  int64_t sum = 0;
  for (int i = 0; i < n; ++i) sum += x[i];
  return sum;
}

int64_t ln_mean(int64_t total_sum, int n_total) { return div_round(total_sum, n_total); }

int64_t ln_partial_squares(const int32_t* x, int n, int64_t mean) {
  int64_t sq = 0;
  for (int i = 0; i < n; ++i) sq += (int64_t(x[i]) - mean) * (int64_t(x[i]) - mean);
  return sq;
}

int64_t ln_sigma(int64_t total_squares, int n_total) {
  // eps = 1e-5 in the Q.24 units of the variance of Q.12 values.
  static const int64_t eps = std::llround(std::ldexp(1e-5, 2 * kResidualFrac));
  return std::max<int64_t>(1, isqrt(div_round(total_squares, n_total) + eps));
}

void ln_normalize(const int32_t* x, int n, int64_t mean, int64_t sigma, const int64_t* gain, const int64_t* bias,
                  int out_bits, bool out_unsigned, int32_t* out) {
  for (int i = 0; i < n; ++i) {
    const int64_t t = div_round((int64_t(x[i]) - mean) * gain[i], sigma) + bias[i];
    const int64_t v = round_shift(t, kLayerNormGainFrac);
    out[i] = int32_t(out_unsigned ? saturate_unsigned(v, out_bits) : saturate(v, out_bits));
  }
}

void layer_norm_int(const int32_t* x, int n, const LayerNormConstants& c, int32_t* out) {
  const int64_t mean = ln_mean(ln_partial_sum(x, n), n);
  const int64_t sigma = ln_sigma(ln_partial_squares(x, n, mean), n);
  ln_normalize(x, n, mean, sigma, c.gain.data(), c.bias.data(), c.out_bits, c.out_unsigned, out);
}

int32_t wkv_step_int(int32_t k, int32_t v, int32_t u, int32_t w, int64_t& a, int64_t& b, int32_t& p) {
  constexpr int64_t kNumMax = int64_t(1) << 46;
  // A multiply, not a left shift: shifting a negative value left is undefined in C++17; the
  // product is the same two's-complement value the RTL's shift gives.
  const int64_t v16 = int64_t(v) * (int64_t(1) << kExpFrac);
  const int64_t uk = int64_t(u) + k;
  int64_t q = std::max<int64_t>(p, uk);
  int64_t e1 = exp2_neg(p - q), e2 = exp2_neg(uk - q);
  const int64_t num = e1 * a + e2 * v16;
  const int64_t den = e1 * b + e2 * (int64_t(1) << kExpFrac);
  const int32_t wkv = int32_t(saturate(div_round(num, std::max<int64_t>(den, 1)), 32));
  const int64_t pw = int64_t(p) + w;
  q = std::max<int64_t>(pw, k);
  e1 = exp2_neg(pw - q);
  e2 = exp2_neg(int64_t(k) - q);
  a = std::clamp(round_shift(e1 * a + e2 * v16, kExpFrac), -kNumMax, kNumMax);
  b = std::min(round_shift(e1 * b + e2 * (int64_t(1) << kExpFrac), kExpFrac), kWkvDenMax);
  p = int32_t(std::max<int64_t>(q, kWkvNegInf));
  return wkv;
}

}  // namespace spiketile::q
