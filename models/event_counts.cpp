#include "models/event_counts.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace spiketile {

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

namespace {
// Every scalar field with its JSON path, so arithmetic, comparison and (de)serialisation
// cannot drift apart when a field is added.
struct CountField {
  const char* group;  // nullptr for a top-level key
  const char* key;
  int64_t Counts::*member;
};
constexpr CountField kCountFields[] = {
    {"events", "binary", &Counts::events_binary},
    {"events", "graded", &Counts::events_graded},
    {"events", "bit_serial", &Counts::events_bit_serial},
    {"sop", "binary", &Counts::sop_binary},
    {"sop", "graded", &Counts::sop_graded},
    {"sop", "bit_serial", &Counts::sop_bit_serial},
    {nullptr, "dense_macs", &Counts::dense_macs},
    {nullptr, "neuron_updates", &Counts::neuron_updates},
    {nullptr, "spikes", &Counts::spikes},
    {nullptr, "synapse_read_bits", &Counts::synapse_read_bits},
    {nullptr, "state_read_bytes", &Counts::state_read_bytes},
    {nullptr, "state_write_bytes", &Counts::state_write_bytes},
    {nullptr, "output_bytes", &Counts::output_bytes},
};

int64_t required_count(const nlohmann::json& parent, const char* key, const std::string& where) {
  auto found = parent.find(key);
  if (found == parent.end() || !found->is_number_integer())
    throw std::invalid_argument(fmt::format("event counts: '{}{}' is missing or not an integer", where, key));
  // A count read as unsigned above INT64_MAX would wrap to a negative one.
  if (found->is_number_unsigned() && found->get<uint64_t>() > uint64_t(INT64_MAX))
    throw std::invalid_argument(fmt::format("event counts: '{}{}' is {}, above the largest count ({})", where, key,
                                            found->dump(), INT64_MAX));
  const int64_t count = found->get<int64_t>();
  if (count < 0) throw std::invalid_argument(fmt::format("event counts: '{}{}' is {}, below 0", where, key, count));
  return count;
}
}  // namespace

// Sums of counts read from files could leave int64: an error naming the count, not a wrap.
static void add_count(int64_t& sum, int64_t add, const char* group, const char* key) {
  if (__builtin_add_overflow(sum, add, &sum))
    throw std::overflow_error(fmt::format("event counts: the sum of '{}{}{}' leaves the 64-bit range",
                                          group ? group : "", group ? "." : "", key));
}

Counts& Counts::operator+=(const Counts& o) {
  for (const auto& f : kCountFields) add_count(this->*f.member, o.*f.member, f.group, f.key);
  for (int i = 0; i < kSfuCount; ++i) add_count(sfu[i], o.sfu[i], "sfu", sfu_name(Sfu(i)));
  return *this;
}

Counts& Counts::operator-=(const Counts& o) {
  for (const auto& f : kCountFields) this->*f.member -= o.*f.member;
  for (int i = 0; i < kSfuCount; ++i) sfu[i] -= o.sfu[i];
  return *this;
}

bool Counts::operator==(const Counts& o) const {
  for (const auto& f : kCountFields)
    if (this->*f.member != o.*f.member) return false;
  return sfu == o.sfu;
}

nlohmann::json Counts::to_json() const {
  nlohmann::json j;
  for (const auto& f : kCountFields) {
    if (f.group) j[f.group][f.key] = this->*f.member;
    else j[f.key] = this->*f.member;
  }
  for (int i = 0; i < kSfuCount; ++i) j["sfu"][sfu_name(Sfu(i))] = sfu[i];
  return j;
}

Counts Counts::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("event counts: expected an object");
  Counts c;
  for (const auto& f : kCountFields) {
    if (!f.group) {
      c.*f.member = required_count(j, f.key, "");
      continue;
    }
    auto group = j.find(f.group);
    if (group == j.end() || !group->is_object())
      throw std::invalid_argument(fmt::format("event counts: '{}' is missing or not an object", f.group));
    c.*f.member = required_count(*group, f.key, std::string(f.group) + ".");
  }
  auto sfu_json = j.find("sfu");
  if (sfu_json == j.end() || !sfu_json->is_object())
    throw std::invalid_argument("event counts: 'sfu' is missing or not an object");
  for (int i = 0; i < kSfuCount; ++i) c.sfu[i] = required_count(*sfu_json, sfu_name(Sfu(i)), "sfu.");
  return c;
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

TokenCounts TokenCounts::from_json(const nlohmann::json& j) {
  TokenCounts t;
  auto layers = j.find("layers");
  const std::size_t n_layer = layers != j.end() && layers->is_array() ? layers->size() : 0;
  t.reset(int(n_layer));
  for (int k = 0; k < kOpCount; ++k) {
    const Op op = Op(k);
    if (!op_is_per_layer(op)) {
      auto found = j.contains("global") ? j["global"].find(op_name(op)) : j.end();
      if (!j.contains("global") || found == j["global"].end())
        throw std::invalid_argument(fmt::format("event counts: 'global.{}' is missing", op_name(op)));
      t.global[k] = Counts::from_json(*found);
      continue;
    }
    for (std::size_t i = 0; i < n_layer; ++i) {
      const auto& layer = (*layers)[i];
      auto found = layer.find(op_name(op));
      if (found == layer.end())
        throw std::invalid_argument(fmt::format("event counts: 'layers[{}].{}' is missing", i, op_name(op)));
      t.layers[i][k] = Counts::from_json(*found);
    }
  }
  return t;
}

}  // namespace spiketile
