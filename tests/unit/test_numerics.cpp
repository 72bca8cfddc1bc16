// Each integer rule of docs/numerics.md against its float counterpart, within the bound the
// document states, plus exactness of the LIF and determinism of the quantized model.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <omp.h>

#include <cmath>
#include <random>

#include "models/crossbar_kernel.hpp"
#include "models/lif.hpp"
#include "models/numerics.hpp"
#include "models/quantized.hpp"
#include "models/random_weights.hpp"

namespace spiketile {
namespace {

TEST(Rounding, HalfAwayFromZero) {
  EXPECT_EQ(q::round_shift(5, 1), 3);    // 2.5 -> 3
  EXPECT_EQ(q::round_shift(-5, 1), -3);  // -2.5 -> -3
  EXPECT_EQ(q::round_shift(7, 2), 2);    // 1.75 -> 2
  EXPECT_EQ(q::round_shift(-6, 2), -2);  // -1.5 -> -2
  EXPECT_EQ(q::round_shift(3, 0), 3);
  EXPECT_EQ(q::div_round(7, 2), 4);
  EXPECT_EQ(q::div_round(-7, 2), -4);
  EXPECT_EQ(q::div_round(10, 4), 3);     // 2.5 -> 3
  EXPECT_EQ(q::div_round(-1, 3), 0);
}

TEST(Saturation, BothEnds) {
  EXPECT_EQ(q::saturate(200, 8), 127);
  EXPECT_EQ(q::saturate(-200, 8), -128);
  EXPECT_EQ(q::saturate(-128, 8), -128);
  EXPECT_EQ(q::saturate_unsigned(-3, 8), 0);
  EXPECT_EQ(q::saturate_unsigned(300, 8), 255);
}

TEST(Multiplier, RepresentsTheRealWithin2PowMinus30) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> e(-20, 20);
  for (int i = 0; i < 1000; ++i) {
    const double f = std::exp2(e(rng));
    const q::Multiplier m = q::make_multiplier(f);
    EXPECT_GE(m.mantissa, 1 << 30);
    EXPECT_NEAR(m.value() / f, 1.0, std::ldexp(1.0, -30));
  }
  EXPECT_EQ(q::make_multiplier(0.0).mantissa, 0);
}

TEST(Requantize, WithinHalfLsbPlusMultiplierError) {
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<int64_t> acc(-(int64_t(1) << 31), int64_t(1) << 31);
  std::uniform_real_distribution<double> e(-30, -5);
  for (int i = 0; i < 10000; ++i) {
    const double f = std::exp2(e(rng));
    const int64_t v = acc(rng);
    const int64_t got = q::requantize(v, q::make_multiplier(f), 32);
    EXPECT_LE(std::abs(double(got) - double(v) * f), 0.5 + std::abs(double(v) * f) * std::ldexp(1.0, -30) + 1e-9);
  }
  EXPECT_EQ(q::requantize(1000000, q::make_multiplier(1.0), 8), 127);  // saturates
  EXPECT_EQ(q::requantize(-1000000, q::make_multiplier(1.0), 8), -128);
}

TEST(WeightQuantizer, PerRowErrorAtMostHalfStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 0.2f);
  std::vector<float> w(16 * 40);
  for (float& x : w) x = d(rng);
  for (int bits : {4, 6, 8}) {
    const q::QuantizedMatrix m = q::quantize_rows(w.data(), 16, 40, bits);
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 40; ++c)
        EXPECT_LE(std::abs(m.q[r * 40 + c] * m.scale[r] - w[r * 40 + c]), m.scale[r] / 2 + 1e-9);
  }
}

TEST(Exp2, WithinOneLsbOfExactForAllArguments) {
  for (int64_t t = -40 * 256; t <= 0; ++t) {
    const double exact = std::ldexp(std::exp2(double(t) / 256.0), 16);
    EXPECT_LE(std::abs(double(q::exp2_neg(t)) - exact), 1.0) << t;
  }
  EXPECT_EQ(q::exp2_neg(0), 65536);
  EXPECT_EQ(q::exp2_neg(-256), 32768);
  EXPECT_EQ(q::exp2_neg(-100000), 0);
}

