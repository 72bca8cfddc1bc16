#include "runtime/npy.hpp"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace spiketile {

void write_npy(OutputFile& out, const std::vector<int64_t>& shape, const float* data) {
  std::string dims;
  int64_t count = 1;
  for (auto d : shape) {
    dims += fmt::format("{}, ", d);
    count *= d;
  }
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
  // Header (with magic, version and length field) padded to a multiple of 64 bytes, ending in '\n'.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  const uint16_t len = uint16_t(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(&len, 2);
  out.write(header);
  out.write(data, std::size_t(count) * sizeof(float));
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open .npy file", path));
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw std::runtime_error(fmt::format("{}: not a .npy file (bad magic)", path));
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    uint16_t l = 0;
    in.read(reinterpret_cast<char*>(&l), 2);
    header_len = l;
  } else {
    in.read(reinterpret_cast<char*>(&header_len), 4);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (!in) throw std::runtime_error(fmt::format("{}: truncated .npy header", path));
  if (header.find("'descr': '<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(fmt::format("{}: expected little-endian float32 in C order, header is {}", path, header));
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('shape': \(([^)]*)\))")))
    throw std::runtime_error(fmt::format("{}: .npy header has no shape", path));
  NpyArray a;
  int64_t count = 1;
  const std::string dims = m[1];
  static const std::regex number(R"(\d+)");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    a.shape.push_back(std::stoll(it->str()));
    count *= a.shape.back();
  }
  a.data.resize(std::size_t(count));
  in.read(reinterpret_cast<char*>(a.data.data()), std::streamsize(count * sizeof(float)));
  if (!in) throw std::runtime_error(fmt::format("{}: .npy data shorter than shape ({} floats)", path, count));
  return a;
}

}  // namespace spiketile
