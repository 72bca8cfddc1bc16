// The compiled-mapping file (.stmap): a versioned, checksummed, little-endian binary holding a
// Mapping — everything the chip runs — including the chip description it was compiled for.
//
// docs/mapping-format.md is the byte-level layout. In short: magic and version, a table of eleven
// sections (model, chip, units, flows, host, placement, routing, decisions, estimate, tokenizer,
// nir) each followed by its CRC-32, and a CRC-32 of the whole file. The writer streams every parameter array straight from
// the Mapping (no second copy); the loader checks sizes against the file before it allocates,
// verifies every checksum before it parses, and validates the parsed mapping in full
// (validate_mapping), so a corrupt, truncated or inconsistent file is rejected with a MappingError
// naming the section, unit or field, what it found and what it expected.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chips/chip_spec.hpp"
#include "compiler/mapping.hpp"
#include "compiler/routing.hpp"

namespace spiketile {

// The mapping format version this build writes. Version 1 was the format of this tool under its
// earlier name (magic kFormerMappingMagic); version 2 was version 1's layout under this tool's own
// magic; version 3 added the 'estimate' section (the compiler's latency bound); version 4 added the
// 'tokenizer' section (the tokenizer the model was compiled with, content and all); version 5 adds
// the 'nir' section (the mapping's kind and, for a compiled NIR graph, its NirProgram) and the NIR
// unit kind, neuron functions and parameter arrays; version 6 ends the 'model' section with a
// spike-input variant's T (0 for the released graph) and adds the spike-threshold parameter arrays.
inline constexpr uint32_t kMappingFormatVersion = 6;
// The oldest version this build still reads: a version-3 mapping loads without a tokenizer record
// (Mapping::tokenizer_recorded false), and its text falls back to the shipped tokenizers by size;
// a version-3 or version-4 mapping is a SpikeGPT (they predate NIR mappings), and one before
// version 6 is of the released graph (they predate spike-input variants).
inline constexpr uint32_t kOldestReadableMappingVersion = 3;
// "\x89STMAP\r\n": the high byte catches 7-bit transfers, CR LF catches newline translation.
inline constexpr unsigned char kMappingMagic[8] = {0x89, 'S', 'T', 'M', 'A', 'P', '\r', '\n'};
inline constexpr const char* kMappingExtension = ".stmap";
// The magic of the mappings this tool wrote under its earlier name: recognised only to refuse
// such a file with a message that says what it is and how to recompile it.
inline constexpr unsigned char kFormerMappingMagic[8] = {0x89, 'S', 'F', 'M', 'A', 'P', '\r', '\n'};

// The sections of the format version this build writes, in file order, and of an older readable
// version (its first sections; every version so far only appended sections).
const std::vector<std::string>& mapping_section_names();
std::vector<std::string> mapping_section_names(uint32_t version);

// Writes `mapping` to `path` via "<path>.partial" and a rename, so a failed write never leaves a
// truncated mapping behind. Streams: memory use does not grow with the weights. Does not validate
// (validate_mapping does); throws MappingError when the file cannot be written or a field cannot
// be represented.
// The host's embedding table written into the file as it is produced, so a compile need not hold
// it (V × C int32 values: 155 MB at the 216M shape): `produce` hands over the values in order,
// in pieces, through `emit`. The file is byte for byte the one a mapping holding the table gives.
struct EmbeddingStream {
  int64_t values = 0;
  std::function<void(const std::function<void(const int32_t* values, std::size_t count)>& emit)> produce;
};
void save_mapping(const Mapping& mapping, const std::string& path, const EmbeddingStream* embedding = nullptr);

// Reads, checks and validates a mapping file; throws MappingError ("<path>: ...") on any problem.
Mapping load_mapping(const std::string& path);

// Everything the loader checks once the bytes are parsed: model and chip consistency, unit ids,
// ranges and parameter arrays (expected_params), flows, host data, placement (every unit on a
// distinct core of the chip, within the core's resources), and the routing tables against a
// rebuild from placement and flows. A NIR mapping (kind Nir) is checked against its NirProgram
// (populations, projections, column spaces, flow_projection) instead of a SpikeGPT's shapes, host
// data and op rules; a SpikeGPT mapping must hold an empty NirProgram and no NIR units.
void validate_mapping(const Mapping& mapping);

// True when the file starts with kMappingMagic or kFormerMappingMagic (`spiketile inspect`
// dispatches on it, so a mapping of the earlier name reaches load_mapping's refusal).
bool is_mapping_file(const std::string& path);

// The embedded chip description, parsed and validated (MappingError when it is not valid).
ChipSpec mapping_chip_spec(const Mapping& mapping);
// The routing tables build_routing_tables gives for the mapping's placement and flows; what
// Mapping::routing_tables must equal. MappingError when they cannot be built.
RoutingTables rebuild_routing_tables(const Mapping& mapping, const Topology& topology);

// A parameter array a unit must hold: its name, element type and element count.
struct ParamRule {
  std::string name;
  ParamType type = ParamType::i32;
  int64_t count = 0;
};
// The arrays of `unit` (by kind, function and layer), exactly those and no others; the table in
// docs/mapping-format.md lists the same.
std::vector<ParamRule> expected_params(const Unit& unit, const ModelConfig& config);
const char* param_type_name(ParamType type);  // "i8", "i32", "i64"

}  // namespace spiketile
