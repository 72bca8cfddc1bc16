// The lowering's resource accounting and its "does not fit" errors: each names the resource, the
// amount needed, the capacity and a fix; several problems are reported together.
#include <gtest/gtest.h>

#include <set>

#include "chips/chip_spec.hpp"
#include "compiler/lowering.hpp"
#include "models/quantized.hpp"
#include "runtime/unit_behavior.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile {
namespace {

using test_fixtures::kRepo;

const QuantizedSpikeGpt& shipped() {
  static const QuantizedSpikeGpt qm = test_fixtures::shipped_quantized();
  return qm;
}

ChipSpec default_chip() { return load_chip_spec((kRepo / "chips" / "default.yaml").string()); }

std::vector<FitProblem> problems_of(const QuantizedSpikeGpt& qm, const ChipSpec& chip) {
  try {
    compile_model(qm, chip, "");
  } catch (const DoesNotFitError& e) {
    return e.problems();
  }
  ADD_FAILURE() << "expected DoesNotFitError";
  return {};
}

const FitProblem* find(const std::vector<FitProblem>& ps, const std::string& resource, const std::string& where = "") {
  for (const auto& p : ps)
    if (p.resource == resource && p.where.find(where) != std::string::npos) return &p;
  return nullptr;
}

// Shipped model, L4 C192 V77, on 256×256 crossbars: per layer 1 residual slice (192 channels),
// one tile for each C×C matrix (att r, k, v, o; ffn r: 5), ffn.key 768×192 in 3 row blocks,
// ffn.value 192×768 in 3 column blocks: 12 units; 4 layers = 48; head 77×192: 1 tile. 49 units.
TEST(Lowering, ShippedModelUnitsAsCountedByHand) {
  const Mapping m = lower_to_units(shipped(), default_chip(), "");
  EXPECT_EQ(m.units.size(), 49u);
  int64_t weights = 0;
  for (const auto& u : m.units)
    if (u.kind == UnitKind::Crossbar) weights += u.rows() * u.cols();
  EXPECT_EQ(weights, 4 * (5 + 2 * 4) * 192 * 192 + 77 * 192);  // every weight exactly once: 5 C² + 2 · 4C² per layer
  EXPECT_EQ(m.weight_bytes(), shipped().weight_bytes());
}

// The widest vector a flow carries on the shipped model is ffn.key's 256-row block into ffn.value
// (4C = 768 rows in 3 blocks): a 64-event axon queue cannot hold it, a 256-event one can; a
// multicast branch waits in the 16-flit branch buffer first.
TEST(Lowering, FlowsWiderThanTheAxonQueueAreNamed) {
  auto note_of = [](const Mapping& m) {
    for (const std::string& d : m.decisions)
      if (d.rfind("axon queues:", 0) == 0) return d;
    return std::string();
  };
  const std::string shallow = note_of(lower_to_units(shipped(), default_chip(), ""));
  EXPECT_NE(shallow.find("longer than the 64-event axon input queue (up to 256 events)"), std::string::npos) << shallow;
  EXPECT_NE(shallow.find("waits in its router's 16-flit branch buffer"), std::string::npos) << shallow;
  std::string yaml = test_fixtures::read_text(kRepo / "chips" / "default.yaml");
  yaml.replace(yaml.find("axon_input_queue_depth: 64"), 26, "axon_input_queue_depth: 256");
  const std::string deep = note_of(lower_to_units(shipped(), load_chip_spec_from_string(yaml, "deep"), yaml));
  EXPECT_NE(deep.find("every flow's vector (at most 256 events) fits the 256-event axon input queue"), std::string::npos)
      << deep;
}

// The compile command's path consumes the model (weights move into tiles); it must give the same
// mapping as lowering from a model that stays intact.
TEST(Lowering, ConsumingTheModelGivesTheSameUnits) {
  const Mapping kept = lower_to_units(shipped(), default_chip(), "");
  QuantizedSpikeGpt copy = shipped();
  const Mapping consumed = lower_to_units(std::move(copy), default_chip(), "");
  ASSERT_EQ(kept.units.size(), consumed.units.size());
  for (std::size_t i = 0; i < kept.units.size(); ++i) {
    ASSERT_EQ(kept.units[i].params.size(), consumed.units[i].params.size()) << kept.units[i].name;
    for (std::size_t p = 0; p < kept.units[i].params.size(); ++p)
      EXPECT_EQ(kept.units[i].params[p].bytes, consumed.units[i].params[p].bytes) << kept.units[i].name;
  }
  EXPECT_EQ(kept.host.embedding, consumed.host.embedding);
  EXPECT_EQ(kept.flows.size(), consumed.flows.size());
}

TEST(Lowering, TooFewCoresNamesNeedCapacityAndChipsThatWouldFit) {
  ChipSpec chip = default_chip();
  chip.system.chip_count = 1;
  chip.system.topology.grid_cols = 1;
  chip.mesh.rows = chip.mesh.cols = 4;
  const auto ps = problems_of(shipped(), chip);
  const FitProblem* p = find(ps, "cores");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->need, 49);
  EXPECT_EQ(p->capacity, 16);
  EXPECT_NE(p->fix.find("≥ 4 chips"), std::string::npos) << p->fix;  // ceil(49 / 16)
}

