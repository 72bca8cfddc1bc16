#include "compiler/mapping_io.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <type_traits>

#include "chips/utf8.hpp"
#include "models/checkpoint_io.hpp"
#include "models/output_file.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the mapping file is little endian and is read and written with plain copies");

namespace spiketile {

namespace {

using checkpoint_io::Crc32;

enum Section : int {
  kModel, kChip, kUnits, kFlows, kHost, kPlacement, kRouting, kDecisions, kEstimate, kTokenizer, kNir, kSectionCount
};
// Version 3 had the sections before kTokenizer, version 4 those before kNir; versions 5 and 6 have
// them all (6 adds a field to 'model').
constexpr int kVersion3SectionCount = kTokenizer;
constexpr int kVersion4SectionCount = kNir;
// The first version whose 'model' section ends with spike_input_steps.
constexpr uint32_t kFirstVersionWithSpikeInputs = 6;

// How many values each stored enumeration has (its last value + 1).
constexpr int kUnitKinds = int(UnitKind::NirCrossbar) + 1;
constexpr int kNeuronFunctions = int(NeuronFunction::NirReadout) + 1;
constexpr int kMappingKinds = int(MappingKind::Nir) + 1;
constexpr int kNirOutputs = int(NirProgram::Output::Readout) + 1;
static_assert(sizeof(int) == sizeof(int32_t), "NirProgram::flow_projection is stored as i32 with plain copies");

// Layout of the fixed part (docs/mapping-format.md, "File layout").
constexpr uint64_t kHeaderBytes = 24;       // magic, version, section count, file size
constexpr uint64_t kTableEntryBytes = 32;   // name[16], offset, length
constexpr uint64_t kSectionNameBytes = 16;
// Where the section table of `sections` entries ends (its CRC follows) and the first section starts.
constexpr uint64_t table_end(uint64_t sections) { return kHeaderBytes + sections * kTableEntryBytes; }
constexpr uint64_t first_section_offset(uint64_t sections) { return table_end(sections) + 4; }
constexpr uint64_t kTableEnd = table_end(kSectionCount);
constexpr uint64_t kFirstSectionOffset = first_section_offset(kSectionCount);
constexpr uint64_t kCrcBytes = 4;

// Smallest encoded size of each repeated record, so a count can be checked against the bytes left
// before anything is allocated for it.
constexpr uint64_t kMinUnitBytes = 4 + 4 + 3 + 4 + 4 * 8 + 6 * 4 + 4 * 8 + 4;
constexpr uint64_t kMinParamBytes = 4 + 1 + 8 + 8;
constexpr uint64_t kMinFlowBytes = 4 + 4 + 2 + 4 + 8 + 8 + 4 + 8;
constexpr uint64_t kCoreBytes = 3 * 4;
constexpr uint64_t kRouteEntryBytes = 4 + 1 + 1 + 4 * 4;
constexpr uint64_t kMinStringBytes = 4;
constexpr uint64_t kMinPopulationBytes = 2 * kMinStringBytes + 8 + 1 + 8 + 3 * 8;
constexpr uint64_t kMinProjectionBytes = 4 + 4 + 1 + 4 + 8 + 4 + 8 + 8;

const char* nir_output_name(NirProgram::Output o) {
  switch (o) {
    case NirProgram::Output::Spikes: return "spikes";
    case NirProgram::Output::Membrane: return "membrane";
    case NirProgram::Output::Readout: return "readout";
  }
  return "?";
}

std::string hex_bytes(const unsigned char* bytes, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += fmt::format("{}{:02x}", i ? " " : "", bytes[i]);
  return out;
}

template <class T>
void store_le(unsigned char* at, T value) {
  std::memcpy(at, &value, sizeof value);
}
template <class T>
T load_le(const unsigned char* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Writing: one encoder, run twice per section — once into a byte counter (for the section table,
// which precedes the sections) and once into the file.

class CountingSink {
 public:
  void put(const void*, std::size_t n) { bytes_ += n; }
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t bytes_ = 0;
};

class FileSink {
 public:
  explicit FileSink(const std::string& path) : file_(path) {}

  void put(const void* bytes, std::size_t n) {
    if (n == 0) return;
    file_.write(bytes, n);
    file_crc_.update(bytes, n);
    section_crc_.update(bytes, n);
    written_ += n;
  }
  void start_section() { section_crc_ = Crc32(); }
  uint32_t section_crc() const { return section_crc_.value(); }
  uint32_t file_crc() const { return file_crc_.value(); }
  uint64_t written() const { return written_; }
  void commit() { file_.commit(); }

 private:
  OutputFile file_;
  Crc32 file_crc_, section_crc_;
  uint64_t written_ = 0;
};

template <class Sink, class T>
void put(Sink& sink, T value) {
  static_assert(std::is_arithmetic_v<T>);
  sink.put(&value, sizeof value);
}

template <class Sink>
void put_string(Sink& sink, const std::string& s, const char* field) {
  if (s.size() > std::numeric_limits<uint32_t>::max())
    throw MappingError(fmt::format("{} is {} bytes; the format stores strings up to 4 GiB", field, s.size()));
  put(sink, uint32_t(s.size()));
  sink.put(s.data(), s.size());
}

template <class Sink, class T>
void put_array(Sink& sink, const std::vector<T>& values) {
  put(sink, uint64_t(values.size()));
  sink.put(values.data(), values.size() * sizeof(T));
}

template <class Sink>
void write_model(Sink& s, const Mapping& m) {
  put(s, int32_t(m.config.n_layer));
  put(s, int32_t(m.config.n_embd));
  put(s, int32_t(m.config.vocab_size));
  put(s, int32_t(m.quant.weight_bits));
  put(s, int32_t(m.quant.activation_bits));
  put(s, int32_t(m.quant.membrane_bits));
  put(s, uint8_t(m.binary_embedding));
  put(s, uint8_t(m.rescale_every_6_layers));
  put(s, int32_t(m.encoding_rule.graded_payload_bits));
  put_string(s, m.model_source, "model_source");
  put(s, int32_t(m.config.spike_input_steps));
}

template <class Sink>
void write_chip(Sink& s, const Mapping& m) {
  put_string(s, m.chip_name, "chip_name");
  put_string(s, m.chip_yaml, "chip_yaml");
}

template <class Sink>
void write_units(Sink& s, const Mapping& m) {
  put(s, uint64_t(m.units.size()));
  for (const Unit& u : m.units) {
    put(s, int32_t(u.id));
    put_string(s, u.name, "unit name");
    put(s, uint8_t(u.kind));
    put(s, uint8_t(u.function));
    put(s, uint8_t(u.op));
    put(s, int32_t(u.layer));
    for (int64_t v : {u.in_begin, u.in_end, u.out_begin, u.out_end}) put(s, v);
    for (int v : {u.in_index, u.out_index, u.in_tiles, u.out_tiles, u.slice, u.slices}) put(s, int32_t(v));
    const UnitResources& r = u.resources;
    for (int64_t v : {r.axons, r.neurons, r.synapse_bytes, r.state_bytes}) put(s, v);
    if (u.params.size() > std::numeric_limits<uint32_t>::max())
      throw MappingError(fmt::format("unit {} ({}) has {} parameter arrays", u.id, u.name, u.params.size()));
    put(s, uint32_t(u.params.size()));
    for (const ParamArray& p : u.params) {
      put_string(s, p.name, "parameter name");
      put(s, uint8_t(p.type));
      put(s, int64_t(p.count));
      put(s, uint64_t(p.bytes.size()));
      s.put(p.bytes.data(), p.bytes.size());
    }
  }
}

template <class Sink>
void write_flows(Sink& s, const Mapping& m) {
  put(s, uint64_t(m.flows.size()));
  for (const MappedFlow& f : m.flows) {
    put(s, int32_t(f.source));
    put(s, uint32_t(f.destinations.size()));
    for (int d : f.destinations) put(s, int32_t(d));
    put(s, uint8_t(f.role));
    put(s, uint8_t(f.encoding));
    put_string(s, f.tensor, "flow tensor");
    put(s, int64_t(f.index_begin));
    put(s, int64_t(f.index_end));
    put(s, int32_t(f.payload_bits));
    put(s, f.flits_per_token);
  }
}

template <class Sink>
void write_host(Sink& s, const Mapping& m, const EmbeddingStream* embedding) {
  if (!embedding) {
    put_array(s, m.host.embedding);
  } else {
    // The same bytes as put_array of the whole table, produced row block by row block.
    put(s, uint64_t(embedding->values));
    if constexpr (std::is_same_v<Sink, CountingSink>) {
      s.put(nullptr, std::size_t(embedding->values) * sizeof(int32_t));
    } else {
      int64_t written = 0;
      embedding->produce([&](const int32_t* values, std::size_t count) {
        s.put(values, count * sizeof(int32_t));
        written += int64_t(count);
      });
      if (written != embedding->values)
        throw MappingError(fmt::format("the embedding stream produced {} values; the mapping needs {}", written,
                                       embedding->values));
    }
  }
  put_array(s, m.host.head_logit_scale);
}

template <class Sink>
void write_placement(Sink& s, const Mapping& m) {
  put(s, uint64_t(m.unit_cores.size()));
  for (const CoreCoord& c : m.unit_cores) {
    put(s, int32_t(c.chip));
    put(s, int32_t(c.row));
    put(s, int32_t(c.col));
  }
  const Placement& p = m.placement;
  for (double v : {p.cost, p.baseline_cost, p.constructive_cost, p.lower_bound, p.mesh_flit_hops_per_token,
                   p.inter_chip_flits_per_token})
    put(s, v);
  put_string(s, p.start, "placement start");
  put(s, int64_t(p.moves_proposed));
  put(s, int64_t(p.moves_accepted));
}

template <class Sink>
void write_routing(Sink& s, const Mapping& m) {
  put(s, uint8_t(m.routing_options.unicast_single_destination));
  put(s, uint8_t(m.routing_options.enforce_table_capacity));
  put(s, uint32_t(m.routing_tables.size()));
  for (const auto& table : m.routing_tables) {
    put(s, uint32_t(table.size()));
    for (const RouteEntry& e : table) {
      put(s, int32_t(e.flow));
      put(s, uint8_t(e.input_port));
      put(s, uint8_t(e.output_ports));
      for (int32_t next : e.next_index) put(s, next);
    }
  }
}

template <class Sink>
void write_decisions(Sink& s, const Mapping& m) {
  put(s, uint32_t(m.decisions.size()));
  for (const std::string& d : m.decisions) put_string(s, d, "decision");
}

template <class Sink>
void write_estimate(Sink& s, const Mapping& m) {
  const LatencyEstimate& e = m.estimate;
  put(s, int32_t(e.profile_tokens));
  for (double v : {e.cycles_per_token, e.packets_per_token, e.flits_injected_per_token, e.flits_delivered_per_token,
                   e.mesh_flit_hops_per_token, e.inter_chip_flits_per_token})
    put(s, v);
  put_array(s, e.unit_busy_cycles);
  put(s, uint32_t(e.stages.size()));
  for (const LatencyEstimate::Stage& st : e.stages) {
    put_string(s, st.tensor, "stage tensor");
    put(s, int32_t(st.layer));
    put(s, st.first_send);
    put(s, st.last_send);
  }
  put(s, uint32_t(e.critical_path.size()));
  for (const LatencyEstimate::PathStep& step : e.critical_path) {
    put(s, int32_t(step.unit));
    put(s, step.start);
    put(s, step.end);
  }
}

template <class Sink>
void write_tokenizer(Sink& s, const Mapping& m) {
  const TokenizerSource& t = m.tokenizer;
  put(s, uint8_t(t.kind));
  put_string(s, t.path, "tokenizer path");
  put_string(s, t.rule, "tokenizer rule");
  put_string(s, t.json, "tokenizer json");
}

// The kind, then the NirProgram's fields; a SpikeGPT mapping writes its (empty) program too, so the
// layout has no optional fields.
template <class Sink>
void write_nir(Sink& s, const Mapping& m) {
  const NirProgram& p = m.nir;
  put(s, uint8_t(m.kind));
  put_string(s, p.source_path, "nir source_path");
  put_array(s, p.input_shape);
  put_array(s, p.output_shape);
  put(s, p.dt);
  for (int v : {p.weight_bits, p.activation_bits, p.membrane_bits}) put(s, int32_t(v));
  put(s, uint64_t(p.populations.size()));
  for (const NirProgram::Population& q : p.populations) {
    put_string(s, q.node, "population node");
    put_string(s, q.type, "population type");
    put(s, int64_t(q.size));
    put(s, uint8_t(q.binary));
    put(s, q.scale);
    for (int64_t v : {q.columns, q.bias_column, q.late_bias_column}) put(s, v);
  }
  put(s, uint64_t(p.projections.size()));
  for (const NirProgram::Projection& j : p.projections) {
    put(s, int32_t(j.source));
    put(s, int32_t(j.target));
    put(s, uint8_t(j.recurrent));
    put(s, int32_t(j.spike_value));
    put(s, int64_t(j.column_begin));
    put(s, uint32_t(j.path.size()));
    for (const std::string& node : j.path) put_string(s, node, "projection path node");
    put(s, int64_t(j.synapses));
    put(s, int64_t(j.distinct_weights));
  }
  put(s, uint8_t(p.output));
  put(s, int32_t(p.output_population));
  put_array(s, p.output_scale);
  put_array(s, p.output_bias);
  put_array(s, p.flow_projection);
}

template <class Sink>
void write_section(Sink& s, int section, const Mapping& m, const EmbeddingStream* embedding) {
  switch (section) {
    case kModel: return write_model(s, m);
    case kChip: return write_chip(s, m);
    case kUnits: return write_units(s, m);
    case kFlows: return write_flows(s, m);
    case kHost: return write_host(s, m, embedding);
    case kPlacement: return write_placement(s, m);
    case kRouting: return write_routing(s, m);
    case kDecisions: return write_decisions(s, m);
    case kEstimate: return write_estimate(s, m);
    case kTokenizer: return write_tokenizer(s, m);
    case kNir: return write_nir(s, m);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading.

struct SectionEntry {
  std::string name;
  uint64_t offset = 0, length = 0;
};

class FileReader {
 public:
  explicit FileReader(const std::string& path) : path_(path) {
    try {
      file_ = std::make_unique<checkpoint_io::RandomAccessFile>(path);
    } catch (const std::exception& e) {
      throw MappingError(e.what());
    }
  }
  const std::string& path() const { return path_; }
  uint64_t size() const { return file_->size(); }
  void read(uint64_t offset, void* destination, std::size_t length) const {
    try {
      file_->read_exact(offset, destination, length, "mapping");
    } catch (const std::exception& e) {
      throw MappingError(e.what());
    }
  }

 private:
  std::string path_;
  std::unique_ptr<checkpoint_io::RandomAccessFile> file_;
};

// Reads one section's fields in order, buffered, never past the section's end.
class SectionReader {
 public:
  SectionReader(const FileReader& file, const SectionEntry& section)
      : file_(file),
        section_(section),
        position_(section.offset),
        end_(section.offset + section.length),
        buffer_offset_(section.offset) {}

  // What the following reads belong to ("unit 3 (L0.att.key[0,0])"), for messages.
  void set_context(std::string context) { context_ = std::move(context); }

  [[noreturn]] void fail(const std::string& message) const {
    throw MappingError(fmt::format("section '{}'{}: {}", section_.name, context_.empty() ? "" : ", " + context_, message));
  }

  uint64_t remaining() const { return end_ - position_; }

  void bytes(void* destination, uint64_t length, const char* field) {
    require(length, field);
    if (length == 0) return;  // an empty array's destination may be null, which memcpy must not get
    auto* out = static_cast<unsigned char*>(destination);
    if (length > kBufferBytes) {  // bulk (weights): straight into place, past the buffer
      const uint64_t buffered = buffer_end_ - position_in_buffer();
      if (buffered) std::memcpy(out, buffer_.data() + position_in_buffer(), buffered);
      file_.read(position_ + buffered, out + buffered, length - buffered);
      advance(length);
      return;
    }
    if (position_in_buffer() + length > buffer_end_) refill();
    std::memcpy(out, buffer_.data() + position_in_buffer(), length);
    advance(length);
  }

  template <class T>
  T get(const char* field) {
    static_assert(std::is_arithmetic_v<T>);
    T value;
    bytes(&value, sizeof value, field);
    return value;
  }

  bool get_bool(const char* field) {
    const auto v = get<uint8_t>(field);
    if (v > 1) fail(fmt::format("{} is {}; expected 0 or 1", field, v));
    return v == 1;
  }

  // Names reach JSON, HTML and terminals: text that is not UTF-8 is refused here, naming the field.
  std::string get_string(const char* field) {
    const auto length = get<uint32_t>(field);
    require(length, field);
    const uint64_t at = position_;
    std::string s(length, '\0');
    bytes(s.data(), length, field);
    if (!valid_utf8(s)) fail(fmt::format("{} (the {} bytes at offset {}) is not valid UTF-8", field, length, at));
    return s;
  }

  // A count of records of at least `min_record_bytes` each: checked against the bytes left first.
  uint64_t get_count(const char* field, uint64_t min_record_bytes) {
    const auto count = get<uint64_t>(field);
    check_count(count, min_record_bytes, field);
    return count;
  }
  uint32_t get_count32(const char* field, uint64_t min_record_bytes) {
    const auto count = get<uint32_t>(field);
    check_count(count, min_record_bytes, field);
    return count;
  }

  template <class T>
  std::vector<T> get_array(const char* field) {
    const uint64_t count = get_count(field, sizeof(T));
    std::vector<T> values(count);
    bytes(values.data(), count * sizeof(T), field);
    return values;
  }

  // An enum stored as one byte, with `limit` = number of valid values.
  template <class E>
  E get_enum(const char* field, int limit, const char* (*name)(E)) {
    const auto v = get<uint8_t>(field);
    if (v >= limit) {
      std::vector<std::string> valid;
      for (int i = 0; i < limit; ++i) valid.push_back(fmt::format("{} {}", i, name(E(i))));
      fail(fmt::format("{} is {}; expected one of {}", field, v, fmt::join(valid, ", ")));
    }
    return E(v);
  }

  void finish() {
    if (position_ != end_)
      fail(fmt::format("{} bytes left after the last field (the section is {} bytes long)", end_ - position_,
                       section_.length));
  }

 private:
  static constexpr uint64_t kBufferBytes = 1 << 20;

  void require(uint64_t length, const char* field) const {
    if (length > remaining())
      fail(fmt::format("{} needs {} bytes at offset {}; the section ends at offset {}", field, length, position_, end_));
  }
  void check_count(uint64_t count, uint64_t min_record_bytes, const char* field) const {
    if (count > remaining() / min_record_bytes)
      fail(fmt::format("{} is {}, which needs {} bytes at {} bytes each; only {} bytes remain at offset {}", field,
                       count,
                       count > std::numeric_limits<uint64_t>::max() / min_record_bytes
                           ? std::string("more than 2^64")
                           : "at least " + std::to_string(count * min_record_bytes),
                       min_record_bytes, remaining(), position_));
  }
  uint64_t position_in_buffer() const { return position_ - buffer_offset_; }
  void refill() {
    const uint64_t length = std::min<uint64_t>(kBufferBytes, end_ - position_);
    buffer_.resize(kBufferBytes);
    file_.read(position_, buffer_.data(), length);
    buffer_offset_ = position_;
    buffer_end_ = length;
  }
  void advance(uint64_t length) {
    position_ += length;
    if (position_in_buffer() > buffer_end_) {  // moved past the buffer by a bulk read
      buffer_offset_ = position_;
      buffer_end_ = 0;
    }
  }

  const FileReader& file_;
  const SectionEntry& section_;
  uint64_t position_, end_;
  uint64_t buffer_offset_, buffer_end_ = 0;  // buffer_ holds the file's [buffer_offset_, buffer_offset_ + buffer_end_)
  std::string context_;
  std::vector<unsigned char> buffer_;
};

void read_model(SectionReader& r, Mapping& m, uint32_t version) {
  m.config.n_layer = r.get<int32_t>("n_layer");
  m.config.n_embd = r.get<int32_t>("n_embd");
  m.config.vocab_size = r.get<int32_t>("vocab_size");
  m.quant.weight_bits = r.get<int32_t>("weight_bits");
  m.quant.activation_bits = r.get<int32_t>("activation_bits");
  m.quant.membrane_bits = r.get<int32_t>("membrane_bits");
  m.binary_embedding = r.get_bool("binary_embedding");
  m.rescale_every_6_layers = r.get_bool("rescale_every_6_layers");
  m.encoding_rule.graded_payload_bits = r.get<int32_t>("graded_payload_bits");
  m.model_source = r.get_string("model_source");
  // Before version 6 every mapping was of the released graph.
  if (version >= kFirstVersionWithSpikeInputs) m.config.spike_input_steps = r.get<int32_t>("spike_input_steps");
}

void read_chip(SectionReader& r, Mapping& m) {
  m.chip_name = r.get_string("chip_name");
  m.chip_yaml = r.get_string("chip_yaml");
}

void read_units(SectionReader& r, Mapping& m) {
  m.units.resize(r.get_count("unit count", kMinUnitBytes));
  for (std::size_t i = 0; i < m.units.size(); ++i) {
    Unit& u = m.units[i];
    r.set_context(fmt::format("unit {}", i));
    u.id = r.get<int32_t>("id");
    u.name = r.get_string("name");
    r.set_context(fmt::format("unit {} ({})", i, u.name));
    u.kind = r.get_enum<UnitKind>("kind", kUnitKinds, unit_kind_name);
    u.function = r.get_enum<NeuronFunction>("function", kNeuronFunctions, neuron_function_name);
    u.op = r.get_enum<Op>("op", kOpCount, op_name);
    u.layer = r.get<int32_t>("layer");
    u.in_begin = r.get<int64_t>("in_begin");
    u.in_end = r.get<int64_t>("in_end");
    u.out_begin = r.get<int64_t>("out_begin");
    u.out_end = r.get<int64_t>("out_end");
    u.in_index = r.get<int32_t>("in_index");
    u.out_index = r.get<int32_t>("out_index");
    u.in_tiles = r.get<int32_t>("in_tiles");
    u.out_tiles = r.get<int32_t>("out_tiles");
    u.slice = r.get<int32_t>("slice");
    u.slices = r.get<int32_t>("slices");
    u.resources.axons = r.get<int64_t>("resources.axons");
    u.resources.neurons = r.get<int64_t>("resources.neurons");
    u.resources.synapse_bytes = r.get<int64_t>("resources.synapse_bytes");
    u.resources.state_bytes = r.get<int64_t>("resources.state_bytes");
    u.params.resize(r.get_count32("parameter count", kMinParamBytes));
    for (std::size_t k = 0; k < u.params.size(); ++k) {
      ParamArray& p = u.params[k];
      r.set_context(fmt::format("unit {} ({}), parameter {}", i, u.name, k));
      p.name = r.get_string("name");
      r.set_context(fmt::format("unit {} ({}), parameter '{}'", i, u.name, p.name));
      const auto type = r.get<uint8_t>("type");
      if (type != uint8_t(ParamType::i8) && type != uint8_t(ParamType::i32) && type != uint8_t(ParamType::i64))
        r.fail(fmt::format("type is {}; expected 1 (i8), 4 (i32) or 8 (i64)", type));
      p.type = ParamType(type);
      p.count = r.get<int64_t>("count");
      const auto byte_length = r.get<uint64_t>("byte length");
      if (p.count < 0 || uint64_t(p.count) > std::numeric_limits<uint64_t>::max() / uint64_t(type) ||
          byte_length != uint64_t(p.count) * type)
        r.fail(fmt::format("byte length is {}; {} × {} needs {}", byte_length, p.count, param_type_name(p.type),
                           p.count < 0 ? std::string("a count >= 0") : std::to_string(uint64_t(p.count) * type)));
      if (byte_length > r.remaining())
        r.fail(fmt::format("{} × {} needs {} bytes; only {} bytes remain in the section", p.count,
                           param_type_name(p.type), byte_length, r.remaining()));
      p.bytes.resize(byte_length);
      r.bytes(p.bytes.data(), byte_length, "values");
    }
  }
  r.set_context("");
}

void read_flows(SectionReader& r, Mapping& m) {
  m.flows.resize(r.get_count("flow count", kMinFlowBytes));
  for (std::size_t i = 0; i < m.flows.size(); ++i) {
    MappedFlow& f = m.flows[i];
    r.set_context(fmt::format("flow {}", i));
    f.source = r.get<int32_t>("source");
    f.destinations.resize(r.get_count32("destination count", 4));
    for (int& d : f.destinations) d = r.get<int32_t>("destination");
    f.role = r.get_enum<FlowRole>("role", 8, flow_role_name);
    f.encoding = r.get_enum<ir::Encoding>("encoding", 4, ir::encoding_name);
    f.tensor = r.get_string("tensor");
    f.index_begin = r.get<int64_t>("index_begin");
    f.index_end = r.get<int64_t>("index_end");
    f.payload_bits = r.get<int32_t>("payload_bits");
    f.flits_per_token = r.get<double>("flits_per_token");
  }
  r.set_context("");
}

void read_host(SectionReader& r, Mapping& m) {
  m.host.embedding = r.get_array<int32_t>("embedding count");
  m.host.head_logit_scale = r.get_array<double>("head_logit_scale count");
}

void read_placement(SectionReader& r, Mapping& m) {
  m.unit_cores.resize(r.get_count("core count", kCoreBytes));
  for (std::size_t i = 0; i < m.unit_cores.size(); ++i) {
    r.set_context(fmt::format("unit {}", i));
    CoreCoord& c = m.unit_cores[i];
    c.chip = r.get<int32_t>("chip");
    c.row = r.get<int32_t>("row");
    c.col = r.get<int32_t>("col");
  }
  r.set_context("");
  Placement& p = m.placement;
  p.unit_cores = m.unit_cores;
  p.cost = r.get<double>("cost");
  p.baseline_cost = r.get<double>("baseline_cost");
  p.constructive_cost = r.get<double>("constructive_cost");
  p.lower_bound = r.get<double>("lower_bound");
  p.mesh_flit_hops_per_token = r.get<double>("mesh_flit_hops_per_token");
  p.inter_chip_flits_per_token = r.get<double>("inter_chip_flits_per_token");
  p.start = r.get_string("start");
  p.moves_proposed = r.get<int64_t>("moves_proposed");
  p.moves_accepted = r.get<int64_t>("moves_accepted");
}

void read_routing(SectionReader& r, Mapping& m) {
  m.routing_options.unicast_single_destination = r.get_bool("unicast_single_destination");
  m.routing_options.enforce_table_capacity = r.get_bool("enforce_table_capacity");
  m.routing_tables.resize(r.get_count32("router count", 4));
  for (std::size_t router = 0; router < m.routing_tables.size(); ++router) {
    r.set_context(fmt::format("router {}", router));
    auto& table = m.routing_tables[router];
    table.resize(r.get_count32("entry count", kRouteEntryBytes));
    for (RouteEntry& e : table) {
      e.flow = r.get<int32_t>("flow");
      e.input_port = r.get_enum<Port>("input_port", kPortCount, port_name);
      e.output_ports = r.get<uint8_t>("output_ports");
      if (e.output_ports >> kPortCount) r.fail(fmt::format("output_ports is 0x{:02x}; only the low {} bits name ports", e.output_ports, kPortCount));
      for (int32_t& next : e.next_index) next = r.get<int32_t>("next_index");
    }
  }
  r.set_context("");
}

void read_decisions(SectionReader& r, Mapping& m) {
  m.decisions.resize(r.get_count32("decision count", kMinStringBytes));
  for (std::string& d : m.decisions) d = r.get_string("decision");
}

void read_estimate(SectionReader& r, Mapping& m) {
  LatencyEstimate& e = m.estimate;
  e.profile_tokens = r.get<int32_t>("profile_tokens");
  for (double* v : {&e.cycles_per_token, &e.packets_per_token, &e.flits_injected_per_token,
                    &e.flits_delivered_per_token, &e.mesh_flit_hops_per_token, &e.inter_chip_flits_per_token})
    *v = r.get<double>("estimate figure");
  e.unit_busy_cycles = r.get_array<double>("unit_busy_cycles count");
  e.stages.resize(r.get_count32("stage count", kMinStringBytes + 20));
  for (LatencyEstimate::Stage& st : e.stages) {
    st.tensor = r.get_string("stage tensor");
    st.layer = r.get<int32_t>("stage layer");
    st.first_send = r.get<double>("first_send");
    st.last_send = r.get<double>("last_send");
  }
  e.critical_path.resize(r.get_count32("critical path steps", 20));
  for (LatencyEstimate::PathStep& step : e.critical_path) {
    step.unit = r.get<int32_t>("path unit");
    step.start = r.get<double>("path start");
    step.end = r.get<double>("path end");
  }
}

void read_tokenizer(SectionReader& r, Mapping& m) {
  TokenizerSource& t = m.tokenizer;
  t.kind = r.get_enum<TokenizerKind>("kind", kTokenizerKindCount, tokenizer_kind_name);
  t.path = r.get_string("path");
  t.rule = r.get_string("rule");
  t.json = r.get_string("json");
}

void read_population(SectionReader& r, NirProgram::Population& q) {
  q.type = r.get_string("type");
  q.size = r.get<int64_t>("size");
  q.binary = r.get_bool("binary");
  q.scale = r.get<double>("scale");
  q.columns = r.get<int64_t>("columns");
  q.bias_column = r.get<int64_t>("bias_column");
  q.late_bias_column = r.get<int64_t>("late_bias_column");
}

void read_projection(SectionReader& r, NirProgram::Projection& j) {
  j.source = r.get<int32_t>("source");
  j.target = r.get<int32_t>("target");
  j.recurrent = r.get_bool("recurrent");
  j.spike_value = r.get<int32_t>("spike_value");
  j.column_begin = r.get<int64_t>("column_begin");
  j.path.resize(r.get_count32("path count", kMinStringBytes));
  for (std::string& node : j.path) node = r.get_string("path node");
  j.synapses = r.get<int64_t>("synapses");
  j.distinct_weights = r.get<int64_t>("distinct_weights");
}

void read_nir(SectionReader& r, Mapping& m) {
  m.kind = r.get_enum<MappingKind>("kind", kMappingKinds, mapping_kind_name);
  NirProgram& p = m.nir;
  p.source_path = r.get_string("source_path");
  p.input_shape = r.get_array<int64_t>("input_shape count");
  p.output_shape = r.get_array<int64_t>("output_shape count");
  p.dt = r.get<double>("dt");
  p.weight_bits = r.get<int32_t>("weight_bits");
  p.activation_bits = r.get<int32_t>("activation_bits");
  p.membrane_bits = r.get<int32_t>("membrane_bits");
  p.populations.resize(r.get_count("population count", kMinPopulationBytes));
  for (std::size_t i = 0; i < p.populations.size(); ++i) {
    r.set_context(fmt::format("population {}", i));
    p.populations[i].node = r.get_string("node");
    r.set_context(fmt::format("population {} ({})", i, p.populations[i].node));
    read_population(r, p.populations[i]);
  }
  p.projections.resize(r.get_count("projection count", kMinProjectionBytes));
  for (std::size_t k = 0; k < p.projections.size(); ++k) {
    r.set_context(fmt::format("projection {}", k));
    read_projection(r, p.projections[k]);
  }
  r.set_context("");
  p.output = r.get_enum<NirProgram::Output>("output", kNirOutputs, nir_output_name);
  p.output_population = r.get<int32_t>("output_population");
  p.output_scale = r.get_array<double>("output_scale count");
  p.output_bias = r.get_array<double>("output_bias count");
  p.flow_projection = r.get_array<int>("flow_projection count");
}

void read_section(SectionReader& r, int section, Mapping& m, uint32_t version) {
  switch (section) {
    case kModel: return read_model(r, m, version);
    case kChip: return read_chip(r, m);
    case kUnits: return read_units(r, m);
    case kFlows: return read_flows(r, m);
    case kHost: return read_host(r, m);
    case kPlacement: return read_placement(r, m);
    case kRouting: return read_routing(r, m);
    case kDecisions: return read_decisions(r, m);
    case kEstimate: return read_estimate(r, m);
    case kTokenizer: return read_tokenizer(r, m);
    case kNir: return read_nir(r, m);
  }
}

// Magic, version, section table and sizes; returns the sections (as many as the file's version
// has). Everything here is checked before any checksum so a file of another version is named as such.
std::vector<SectionEntry> read_header(const FileReader& file, uint32_t& version_read) {
  const uint64_t file_size = file.size();
  unsigned char header[kFirstSectionOffset] = {};
  const uint64_t have = std::min<uint64_t>(file_size, kFirstSectionOffset);
  file.read(0, header, have);
  if (have >= sizeof kFormerMappingMagic && std::memcmp(header, kFormerMappingMagic, sizeof kFormerMappingMagic) == 0)
    throw MappingError(
        "this mapping was written by spikeforge, the earlier name of this tool, and is not read by spiketile; "
        "recompile the model with `spiketile compile --model CHECKPOINT --chip CHIP.yaml -o NAME.stmap`");
  if (have < sizeof kMappingMagic || std::memcmp(header, kMappingMagic, sizeof kMappingMagic) != 0)
    throw MappingError(fmt::format("not a spiketile mapping: the file starts with [{}]; a mapping starts with [{}]",
                                   hex_bytes(header, std::min<uint64_t>(have, sizeof kMappingMagic)),
                                   hex_bytes(kMappingMagic, sizeof kMappingMagic)));
  auto truncated = [&](const std::string& what, uint64_t offset, uint64_t length) {
    return MappingError(fmt::format("truncated: {} needs {} bytes at offset {}; the file ends at {}", what, length,
                                    offset, file_size));
  };
  if (have < 12) throw truncated("the format version", 8, 4);
  const auto version = load_le<uint32_t>(header + 8);
  if (version < kOldestReadableMappingVersion || version > kMappingFormatVersion)
    throw MappingError(fmt::format("mapping format version {}; this build reads versions {} to {} (recompile the "
                                   "model with this build's `spiketile compile`)",
                                   version, kOldestReadableMappingVersion, kMappingFormatVersion));
  if (have < kHeaderBytes) throw truncated("the header", 0, kHeaderBytes);
  version_read = version;
  const std::vector<std::string> names = mapping_section_names(version);
  const auto section_count = load_le<uint32_t>(header + 12);
  if (section_count != names.size())
    throw MappingError(fmt::format("the header declares {} sections; version {} has {} ({})", section_count, version,
                                   names.size(), fmt::join(names, ", ")));
  const uint64_t first_offset = first_section_offset(names.size()), table_bytes = table_end(names.size());
  if (have < first_offset) throw truncated("the section table", kHeaderBytes, first_offset - kHeaderBytes);
  const uint32_t stored_table_crc = load_le<uint32_t>(header + table_bytes);
  const uint32_t table_crc = checkpoint_io::crc32(header, table_bytes);
  if (stored_table_crc != table_crc)
    throw MappingError(fmt::format("header and section table CRC mismatch: stored 0x{:08x}, computed 0x{:08x} (the "
                                   "header or the table is corrupt)",
                                   stored_table_crc, table_crc));

  std::vector<SectionEntry> sections(names.size());
  uint64_t expected_offset = first_offset;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const unsigned char* entry = header + kHeaderBytes + uint64_t(i) * kTableEntryBytes;
    SectionEntry& s = sections[i];
    s.name.assign(reinterpret_cast<const char*>(entry), strnlen(reinterpret_cast<const char*>(entry), kSectionNameBytes));
    s.offset = load_le<uint64_t>(entry + kSectionNameBytes);
    s.length = load_le<uint64_t>(entry + kSectionNameBytes + 8);
    const std::string& expected_name = names[i];
    if (s.name != expected_name)
      throw MappingError(fmt::format("section {} is named '{}'; version {} expects '{}'", i, s.name, version,
                                     expected_name));
    if (s.offset != expected_offset)
      throw MappingError(fmt::format("section '{}' starts at offset {}; sections follow each other, so it must start "
                                     "at {}",
                                     s.name, s.offset, expected_offset));
    if (s.length > std::numeric_limits<uint64_t>::max() - s.offset - 2 * kCrcBytes)
      throw MappingError(fmt::format("section '{}' declares {} bytes", s.name, s.length));
    expected_offset = s.offset + s.length + kCrcBytes;
  }
  const uint64_t declared_size = load_le<uint64_t>(header + 16);
  if (declared_size != expected_offset + kCrcBytes)
    throw MappingError(fmt::format("the header declares a file of {} bytes; its sections and checksums take {}",
                                   declared_size, expected_offset + kCrcBytes));
  for (const SectionEntry& s : sections)
    if (s.offset + s.length + kCrcBytes > file_size)
      throw truncated(fmt::format("section '{}'", s.name), s.offset, s.length + kCrcBytes);
  if (file_size < declared_size) throw truncated("the whole-file CRC", declared_size - kCrcBytes, kCrcBytes);
  if (file_size > declared_size)
    throw MappingError(fmt::format("the file is {} bytes; its header declares {} ({} bytes of trailing data)", file_size,
                                   declared_size, file_size - declared_size));
  return sections;
}

// Every section's CRC and the whole-file CRC, in one streaming pass.
void verify_checksums(const FileReader& file, const std::vector<SectionEntry>& sections) {
  constexpr uint64_t kChunk = 4 << 20;
  std::vector<unsigned char> buffer(std::min<uint64_t>(kChunk, file.size()));
  Crc32 file_crc;
  const uint64_t header_and_table = sections.front().offset;
  file.read(0, buffer.data(), header_and_table);
  file_crc.update(buffer.data(), header_and_table);
  for (const SectionEntry& s : sections) {
    Crc32 section_crc;
    for (uint64_t at = s.offset, end = s.offset + s.length; at < end;) {
      const uint64_t n = std::min(kChunk, end - at);
      file.read(at, buffer.data(), n);
      section_crc.update(buffer.data(), n);
      file_crc.update(buffer.data(), n);
      at += n;
    }
    unsigned char stored[kCrcBytes];
    file.read(s.offset + s.length, stored, kCrcBytes);
    file_crc.update(stored, kCrcBytes);
    if (load_le<uint32_t>(stored) != section_crc.value())
      throw MappingError(fmt::format("section '{}' CRC mismatch: stored 0x{:08x}, computed 0x{:08x} over its {} bytes at "
                                     "offset {} (the section is corrupt)",
                                     s.name, load_le<uint32_t>(stored), section_crc.value(), s.length, s.offset));
  }
  unsigned char stored[kCrcBytes];
  file.read(file.size() - kCrcBytes, stored, kCrcBytes);
  if (load_le<uint32_t>(stored) != file_crc.value())
    throw MappingError(fmt::format("whole-file CRC mismatch: stored 0x{:08x}, computed 0x{:08x}", load_le<uint32_t>(stored),
                                   file_crc.value()));
}

// ---------------------------------------------------------------------------------------------
// Validation.

std::string unit_label(const Unit& u, std::size_t index) { return fmt::format("unit {} ({})", index, u.name); }
std::string population_label(const NirProgram& p, int index) {
  return fmt::format("population {} ({})", index, p.populations[std::size_t(index)].node);
}
// The type of a NIR readout population: its tiles' reducers hand the accumulators to the host.
constexpr const char* kReadoutType = "Readout";
// The most elements a NIR shape, population or column space may have (far beyond any chip system).
constexpr int64_t kMaxNirElements = int64_t(1) << 40;

// Output rows × input columns of a crossbar op's weight matrix, and the function of its reducers.
struct CrossbarOp {
  int64_t rows = 0, cols = 0;
  NeuronFunction reducer = NeuronFunction::PartialSum;
};
bool crossbar_op(Op op, const ModelConfig& c, CrossbarOp& out) {
  const int64_t C = c.n_embd, V = c.vocab_size;
  switch (op) {
    case Op::AttReceptance: out = {C, C, NeuronFunction::Receptance}; return true;
    case Op::AttKey: out = {C, C, NeuronFunction::AttKey}; return true;
    case Op::AttValue: out = {C, C, NeuronFunction::AttValueWkvGate}; return true;
    case Op::AttOutput: out = {C, C, NeuronFunction::AttOutputLif}; return true;
    case Op::FfnReceptance: out = {C, C, NeuronFunction::Receptance}; return true;
    case Op::FfnKey: out = {4 * C, C, NeuronFunction::FfnKeyRelu2}; return true;
    case Op::FfnValue: out = {C, 4 * C, NeuronFunction::FfnValueGateLif}; return true;
    case Op::Head: out = {V, C, NeuronFunction::HeadLogits}; return true;
    default: return false;
  }
}

void check_range(const std::string& who, const char* what, int64_t begin, int64_t end, int64_t limit,
                 const char* limit_name) {
  if (begin < 0 || begin >= end || end > limit)
    throw MappingError(fmt::format("{}: {} [{}, {}) is not a non-empty range inside [0, {}) ({})", who, what, begin, end,
                                   limit, limit_name));
}

void check_index(const std::string& who, const char* what, int index, int count) {
  if (count < 1 || index < 0 || index >= count)
    throw MappingError(fmt::format("{}: {} {} of {} is out of range", who, what, index, count));
}

void validate_model(const Mapping& m) {
  const auto positive = [](const char* field, int64_t v, int64_t max) {
    if (v < 1 || v > max)
      throw MappingError(fmt::format("section 'model': {} is {}; expected 1 to {}", field, v, max));
  };
  positive("n_layer", m.config.n_layer, 1 << 16);
  positive("n_embd", m.config.n_embd, 1 << 20);
  positive("vocab_size", m.config.vocab_size, 1 << 24);
  positive("weight_bits", m.quant.weight_bits, 8);
  positive("activation_bits", m.quant.activation_bits, 32);
  positive("membrane_bits", m.quant.membrane_bits, 32);
  positive("graded_payload_bits", m.encoding_rule.graded_payload_bits, 32);
  if (m.config.spike_input_steps < 0 || m.config.spike_input_steps > kMaxSpikeInputSteps)
    throw MappingError(fmt::format("section 'model': spike_input_steps is {}; expected 0 to {}",
                                   m.config.spike_input_steps, kMaxSpikeInputSteps));
}

[[noreturn]] void fail_nir(const std::string& what) { throw MappingError("section 'nir': " + what); }

// The elements of a NIR shape: every dimension >= 1, the product at most kMaxNirElements.
int64_t shape_elements(const std::vector<int64_t>& shape, const char* field) {
  int64_t elements = 1;
  for (int64_t dimension : shape) {
    if (dimension < 1 || dimension > kMaxNirElements / elements)
      fail_nir(fmt::format("{} is [{}]; expected dimensions >= 1 holding at most 2^40 elements", field,
                           fmt::join(shape, ", ")));
    elements *= dimension;
  }
  return elements;
}

void validate_nir_populations(const NirProgram& p) {
  if (p.populations.empty()) fail_nir("no populations; population 0 is the graph input");
  for (std::size_t i = 0; i < p.populations.size(); ++i) {
    const NirProgram::Population& q = p.populations[i];
    const std::string who = population_label(p, int(i));
    if (q.size < 1 || q.size > kMaxNirElements) fail_nir(fmt::format("{}: size is {}; expected 1 to 2^40", who, q.size));
    if (q.columns < 0 || q.columns > kMaxNirElements)
      fail_nir(fmt::format("{}: columns is {}; expected 0 to 2^40", who, q.columns));
    if (!std::isfinite(q.scale)) fail_nir(fmt::format("{}: scale is {}", who, q.scale));
    for (const auto& [name, column] : {std::pair{"bias_column", q.bias_column}, std::pair{"late_bias_column", q.late_bias_column}})
      if (column != -1 && (column < 0 || column >= q.columns))
        fail_nir(fmt::format("{}: {} is {}; expected -1 (none) or one of its columns, 0 to {}", who, name, column,
                             q.columns - 1));
  }
}

void validate_nir_projections(const NirProgram& p) {
  const int populations = int(p.populations.size());
  for (std::size_t k = 0; k < p.projections.size(); ++k) {
    const NirProgram::Projection& j = p.projections[k];
    const std::string who = fmt::format("projection {}", k);
    if (j.source < 0 || j.source >= populations)
      fail_nir(fmt::format("{}: source {} is not a population (the program has {})", who, j.source, populations));
    if (j.target < 1 || j.target >= populations)
      fail_nir(fmt::format("{}: target {} is not a population on the chip; expected 1 to {}", who, j.target,
                           populations - 1));
    if (j.spike_value < 1) fail_nir(fmt::format("{}: spike_value is {}; expected 1 or more", who, j.spike_value));
    const int64_t neurons = p.populations[std::size_t(j.source)].size;
    const int64_t columns = p.populations[std::size_t(j.target)].columns;
    if (j.column_begin < 0 || j.column_begin > columns - neurons)
      fail_nir(fmt::format("{}: column_begin is {}: the {} neurons of {} would take columns [{}, {}), outside the {} "
                           "columns of {}",
                           who, j.column_begin, neurons, population_label(p, j.source), j.column_begin,
                           j.column_begin + neurons, columns, population_label(p, j.target)));
    if (j.synapses < 0 || j.distinct_weights < 0)
      fail_nir(fmt::format("{}: synapses {}, distinct_weights {}; expected counts >= 0", who, j.synapses,
                           j.distinct_weights));
  }
}

// The host's side: the input it quantizes into population 0, the outputs it reads back and scales.
void validate_nir_host_side(const NirProgram& p) {
  const int64_t inputs = shape_elements(p.input_shape, "input_shape");
  if (inputs != p.populations[0].size)
    fail_nir(fmt::format("input_shape [{}] holds {} values; {} has {} neurons", fmt::join(p.input_shape, ", "), inputs,
                         population_label(p, 0), p.populations[0].size));
  if (p.output_population < 0 || p.output_population >= int(p.populations.size()))
    fail_nir(fmt::format("output_population is {}; the program has {} populations", p.output_population,
                         p.populations.size()));
  const int64_t outputs = shape_elements(p.output_shape, "output_shape");
  for (const auto& [name, values] : {std::pair{"output_scale", &p.output_scale}, std::pair{"output_bias", &p.output_bias}}) {
    if (int64_t(values->size()) != outputs)
      fail_nir(fmt::format("{} has {} values; output_shape [{}] holds {}", name, values->size(),
                           fmt::join(p.output_shape, ", "), outputs));
    for (std::size_t i = 0; i < values->size(); ++i)
      if (!std::isfinite((*values)[i])) fail_nir(fmt::format("{}[{}] is {}", name, i, (*values)[i]));
  }
}

// A NIR mapping's program, before its units and flows are checked against it.
void validate_nir_program(const Mapping& m) {
  const NirProgram& p = m.nir;
  const auto bits = [](const char* field, int v, int max) {
    if (v < 1 || v > max) fail_nir(fmt::format("{} is {}; expected 1 to {}", field, v, max));
  };
  bits("weight_bits", p.weight_bits, 8);
  bits("activation_bits", p.activation_bits, 32);
  bits("membrane_bits", p.membrane_bits, 32);
  if (!std::isfinite(p.dt) || p.dt <= 0) fail_nir(fmt::format("dt is {}; expected a finite time step > 0", p.dt));
  validate_nir_populations(p);
  validate_nir_projections(p);
  validate_nir_host_side(p);
  if (p.flow_projection.size() != m.flows.size())
    fail_nir(fmt::format("flow_projection has {} entries for {} flows (one per flow)", p.flow_projection.size(),
                         m.flows.size()));
  if (!m.host.embedding.empty() || !m.host.head_logit_scale.empty())
    throw MappingError(fmt::format("section 'host': a NIR mapping keeps no embedding or logit scales (its host side is "
                                   "section 'nir'); it holds {} and {} values",
                                   m.host.embedding.size(), m.host.head_logit_scale.size()));
}

// The first field of the NirProgram a SpikeGPT mapping has set, or null: it must hold the empty one.
const char* set_nir_field(const NirProgram& p) {
  const NirProgram empty;
  const std::pair<bool, const char*> fields[] = {
      {!p.source_path.empty(), "source_path"},
      {!p.input_shape.empty(), "input_shape"},
      {!p.output_shape.empty(), "output_shape"},
      {!(p.dt == empty.dt), "dt"},
      {p.weight_bits != empty.weight_bits, "weight_bits"},
      {p.activation_bits != empty.activation_bits, "activation_bits"},
      {p.membrane_bits != empty.membrane_bits, "membrane_bits"},
      {!p.populations.empty(), "populations"},
      {!p.projections.empty(), "projections"},
      {p.output != empty.output, "output"},
      {p.output_population != empty.output_population, "output_population"},
      {!p.output_scale.empty(), "output_scale"},
      {!p.output_bias.empty(), "output_bias"},
      {!p.flow_projection.empty(), "flow_projection"},
  };
  for (const auto& [set, name] : fields)
    if (set) return name;
  return nullptr;
}

void validate_params(const Unit& u, std::size_t index, const ModelConfig& config) {
  const std::string who = unit_label(u, index);
  const std::vector<ParamRule> rules = expected_params(u, config);
  std::set<std::string> seen;
  for (const ParamArray& p : u.params) {
    if (!seen.insert(p.name).second) throw MappingError(fmt::format("{}: parameter '{}' appears twice", who, p.name));
    const auto rule = std::find_if(rules.begin(), rules.end(), [&](const ParamRule& r) { return r.name == p.name; });
    if (rule == rules.end()) {
      std::vector<std::string> names;
      for (const auto& r : rules) names.push_back(r.name);
      throw MappingError(fmt::format("{}: unexpected parameter '{}'; a {} {} unit holds [{}]", who, p.name,
                                     unit_kind_name(u.kind), neuron_function_name(u.function), fmt::join(names, ", ")));
    }
    if (p.type != rule->type || p.count != rule->count)
      throw MappingError(fmt::format("{}: parameter '{}' is {} × {}; expected {} × {}", who, p.name, p.count,
                                     param_type_name(p.type), rule->count, param_type_name(rule->type)));
    if (p.bytes.size() != uint64_t(p.count) * uint64_t(p.type))
      throw MappingError(fmt::format("{}: parameter '{}' holds {} bytes; {} × {} needs {}", who, p.name, p.bytes.size(),
                                     p.count, param_type_name(p.type), p.count * int64_t(p.type)));
  }
  for (const ParamRule& r : rules)
    if (!seen.count(r.name))
      throw MappingError(fmt::format("{}: parameter '{}' ({} × {}) is missing", who, r.name, r.count,
                                     param_type_name(r.type)));
}

// The tile positions and function of a crossbar tile of `matrix` ("op 'att.key'", "population 1
// (lif1)"), whose reducers compute `reducer`, and whether it fits the chip's crossbar.
void check_tile(const Unit& u, const std::string& who, const std::string& matrix, NeuronFunction reducer,
                const ChipSpec& chip) {
  check_index(who, "input tile", u.in_index, u.in_tiles);
  check_index(who, "output tile", u.out_index, u.out_tiles);
  const NeuronFunction expected = u.in_index == 0 ? reducer : NeuronFunction::PartialSum;
  if (u.function != expected)
    throw MappingError(fmt::format("{}: function '{}'; tile {} of {} must be '{}' (the tile with input index 0 "
                                   "reduces its row block)",
                                   who, neuron_function_name(u.function), u.in_index, matrix,
                                   neuron_function_name(expected)));
  if (u.cols() > chip.core.crossbar.axons || u.rows() > chip.core.crossbar.neurons)
    throw MappingError(fmt::format("{}: a {} × {} tile does not fit the {} × {} (neurons × axons) crossbar of '{}'", who,
                                   u.rows(), u.cols(), chip.core.crossbar.neurons, chip.core.crossbar.axons, chip.name));
}

void validate_crossbar_tile(const Unit& u, const std::string& who, const ModelConfig& c, const ChipSpec& chip) {
  CrossbarOp op;
  if (!crossbar_op(u.op, c, op))
    throw MappingError(fmt::format("{}: a crossbar unit runs op '{}', which has no weight matrix", who, op_name(u.op)));
  if (u.op == Op::Head ? u.layer != -1 : (u.layer < 0 || u.layer >= c.n_layer))
    throw MappingError(fmt::format("{}: layer {} for op '{}'; expected {}", who, u.layer, op_name(u.op),
                                   u.op == Op::Head ? std::string("-1 (the head)") : fmt::format("0 to {}", c.n_layer - 1)));
  check_range(who, "input range", u.in_begin, u.in_end, op.cols, "the weight matrix's columns");
  check_range(who, "output range", u.out_begin, u.out_end, op.rows, "the weight matrix's rows");
  check_tile(u, who, fmt::format("op '{}'", op_name(u.op)), op.reducer, chip);
}

void validate_residual_slice(const Unit& u, const std::string& who, const ModelConfig& c) {
  if (u.op != Op::Ln1) throw MappingError(fmt::format("{}: a residual unit has op '{}'; expected '{}'", who, op_name(u.op), op_name(Op::Ln1)));
  if (u.layer < 0 || u.layer >= c.n_layer)
    throw MappingError(fmt::format("{}: layer {}; expected 0 to {}", who, u.layer, c.n_layer - 1));
  check_range(who, "channel range", u.out_begin, u.out_end, c.n_embd, "n_embd");
  check_index(who, "slice", u.slice, u.slices);
}

// A NIR tile: a block of one population's input matrix, rows its neurons (or the readout's rows),
// columns its column space; the readout's reducers hand their accumulators to the host.
void validate_nir_tile(const Unit& u, const std::string& who, const NirProgram& p, const ChipSpec& chip) {
  if (u.kind != UnitKind::NirCrossbar)
    throw MappingError(fmt::format("{}: a {} unit in a NIR mapping; every unit of a NIR mapping is a {} tile", who,
                                   unit_kind_name(u.kind), unit_kind_name(UnitKind::NirCrossbar)));
  const int populations = int(p.populations.size());
  if (u.layer < 1 || u.layer >= populations)
    throw MappingError(fmt::format("{}: layer {} is not a population on the chip; expected 1 to {} (population 0 is "
                                   "the graph input, which the host writes)",
                                   who, u.layer, populations - 1));
  const NirProgram::Population& q = p.populations[std::size_t(u.layer)];
  const std::string population = population_label(p, u.layer);
  check_range(who, "output range", u.out_begin, u.out_end, q.size, ("the neurons of " + population).c_str());
  check_range(who, "input range", u.in_begin, u.in_end, q.columns, ("the columns of " + population).c_str());
  check_tile(u, who, population, q.type == kReadoutType ? NeuronFunction::NirReadout : NeuronFunction::NirNeuron, chip);
}

void validate_unit(const Unit& u, std::size_t index, const Mapping& m, const ChipSpec& chip) {
  const std::string who = unit_label(u, index);
  const ModelConfig& c = m.config;
  if (u.id != int(index))
    throw MappingError(fmt::format("{}: id is {}; units are numbered by position, expected {}", who, u.id, index));
  if (m.kind == MappingKind::Nir)
    validate_nir_tile(u, who, m.nir, chip);
  else if (u.kind == UnitKind::Crossbar)
    validate_crossbar_tile(u, who, c, chip);
  else if (u.kind == UnitKind::Residual)
    validate_residual_slice(u, who, c);
  else
    throw MappingError(fmt::format("{}: a {} unit in a SpikeGPT mapping (only a NIR mapping has them)", who,
                                   unit_kind_name(u.kind)));
  validate_params(u, index, c);
  const UnitResources& r = u.resources;
  const struct {
    const char* name;
    int64_t used, capacity;
    const char* capacity_name;
  } resources[] = {
      {"axons", r.axons, chip.core.crossbar.axons, "core.crossbar.axons"},
      {"neurons", r.neurons, chip.core.crossbar.neurons, "core.crossbar.neurons"},
      {"synapse bytes", r.synapse_bytes, chip.core.synapse_sram.size_bytes, "core.synapse_sram.size_bytes"},
      {"state bytes", r.state_bytes, chip.core.state_sram.size_bytes, "core.state_sram.size_bytes"},
  };
  for (const auto& res : resources)
    if (res.used < 0 || res.used > res.capacity)
      throw MappingError(fmt::format("{}: needs {} {}; a core of '{}' has {} ({})", who, res.used, res.name, chip.name,
                                     res.capacity, res.capacity_name));
}

// The `carried` range [carried_begin, carried_end) of a flow lies within `what` [begin, end) of unit `id`.
void check_within(const std::string& who, const char* carried, int64_t carried_begin, int64_t carried_end,
                  const Unit& u, int id, int64_t begin, int64_t end, const char* what) {
  if (carried_begin < begin || carried_end > end)
    throw MappingError(fmt::format("{}: carries {} [{}, {}), outside the {} [{}, {}) of {}", who, carried, carried_begin,
                                   carried_end, what, begin, end, unit_label(u, std::size_t(id))));
}

// A flow carries what its source produces and every destination takes: otherwise a unit would meet
// an event outside its columns, rows or channels, or of a kind it has no use for, only at run time.
void check_flow_fits_its_units(const Mapping& m, const MappedFlow& f, const std::string& who) {
  const auto unit_at = [&](int id) -> const Unit& { return m.units[std::size_t(id)]; };
  const auto within = [&](const Unit& u, int id, int64_t begin, int64_t end, const char* what) {
    check_within(who, "indices", f.index_begin, f.index_end, u, id, begin, end, what);
  };
  const auto require_kind = [&](const Unit& u, int id, UnitKind kind) {
    if (u.kind != kind)
      throw MappingError(fmt::format("{}: a {} flow cannot go to {}, a {} unit", who, flow_role_name(f.role),
                                     unit_label(u, std::size_t(id)), unit_kind_name(u.kind)));
  };
  const Unit& source = unit_at(f.source);
  if (f.role == FlowRole::LnGather || f.role == FlowRole::LnScatter) {
    require_kind(source, f.source, UnitKind::Residual);
    for (int d : f.destinations) {
      require_kind(unit_at(d), d, UnitKind::Residual);
      if (unit_at(d).layer != source.layer)
        throw MappingError(fmt::format("{}: LayerNorm statistics of layer {} cannot go to {} of layer {}", who,
                                       source.layer, unit_label(unit_at(d), std::size_t(d)), unit_at(d).layer));
    }
    return;
  }
  within(source, f.source, source.out_begin, source.out_end, "outputs");
  for (int d : f.destinations) {
    const Unit& u = unit_at(d);
    switch (f.role) {
      case FlowRole::Activation:
        require_kind(u, d, UnitKind::Crossbar);
        within(u, d, u.in_begin, u.in_end, "input columns");
        break;
      case FlowRole::PartialSum:
      case FlowRole::Receptance:
      case FlowRole::Key:
        require_kind(u, d, UnitKind::Crossbar);
        within(u, d, u.out_begin, u.out_end, "rows");
        break;
      default:  // spikes and x into the residual stream
        require_kind(u, d, UnitKind::Residual);
        within(u, d, u.out_begin, u.out_end, "channels");
    }
  }
}

// A NIR tile's partial sums go to the reducer of their row block (flow_projection -1).
void check_nir_partial_sums(const Mapping& m, const MappedFlow& f, const std::string& who) {
  const Unit& source = m.units[std::size_t(f.source)];
  if (f.role != FlowRole::PartialSum)
    throw MappingError(fmt::format("{}: flow_projection is -1 (partial sums), but the flow's role is '{}'", who,
                                   flow_role_name(f.role)));
  if (source.function != NeuronFunction::PartialSum)
    throw MappingError(fmt::format("{}: partial sums from {}, which is a '{}' reducer, not a partial-sum tile", who,
                                   unit_label(source, std::size_t(f.source)), neuron_function_name(source.function)));
  for (int d : f.destinations) {
    const Unit& u = m.units[std::size_t(d)];
    if (!u.reduces() || u.layer != source.layer)
      throw MappingError(fmt::format("{}: partial sums of population {} go to {}, which is no reducer of it", who,
                                     source.layer, unit_label(u, std::size_t(d))));
    check_within(who, "indices", f.index_begin, f.index_end, u, d, u.out_begin, u.out_end, "rows");
  }
}

// A NIR flow carries one projection (nir.flow_projection[index]) from a neuron tile of its source
// population into tiles of its target whose columns hold the carried neurons (shifted by the
// projection's column_begin), or a partial-sum tile's sums (-1).
void check_nir_flow(const Mapping& m, const MappedFlow& f, std::size_t index, const std::string& who) {
  const NirProgram& p = m.nir;
  const Unit& source = m.units[std::size_t(f.source)];
  check_within(who, "indices", f.index_begin, f.index_end, source, f.source, source.out_begin, source.out_end, "outputs");
  const int k = p.flow_projection[index];
  if (k == -1) return check_nir_partial_sums(m, f, who);
  if (k < -1 || k >= int(p.projections.size()))
    throw MappingError(fmt::format("{}: flow_projection is {}; expected -1 (partial sums) or a projection, 0 to {}", who,
                                   k, int(p.projections.size()) - 1));
  if (f.role != FlowRole::Spikes && f.role != FlowRole::Activation)
    throw MappingError(fmt::format("{}: a '{}' flow carries projection {}; a projection's events are spikes or "
                                   "graded activations (partial sums carry flow_projection -1)",
                                   who, flow_role_name(f.role), k));
  const NirProgram::Projection& j = p.projections[std::size_t(k)];
  if (source.layer != j.source || source.function != NeuronFunction::NirNeuron)
    throw MappingError(fmt::format("{}: carries projection {} from population {}, but its source {} is a '{}' tile of "
                                   "population {}",
                                   who, k, j.source, unit_label(source, std::size_t(f.source)),
                                   neuron_function_name(source.function), source.layer));
  for (int d : f.destinations) {
    const Unit& u = m.units[std::size_t(d)];
    if (u.layer != j.target)
      throw MappingError(fmt::format("{}: carries projection {} into population {}, but its destination {} is a tile "
                                     "of population {}",
                                     who, k, j.target, unit_label(u, std::size_t(d)), u.layer));
    check_within(who, "columns", j.column_begin + f.index_begin, j.column_begin + f.index_end, u, d, u.in_begin,
                 u.in_end, "input columns");
  }
}

void validate_flows(const Mapping& m) {
  const int units = int(m.units.size());
  for (std::size_t i = 0; i < m.flows.size(); ++i) {
    const MappedFlow& f = m.flows[i];
    const std::string who = fmt::format("flow {} ({})", i, f.tensor);
    auto check_unit = [&](int u, const char* role) {
      if (u < 0 || u >= units)
        throw MappingError(fmt::format("{}: {} {} is not a unit (the mapping has {} units)", who, role, u, units));
    };
    check_unit(f.source, "source");
    if (f.destinations.empty()) throw MappingError(fmt::format("{}: no destinations", who));
    std::set<int> seen;
    for (int d : f.destinations) {
      check_unit(d, "destination");
      if (!seen.insert(d).second) throw MappingError(fmt::format("{}: destination {} is listed twice", who, d));
    }
    if (f.index_begin < 0 || f.index_begin > f.index_end)
      throw MappingError(fmt::format("{}: index range [{}, {}) is not a range", who, f.index_begin, f.index_end));
    if (f.payload_bits < 0 || f.payload_bits > 64)
      throw MappingError(fmt::format("{}: payload_bits {}; expected 0 to 64", who, f.payload_bits));
    if (!std::isfinite(f.flits_per_token) || f.flits_per_token < 0)
      throw MappingError(fmt::format("{}: flits_per_token {}; expected a finite value >= 0", who, f.flits_per_token));
    if (m.kind == MappingKind::Nir)
      check_nir_flow(m, f, i, who);
    else
      check_flow_fits_its_units(m, f, who);
  }
}

void validate_host(const Mapping& m) {
  const int64_t V = m.config.vocab_size, C = m.config.n_embd;
  if (int64_t(m.host.embedding.size()) != V * C)
    throw MappingError(fmt::format("section 'host': the embedding has {} values; V × C = {} × {} = {}",
                                   m.host.embedding.size(), V, C, V * C));
  if (int64_t(m.host.head_logit_scale.size()) != V)
    throw MappingError(fmt::format("section 'host': head_logit_scale has {} values; expected V = {}",
                                   m.host.head_logit_scale.size(), V));
  for (std::size_t i = 0; i < m.host.head_logit_scale.size(); ++i)
    if (!std::isfinite(m.host.head_logit_scale[i]))
      throw MappingError(fmt::format("section 'host': head_logit_scale[{}] is {}", i, m.host.head_logit_scale[i]));
}

void validate_placement(const Mapping& m, const Topology& topology) {
  if (m.unit_cores.size() != m.units.size())
    throw MappingError(fmt::format("section 'placement': {} unit cores for {} units", m.unit_cores.size(), m.units.size()));
  std::vector<int> owner(std::size_t(topology.core_count()), -1);
  for (std::size_t u = 0; u < m.unit_cores.size(); ++u) {
    const CoreCoord& c = m.unit_cores[u];
    if (!topology.contains(c))
      throw MappingError(fmt::format("{}: placed on {}, which the chip '{}' does not have ({})", unit_label(m.units[u], u),
                                     to_string(c), m.chip_name, topology.describe()));
    int& at = owner[std::size_t(topology.core_index(c))];
    if (at >= 0)
      throw MappingError(fmt::format("{} and {} are both placed on {}; each unit needs its own core",
                                     unit_label(m.units[std::size_t(at)], std::size_t(at)), unit_label(m.units[u], u),
                                     to_string(c)));
    at = int(u);
  }
  const Placement& p = m.placement;
  for (double v : {p.cost, p.baseline_cost, p.constructive_cost, p.lower_bound, p.mesh_flit_hops_per_token,
                   p.inter_chip_flits_per_token})
    if (!std::isfinite(v)) throw MappingError(fmt::format("section 'placement': a cost figure is {}", v));
}

std::string describe_entry(const RouteEntry& e) {
  std::vector<std::string> outputs;
  for (int p = 0; p < kPortCount; ++p)
    if (e.outputs(Port(p))) outputs.push_back(port_name(Port(p)));
  return fmt::format("flow {} in {} out {{{}}} next [{}]", e.flow, port_name(e.input_port), fmt::join(outputs, ","),
                     fmt::join(e.next_index, ","));
}

bool same_entry(const RouteEntry& a, const RouteEntry& b) {
  return a.flow == b.flow && a.input_port == b.input_port && a.output_ports == b.output_ports &&
         a.next_index == b.next_index;
}

void validate_routing(const Mapping& m, const Topology& topology) {
  const RoutingTables rebuilt = rebuild_routing_tables(m, topology);
  if (m.routing_tables.size() != rebuilt.tables.size())
    throw MappingError(fmt::format("section 'routing': {} router tables; the chip has {} routers", m.routing_tables.size(),
                                   rebuilt.tables.size()));
  const int capacity = topology.routing_table_entries();
  for (std::size_t r = 0; r < rebuilt.tables.size(); ++r) {
    const auto& stored = m.routing_tables[r];
    const auto& expected = rebuilt.tables[r];
    const std::string where = fmt::format("router {} ({})", r, to_string(topology.coord(int(r))));
    if (int64_t(stored.size()) > capacity)
      throw MappingError(fmt::format("section 'routing': {} holds {} entries; a router of '{}' holds {}", where,
                                     stored.size(), m.chip_name, capacity));
    for (std::size_t e = 0; e < std::max(stored.size(), expected.size()); ++e) {
      if (e < stored.size() && e < expected.size() && same_entry(stored[e], expected[e])) continue;
      throw MappingError(fmt::format("routing tables do not match placement and flows: {} entry {}: the file has {}, "
                                     "the placement and flows give {}",
                                     where, e, e < stored.size() ? describe_entry(stored[e]) : std::string("no entry"),
                                     e < expected.size() ? describe_entry(expected[e]) : std::string("no entry")));
    }
  }
}

}  // namespace

const std::vector<std::string>& mapping_section_names() {
  static const std::vector<std::string> kNames{"model",     "chip",    "units",     "flows",    "host",     "placement",
                                                "routing",   "decisions", "estimate", "tokenizer", "nir"};
  return kNames;
}

std::vector<std::string> mapping_section_names(uint32_t version) {
  const std::vector<std::string>& all = mapping_section_names();
  const int count = version <= 3 ? kVersion3SectionCount : version == 4 ? kVersion4SectionCount : kSectionCount;
  return {all.begin(), all.begin() + count};
}

const char* param_type_name(ParamType type) {
  switch (type) {
    case ParamType::i8: return "i8";
    case ParamType::i32: return "i32";
    case ParamType::i64: return "i64";
  }
  return "?";
}

std::vector<ParamRule> expected_params(const Unit& u, const ModelConfig& config) {
  std::vector<ParamRule> rules;
  auto add = [&rules](std::string name, ParamType type, int64_t count) { rules.push_back({std::move(name), type, count}); };
  auto add_multipliers = [&add](const std::string& prefix, int64_t count) {
    add(prefix + ".mantissa", ParamType::i32, count);
    add(prefix + ".shift", ParamType::i8, count);
  };
  const int64_t rows = u.rows();
  if (u.kind == UnitKind::Crossbar) {
    add(param::kWeights, ParamType::i8, rows * u.cols());
    if (u.reduces() && u.function != NeuronFunction::HeadLogits) add_multipliers(param::kOut, rows);
    if (u.function == NeuronFunction::AttValueWkvGate || u.function == NeuronFunction::FfnKeyRelu2)
      add_multipliers(param::kGate, 1);
    if (u.function == NeuronFunction::AttValueWkvGate) {
      add(param::kTimeFirst, ParamType::i32, rows);
      add(param::kTimeDecay, ParamType::i32, rows);
    }
    if (config.spike_input_steps &&
        (u.function == NeuronFunction::AttValueWkvGate || u.function == NeuronFunction::FfnKeyRelu2))
      add(param::kSpikesGate, ParamType::i64, config.spike_input_steps);
    return rules;
  }
  if (u.kind == UnitKind::NirCrossbar) {
    add(param::kWeights, ParamType::i8, rows * u.cols());
    if (u.function == NeuronFunction::NirNeuron) {
      add_multipliers(param::kOut, rows);
      for (const char* name : {param::kNeuronDv, param::kNeuronDi, param::kNeuronBias, param::kNeuronTheta,
                               param::kNeuronVReset})
        add(name, ParamType::i32, rows);
      add(param::kNeuronMode, ParamType::i8, rows);
    }
    return rules;
  }
  auto add_layer_norm = [&add, rows](const std::string& ln) {
    add(ln + ".gain", ParamType::i64, rows);
    add(ln + ".bias", ParamType::i64, rows);
  };
  if (u.layer == 0) add_layer_norm(param::kLn0);
  add_layer_norm(param::kLn1);
  add_layer_norm(param::kLn2);
  if (u.layer == config.n_layer - 1) add_layer_norm(param::kLnOut);
  for (const char* mix : {param::kMixAttK, param::kMixAttV, param::kMixAttR, param::kMixFfnK, param::kMixFfnR})
    add(mix, ParamType::i32, rows);
  if (config.spike_input_steps) {
    add(param::kSpikesAttMix, ParamType::i64, config.spike_input_steps);
    add(param::kSpikesFfnMix, ParamType::i64, config.spike_input_steps);
  }
  return rules;
}

ChipSpec mapping_chip_spec(const Mapping& m) {
  try {
    return load_chip_spec_from_string(m.chip_yaml, fmt::format("the chip description embedded in the mapping ('{}')", m.chip_name));
  } catch (const ChipSpecError& e) {
    throw MappingError(fmt::format("section 'chip': {}", e.what()));
  }
}

RoutingTables rebuild_routing_tables(const Mapping& m, const Topology& topology) {
  RoutingOptions options = m.routing_options;
  options.enforce_table_capacity = true;  // a mapping whose tables overflow the routers cannot run
  try {
    return build_routing_tables(topology, m.unit_cores, to_placement_flows(m.flows), options);
  } catch (const RoutingError& e) {
    throw MappingError(fmt::format("routing: {}", e.what()));
  } catch (const std::invalid_argument& e) {
    throw MappingError(fmt::format("routing: {}", e.what()));
  }
}

// The estimate is informational (nothing runs from it), but what the file holds must describe
// this mapping: one busy figure per unit, path steps on its units, finite non-negative cycles.
void validate_estimate(const Mapping& m) {
  const LatencyEstimate& e = m.estimate;
  auto fail = [](const std::string& what) { throw MappingError("section 'estimate': " + what); };
  if (e.profile_tokens < 0) fail(fmt::format("profile_tokens is {}", e.profile_tokens));
  if (e.profile_tokens == 0) {
    if (!e.unit_busy_cycles.empty() || !e.stages.empty() || !e.critical_path.empty())
      fail("no profile tokens, yet it holds figures");
    return;
  }
  if (e.unit_busy_cycles.size() != m.units.size())
    fail(fmt::format("{} unit busy figures for {} units", e.unit_busy_cycles.size(), m.units.size()));
  auto check = [&](double v, const std::string& what) {
    if (!std::isfinite(v) || v < 0) fail(fmt::format("{} is {}; expected a finite number >= 0", what, v));
  };
  for (double v : {e.cycles_per_token, e.packets_per_token, e.flits_injected_per_token, e.flits_delivered_per_token,
                   e.mesh_flit_hops_per_token, e.inter_chip_flits_per_token})
    check(v, "a per-token figure");
  for (std::size_t i = 0; i < e.unit_busy_cycles.size(); ++i) check(e.unit_busy_cycles[i], fmt::format("unit {} busy cycles", i));
  for (const LatencyEstimate::Stage& st : e.stages) {
    check(st.first_send, "stage " + st.tensor + " first_send");
    check(st.last_send, "stage " + st.tensor + " last_send");
    const int layers = m.kind == MappingKind::Nir ? int(m.nir.populations.size()) : m.config.n_layer;
    if (st.layer < -1 || st.layer >= layers) fail(fmt::format("stage {} is in layer {}", st.tensor, st.layer));
  }
  for (const LatencyEstimate::PathStep& step : e.critical_path) {
    if (step.unit < 0 || std::size_t(step.unit) >= m.units.size())
      fail(fmt::format("a critical-path step is on unit {}; the mapping has {}", step.unit, m.units.size()));
    check(step.start, "a critical-path start");
    check(step.end, "a critical-path end");
  }
}

// The recorded tokenizer must be one, of the model's vocabulary size: text the mapping encodes
// with it must give ids the host's embedding has rows for.
void validate_tokenizer(const Mapping& m) {
  const TokenizerSource& t = m.tokenizer;
  auto fail = [](const std::string& what) { throw MappingError("section 'tokenizer': " + what); };
  if (m.kind == MappingKind::Nir && t.kind != TokenizerKind::None)
    fail(fmt::format("a NIR mapping encodes no text, yet it records a {}", tokenizer_kind_name(t.kind)));
  if (t.kind == TokenizerKind::None) {
    if (!t.json.empty()) fail(fmt::format("kind none, yet it holds {} bytes of tokenizer JSON", t.json.size()));
    return;
  }
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = tokenizer_from_source(t, fmt::format("the tokenizer recorded from {}", t.path));
  } catch (const std::runtime_error& e) {
    fail(e.what());
  }
  if (tokenizer->vocab_size() != m.config.vocab_size)
    fail(fmt::format("the recorded {} ({}) has {} ids; the model's vocabulary has {}", tokenizer_kind_name(t.kind),
                     t.path, tokenizer->vocab_size(), m.config.vocab_size));
}

void validate_mapping(const Mapping& m) {
  const bool nir = m.kind == MappingKind::Nir;
  if (nir) {
    validate_nir_program(m);
  } else {
    validate_model(m);
    if (const char* field = set_nir_field(m.nir))
      throw MappingError(fmt::format("section 'nir': a SpikeGPT mapping holds the NIR field {}; only a mapping of kind "
                                     "nir has a NIR program",
                                     field));
  }
  const ChipSpec chip = mapping_chip_spec(m);
  if (chip.name != m.chip_name)
    throw MappingError(fmt::format("section 'chip': chip_name is '{}' but the embedded description is named '{}'",
                                   m.chip_name, chip.name));
  const int weight_bits = nir ? m.nir.weight_bits : m.quant.weight_bits;
  if (weight_bits > chip.core.weight_bits)
    throw MappingError(fmt::format("section '{}': {}-bit weights; the cores of '{}' store {}-bit weights",
                                   nir ? "nir" : "model", weight_bits, chip.name, chip.core.weight_bits));
  for (std::size_t i = 0; i < m.units.size(); ++i) validate_unit(m.units[i], i, m, chip);
  validate_flows(m);
  if (!nir) validate_host(m);
  const Topology topology(chip);
  validate_placement(m, topology);
  validate_routing(m, topology);
  validate_estimate(m);
  validate_tokenizer(m);
}

void save_mapping(const Mapping& m, const std::string& path, const EmbeddingStream* embedding) {
  if (embedding && !m.host.embedding.empty())
    throw std::logic_error("save_mapping: an embedding stream for a mapping that holds its embedding");
  if (!m.placement.unit_cores.empty() && m.placement.unit_cores != m.unit_cores)
    throw MappingError("cannot save the mapping: placement.unit_cores differs from unit_cores (the file stores one "
                       "placement)");
  std::vector<uint64_t> lengths(kSectionCount);
  for (int i = 0; i < kSectionCount; ++i) {
    CountingSink counter;
    write_section(counter, i, m, embedding);
    lengths[std::size_t(i)] = counter.bytes();
  }
  unsigned char header[kFirstSectionOffset] = {};
  std::memcpy(header, kMappingMagic, sizeof kMappingMagic);
  store_le(header + 8, kMappingFormatVersion);
  store_le(header + 12, uint32_t(kSectionCount));
  uint64_t offset = kFirstSectionOffset;
  for (int i = 0; i < kSectionCount; ++i) {
    unsigned char* entry = header + kHeaderBytes + uint64_t(i) * kTableEntryBytes;
    const std::string& name = mapping_section_names()[std::size_t(i)];
    std::memcpy(entry, name.data(), name.size());
    store_le(entry + kSectionNameBytes, offset);
    store_le(entry + kSectionNameBytes + 8, lengths[std::size_t(i)]);
    offset += lengths[std::size_t(i)] + kCrcBytes;
  }
  const uint64_t file_size = offset + kCrcBytes;
  store_le(header + 16, file_size);
  store_le(header + kTableEnd, checkpoint_io::crc32(header, kTableEnd));

  FileSink sink(path);
  sink.put(header, sizeof header);
  for (int i = 0; i < kSectionCount; ++i) {
    sink.start_section();
    const uint64_t before = sink.written();
    write_section(sink, i, m, embedding);
    if (sink.written() - before != lengths[std::size_t(i)])
      throw std::logic_error(fmt::format("section '{}' wrote {} bytes after counting {}", mapping_section_names()[std::size_t(i)],
                                         sink.written() - before, lengths[std::size_t(i)]));
    put(sink, sink.section_crc());
  }
  put(sink, sink.file_crc());
  sink.commit();
}

Mapping load_mapping(const std::string& path) {
  try {
    const FileReader file(path);
    uint32_t version = 0;
    const std::vector<SectionEntry> sections = read_header(file, version);
    verify_checksums(file, sections);
    Mapping m;
    for (std::size_t i = 0; i < sections.size(); ++i) {
      SectionReader reader(file, sections[i]);
      read_section(reader, int(i), m, version);
      reader.finish();
    }
    m.tokenizer_recorded = sections.size() > std::size_t(kTokenizer);
    validate_mapping(m);
    return m;
  } catch (const MappingError& e) {
    throw MappingError(fmt::format("{}: {}", path, e.what()));
  }
}

bool is_mapping_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char magic[sizeof kMappingMagic] = {};
  const bool match = std::fread(magic, 1, sizeof magic, f) == sizeof magic &&
                     (std::memcmp(magic, kMappingMagic, sizeof magic) == 0 ||
                      std::memcmp(magic, kFormerMappingMagic, sizeof magic) == 0);
  std::fclose(f);
  return match;
}

}  // namespace spiketile
