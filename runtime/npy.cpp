#include "runtime/npy.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cctype>
#include <cstring>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace spiketile {

namespace {

// Magic, version 1.0, and the header dict padded to a multiple of 64 bytes, ending in '\n'.
int64_t write_npy_header(OutputFile& out, const std::vector<int64_t>& shape, const char* descr) {
  std::string dims;
  int64_t count = 1;
  for (auto d : shape) {
    dims += fmt::format("{}, ", d);
    count *= d;
  }
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims);
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  const uint16_t len = uint16_t(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(&len, 2);
  out.write(header);
  return count;
}

}  // namespace

void write_npy(OutputFile& out, const std::vector<int64_t>& shape, const float* data) {
  const int64_t count = write_npy_header(out, shape, "<f4");
  out.write(data, std::size_t(count) * sizeof(float));
}

void write_npy(OutputFile& out, const std::vector<int64_t>& shape, const uint8_t* data) {
  const int64_t count = write_npy_header(out, shape, "|u1");
  out.write(data, std::size_t(count));
}

namespace {

struct NpyHeader {
  std::string descr;
  std::vector<int64_t> shape;
  int64_t count = 1;
};

// Magic, version, header dict; leaves `in` at the first data byte.
NpyHeader read_npy_header(std::ifstream& in, const std::string& path) {
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
  if (header_len > (1u << 20)) throw std::runtime_error(fmt::format("{}: .npy header of {} bytes", path, header_len));
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (!in) throw std::runtime_error(fmt::format("{}: truncated .npy header", path));
  NpyHeader h;
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr':\s*'([^']*)')")))
    throw std::runtime_error(fmt::format("{}: .npy header has no descr: {}", path, header));
  h.descr = m[1];
  if (header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(fmt::format("{}: expected C order (fortran_order False), header is {}", path, header));
  if (!std::regex_search(header, m, std::regex(R"('shape':\s*\(([^)]*)\))")))
    throw std::runtime_error(fmt::format("{}: .npy header has no shape", path));
  const std::string dims = m[1];
  static const std::regex number(R"(\d+)");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    if (it->str().size() > 15) throw std::runtime_error(fmt::format("{}: .npy shape ({}) is too large", path, dims));
    h.shape.push_back(std::stoll(it->str()));
    if (h.shape.back() != 0 && h.count > (int64_t(1) << 40) / h.shape.back())
      throw std::runtime_error(fmt::format("{}: .npy shape ({}) is too large", path, dims));
    h.count *= h.shape.back();
  }
  return h;
}

template <typename T>
void append_as_double(std::ifstream& in, int64_t count, std::vector<double>& out) {
  std::vector<T> raw(static_cast<std::size_t>(count));
  in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(count * int64_t(sizeof(T))));
  if (!in) return;
  out.assign(raw.begin(), raw.end());
}

double half_to_double(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? std::nan("") : sign * INFINITY;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const NpyHeader h = read_npy_header(in, path);
  if (h.descr != "<f4")
    throw std::runtime_error(fmt::format("{}: expected little-endian float32 ('<f4'), the file holds '{}'", path, h.descr));
  NpyArray a;
  a.shape = h.shape;
  a.data.resize(std::size_t(h.count));
  in.read(reinterpret_cast<char*>(a.data.data()), std::streamsize(h.count * int64_t(sizeof(float))));
  if (!in) throw std::runtime_error(fmt::format("{}: .npy data shorter than shape ({} floats)", path, h.count));
  return a;
}

NpyValues read_npy_values(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const NpyHeader h = read_npy_header(in, path);
  NpyValues v;
  v.shape = h.shape;
  v.dtype = h.descr;
  const std::string d = h.descr;
  // '<' little-endian, '|' not applicable (one byte); '=' native, which is little-endian here.
  const bool little = !d.empty() && (d[0] == '<' || d[0] == '|' || d[0] == '=');
  const std::string code = d.size() > 1 ? d.substr(1) : "";
  const int64_t n = h.count;
  // The shape is checked against the bytes present before anything is allocated for it.
  const auto data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const int64_t present = int64_t(in.tellg() - data_start);
  in.seekg(data_start);
  const int64_t item = code.size() == 2 && std::isdigit(static_cast<unsigned char>(code[1])) ? code[1] - '0' : 1;
  if (present < n * item)
    throw std::runtime_error(fmt::format("{}: .npy data shorter than its shape ({} values of '{}' need {} bytes, {} present)",
                                         path, n, d, n * item, present));
  if (little && code == "f8") append_as_double<double>(in, n, v.data);
  else if (little && code == "f4") append_as_double<float>(in, n, v.data);
  else if (little && code == "f2") {
    std::vector<uint16_t> raw(static_cast<std::size_t>(n));
    in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(n * 2));
    for (uint16_t r : raw) v.data.push_back(half_to_double(r));
  } else if (little && (code == "b1" || code == "u1")) append_as_double<uint8_t>(in, n, v.data);
  else if (little && code == "i1") append_as_double<int8_t>(in, n, v.data);
  else if (little && code == "i2") append_as_double<int16_t>(in, n, v.data);
  else if (little && code == "u2") append_as_double<uint16_t>(in, n, v.data);
  else if (little && code == "i4") append_as_double<int32_t>(in, n, v.data);
  else if (little && code == "u4") append_as_double<uint32_t>(in, n, v.data);
  else if (little && code == "i8") append_as_double<int64_t>(in, n, v.data);
  else if (little && code == "u8") append_as_double<uint64_t>(in, n, v.data);
  else
    throw std::runtime_error(fmt::format("{}: .npy dtype '{}' is not read; expected little-endian float, bool or integer "
                                         "values",
                                         path, d));
  if (!in || int64_t(v.data.size()) != n)
    throw std::runtime_error(fmt::format("{}: .npy data shorter than its shape ({} values of '{}')", path, n, d));
  return v;
}

}  // namespace spiketile