TEST(Lowering, WeightAndMembraneBitsBeyondTheChipAreReportedTogether) {
  ChipSpec chip = default_chip();
  chip.core.weight_bits = 4;
  chip.core.membrane_bits = 12;
  const auto ps = problems_of(shipped(), chip);
  const FitProblem* w = find(ps, "weight bits");
  const FitProblem* m = find(ps, "membrane bits");
  ASSERT_NE(w, nullptr);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(w->need, 8);
  EXPECT_EQ(w->capacity, 4);
  EXPECT_NE(w->fix.find("--weight-bits 4"), std::string::npos) << w->fix;
  EXPECT_EQ(m->need, 16);
  EXPECT_EQ(m->capacity, 12);
}

TEST(Lowering, StateSramTooSmallForOneWkvRow) {
  ChipSpec chip = default_chip();
  chip.core.state_sram.size_bytes = 32;  // a WKV row needs 38 B + the 5 B gate multiplier
  const auto ps = problems_of(shipped(), chip);
  const FitProblem* p = find(ps, "state SRAM bytes", "L0.att.value");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->need, 38 + 5);
  EXPECT_EQ(p->capacity, 32);
}

TEST(Lowering, AccumulatorTooNarrowIsReported) {
  ChipSpec chip = default_chip();
  chip.core.accumulator_bits = 16;  // 192 inputs × 127 × 128 needs more than 16 bits
  const auto ps = problems_of(shipped(), chip);
  const FitProblem* p = find(ps, "accumulator range");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->capacity, 32767);
  EXPECT_GT(p->need, 32767);
}

TEST(Lowering, RoutingTableOverflowNamesTheRouter) {
  ChipSpec chip = default_chip();
  chip.router.routing_table_entries = 0;  // unicast only: the multicast of ffn.xk to 3 ffn.key tiles needs entries
  try {
    compile_model(shipped(), chip, "");
    FAIL() << "expected DoesNotFitError";
  } catch (const DoesNotFitError& e) {
    ASSERT_EQ(e.problems().size(), 1u) << e.what();
    const auto& p = e.problems()[0];
    EXPECT_EQ(p.resource, "routing-table entries");
    EXPECT_EQ(p.capacity, 0);
    EXPECT_GT(p.need, 0);
    EXPECT_NE(p.where.find("chip "), std::string::npos) << p.where;
    EXPECT_NE(std::string(e.what()).find("routing-table entries"), std::string::npos);
  }
}

