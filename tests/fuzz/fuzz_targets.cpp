#include "tests/fuzz/fuzz_targets.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "chips/chip_spec.hpp"
#include "chips/gpu_spec.hpp"
#include "chips/energy_table.hpp"
#include "compiler/mapping.hpp"
#include "compiler/mapping_io.hpp"
#include "models/checkpoint_io.hpp"
#include "models/nir/nir_graph.hpp"
#include "models/nir/nir_reference.hpp"
#include "models/quantized.hpp"
#include "models/tensor_file.hpp"
#include "models/tokenizer.hpp"
#include "runtime/npy.hpp"
#include "runtime/stats.hpp"

namespace spiketile::fuzz {
namespace {

// A tensor may legitimately be a view far larger than its storage (stride 0); reading one that
// size would measure the allocator, not the reader.
constexpr int64_t kMaxTensorElements = int64_t(1) << 22;
constexpr int64_t kRowsPerBlock = 3;   // odd, so blocks rarely line up with tensor shapes

// Readers that take only a path get the bytes through a file, as the CLI gives them one. One file
// per reader and process, removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name)
      : path_((std::filesystem::temp_directory_path() / fmt::format("spiketile-fuzz-{}-{}", ::getpid(), name))
                  .string()) {}
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& write(const std::string& bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out.flush()) throw std::runtime_error("cannot write the fuzz scratch file " + path_);
    return path_;
  }

 private:
  std::string path_;
};

uint64_t load_le(const std::string& bytes, std::size_t at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = value << 8 | uint8_t(bytes[at + std::size_t(i)]);
  return value;
}

void store_le32(std::string& bytes, std::size_t at, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[at + std::size_t(i)] = char(value >> (8 * i) & 0xFF);
}

uint32_t crc_of(const std::string& bytes, std::size_t begin, std::size_t length) {
  return checkpoint_io::crc32(bytes.data() + begin, length);
}

// Rewrites the CRC-32 of every STORED entry of a (possibly mutated) zip archive in both its
// central-directory record and its local header. Without this almost every mutation of the pickle
// or of tensor data stops at the CRC check, and the pickle machine and tensor views behind it go
// unfuzzed; the CRC comparison itself is a few lines the unit tests cover. Anything that does not
// parse is left as it is for the reader to refuse.
void repair_zip_checksums(std::string& bytes) {
  constexpr uint32_t kEndOfCentralDirectory = 0x06054b50, kCentralRecord = 0x02014b50, kLocalHeader = 0x04034b50;
  constexpr std::size_t kEndRecordBytes = 22, kCentralRecordBytes = 46, kLocalHeaderBytes = 30;
  if (bytes.size() < kEndRecordBytes) return;
  std::size_t end_record = bytes.size() - kEndRecordBytes;
  while (load_le(bytes, end_record, 4) != kEndOfCentralDirectory) {
    if (end_record == 0 || bytes.size() - end_record > kEndRecordBytes + 0xFFFF) return;
    --end_record;
  }
  const uint64_t entries = load_le(bytes, end_record + 10, 2);
  std::size_t record = std::size_t(load_le(bytes, end_record + 16, 4));
  for (uint64_t i = 0; i < entries; ++i) {
    if (record > bytes.size() || bytes.size() - record < kCentralRecordBytes) return;
    if (load_le(bytes, record, 4) != kCentralRecord) return;
    const uint64_t method = load_le(bytes, record + 10, 2);
    const uint64_t stored_size = load_le(bytes, record + 20, 4);
    const std::size_t local = std::size_t(load_le(bytes, record + 42, 4));
    const std::size_t next = record + kCentralRecordBytes + load_le(bytes, record + 28, 2) +
                             load_le(bytes, record + 30, 2) + load_le(bytes, record + 32, 2);
    if (method == 0 && local < bytes.size() && bytes.size() - local >= kLocalHeaderBytes &&
        load_le(bytes, local, 4) == kLocalHeader) {
      const std::size_t data = local + kLocalHeaderBytes + load_le(bytes, local + 26, 2) + load_le(bytes, local + 28, 2);
      if (data <= bytes.size() && stored_size <= bytes.size() - data) {
        const uint32_t crc = crc_of(bytes, data, std::size_t(stored_size));
        store_le32(bytes, record + 16, crc);
        store_le32(bytes, local + 14, crc);
      }
    }
    record = next;
  }
}

