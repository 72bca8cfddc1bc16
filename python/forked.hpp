// Work run in a forked child process, its result sent back through a pipe: the Python module's
// simulate() runs the SystemC chip this way, because SystemC elaborates once per process and a
// Python session simulates many times. The pattern is the NIR reader's (models/nir/nir_hdf5.cpp),
// with the parent's wait made for Python: the GIL released while it waits, Ctrl-C checked every
// 100 ms (the child is killed and KeyboardInterrupt raised), and the child's progress reports
// handed to a callback as they arrive.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

namespace spiketile::python {

// (done, total) of a long call.
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

// Thins progress reports to ten a second, and always lets the last through: a callback that
// redraws a bar must not cost the run its speed, nor a pipe fill with reports nobody sees.
class ProgressRate {
 public:
  bool due(int64_t done, int64_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (started_ && done < total && now - last_ < std::chrono::milliseconds(100)) return false;
    started_ = true;
    last_ = now;
    return true;
  }

 private:
  bool started_ = false;
  std::chrono::steady_clock::time_point last_;
};

// Runs `work` in a child and returns the bytes it returned. `work` may report progress with the
// function it is given (thinned by ProgressRate); each report reaches `on_progress` in the parent,
// called with the GIL held; an exception it throws kills the child and propagates. An exception
// in the child is raised again in the parent as ValueError (std::invalid_argument) or RuntimeError
// with its message; a child that dies is a RuntimeError naming the signal. Call with the GIL held.
std::vector<uint8_t> run_forked(const std::function<std::vector<uint8_t>(const ProgressFn& report)>& work,
                                const ProgressFn& on_progress = {});

}  // namespace spiketile::python
