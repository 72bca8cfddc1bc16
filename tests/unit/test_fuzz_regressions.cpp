// Replays every committed fuzz input (tests/fuzz/corpus/<reader>/ seeds and
// tests/fuzz/regressions/<reader>/ crash inputs) through the same targets the libFuzzer harnesses
// run, so a fixed finding stays fixed in the ordinary build, with no clang. A target returns for
// any input its reader refuses properly; an unexpected exception fails the test, a crash fails it
// too (the binary dies).
#include <gtest/gtest.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_targets.hpp"

namespace spiketile::fuzz {
namespace {

namespace fs = std::filesystem;

const fs::path kFuzzInputs = SPIKETILE_FUZZ_INPUTS;

// Files of a folder in name order (an absent folder has none: most readers have no regression).
std::vector<fs::path> files_in(const fs::path& folder) {
  std::vector<fs::path> files;
  if (!fs::is_directory(folder)) return files;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void replay(const FuzzReader& reader, const std::vector<fs::path>& inputs) {
  for (const fs::path& input : inputs) {
    const std::string bytes = read_bytes(input);
    try {
      reader.target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      ADD_FAILURE() << input.string() << ": fuzz_" << reader.name << " let an exception through: " << e.what();
    } catch (...) {
      ADD_FAILURE() << input.string() << ": fuzz_" << reader.name << " let a non-standard exception through";
    }
  }
}

}  // namespace

// Names the reader in test output instead of dumping the struct's bytes.
void PrintTo(const FuzzReader& reader, std::ostream* out) { *out << reader.name; }

namespace {

class FuzzInputs : public ::testing::TestWithParam<FuzzReader> {};

TEST_P(FuzzInputs, SeedCorpusReplaysCleanly) {
  const std::vector<fs::path> seeds = files_in(kFuzzInputs / "corpus" / GetParam().name);
  ASSERT_FALSE(seeds.empty()) << "no seeds in tests/fuzz/corpus/" << GetParam().name;
  replay(GetParam(), seeds);
}

TEST_P(FuzzInputs, CrashInputsStayFixed) { replay(GetParam(), files_in(kFuzzInputs / "regressions" / GetParam().name)); }

INSTANTIATE_TEST_SUITE_P(Readers, FuzzInputs, ::testing::ValuesIn(fuzz_readers()),
                         [](const ::testing::TestParamInfo<FuzzReader>& info) { return info.param.name; });

// Every corpus folder belongs to a reader, so a renamed reader cannot leave its inputs unreplayed.
TEST(FuzzInputs, EveryCorpusFolderHasATarget) {
  for (const char* kind : {"corpus", "regressions"}) {
    if (!fs::is_directory(kFuzzInputs / kind)) continue;
    for (const fs::directory_entry& folder : fs::directory_iterator(kFuzzInputs / kind)) {
      const std::string name = folder.path().filename().string();
      const bool known = std::any_of(fuzz_readers().begin(), fuzz_readers().end(),
                                     [&](const FuzzReader& reader) { return reader.name == name; });
      EXPECT_TRUE(known) << "tests/fuzz/" << kind << "/" << name << " has no fuzz target";
    }
  }
}

}  // namespace
}  // namespace spiketile::fuzz
