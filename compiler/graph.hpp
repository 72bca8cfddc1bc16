// Graph IR of one SpikeGPT token step under the integer contract: ops, the tensors between
// them with shape and integer format, and the recurrent state each op keeps. Built from a
// QuantizedSpikeGpt; the lowering walks it to place work onto crossbars, neuron units and SFUs.
#pragma once

#include <string>
#include <vector>

#include "models/event_counts.hpp"
#include "models/quantized.hpp"

namespace spiketile::ir {

// Where an op can run on the chip.
enum class Unit { Host, Crossbar, NeuronUnit, Sfu };
const char* unit_name(Unit u);

// How a tensor travels between cores (docs/numerics.md §3).
enum class Encoding { Binary, Graded, BitSerial, Wide };
const char* encoding_name(Encoding e);

struct Format {
  int bits = 8;
  bool is_signed = true;
  std::string meaning;   // "Q.12", "scale s_z (calibrated)", "spike", ...
  std::string str() const;
};

struct Tensor {
  int id = -1;
  std::string name;      // "L0.att.z"
  int64_t size = 0;
  Format format;
  Encoding encoding = Encoding::Graded;
  bool feeds_crossbar = false;
};

struct State {
  std::string name;      // "L0.att.wkv.a"
  int64_t size = 0;
  int bits = 0;
};

struct Node {
  int id = -1;
  Op op = Op::Embedding;
  int layer = -1;        // -1 for global ops
  Unit unit = Unit::Sfu;
  std::vector<int> inputs, outputs;
  std::vector<State> state;
  int64_t weight_rows = 0, weight_cols = 0;   // crossbar ops
  int weight_bits = 0;
  std::string rule;      // the numerics rule it applies (docs/numerics.md section)
};

// Chooses each tensor's network encoding: 1-bit tensors are binary; a multi-bit tensor that
// feeds a crossbar is graded when it fits the chip's graded payload, else bit-serial; values
// wider than any activation (partial sums, currents, WKV operands) travel as wide words.
struct EncodingRule {
  int graded_payload_bits = 8;
  Encoding choose(const Tensor& t) const;
  std::string describe() const;
};

struct Graph {
  ModelConfig config;
  std::vector<Tensor> tensors;
  std::vector<Node> nodes;   // in execution order
  EncodingRule encoding_rule;

  const Tensor& tensor(int id) const { return tensors[id]; }
  std::string to_text() const;   // --dump-ir
};

Graph build_token_graph(const QuantizedSpikeGpt& model, const EncodingRule& rule);

}  // namespace spiketile::ir
