// Output files appear whole or not at all, report every write error with the path, write devices
// and FIFOs through, follow symlinks, and never replace an input (issue 19 item 3). The tests run
// as root, for whom permissions never fail a write: /dev/full and missing folders make the errors.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "models/output_file.hpp"
#include "tests/unit/cli_runner.hpp"
#include "tests/unit/output_file_checks.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using testing_output::temporaries_beside;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_output_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// The message of what `action` throws, or "" when it throws nothing.
template <class Action>
std::string error_of(Action action) {
  try {
    action();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(OutputFile, TheTargetKeepsItsOldBytesUntilCommitThenHasTheNewOnes) {
  const fs::path dir = fresh_dir("commit");
  const fs::path target = dir / "stats.json";
  write_text(target, "old");
  ::chmod(target.c_str(), 0640);
  {
    OutputFile out(target.string());
    out.write("new bytes");
    out.close();
    EXPECT_EQ(read_text(target), "old");
    ASSERT_EQ(temporaries_beside(target.string()).size(), 1u);
    EXPECT_EQ(temporaries_beside(target.string())[0], out.writing_path());
    out.commit();
  }
  EXPECT_EQ(read_text(target), "new bytes");
  EXPECT_TRUE(temporaries_beside(target.string()).empty());
  EXPECT_EQ(fs::status(target).permissions() & fs::perms::all, fs::perms(0640));
  fs::remove_all(dir);
}

TEST(OutputFile, WithoutCommitTheTemporaryIsRemovedAndTheOldFileStays) {
  const fs::path dir = fresh_dir("abandon");
  const fs::path target = dir / "model.calib.json";
  write_text(target, "old");
  {
    OutputFile out(target.string());
    out.write("half of a file");
  }
  EXPECT_EQ(read_text(target), "old");
  EXPECT_TRUE(temporaries_beside(target.string()).empty());
  fs::remove_all(dir);
}

TEST(OutputFile, AFullDeviceIsAnErrorNamingThePathAndTheDeviceStays) {
  const std::string message = error_of([] {
    OutputFile out("/dev/full");
    out.write("x");
    out.commit();
  });
  EXPECT_EQ(message, "cannot write /dev/full: No space left on device");
  struct stat st;
  ASSERT_EQ(::stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(OutputFile, AMissingFolderFailsAtOpenNamingThePath) {
  const std::string message = error_of([] { OutputFile out("/nonexistent-dir/x.json"); });
  EXPECT_EQ(message, "cannot write /nonexistent-dir/x.json: No such file or directory");
}

TEST(OutputFile, AFifoIsWrittenThroughAndStaysAFifo) {
  const fs::path dir = fresh_dir("fifo");
  const fs::path fifo = dir / "logits.npy";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] { received = read_text(fifo); });  // opening blocks until the writer opens
  {
    OutputFile out(fifo.string());
    EXPECT_EQ(out.writing_path(), fifo.string());
    out.write("through the pipe");
    out.commit();
  }
  reader.join();
  EXPECT_EQ(received, "through the pipe");
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_TRUE(temporaries_beside(fifo.string()).empty());
  fs::remove_all(dir);
}

TEST(OutputFile, ASymlinkIsFollowedAndStaysALink) {
  const fs::path dir = fresh_dir("symlink");
  fs::create_directories(dir / "real");
  const fs::path real = dir / "real" / "report.json", link = dir / "report.json";
  write_text(real, "old");
  fs::create_symlink(real, link);
  write_file(link.string(), "new");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), real);
  EXPECT_EQ(read_text(real), "new");
  EXPECT_TRUE(temporaries_beside(real.string()).empty());

  // A link to a file not written yet creates that file, and the link stays.
  const fs::path dangling = dir / "counts.json";
  fs::create_symlink("real/counts.json", dangling);
  write_file(dangling.string(), "counts");
  EXPECT_TRUE(fs::is_symlink(dangling));
  EXPECT_EQ(read_text(dir / "real" / "counts.json"), "counts");
  fs::remove_all(dir);
}

