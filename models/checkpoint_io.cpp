#include "models/checkpoint_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

// Conversions below read little-endian values with memcpy; a big-endian host would need swaps.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "checkpoint readers assume a little-endian host");

namespace spiketile::checkpoint_io {

RandomAccessFile::RandomAccessFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw CheckpointError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat info {};
  if (::fstat(fd_, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw CheckpointError(fmt::format("{}: not a regular file", path));
  }
  size_ = static_cast<uint64_t>(info.st_size);
}

RandomAccessFile::~RandomAccessFile() {
  if (fd_ >= 0) ::close(fd_);
}

void RandomAccessFile::read_exact(uint64_t offset, void* destination, std::size_t length,
                                  const std::string& what) const {
  if (offset > size_ || length > size_ - offset) {
    throw CheckpointError(fmt::format("{}: {} at offset {} ({} bytes) extends beyond the end of the file ({} bytes)",
                                      path_, what, offset, length, size_));
  }
  auto* out = static_cast<uint8_t*>(destination);
  while (length > 0) {
    const ssize_t got = ::pread(fd_, out, length, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      throw CheckpointError(fmt::format("{}: reading {} at offset {} failed: {}", path_, what, offset,
                                        got < 0 ? std::strerror(errno) : "unexpected end of file"));
    }
    out += got;
    offset += static_cast<uint64_t>(got);
    length -= static_cast<std::size_t>(got);
  }
}

namespace {

using CrcTables = std::array<std::array<uint32_t, 256>, 8>;

CrcTables make_crc_tables() {
  CrcTables tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    tables[0][byte] = crc;
  }
  for (uint32_t byte = 0; byte < 256; ++byte) {
    for (std::size_t slice = 1; slice < 8; ++slice) {
      const uint32_t previous = tables[slice - 1][byte];
      tables[slice][byte] = (previous >> 8) ^ tables[0][previous & 0xFFu];
    }
  }
  return tables;
}

const CrcTables& crc_tables() {
  static const CrcTables tables = make_crc_tables();
  return tables;
}

uint16_t load_u16(const uint8_t* p, bool big_endian) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return big_endian ? __builtin_bswap16(v) : v;
}
uint32_t load_u32(const uint8_t* p, bool big_endian) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return big_endian ? __builtin_bswap32(v) : v;
}
uint64_t load_u64(const uint8_t* p, bool big_endian) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return big_endian ? __builtin_bswap64(v) : v;
}

float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::string value_str(float value) {
  if (std::isnan(value)) return "nan";
  return value > 0 ? "+inf" : "-inf";
}

}  // namespace