TEST(Sigmoid, TableWithinHalfLsb) {
  for (int x = -512; x < 512; ++x) {
    const double exact = 256.0 / (1.0 + std::exp(-x / 64.0));
    EXPECT_LE(std::abs(q::sigmoid_q(x) - exact), 0.5) << x;
  }
  EXPECT_EQ(q::sigmoid_q(5000), q::sigmoid_q(511));  // saturating input
  EXPECT_EQ(q::sigmoid_q(0), 128);
}

TEST(Isqrt, ExactFloor) {
  std::mt19937_64 rng(4);
  for (int i = 0; i < 10000; ++i) {
    const int64_t v = int64_t(rng() >> 1);
    const int64_t r = q::isqrt(v);
    EXPECT_LE(__int128(r) * r, v);
    EXPECT_GT(__int128(r + 1) * (r + 1), v);
  }
  for (int64_t r : {int64_t(1), int64_t(3037000499)}) {
    EXPECT_EQ(q::isqrt(r * r), r);
    EXPECT_EQ(q::isqrt(r * r - 1), r - 1);
  }
}

TEST(LayerNormInt, WithinStatedBound) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.5f, 1.5f);
  const int n = 192;
  std::vector<float> xf(n), gamma(n), beta(n), ref(n);
  std::vector<int32_t> x(n), out(n);
  for (int i = 0; i < n; ++i) {
    xf[i] = std::round(d(rng) * 4096.0f) / 4096.0f;  // exactly representable in Q.12
    x[i] = int32_t(std::lround(xf[i] * 4096.0f));
    gamma[i] = 0.5f + d(rng) * 0.2f;
    beta[i] = d(rng) * 0.1f;
  }
  layer_norm(xf.data(), gamma.data(), beta.data(), n, ref.data());
  double max_abs = 0;
  for (float r : ref) max_abs = std::max(max_abs, double(std::abs(r)));
  const double s_out = max_abs / 127;
  const auto c = q::make_layer_norm_constants(gamma.data(), beta.data(), n, s_out, 8);
  q::layer_norm_int(x.data(), n, c, out.data());
  for (int i = 0; i < n; ++i) EXPECT_LE(std::abs(out[i] * s_out - ref[i]), 2.5 * s_out) << i;
}

TEST(TokenShiftInt, WithinHalfLsb) {
  for (int mix : {0, 1, 300, 512, 1023, 1024})
    for (int z : {-128, -37, 0, 90, 127})
      for (int prev : {-128, 5, 127}) {
        const double exact = (mix * double(z) + (1024 - mix) * double(prev)) / 1024.0;
        EXPECT_LE(std::abs(q::token_shift_int(z, prev, mix) - exact), 0.5);
      }
}

TEST(WkvInt, TracksFloatRecurrence) {
  // Same sequence through the float kernel and the integer one: the integer output stays
  // within a few v-LSBs plus the exp tables' relative error of the float output.
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> dk(-6.0f, 6.0f), dv(-3.0f, 3.0f);
  const double log2e = 1.4426950408889634, s_v = 3.0 / 32767;
  const float u = 0.4f, w = -std::exp(-1.5f);
  float a = 0, b = 0, p = -1e30f;
  int64_t ai = 0, bi = 0;
  int32_t pi = q::kWkvNegInf;
  const int32_t ui = int32_t(std::lround(u * log2e * 256)), wi = int32_t(std::lround(w * log2e * 256));
  double worst = 0;
  for (int t = 0; t < 300; ++t) {
    const float k = std::round(dk(rng) * log2e * 256) / (log2e * 256);  // exactly representable
    const float v = float(std::lround(dv(rng) / s_v) * s_v);
    const float ref = wkv_step(k, v, u, w, a, b, p);
    const int32_t ki = int32_t(std::lround(k * log2e * 256)), vi = int32_t(std::lround(v / s_v));
    const double got = q::wkv_step_int(ki, vi, ui, wi, ai, bi, pi) * s_v;
    worst = std::max(worst, std::abs(got - ref));
    EXPECT_LE(std::abs(got - ref), 3e-3 * 3.0) << "t=" << t;  // 0.3% of full scale
  }
  RecordProperty("worst_abs_error", std::to_string(worst));
}

