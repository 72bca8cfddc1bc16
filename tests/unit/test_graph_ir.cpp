// The token-step graph IR: structure, shapes, formats, state and the encoding rule.
#include <gtest/gtest.h>

#include <map>

#include "compiler/graph.hpp"
#include "models/random_weights.hpp"

namespace spiketile {
namespace {

QuantizedSpikeGpt tiny_model(const ModelConfig& c) {
  GoldenModel golden(SpikeGptWeights::from_file(random_spikegpt_checkpoint(c, 1), {}), 1);
  return QuantizedSpikeGpt::build(golden.weights(), calibrate(golden, {1, 2, 3, 4}, "t"), {});
}

TEST(GraphIr, OneNodePerOpAndCrossbarShapesFromTheModel) {
  const ModelConfig c{7, 16, 77};
  const ir::Graph g = ir::build_token_graph(tiny_model(c), {});
  std::map<Op, int> per_op;
  for (const auto& n : g.nodes) ++per_op[n.op];
  EXPECT_EQ(per_op[Op::AttKey], 7);
  EXPECT_EQ(per_op[Op::FfnLif], 7);
  EXPECT_EQ(per_op[Op::Rescale], 1);  // after layer 5 only, for 7 layers
  EXPECT_EQ(per_op[Op::Head], 1);
  using Shape = std::pair<int64_t, int64_t>;
  for (const auto& n : g.nodes) {
    const Shape shape{n.weight_rows, n.weight_cols};
    if (n.op == Op::FfnKey) {
      EXPECT_EQ(shape, (Shape{64, 16}));
    } else if (n.op == Op::FfnValue) {
      EXPECT_EQ(shape, (Shape{16, 64}));
    } else if (n.op == Op::Head) {
      EXPECT_EQ(shape, (Shape{77, 16}));
    }
    if (n.unit == ir::Unit::Crossbar) {
      EXPECT_EQ(n.weight_bits, 8);
    }
  }
}

TEST(GraphIr, EncodingRuleBinarySpikesGradedActivationsWideInternals) {
  const ir::Graph g = ir::build_token_graph(tiny_model({2, 16, 77}), {8});
  std::map<std::string, ir::Encoding> enc;
  for (const auto& t : g.tensors) enc[t.name] = t.encoding;
  EXPECT_EQ(enc["L0.att.spikes"], ir::Encoding::Binary);
  EXPECT_EQ(enc["embedding"], ir::Encoding::Binary);   // vocab 77: binary embedding
  EXPECT_EQ(enc["L1.att.xk"], ir::Encoding::Graded);
  EXPECT_EQ(enc["L1.ffn.h"], ir::Encoding::Graded);
  EXPECT_EQ(enc["L0.att.k"], ir::Encoding::Wide);
  // With a 4-bit graded payload the 8-bit activations must go bit-serial.
  const ir::Graph narrow = ir::build_token_graph(tiny_model({2, 16, 77}), {4});
  for (const auto& t : narrow.tensors) {
    if (t.name == "L1.ffn.h") {
      EXPECT_EQ(t.encoding, ir::Encoding::BitSerial);
    }
  }
}

TEST(GraphIr, RecurrentStateMatchesTheModel) {
  // Per layer: two token-shift vectors, WKV a/b/p and two membranes: 7·C values, as upstream.
  const ModelConfig c{3, 16, 40};
  const ir::Graph g = ir::build_token_graph(tiny_model(c), {});
  int64_t values = 0;
  for (const auto& n : g.nodes)
    for (const auto& s : n.state) values += s.size;
  EXPECT_EQ(values, 7 * c.n_layer * c.n_embd);
  const std::string text = g.to_text();
  EXPECT_NE(text.find("state: L2.att.wkv.p[16] 32 bits"), std::string::npos);
  EXPECT_NE(text.find("W[64x16] i8"), std::string::npos);
}

}  // namespace
}  // namespace spiketile
