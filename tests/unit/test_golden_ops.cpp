// Per-op checks of the golden model's kernels against independently written double-precision
// forms of the spec (shared/reference/spikegpt.md §3.2, §4).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "models/lif.hpp"
#include "models/random_weights.hpp"
#include "models/spikegpt.hpp"

namespace spiketile {
namespace {

TEST(LayerNorm, MatchesPopulationVarianceFormula) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(3.0f, 2.0f);
  const int n = 37;
  std::vector<float> x(n), w(n), b(n), out(n);
  for (int i = 0; i < n; ++i) {
    x[i] = d(rng);
    w[i] = d(rng);
    b[i] = d(rng);
  }
  layer_norm(x.data(), w.data(), b.data(), n, out.data());
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= n;
  for (float v : x) var += (v - mean) * (v - mean);
  var /= n;  // biased, as F.layer_norm
  for (int i = 0; i < n; ++i) {
    const double expect = (x[i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i];
    EXPECT_NEAR(out[i], expect, 1e-5 * std::max(1.0, std::abs(expect))) << i;
  }
}

TEST(LayerNorm, ConstantInputGivesBias) {
  std::vector<float> x(8, 4.25f), w(8, 3.0f), b(8), out(8);
  for (int i = 0; i < 8; ++i) b[i] = float(i);
  layer_norm(x.data(), w.data(), b.data(), 8, out.data());
  for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(out[i], b[i]);
}

TEST(Wkv, FirstTokenReturnsValueAndSeedsState) {
  float a = 0, b = 0, p = -1e30f;
  const float k = 0.7f, v = -1.3f, u = -0.2f, w = -std::exp(0.4f);
  EXPECT_FLOAT_EQ(wkv_step(k, v, u, w, a, b, p), v);
  EXPECT_FLOAT_EQ(a, v);
  EXPECT_FLOAT_EQ(b, 1.0f);
  EXPECT_FLOAT_EQ(p, k);
}

TEST(Wkv, MatchesClosedFormOverManySteps) {
  // wkv_t = (Σ_{j<t} λ^{t-1-j} e^{k_j} v_j + e^{u+k_t} v_t) / (Σ_{j<t} λ^{t-1-j} e^{k_j} + e^{u+k_t}),
  // λ = e^w; written directly in double, without the max-subtraction the kernel uses.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dk(-8.0f, 8.0f), dv(-2.0f, 2.0f);
  const float u = 0.3f, w = -std::exp(-1.0f);
  float a = 0, b = 0, p = -1e30f;
  std::vector<float> ks, vs;
  for (int t = 0; t < 60; ++t) {
    ks.push_back(dk(rng));
    vs.push_back(dv(rng));
    const float got = wkv_step(ks[t], vs[t], u, w, a, b, p);
    double num = std::exp(double(u) + ks[t]) * vs[t], den = std::exp(double(u) + ks[t]);
    for (int j = 0; j < t; ++j) {
      const double weight = std::exp(double(w) * (t - 1 - j) + ks[j]);
      num += weight * vs[j];
      den += weight;
    }
    EXPECT_NEAR(got, num / den, 2e-5) << "t=" << t;
  }
}

TEST(Wkv, LargeKeysDoNotOverflow) {
  float a = 0, b = 0, p = -1e30f;
  for (int t = 0; t < 10; ++t) {
    const float out = wkv_step(80.0f + t, 1.0f + t, 0.5f, -0.01f, a, b, p);
    EXPECT_TRUE(std::isfinite(out));
    EXPECT_TRUE(std::isfinite(a) && std::isfinite(b));
  }
}

TEST(Lif, FiresExactlyAtThreshold) {
  float v = 0.0f;
  EXPECT_TRUE(lif_step(v, 2.0f));  // v = 0 + (2 - 0)/2 = 1.0 exactly: fires (>=)
  EXPECT_EQ(v, 0.0f);              // hard reset
}

TEST(Lif, JustBelowThresholdDoesNotFire) {
  float v = 0.0f;
  EXPECT_FALSE(lif_step(v, std::nextafter(2.0f, 0.0f)));
  EXPECT_LT(v, 1.0f);
  EXPECT_GT(v, 0.999999f);
}

TEST(Lif, ChargeIsVPlusHalfDifference) {
  float v = 0.75f;
  EXPECT_FALSE(lif_step(v, -0.5f));
  EXPECT_FLOAT_EQ(v, 0.125f);
  EXPECT_FALSE(lif_step(v, -3.0f));  // negative currents drive the membrane negative
  EXPECT_FLOAT_EQ(v, -1.4375f);
}

TEST(Lif, ConstantInputAboveOneEventuallyFires) {
  float v = 0.0f;
  int first_spike = -1;
  for (int t = 0; t < 20 && first_spike < 0; ++t)
    if (lif_step(v, 1.2f)) first_spike = t;
  // H approaches 1.2 as 1.2·(1 − 2^-(t+1)): reaches 1 at t = 2.
  EXPECT_EQ(first_spike, 2);
}

TEST(ModelConfig, ParameterCountOfPublishedShapes) {
  EXPECT_EQ((ModelConfig{18, 768, 50277}.parameter_count()), 215399424);
  EXPECT_EQ((ModelConfig{12, 512, 5458}.parameter_count()), 46553088);
}

TEST(ModelConfig, InferredFromShapes) {
  const ModelConfig c{3, 16, 50};
  const TensorFile f = random_spikegpt_checkpoint(c, 1);
  const ModelConfig got = infer_config(f);
  EXPECT_EQ(got.n_layer, 3);
  EXPECT_EQ(got.n_embd, 16);
  EXPECT_EQ(got.vocab_size, 50);
  int64_t total = 0;
  for (const auto& [name, t] : f.tensors) total += t.numel();
  EXPECT_EQ(total, c.parameter_count());
}

std::string validation_error(TensorFile f) {
  try {
    validate_spikegpt(f, infer_config(f));
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelValidation, MissingTensorIsNamed) {
  TensorFile f = random_spikegpt_checkpoint({2, 8, 20}, 1);
  f.tensors.erase("blocks.1.ffn.key.weight");
  f.order.erase(std::find(f.order.begin(), f.order.end(), "blocks.1.ffn.key.weight"));
  const std::string msg = validation_error(std::move(f));
  EXPECT_NE(msg.find("'blocks.1.ffn.key.weight' is missing (expected shape [32, 8])"), std::string::npos) << msg;
}

TEST(ModelValidation, WrongShapeIsNamed) {
  TensorFile f = random_spikegpt_checkpoint({2, 8, 20}, 1);
  f.at("blocks.0.att.value.weight").shape = {8, 4};
  const std::string msg = validation_error(std::move(f));
  EXPECT_NE(msg.find("'blocks.0.att.value.weight' has shape [8, 4], expected [8, 8]"), std::string::npos) << msg;
}

TEST(ModelValidation, UnexpectedTensorIsReported) {
  TensorFile f = random_spikegpt_checkpoint({2, 8, 20}, 1);
  f.order.push_back("blocks.0.ffnPre.key.weight");
  f.tensors["blocks.0.ffnPre.key.weight"] = Tensor{{8, 8}, std::vector<float>(64), DType::F32};
  const std::string msg = validation_error(std::move(f));
  EXPECT_NE(msg.find("unexpected tensor 'blocks.0.ffnPre.key.weight'"), std::string::npos) << msg;
}

TEST(ModelValidation, GapInBlocksIsAMissingBlock) {
  // Blocks 0 and 2 only: n_layer is inferred as 3 and block 1 is reported missing, never skipped.
  TensorFile f = random_spikegpt_checkpoint({3, 8, 20}, 1);
  std::vector<std::string> keep;
  for (const auto& n : f.order)
    if (n.rfind("blocks.1.", 0) == 0) f.tensors.erase(n);
    else keep.push_back(n);
  f.order = keep;
  const std::string msg = validation_error(std::move(f));
  EXPECT_NE(msg.find("'blocks.1.att.key.weight' is missing"), std::string::npos) << msg;
}

TEST(LoadTransforms, TimeDecayNegExpAndRescale) {
  const ModelConfig c{7, 8, 20};
  TensorFile f = random_spikegpt_checkpoint(c, 5);
  const float raw_decay = f.at("blocks.6.att.time_decay").data[3];
  const float out6 = f.at("blocks.6.att.output.weight").data[10];
  const float val5 = f.at("blocks.5.ffn.value.weight").data[10];
  const float val6 = f.at("blocks.6.ffn.value.weight").data[10];
  const auto w = SpikeGptWeights::from_file(std::move(f), {});
  EXPECT_FLOAT_EQ(w.layers[6].att_time_decay.data[3], -std::exp(raw_decay));
  EXPECT_EQ(w.layers[6].att_output.data[10], out6 / 2.0f);  // layer 6: 2^-1
  EXPECT_EQ(w.layers[5].ffn_value.data[10], val5);          // layer 5: unscaled
  EXPECT_EQ(w.layers[6].ffn_value.data[10], val6 / 2.0f);
  EXPECT_EQ(w.layers[0].att_mix_k.shape, std::vector<int64_t>{8});
  EXPECT_FALSE(w.binary_embedding);  // vocab 20 != 77
}

TEST(RecurrentState, SaveRestoreResumesBitExactly) {
  GoldenModel model(SpikeGptWeights::from_file(random_spikegpt_checkpoint({2, 16, 30}, 9), {}), 1);
  for (int t : {1, 5, 9, 2}) model.step(t);
  const RecurrentState saved = model.state();
  const std::string path = ::testing::TempDir() + "/state.bin";
  saved.save(path);
  const std::vector<float> a = model.step(7), b = model.step(3);
  model.state() = RecurrentState::load(path);
  EXPECT_TRUE(model.state() == saved);
  EXPECT_EQ(model.step(7), a);
  EXPECT_EQ(model.step(3), b);
}

TEST(RecurrentState, ResetEqualsFreshModel) {
  auto make = [] { return GoldenModel(SpikeGptWeights::from_file(random_spikegpt_checkpoint({2, 16, 30}, 9), {}), 1); };
  GoldenModel used = make(), fresh = make();
  for (int t : {4, 4, 8}) used.step(t);
  used.reset();
  EXPECT_TRUE(used.state() == fresh.state());
  EXPECT_EQ(used.step(11), fresh.step(11));
}

TEST(RecurrentState, CorruptFileIsRejected) {
  const std::string path = ::testing::TempDir() + "/bad_state.bin";
  RecurrentState(2, 4).save(path);
  std::FILE* f = std::fopen(path.c_str(), "ab");
  std::fputc(0, f);
  std::fclose(f);
  EXPECT_THROW(RecurrentState::load(path), std::runtime_error);
}

TEST(GoldenModel, ThreadCountDoesNotChangeResults) {
  const ModelConfig c{1, 256, 77};  // ffn.key is 1024 x 256 = 2^18 weights: split across threads
  GoldenModel one(SpikeGptWeights::from_file(random_spikegpt_checkpoint(c, 2), {}), 1);
  GoldenModel two(SpikeGptWeights::from_file(random_spikegpt_checkpoint(c, 2), {}), 2);
  for (int t : {3, 50, 12, 0, 76}) EXPECT_EQ(one.step(t), two.step(t));
}

}  // namespace
}  // namespace spiketile
