// A spike-input variant (docs/spiking-frontier.md) through the whole toolchain as a user runs it:
// inspect names it, calibrate, compile, then the quantized model, the mapping executor, the
// simulator and the simulator with every crossbar core on the verilated RTL print the same text,
// spikes and membranes; the binary variant's projections receive binary events only (binary SOPs,
// one weight read each), the 3-step variant's graded 2-bit counts.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "compiler/mapping_io.hpp"
#include "models/spikegpt.hpp"
#include "models/tensor_file.hpp"
#include "tests/unit/cli_runner.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using testing_cli::run_cli;

const fs::path kFixtures = fs::path(SPIKETILE_TEST_DATA) / "fixtures";
const fs::path kExcerpt = fs::path(SPIKETILE_TEST_DATA) / "heldout_excerpt.txt";

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct VariantRun {
  fs::path dir, map, stats;
};

// calibrate + compile + run at three levels (+ the RTL), asserting they agree; returns the paths.
VariantRun compile_and_run_every_level(const std::string& fixture) {
  VariantRun v;
  v.dir = fs::temp_directory_path() / ("spiketile_spike_inputs_" + fixture + "_" + std::to_string(::getpid()));
  fs::create_directories(v.dir);
  const std::string model = (kFixtures / (fixture + ".pth")).string();
  const std::string calibration = (v.dir / "model.calib.json").string();
  const auto calibrated = run_cli("calibrate --model " + model + " --text " + kExcerpt.string() +
                                  " --max-tokens 600 --progress off -o " + calibration);
  EXPECT_EQ(calibrated.status, 0) << calibrated.output;
  v.map = v.dir / "variant.stmap";
  const std::string with = " --model " + model + " --calibration " + calibration;
  const auto compiled = run_cli("compile" + with + " -o " + v.map.string());
  EXPECT_EQ(compiled.status, 0) << compiled.output;

  const std::string gen = " --prompt-ids 20,45,57,1 -n 12 --temperature 0 --quiet-stats";
  auto rasters = [&](const std::string& level) {
    return " --spikes-out " + (v.dir / (level + ".spikes.npy")).string() + " --membranes-out " +
           (v.dir / (level + ".membranes.npy")).string() + " --counts-out " +
           (v.dir / (level + ".counts.json")).string();
  };
  v.stats = v.dir / "sim.json";
  const auto quantized = run_cli("run --quantized" + with + gen + rasters("quantized"));
  const auto mapped = run_cli("run --map " + v.map.string() + gen + rasters("mapping"));
  const auto simulated =
      run_cli("simulate --map " + v.map.string() + gen + " --progress off --stats " + v.stats.string() + rasters("sim"));
  const auto rtl = run_cli("simulate --map " + v.map.string() + gen + " --progress off --rtl all" + rasters("rtl"));
  for (const auto* r : {&quantized, &mapped, &simulated, &rtl}) EXPECT_EQ(r->status, 0) << r->output;
  EXPECT_EQ(quantized.output, mapped.output);
  EXPECT_EQ(quantized.output, simulated.output);
  EXPECT_EQ(quantized.output, rtl.output);
  // Spikes, membranes and every step's event counts, op by op.
  for (const char* kind : {".spikes.npy", ".membranes.npy", ".counts.json"}) {
    const std::string reference = read_bytes(v.dir / (std::string("quantized") + kind));
    EXPECT_GT(reference.size(), 128u) << kind;
    for (const char* level : {"mapping", "sim", "rtl"})
      EXPECT_EQ(reference, read_bytes(v.dir / (std::string(level) + kind))) << level << kind;
  }
  return v;
}

// Per op over the run, from the simulator's statistics (counts.sum, docs/stats-format.md).
nlohmann::json op_counts(const nlohmann::json& stats, int layer, const std::string& op) {
  return stats.at("counts").at("sum").at("layers").at(std::size_t(layer)).at(op);
}

