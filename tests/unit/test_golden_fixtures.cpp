// The golden model against the independent PyTorch reference (scripts/reference_rnn.py) on the
// committed fixture checkpoints: logits within 1e-5 relative, and every layer's spikes equal,
// at every step. Each tests/data/fixtures/*.expect.json is one case.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "models/spikegpt.hpp"
#include "runtime/npy.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
const fs::path kFixtures = fs::path(SPIKETILE_TEST_DATA) / "fixtures";

std::vector<std::string> fixture_cases() {
  std::vector<std::string> cases;
  for (const auto& e : fs::directory_iterator(kFixtures)) {
    const std::string name = e.path().filename().string();
    const std::string suffix = ".expect.json";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      cases.push_back(name.substr(0, name.size() - suffix.size()));
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

std::string bits(const std::vector<uint8_t>& s) {
  std::string out;
  for (uint8_t b : s) out.push_back(b ? '1' : '0');
  return out;
}

class GoldenFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenFixture, LogitsAndSpikesMatchPyTorchReference) {
  nlohmann::json expect;
  std::ifstream(kFixtures / (GetParam() + ".expect.json")) >> expect;
  GoldenOptions options;
  options.rescale_every_6_layers = expect["switches"]["rescale"].get<bool>();
  options.binary_embedding = expect["switches"]["binary_embedding"].get<bool>() ? BinaryEmbedding::On : BinaryEmbedding::Off;
  SpikeGptWeights weights = SpikeGptWeights::load((kFixtures / expect["checkpoint"].get<std::string>()).string(), options);
  // A spike-input variant is read from its checkpoint's extra tensor, never from a switch.
  EXPECT_EQ(weights.config.spike_input_steps, expect.value("spike_input_steps", 0));
  GoldenModel model(std::move(weights), 1);
  const NpyArray ref = read_npy((kFixtures / expect["logits"].get<std::string>()).string());
  const auto tokens = expect["tokens"].get<std::vector<int>>();
  ASSERT_GE(tokens.size(), 32u);
  ASSERT_EQ(ref.shape, (std::vector<int64_t>{int64_t(tokens.size()), model.vocab_size()}));
  const int V = model.vocab_size();
  double worst = 0;
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const auto& logits = model.step(tokens[t]);
    const float* r = ref.data.data() + t * V;
    double scale = 0, diff = 0;
    for (int j = 0; j < V; ++j) {
      scale = std::max(scale, double(std::abs(r[j])));
      diff = std::max(diff, double(std::abs(logits[j] - r[j])));
    }
    worst = std::max(worst, diff / scale);
    ASSERT_LE(diff, 1e-5 * scale) << "step " << t << ": max |logit diff| " << diff << " vs max |logit| " << scale;
    for (int i = 0; i < model.n_layer(); ++i) {
      ASSERT_EQ(bits(model.last_activity().spikes_att[i]), expect["spikes_att"][t][i].get<std::string>())
          << "step " << t << " layer " << i << " (att LIF)";
      ASSERT_EQ(bits(model.last_activity().spikes_ffn[i]), expect["spikes_ffn"][t][i].get<std::string>())
          << "step " << t << " layer " << i << " (ffn LIF)";
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", worst);
  RecordProperty("worst_relative_logit_error", buf);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenFixture, ::testing::ValuesIn(fixture_cases()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace_if(n.begin(), n.end(), [](char c) { return !std::isalnum(uint8_t(c)); }, '_');
                           return n;
                         });

TEST(GoldenFixtureSet, CoversTheIssueCases) {
  // More than 6 layers (rescale path), a non-77 vocabulary, and fp16/bf16 storage must all be present.
  bool deep = false, non77 = false, half = false, bf16 = false;
  for (const auto& c : fixture_cases()) {
    nlohmann::json e;
    std::ifstream(kFixtures / (c + ".expect.json")) >> e;
    deep |= e["L"].get<int>() > 6;
    non77 |= e["V"].get<int>() != 77;
    half |= e["stored_dtype"] == "fp16";
    bf16 |= e["stored_dtype"] == "bf16";
  }
  EXPECT_TRUE(deep && non77 && half && bf16);
}

TEST(GoldenFixtureSet, SafetensorsCopyGivesIdenticalLogits) {
  GoldenModel pth(SpikeGptWeights::load((kFixtures / "tiny_l2_c32_v77_fp32.pth").string(), {}), 1);
  GoldenModel st(SpikeGptWeights::load((kFixtures / "tiny_l2_c32_v77_fp32.safetensors").string(), {}), 1);
  for (int t : {3, 40, 76, 0, 12}) EXPECT_EQ(pth.step(t), st.step(t));
}

}  // namespace
}  // namespace spiketile
