#include "explore/pool.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace spiketile::explore {

std::string self_executable() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

namespace {
// A worker is a process of its own, never a rank of the MPI job that may have started this one:
// Open MPI's and PMIx's variables would make it join that job.
std::vector<std::string> worker_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    if (entry.rfind("OMPI_", 0) == 0 || entry.rfind("PMIX_", 0) == 0 || entry.rfind("PMI_", 0) == 0) continue;
    env.push_back(entry);
  }
  return env;
}
}  // namespace

pid_t start_job(const std::string& exe, const Job& job) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, job.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> argv{const_cast<char*>(exe.c_str())};
  for (const std::string& arg : job.args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  static const std::vector<std::string> env_entries = worker_environment();
  std::vector<char*> env;
  for (const std::string& entry : env_entries) env.push_back(const_cast<char*>(entry.c_str()));
  env.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error(fmt::format("cannot start {}: {}", exe, std::strerror(error)));
  return pid;
}

namespace {
int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}
}  // namespace

int wait_job(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(fmt::format("waitpid: {}", std::strerror(errno)));
  return exit_status(status);
}

int run_job(const std::string& exe, const Job& job) { return wait_job(start_job(exe, job)); }

void run_pool(const std::string& exe, const std::vector<Job>& jobs, int parallel,
              const std::function<void(std::size_t, int)>& done, const std::function<void()>& tick) {
  std::map<pid_t, std::size_t> running;
  std::size_t next = 0;
  while (next < jobs.size() || !running.empty()) {
    while (next < jobs.size() && int(running.size()) < std::max(parallel, 1)) {
      running.emplace(start_job(exe, jobs[next]), next);
      ++next;
    }
    // Only our own children, by pid: the pool never reaps a process it did not start.
    for (auto it = running.begin(); it != running.end();) {
      int status = 0;
      const pid_t ended = waitpid(it->first, &status, WNOHANG);
      if (ended == it->first) {
        const std::size_t index = it->second;
        it = running.erase(it);
        done(index, exit_status(status));
      } else {
        ++it;
      }
    }
    if (tick) tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string shell_command(const std::string& exe, const std::vector<std::string>& args) {
  auto quoted = [](const std::string& word) {
    if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") ==
                             std::string::npos)
      return word;
    std::string q = "'";
    for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string line = quoted(exe);
  for (const std::string& arg : args) line += " " + quoted(arg);
  return line;
}

}  // namespace spiketile::explore
