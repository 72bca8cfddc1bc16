// Sampling, .npy I/O and the generation/evaluation drivers.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "models/random_weights.hpp"
#include "runtime/execution.hpp"
#include "runtime/npy.hpp"
#include "runtime/sampler.hpp"

namespace spiketile {
namespace {

TEST(Sampler, TemperatureZeroIsArgmax) {
  Sampler s({0.0f, 0.7f, 1});
  EXPECT_EQ(s.sample({0.1f, 3.0f, -1.0f, 2.9f}), 1);
}

TEST(Sampler, SameSeedSameDraws) {
  const std::vector<float> logits{1.0f, 1.1f, 0.9f, 1.05f, 0.2f};
  Sampler a({1.0f, 1.0f, 42}), b({1.0f, 1.0f, 42}), c({1.0f, 1.0f, 43});
  std::vector<int> da, db, dc;
  for (int i = 0; i < 50; ++i) {
    da.push_back(a.sample(logits));
    db.push_back(b.sample(logits));
    dc.push_back(c.sample(logits));
  }
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
}

TEST(Sampler, TopPKeepsOnlyTheNucleus) {
  // probs ≈ [0.64, 0.24, 0.09, 0.03]: with top_p 0.7 the cumulative sum first exceeds 0.7 at
  // the second token, so only tokens 0 and 1 may be drawn.
  const std::vector<float> logits{3.0f, 2.0f, 1.0f, 0.0f};
  Sampler s({1.0f, 0.7f, 5});
  std::map<int, int> counts;
  for (int i = 0; i < 2000; ++i) ++counts[s.sample(logits)];
  EXPECT_EQ(counts.count(2) + counts.count(3), 0u);
  EXPECT_GT(counts[0], counts[1]);
  EXPECT_GT(counts[1], 300);
}

TEST(Sampler, FrequenciesFollowSoftmax) {
  const std::vector<float> logits{0.0f, std::log(3.0f)};  // p = 0.25, 0.75
  Sampler s({1.0f, 1.0f, 11});
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.sample(logits);
  EXPECT_NEAR(double(ones) / n, 0.75, 0.015);
}

TEST(Sampler, RejectsBadOptions) {
  EXPECT_THROW(Sampler({-1.0f, 0.5f, 0}), std::invalid_argument);
  EXPECT_THROW(Sampler({1.0f, 0.0f, 0}), std::invalid_argument);
}

TEST(Npy, RoundTrip) {
  const std::string path = ::testing::TempDir() + "/x.npy";
  std::vector<float> data(6 * 5);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = float(i) * 0.5f - 3.0f;
  OutputFile out(path);
  write_npy(out, {6, 5}, data.data());
  out.commit();
  const NpyArray a = read_npy(path);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{6, 5}));
  EXPECT_EQ(a.data, data);
}

TEST(Generate, OneLogitRowPerConsumedTokenAndGreedyIsArgmax) {
  GoldenModel model(SpikeGptWeights::from_file(random_spikegpt_checkpoint({2, 16, 30}, 4), {}), 1);
  const auto r = generate(model, {1, 2, 3}, 5, {0.0f, 1.0f, 0}, {true});
  ASSERT_EQ(r.generated.size(), 5u);
  EXPECT_EQ(r.logit_rows, 8);
  ASSERT_EQ(r.logits.size(), 8u * 30u);
  // The token generated after consuming row i is the argmax of row i (rows 2..6).
  for (int n = 0; n < 5; ++n) {
    const std::vector<float> row(r.logits.begin() + (2 + n) * 30, r.logits.begin() + (3 + n) * 30);
    EXPECT_EQ(r.generated[n], argmax(row));
  }
  EXPECT_EQ(r.activity.steps, 8);
}

TEST(Evaluate, BitsPerTokenFromLogSoftmax) {
  GoldenModel model(SpikeGptWeights::from_file(random_spikegpt_checkpoint({2, 16, 30}, 4), {}), 1);
  const std::vector<int> tokens{5, 9, 1, 29, 0, 7};
  const EvalResult r = evaluate(model, tokens);
  double nll = 0;
  model.reset();
  for (std::size_t t = 0; t + 1 < tokens.size(); ++t) {
    const auto& l = model.step(tokens[t]);
    double z = 0;
    for (float x : l) z += std::exp(double(x));
    nll -= std::log(std::exp(double(l[tokens[t + 1]])) / z);
  }
  EXPECT_EQ(r.tokens_evaluated, 5);
  EXPECT_EQ(r.activity.steps, 6);  // firing rates cover every token, the last one included
  EXPECT_NEAR(r.bits_per_token(), nll / 5 / std::log(2.0), 1e-9);
}

}  // namespace
}  // namespace spiketile
