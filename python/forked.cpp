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

// The child talks in frames: a tag byte, the payload's length (8 bytes, host order: both ends are
// one program), the payload. 'P' is a progress report (done, total as two int64), sent as the
// work goes; the last frame is the result ('R') or an error message ('V' ValueError, 'E'
// RuntimeError).
constexpr std::size_t kFrameHeader = 1 + sizeof(uint64_t);

bool write_frame(int fd, char tag, const void* payload, uint64_t size) {
  uint8_t header[kFrameHeader];
  header[0] = uint8_t(tag);
  std::memcpy(header + 1, &size, sizeof size);
  return write_all(fd, header, sizeof header) && write_all(fd, static_cast<const uint8_t*>(payload), std::size_t(size));
}

[[noreturn]] void child_main(int fd, const std::function<std::vector<uint8_t>(const ProgressFn&)>& work) {
  ::signal(SIGINT, SIG_IGN);  // the parent decides what Ctrl-C does: it kills this child
  ProgressRate rate;
  const ProgressFn report = [&](int64_t done, int64_t total) {
    if (!rate.due(done, total)) return;
    const int64_t values[2] = {done, total};
    if (!write_frame(fd, 'P', values, sizeof values)) ::_exit(3);  // the parent is gone
  };
  char tag = 'R';
  std::vector<uint8_t> answer;
  try {
    answer = work(report);
  } catch (const std::invalid_argument& e) {
    tag = 'V';
    answer.assign(e.what(), e.what() + std::strlen(e.what()));
  } catch (const std::exception& e) {
    tag = 'E';
    answer.assign(e.what(), e.what() + std::strlen(e.what()));
  }
  ::_exit(write_frame(fd, tag, answer.data(), answer.size()) ? 0 : 3);
}

// Frames as they arrive: progress handed on at once, the last kept.
class FrameReader {
 public:
  explicit FrameReader(const ProgressFn& on_progress) : on_progress_(on_progress) {}

  void add(const uint8_t* data, std::size_t size) {
    buffer_.insert(buffer_.end(), data, data + size);
    for (;;) {
      if (buffer_.size() - used_ < kFrameHeader) break;
      uint64_t length = 0;
      std::memcpy(&length, buffer_.data() + used_ + 1, sizeof length);
      if (buffer_.size() - used_ - kFrameHeader < length) break;
      const char tag = char(buffer_[used_]);
      const uint8_t* payload = buffer_.data() + used_ + kFrameHeader;
      used_ += kFrameHeader + std::size_t(length);
      if (tag == 'P' && length == 2 * sizeof(int64_t)) {
        int64_t values[2];
        std::memcpy(values, payload, sizeof values);
        if (on_progress_) on_progress_(values[0], values[1]);
      } else {
        tag_ = tag;
        result_.assign(payload, payload + length);
      }
    }
    if (used_ > (1u << 20) || used_ == buffer_.size()) {  // drop what was read, rarely
      buffer_.erase(buffer_.begin(), buffer_.begin() + std::ptrdiff_t(used_));
      used_ = 0;
    }
  }

  char tag() const { return tag_; }
  std::vector<uint8_t>& result() { return result_; }

 private:
  const ProgressFn& on_progress_;
  std::vector<uint8_t> buffer_, result_;
  std::size_t used_ = 0;
  char tag_ = 0;
};

// Reads until the child closes its end. Ctrl-C, or an exception of the progress callback, kills
// the child first (the caller reaps it) and propagates.
void read_answer(int fd, pid_t child, FrameReader& frames) {
  std::vector<uint8_t> buffer(1 << 16);
  try {
    for (;;) {
      int ready = 0;
      {
        py::gil_scoped_release release;
        pollfd wanted{fd, POLLIN, 0};
        ready = ::poll(&wanted, 1, 100);
      }
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // KeyboardInterrupt
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) continue;
      const ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      frames.add(buffer.data(), std::size_t(n));
    }
  } catch (...) {
    ::kill(child, SIGKILL);
    throw;
  }
}

void reap(pid_t child, int& status) {
  py::gil_scoped_release release;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::vector<uint8_t> run_forked(const std::function<std::vector<uint8_t>(const ProgressFn& report)>& work,
                                const ProgressFn& on_progress) {
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
  FrameReader frames(on_progress);
  int status = 0;
  try {
    read_answer(channel[0], child, frames);
  } catch (...) {
    ::close(channel[0]);
    reap(child, status);
    throw;
  }
  ::close(channel[0]);
  reap(child, status);
  if (WIFSIGNALED(status))
    throw std::runtime_error(fmt::format("the simulation process died ({})", strsignal(WTERMSIG(status))));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || frames.tag() == 0)
    throw std::runtime_error("the simulation process failed without an answer");
  std::vector<uint8_t>& result = frames.result();
  const std::string message(result.begin(), result.end());
  if (frames.tag() == 'V') throw std::invalid_argument(message);
  if (frames.tag() == 'E') throw std::runtime_error(message);
  return std::move(result);
}

}  // namespace spiketile::python
