// The host side of the measured GPU baseline (bench/gpu): number formats, the packed layout, the
// host emulation of the GPU's step against the golden model under the check's tolerances, the
// check catching the bugs it is there for, NVML's absence, the options, and the whole sweep run
// on the emulation with the file it writes. No CUDA and no GPU needed.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "bench/gpu/gpu_bench_host.hpp"
#include "bench/gpu/logit_check.hpp"
#include "bench/gpu/nvml_energy.hpp"
#include "bench/gpu/packed_model.hpp"
#include "bench/gpu/precision.hpp"
#include "bench/gpu/step_emulator.hpp"
#include "models/checkpoint_io.hpp"
#include "models/random_weights.hpp"
#include "runtime/gpu_measured.hpp"

namespace spiketile::gpu_bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kShippedModel = std::string(SPIKETILE_SOURCE_DIR) + "/models/spikegpt-fortunes.pth";

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

const SpikeGptWeights& shipped_weights() {
  static const SpikeGptWeights w = SpikeGptWeights::load(kShippedModel, {});
  return w;
}

// ---- number formats ---------------------------------------------------------------------------

TEST(GpuBenchPrecision, EveryHalfRoundTripsAndMidpointsTieToEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) continue;  // NaN payloads are not kept
    const float f = checkpoint_io::half_to_float(uint16_t(h));
    ASSERT_EQ(float_to_half_bits(f), h) << std::hex << h;
    // Halfway to the next half up in magnitude (exact in float32): the even one of the two wins.
    if ((h & 0x7FFF) < 0x7BFF) {
      const float next = checkpoint_io::half_to_float(uint16_t(h + 1));
      const uint16_t even = (h & 1) ? uint16_t(h + 1) : uint16_t(h);
      ASSERT_EQ(float_to_half_bits(f + (next - f) / 2), even) << std::hex << h;
    }
  }
  EXPECT_EQ(float_to_half_bits(65519.0f), 0x7BFF);  // the largest half, 65504
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7C00);  // halfway to 65536: rounds to infinity
  EXPECT_EQ(float_to_half_bits(-1e9f), 0xFC00);
  EXPECT_EQ(float_to_half_bits(std::numeric_limits<float>::quiet_NaN()) & 0x7E00, 0x7E00);
  EXPECT_EQ(float_to_half_bits(bits_float(0x33000000)), 0x0000);  // 2^-25: halfway to the smallest subnormal, to even 0
  EXPECT_EQ(float_to_half_bits(bits_float(0x33000001)), 0x0001);
}

TEST(GpuBenchPrecision, EveryBfloat16RoundTripsAndMidpointsTieToEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7F80) == 0x7F80 && (h & 0x7F)) continue;
    const float f = checkpoint_io::bfloat16_to_float(uint16_t(h));
    ASSERT_EQ(float_to_bfloat16_bits(f), h) << std::hex << h;
    const uint32_t u = h << 16;
    if ((h & 0x7FFF) < 0x7F7F) {
      ASSERT_EQ(float_to_bfloat16_bits(bits_float(u | 0x8000)), (h & 1) ? h + 1 : h);
    }
  }
  EXPECT_EQ(round_to(Precision::bf16, 1.0f + 1.0f / 256), 1.0f);  // halfway between 1 and 1 + 2^-7: even
  EXPECT_EQ(round_to(Precision::fp16, 1.0f + 1.0f / 4096), 1.0f);
}

TEST(GpuBenchPrecision, Int8ScalesEachRowAndEachInputToItsLargestMagnitude) {
  const std::vector<float> m{0.5f, -1.0f, 0.25f, 0.0f, 0.0f, 0.0f};  // 2 rows of 3
  const Int8Rows q = quantize_rows(m.data(), 2, 3);
  EXPECT_EQ(q.values, (std::vector<int8_t>{64, -127, 32, 0, 0, 0}));  // 63.5 rounds to even 64
  EXPECT_FLOAT_EQ(q.scales[0], 1.0f / 127);
  EXPECT_EQ(q.scales[1], 0.0f);  // a zero row stays zero
  EXPECT_EQ(quantize_int8(2.5f, 1.0f), 2);  // ties to even, as __float2int_rn
  EXPECT_EQ(quantize_int8(-300.0f, 1.0f), -127);
  EXPECT_EQ(dequantize_int8(-127 * 64, q.scales[0], 0.5f), -127 * 64 * q.scales[0] * 0.5f);
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
  EXPECT_THROW(parse_precision("fp32"), std::invalid_argument);
}