TEST(SpikeInputs, BinaryVariantRunsEveryLevelBitIdenticallyOnBinarySops) {
  const auto inspected = run_cli("inspect --model " + (kFixtures / "tiny_l2_c32_v77_binary.pth").string());
  ASSERT_EQ(inspected.status, 0) << inspected.output;
  EXPECT_NE(inspected.output.find("projection inputs: binary spikes (spike-input variant, T = 1)"), std::string::npos)
      << inspected.output;
  EXPECT_NE(inspected.output.find("spiketile.spike_input_steps"), std::string::npos) << inspected.output;

  const VariantRun v = compile_and_run_every_level("tiny_l2_c32_v77_binary");
  const auto map_summary = run_cli("inspect " + v.map.string());
  EXPECT_NE(map_summary.output.find("binary spikes (spike-input variant, T = 1)"), std::string::npos)
      << map_summary.output;
  const Mapping m = load_mapping(v.map.string());
  EXPECT_EQ(m.config.spike_input_steps, 1);
  int binary_inputs = 0;
  for (const MappedFlow& f : m.flows)
    if (f.role == FlowRole::Activation && f.tensor.rfind("ln_out", 0) != 0) {
      EXPECT_EQ(f.encoding, ir::Encoding::Binary) << f.tensor;
      ++binary_inputs;
    }
  EXPECT_GT(binary_inputs, 0);

  std::ifstream in(v.stats);
  const auto stats = nlohmann::json::parse(in);
  // Every projection of both blocks: binary events only, each read one column of weights
  // (rows × 8 bits), and the functional model saw inputs (16 tokens × 2 layers never all silent).
  const std::pair<const char*, int> projections[] = {{"att.receptance", 32}, {"att.key", 32},  {"att.value", 32},
                                                      {"att.output", 32},     {"ffn.receptance", 32},
                                                      {"ffn.key", 128},       {"ffn.value", 32}};
  int64_t binary_sops = 0;
  for (int l = 0; l < 2; ++l)
    for (const auto& [op, rows] : projections) {
      const auto c = op_counts(stats, l, op);
      const int64_t binary = c.at("sop").at("binary").get<int64_t>();
      EXPECT_EQ(c.at("sop").at("graded").get<int64_t>(), 0) << "L" << l << " " << op;
      EXPECT_EQ(c.at("sop").at("bit_serial").get<int64_t>(), 0) << "L" << l << " " << op;
      EXPECT_EQ(binary, c.at("events").at("binary").get<int64_t>() * rows) << op;
      EXPECT_EQ(c.at("synapse_read_bits").get<int64_t>(), binary * 8) << op;
      binary_sops += binary;
    }
  EXPECT_GT(binary_sops, 0);
  // The per-core counters the report prices agree: binary SOPs of every core add up to the counted
  // ones (the projections' and the residual spikes').
  int64_t core_binary = 0, core_graded = 0;
  for (const auto& core : stats.at("cores")) {
    core_binary += core.at("sop_binary").get<int64_t>();
    core_graded += core.at("sop_graded").get<int64_t>();
  }
  const auto total = stats.at("counts").at("sum").at("total");
  EXPECT_EQ(core_binary, total.at("sop").at("binary").get<int64_t>());
  EXPECT_EQ(core_graded, total.at("sop").at("graded").get<int64_t>());  // the head's graded ln_out inputs only
  const auto head = stats.at("counts").at("sum").at("global").at("head");
  EXPECT_EQ(core_graded, head.at("sop").at("graded").get<int64_t>());

  const auto report = run_cli("report --stats " + v.stats.string() + " --json " + (v.dir / "r.json").string());
  ASSERT_EQ(report.status, 0) << report.output;
  fs::remove_all(v.dir);
}