TEST(WkvInt, InitialStepReturnsValueExactly) {
  int64_t a = 0, b = 0;
  int32_t p = q::kWkvNegInf;
  EXPECT_EQ(q::wkv_step_int(500, -1234, 100, -50, a, b, p), -1234);
  EXPECT_EQ(b, 65536);
  EXPECT_EQ(a, int64_t(-1234) * 65536);
  EXPECT_EQ(p, 500);
}

TEST(WkvInt, DenominatorStaysBoundedUnderSlowestDecay) {
  int64_t a = 0, b = 0;
  int32_t p = q::kWkvNegInf;
  for (int t = 0; t < 100000; ++t) q::wkv_step_int(0, 32767, 0, -1, a, b, p);
  EXPECT_LT(b, int64_t(371) << 16);   // 1 / (1 - 2^(-1/256)) ≈ 369.8
  EXPECT_GT(b, int64_t(360) << 16);
}

TEST(LifInt, FiresExactlyAtThreshold) {
  int32_t v = 0;
  EXPECT_TRUE(q::lif_step_int(v, 512, 16));  // 0 + (512 - 0) >> 1 = 256 = θ
  EXPECT_EQ(v, 0);
  v = 0;
  EXPECT_FALSE(q::lif_step_int(v, 511, 16));  // 255
  EXPECT_EQ(v, 255);
}

TEST(LifInt, FloorShiftOnNegativeDifference) {
  int32_t v = 100;
  EXPECT_FALSE(q::lif_step_int(v, -1, 16));  // 100 + (-101 >> 1) = 100 - 51 = 49
  EXPECT_EQ(v, 49);
  v = 0;
  EXPECT_FALSE(q::lif_step_int(v, -3, 16));   // -3 >> 1 = -2
  EXPECT_EQ(v, -2);
}

TEST(LifInt, SaturatesAtBothEnds) {
  int32_t v = 0;
  for (int i = 0; i < 30; ++i) q::lif_step_int(v, -(1 << 20), 16);
  EXPECT_EQ(v, -32768);
  v = 255;
  EXPECT_TRUE(q::lif_step_int(v, 1 << 20, 16));  // far above: fires and resets
  EXPECT_EQ(v, 0);
}

TEST(LifInt, MatchesFloatRuleOnExactGrid) {
  // With inputs on the Q.8 grid and even differences, >>1 is exact, so integer and float LIF
  // agree exactly.
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> d(-300, 300);
  int32_t vi = 0;
  float vf = 0;
  for (int t = 0; t < 1000; ++t) {
    int32_t x = d(rng) * 2;
    if (((x - vi) & 1) != 0) x += 1;
    const bool si = q::lif_step_int(vi, x, 16);
    const bool sf = lif_step(vf, float(x) / 256.0f);
    ASSERT_EQ(si, sf) << t;
    ASSERT_EQ(float(vi) / 256.0f, vf) << t;
  }
}

// ---- the general neuron (docs/numerics.md §4.8a) -------------------------------------------------

// Steps `p` through the inputs and returns the membrane after each step, with 'S' marking spikes.
std::vector<std::pair<int32_t, bool>> neuron_trace(const q::NeuronParams& p, q::NeuronState& s,
                                                   const std::vector<int32_t>& inputs, int bits = 16) {
  std::vector<std::pair<int32_t, bool>> out;
  for (int32_t x : inputs) {
    const bool spike = q::neuron_step_int(p, s, x, bits);
    out.emplace_back(s.v, spike);
  }
  return out;
}
using Trace = std::vector<std::pair<int32_t, bool>>;