// ---- the packed layout --------------------------------------------------------------------------

TEST(GpuBenchPackedModel, HoldsTheGoldenWeightsRoundedPaddedAndAligned) {
  const SpikeGptWeights& w = shipped_weights();
  const PackedModel p = pack_model(w, Precision::fp16);
  ASSERT_EQ(p.blocks.size(), std::size_t(w.config.n_layer * kLayerGemms + 1));
  const MatrixBlock& key = p.block(2, Gemm::ffn_key);
  EXPECT_EQ(key.rows, 4 * w.config.n_embd);
  EXPECT_EQ(key.cols, w.config.n_embd);
  for (int64_t r : {int64_t(0), key.rows - 1})
    for (int64_t c : {int64_t(0), key.cols - 1})
      EXPECT_EQ(p.weight(key, r, c), round_to(Precision::fp16, w.layers[2].ffn_key.data[std::size_t(r * key.cols + c)]));
  const MatrixBlock& head = p.block(-1, Gemm::head);
  EXPECT_EQ(head.valid_rows, 77);
  EXPECT_EQ(head.rows, 80);  // padded to a multiple of 16
  EXPECT_EQ(p.weight(head, 79, 5), 0.0f);
  for (const MatrixBlock& b : p.blocks) EXPECT_EQ(b.offset * 2 % kMatrixAlignmentBytes, 0u);
  // The vectors after the load-time transforms, and the embedding binarized (V = 77).
  EXPECT_EQ(p.vectors[p.layers[1].time_decay + 3], w.layers[1].att_time_decay.data[3]);
  EXPECT_LT(p.vectors[p.layers[1].time_decay + 3], 0.0f);
  for (float e : p.embedding) EXPECT_TRUE(e == 0.0f || e == 1.0f);
  const PackedModel q = pack_model(w, Precision::int8);
  EXPECT_EQ(q.row_scales.size(), std::size_t(w.config.n_layer) * (4 + 1 + 4 + 1) * 192 + 80);
  EXPECT_LT(q.matrices.size(), p.matrices.size());
}

TEST(GpuBenchPackedModel, Int8NeedsAWidthThatIsAMultipleOfFour) {
  ModelConfig c{1, 30, 11};
  EXPECT_NE(unsupported_reason(Precision::int8, c).find("n_embd is 30"), std::string::npos);
  EXPECT_EQ(unsupported_reason(Precision::fp16, c), "");
  const SpikeGptWeights w = SpikeGptWeights::from_file(random_spikegpt_checkpoint(c, 3), {});
  EXPECT_THROW(pack_model(w, Precision::int8), std::invalid_argument);
  EXPECT_NO_THROW(pack_model(w, Precision::bf16));
}

// ---- the emulated step against the golden model -----------------------------------------------

struct Emulated : LockstepDevice {
  Emulated(const PackedModel& model, int batch) : emulator(model, batch), batch_(batch), model_(model) {}
  int batch() const override { return batch_; }
  void set_state(int b, const std::vector<float>& s) override { emulator.set_state(b, s); }
  const std::vector<float>& step(const std::vector<int>& tokens) override { return emulator.step(tokens); }
  std::vector<float> state(int b) override {
    const std::size_t n = std::size_t(model_.config.n_layer) * RecurrentState::kSlots * std::size_t(model_.config.n_embd);
    return std::vector<float>(emulator.state(b), emulator.state(b) + n);
  }
  StepEmulator emulator;
  int batch_;
  const PackedModel& model_;
};

const GoldenTrajectory& shipped_trajectory() {
  static const GoldenTrajectory t = [] {
    GoldenModel golden(shipped_weights(), 1);
    return record_golden(golden, kCheckStreams, 12);
  }();
  return t;
}

