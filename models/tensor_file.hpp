// Named float32 tensors read from a checkpoint file (.pth zip archive or .safetensors).
//
// Every loader converts its on-disk dtype (fp32, fp16, bf16, fp64) to float32 while reading,
// straight into the destination buffer, so peak memory stays close to the fp32 weight size.
// A TensorReader reads one tensor (or one block of rows) at a time, for callers that must not hold
// the whole float model (the compiler quantizes tensor by tensor).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace spiketile {

enum class DType { F32, F16, BF16, F64 };

const char* dtype_name(DType d);
std::size_t dtype_size(DType d);

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;     // row-major, converted to float32
  DType source_dtype = DType::F32;

  int64_t numel() const;
  std::string shape_str() const;   // "[768, 3072]"
};

// Names and shapes of a checkpoint's tensors, in the file's own order; no data.
struct TensorIndex {
  std::string path;
  std::vector<std::string> order;
  std::map<std::string, std::vector<int64_t>> shapes;

  bool has(const std::string& name) const { return shapes.count(name) != 0; }
  // Throws CheckpointError naming the file and tensor if absent.
  const std::vector<int64_t>& shape(const std::string& name) const;
};

// A checkpoint as a flat name -> tensor map, in the file's own order.
struct TensorFile {
  std::string path;
  std::string format;                // "pth" or "safetensors"
  std::vector<std::string> order;    // names as stored in the file
  std::map<std::string, Tensor> tensors;

  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  // Throws CheckpointError naming the file and tensor if absent.
  const Tensor& at(const std::string& name) const;
  Tensor& at(const std::string& name);
  // Moves a tensor out (the caller owns its storage afterwards).
  Tensor take(const std::string& name);
  TensorIndex index() const;
};

// Every problem with a checkpoint file: message names the file, the tensor (if any) and
// what was expected.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A checkpoint opened for reading tensor by tensor: the index (names, shapes) is known on opening
// (and the file's structure checked); data is read, converted to float32 and checked finite only
// when asked for.
class TensorReader {
 public:
  // Receives rows [first_row, first_row + rows) of a tensor (its first dimension), row-major float32.
  using RowBlockSink = std::function<void(int64_t first_row, int64_t rows, const float* values)>;

  virtual ~TensorReader() = default;
  virtual const TensorIndex& index() const = 0;
  virtual std::string format() const = 0;   // "pth", "safetensors", "memory"
  // The whole tensor.
  virtual Tensor read(const std::string& name) = 0;
  // The tensor's rows in consecutive blocks of at most rows_per_block, first to last, holding only
  // one block at a time (for tensors too large to hold as float32, like a 50k-token embedding).
  virtual void read_row_blocks(const std::string& name, int64_t rows_per_block, const RowBlockSink& sink) = 0;
};

// Chooses the format from the file's content (zip magic -> .pth written by torch.save; 8-byte
// little-endian header length + JSON -> safetensors).
std::unique_ptr<TensorReader> open_tensor_file(const std::string& path);
std::unique_ptr<TensorReader> open_pth(const std::string& path);
std::unique_ptr<TensorReader> open_safetensors(const std::string& path);
// A loaded file served through the reader interface; read() moves each tensor out of it.
std::unique_ptr<TensorReader> tensor_file_reader(TensorFile file);

// Every tensor of a reader, in the file's order.
TensorFile read_all(TensorReader& reader);
TensorFile load_tensor_file(const std::string& path);   // read_all(*open_tensor_file(path))
TensorFile load_pth(const std::string& path);
TensorFile load_safetensors(const std::string& path);

// Writes float32 tensors as safetensors (used by tests and by conversion tooling).
void save_safetensors(const std::string& path, const TensorFile& file);

}  // namespace spiketile