q::NeuronParams integrator(int32_t theta) {   // IF: no leak, dv = 1.0
  q::NeuronParams p;
  p.leak = false;
  p.dv = 4096;
  p.theta = theta;
  p.fire_ge = false;
  return p;
}

TEST(NeuronInt, SpikeGptConfigurationIsBitIdenticalToLifStepExhaustivelyAt12Bits) {
  // (x - v)·2048 >> 12 == (x - v) >> 1 for every integer; here every (v, x) pair of a 12-bit
  // membrane (the narrow RTL configuration) and every pair of a 10-bit one, spikes included.
  const q::NeuronParams lif = q::NeuronParams::spikegpt_lif();
  for (int bits : {10, 12}) {
    const int32_t lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
    for (int32_t v0 = lo; v0 <= hi; ++v0)
      for (int32_t x = lo; x <= hi; ++x) {
        int32_t v = v0;
        q::NeuronState s{v0, 0};
        const bool a = q::lif_step_int(v, x, bits), b = q::neuron_step_int(lif, s, x, bits);
        if (a != b || v != s.v) FAIL() << bits << " bits: v=" << v0 << " x=" << x;
      }
  }
}

TEST(NeuronInt, SpikeGptConfigurationIsBitIdenticalToLifStepOnDense16BitPairs) {
  // Every 16-bit membrane against every 16-bit current on a stride-7 grid (7 is odd, so the grid
  // hits both parities of x - v and every residue of small powers of two), plus each rail and its
  // neighbours: 614M of the 4.3G pairs, about 2 s.
  const q::NeuronParams lif = q::NeuronParams::spikegpt_lif();
  std::vector<int32_t> xs;
  for (int32_t x = -32768; x <= 32767; x += 7) xs.push_back(x);
  for (int32_t x : {-32768, -32767, -32766, -257, -256, -255, -1, 0, 1, 255, 256, 257, 511, 512, 513, 32765, 32766, 32767})
    xs.push_back(x);
  for (int32_t v0 = -32768; v0 <= 32767; ++v0)
    for (int32_t x : xs) {
      int32_t v = v0;
      q::NeuronState s{v0, 0};
      const bool a = q::lif_step_int(v, x, 16), b = q::neuron_step_int(lif, s, x, 16);
      if (a != b || v != s.v) FAIL() << "v=" << v0 << " x=" << x;
    }
}

TEST(NeuronInt, LifWithStepInputLeakBiasAndFloor) {
  q::NeuronParams p;   // NIR LIF: dt/τ = 0.25, fires above the threshold
  p.dv = 1024;
  p.fire_ge = false;
  q::NeuronState s;
  // u = 400 - v; v += floor(u / 4): 100, 175, 231 (56.25), 273 (42.25) > 256 -> spike, v_reset 0
  EXPECT_EQ(neuron_trace(p, s, {400, 400, 400, 400, 400}),
            (Trace{{100, false}, {175, false}, {231, false}, {0, true}, {100, false}}));
  // v_leak = -50 with no input: floor rounds toward -inf: -12.5 -> -13, then -9.25 -> -10, -6.75 -> -7
  p.bias = -50;
  s = {};
  EXPECT_EQ(neuron_trace(p, s, {0, 0, 0}), (Trace{{-13, false}, {-23, false}, {-30, false}}));
  // reset to v_reset = -20 when the input pushes past theta
  p.bias = 0;
  p.v_reset = -20;
  p.dv = 4096;   // v follows bias + x exactly
  s = {};
  EXPECT_EQ(neuron_trace(p, s, {257, 256, 100}), (Trace{{-20, true}, {256, false}, {100, false}}));
}

