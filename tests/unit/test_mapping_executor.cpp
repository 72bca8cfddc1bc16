// The mapping executor against the quantized functional model: same logits (bit for bit), same
// spikes in every layer, same event counts, token after token — on the shipped model compiled onto
// the default chip and on random models whose sizes make every tiling irregular.
#include <gtest/gtest.h>

#include "chips/chip_spec.hpp"
#include "compiler/lowering.hpp"
#include "models/quantized.hpp"
#include "models/random_weights.hpp"
#include "runtime/mapping_executor.hpp"
#include "runtime/sampler.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile {
namespace {

using test_fixtures::kRepo;
using test_fixtures::read_text;

QuantizedSpikeGpt random_quantized(uint64_t seed, const ModelConfig& c, bool rescale = true) {
  std::vector<int> sample;
  for (int i = 0; i < 24; ++i) sample.push_back(int((i * 37 + 11) % c.vocab_size));
  GoldenOptions o;
  o.rescale_every_6_layers = rescale;
  GoldenModel golden(SpikeGptWeights::from_file(random_spikegpt_checkpoint(c, seed), o), 1);
  const Calibration cal = calibrate(golden, sample, "test");
  return QuantizedSpikeGpt::build(golden.weights(), cal, {});
}

// Steps both levels through `tokens` (teacher-forced) and then `generate` greedy tokens, comparing
// everything each step.
void expect_same_as_functional(const QuantizedSpikeGpt& qm, const Mapping& mapping, std::vector<int> tokens, int generate) {
  QuantizedModel functional(qm);
  MappingExecutor executor(std::make_shared<const Mapping>(mapping));
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const auto& lf = functional.step(tokens[t]);
    const auto& le = executor.step(tokens[t]);
    ASSERT_EQ(functional.last_logit_accumulators(), executor.last_logit_accumulators()) << "step " << t;
    ASSERT_EQ(lf, le) << "step " << t;
    const auto &af = functional.last_activity(), &ae = executor.last_activity();
    for (int l = 0; l < qm.config.n_layer; ++l) {
      ASSERT_EQ(af.spikes_att[l], ae.spikes_att[l]) << "step " << t << " layer " << l;
      ASSERT_EQ(af.spikes_ffn[l], ae.spikes_ffn[l]) << "step " << t << " layer " << l;
      ASSERT_EQ(af.relu2_nonzero[l], ae.relu2_nonzero[l]) << "step " << t << " layer " << l;
    }
    ASSERT_TRUE(*functional.last_counts() == *executor.last_counts()) << "step " << t;
    if (t + 1 == tokens.size() && generate > 0) {
      --generate;
      tokens.push_back(argmax(le));
    }
  }
}

ChipSpec chip(const std::string& name) { return load_chip_spec((kRepo / "chips" / name).string()); }

TEST(MappingExecutor, ShippedModelOnDefaultChipEqualsFunctionalModelOver64Tokens) {
  const auto qm = test_fixtures::shipped_quantized();
  const auto spec = chip("default.yaml");
  const Mapping mapping = compile_model(qm, spec, read_text(kRepo / "chips" / "default.yaml"));
  // "\nThe " in the char vocabulary is not needed: any ids work; greedy continuation covers the rest.
  expect_same_as_functional(qm, mapping, {0, 45, 60, 57, 1, 72}, 58);
}

// Crossbars that divide nothing evenly: 40 axons × 24 neurons for C = 52 gives 3 residual slices,
// 2 × 3 tiles per C×C matrix, partial sums everywhere, LayerNorm statistics across slices.
TEST(MappingExecutor, IrregularTilingAndSlicedResidualEqualFunctionalModel) {
  const ModelConfig c{7, 52, 45};  // 7 layers: the rescale after layer 6 runs too
  const auto qm = random_quantized(5, c);
  auto spec = chip("large.yaml");
  spec.core.crossbar.axons = 40;
  spec.core.crossbar.neurons = 24;
  const Mapping mapping = lower_to_units(qm, spec, "");
  int residual_slices = 0, partial_tiles = 0;
  for (const auto& u : mapping.units) {
    residual_slices += u.kind == UnitKind::Residual && u.layer == 0;
    partial_tiles += u.function == NeuronFunction::PartialSum;
  }
  EXPECT_EQ(residual_slices, 3);
  EXPECT_GT(partial_tiles, 0);
  expect_same_as_functional(qm, mapping, {3, 9, 44, 0, 17, 17, 2, 30}, 8);
}

// What the cores report doing sums, over all cores, to the functional model's counts of the
// same token (the per-core energy breakdown adds up to the per-op one).
TEST(MappingExecutor, PerUnitWorkSumsToTheFunctionalCounts) {
  const ModelConfig c{2, 52, 45};
  const auto qm = random_quantized(8, c);
  auto spec = chip("large.yaml");
  spec.core.crossbar.axons = 40;
  spec.core.crossbar.neurons = 24;
  const Mapping mapping = lower_to_units(qm, spec, "");
  QuantizedModel functional(qm);
  MappingExecutor executor(std::make_shared<const Mapping>(mapping));
  for (int token : {4, 44, 0, 19}) {
    functional.step(token);
    executor.step(token);
    Counts sum;
    for (int id = 0; id < int(mapping.units.size()); ++id) sum += executor.unit(id).work();
    const Counts want = functional.last_counts()->total();
    EXPECT_EQ(sum.sop_graded, want.sop_graded);
    EXPECT_EQ(sum.sop_binary, want.sop_binary);
    EXPECT_EQ(sum.synapse_read_bits, want.synapse_read_bits);
    EXPECT_EQ(sum.neuron_updates, want.neuron_updates);
    EXPECT_EQ(sum.sfu, want.sfu);
    EXPECT_EQ(sum.state_read_bytes, want.state_read_bytes);
    EXPECT_EQ(sum.state_write_bytes, want.state_write_bytes);
  }
}

TEST(MappingExecutor, StateSramLimitsWkvRowBlocks) {
  const ModelConfig c{1, 64, 30};
  const auto qm = random_quantized(2, c);
  auto spec = chip("large.yaml");
  spec.core.state_sram.size_bytes = 1024;  // 1 KiB: a WKV unit keeps 38 B per row -> ≤ 26 rows
  const Mapping mapping = lower_to_units(qm, spec, "");
  for (const auto& u : mapping.units)
    if (u.function == NeuronFunction::AttValueWkvGate) {
      EXPECT_LE(u.rows() * state_bytes_per_row(u.function, qm.options) + 5, 1024) << u.name;
      EXPECT_LE(u.resources.state_bytes, 1024) << u.name;
    }
  expect_same_as_functional(qm, mapping, {1, 2, 3, 29, 0}, 3);
}

TEST(MappingExecutor, StalledUnitIsReportedByName) {
  const ModelConfig c{1, 16, 20};
  const auto qm = random_quantized(1, c);
  Mapping mapping = lower_to_units(qm, chip("large.yaml"), "");
  // Hand the flow that carries att.k to a unit that never produces keys: the WKV unit must wait
  // forever, and say so, instead of hanging or computing with missing inputs.
  for (auto& f : mapping.flows)
    if (f.role == FlowRole::Key) f.source = 0;
  MappingExecutor executor(std::make_shared<const Mapping>(mapping));
  try {
    executor.step(3);
    FAIL() << "a stalled token step must throw";
  } catch (const MappingError& e) {
    EXPECT_NE(std::string(e.what()).find("L0.att.value[0,0]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("key 0/1 streams ended"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace spiketile
