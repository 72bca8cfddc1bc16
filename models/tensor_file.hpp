// Named float32 tensors read from a checkpoint file (.pth zip archive or .safetensors).
//
// Every loader converts its on-disk dtype (fp32, fp16, bf16, fp64) to float32 while reading,
// straight into the destination buffer, so peak memory stays close to the fp32 weight size.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sf {

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
};

// Every problem with a checkpoint file: message names the file, the tensor (if any) and
// what was expected.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a checkpoint, choosing the format from the file's content (zip magic -> .pth written by
// torch.save; 8-byte little-endian header length + JSON -> safetensors).
TensorFile load_tensor_file(const std::string& path);

TensorFile load_pth(const std::string& path);
TensorFile load_safetensors(const std::string& path);

// Writes float32 tensors as safetensors (used by tests and by conversion tooling).
void save_safetensors(const std::string& path, const TensorFile& file);

}  // namespace sf