TEST(NeuronInt, FloorLeavesASmallNegativeMembraneStuck) {
  // dv = 100: u·dv >> 12 is 0 for 0 < u < 41, so a membrane in [-40, -1] never leaks back up, while
  // a positive one decays (floor(-40·100 / 4096) = -1).
  q::NeuronParams p;
  p.dv = 100;
  q::NeuronState s{-40, 0};
  EXPECT_EQ(neuron_trace(p, s, {0, 0, 0}), (Trace{{-40, false}, {-40, false}, {-40, false}}));
  s = {40, 0};
  EXPECT_EQ(neuron_trace(p, s, {0, 0}), (Trace{{39, false}, {38, false}}));
}

TEST(NeuronInt, IntegrateAndFireResetToValue) {
  q::NeuronParams p = integrator(1000);
  p.v_reset = 5;
  q::NeuronState s;
  EXPECT_EQ(neuron_trace(p, s, {300, 300, 300, 300, 300, -400}),
            (Trace{{300, false}, {600, false}, {900, false}, {5, true}, {305, false}, {-95, false}}));
}

TEST(NeuronInt, SubtractResetKeepsTheRemainderAndSaturates) {
  q::NeuronParams p = integrator(1000);
  p.reset_mode = q::ResetMode::kSubtract;
  q::NeuronState s;
  EXPECT_EQ(neuron_trace(p, s, {300, 300, 300, 300, 300, 300, 300}),
            (Trace{{300, false}, {600, false}, {900, false}, {200, true}, {500, false}, {800, false}, {100, true}}));
  // A negative threshold: v - theta overflows the membrane and saturates at the top rail.
  p.theta = -30000;
  p.fire_ge = true;
  s = {30000, 0};
  EXPECT_EQ(neuron_trace(p, s, {10000}), (Trace{{32767, true}}));   // 40000 -> 32767; 62767 -> 32767
  s = {-30000, 0};
  EXPECT_EQ(neuron_trace(p, s, {0}), (Trace{{0, true}}));           // exactly theta, >=: fires, 0 left
}

TEST(NeuronInt, GreaterVersusGreaterOrEqualAtEquality) {
  q::NeuronParams p = integrator(700);
  q::NeuronState s;
  EXPECT_EQ(neuron_trace(p, s, {700, 1}), (Trace{{700, false}, {0, true}}));   // >: 700 stays, 701 fires
  p.fire_ge = true;
  s = {};
  EXPECT_EQ(neuron_trace(p, s, {700}), (Trace{{0, true}}));                     // >=: 700 fires
  p.theta = -5;   // negative thresholds compare the same way
  s = {-10, 0};
  EXPECT_EQ(neuron_trace(p, s, {5}), (Trace{{0, true}}));
  p.fire_ge = false;
  s = {-10, 0};
  EXPECT_EQ(neuron_trace(p, s, {5, 1}), (Trace{{-5, false}, {0, true}}));
}

TEST(NeuronInt, CurrentStageFeedsTheMembraneOneStepLate) {
  q::NeuronParams p = integrator(32767);
  p.current = true;
  p.reset_mode = q::ResetMode::kNone;
  q::NeuronState s;
  // di = 1.0: i is the previous input; the membrane adds the current of the step before.
  EXPECT_EQ(neuron_trace(p, s, {100, 0, 0, 7}), (Trace{{0, false}, {100, false}, {100, false}, {100, false}}));
  EXPECT_EQ(s.i, 7);
  // di = 0.5: i = 50, 75, 87 (87.5 floored); v adds 0, 50, 75
  p.di = 2048;
  s = {};
  EXPECT_EQ(neuron_trace(p, s, {100, 100, 100}), (Trace{{0, false}, {50, false}, {125, false}}));
  EXPECT_EQ(s.i, 87);
  // di = 0: the current never moves, the membrane never sees the input
  p.di = 0;
  s = {};
  EXPECT_EQ(neuron_trace(p, s, {1000, 1000}), (Trace{{0, false}, {0, false}}));
  EXPECT_EQ(s.i, 0);
  // CubaLIF: leak toward bias with the delayed current, spike and reset
  p = q::NeuronParams{};
  p.current = true;
  p.di = 4096;
  s = {};
  EXPECT_EQ(neuron_trace(p, s, {600, 600, 600}), (Trace{{0, false}, {0, true}, {0, true}}));   // 300 >= 256
}

