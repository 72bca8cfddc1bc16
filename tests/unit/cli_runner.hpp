// Runs the spikeforge binary the way a user does, for the CLI tests.
#pragma once

#include <array>
#include <cstdio>
#include <string>

namespace sf::test_fixtures {

struct CliResult {
  int status;          // as pclose returns it: 0 on success
  std::string output;  // stdout and stderr together
};

inline CliResult run_cli(const std::string& args) {
  const std::string cmd = std::string(SPIKEFORGE_CLI) + " " + args + " 2>&1";
  CliResult r{0, ""};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), int(buf.size()), p)) r.output += buf.data();
  r.status = pclose(p);
  return r;
}

}  // namespace sf::test_fixtures
