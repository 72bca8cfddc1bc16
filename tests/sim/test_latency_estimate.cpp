// The compiler's estimate of a token (runtime/latency_estimate.hpp) against what the cycle-accurate
// chip measures on text the profile never saw: the traffic it predicts is what the simulator sends,
// its latency bound is one, and on a chip where nothing contends it is the simulator's latency.
// One TEST per process (SystemC elaborates once).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "models/tokenizer.hpp"
#include "sim/chip_simulator.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile::sim {
namespace {

using test_fixtures::kRepo;
using test_fixtures::read_text;
using test_fixtures::shipped_profiled_on_default_chip;

// Per-token means the simulator measured while teacher-forcing held-out text.
struct Measured {
  double cycles = 0, packets = 0, flits_delivered = 0, flit_hops = 0;
};

Measured simulate_heldout_text(const std::shared_ptr<const Mapping>& mapping, int tokens) {
  const auto tokenizer = tokenizer_for_vocab(mapping->config.vocab_size, std::string(SPIKETILE_SHARED_DIR) + "/data");
  const std::vector<int> ids = tokenizer->encode(read_text(kRepo / "tests" / "data" / "heldout_excerpt.txt"));
  EXPECT_GE(ids.size(), std::size_t(tokens));
  ChipSimulator chip(mapping);
  for (int t = 0; t < tokens; ++t) chip.step(ids[std::size_t(t)]);
  RunStats stats;
  chip.fill_stats(stats);
  Measured m;
  m.cycles = double(stats.cycles->total) / tokens;
  m.packets = double(stats.network->packets) / tokens;
  m.flit_hops = double(stats.network->flit_hops) / tokens;
  m.flits_delivered = double(stats.network->flits_delivered) / tokens;
  return m;
}

double relative_error(double estimate, double measured) { return std::abs(estimate - measured) / measured; }

// The shipped model on chips/default.yaml, compiled as `spiketile compile` does (16 profile tokens
// of the model's own text), simulated on 48 characters of held-out fortunes.
TEST(LatencyEstimate, TrafficIsWhatTheSimulatorSendsWithin5PercentAndTheBoundHolds) {
  const auto mapping = shipped_profiled_on_default_chip();
  const LatencyEstimate& e = mapping->estimate;
  ASSERT_EQ(e.profile_tokens, 16);
  const Measured m = simulate_heldout_text(mapping, 48);
  // Flit-hops are flits × links crossed, mesh and inter-chip, in the estimate as in the stats.
  const double estimated_hops = e.mesh_flit_hops_per_token + e.inter_chip_flits_per_token;
  EXPECT_LT(relative_error(e.packets_per_token, m.packets), 0.05) << e.packets_per_token << " vs " << m.packets;
  EXPECT_LT(relative_error(e.flits_delivered_per_token, m.flits_delivered), 0.05)
      << e.flits_delivered_per_token << " vs " << m.flits_delivered;
  EXPECT_LT(relative_error(estimated_hops, m.flit_hops), 0.05) << estimated_hops << " vs " << m.flit_hops;
  // The flows' placement weights are the profile's flits: they add up to the injected flits.
  double weights = 0;
  for (const MappedFlow& f : mapping->flows) weights += f.flits_per_token;
  EXPECT_NEAR(weights, e.flits_injected_per_token, 1e-6 * weights);
  // Contention only adds cycles: the measured token is no faster than the bound.
  EXPECT_GE(m.cycles, e.cycles_per_token);
  // The critical path ends at the head, starts at a layer-0 residual slice and never runs backwards.
  ASSERT_FALSE(e.critical_path.empty());
  EXPECT_EQ(mapping->units[std::size_t(e.critical_path.front().unit)].name, "L0.residual[0]");
  EXPECT_EQ(mapping->units[std::size_t(e.critical_path.back().unit)].op, Op::Head);
  for (std::size_t k = 1; k < e.critical_path.size(); ++k)
    EXPECT_LE(e.critical_path[k - 1].end, e.critical_path[k].start) << k;
}

// Whole-row synapse reads and neuron units, deep axon queues (and the default chip's 16-flit buffers
// and four SFUs): cores finish their
// work quickly and no flow waits for another's buffer, so the simulator's token takes what the
// contention-free replay says (to within 1 %): the two model the same chip.
TEST(LatencyEstimate, WhereNothingContendsTheSimulatorTakesTheBound) {
  const auto mapping = shipped_profiled_on_default_chip({{"read_width_bits: 256", "read_width_bits: 2048"},
                                                         {"lanes: 32", "lanes: 256"},
                                                         {"axon_input_queue_depth: 64", "axon_input_queue_depth: 256"}});
  const Measured m = simulate_heldout_text(mapping, 48);
  EXPECT_GE(m.cycles, 0.99 * mapping->estimate.cycles_per_token);
  EXPECT_LT(relative_error(mapping->estimate.cycles_per_token, m.cycles), 0.01)
      << mapping->estimate.cycles_per_token << " vs " << m.cycles;
}

}  // namespace
}  // namespace spiketile::sim
