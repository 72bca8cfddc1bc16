// Work run in a forked child process, its result sent back through a pipe: the Python module's
// simulate() runs the SystemC chip this way, because SystemC elaborates once per process and a
// Python session simulates many times. The pattern is the NIR reader's (models/nir/nir_hdf5.cpp),
// with the parent's wait made for Python: the GIL released while it waits, Ctrl-C checked every
// 100 ms (the child is killed and KeyboardInterrupt raised).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace spiketile::python {

// Runs `work` in a child and returns the bytes it returned. An exception in the child is raised
// again in the parent as ValueError (std::invalid_argument) or RuntimeError with its message; a
// child that dies is a RuntimeError naming the signal. Call with the GIL held.
std::vector<uint8_t> run_forked(const std::function<std::vector<uint8_t>()>& work);

}  // namespace spiketile::python
