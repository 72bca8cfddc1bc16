// Worker processes: each point of a sweep, and each step of a point, runs in a process of its own
// (the SystemC kernel elaborates once per process), the spiketile binary started again with the
// command line that names the work.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace spiketile::explore {

// The running binary (/proc/self/exe), so workers are the very build the user started.
std::string self_executable();

struct Job {
  std::vector<std::string> args;  // after the executable
  std::string log;                // stdout and stderr go here (created or truncated)
};

// Starts `exe` with `job.args`, stdin from /dev/null; throws when it cannot be started.
pid_t start_job(const std::string& exe, const Job& job);
// Waits for `pid`: its exit status, or 128 + the signal that ended it (as a shell reports it).
int wait_job(pid_t pid);
// start_job then wait_job.
int run_job(const std::string& exe, const Job& job);

// Runs every job, at most `parallel` at a time, in order of the list; `done(i, status)` as each
// ends and `tick()` about ten times a second (a progress line) while any runs.
void run_pool(const std::string& exe, const std::vector<Job>& jobs, int parallel,
              const std::function<void(std::size_t, int)>& done, const std::function<void()>& tick);

// The shell spelling of a command line, every word quoted where the shell would split or expand it.
std::string shell_command(const std::string& exe, const std::vector<std::string>& args);

}  // namespace spiketile::explore
