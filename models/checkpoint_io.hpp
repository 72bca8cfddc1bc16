// Internal building blocks of the checkpoint readers (tensor_file.hpp): positioned reads that
// never load a whole file, CRC-32, and exact fp16/bf16/fp64 -> float32 conversion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "models/tensor_file.hpp"

namespace spiketile::checkpoint_io {

// A read-only file accessed by offset (pread), so readers stream only the bytes they need.
class RandomAccessFile {
 public:
  explicit RandomAccessFile(const std::string& path);   // throws CheckpointError
  ~RandomAccessFile();
  RandomAccessFile(const RandomAccessFile&) = delete;
  RandomAccessFile& operator=(const RandomAccessFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Reads exactly `length` bytes at `offset`. `what` names the region for the error message.
  void read_exact(uint64_t offset, void* destination, std::size_t length, const std::string& what) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Incremental CRC-32 (ISO-HDLC / zip polynomial), slicing-by-8 so that checking every tensor byte
// costs little next to the disk read.
class Crc32 {
 public:
  void update(const void* bytes, std::size_t length);
  uint32_t value() const { return ~state_; }

 private:
  uint32_t state_ = 0xFFFFFFFFu;
};
uint32_t crc32(const void* bytes, std::size_t length);

float half_to_float(uint16_t bits);
float bfloat16_to_float(uint16_t bits);

inline constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);

// Converts `count` values of `dtype` (little-endian, or big-endian when `big_endian`) to float32.
// Returns the index of the first float64 value that is finite but outside the float32 range
// (it would silently become inf), or kNoIndex.
std::size_t convert_to_float(DType dtype, bool big_endian, const uint8_t* source, std::size_t count,
                             float* destination);

// Reads a float64 value for error messages about out-of-range elements.
double read_float64(const uint8_t* source, bool big_endian);

std::size_t first_non_finite(const float* values, std::size_t count);

// "[1, 2]": the multi-index of flat row-major position `flat` in `shape`.
std::string index_str(const std::vector<int64_t>& shape, std::size_t flat);
std::string shape_str(const std::vector<int64_t>& shape);

// Product of a shape's extents, or -1 when an extent is negative or the product overflows int64.
int64_t checked_numel(const std::vector<int64_t>& shape);

// Throws the standard "file: tensor 'x': element N (index [..] of shape [..], stored as ..) is nan"
// error unless every value is finite; `values` are the tensor's elements from first_flat_index on.
void require_finite(const std::string& path, const std::string& tensor_name, const std::vector<int64_t>& shape,
                    DType source_dtype, const float* values, std::size_t count, std::size_t first_flat_index);
void require_finite(const std::string& path, const std::string& tensor_name, const Tensor& tensor);

// Elements per row (the product of all but the first extent) of a tensor read by rows; throws for
// a scalar tensor or fewer than one row per block.
int64_t row_length(const std::string& path, const std::string& tensor_name, const std::vector<int64_t>& shape,
                   int64_t rows_per_block);
// TensorReader::read_row_blocks over a tensor already in memory (row_length from row_length()).
void deliver_row_blocks(const Tensor& tensor, int64_t row_length, int64_t rows_per_block,
                        const TensorReader::RowBlockSink& sink);

}  // namespace spiketile::checkpoint_io