TEST(SpikeInputs, ThreeStepVariantSendsGradedCountsAndRunsEveryLevelBitIdentically) {
  const VariantRun v = compile_and_run_every_level("tiny_l2_c24_v77_3step");
  const Mapping m = load_mapping(v.map.string());
  EXPECT_EQ(m.config.spike_input_steps, 3);
  for (const MappedFlow& f : m.flows)
    if (f.role == FlowRole::Activation && f.tensor.rfind("ln_out", 0) != 0) {
      EXPECT_EQ(f.encoding, ir::Encoding::Graded) << f.tensor;
      EXPECT_EQ(f.payload_bits, 2) << f.tensor;  // counts 0..3
    }
  std::ifstream in(v.stats);
  const auto stats = nlohmann::json::parse(in);
  const auto c = op_counts(stats, 0, "att.key");
  EXPECT_EQ(c.at("sop").at("binary").get<int64_t>(), 0);
  EXPECT_GT(c.at("sop").at("graded").get<int64_t>(), 0);
  fs::remove_all(v.dir);
}

// The shipped binary variant (models/spikegpt-fortunes-binary.md) as the README runs it: compile,
// simulate, report; the chip's text equals the quantized model's, and its block projections
// perform binary SOPs only.
TEST(SpikeInputs, TheShippedBinaryVariantRunsFromTheReadme) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_binary_model_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string model = std::string(SPIKETILE_SOURCE_DIR) + "/models/spikegpt-fortunes-binary.pth";
  const auto inspected = run_cli("inspect --model " + model);
  ASSERT_EQ(inspected.status, 0) << inspected.output;
  EXPECT_NE(inspected.output.find("projection inputs: binary spikes (spike-input variant, T = 1)"), std::string::npos);
  const std::string map = (dir / "binary.stmap").string(), stats = (dir / "binary.json").string();
  const auto compiled = run_cli("compile --model " + model + " -o " + map + " --progress off");
  ASSERT_EQ(compiled.status, 0) << compiled.output;
  const std::string gen = " --prompt \"the meaning of life is \" -n 8 --temperature 0 --quiet-stats";
  const auto simulated = run_cli("simulate --map " + map + gen + " --progress off --stats " + stats);
  const auto quantized = run_cli("run --quantized --model " + model + gen);
  ASSERT_EQ(simulated.status, 0) << simulated.output;
  EXPECT_EQ(simulated.output, quantized.output);
  std::ifstream in(stats);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("model").at("spike_input_steps"), 1);
  for (int l = 0; l < 4; ++l)
    for (const char* op : {"att.key", "att.value", "att.receptance", "att.output", "ffn.key", "ffn.receptance", "ffn.value"}) {
      EXPECT_EQ(op_counts(j, l, op).at("sop").at("graded").get<int64_t>(), 0) << "L" << l << " " << op;
      EXPECT_GT(op_counts(j, l, op).at("sop").at("binary").get<int64_t>(), 0) << "L" << l << " " << op;
    }
  const auto report = run_cli("report --stats " + stats);
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_NE(report.output.find("projection inputs: binary spikes (spike-input variant, T = 1)"), std::string::npos)
      << report.output;
  fs::remove_all(dir);
}

// The extra tensor is validated where it is read: a T that is not a whole number in [1, 255], or a
// tensor of another shape, is named with what it holds.
TEST(SpikeInputs, ABadStepCountIsRefusedNamingTheTensor) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_bad_steps_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  TensorFile file = load_tensor_file((kFixtures / "tiny_l2_c32_v77_binary.pth").string());
  auto refused = [&](const std::string& name, Tensor steps, const std::string& message) {
    file.tensors[kSpikeInputStepsTensor] = std::move(steps);
    const fs::path path = dir / (name + ".safetensors");
    save_safetensors(path.string(), file);
    const auto r = run_cli("inspect --model " + path.string());
    EXPECT_NE(r.status, 0) << name;
    EXPECT_NE(r.output.find(message), std::string::npos) << name << ": " << r.output;
  };
  refused("half", Tensor{{1}, {0.5f}, DType::F32},
          "tensor 'spiketile.spike_input_steps' holds 0.5, expected a whole number of spike steps in [1, 255]");
  refused("too_many", Tensor{{1}, {256.0f}, DType::F32}, "holds 256, expected a whole number of spike steps in [1, 255]");
  refused("two", Tensor{{2}, {1.0f, 1.0f}, DType::F32},
          "tensor 'spiketile.spike_input_steps' has shape [2], expected [1] (the spike-input variant's T)");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace spiketile