// The same for a mapping file (docs/mapping-format.md, "File layout"): the header-and-table CRC,
// each section's CRC and the whole-file CRC, for a section table (of as many sections as the
// version the file declares has) that fits the input.
void repair_mapping_checksums(std::string& bytes) {
  constexpr std::size_t kHeaderBytes = 24, kTableEntryBytes = 32, kSectionNameBytes = 16, kCrcBytes = 4;
  if (bytes.size() < kHeaderBytes) return;
  const auto version = uint32_t(load_le(bytes, 8, 4));
  const std::size_t table_end = kHeaderBytes + mapping_section_names(version).size() * kTableEntryBytes;
  if (bytes.size() < table_end + 2 * kCrcBytes) return;
  store_le32(bytes, table_end, crc_of(bytes, 0, table_end));
  for (std::size_t entry = kHeaderBytes; entry < table_end; entry += kTableEntryBytes) {
    const uint64_t offset = load_le(bytes, entry + kSectionNameBytes, 8);
    const uint64_t length = load_le(bytes, entry + kSectionNameBytes + 8, 8);
    if (offset > bytes.size() || length > bytes.size() - offset || bytes.size() - offset - length < kCrcBytes) break;
    store_le32(bytes, std::size_t(offset + length), crc_of(bytes, std::size_t(offset), std::size_t(length)));
  }
  const std::size_t whole_file = bytes.size() - kCrcBytes;
  store_le32(bytes, whole_file, crc_of(bytes, 0, whole_file));
}

// Reads every tensor whole and by row blocks: the data path (dtype conversion, strided views,
// finiteness checks) is where the offsets the file declares are used.
void read_every_tensor(const std::function<std::unique_ptr<TensorReader>()>& open) {
  try {
    const std::unique_ptr<TensorReader> reader = open();
    const TensorIndex& index = reader->index();
    for (const std::string& name : index.order) {
      const std::vector<int64_t>& shape = index.shape(name);
      const int64_t numel = checkpoint_io::checked_numel(shape);
      if (numel < 0 || numel > kMaxTensorElements) continue;
      const Tensor tensor = reader->read(name);
      if (int64_t(tensor.data.size()) != numel || tensor.shape != shape)
        throw FuzzFinding(fmt::format("tensor '{}' read as {} values of {}; its index says {} of {}", name,
                                      tensor.data.size(), tensor.shape_str(), numel, checkpoint_io::shape_str(shape)));
      if (shape.empty() || shape[0] == 0 || numel == 0) continue;
      int64_t rows_seen = 0;
      reader->read_row_blocks(name, kRowsPerBlock, [&](int64_t first_row, int64_t rows, const float*) {
        if (first_row != rows_seen) throw FuzzFinding(fmt::format("tensor '{}': row block starts at {}", name, first_row));
        rows_seen += rows;
      });
      if (rows_seen != shape[0])
        throw FuzzFinding(fmt::format("tensor '{}': row blocks gave {} rows of {}", name, rows_seen, shape[0]));
    }
  } catch (const CheckpointError&) {
  }
}

// What a loaded tokenizer must do for any text: ids inside its vocabulary, each with its bytes.
void require_consistent_encoding(const Tokenizer& tokenizer, const std::string& text) {
  for (int id : tokenizer.encode(text)) {
    if (id < 0 || id >= tokenizer.vocab_size())
      throw FuzzFinding(fmt::format("{} encoded to id {} outside its {} ids", tokenizer.name(), id,
                                    tokenizer.vocab_size()));
    tokenizer.token_bytes(id);
  }
}

