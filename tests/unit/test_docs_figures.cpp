// Figures in the docs that a command prints are not typed in: they sit in generated blocks that
// show each command beside what it printed, and this test runs every block's commands and compares
// (the docs cannot drift from the program). With SPIKETILE_UPDATE_DOCS=1 it rewrites the blocks
// instead; scripts/update-docs runs it so.
//
// A block is a ```console fence right after the marker line kGeneratedMarker. Inside, a line
// "$ COMMAND" is run by bash from the repository root (pipefail on; `spiketile` is the binary under
// test; $TMP is a folder of the block's own, shared by its commands in order), and the lines up to
// the next "$ " line or the fence are its standard output. A command that fails fails the test.
#include <gtest/gtest.h>

#include <gtest/gtest-spi.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/cli_runner.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using test_fixtures::read_text;

const std::string kGeneratedMarker = "<!-- generated: scripts/update-docs reruns these commands; the tests check them -->";

struct Command {
  std::string line;      // without the "$ "
  std::string expected;  // what the doc shows under it
};

struct Block {
  std::size_t begin = 0, end = 0;  // the fence's content in the file's text: [begin, end)
  std::vector<Command> commands;
};

// Every generated block of a doc, in order: the marker on a line of its own (a doc may quote it in
// running text); one not followed by a console fence is an error.
std::vector<Block> generated_blocks(const std::string& text, const std::string& name) {
  std::vector<Block> blocks;
  const std::string fence = "```console\n";
  for (std::size_t at = text.find(kGeneratedMarker); at != std::string::npos;
       at = text.find(kGeneratedMarker, at + 1)) {
    const std::size_t open = at + kGeneratedMarker.size() + 1;
    if ((at > 0 && text[at - 1] != '\n') || text.compare(open - 1, 1, "\n") != 0) continue;
    if (text.compare(open, fence.size(), fence) != 0) {
      ADD_FAILURE() << name << ": the generated marker at offset " << at << " is not followed by a ```console fence";
      continue;
    }
    Block b;
    b.begin = open + fence.size();
    b.end = text.find("```\n", b.begin);
    if (b.end == std::string::npos) {
      ADD_FAILURE() << name << ": unclosed generated block at offset " << at;
      break;
    }
    std::istringstream lines(text.substr(b.begin, b.end - b.begin));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("$ ", 0) == 0) b.commands.push_back({line.substr(2), ""});
      else if (!b.commands.empty()) b.commands.back().expected += line + "\n";
      else ADD_FAILURE() << name << ": a generated block starts with output, not a \"$ \" command: " << line;
    }
    blocks.push_back(b);
  }
  return blocks;
}

// What the command prints on standard output now; a failure names the command and its stderr.
std::string run_in_repo(const std::string& command, const fs::path& tmp) {
  const fs::path script = tmp / "command.sh", err = tmp / "stderr.txt";
  std::ofstream(script) << "set -o pipefail\ncd '" << SPIKETILE_SOURCE_DIR << "'\nexport TMP='" << tmp.string()
                        << "'\nexport PATH='" << fs::path(SPIKETILE_CLI).parent_path().string() << "':\"$PATH\"\n"
                        << command << "\n";
  // The braces keep stderr out of the captured output (run_shell folds the outer stderr in).
  const auto r = testing_cli::run_shell("{ bash " + script.string() + " 2>" + err.string() + "; }");
  EXPECT_EQ(r.status, 0) << "$ " << command << "\n" << r.output << read_text(err);
  return r.output;
}

std::vector<fs::path> docs_with_figures() {
  std::vector<fs::path> docs;
  const fs::path root(SPIKETILE_SOURCE_DIR);
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.rfind("build", 0) == 0 || name[0] == '.' || name == "Testing")) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->path().extension() == ".md" && read_text(it->path()).find("\n" + kGeneratedMarker + "\n") != std::string::npos)
      docs.push_back(it->path());
  }
  std::sort(docs.begin(), docs.end());
  return docs;
}

TEST(DocsFigures, EveryGeneratedBlockIsWhatItsCommandsPrintNow) {
  const bool update = std::getenv("SPIKETILE_UPDATE_DOCS") != nullptr;
  const auto docs = docs_with_figures();
  ASSERT_FALSE(docs.empty()) << "no doc holds a generated block";
  int block_index = 0;
  for (const fs::path& doc : docs) {
    std::string text = read_text(doc);
    const std::string name = fs::relative(doc, SPIKETILE_SOURCE_DIR).string();
    auto blocks = generated_blocks(text, name);
    // Rewritten from the last block back, so the earlier offsets stay valid.
    for (auto b = blocks.rbegin(); b != blocks.rend(); ++b) {
      const fs::path tmp = fs::temp_directory_path() /
                           ("spiketile_docs_" + std::to_string(::getpid()) + "_" + std::to_string(block_index++));
      fs::create_directories(tmp);
      std::string now;
      for (const Command& c : b->commands) {
        const std::string printed = run_in_repo(c.line, tmp);
        if (!update) EXPECT_EQ(printed, c.expected) << name << ": $ " << c.line << "\n(scripts/update-docs rewrites it)";
        now += "$ " + c.line + "\n" + printed;
      }
      fs::remove_all(tmp);
      if (update) text.replace(b->begin, b->end - b->begin, now);
    }
    if (update) std::ofstream(doc, std::ios::binary) << text;
  }
}

// The parser: commands and their output, a block that starts with output refused.
TEST(DocsFigures, BlocksAreReadAsCommandsAndTheirOutput) {
  const std::string text = "intro\n" + kGeneratedMarker + "\n```console\n$ echo a\na\n$ true\n$ printf 'x\\ny\\n'\nx\ny\n```\nafter\n";
  const auto blocks = generated_blocks(text, "t.md");
  ASSERT_EQ(blocks.size(), 1u);
  ASSERT_EQ(blocks[0].commands.size(), 3u);
  EXPECT_EQ(blocks[0].commands[0].line, "echo a");
  EXPECT_EQ(blocks[0].commands[0].expected, "a\n");
  EXPECT_EQ(blocks[0].commands[1].expected, "");
  EXPECT_EQ(blocks[0].commands[2].expected, "x\ny\n");
  EXPECT_EQ(text.substr(blocks[0].begin, blocks[0].end - blocks[0].begin),
            "$ echo a\na\n$ true\n$ printf 'x\\ny\\n'\nx\ny\n");
  const fs::path tmp = fs::temp_directory_path() / ("spiketile_docs_parse_" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  EXPECT_EQ(run_in_repo(blocks[0].commands[2].line, tmp), "x\ny\n");
  EXPECT_EQ(run_in_repo("spiketile --version", tmp).rfind("spiketile ", 0), 0u) << "the binary under test is on PATH";
  fs::remove_all(tmp);
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD,
                                                         &failures);
    generated_blocks(kGeneratedMarker + "\n```console\nstray output\n```\n", "bad.md");
  }
  EXPECT_EQ(failures.size(), 1);
  EXPECT_TRUE(generated_blocks("quoted `" + kGeneratedMarker + "` in a sentence\n", "prose.md").empty());
}

}  // namespace
}  // namespace spiketile
