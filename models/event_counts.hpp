// Action counts of quantized SpikeGPT (docs/numerics.md §5): what each op did, per layer,
// per token. Levels count; only the report turns counts into energy.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace spiketile {

// Ops of one token step, in execution order. Layer ops repeat per layer; the first and last
// three are global.
enum class Op {
  Embedding, Ln0,
  Ln1, AttShift, AttReceptance, AttKey, AttValue, AttWkv, AttGate, AttOutput, AttLif, AttResidual,
  Ln2, FfnShift, FfnReceptance, FfnKey, FfnRelu2, FfnValue, FfnGate, FfnLif, FfnResidual, Rescale,
  LnOut, Head,
  kCount
};
const char* op_name(Op op);
bool op_is_per_layer(Op op);
constexpr int kOpCount = int(Op::kCount);

enum class Sfu { MeanVar, Rsqrt, Divide, Multiply, Exp, Sigmoid, kCount };
const char* sfu_name(Sfu s);
constexpr int kSfuCount = int(Sfu::kCount);

struct Counts {
  // Events entering the op's synapses, by encoding, and the synaptic operations they cause
  // (SOP = one weight read-and-accumulate at one destination neuron; docs/numerics.md §3).
  int64_t events_binary = 0, events_graded = 0, events_bit_serial = 0;
  int64_t sop_binary = 0, sop_graded = 0, sop_bit_serial = 0;
  int64_t dense_macs = 0;          // what a dense engine would do for the same op
  int64_t neuron_updates = 0;      // neuron-unit element updates (LIF, requantize, ReLU², ...)
  int64_t spikes = 0;              // binary events produced
  std::array<int64_t, kSfuCount> sfu{};
  int64_t synapse_read_bits = 0;   // crossbar weight bits read (exact under any tiling)
  int64_t state_read_bytes = 0, state_write_bytes = 0;
  int64_t output_bytes = 0;        // dense size of the op's output tensor in its integer format

  Counts& operator+=(const Counts& o);
  Counts& operator-=(const Counts& o);  // what happened between two snapshots
  bool operator==(const Counts& o) const;
  nlohmann::json to_json() const;
  // Inverse of to_json; throws std::invalid_argument naming a missing or mistyped field.
  static Counts from_json(const nlohmann::json& j);
};

// One token's counts: [layer][op] for layer ops, global ops kept in a separate row.
struct TokenCounts {
  std::vector<std::array<Counts, kOpCount>> layers;
  std::array<Counts, kOpCount> global{};

  void reset(int n_layer);
  Counts& at(int layer, Op op) { return op_is_per_layer(op) ? layers[layer][int(op)] : global[int(op)]; }
  const Counts& at(int layer, Op op) const { return op_is_per_layer(op) ? layers[layer][int(op)] : global[int(op)]; }
  Counts total() const;
  Counts layer_total(int layer) const;
  TokenCounts& operator+=(const TokenCounts& o);
  bool operator==(const TokenCounts& o) const;
  nlohmann::json to_json() const;
  // Inverse of to_json (the "total" entry is recomputed, not read).
  static TokenCounts from_json(const nlohmann::json& j);
};

}  // namespace spiketile