// Text with spaces, digits, punctuation, an added token of the NeoX vocabulary, accents in NFD
// form and ill-formed UTF-8, for tokenizers whose files were fuzzed.
const std::string& tokenizer_probe_text() {
  static const std::string text = "Hello, world!  It's 2024\n<|endoftext|>e\xCC\x81t\xC3\xA9 \xFF\xC3 end";
  return text;
}

std::string data_dir() {
  if (const char* env = std::getenv("SPIKETILE_DATA_DIR")) return env;
  return std::string(SPIKETILE_SHARED_DIR) + "/data";
}

bool is_ascii(const std::string& text) {
  for (char c : text)
    if (uint8_t(c) >= 0x80) return false;
  return true;
}

}  // namespace

void fuzz_pth(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  static const ScratchFile file("checkpoint.pth");
  std::string bytes(reinterpret_cast<const char*>(data), size);
  repair_zip_checksums(bytes);
  const std::string& path = file.write(bytes);
  read_every_tensor([&] { return open_pth(path); });
}

void fuzz_safetensors(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  static const ScratchFile file("checkpoint.safetensors");
  const std::string& path = file.write(std::string(reinterpret_cast<const char*>(data), size));
  read_every_tensor([&] { return open_safetensors(path); });
}

void fuzz_mapping(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  static const ScratchFile file("mapping.stmap");
  std::string bytes(reinterpret_cast<const char*>(data), size);
  repair_mapping_checksums(bytes);
  try {
    load_mapping(file.write(bytes));
  } catch (const MappingError&) {
  }
}

void fuzz_chip_yaml(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  ChipSpec chip;
  try {
    chip = load_chip_spec_from_string(std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
  } catch (const ChipSpecError&) {
    return;
  }
  // A description the loader accepts must be one the rest of the tool can derive its numbers from.
  chip.event_packet_format();
  chip.inter_chip_cycles_per_flit();
  chip.gateway_offsets(chip.mesh.rows);
  chip.gateway_offsets(chip.mesh.cols);
  if (chip.crossbar_weight_bytes() <= 0 || chip.total_cores() <= 0)
    throw FuzzFinding(fmt::format("accepted chip has {} crossbar weight bytes and {} cores",
                                  chip.crossbar_weight_bytes(), chip.total_cores()));
}

void fuzz_energy_yaml(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  static const ScratchFile file("energy.yaml");
  try {
    const EnergyTable table = load_energy_table(file.write(std::string(reinterpret_cast<const char*>(data), size)));
    for (const std::string& action : energy_action_names()) table.energy_pj(action);
  } catch (const EnergyTableError&) {
  }
}

void fuzz_stats_json(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  nlohmann::json parsed;
  try {
    parsed = nlohmann::json::parse(data, data + size);
  } catch (const nlohmann::json::exception&) {
    return;  // read_stats refuses what nlohmann cannot parse (1e999 included) before stats_from_json sees it
  }
  RunStats stats;
  try {
    stats = stats_from_json(parsed);
  } catch (const std::invalid_argument&) {
    return;
  }
  // The tool writes what it read back (report, merge): accepted statistics must survive that.
  const nlohmann::json written = stats_to_json(stats);
  if (stats_to_json(stats_from_json(written)) != written)
    throw FuzzFinding("statistics change on a write-read round trip: " + written.dump().substr(0, 400));
}

void fuzz_bpe_tokenizer_json(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = load_bpe_tokenizer_from_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
  } catch (const std::runtime_error&) {
    return;
  }
  require_consistent_encoding(*tokenizer, tokenizer_probe_text());
}

void fuzz_char_tokenizer_json(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  static const ScratchFile file("vocab.json");
  std::unique_ptr<Tokenizer> tokenizer;
  try {
    tokenizer = load_char_tokenizer(file.write(std::string(reinterpret_cast<const char*>(data), size)));
  } catch (const std::runtime_error&) {
    return;
  }
  try {
    require_consistent_encoding(*tokenizer, tokenizer_probe_text());
  } catch (const UnknownCharacterError& e) {
    // Documented only for a vocabulary without a space: one with a space reads unknown characters as it.
    try {
      tokenizer->encode(" ");
    } catch (const UnknownCharacterError&) {
      return;
    }
    throw FuzzFinding(std::string("a vocabulary with a space refused a character: ") + e.what());
  }
}

