// Reading a checkpoint tensor by tensor (TensorReader, QuantizedSpikeGpt::read) must give exactly
// what loading it whole gives: the same tensors by row blocks, the same integer model, and through
// `spiketile compile` the same mapping file byte for byte.
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "cli_runner.hpp"
#include "compiler/lowering.hpp"
#include "compiler/mapping_io.hpp"
#include "models/quantized.hpp"
#include "models/random_weights.hpp"
#include "models/spikegpt.hpp"
#include "models/tensor_file.hpp"
#include "models/tokenizer.hpp"
#include "runtime/compile_objective.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
const fs::path kRepo = SPIKETILE_SOURCE_DIR;
const fs::path kLoaderData = fs::path(SPIKETILE_TEST_DATA) / "loader";
const fs::path kShippedModel = kRepo / "models" / "spikegpt-fortunes.pth";
const fs::path kShippedCalibration = kRepo / "models" / "spikegpt-fortunes.calib.json";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::path(::testing::TempDir()) / "spiketile_streaming_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- row blocks -------------------------------------------------------------------------------

struct CollectedRows {
  std::vector<float> values;
  std::vector<int64_t> first_rows, row_counts;
};

CollectedRows collect_rows(TensorReader& reader, const std::string& name, int64_t rows_per_block) {
  CollectedRows c;
  const auto& shape = reader.index().shape(name);
  int64_t row_length = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) row_length *= shape[d];
  reader.read_row_blocks(name, rows_per_block, [&](int64_t first, int64_t rows, const float* values) {
    c.first_rows.push_back(first);
    c.row_counts.push_back(rows);
    c.values.insert(c.values.end(), values, values + rows * row_length);
  });
  return c;
}

class RowBlocks : public ::testing::TestWithParam<const char*> {};

