// Writing all of a buffer to a file descriptor (a pipe to a parent process), through short writes
// and interrupted calls: the forked NIR reader (models/nir/nir_hdf5.cpp) and the Python module's
// forked simulations (python/forked.cpp) send their results this way.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace spiketile {

inline bool write_all(int fd, const uint8_t* bytes, std::size_t count) {
  while (count > 0) {
    const ssize_t n = ::write(fd, bytes, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    count -= std::size_t(n);
  }
  return true;
}

}  // namespace spiketile