void fuzz_text_input(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  // The tokenizers the CLI encodes text with, loaded once: the NeoX file takes a while.
  static const std::unique_ptr<Tokenizer> book = tokenizer_for_vocab(77, data_dir());
  static const std::unique_ptr<Tokenizer> neox = tokenizer_for_vocab(50277, data_dir());
  const std::string text(reinterpret_cast<const char*>(data), size);
  require_consistent_encoding(*book, text);
  require_consistent_encoding(*neox, text);
  // Byte-level BPE loses nothing: NFC leaves ASCII alone, so ASCII text decodes to itself.
  if (is_ascii(text) && neox->decode(neox->encode(text)) != text)
    throw FuzzFinding("NeoX BPE does not round-trip the ASCII text: " + text.substr(0, 200));
}

void fuzz_calibration_json(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  static const ScratchFile file("model.calib.json");
  constexpr int kLayers = 2;   // the seeds are calibrations of 2-layer models
  Calibration calibration;
  try {
    calibration = Calibration::load(file.write(std::string(reinterpret_cast<const char*>(data), size)), kLayers);
  } catch (const std::runtime_error&) {
    return;
  }
  // The quantizer divides by these ranges and takes their logarithms: an accepted calibration has
  // one finite, non-negative range per layer and quantity, and a token count that is one.
  for (const std::vector<double>* ranges : {&calibration.ln1, &calibration.att_value, &calibration.att_gated,
                                            &calibration.ln2, &calibration.ffn_key_pos, &calibration.ffn_hidden})
    for (double range : *ranges)
      if (ranges->size() != std::size_t(kLayers) || !std::isfinite(range) || range < 0)
        throw FuzzFinding(fmt::format("accepted calibration has a range {} in {} layers", range, ranges->size()));
  if (!std::isfinite(calibration.ln_out) || calibration.ln_out < 0)
    throw FuzzFinding(fmt::format("accepted calibration has ln_out {}", calibration.ln_out));
  if (calibration.tokens < 0) throw FuzzFinding(fmt::format("accepted calibration of {} tokens", calibration.tokens));
}

void fuzz_gpu_yaml(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  static const ScratchFile file("gpu.yaml");
  GpuSpec gpu;
  try {
    gpu = load_gpu_spec(file.write(std::string(reinterpret_cast<const char*>(data), size)));
  } catch (const GpuSpecError&) {
    return;
  }
  // The roofline divides by every figure: an accepted sheet has them all finite and positive.
  for (double figure : {gpu.peak_dense_tensor_tflops, gpu.peak_fp32_tflops, gpu.memory_bandwidth_tb_per_s,
                        gpu.memory_gb, gpu.board_power_w})
    if (!std::isfinite(figure) || figure <= 0)
      throw FuzzFinding(fmt::format("accepted GPU spec '{}' has a figure {}", gpu.name, figure));
  if (gpu.weight_bytes <= 0 || gpu.state_bytes <= 0)
    throw FuzzFinding(fmt::format("accepted GPU spec '{}' stores {} bytes per weight and {} per state element",
                                  gpu.name, gpu.weight_bytes, gpu.state_bytes));
  // Weights resident in the L2 are read at its bandwidth, and a resident share never exceeds the cache.
  if (gpu.l2_resident_mb > 0 && !(std::isfinite(gpu.l2_read_bandwidth_tb_per_s) && gpu.l2_read_bandwidth_tb_per_s > 0))
    throw FuzzFinding(fmt::format("accepted GPU spec '{}' holds weights in an L2 read at {} TB/s", gpu.name,
                                  gpu.l2_read_bandwidth_tb_per_s));
  if (gpu.l2_resident_mb > gpu.l2_cache_mb)
    throw FuzzFinding(fmt::format("accepted GPU spec '{}' holds {} MB in a {} MB L2", gpu.name, gpu.l2_resident_mb,
                                  gpu.l2_cache_mb));
  // A range brackets its value.
  for (const BitEnergy& e : {gpu.hbm_energy, gpu.l2_energy})
    if (e.low > e.pj || e.high < e.pj)
      throw FuzzFinding(fmt::format("accepted GPU spec '{}' with an energy range {}..{} around {} pJ/bit", gpu.name,
                                    e.low, e.high, e.pj));
}

