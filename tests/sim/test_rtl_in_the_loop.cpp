// RTL in the loop: the simulated chip with crossbar cores accumulating on the RTL neuron core
// (rtl/neuron_core.sv, verilated) against the plain simulation, on the shipped model: same events
// from every core, logits, tokens, spikes and counts; a core with an injected bug is named with
// the step it first differs in; selections the RTL cannot run end in errors naming the core.
// One TEST per process (SystemC elaborates once).
#include <gtest/gtest.h>

#include <iostream>

#include <algorithm>

#include "chips/chip_spec.hpp"
#include "compiler/lowering.hpp"
#include "models/quantized.hpp"
#include "sim/rtl_loop_comparison.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile::sim {
namespace {

using test_fixtures::kRepo;
using test_fixtures::shipped_on_default_chip;

int count_units(const Mapping& m, bool (*pred)(const Unit&)) {
  int n = 0;
  for (const auto& u : m.units) n += pred(u);
  return n;
}

TEST(RtlInTheLoop, EveryCrossbarCoreVerilatedEqualsPlainSimulationOver16Tokens) {
  const auto mapping = shipped_on_default_chip({});
  LoopComparisonOptions options;
  options.tokens = 16;
  const LoopComparisonResult r = compare_rtl_in_the_loop(mapping, options);
  EXPECT_TRUE(r.pass) << loop_comparison_summary(r);
  std::cout << loop_comparison_summary(r) << "\n";
  EXPECT_EQ(r.tokens, 16);
  // Every crossbar tile ran on its own verilated core; per token, each att.output reducer ended with
  // one LIF tick and every other tile (partial-sum tiles included) with one readout.
  const int crossbars = count_units(*mapping, [](const Unit& u) { return u.kind == UnitKind::Crossbar; });
  const int lif = count_units(*mapping, [](const Unit& u) { return u.function == NeuronFunction::AttOutputLif; });
  ASSERT_GT(lif, 0);
  EXPECT_EQ(r.rtl.cores, crossbars);
  EXPECT_EQ(r.rtl.backend, "verilated");
  EXPECT_EQ(r.rtl.totals.ticks, uint64_t(lif) * 16);
  EXPECT_EQ(r.rtl.totals.readouts, uint64_t(crossbars - lif) * 16);
  EXPECT_GT(r.rtl.totals.events, 0u);
  EXPECT_GT(r.rtl.totals.partial_sums, 0u);   // ffn.value spans three input tiles (C = 192, 768 inputs)
  // The RTL's cycles time its cores: an event costs GROUPS = 16 cycles there, so runs differ in time.
  EXPECT_GT(r.rtl_cycles, 0u);
  EXPECT_GT(r.plain_cycles, 0u);
}

// default_m6: the LIF's leak shifts logically (rtl/README.md, mutation table). On the first token
// every membrane is 0, so a negative current makes v huge instead of negative and the neuron fires:
// the first att.output core of layer 0 sends a spike the plain simulation does not.
TEST(RtlInTheLoop, MutantCoreIsNamedWithTheStepItDiffersIn) {
  const auto mapping = shipped_on_default_chip({});
  LoopComparisonOptions options;
  options.tokens = 4;
  options.rtl.model = "default_m6";
  const LoopComparisonResult r = compare_rtl_in_the_loop(mapping, options);
  EXPECT_FALSE(r.pass);
  std::cout << loop_comparison_summary(r) << "\n";
  EXPECT_EQ(r.tokens, 1);
  int first_lif = -1;
  for (const auto& u : mapping->units)
    if (first_lif < 0 && u.function == NeuronFunction::AttOutputLif) first_lif = u.id;
  ASSERT_GE(first_lif, 0);
  const Unit& u = mapping->units[std::size_t(first_lif)];
  const CoreCoord c = mapping->unit_cores[std::size_t(first_lif)];
  const ChipSpec chip = load_chip_spec((kRepo / "chips" / "default.yaml").string());
  const int core = c.chip * chip.mesh.rows * chip.mesh.cols + c.row * chip.mesh.cols + c.col;
  const std::string expected = "step 0 (token 0): core " + std::to_string(core) + " (" + u.name +
                               ", on the RTL) received the same events and sent different ones";
  EXPECT_EQ(r.first_difference.rfind(expected, 0), 0u) << r.first_difference << "\nexpected it to start with " << expected;
  EXPECT_NE(r.first_difference.find("L0.att.spikes"), std::string::npos) << r.first_difference;
}

// Two named cores on the reference backend; the rest stay on the C++ engine.
TEST(RtlInTheLoop, SelectedCoresOnTheReferenceBackendEqualPlainSimulation) {
  const auto mapping = shipped_on_default_chip({});
  std::vector<std::string> picked;
  for (const auto& u : mapping->units)
    if (picked.size() < 2 && (u.function == NeuronFunction::FfnValueGateLif || u.op == Op::FfnValue))
      picked.push_back(u.name);
  ASSERT_EQ(picked.size(), 2u);
  LoopComparisonOptions options;
  options.tokens = 4;
  options.rtl.cores = picked;
  options.rtl.backend = "reference";
  const LoopComparisonResult r = compare_rtl_in_the_loop(mapping, options);
  EXPECT_TRUE(r.pass) << loop_comparison_summary(r);
  EXPECT_EQ(r.rtl.cores, 2);
  EXPECT_EQ(r.rtl.totals.readouts, 2u * 4u);
  EXPECT_GT(r.rtl.totals.partial_sums, 0u);   // the reducer of one ffn.value row block is among them
}

void expect_refused(const std::shared_ptr<const Mapping>& mapping, const RtlInTheLoop& rtl,
                    const std::vector<std::string>& fragments) {
  SimulatorOptions options;
  options.rtl = rtl;
  try {
    ChipSimulator chip(mapping, options);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

TEST(RtlInTheLoop, ResidualCoreIsRefused) {
  const auto mapping = shipped_on_default_chip({});
  const Unit& residual = mapping->units[std::size_t(
      std::find_if(mapping->units.begin(), mapping->units.end(), [](const Unit& u) { return u.kind == UnitKind::Residual; }) -
      mapping->units.begin())];
  expect_refused(mapping, {{residual.name}}, {residual.name, "without a crossbar"});
  expect_refused(mapping, {{"9999"}}, {"core '9999' runs no unit"});
}

// A chip with 512-neuron crossbars puts up to 512 rows in one tile: more than the RTL core's 256.
TEST(RtlInTheLoop, TileLargerThanTheRtlCoreIsRefused) {
  const auto mapping = shipped_on_default_chip({{"neurons: 256", "neurons: 512"}, {"size_bytes: 65536", "size_bytes: 131072"}});
  const Unit* big = nullptr;
  for (const auto& u : mapping->units)
    if (!big && u.kind == UnitKind::Crossbar && u.rows() > 256) big = &u;
  ASSERT_NE(big, nullptr) << "no tile has more than 256 rows on this chip";
  expect_refused(mapping, {{"all"}}, {big->name, std::to_string(big->rows()) + " rows, the core 256 neurons"});
}

}  // namespace
}  // namespace spiketile::sim