// The figures docs/performance.md quotes for the tolerances: the emulation rounds as the GPU does,
// so these are what a correct GPU step shows, up to the order of float32 sums.
TEST(GpuBenchCheck, TheEmulatedStepPassesEveryPrecisionsCheckOnTheShippedModel) {
  for (Precision p : {Precision::fp16, Precision::bf16, Precision::int8}) {
    const PackedModel packed = pack_model(shipped_weights(), p);
    Emulated device(packed, 7);  // 7 sequences over 5 streams: two pairs share a stream
    const CheckOutcome outcome = run_check(device, shipped_trajectory(), shipped_weights().config, p);
    const GpuLogitCheck& r = outcome.result;
    EXPECT_EQ(outcome.failure, "") << precision_name(p);
    EXPECT_TRUE(r.passed()) << precision_name(p);
    EXPECT_EQ(r.tokens, 12);
    EXPECT_EQ(r.sequences, 7);
    EXPECT_LT(r.max_normalized_error, r.tolerance / 2) << precision_name(p);
    EXPECT_LT(r.max_state_error, r.tolerance / 2) << precision_name(p);
    EXPECT_LT(r.spike_flip_share, r.spike_flip_tolerance / 2) << precision_name(p);
    EXPECT_GT(r.argmax_agreement, 0.8) << precision_name(p);
  }
  EXPECT_DOUBLE_EQ(check_tolerance(Precision::fp16).error, 10.0 / 2048);
  EXPECT_DOUBLE_EQ(check_tolerance(Precision::bf16).error, 10.0 / 256);
}

// Running free, fp16 leaves the float32 model after a spike flips (why the check is lockstep).
TEST(GpuBenchCheck, AFreeRunningFp16StepLeavesTheGoldenModelOnceASpikeFlips) {
  const PackedModel packed = pack_model(shipped_weights(), Precision::fp16);
  StepEmulator emulator(packed, 1);
  GoldenModel golden(shipped_weights(), 1);
  double first = 0, worst = 0;
  for (int t = 0; t < 24; ++t) {
    const int token = check_token(0, t, 77);
    const std::vector<float>& want = golden.step(token);
    const std::vector<float>& have = emulator.step({token});
    double error = 0;
    for (std::size_t v = 0; v < want.size(); ++v) error = std::max(error, double(std::fabs(want[v] - have[v])));
    const auto [lo, hi] = std::minmax_element(want.begin(), want.end());
    error /= *hi - *lo;
    if (t == 0) first = error;
    worst = std::max(worst, error);
  }
  EXPECT_LT(first, check_tolerance(Precision::fp16).error / 10);
  EXPECT_GT(worst, check_tolerance(Precision::fp16).error * 5);
}

TEST(GpuBenchCheck, GreedyNextTokensAreEachSequencesFirstLargestLogit) {
  const PackedModel packed = pack_model(shipped_weights(), Precision::bf16);
  StepEmulator emulator(packed, 3);
  const std::vector<float>& logits = emulator.step({1, 2, 3});
  for (int b = 0; b < 3; ++b) {
    const float* row = logits.data() + b * 77;
    EXPECT_EQ(emulator.greedy_tokens()[std::size_t(b)], std::max_element(row, row + 77) - row);
  }
}

// A matrix swapped for another (a layout bug) is far outside every tolerance.
TEST(GpuBenchCheck, CatchesSwappedMatrices) {
  SpikeGptWeights w = shipped_weights();
  std::swap(w.layers[1].att_key, w.layers[1].att_value);
  const PackedModel packed = pack_model(w, Precision::fp16);
  Emulated device(packed, 2);
  const CheckOutcome outcome = run_check(device, shipped_trajectory(), w.config, Precision::fp16);
  EXPECT_FALSE(outcome.result.passed());
  EXPECT_NE(outcome.failure, "");
}

// A state the step forgets to carry (the token shift), and sequences that trade results.
TEST(GpuBenchCheck, CatchesAStateNotCarriedAndSequencesMixedUp) {
  const PackedModel packed = pack_model(shipped_weights(), Precision::fp16);
  struct ForgetsTheShift : Emulated {
    using Emulated::Emulated;
    std::vector<float> state(int b) override {
      std::vector<float> s = Emulated::state(b);
      std::fill_n(s.begin() + RecurrentState::AttShift * 192, 192, 0.0f);  // layer 0's att token shift
      return s;
    }
  } forgets(packed, 2);
  const CheckOutcome shift = run_check(forgets, shipped_trajectory(), shipped_weights().config, Precision::fp16);
  EXPECT_NE(shift.failure.find("the att token shift of layer 0"), std::string::npos) << shift.failure;

  struct Swaps : Emulated {
    using Emulated::Emulated;
    const std::vector<float>& step(const std::vector<int>& tokens) override {
      swapped = Emulated::step(tokens);
      std::swap_ranges(swapped.begin(), swapped.begin() + 77, swapped.begin() + 77);
      return swapped;
    }
    std::vector<float> swapped;
  } swaps(packed, 2);
  const CheckOutcome mixed = run_check(swaps, shipped_trajectory(), shipped_weights().config, Precision::fp16);
  EXPECT_NE(mixed.failure.find("logits of step "), std::string::npos) << mixed.failure;
}