void fuzz_nir(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  static const ScratchFile file("graph.nir");
  nir::Graph graph;
  try {
    graph = nir::read_nir(file.write(std::string(reinterpret_cast<const char*>(data), size)));
  } catch (const nir::NirError&) {
    return;
  }
  (void)nir::describe(graph);
  (void)graph.cycles();
  // An accepted graph is consistent: every edge joins shapes of one size, the order covers
  // every node once, and a step of the reference yields the output's size.
  if (graph.order.size() != graph.nodes.size()) throw FuzzFinding("evaluation order misses nodes");
  int64_t work = 0;
  for (const nir::Edge& e : graph.edges)
    if (nir::element_count(graph.nodes[std::size_t(e.from)].output_shape) !=
        nir::element_count(graph.nodes[std::size_t(e.to)].input_shape))
      throw FuzzFinding("accepted an edge between shapes of different sizes");
  for (const auto& n : graph.nodes) {
    const int64_t kernel = n.has("weight") ? n.params.at("weight").size() : 1;
    work += nir::element_count(n.output_shape) * std::max<int64_t>(1, kernel / std::max<int64_t>(1, n.output_shape.at(0)));
  }
  if (work > (int64_t(1) << 22) || graph.inputs.size() != 1 || graph.outputs.size() != 1) return;  // too slow to step
  nir::ReferenceOptions options;
  options.dt = 1e-3;
  try {
    nir::ReferenceExecutor run(graph, options);
    const auto& input = graph.nodes[std::size_t(graph.inputs[0])];
    const auto y = run.step({std::vector<double>(std::size_t(nir::element_count(input.output_shape)), 1.0)});
    if (int64_t(y.at(0).size()) != nir::element_count(graph.nodes[std::size_t(graph.outputs[0])].input_shape))
      throw FuzzFinding("a step's output has the wrong size");
  } catch (const std::invalid_argument&) {
  }
}

void fuzz_npy_input(const uint8_t* data, std::size_t size) {
  if (size > kMaxInputBytes) return;
  static const ScratchFile file("input.npy");
  NpyValues values;
  try {
    values = read_npy_values(file.write(std::string(reinterpret_cast<const char*>(data), size)));
  } catch (const std::runtime_error&) {
    return;
  }
  int64_t count = 1;
  for (int64_t d : values.shape) count *= d;
  if (count != int64_t(values.data.size())) throw FuzzFinding("npy values do not fill their shape");
}

const std::vector<FuzzReader>& fuzz_readers() {
  static const std::vector<FuzzReader> readers = {
      {"pth", fuzz_pth},
      {"safetensors", fuzz_safetensors},
      {"mapping", fuzz_mapping},
      {"chip_yaml", fuzz_chip_yaml},
      {"energy_yaml", fuzz_energy_yaml},
      {"stats_json", fuzz_stats_json},
      {"bpe_tokenizer_json", fuzz_bpe_tokenizer_json},
      {"char_tokenizer_json", fuzz_char_tokenizer_json},
      {"text_input", fuzz_text_input},
      {"calibration_json", fuzz_calibration_json},
      {"gpu_yaml", fuzz_gpu_yaml},
      {"nir", fuzz_nir},
      {"npy_input", fuzz_npy_input},
  };
  return readers;
}

}  // namespace spiketile::fuzz
