#include "python/forked.hpp"

#include <pybind11/pybind11.h>

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "models/fd_io.hpp"

namespace py = pybind11;

namespace spiketile::python {

namespace {

// The child's answer: one tag byte, then the result ('R') or an error message ('V' ValueError,
// 'E' RuntimeError).
[[noreturn]] void child_main(int fd, const std::function<std::vector<uint8_t>()>& work) {
  ::signal(SIGINT, SIG_IGN);  // the parent decides what Ctrl-C does: it kills this child
  std::vector<uint8_t> answer;
  try {
    answer = work();
    answer.insert(answer.begin(), uint8_t('R'));
  } catch (const std::invalid_argument& e) {
    answer.assign(e.what(), e.what() + std::strlen(e.what()));
    answer.insert(answer.begin(), uint8_t('V'));
  } catch (const std::exception& e) {
    answer.assign(e.what(), e.what() + std::strlen(e.what()));
    answer.insert(answer.begin(), uint8_t('E'));
  }
  ::_exit(write_all(fd, answer.data(), answer.size()) ? 0 : 3);
}

// Reads until the child closes its end; false when Ctrl-C came first (the child is then killed).
bool read_answer(int fd, pid_t child, std::vector<uint8_t>& bytes) {
  uint8_t buffer[65536];
  for (;;) {
    int ready = 0;
    {
      py::gil_scoped_release release;
      pollfd wanted{fd, POLLIN, 0};
      ready = ::poll(&wanted, 1, 100);
    }
    if (PyErr_CheckSignals() != 0) {
      ::kill(child, SIGKILL);
      return false;
    }
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
}

}  // namespace

std::vector<uint8_t> run_forked(const std::function<std::vector<uint8_t>()>& work) {
  int channel[2];
  if (::pipe(channel) != 0) throw std::runtime_error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  std::fflush(nullptr);  // nothing buffered in the parent is written twice by the child
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(channel[0]);
    ::close(channel[1]);
    throw std::runtime_error(fmt::format("cannot start the simulation process: {}", std::strerror(errno)));
  }
  if (child == 0) {
    ::close(channel[0]);
    child_main(channel[1], work);
  }
  ::close(channel[1]);
  std::vector<uint8_t> bytes;
  const bool finished = read_answer(channel[0], child, bytes);
  ::close(channel[0]);
  int status = 0;
  {
    py::gil_scoped_release release;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!finished) throw py::error_already_set();  // KeyboardInterrupt
  if (WIFSIGNALED(status))
    throw std::runtime_error(fmt::format("the simulation process died ({})", strsignal(WTERMSIG(status))));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || bytes.empty())
    throw std::runtime_error("the simulation process failed without an answer");
  const std::string message(bytes.begin() + 1, bytes.end());
  if (bytes[0] == 'V') throw std::invalid_argument(message);
  if (bytes[0] == 'E') throw std::runtime_error(message);
  bytes.erase(bytes.begin());
  return bytes;
}

}  // namespace spiketile::python