// Every fixture format: fp32/fp16/bf16/fp64, big-endian, strided views, safetensors.
TEST_P(RowBlocks, ConcatenatedBlocksEqualTheWholeTensor) {
  const std::string path = (kLoaderData / GetParam()).string();
  for (const int64_t rows_per_block : {int64_t{1}, int64_t{3}, int64_t{1000}}) {
    const auto whole = open_tensor_file(path);
    const auto by_rows = open_tensor_file(path);
    int checked = 0;
    for (const std::string& name : whole->index().order) {
      const auto& shape = whole->index().shape(name);
      if (shape.empty()) continue;
      const Tensor expected = whole->read(name);
      const CollectedRows got = collect_rows(*by_rows, name, rows_per_block);
      ASSERT_EQ(got.values.size(), expected.data.size()) << name;
      for (std::size_t i = 0; i < got.values.size(); ++i)
        ASSERT_EQ(std::memcmp(&got.values[i], &expected.data[i], sizeof(float)), 0) << name << " element " << i;
      // Blocks are consecutive, each full but the last.
      int64_t next = 0;
      for (std::size_t b = 0; b < got.first_rows.size(); ++b) {
        EXPECT_EQ(got.first_rows[b], next) << name;
        EXPECT_EQ(got.row_counts[b], std::min(rows_per_block, shape[0] - next)) << name;
        next += got.row_counts[b];
      }
      EXPECT_EQ(next, shape[0]) << name;
      ++checked;
    }
    EXPECT_GT(checked, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(LoaderFixtures, RowBlocks,
                         ::testing::Values("module_fp32.pth", "dtype_fp16.pth", "dtype_bf16.pth", "dtype_fp64.pth",
                                           "big_endian.pth", "views_plain_dict.pth", "mixed.safetensors"));

void expect_checkpoint_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "expected a CheckpointError";
  } catch (const CheckpointError& e) {
    for (const auto& fragment : fragments) EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

// A NaN in the fourth row: the error names its place in the whole tensor, not in the block, and
// only the block before it was delivered.
TEST(RowBlocks, NonFiniteValueIsNamedByItsPlaceInTheWholeTensor) {
  TempDir dir;
  const std::string path = (dir / "nan.safetensors").string();
  TensorFile file;
  file.path = path;
  Tensor t;
  t.shape = {5, 3};
  for (int i = 0; i < 15; ++i) t.data.push_back(float(i));
  t.data[3 * 3 + 1] = std::numeric_limits<float>::quiet_NaN();   // row 3, column 1: element 10
  file.tensors.emplace("w", t);
  file.order = {"w"};
  save_safetensors(path, file);
  const auto reader = open_tensor_file(path);
  std::vector<int64_t> delivered;
  expect_checkpoint_error(
      [&] { reader->read_row_blocks("w", 2, [&](int64_t first, int64_t, const float*) { delivered.push_back(first); }); },
      {path, "tensor 'w'", "element 10", "index [3, 1] of shape [5, 3]", "nan"});
  EXPECT_EQ(delivered, (std::vector<int64_t>{0}));
}

// nonfinite.pth: test_checkpoint expects this message from the whole-tensor read; one row per block
// must name the same element.
TEST(RowBlocks, NonFiniteValueInAPthStorageIsNamedTheSameWay) {
  const std::string path = (kLoaderData / "nonfinite.pth").string();
  const auto reader = open_tensor_file(path);
  expect_checkpoint_error([&] { reader->read_row_blocks("bad", 1, [](int64_t, int64_t, const float*) {}); },
                          {path, "tensor 'bad'", "element 5", "[1, 1]", "nan"});
}

TEST(RowBlocks, NeedADimensionAndAtLeastOneRowPerBlock) {
  TempDir dir;
  const std::string path = (dir / "scalar.safetensors").string();
  TensorFile file;
  file.path = path;
  Tensor scalar;
  scalar.data = {1.5f};
  file.tensors.emplace("s", scalar);
  Tensor matrix;
  matrix.shape = {2, 2};
  matrix.data = {1, 2, 3, 4};
  file.tensors.emplace("m", matrix);
  save_safetensors(path, file);
  const auto reader = open_tensor_file(path);
  expect_checkpoint_error([&] { reader->read_row_blocks("s", 1, [](int64_t, int64_t, const float*) {}); },
                          {"tensor 's' is a scalar"});
  EXPECT_THROW(reader->read_row_blocks("m", 0, [](int64_t, int64_t, const float*) {}), std::invalid_argument);
  expect_checkpoint_error([&] { reader->read_row_blocks("absent", 1, [](int64_t, int64_t, const float*) {}); },
                          {path, "no tensor 'absent'"});
}

// ---- the integer model ------------------------------------------------------------------------

void expect_same_multipliers(const std::vector<q::Multiplier>& a, const std::vector<q::Multiplier>& b,
                             const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].mantissa, b[i].mantissa) << what << " row " << i;
    ASSERT_EQ(a[i].shift, b[i].shift) << what << " row " << i;
  }
}

void expect_same_linear(const QuantizedSpikeGpt::Linear& a, const QuantizedSpikeGpt::Linear& b, const std::string& what) {
  EXPECT_EQ(a.w.rows, b.w.rows) << what;
  EXPECT_EQ(a.w.cols, b.w.cols) << what;
  EXPECT_EQ(a.w.bits, b.w.bits) << what;
  EXPECT_TRUE(a.w.q == b.w.q) << what;
  EXPECT_TRUE(a.w.scale == b.w.scale) << what;
  EXPECT_TRUE(a.w.row_sum == b.w.row_sum) << what;
  expect_same_multipliers(a.out, b.out, what + ".out");
}

void expect_same_norm(const q::LayerNormConstants& a, const q::LayerNormConstants& b, const std::string& what) {
  EXPECT_TRUE(a.gain == b.gain) << what;
  EXPECT_TRUE(a.bias == b.bias) << what;
  EXPECT_EQ(a.out_bits, b.out_bits) << what;
  EXPECT_EQ(a.out_unsigned, b.out_unsigned) << what;
}

