#include "models/event_counts.hpp"

#include <nlohmann/json.hpp>

namespace sf {

const char* op_name(Op op) {
  static const char* names[] = {"embedding", "ln0", "ln1", "att.shift", "att.receptance", "att.key", "att.value",
                                "att.wkv", "att.gate", "att.output", "att.lif", "att.residual", "ln2", "ffn.shift",
                                "ffn.receptance", "ffn.key", "ffn.relu2", "ffn.value", "ffn.gate", "ffn.lif",
                                "ffn.residual", "rescale", "ln_out", "head"};
  static_assert(sizeof(names) / sizeof(names[0]) == kOpCount);
  return names[int(op)];
}

bool op_is_per_layer(Op op) { return op != Op::Embedding && op != Op::Ln0 && op != Op::LnOut && op != Op::Head; }

const char* sfu_name(Sfu s) {
  static const char* names[] = {"mean_var", "rsqrt", "divide", "multiply", "exp", "sigmoid"};
  static_assert(sizeof(names) / sizeof(names[0]) == kSfuCount);
  return names[int(s)];
}

Counts& Counts::operator+=(const Counts& o) {
  events_binary += o.events_binary;
  events_graded += o.events_graded;
  events_bit_serial += o.events_bit_serial;
  sop_binary += o.sop_binary;
  sop_graded += o.sop_graded;
  sop_bit_serial += o.sop_bit_serial;
  dense_macs += o.dense_macs;
  neuron_updates += o.neuron_updates;
  spikes += o.spikes;
  for (int i = 0; i < kSfuCount; ++i) sfu[i] += o.sfu[i];
  synapse_read_bits += o.synapse_read_bits;
  state_read_bytes += o.state_read_bytes;
  state_write_bytes += o.state_write_bytes;
  output_bytes += o.output_bytes;
  return *this;
}

bool Counts::operator==(const Counts& o) const {
  return events_binary == o.events_binary && events_graded == o.events_graded &&
         events_bit_serial == o.events_bit_serial && sop_binary == o.sop_binary && sop_graded == o.sop_graded &&
         sop_bit_serial == o.sop_bit_serial && dense_macs == o.dense_macs && neuron_updates == o.neuron_updates &&
         spikes == o.spikes && sfu == o.sfu && synapse_read_bits == o.synapse_read_bits &&
         state_read_bytes == o.state_read_bytes && state_write_bytes == o.state_write_bytes &&
         output_bytes == o.output_bytes;
}

nlohmann::json Counts::to_json() const {
  nlohmann::json sfu_json;
  for (int i = 0; i < kSfuCount; ++i) sfu_json[sfu_name(Sfu(i))] = sfu[i];
  return {{"events", {{"binary", events_binary}, {"graded", events_graded}, {"bit_serial", events_bit_serial}}},
          {"sop", {{"binary", sop_binary}, {"graded", sop_graded}, {"bit_serial", sop_bit_serial}}},
          {"dense_macs", dense_macs},
          {"neuron_updates", neuron_updates},
          {"spikes", spikes},
          {"sfu", sfu_json},
          {"synapse_read_bits", synapse_read_bits},
          {"state_read_bytes", state_read_bytes},
          {"state_write_bytes", state_write_bytes},
          {"output_bytes", output_bytes}};
}

void TokenCounts::reset(int n_layer) {
  layers.assign(n_layer, {});
  global = {};
}

Counts TokenCounts::total() const {
  Counts t;
  for (const auto& c : global) t += c;
  for (std::size_t i = 0; i < layers.size(); ++i) t += layer_total(int(i));
  return t;
}

Counts TokenCounts::layer_total(int layer) const {
  Counts t;
  for (const auto& c : layers[layer]) t += c;
  return t;
}

TokenCounts& TokenCounts::operator+=(const TokenCounts& o) {
  if (layers.empty()) layers.assign(o.layers.size(), {});
  for (std::size_t i = 0; i < layers.size(); ++i)
    for (int k = 0; k < kOpCount; ++k) layers[i][k] += o.layers[i][k];
  for (int k = 0; k < kOpCount; ++k) global[k] += o.global[k];
  return *this;
}

bool TokenCounts::operator==(const TokenCounts& o) const { return layers == o.layers && global == o.global; }

nlohmann::json TokenCounts::to_json() const {
  nlohmann::json j;
  for (int k = 0; k < kOpCount; ++k)
    if (!op_is_per_layer(Op(k))) j["global"][op_name(Op(k))] = global[k].to_json();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    nlohmann::json layer;
    for (int k = 0; k < kOpCount; ++k)
      if (op_is_per_layer(Op(k))) layer[op_name(Op(k))] = layers[i][k].to_json();
    j["layers"].push_back(layer);
  }
  j["total"] = total().to_json();
  return j;
}

}  // namespace sf