TEST(OutputBatch, AFailingOutputLeavesNoneOfTheOthers) {
  const fs::path dir = fresh_dir("batch");
  const fs::path json = dir / "ok.json";
  // The write error of /dev/full only surfaces when its buffer is flushed, at the batch's commit:
  // ok.json was fully written by then, and still must not appear.
  const std::string message = error_of([&] {
    OutputBatch outputs;
    outputs.open(json.string()).write("{}");
    outputs.open("/dev/full").write("x");
    outputs.commit();
  });
  EXPECT_EQ(message, "cannot write /dev/full: No space left on device");
  EXPECT_FALSE(fs::exists(json));
  EXPECT_TRUE(temporaries_beside(json.string()).empty());

  const std::string missing = error_of([&] {
    OutputBatch outputs;
    outputs.open(json.string()).write("{}");
    outputs.open("/nonexistent-dir/x.html");
  });
  EXPECT_EQ(missing, "cannot write /nonexistent-dir/x.html: No such file or directory");
  EXPECT_FALSE(fs::exists(json));
  EXPECT_TRUE(temporaries_beside(json.string()).empty());
  fs::remove_all(dir);
}

TEST(RefuseSameFile, AnOutputThatIsAnInputUnderAnySpellingIsRefused) {
  const fs::path dir = fresh_dir("same");
  const fs::path model = dir / "model.pth", other = dir / "other.pth", hard_link = dir / "alias.pth";
  write_text(model, "weights");
  write_text(other, "other weights");
  fs::create_hard_link(model, hard_link);
  const std::string respelled = (dir / "." / "model.pth").string();

  EXPECT_EQ(error_of([&] { refuse_same_file(respelled, {other.string(), model.string()}); }),
            "refusing to write " + respelled + ": it is the input " + model.string() + ", which writing would destroy");
  EXPECT_NE(error_of([&] { refuse_same_file(hard_link.string(), {model.string()}); }), "");
  EXPECT_EQ(error_of([&] { refuse_same_file(other.string(), {model.string(), ""}); }), "");
  EXPECT_EQ(error_of([&] { refuse_same_file((dir / "new.stmap").string(), {model.string()}); }), "");
  EXPECT_EQ(error_of([&] { refuse_same_file("/dev/null", {"/dev/null"}); }), "");
  EXPECT_EQ(read_text(model), "weights");
  fs::remove_all(dir);
}

// The commands: every one refuses an output that is one of its inputs, and fails with the path
// and the OS error (exit 1, never a signal) leaving no output behind.

// What spiketile exited with: 1 for an error it reported, 128 + N after signal N (via the shell).
int exit_code(const testing_cli::Result& r) { return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1; }

#define EXPECT_CONTAINS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

TEST(OutputFilesCli, CompileOntoItsOwnCheckpointIsRefusedAndTheCheckpointIsIntact) {
  const fs::path dir = fresh_dir("cli_compile");
  const fs::path model = dir / "model.pth";
  fs::copy_file(fs::path(SPIKETILE_TEST_DATA) / "fixtures" / "tiny_l2_c32_v77_fp32.pth", model);
  const std::string before = read_text(model);
  const std::string respelled = (dir / "." / "model.pth").string();
  const auto r = testing_cli::run_cli("compile -m " + model.string() + " -o " + respelled);
  EXPECT_EQ(exit_code(r), 1) << r.output;
  EXPECT_CONTAINS(r.output, "refusing to write " + respelled + ": it is the input " + model.string());
  EXPECT_EQ(read_text(model), before);
  EXPECT_TRUE(temporaries_beside(model.string()).empty());
  fs::remove_all(dir);
}

TEST(OutputFilesCli, RunEvalAndCalibrateRefuseToWriteOverTheirInputs) {
  const fs::path dir = fresh_dir("cli_inputs");
  const fs::path model = dir / "model.pth", text = dir / "sample.txt";
  fs::copy_file(fs::path(SPIKETILE_TEST_DATA) / "fixtures" / "tiny_l2_c32_v77_fp32.pth", model);
  write_text(text, "a sample text\n");
  const std::string weights = read_text(model);
  const std::string m = " --model " + model.string();
  const std::vector<std::pair<std::string, fs::path>> commands = {
      {"run" + m + " --prompt-ids 3 -n 1 --logits-out " + model.string(), model},
      {"run" + m + " --prompt-ids 3 -n 1 --stats " + model.string(), model},
      {"eval" + m + " --text " + text.string() + " --json " + text.string(), text},
      {"calibrate" + m + " --text " + text.string() + " -o " + text.string(), text},
      {"calibrate" + m + " --text " + text.string() + " -o " + model.string(), model}};
  for (const auto& [command, input] : commands) {
    const auto r = testing_cli::run_cli(command);
    EXPECT_EQ(exit_code(r), 1) << command << "\n" << r.output;
    EXPECT_CONTAINS(r.output, "refusing to write " + input.string() + ": it is the input " + input.string());
  }
  EXPECT_EQ(read_text(model), weights);
  EXPECT_EQ(read_text(text), "a sample text\n");
  fs::remove_all(dir);
}

