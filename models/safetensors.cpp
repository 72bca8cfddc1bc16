// safetensors: u64 little-endian header length, a JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data area the offsets index into. Offsets must tile the data area exactly.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/checkpoint_io.hpp"
#include "models/output_file.hpp"
#include "models/tensor_file.hpp"

namespace spiketile {

namespace {

using Json = nlohmann::ordered_json;   // keeps the file's key order

constexpr uint64_t kLengthFieldSize = 8;
constexpr uint64_t kMaxHeaderSize = 100ull << 20;   // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";
constexpr std::size_t kReadChunk = 1u << 20;

struct HeaderEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;   // relative to the data area
  uint64_t end = 0;
};

std::optional<DType> parse_dtype(const std::string& name) {
  if (name == "F32") return DType::F32;
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  if (name == "F64") return DType::F64;
  return std::nullopt;
}

uint64_t read_header_length(const checkpoint_io::RandomAccessFile& file) {
  if (file.size() < kLengthFieldSize) {
    throw CheckpointError(fmt::format("{}: {} bytes is too small for a safetensors file (8-byte header length)", file.path(),
                                      file.size()));
  }
  uint8_t bytes[kLengthFieldSize];
  file.read_exact(0, bytes, sizeof bytes, "safetensors header length");
  uint64_t length = 0;
  for (std::size_t i = kLengthFieldSize; i-- > 0;) length = (length << 8) | bytes[i];
  const uint64_t available = file.size() - kLengthFieldSize;
  if (length > available) {
    throw CheckpointError(fmt::format("{}: safetensors header length {} exceeds the {} bytes that follow it", file.path(),
                                      length, available));
  }
  if (length > kMaxHeaderSize) {
    throw CheckpointError(fmt::format("{}: safetensors header length {} exceeds the {}-byte limit", file.path(), length,
                                      kMaxHeaderSize));
  }
  if (length < 2) throw CheckpointError(fmt::format("{}: safetensors header length {} is too small for a JSON object", file.path(), length));
  return length;
}

Json parse_header_json(const std::string& path, const std::string& text) {
  std::set<std::string> top_level_keys;
  // A header nests four levels (tensor → spec → shape → size); deeper is hostile, and destroying a
  // deep JSON value recurses once per level.
  constexpr int kMaxHeaderDepth = 8;
  auto reject_duplicates = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth > kMaxHeaderDepth)
      throw CheckpointError(fmt::format("{}: safetensors header nests deeper than {} levels", path, kMaxHeaderDepth));
    if (event == Json::parse_event_t::key && depth == 1 && !top_level_keys.insert(parsed.get<std::string>()).second) {
      throw CheckpointError(fmt::format("{}: safetensors header names '{}' twice", path, parsed.get<std::string>()));
    }
    return true;
  };
  try {
    Json header = Json::parse(text, reject_duplicates);
    if (!header.is_object()) {
      throw CheckpointError(fmt::format("{}: safetensors header is a JSON {}, expected an object", path, header.type_name()));
    }
    return header;
  } catch (const Json::exception& e) {
    throw CheckpointError(fmt::format("{}: safetensors header is not valid JSON: {}", path, e.what()));
  }
}

uint64_t require_unsigned(const std::string& path, const std::string& name, const Json& value, const char* field) {
  if (!value.is_number_unsigned()) {
    throw CheckpointError(fmt::format("{}: tensor '{}': {} holds {}, expected a non-negative integer", path, name, field,
                                      value.dump()));
  }
  return value.get<uint64_t>();
}

HeaderEntry parse_entry(const std::string& path, const std::string& name, const Json& spec) {
  if (!spec.is_object()) throw CheckpointError(fmt::format("{}: tensor '{}': header entry is a JSON {}, expected an object", path, name, spec.type_name()));
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!spec.contains(field)) throw CheckpointError(fmt::format("{}: tensor '{}': header entry has no '{}'", path, name, field));
  }
  HeaderEntry entry;
  entry.name = name;
  const Json& dtype = spec["dtype"];
  const std::optional<DType> parsed = dtype.is_string() ? parse_dtype(dtype.get<std::string>()) : std::nullopt;
  if (!parsed) {
    throw CheckpointError(fmt::format("{}: tensor '{}': unsupported dtype {}; supported: F32, F16, BF16, F64", path, name, dtype.dump()));
  }
  entry.dtype = *parsed;
  const Json& shape = spec["shape"];
  if (!shape.is_array()) throw CheckpointError(fmt::format("{}: tensor '{}': shape is {}, expected an array", path, name, shape.dump()));
  for (const Json& extent : shape) {
    const uint64_t value = require_unsigned(path, name, extent, "shape");
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw CheckpointError(fmt::format("{}: tensor '{}': shape extent {} is too large", path, name, value));
    }
    entry.shape.push_back(static_cast<int64_t>(value));
  }
  const Json& offsets = spec["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    throw CheckpointError(fmt::format("{}: tensor '{}': data_offsets is {}, expected [begin, end]", path, name, offsets.dump()));
  }
  entry.begin = require_unsigned(path, name, offsets[0], "data_offsets");
  entry.end = require_unsigned(path, name, offsets[1], "data_offsets");
  if (entry.end < entry.begin) {
    throw CheckpointError(fmt::format("{}: tensor '{}': data_offsets [{}, {}] end before they begin", path, name, entry.begin, entry.end));
  }
  const int64_t numel = checkpoint_io::checked_numel(entry.shape);
  const uint64_t element_size = dtype_size(entry.dtype);
  const bool too_large = numel < 0 || static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / element_size;
  if (too_large || static_cast<uint64_t>(numel) * element_size != entry.end - entry.begin) {
    throw CheckpointError(fmt::format("{}: tensor '{}': data_offsets [{}, {}] span {} bytes, shape {} of {} needs {}", path, name,
                                      entry.begin, entry.end, entry.end - entry.begin, checkpoint_io::shape_str(entry.shape),
                                      dtype_name(entry.dtype),
                                      too_large ? std::string("more than 2^63 bytes")
                                                : fmt::format("{} bytes", static_cast<uint64_t>(numel) * element_size)));
  }
  return entry;
}

