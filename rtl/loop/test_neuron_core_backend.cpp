// The neuron core backends (rtl/loop): each against values worked out by hand, against each other
// on the bench's stimulus, and the verilated one against the injected bugs of rtl/README.md.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "rtl/loop/backend_comparison.hpp"
#include "rtl/loop/neuron_core_backend.hpp"

namespace spiketile::rtl {
namespace {

std::vector<std::unique_ptr<NeuronCoreBackend>> both(const std::string& config) {
  std::vector<std::unique_ptr<NeuronCoreBackend>> v;
  for (const auto& b : neuron_core_backends()) v.push_back(make_neuron_core_backend(b.name, find_rtl_model(config)));
  return v;
}

// small: 16 axons x 8 neurons, 4 lanes -> 2 lane groups, so a command takes 2 cycles.
// Neuron 0 gets acc = 3 * 100 = 300, neuron 1 acc = -3 * 100 = -300 (axon 0, graded unsigned 100);
// multiplier 2^30 * 2^-30 = 1, so x = acc. LIF v += (x - v) >> 1 (floor), fire at 256:
//   neuron 0: 150, 225, 225 + 37 = 262 -> spike, 0
//   neuron 1: -150, -225, -225 + floor(-75 / 2) = -263
TEST(NeuronCoreBackend, HandWorkedTokensAndCycles) {
  for (auto& core : both("small")) {
    SCOPED_TRACE(core->backend_name());
    const std::vector<int32_t> weights = {3, -3};   // row 0, neurons 0 and 1
    EXPECT_EQ(core->load_weights(weights.data(), 1, 2), 16u * 2u);   // 16 rows x 2 words, one per cycle
    EXPECT_EQ(core->weight(0, 1), -3);
    EXPECT_EQ(core->weight(0, 2), 0);
    EXPECT_EQ(core->load_multipliers(std::vector<q::Multiplier>(8, q::Multiplier{1 << 30, 30})), 8u);
    TickResult t;
    const std::vector<int32_t> v0 = {150, 225, 0}, v1 = {-150, -225, -263};
    for (int token = 0; token < 3; ++token) {
      EXPECT_EQ(core->apply(AxonEvent{0, EventKind::kGradedUnsigned, 100, false}), 1u);   // accepted at once
      // 1 cycle until the event's last beat frees the issue stage, 1 to accept the tick,
      // 2 beats + 3 stages until its last lane group is out.
      EXPECT_EQ(core->tick(t), 7u);
      EXPECT_EQ(t.membranes[0], v0[token]);
      EXPECT_EQ(t.spikes[0], token == 2 ? 1 : 0);
      EXPECT_EQ(t.membranes[1], v1[token]);
      EXPECT_EQ(t.spikes[1], 0);
      EXPECT_EQ(t.membranes[5], 0);
      EXPECT_EQ(t.spike_count, token == 2 ? 1 : 0);
    }
    // Bit-serial -(w << 2): acc = -12 for neuron 0; x = -12, v = 0 + (-12 >> 1) = -6.
    EXPECT_EQ(core->apply(AxonEvent{0, EventKind::kBitSerial, 2, true}), 1u);
    core->tick(t);
    EXPECT_EQ(t.membranes[0], -6);
    EXPECT_EQ(core->reset(), 1u);
    EXPECT_EQ(core->tick(t), 1u + 2u + 3u);   // idle core: accept, 2 beats, 3 stages
    EXPECT_EQ(t.membranes[1], 0);             // reset cleared -263; no events: x = 0
    EXPECT_EQ(core->stats().ticks, 5u);
    EXPECT_EQ(core->stats().events, 4u);
    EXPECT_EQ(core->cycles(), 32u + 8u + 4u * 8u + 1u + 6u);
  }
}

// Partial sums and the readout tick on small (2 lane groups): a partial sum is one beat of its
// neuron's group, the readout reports raw accumulators and leaves the membranes alone.
TEST(NeuronCoreBackend, HandWorkedPartialSumsAndReadout) {
  const int64_t amax = (int64_t(1) << 31) - 1;
  for (auto& core : both("small")) {
    SCOPED_TRACE(core->backend_name());
    const std::vector<int32_t> weights = {3, -3};
    core->load_weights(weights.data(), 1, 2);
    core->load_multipliers(std::vector<q::Multiplier>(8, q::Multiplier{1 << 30, 30}));
    EXPECT_EQ(core->apply(AxonEvent{0, EventKind::kGradedUnsigned, 100, false}), 1u);
    EXPECT_EQ(core->idle(1), 1u);                     // the event's second beat passes meanwhile,
    EXPECT_EQ(core->add_partial_sum(1, -1000), 1u);   // so the partial sum goes in at once
    EXPECT_EQ(core->add_partial_sum(7, amax), 1u);    // one beat: the next command follows at once
    EXPECT_EQ(core->add_partial_sum(7, 5), 1u);       // saturates
    TickResult t;
    EXPECT_EQ(core->read_out(t), 1u + 2u + 3u);
    const std::vector<int64_t> acc = {300, -1300, 0, 0, 0, 0, 0, amax};
    EXPECT_EQ(t.accumulators, acc);
    EXPECT_EQ(t.membranes, std::vector<int32_t>(8, 0));
    EXPECT_EQ(t.spike_count, 0);
    EXPECT_EQ(core->tick(t), 6u);                    // cleared by the readout: x = 0 everywhere
    EXPECT_EQ(t.membranes, std::vector<int32_t>(8, 0));
    EXPECT_TRUE(t.accumulators.empty());
    core->add_partial_sum(0, 300);
    core->tick(t);                                   // v0 = 0 + (300 >> 1)
    EXPECT_EQ(t.membranes[0], 150);
    core->add_partial_sum(0, -7);
    core->read_out(t);                               // membranes as they are
    EXPECT_EQ(t.membranes[0], 150);
    EXPECT_EQ(t.accumulators[0], -7);
    EXPECT_EQ(core->stats().partial_sums, 5u);
    EXPECT_EQ(core->stats().readouts, 2u);
    EXPECT_EQ(core->stats().ticks, 2u);
    EXPECT_THROW(core->add_partial_sum(0, amax + 1), std::out_of_range);
    const uint64_t before = core->cycles(), clocked = core->stats().idle_cycles_clocked;
    core->idle(1000);   // evaluated only until the last output beat has left (idle), then counted
    EXPECT_EQ(core->cycles(), before + 1000);
    EXPECT_EQ(core->stats().idle_cycles_clocked, clocked + 1);
  }
}

// The neuron parameter table on small: each neuron a different model of docs/numerics.md §4.8a,
// every neuron fed x = 300 per token (weight 3 x graded 100, multiplier 1.0).
//   0 SpikeGPT's LIF (never written)   150, 225, 262 -> spike, 0
//   1 IF, theta 1000, >, to v_reset 5  300, 600, 900, 1200 -> spike, 5
//   2 IF, subtract theta 1000          300, 600, 900, 1200 -> spike, 200
//   3 CubaLI, di = dv = 1.0, no leak   0, 300, 600, 900: the current arrives one tick late
//   4 NIR LIF, dv 0.25, >, theta 256   75, 131 (56.25), 173 (42.25), 204 (31.75)
TEST(NeuronCoreBackend, HandWorkedNeuronParameterTable) {
  for (auto& core : both("small")) {
    SCOPED_TRACE(core->backend_name());
    const std::vector<int32_t> weights(8, 3);
    core->load_weights(weights.data(), 1, 8);
    core->load_multipliers(std::vector<q::Multiplier>(8, q::Multiplier{1 << 30, 30}));
    q::NeuronParams integrate;
    integrate.leak = false;
    integrate.dv = 4096;
    integrate.theta = 1000;
    integrate.fire_ge = false;
    integrate.v_reset = 5;
    q::NeuronParams subtract = integrate;
    subtract.reset_mode = q::ResetMode::kSubtract;
    q::NeuronParams cuba = integrate;
    cuba.current = true;
    cuba.di = 4096;
    cuba.reset_mode = q::ResetMode::kNone;
    q::NeuronParams nir_lif;
    nir_lif.dv = 1024;
    nir_lif.fire_ge = false;
    EXPECT_EQ(core->set_neuron_params(1, integrate), 1u);   // one cycle each on an idle core
    EXPECT_EQ(core->load_neuron_params({q::NeuronParams::spikegpt_lif(), integrate, subtract, cuba, nir_lif}), 5u);
    const std::vector<std::vector<int32_t>> v = {
        {150, 225, 0, 150}, {300, 600, 900, 5}, {300, 600, 900, 200}, {0, 300, 600, 900}, {75, 131, 173, 204}};
    const std::vector<std::vector<int>> spikes = {{0, 0, 1, 0}, {0, 0, 0, 1}, {0, 0, 0, 1}, {0, 0, 0, 0}, {0, 0, 0, 0}};
    TickResult t;
    for (int token = 0; token < 4; ++token) {
      core->apply(AxonEvent{0, EventKind::kGradedUnsigned, 100, false});
      EXPECT_EQ(core->tick(t), 7u);   // the timing of a tick does not depend on the neuron model
      for (int n = 0; n < 5; ++n) {
        EXPECT_EQ(t.membranes[n], v[n][token]) << "neuron " << n << ", token " << token;
        EXPECT_EQ(t.spikes[n], spikes[n][token]) << "neuron " << n << ", token " << token;
      }
    }
    core->read_out(t);   // the state stays, the current stage's included
    core->apply(AxonEvent{0, EventKind::kGradedUnsigned, 0, false});
    core->tick(t);
    EXPECT_EQ(t.membranes[3], 1200);   // 900 + the previous token's 300
    core->reset();                     // the state only: the table stays
    core->apply(AxonEvent{0, EventKind::kGradedUnsigned, 100, false});
    core->tick(t);
    EXPECT_EQ(t.membranes[1], 300);
    EXPECT_EQ(t.membranes[3], 0);
    // SpikeGPT's LIF again: 1 cycle until the tick's last beat leaves the output register (idle),
    // 1 for the reset. Then 300 + ((300 - 300) >> 1) fires.
    EXPECT_EQ(core->reset_neuron_params(), 2u);
    core->apply(AxonEvent{0, EventKind::kGradedUnsigned, 100, false});
    core->tick(t);
    EXPECT_EQ(t.spikes[1], 1);
    EXPECT_EQ(t.membranes[1], 0);
    EXPECT_EQ(t.membranes[3], 150);
    EXPECT_EQ(core->stats().writes, 16u * 2u + 8u + 7u);   // weight words, multipliers, table
  }
}

TEST(NeuronCoreBackend, RejectsInvalidNeuronParameters) {
  for (auto& core : both("narrow")) {   // 12-bit membranes
    SCOPED_TRACE(core->backend_name());
    const auto message = [&](int neuron, const q::NeuronParams& p) -> std::string {
      try {
        core->set_neuron_params(neuron, p);
      } catch (const std::out_of_range& e) {
        return e.what();
      }
      return "no error";
    };
    q::NeuronParams p;
    EXPECT_NE(message(8, p).find("neuron 8 outside [0, 8)"), std::string::npos) << message(8, p);
    p.dv = 4097;
    EXPECT_EQ(message(2, p), "neuron core 'narrow': neuron 2: neuron parameter dv = 4097 outside [0, 4096] "
                             "(dt/tau_mem in Q.12)");
    p = q::NeuronParams{};
    p.theta = 2048;
    EXPECT_EQ(message(0, p), "neuron core 'narrow': neuron 0: neuron parameter theta = 2048 outside [-2048, 2047] "
                             "(12-bit membrane, Q.8)");
    p = q::NeuronParams{};
    p.reset_mode = q::ResetMode(3);
    EXPECT_NE(message(0, p).find("reset_mode = 3"), std::string::npos);
    EXPECT_THROW(core->load_neuron_params(std::vector<q::NeuronParams>(9)), std::out_of_range);
    EXPECT_EQ(core->cycles(), 0u);   // nothing reached the core
  }
}

void expect_backends_agree(const std::string& config, uint64_t cycles, uint64_t seed) {
  auto ref = make_neuron_core_backend("reference", find_rtl_model(config));
  auto rtl = make_neuron_core_backend("verilated", find_rtl_model(config));
  ComparisonOptions opt;
  opt.cycles = cycles;
  opt.seed = seed;
  const ComparisonResult r = compare_backends(*ref, *rtl, opt);
  EXPECT_EQ(r.mismatches, 0u) << comparison_summary(r);
  EXPECT_GT(r.ticks, 100u);
  EXPECT_GT(r.spikes, 0u);
  EXPECT_GE(r.a.stats.total(), cycles);
  EXPECT_EQ(r.a.stats.total(), r.b.stats.total());
  EXPECT_GT(r.b.stats.resets, 0u);
  EXPECT_GT(r.b.stats.partial_sums, 0u);
  EXPECT_GT(r.b.stats.readouts, 0u);
}

TEST(NeuronCoreBackend, ReferenceAndVerilatedAgreeSmall) { expect_backends_agree("small", 400'000, 7); }
TEST(NeuronCoreBackend, ReferenceAndVerilatedAgreeNarrow) { expect_backends_agree("narrow", 400'000, 8); }
TEST(NeuronCoreBackend, ReferenceAndVerilatedAgreeDefault) { expect_backends_agree("default", 400'000, 9); }

// Every injected bug of the mutation table is seen through the interface, not only by the bench.
TEST(NeuronCoreBackend, VerilatedBackendCatchesEveryMutant) {
  for (const auto& m : rtl_models()) {
    if (m.mutant == 0) continue;
    SCOPED_TRACE(m.name);
    auto ref = make_neuron_core_backend("reference", m);
    auto rtl = make_neuron_core_backend("verilated", m);
    ComparisonOptions opt;
    opt.cycles = 3'000'000;   // mutant 5 (wrapping accumulator) needs the accumulator scenario
    opt.stop_at_first = true;
    const ComparisonResult r = compare_backends(*ref, *rtl, opt);
    EXPECT_GT(r.mismatches, 0u) << comparison_summary(r);
  }
}

TEST(NeuronCoreBackend, RejectsWhatTheCoreCannotHold) {
  for (auto& core : both("small")) {
    SCOPED_TRACE(core->backend_name());
    const int32_t too_big = 128;
    EXPECT_THROW(core->set_weights(0, 0, &too_big, 1), std::out_of_range);
    EXPECT_THROW(core->set_weights(16, 0, &too_big, 0), std::out_of_range);   // axon 16 of 16
    EXPECT_THROW(core->apply(AxonEvent{0, EventKind::kGradedSigned, 128, false}), std::out_of_range);
    EXPECT_THROW(core->apply(AxonEvent{0, EventKind::kGradedUnsigned, -1, false}), std::out_of_range);
    EXPECT_THROW(core->apply(AxonEvent{0, EventKind::kBitSerial, 8, false}), std::out_of_range);
    EXPECT_THROW(core->set_multiplier(8, q::Multiplier{1 << 30, 30}), std::out_of_range);
    EXPECT_THROW(core->set_multiplier(0, q::Multiplier{1 << 30, -65}), std::out_of_range);
    const std::vector<int32_t> tile(17 * 8, 0);
    EXPECT_THROW(core->load_weights(tile.data(), 17, 8), std::out_of_range);
    try {
      core->set_weights(0, 0, &too_big, 1);
    } catch (const std::out_of_range& e) {
      EXPECT_NE(std::string(e.what()).find("[-128, 127]"), std::string::npos) << e.what();
    }
    EXPECT_EQ(core->cycles(), 0u);   // nothing reached the core
  }
  EXPECT_THROW(make_neuron_core_backend("systemc", find_rtl_model("small")), std::invalid_argument);
  EXPECT_THROW(find_rtl_model("small", 99), std::invalid_argument);
}

}  // namespace
}  // namespace spiketile::rtl