void expect_same_model(const QuantizedSpikeGpt& a, const QuantizedSpikeGpt& b) {
  EXPECT_EQ(a.config.n_layer, b.config.n_layer);
  EXPECT_EQ(a.config.n_embd, b.config.n_embd);
  EXPECT_EQ(a.config.vocab_size, b.config.vocab_size);
  EXPECT_EQ(a.binary_embedding, b.binary_embedding);
  EXPECT_EQ(a.rescale_every_6_layers, b.rescale_every_6_layers);
  EXPECT_TRUE(a.embedding == b.embedding);
  expect_same_norm(a.ln0, b.ln0, "ln0");
  expect_same_norm(a.ln_out, b.ln_out, "ln_out");
  expect_same_linear(a.head, b.head, "head");
  EXPECT_TRUE(a.head_logit_scale == b.head_logit_scale);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const auto &x = a.layers[i], &y = b.layers[i];
    const std::string l = fmt::format("L{}.", i);
    expect_same_norm(x.ln1, y.ln1, l + "ln1");
    expect_same_norm(x.ln2, y.ln2, l + "ln2");
    EXPECT_TRUE(x.att_mix_k == y.att_mix_k && x.att_mix_v == y.att_mix_v && x.att_mix_r == y.att_mix_r &&
                x.ffn_mix_k == y.ffn_mix_k && x.ffn_mix_r == y.ffn_mix_r)
        << l << "mixes";
    EXPECT_TRUE(x.time_first == y.time_first && x.time_decay == y.time_decay) << l << "time";
    expect_same_linear(x.att_receptance, y.att_receptance, l + "att.receptance");
    expect_same_linear(x.att_key, y.att_key, l + "att.key");
    expect_same_linear(x.att_value, y.att_value, l + "att.value");
    expect_same_linear(x.att_output, y.att_output, l + "att.output");
    expect_same_linear(x.ffn_receptance, y.ffn_receptance, l + "ffn.receptance");
    expect_same_linear(x.ffn_key, y.ffn_key, l + "ffn.key");
    expect_same_linear(x.ffn_value, y.ffn_value, l + "ffn.value");
    expect_same_multipliers({x.att_gate, x.ffn_hidden}, {y.att_gate, y.ffn_hidden}, l + "gates");
    EXPECT_EQ(x.v_scale, y.v_scale);
    EXPECT_EQ(x.gated_scale, y.gated_scale);
    EXPECT_EQ(x.key_scale, y.key_scale);
    EXPECT_EQ(x.hidden_scale, y.hidden_scale);
    EXPECT_EQ(x.shift_scale, y.shift_scale);
    EXPECT_EQ(x.ffn_shift_scale, y.ffn_shift_scale);
  }
}

// A small random checkpoint with its calibration beside it, as make_random_model writes one.
// V = 300 is not a multiple of the quantizer's row block, so the last block is short.
fs::path write_random_model(const TempDir& dir, const ModelConfig& c, const std::string& name) {
  const fs::path model = dir / (name + ".safetensors");
  TensorFile file = random_spikegpt_checkpoint(c, 11);
  save_safetensors(model.string(), file);
  GoldenModel golden(SpikeGptWeights::from_file(std::move(file), {}), 1);
  std::vector<int> tokens;
  for (int i = 0; i < 12; ++i) tokens.push_back((i * 37 + 5) % c.vocab_size);
  calibrate(golden, tokens, "test tokens").save((dir / (name + ".calib.json")).string());
  return model;
}

void expect_read_equals_build(const fs::path& model, const fs::path& calibration, const GoldenOptions& golden,
                              const QuantOptions& quant) {
  const SpikeGptWeights weights = SpikeGptWeights::load(model.string(), golden);
  const Calibration cal = Calibration::load(calibration.string(), weights.config.n_layer);
  const QuantizedSpikeGpt built = QuantizedSpikeGpt::build(weights, cal, quant);
  const auto reader = open_tensor_file(model.string());
  const QuantizedSpikeGpt read = QuantizedSpikeGpt::read(*reader, cal, quant, golden);
  expect_same_model(read, built);
  EXPECT_EQ(read.weight_bytes(), built.weight_bytes());
}

TEST(StreamingQuantize, ShippedPthEqualsBuildFromTheWholeModel) {
  expect_read_equals_build(kShippedModel, kShippedCalibration, {}, {});
}