// As root, `compile -o /dev/full` used to replace the device with a regular file.
TEST(OutputFilesCli, CompileOntoAFullDeviceFailsNamingItAndTheDeviceStays) {
  const auto r = testing_cli::run_cli("compile --objective cores --profile-tokens 0 -o /dev/full");
  EXPECT_EQ(exit_code(r), 1) << r.output;
  EXPECT_CONTAINS(r.output, "cannot write /dev/full: No space left on device");
  struct stat st;
  ASSERT_EQ(::stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

// Every writer the issue found exiting 0 on a full disk (run --counts-out and --stats, calibrate -o,
// eval --json, report --json and --html) fails naming the device, which stays a device.
TEST(OutputFilesCli, EveryWriterReportsAFullDevice) {
  const fs::path dir = fresh_dir("cli_full");
  const fs::path model = fs::path(SPIKETILE_TEST_DATA) / "fixtures" / "tiny_l2_c32_v77_fp32.pth";
  const fs::path text = dir / "sample.txt";
  write_text(text, "a sample text\n");
  const std::string m = " --model " + model.string();
  const fs::path calibration = dir / "tiny.calib.json";
  ASSERT_EQ(exit_code(testing_cli::run_cli("calibrate" + m + " --text " + text.string() + " -o " + calibration.string())), 0);
  const fs::path stats = dir / "s.json";
  const std::string quantized = "run --quantized" + m + " --calibration " + calibration.string() +
                                " --prompt-ids 3 -n 1 --quiet-stats";
  ASSERT_EQ(exit_code(testing_cli::run_cli(quantized + " --stats " + stats.string())), 0);
  const std::vector<std::string> commands = {
      quantized + " --counts-out /dev/full",
      quantized + " --stats /dev/full",
      "calibrate" + m + " --text " + text.string() + " -o /dev/full",
      "eval" + m + " --text " + text.string() + " --json /dev/full",
      "report --quiet --stats " + stats.string() + " --json /dev/full",
      "report --quiet --stats " + stats.string() + " --html /dev/full"};
  for (const std::string& command : commands) {
    const auto r = testing_cli::run_cli(command);
    EXPECT_EQ(exit_code(r), 1) << command << "\n" << r.output;
    EXPECT_CONTAINS(r.output, "cannot write /dev/full: No space left on device") << command;
  }
  struct stat st;
  ASSERT_EQ(::stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  fs::remove_all(dir);
}

// The shipped model compiled onto the default chip, as the flow tests do.
fs::path compiled_shipped_model(const fs::path& dir) {
  const fs::path map = dir / "shipped.stmap";
  const auto r = testing_cli::run_cli("compile --objective cores --profile-tokens 0 -o " + map.string());
  EXPECT_EQ(r.status, 0) << r.output;
  return map;
}

const std::string kShortRun = " --prompt-ids 20,45 -n 2 --temperature 0 --quiet-stats --progress off";

TEST(OutputFilesCli, SimulateReportsWriteErrorsAndUnwritableTracesAndLeavesNoOutputs) {
  const fs::path dir = fresh_dir("cli_simulate");
  const fs::path map = compiled_shipped_model(dir);

  const auto full = testing_cli::run_cli("simulate --map " + map.string() + kShortRun + " --stats /dev/full");
  EXPECT_EQ(exit_code(full), 1) << full.output;
  EXPECT_CONTAINS(full.output, "cannot write /dev/full: No space left on device");
  EXPECT_FALSE(fs::exists("/dev/full.chip.yaml"));   // the chip beside the stats is not committed either
  EXPECT_TRUE(temporaries_beside("/dev/full.chip.yaml").empty());

  // SystemC used to open the VCD itself, fail, and die of SIGFPE (exit 136) in its destructor.
  const auto trace = testing_cli::run_cli("simulate --map " + map.string() + kShortRun +
                                          " --trace /nonexistent-dir/t.vcd --trace-cores 0 --stats " +
                                          (dir / "s.json").string());
  EXPECT_EQ(exit_code(trace), 1) << trace.output;
  EXPECT_CONTAINS(trace.output, "cannot write /nonexistent-dir/t.vcd: No such file or directory");
  EXPECT_FALSE(fs::exists(dir / "s.json"));

  // Statistics onto the mapping they are simulated from: refused, the mapping intact.
  const std::string mapping_bytes = read_text(map);
  const auto onto_map = testing_cli::run_cli("simulate --map " + map.string() + kShortRun + " --stats " + map.string());
  EXPECT_EQ(exit_code(onto_map), 1) << onto_map.output;
  EXPECT_CONTAINS(onto_map.output, "refusing to write " + map.string() + ": it is the input " + map.string());
  EXPECT_EQ(read_text(map), mapping_bytes);

  const auto traced = testing_cli::run_cli("simulate --map " + map.string() + kShortRun + " --trace " +
                                           (dir / "t.vcd").string() + " --trace-cores 0");
  EXPECT_EQ(exit_code(traced), 0) << traced.output;
  EXPECT_CONTAINS(read_text(dir / "t.vcd"), "$enddefinitions");
  EXPECT_TRUE(temporaries_beside((dir / "t.vcd").string()).empty());
  // A name without the extension is used as given: SystemC's own ".vcd" suffix is not added.
  const auto bare = testing_cli::run_cli("simulate --map " + map.string() + kShortRun + " --trace " +
                                         (dir / "trace").string() + " --trace-cores 0");
  EXPECT_EQ(exit_code(bare), 0) << bare.output;
  EXPECT_CONTAINS(read_text(dir / "trace"), "$enddefinitions");
  EXPECT_FALSE(fs::exists(dir / "trace.vcd"));
  EXPECT_TRUE(temporaries_beside((dir / "trace").string()).empty());
  // Any writable target, a device included: its write error is the command's, named.
  const auto trace_full = testing_cli::run_cli("simulate --map " + map.string() + kShortRun + " --trace /dev/full --trace-cores 0");
  EXPECT_EQ(exit_code(trace_full), 1) << trace_full.output;
  EXPECT_CONTAINS(trace_full.output, "cannot write /dev/full: No space left on device");
  fs::remove_all(dir);
}

TEST(OutputFilesCli, ReportWritesAllOfItsOutputsOrNoneAndNeverOverItsStats) {
  const fs::path dir = fresh_dir("cli_report");
  const fs::path map = compiled_shipped_model(dir);
  const fs::path stats = dir / "s.json";
  const auto simulated = testing_cli::run_cli("simulate --map " + map.string() + kShortRun + " --stats " + stats.string());
  ASSERT_EQ(exit_code(simulated), 0) << simulated.output;
  const std::string stats_text = read_text(stats);

  const fs::path json = dir / "ok.json";
  const auto html_fails = testing_cli::run_cli("report --quiet --stats " + stats.string() + " --json " + json.string() +
                                               " --html /nonexistent-dir/x.html");
  EXPECT_EQ(exit_code(html_fails), 1) << html_fails.output;
  EXPECT_CONTAINS(html_fails.output, "cannot write /nonexistent-dir/x.html: No such file or directory");
  EXPECT_FALSE(fs::exists(json));
  EXPECT_TRUE(temporaries_beside(json.string()).empty());

  const auto csv_full = testing_cli::run_cli("report --quiet --stats " + stats.string() + " --json " + json.string() +
                                             " --csv /dev/full");
  EXPECT_EQ(exit_code(csv_full), 1) << csv_full.output;
  EXPECT_CONTAINS(csv_full.output, "cannot write /dev/full: No space left on device");
  EXPECT_FALSE(fs::exists(json));

  const auto onto_stats = testing_cli::run_cli("report --quiet --stats " + stats.string() + " --json " + stats.string());
  EXPECT_EQ(exit_code(onto_stats), 1) << onto_stats.output;
  EXPECT_CONTAINS(onto_stats.output, "refusing to write " + stats.string());
  EXPECT_EQ(read_text(stats), stats_text);

  const auto written = testing_cli::run_cli("report --quiet --stats " + stats.string() + " --json " + json.string());
  EXPECT_EQ(exit_code(written), 0) << written.output;
  EXPECT_CONTAINS(read_text(json), "spiketile-report-1");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace spiketile