TEST(NeuronInt, MembraneAndCurrentSaturateAtBothEnds) {
  q::NeuronParams p = integrator(0);
  p.reset_mode = q::ResetMode::kNone;
  q::NeuronState s;
  EXPECT_EQ(neuron_trace(p, s, {32767, 32767, -32768, -32768, -32768}),
            (Trace{{32767, false}, {32767, false}, {-1, false}, {-32768, false}, {-32768, false}}));
  // u spans 18 bits: bias + x - v = 32767 + 32767 + 32768 with the leak on and dv = 1.0
  p.leak = true;
  p.bias = 32767;
  s = {-32768, 0};
  EXPECT_EQ(neuron_trace(p, s, {32767}), (Trace{{32767, false}}));
  p.bias = -32768;
  s = {32767, 0};
  EXPECT_EQ(neuron_trace(p, s, {-32768}), (Trace{{-32768, false}}));
  // The current is a convex step (di <= 1.0): it reaches each rail and stays, never past it.
  p = integrator(0);
  p.current = true;
  p.reset_mode = q::ResetMode::kNone;
  s = {};
  for (int32_t x : {32767, 32767}) q::neuron_step_int(p, s, x, 16);
  EXPECT_EQ(s.i, 32767);
  for (int32_t x : {-32768, -32768}) q::neuron_step_int(p, s, x, 16);
  EXPECT_EQ(s.i, -32768);
  p.di = 4095;
  s = {0, 32767};
  q::neuron_step_int(p, s, -32768, 16);   // 32767 + floor(-65535·4095 / 4096) = 32767 - 65520
  EXPECT_EQ(s.i, -32753);
}

TEST(NeuronInt, MembraneRateZeroAndOne) {
  q::NeuronParams p;
  p.dv = 0;   // the membrane never moves
  q::NeuronState s{77, 0};
  EXPECT_EQ(neuron_trace(p, s, {30000, -30000}), (Trace{{77, false}, {77, false}}));
  p.theta = 0;   // ... and fires every step when it already sits at the threshold
  s = {};
  EXPECT_EQ(neuron_trace(p, s, {0, 0}), (Trace{{0, true}, {0, true}}));
  p = q::NeuronParams{};
  p.dv = 4096;   // v = bias + x exactly, no memory
  p.bias = -20;
  s = {};
  EXPECT_EQ(neuron_trace(p, s, {300, 100, 276}), (Trace{{0, true}, {80, false}, {0, true}}));
}

TEST(NeuronInt, ResetModeNoneNeverSpikes) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<int32_t> v16(-32768, 32767), rate(0, 4096);
  q::NeuronParams p;
  p.reset_mode = q::ResetMode::kNone;
  p.theta = -32768;   // everything is at or above it
  q::NeuronState s;
  for (int t = 0; t < 100000; ++t) {
    p.dv = rate(rng);
    p.leak = t % 2;
    p.fire_ge = t % 3 == 0;
    const int32_t before = s.v;
    ASSERT_FALSE(q::neuron_step_int(p, s, v16(rng), 16)) << t;
    if (p.dv == 0) {
      ASSERT_EQ(s.v, before);
    }
  }
}

TEST(NeuronInt, TraceShowsTheValuesBeforeClampAndReset) {
  q::NeuronParams p = integrator(-30000);
  p.reset_mode = q::ResetMode::kSubtract;
  q::NeuronState s{30000, 0};
  q::NeuronStepTrace t;
  EXPECT_TRUE(q::neuron_step_int(p, s, 10000, 16, &t));
  EXPECT_EQ(t.v_unclamped, 40000);
  EXPECT_EQ(t.v_integrated, 32767);
  EXPECT_EQ(t.v_subtracted, 62767);
  EXPECT_EQ(s.v, 32767);
}