TEST(StreamingQuantize, RandomSafetensorsEqualsBuildUnderEveryOption) {
  TempDir dir;
  const fs::path model = write_random_model(dir, {7, 48, 300}, "random");   // 7 layers: the rescale after layer 6 too
  const fs::path cal = dir / "random.calib.json";
  expect_read_equals_build(model, cal, {}, {});
  GoldenOptions binary_no_rescale;
  binary_no_rescale.binary_embedding = BinaryEmbedding::On;
  binary_no_rescale.rescale_every_6_layers = false;
  expect_read_equals_build(model, cal, binary_no_rescale, {4, 6, 12});
}

TEST(StreamingQuantize, EmbeddingReadLaterEqualsTheOneReadWithTheModel) {
  const auto reader = open_tensor_file(kShippedModel.string());
  const Calibration cal = Calibration::load(kShippedCalibration.string(), 4);
  const QuantizedSpikeGpt with = QuantizedSpikeGpt::read(*reader, cal, {}, {});
  const QuantizedSpikeGpt without = QuantizedSpikeGpt::read(*reader, cal, {}, {}, false);
  EXPECT_TRUE(without.embedding.empty());
  EXPECT_EQ(QuantizedSpikeGpt::read_embedding(*reader, without.config, without.binary_embedding), with.embedding);
  EXPECT_EQ(with.embedding.size(), std::size_t(77 * 192));
}

// ---- the compile command ----------------------------------------------------------------------

// The mapping file compiling the whole float model gives, written the way `spiketile compile` does
// (the default objective's search, profiled: runtime/compile_objective.hpp; the tokenizer found
// by the rule for checkpoints).
std::string compile_whole_model(const fs::path& model, const fs::path& calibration, const fs::path& chip_yaml,
                                const fs::path& out) {
  const SpikeGptWeights weights = SpikeGptWeights::load(model.string(), {});
  const Calibration cal = Calibration::load(calibration.string(), weights.config.n_layer);
  const QuantizedSpikeGpt qm = QuantizedSpikeGpt::build(weights, cal, {});
  // The profile reads rows of the whole table here, of the checkpoint there: the same rows.
  const int C = qm.config.n_embd;
  const EmbeddingRowSource rows = [&](int token) {
    return std::vector<int32_t>(qm.embedding.begin() + std::ptrdiff_t(token) * C,
                                qm.embedding.begin() + std::ptrdiff_t(token + 1) * C);
  };
  Mapping mapping = compile_for_objective([&] { return qm; }, load_chip_spec(chip_yaml.string()), read_bytes(chip_yaml),
                                          {}, ProfileOptions{}, rows, ObjectiveOptions{});
  mapping.model_source = model.string();
  const char* data_dir = std::getenv("SPIKETILE_DATA_DIR");
  mapping.tokenizer = find_tokenizer("", model.string(), qm.config.vocab_size,
                                     data_dir ? data_dir : std::string(SPIKETILE_SHARED_DIR) + "/data")
                          .source;
  save_mapping(mapping, out.string());
  return read_bytes(out);
}

void expect_cli_compile_equals_whole_model(const fs::path& model, const fs::path& calibration, const TempDir& dir) {
  const fs::path chip = kRepo / "chips" / "default.yaml";
  const std::string expected = compile_whole_model(model, calibration, chip, dir / "whole.stmap");
  const auto r = testing_cli::run_cli(fmt::format("compile --model '{}' --calibration '{}' --chip '{}' -o '{}'",
                                                  model.string(), calibration.string(), chip.string(),
                                                  (dir / "streamed.stmap").string()));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string got = read_bytes(dir / "streamed.stmap");
  EXPECT_GT(expected.size(), 1000u);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "the streamed compile's mapping file differs from the whole-model one";
}

TEST(StreamingCompile, ShippedModelMappingIsByteIdenticalToTheWholeModelPath) {
  TempDir dir;
  expect_cli_compile_equals_whole_model(kShippedModel, kShippedCalibration, dir);
}

TEST(StreamingCompile, RandomModelMappingIsByteIdenticalToTheWholeModelPath) {
  TempDir dir;
  const fs::path model = write_random_model(dir, {2, 64, 300}, "random");
  expect_cli_compile_equals_whole_model(model, dir / "random.calib.json", dir);
}

}  // namespace
}  // namespace spiketile