TEST(Lowering, EveryUnitFitsItsCoreAndFlowsReachOnlyConsumers) {
  const ChipSpec chip = default_chip();
  const Mapping m = compile_model(shipped(), chip, "");
  for (const auto& u : m.units) {
    EXPECT_LE(u.resources.axons, chip.core.crossbar.axons) << u.name;
    EXPECT_LE(u.resources.neurons, chip.core.crossbar.neurons) << u.name;
    EXPECT_LE(u.resources.synapse_bytes, chip.core.synapse_sram.size_bytes) << u.name;
    EXPECT_LE(u.resources.state_bytes, chip.core.state_sram.size_bytes) << u.name;
  }
  for (const auto& f : m.flows) {
    ASSERT_FALSE(f.destinations.empty());
    for (int d : f.destinations) {
      const Unit& u = m.units[std::size_t(d)];
      const bool by_rows = f.role == FlowRole::PartialSum || f.role == FlowRole::Receptance || f.role == FlowRole::Key ||
                           f.role == FlowRole::Spikes || f.role == FlowRole::Residual;
      if (f.role == FlowRole::LnGather || f.role == FlowRole::LnScatter) continue;
      const int64_t b = by_rows ? u.out_begin : u.in_begin, e = by_rows ? u.out_end : u.in_end;
      EXPECT_TRUE(f.index_begin < e && f.index_end > b) << f.tensor << " reaches " << u.name << " which needs none of it";
    }
  }
  // Distinct cores, all on the chip.
  std::set<int> cores;
  const Topology topology(chip);
  for (const auto& c : m.unit_cores) {
    EXPECT_TRUE(topology.contains(c));
    EXPECT_TRUE(cores.insert(topology.core_index(c)).second);
  }
  EXPECT_LE(m.placement.cost, m.placement.baseline_cost);
  EXPECT_GE(m.placement.cost, m.placement.lower_bound);
}

// A partial sum goes out in the bits its tile's worst row can need (Σ|w| over the tile's inputs
// times the largest input: 128 for signed 8-bit activations, 256 for the unsigned ReLU² outputs
// into ffn.value), recomputed here from the tile's stored weights; the sender refuses a value
// outside them (flow_sent_by), so the executor runs in MappingExecutor tests prove they fit.
TEST(Lowering, PartialSumsTravelInTheBitsTheirTileCanNeed) {
  const ChipSpec chip = default_chip();
  const Mapping m = compile_model(shipped(), chip, "");
  int partial_flows = 0;
  for (std::size_t f = 0; f < m.flows.size(); ++f) {
    const MappedFlow& flow = m.flows[f];
    if (flow.role != FlowRole::PartialSum) continue;
    ++partial_flows;
    const Unit& tile = m.units[std::size_t(flow.source)];
    const ParamArray& w = tile.param(param::kWeights);
    const int64_t max_input = tile.op == Op::FfnValue ? 256 : 128;
    int64_t worst = 0;
    for (int64_t r = 0; r < tile.rows(); ++r) {
      int64_t sum = 0;
      for (int64_t c = 0; c < tile.cols(); ++c) sum += std::abs(int64_t(w.data<int8_t>()[r * tile.cols() + c]));
      worst = std::max(worst, sum * max_input);
    }
    EXPECT_LE(worst, (int64_t(1) << (flow.payload_bits - 1)) - 1) << flow.tensor << ": too narrow";
    EXPECT_GT(worst, (int64_t(1) << (flow.payload_bits - 2)) - 1) << flow.tensor << ": one bit would do less";
    EXPECT_LT(flow.payload_bits, chip.core.accumulator_bits) << flow.tensor;

    UnitEvent over;
    over.flow = int(f);
    over.value = int64_t(1) << (flow.payload_bits - 1);
    EXPECT_THROW(flow_sent_by(m, flow.source, over), MappingError) << flow.tensor;
    over.value = -over.value;
    EXPECT_NO_THROW(flow_sent_by(m, flow.source, over)) << flow.tensor;
  }
  EXPECT_EQ(partial_flows, 4 * 2);  // ffn.value's 3 column blocks: 2 partial-sum tiles per layer
}

}  // namespace
}  // namespace spiketile
