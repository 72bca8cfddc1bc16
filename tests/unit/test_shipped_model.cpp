// The shipped trained model (models/spikegpt-fortunes.pth) against figures computed
// independently in PyTorch (scripts/make_shipped_expectations.py -> shipped_model_expect.json)
// and against its model card.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/quantized.hpp"
#include "models/spikegpt.hpp"
#include "models/tokenizer.hpp"
#include "runtime/execution.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
const fs::path kRepo = SPIKETILE_SOURCE_DIR;
const fs::path kModel = kRepo / "models" / "spikegpt-fortunes.pth";

using test_fixtures::read_text;

const nlohmann::json& expect() {
  static const nlohmann::json j = nlohmann::json::parse(read_text(kRepo / "tests" / "data" / "shipped_model_expect.json"));
  return j;
}

std::vector<int> encode_file(const std::string& relative) {
  auto tok = tokenizer_for_vocab(77, std::string(SPIKETILE_SHARED_DIR) + "/data");
  return tok->encode(read_text(kRepo / relative));
}

GoldenModel golden() { return GoldenModel(SpikeGptWeights::load(kModel.string(), {}), 1); }

TEST(ShippedModel, IsACharLevelSpikeGptWithinTheSizeBudget) {
  const auto w = SpikeGptWeights::load(kModel.string(), {});
  EXPECT_EQ(w.config.vocab_size, 77);
  EXPECT_GE(w.config.n_layer, 4);
  EXPECT_LE(w.config.n_layer, 6);
  EXPECT_GE(w.config.n_embd, 128);
  EXPECT_LE(w.config.n_embd, 256);
  EXPECT_TRUE(w.binary_embedding);
  EXPECT_LE(fs::file_size(kModel), 8u * 1000 * 1000);
  EXPECT_EQ(w.config.n_layer, expect()["heldout"]["n_layer"].get<int>());
}

TEST(ShippedModel, ExcerptBpcAgreesWithPyTorchTo3Decimals) {
  GoldenModel m = golden();
  const EvalResult r = evaluate(m, encode_file(expect()["excerpt"]["file"].get<std::string>()));
  EXPECT_EQ(r.tokens_evaluated, expect()["excerpt"]["tokens_evaluated"].get<int64_t>());
  EXPECT_NEAR(r.bits_per_token(), expect()["excerpt"]["bpc"].get<double>(), 5e-4);
}

TEST(ShippedModel, HeldoutBpcAndFiringRatesEqualTheModelCard) {
  GoldenModel m = golden();
  const EvalResult r = evaluate(m, encode_file(expect()["heldout"]["file"].get<std::string>()));
  const auto& e = expect()["heldout"];
  EXPECT_EQ(r.tokens_evaluated, e["tokens_evaluated"].get<int64_t>());
  EXPECT_NEAR(r.bits_per_token(), e["bpc"].get<double>(), 5e-4);
  const std::string card = read_text(kRepo / "models" / "spikegpt-fortunes.md");
  EXPECT_NE(card.find(fmt::format("{:.3f}", r.bits_per_token())), std::string::npos)
      << "the model card must state the held-out BPC " << fmt::format("{:.3f}", r.bits_per_token());
  const auto att = e["lif1_firing_rate"].get<std::vector<double>>(), ffn = e["lif2_firing_rate"].get<std::vector<double>>();
  for (int i = 0; i < m.n_layer(); ++i) {
    EXPECT_NEAR(r.activity.firing_rate_att(i), att[i], 1e-3) << "layer " << i;
    EXPECT_NEAR(r.activity.firing_rate_ffn(i), ffn[i], 1e-3) << "layer " << i;
  }
}

TEST(ShippedModel, GreedyContinuationEqualsPyTorchReference) {
  GoldenModel m = golden();
  const auto& g = expect()["greedy"];
  const auto result = generate(m, g["prompt_ids"].get<std::vector<int>>(), int(g["generated"].size()), {0.0f, 1.0f, 0}, {});
  EXPECT_EQ(result.generated, g["generated"].get<std::vector<int>>());
}

TEST(ShippedModel, SampledTextIsDeterministicPerSeed) {
  GoldenModel m = golden();
  const std::vector<int> prompt{0, 65, 53, 50, 8};
  auto sample = [&](uint64_t seed) { return generate(m, prompt, 120, {1.0f, 0.7f, seed}, {}).generated; };
  const auto a = sample(7), b = sample(7), c = sample(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(ShippedModel, QuantizedBpcWithin005OfFloatAt8BitWeights) {
  QuantizedModel q(test_fixtures::shipped_quantized());
  const EvalResult r = evaluate(q, encode_file(expect()["heldout"]["file"].get<std::string>()));
  EXPECT_LE(std::abs(r.bits_per_token() - expect()["heldout"]["bpc"].get<double>()), 0.05) << "quantized BPC " << r.bits_per_token();
}

}  // namespace
}  // namespace spiketile