// The tensors' byte ranges must tile [0, data_size) with no gap and no overlap.
void check_coverage(const std::string& path, std::vector<const HeaderEntry*> entries, uint64_t data_size) {
  for (const HeaderEntry* entry : entries) {
    if (entry->end > data_size) {
      throw CheckpointError(fmt::format("{}: tensor '{}': data_offsets [{}, {}] extend beyond the {}-byte data area (file truncated?)",
                                        path, entry->name, entry->begin, entry->end, data_size));
    }
  }
  std::sort(entries.begin(), entries.end(), [](const HeaderEntry* a, const HeaderEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const HeaderEntry* previous = nullptr;
  for (const HeaderEntry* entry : entries) {
    if (entry->begin < covered) {
      throw CheckpointError(fmt::format("{}: tensor '{}': data_offsets [{}, {}] overlap tensor '{}' (ends at {})", path,
                                        entry->name, entry->begin, entry->end, previous->name, covered));
    }
    if (entry->begin > covered) {
      throw CheckpointError(fmt::format("{}: tensor '{}': data_offsets [{}, {}] leave bytes [{}, {}) of the data area unused",
                                        path, entry->name, entry->begin, entry->end, covered, entry->begin));
    }
    covered = entry->end;
    previous = entry;
  }
  if (covered != data_size) {
    throw CheckpointError(fmt::format("{}: tensors cover {} bytes of the {}-byte data area; expected exactly all of it", path,
                                      covered, data_size));
  }
}

// Converts elements [first, first + count) of a tensor into `out`, one read chunk at a time, and
// checks them finite.
void read_elements(const checkpoint_io::RandomAccessFile& file, uint64_t data_start, const HeaderEntry& entry,
                   std::size_t first, std::size_t count, float* out) {
  const std::size_t element_size = dtype_size(entry.dtype);
  const std::size_t chunk_elements = kReadChunk / element_size;
  std::vector<uint8_t> buffer;
  try {
    buffer.resize(std::min<std::size_t>(kReadChunk, count * element_size));
  } catch (const std::bad_alloc&) {
    throw CheckpointError(fmt::format("{}: tensor '{}': out of memory for a read buffer", file.path(), entry.name));
  }
  const std::string what = fmt::format("tensor '{}'", entry.name);
  for (std::size_t done = 0; done < count; done += chunk_elements) {
    const std::size_t n = std::min(chunk_elements, count - done), element = first + done;
    file.read_exact(data_start + entry.begin + element * element_size, buffer.data(), n * element_size, what);
    const std::size_t overflow = checkpoint_io::convert_to_float(entry.dtype, false, buffer.data(), n, out + done);
    if (overflow != checkpoint_io::kNoIndex) {
      throw CheckpointError(fmt::format("{}: tensor '{}': element {} (index {}) is {:g} (float64), outside the float32 range",
                                        file.path(), entry.name, element + overflow,
                                        checkpoint_io::index_str(entry.shape, element + overflow),
                                        checkpoint_io::read_float64(buffer.data() + overflow * element_size, false)));
    }
  }
  checkpoint_io::require_finite(file.path(), entry.name, entry.shape, entry.dtype, out, count, first);
}

class SafetensorsReader final : public TensorReader {
 public:
  explicit SafetensorsReader(const std::string& path);
  const TensorIndex& index() const override { return index_; }
  std::string format() const override { return "safetensors"; }
  Tensor read(const std::string& name) override;
  void read_row_blocks(const std::string& name, int64_t rows_per_block, const RowBlockSink& sink) override;

 private:
  const HeaderEntry& entry(const std::string& name) const {
    index_.shape(name);   // throws the standard "no tensor" error for an unknown name
    return entries_[entry_by_name_.at(name)];
  }

  checkpoint_io::RandomAccessFile file_;
  uint64_t data_start_ = 0;
  std::vector<HeaderEntry> entries_;
  std::map<std::string, std::size_t> entry_by_name_;
  TensorIndex index_;
};

SafetensorsReader::SafetensorsReader(const std::string& path) : file_(path) {
  const uint64_t header_length = read_header_length(file_);
  std::string header_text(static_cast<std::size_t>(header_length), '\0');
  file_.read_exact(kLengthFieldSize, header_text.data(), header_text.size(), "safetensors header");
  const Json header = parse_header_json(path, header_text);

  for (const auto& [name, spec] : header.items()) {
    if (name == kMetadataKey) {
      if (!spec.is_object()) {
        throw CheckpointError(fmt::format("{}: safetensors __metadata__ is a JSON {}, expected an object", path, spec.type_name()));
      }
      // The format's metadata maps strings to strings; anything else is a header this reader
      // (and the reference implementation) does not understand.
      for (const auto& [key, value] : spec.items())
        if (!value.is_string())
          throw CheckpointError(fmt::format("{}: safetensors __metadata__ entry '{}' is a JSON {}, expected a string", path,
                                            key, value.type_name()));
      continue;
    }
    entries_.push_back(parse_entry(path, name, spec));
  }
  data_start_ = kLengthFieldSize + header_length;
  std::vector<const HeaderEntry*> by_offset;
  for (const HeaderEntry& entry : entries_) by_offset.push_back(&entry);
  check_coverage(path, by_offset, file_.size() - data_start_);

  index_.path = path;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    entry_by_name_.emplace(entries_[i].name, i);
    index_.order.push_back(entries_[i].name);
    index_.shapes.emplace(entries_[i].name, entries_[i].shape);
  }
}

Tensor SafetensorsReader::read(const std::string& name) {
  const HeaderEntry& e = entry(name);
  Tensor tensor;
  tensor.shape = e.shape;
  tensor.source_dtype = e.dtype;
  const auto numel = static_cast<std::size_t>((e.end - e.begin) / dtype_size(e.dtype));
  try {
    tensor.data.resize(numel);
  } catch (const std::bad_alloc&) {
    throw CheckpointError(fmt::format("{}: tensor '{}': out of memory for {} elements", file_.path(), e.name, numel));
  }
  read_elements(file_, data_start_, e, 0, numel, tensor.data.data());
  return tensor;
}

void SafetensorsReader::read_row_blocks(const std::string& name, int64_t rows_per_block, const RowBlockSink& sink) {
  const HeaderEntry& e = entry(name);
  const int64_t length = checkpoint_io::row_length(file_.path(), name, e.shape, rows_per_block);
  const int64_t rows = e.shape[0];
  std::vector<float> block(static_cast<std::size_t>(std::min(rows_per_block, rows) * length));
  for (int64_t first = 0; first < rows; first += rows_per_block) {
    const int64_t count = std::min(rows_per_block, rows - first);
    read_elements(file_, data_start_, e, static_cast<std::size_t>(first * length), static_cast<std::size_t>(count * length),
                  block.data());
    sink(first, count, block.data());
  }
}

}  // namespace

