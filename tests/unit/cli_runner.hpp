// Runs the spiketile binary under test and captures its exit status and combined output.
#pragma once

#include <array>
#include <cstdio>
#include <string>

namespace spiketile::testing_cli {

struct Result {
  int status;
  std::string output;
};

// A shell command line, stderr folded into the output.
inline Result run_shell(const std::string& command) {
  Result r{0, ""};
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), int(buf.size()), p)) r.output += buf.data();
  r.status = pclose(p);
  return r;
}

inline Result run_cli(const std::string& args) { return run_shell(std::string(SPIKETILE_CLI) + " " + args); }

}  // namespace spiketile::testing_cli