void Crc32::update(const void* bytes, std::size_t length) {
  const CrcTables& t = crc_tables();
  const auto* p = static_cast<const uint8_t*>(bytes);
  uint32_t crc = state_;
  while (length >= 8) {
    const uint32_t low = load_u32(p, false) ^ crc;
    const uint32_t high = load_u32(p + 4, false);
    crc = t[7][low & 0xFF] ^ t[6][(low >> 8) & 0xFF] ^ t[5][(low >> 16) & 0xFF] ^ t[4][low >> 24] ^
          t[3][high & 0xFF] ^ t[2][(high >> 8) & 0xFF] ^ t[1][(high >> 16) & 0xFF] ^ t[0][high >> 24];
    p += 8;
    length -= 8;
  }
  while (length-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  state_ = crc;
}

uint32_t crc32(const void* bytes, std::size_t length) {
  Crc32 crc;
  crc.update(bytes, length);
  return crc.value();
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0x1F) return bits_to_float(sign | 0x7F800000u | (mantissa << 13));  // inf, nan (payload kept)
  if (exponent == 0) {
    if (mantissa == 0) return bits_to_float(sign);
    // Subnormal half: every one is a normal float32, renormalise the mantissa.
    int shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    return bits_to_float(sign | (static_cast<uint32_t>(113 - shift) << 23) | ((mantissa & 0x3FFu) << 13));
  }
  return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float bfloat16_to_float(uint16_t bits) { return bits_to_float(static_cast<uint32_t>(bits) << 16); }

double read_float64(const uint8_t* source, bool big_endian) {
  const uint64_t bits = load_u64(source, big_endian);
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

std::size_t convert_to_float(DType dtype, bool big_endian, const uint8_t* source, std::size_t count,
                             float* destination) {
  switch (dtype) {
    case DType::F32:
      if (big_endian) {
        for (std::size_t i = 0; i < count; ++i) destination[i] = bits_to_float(load_u32(source + 4 * i, true));
      } else {
        std::memcpy(destination, source, count * sizeof(float));
      }
      return kNoIndex;
    case DType::F16:
      for (std::size_t i = 0; i < count; ++i) destination[i] = half_to_float(load_u16(source + 2 * i, big_endian));
      return kNoIndex;
    case DType::BF16:
      for (std::size_t i = 0; i < count; ++i) destination[i] = bfloat16_to_float(load_u16(source + 2 * i, big_endian));
      return kNoIndex;
    case DType::F64: {
      std::size_t first_overflow = kNoIndex;
      for (std::size_t i = 0; i < count; ++i) {
        const double value = read_float64(source + 8 * i, big_endian);
        destination[i] = static_cast<float>(value);
        if (first_overflow == kNoIndex && std::isfinite(value) && !std::isfinite(destination[i])) first_overflow = i;
      }
      return first_overflow;
    }
  }
  return kNoIndex;
}

std::size_t first_non_finite(const float* values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(values[i])) return i;
  }
  return kNoIndex;
}

std::string index_str(const std::vector<int64_t>& shape, std::size_t flat) {
  std::vector<int64_t> index(shape.size(), 0);
  auto remaining = static_cast<uint64_t>(flat);
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] <= 0) break;
    index[d] = static_cast<int64_t>(remaining % static_cast<uint64_t>(shape[d]));
    remaining /= static_cast<uint64_t>(shape[d]);
  }
  return shape_str(index);
}

std::string shape_str(const std::vector<int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (const int64_t extent : shape) {
    if (extent < 0) return -1;
    if (extent != 0 && numel > std::numeric_limits<int64_t>::max() / extent) return -1;
    numel *= extent;
  }
  return numel;
}

void require_finite(const std::string& path, const std::string& tensor_name, const std::vector<int64_t>& shape,
                    DType source_dtype, const float* values, std::size_t count, std::size_t first_flat_index) {
  const std::size_t bad = first_non_finite(values, count);
  if (bad == kNoIndex) return;
  const std::size_t flat_index = first_flat_index + bad;
  throw CheckpointError(fmt::format(
      "{}: tensor '{}': element {} (index {} of shape {}, stored as {}) is {}; expected finite values", path,
      tensor_name, flat_index, index_str(shape, flat_index), shape_str(shape), dtype_name(source_dtype),
      value_str(values[bad])));
}

void require_finite(const std::string& path, const std::string& tensor_name, const Tensor& tensor) {
  require_finite(path, tensor_name, tensor.shape, tensor.source_dtype, tensor.data.data(), tensor.data.size(), 0);
}

int64_t row_length(const std::string& path, const std::string& tensor_name, const std::vector<int64_t>& shape,
                   int64_t rows_per_block) {
  if (shape.empty())
    throw CheckpointError(fmt::format("{}: tensor '{}' is a scalar; reading it by rows needs at least one dimension", path,
                                      tensor_name));
  if (rows_per_block < 1)
    throw std::invalid_argument(fmt::format("reading tensor '{}' by rows needs at least 1 row per block (got {})",
                                            tensor_name, rows_per_block));
  int64_t length = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) length *= shape[d];
  return length;
}

void deliver_row_blocks(const Tensor& tensor, int64_t row_length, int64_t rows_per_block,
                        const TensorReader::RowBlockSink& sink) {
  const int64_t rows = tensor.shape.at(0);
  for (int64_t first = 0; first < rows; first += rows_per_block)
    sink(first, std::min(rows_per_block, rows - first), tensor.data.data() + first * row_length);
}

}  // namespace spiketile::checkpoint_io