std::unique_ptr<TensorReader> open_safetensors(const std::string& path) { return std::make_unique<SafetensorsReader>(path); }

namespace {

// The file's order first, then any tensor the order does not list.
std::vector<std::string> save_order(const TensorFile& file) {
  std::vector<std::string> names;
  std::set<std::string> listed;
  for (const std::string& name : file.order) {
    if (!file.has(name)) throw CheckpointError(fmt::format("{}: order lists '{}', which has no tensor", file.path, name));
    if (listed.insert(name).second) names.push_back(name);
  }
  for (const auto& [name, tensor] : file.tensors) {
    if (listed.insert(name).second) names.push_back(name);
  }
  return names;
}

}  // namespace

void save_safetensors(const std::string& path, const TensorFile& file) {
  Json header = Json::object();
  uint64_t offset = 0;
  const std::vector<std::string> names = save_order(file);
  for (const std::string& name : names) {
    const Tensor& tensor = file.tensors.at(name);
    const int64_t numel = checkpoint_io::checked_numel(tensor.shape);
    if (name == kMetadataKey || name.empty()) throw CheckpointError(fmt::format("{}: '{}' is not a valid tensor name", path, name));
    if (numel < 0 || static_cast<uint64_t>(numel) != tensor.data.size()) {
      throw CheckpointError(fmt::format("{}: tensor '{}': shape {} does not match its {} values", path, name, tensor.shape_str(),
                                        tensor.data.size()));
    }
    const uint64_t bytes = tensor.data.size() * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", tensor.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  // Padding the header with spaces aligns the data area to 8 bytes, as the reference writer does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  OutputFile out(path);
  uint8_t length[kLengthFieldSize];
  for (std::size_t i = 0; i < kLengthFieldSize; ++i) length[i] = static_cast<uint8_t>(header_text.size() >> (8 * i));
  out.write(length, sizeof length);
  out.write(header_text);
  for (const std::string& name : names) {
    const std::vector<float>& data = file.tensors.at(name).data;
    out.write(data.data(), data.size() * sizeof(float));
  }
  out.commit();
}

}  // namespace spiketile