TEST(NeuronInt, ValidationNamesTheFieldItsValueAndTheRange) {
  EXPECT_EQ(q::NeuronParams::spikegpt_lif().validation_error(16), "");
  EXPECT_EQ(q::NeuronParams::spikegpt_lif().validation_error(10), "");
  const auto error = [](auto edit, int bits = 16) {
    q::NeuronParams p;
    edit(p);
    return p.validation_error(bits);
  };
  EXPECT_EQ(error([](q::NeuronParams& p) { p.dv = 4097; }), "neuron parameter dv = 4097 outside [0, 4096] (dt/tau_mem in Q.12)");
  EXPECT_EQ(error([](q::NeuronParams& p) { p.di = -1; }), "neuron parameter di = -1 outside [0, 4096] (dt/tau_syn in Q.12)");
  EXPECT_EQ(error([](q::NeuronParams& p) { p.bias = 32768; }),
            "neuron parameter bias = 32768 outside [-32768, 32767] (16-bit membrane, Q.8)");
  EXPECT_EQ(error([](q::NeuronParams& p) { p.theta = 2048; }, 12),
            "neuron parameter theta = 2048 outside [-2048, 2047] (12-bit membrane, Q.8)");
  EXPECT_EQ(error([](q::NeuronParams& p) { p.v_reset = -40000; }),
            "neuron parameter v_reset = -40000 outside [-32768, 32767] (16-bit membrane, Q.8)");
  EXPECT_EQ(error([](q::NeuronParams& p) { p.reset_mode = q::ResetMode(3); }),
            "neuron parameter reset_mode = 3 outside [0, 2] (0 to v_reset, 1 subtract theta, 2 no spikes)");
  EXPECT_EQ(error([](q::NeuronParams& p) { p.dv = 0; p.di = 4096; p.bias = -32768; p.theta = 32767; }), "");
}

QuantizedModel make_quantized(uint64_t seed, const ModelConfig& c, const QuantOptions& o = {}) {
  const std::vector<int> sample{1, 5, 9, 2, 40, 3, 3, 17, 60, 8, 8, 8, 21, 0, 75};
  GoldenModel golden(SpikeGptWeights::from_file(random_spikegpt_checkpoint(c, seed), {}), 1);
  const Calibration cal = calibrate(golden, sample, "test");
  return QuantizedModel(QuantizedSpikeGpt::build(golden.weights(), cal, o));
}

TEST(QuantizedModel, DeterministicAcrossRunsAndThreads) {
  const ModelConfig c{2, 256, 77};  // crossbars large enough to run in parallel
  QuantizedModel a = make_quantized(3, c), b = make_quantized(3, c);
  const std::vector<int> tokens{4, 8, 15, 16, 23, 42, 0, 76};
  std::vector<std::vector<float>> la;
  std::vector<TokenCounts> ca;
  omp_set_num_threads(1);
  for (int t : tokens) {
    la.push_back(a.step(t));
    ca.push_back(*a.last_counts());
  }
  omp_set_num_threads(2);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(b.step(tokens[i]), la[i]);
    EXPECT_TRUE(*b.last_counts() == ca[i]);
  }
  EXPECT_TRUE(a.state() == b.state());
}