// ---- NVML, options ------------------------------------------------------------------------------

TEST(GpuBenchEnergy, WithoutNvmlEveryEnergyIsUnavailableAndSaysWhy) {
  const EnergyCounter e = EnergyCounter::open("00000000:00:00.0", "libspiketile-no-such-nvml.so.1");
  EXPECT_FALSE(e.available());
  EXPECT_NE(e.unavailable_reason().find("cannot load libspiketile-no-such-nvml.so.1"), std::string::npos)
      << e.unavailable_reason();
  EXPECT_EQ(e.source().rfind("none: ", 0), 0u);
  EXPECT_THROW(e.total_energy_j(), std::runtime_error);
  EXPECT_FALSE(e.clocks());
  EXPECT_FALSE(e.max_clocks());
  EXPECT_FALSE(e.power_limit_w());
  EXPECT_EQ(e.driver_version(), "");
}

TEST(GpuBenchEnergy, FiguresPerTokenAndAboveIdle) {
  const EnergyFigures f = energy_figures(100.0, 2.0, 50, 20.0);
  EXPECT_DOUBLE_EQ(*f.mean_power_w, 50.0);
  EXPECT_DOUBLE_EQ(*f.per_token_j, 2.0);
  EXPECT_DOUBLE_EQ(*f.per_token_above_idle_j, (100.0 - 20.0 * 2.0) / 50);
  EXPECT_FALSE(energy_figures(100.0, 2.0, 50, std::nullopt).per_token_above_idle_j);
  const EnergyFigures none = energy_figures(std::nullopt, 2.0, 50, 20.0);
  EXPECT_FALSE(none.energy_j || none.mean_power_w || none.per_token_j || none.per_token_above_idle_j);
  EXPECT_THROW(energy_figures(1.0, 0.0, 5, std::nullopt), std::invalid_argument);
}

