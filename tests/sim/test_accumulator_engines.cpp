// The accumulation engines on hand-worked tiles: every engine (cpp; rtl on the reference and the
// verilated core) gives the accumulators and spikes computed here by hand — which pins down the
// weight transposition onto the core's axons, signed and unsigned graded inputs, partial sums,
// the clear between tokens and the membrane kept across them. No SystemC elaboration.
#include <gtest/gtest.h>

#include "sim/accumulator_engines.hpp"

namespace spiketile::sim {
namespace {

struct Engines {
  std::vector<std::unique_ptr<AccumulatorEngine>> all;
  explicit Engines(const CrossbarTile& t) {
    all.push_back(accumulator_engine_factory("cpp")(t));
    all.push_back(accumulator_engine_factory("rtl", {{"backend", "reference"}})(t));
    all.push_back(accumulator_engine_factory("rtl", {{"backend", "verilated"}})(t));
  }
};

Unit named(const std::string& name) {
  Unit u;
  u.name = name;
  return u;
}

TEST(AccumulatorEngines, SignedAndUnsignedInputsAndPartialSumsGiveTheHandWorkedAccumulators) {
  const Unit unit = named("hand");
  // rows (outputs) × cols (inputs)
  const std::vector<int8_t> w = {1, -2, 3,
                                 4, 5, -6};
  CrossbarTile t;
  t.unit = &unit;
  t.weights = w.data();
  t.rows = 2;
  t.cols = 3;
  Engines signed_tile(t);
  for (auto& e : signed_tile.all) {
    SCOPED_TRACE(e->name());
    e->activation(0, 10);
    e->activation(2, -3);
    e->partial_sum(0, 100);
    e->partial_sum(1, -7);
    int64_t acc[2];
    e->read_out(acc);
    EXPECT_EQ(acc[0], 10 * 1 + -3 * 3 + 100);     // 101
    EXPECT_EQ(acc[1], 10 * 4 + -3 * -6 - 7);      // 51
    e->activation(1, -128);                        // the next token starts from zero
    e->read_out(acc);
    EXPECT_EQ(acc[0], 256);
    EXPECT_EQ(acc[1], -640);
  }
  t.unsigned_inputs = true;   // ffn.h: 0..255
  Engines unsigned_tile(t);
  for (auto& e : unsigned_tile.all) {
    SCOPED_TRACE(e->name());
    e->activation(0, 200);
    e->activation(2, 255);
    int64_t acc[2];
    e->read_out(acc);
    EXPECT_EQ(acc[0], 200 + 765);
    EXPECT_EQ(acc[1], 800 - 1530);
  }
}

// Multiplier 2^30 · 2^-30 = 1: the current is the accumulator. LIF v ← v + ((x − v) >> 1), fire at
// v ≥ 256, reset to 0. Row 0: x = 600 → v = 300, fires, twice. Row 1: x = 400 → v = 200 (no spike),
// then 200 + 100 = 300: fires on the second token only, because the membrane was kept.
TEST(AccumulatorEngines, LifTickKeepsTheMembraneAcrossTokens) {
  const Unit unit = named("lif");
  const std::vector<int8_t> w = {6, 0, 0,
                                 0, 8, 0};
  CrossbarTile t;
  t.unit = &unit;
  t.weights = w.data();
  t.rows = 2;
  t.cols = 3;
  t.lif = true;
  t.lif_current = {q::Multiplier{1 << 30, 30}, q::Multiplier{1 << 30, 30}};
  Engines engines(t);
  for (auto& e : engines.all) {
    SCOPED_TRACE(e->name());
    uint8_t spikes[2];
    int32_t membranes[2];
    for (int token = 0; token < 2; ++token) {
      e->activation(0, 100);
      e->activation(1, 50);
      e->fire_lif(spikes, membranes);
      EXPECT_EQ(spikes[0], 1) << "token " << token;
      EXPECT_EQ(spikes[1], token == 1 ? 1 : 0) << "token " << token;
      EXPECT_EQ(membranes[0], 0) << "reset after the spike, token " << token;
      EXPECT_EQ(membranes[1], token == 1 ? 0 : 200) << "token " << token;
    }
    e->reset_state();   // membranes back to 0: row 1 needs two tokens again
    e->activation(1, 50);
    e->fire_lif(spikes, membranes);
    EXPECT_EQ(spikes[1], 0);
    EXPECT_EQ(membranes[1], 200);
  }
}

TEST(AccumulatorEngines, UnknownEngineOrParameterIsNamed) {
  try {
    accumulator_engine_factory("fpga");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("engines: cpp, rtl"), std::string::npos) << e.what();
  }
  try {
    accumulator_engine_factory("rtl", {{"lanes", "8"}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("parameters: backend, model"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace spiketile::sim