TEST(QuantizedModel, CountsFollowTheSopDefinitions) {
  QuantizedModel m = make_quantized(4, {1, 32, 77});
  m.step(10);
  const TokenCounts& c = *m.last_counts();
  const Counts& value = c.at(0, Op::FfnValue);
  // ffn.value is [C × 4C]: every graded event fans out to C = 32 neurons.
  EXPECT_EQ(value.sop_graded, value.events_graded * 32);
  EXPECT_EQ(value.events_graded, m.last_activity().relu2_nonzero[0]);
  EXPECT_EQ(value.dense_macs, 32 * 128);
  EXPECT_EQ(value.sop_bit_serial, value.events_bit_serial * 32);
  const Counts& res = c.at(0, Op::AttResidual);
  int spikes = 0;
  for (uint8_t s : m.last_activity().spikes_att[0]) spikes += s;
  EXPECT_EQ(res.sop_binary, spikes);
  EXPECT_EQ(c.at(0, Op::AttLif).spikes, spikes);
  EXPECT_EQ(c.at(0, Op::AttWkv).sfu[int(Sfu::Exp)], 4 * 32);
}

TEST(QuantizedModel, ResetRestoresInitialState) {
  QuantizedModel m = make_quantized(5, {2, 32, 77});
  const auto first = m.step(7);
  m.step(3);
  m.reset();
  EXPECT_EQ(m.step(7), first);
}

}  // namespace
}  // namespace spiketile

namespace spiketile {
namespace {

TEST(CrossbarKernel, EqualsNaiveProductForSignedUnsignedAndWideInputs) {
  std::mt19937 rng(12);
  for (int cols : {1, 63, 64, 65, 200, 768}) {
    const int rows = 37;
    std::vector<int8_t> w(std::size_t(rows) * cols);
    std::uniform_int_distribution<int> dw(-127, 127);
    for (auto& v : w) v = int8_t(dw(rng));
    std::vector<int32_t> sums(rows, 0);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) sums[r] += w[std::size_t(r) * cols + c];
    for (auto [lo, hi] : {std::pair{-128, 127}, std::pair{0, 255}, std::pair{-300, 300}}) {
      std::uniform_int_distribution<int> dx(lo, hi);
      std::vector<int32_t> x(cols);
      for (auto& v : x) v = dx(rng);
      std::vector<int64_t> got(rows);
      crossbar_matvec(w.data(), std::size_t(cols), rows, cols, sums.data(), x.data(), got.data(), false);
      for (int r = 0; r < rows; ++r) {
        int64_t expect = 0;
        for (int c = 0; c < cols; ++c) expect += int64_t(w[std::size_t(r) * cols + c]) * x[c];
        ASSERT_EQ(got[r], expect) << "cols " << cols << " row " << r << " inputs [" << lo << ", " << hi << "]";
      }
    }
  }
}

// Every range of a calibration file scales a quantizer: ln_out was not checked like the per-layer
// ranges, so a negative one was accepted (found by fuzz_calibration_json's invariant, constructed
// like tests/fuzz/regressions/calibration_json/negative_ln_out.json), as was a negative token count.
TEST(Calibration, EveryRangeIsFiniteAndNonNegative) {
  nlohmann::json j = {{"format", "spiketile-calibration-1"}, {"text", "sample.txt"}, {"tokens", 512},
                      {"ln1", {2.4, 4.8}},       {"att_value", {14.7, 23.9}}, {"att_gated", {14.7, 22.4}},
                      {"ln2", {3.4, 5.8}},       {"ffn_key_pos", {12.7, 11.2}}, {"ffn_hidden", {163.2, 126.8}},
                      {"ln_out", 5.5}};
  EXPECT_EQ(Calibration::from_json(j, 2).ln_out, 5.5);
  auto error_of = [](const nlohmann::json& bad) {
    try {
      Calibration::from_json(bad, 2);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  nlohmann::json bad = j;
  bad["ln_out"] = -5.5;
  EXPECT_EQ(error_of(bad), "calibration: 'ln_out' has a bad range -5.5");
  bad = j;
  bad["tokens"] = -3;
  EXPECT_EQ(error_of(bad), "calibration: 'tokens' is -3, below 0");
  bad = j;
  bad["ffn_hidden"][1] = -1.0;
  EXPECT_EQ(error_of(bad), "calibration: 'ffn_hidden' has a bad range -1");
}

}  // namespace
}  // namespace spiketile
