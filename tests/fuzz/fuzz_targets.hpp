// One fuzz target per input reader (issue 19): each feeds arbitrary bytes to the reader the CLI
// uses and swallows only the error type that reader documents for bad input. Anything else
// escapes: another exception type, a broken invariant (FuzzFinding), or a crash or sanitizer
// report. The same functions run under libFuzzer (fuzz_main.cpp, in a SPIKETILE_FUZZ build) and
// replay the committed corpus and regression inputs in the ordinary unit tests, so a finding stays
// fixed without clang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace spiketile::fuzz {

// A reader accepted an input and then broke a promise about what it returned (for example,
// statistics that do not survive their own JSON round trip). Never caught by a target.
class FuzzFinding : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Inputs above this are skipped: every reader streams or caps its own reads, so longer inputs
// only slow a run down without reaching new code.
inline constexpr std::size_t kMaxInputBytes = std::size_t(1) << 20;

void fuzz_pth(const uint8_t* data, std::size_t size);
void fuzz_safetensors(const uint8_t* data, std::size_t size);
void fuzz_mapping(const uint8_t* data, std::size_t size);
void fuzz_chip_yaml(const uint8_t* data, std::size_t size);
void fuzz_energy_yaml(const uint8_t* data, std::size_t size);
void fuzz_stats_json(const uint8_t* data, std::size_t size);
void fuzz_bpe_tokenizer_json(const uint8_t* data, std::size_t size);
void fuzz_char_tokenizer_json(const uint8_t* data, std::size_t size);
void fuzz_text_input(const uint8_t* data, std::size_t size);
void fuzz_calibration_json(const uint8_t* data, std::size_t size);
void fuzz_gpu_yaml(const uint8_t* data, std::size_t size);
void fuzz_nir(const uint8_t* data, std::size_t size);
void fuzz_npy_input(const uint8_t* data, std::size_t size);

using FuzzTarget = void (*)(const uint8_t* data, std::size_t size);

struct FuzzReader {
  std::string name;          // the folder under tests/fuzz/corpus/ and regressions/
  FuzzTarget target;
};

// Every reader above, by folder name (the replay test and scripts/fuzz.sh use the same names).
const std::vector<FuzzReader>& fuzz_readers();

}  // namespace spiketile::fuzz