// Parses a command line as the program does; "" when it parsed and validated.
std::string parse(GpuBenchOptions& o, std::vector<std::string> args) {
  const auto app = make_cli(o);
  args.insert(args.begin(), "spiketile_gpu_bench");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app->parse(int(argv.size()), argv.data());
    validate_options(o);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(GpuBenchOptions, ListsParseAndBadValuesAreRefusedByName) {
  GpuBenchOptions o;
  ASSERT_EQ(parse(o, {"--batch", "1,8", "--precision", "bf16,int8", "--variant", "graph", "--seconds", "2.5",
                      "--shape", "12,512,5458"}),
            "");
  EXPECT_EQ(o.batches, (std::vector<int>{1, 8}));
  EXPECT_EQ(o.precisions, (std::vector<std::string>{"bf16", "int8"}));
  EXPECT_EQ(o.variants, (std::vector<std::string>{"graph"}));
  EXPECT_DOUBLE_EQ(o.seconds, 2.5);
  EXPECT_EQ(parse_shape(o.shape).vocab_size, 5458);
  GpuBenchOptions defaults;
  ASSERT_EQ(parse(defaults, {}), "");
  EXPECT_EQ(defaults.batches, (std::vector<int>{1, 8, 64}));
  EXPECT_EQ(defaults.precisions.size(), 3u);
  EXPECT_EQ(defaults.model, kShippedModel);

  GpuBenchOptions bad;
  EXPECT_NE(parse(bad, {"--precision", "fp32"}).find("--precision"), std::string::npos);
  EXPECT_NE(parse(bad, {"--batch", "0"}).find("--batch"), std::string::npos);
  EXPECT_NE(parse(bad, {"--seconds", "nan"}).find("not a finite number"), std::string::npos);
  EXPECT_NE(parse(bad, {"--shape", "12,512"}).find("--shape '12,512'"), std::string::npos);
  GpuBenchOptions twice;
  EXPECT_NE(parse(twice, {"--batch", "8,8"}).find("--batch 8 is listed twice"), std::string::npos);
  GpuBenchOptions over;
  EXPECT_NE(parse(over, {"--json", kShippedModel}), "");  // would replace the checkpoint it reads
}

// ---- the whole sweep on the emulation -----------------------------------------------------------

TEST(GpuBenchSweep, OnTheEmulationItChecksTimesAndWritesAFileTheReportReads) {
  GpuBenchOptions o;
  ASSERT_EQ(parse(o, {"--batch", "1,2", "--precision", "fp16,int8", "--check-tokens", "3", "--seconds", "0.01",
                      "--warmup-seconds", "0.001"}),
            "");
  GoldenModel golden(shipped_weights(), 1);
  EmulatedBackend backend;
  const EnergyCounter none = EnergyCounter::open("none", "libspiketile-no-such-nvml.so.1");
  std::FILE* log = std::tmpfile();
  const GpuMeasurement m = run_sweep(o, golden, backend, none, log);
  std::fclose(log);
  ASSERT_EQ(m.rows.size(), 8u);  // 2 precisions × 2 batches × 2 variants
  EXPECT_EQ(m.rows[0].precision, "fp16");
  EXPECT_EQ(m.rows[0].variant, "stream");
  EXPECT_EQ(m.rows[7].precision, "int8");
  EXPECT_EQ(m.rows[7].batch, 2);
  for (const GpuMeasuredRow& r : m.rows) {
    EXPECT_GE(r.steps, 16);
    EXPECT_DOUBLE_EQ(r.tokens_per_s, r.steps_per_s * r.batch);
    EXPECT_FALSE(r.energy_j);  // no energy counter: null, never zero
    EXPECT_EQ(r.check.tokens, 3);
    EXPECT_TRUE(r.check.passed());
  }
  EXPECT_FALSE(m.idle);
  EXPECT_NE(m.energy_counter.find("none: no NVML"), std::string::npos);
  EXPECT_NE(m.gpu.driver.find("unknown"), std::string::npos);
  EXPECT_EQ(m.model.n_embd, 192);
  EXPECT_TRUE(m.model.binary_embedding);

  const fs::path file = fs::path(::testing::TempDir()) / "gpu_measured_sweep.json";
  write_measurement(file.string(), m);
  const GpuMeasurement back = read_gpu_measurement(file.string());
  EXPECT_EQ(gpu_measurement_to_json(back), gpu_measurement_to_json(m));
  StatsModel shipped{"x", 4, 192, 77, 0, 0, 0, 0};
  EXPECT_NO_THROW(require_same_model(back, shipped, "s.json"));
}

TEST(GpuBenchSweep, APrecisionTheModelCannotRunIsListedNotMeasured) {
  GpuBenchOptions o;
  ASSERT_EQ(parse(o, {"--shape", "1,30,11", "--batch", "1", "--precision", "int8,bf16", "--variant", "stream",
                      "--check-tokens", "2", "--seconds", "0.01", "--warmup-seconds", "0.001"}),
            "");
  GoldenModel golden(load_weights(o), 1);
  EmulatedBackend backend;
  const EnergyCounter none = EnergyCounter::open("none", "libspiketile-no-such-nvml.so.1");
  std::FILE* log = std::tmpfile();
  const GpuMeasurement m = run_sweep(o, golden, backend, none, log);
  std::fclose(log);
  ASSERT_EQ(m.rows.size(), 1u);
  EXPECT_EQ(m.rows[0].precision, "bf16");
  ASSERT_EQ(m.not_measured.size(), 1u);
  EXPECT_NE(m.not_measured[0].find("int8: cuBLAS's int8 matrix products"), std::string::npos);
  EXPECT_NE(m.model.path.find("random weights, shape 1,30,11"), std::string::npos);
}

// A device that computes something else is never timed: the sweep stops naming the configuration.
TEST(GpuBenchSweep, AConfigurationThatFailsItsCheckStopsTheRun) {
  struct Broken : BenchBackend {
    GpuMeasuredDevice describe() const override { return EmulatedBackend().describe(); }
    std::unique_ptr<BenchDevice> load(const PackedModel& model, int batch) override {
      swapped = model;
      std::swap(swapped.blocks[0], swapped.blocks[1]);  // receptance read as key and back
      return EmulatedBackend().load(swapped, batch);
    }
    PackedModel swapped;
  } broken;
  GpuBenchOptions o;
  ASSERT_EQ(parse(o, {"--batch", "2", "--precision", "fp16", "--check-tokens", "3"}), "");
  GoldenModel golden(shipped_weights(), 1);
  const EnergyCounter none = EnergyCounter::open("none", "libspiketile-no-such-nvml.so.1");
  std::FILE* log = std::tmpfile();
  try {
    run_sweep(o, golden, broken, none, log);
    ADD_FAILURE() << "a failing check must stop the sweep";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("fp16 stream batch 2: the check against the golden model failed, so nothing "
                                         "was timed"),
              std::string::npos)
        << e.what();
  }
  std::fclose(log);
}

}  // namespace
}  // namespace spiketile::gpu_bench
