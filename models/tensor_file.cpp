#include "models/tensor_file.hpp"

#include <array>
#include <cstring>

#include <fmt/format.h>

#include "models/checkpoint_io.hpp"

namespace spiketile {

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    case DType::F64: return "float64";
  }
  return "unknown";
}

std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::F64: return 8;
  }
  return 0;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (const int64_t extent : shape) n *= extent;
  return n;
}

std::string Tensor::shape_str() const { return checkpoint_io::shape_str(shape); }

const Tensor& TensorFile::at(const std::string& name) const {
  const auto it = tensors.find(name);
  if (it == tensors.end()) {
    throw CheckpointError(fmt::format("{}: no tensor '{}' (the file holds {} tensors)", path, name, tensors.size()));
  }
  return it->second;
}

Tensor& TensorFile::at(const std::string& name) {
  return const_cast<Tensor&>(static_cast<const TensorFile&>(*this).at(name));
}

Tensor TensorFile::take(const std::string& name) {
  Tensor taken = std::move(at(name));
  tensors.erase(name);
  return taken;
}

TensorIndex TensorFile::index() const {
  TensorIndex index;
  index.path = path;
  index.order = order;
  for (const auto& [name, tensor] : tensors) index.shapes.emplace(name, tensor.shape);
  return index;
}

const std::vector<int64_t>& TensorIndex::shape(const std::string& name) const {
  const auto it = shapes.find(name);
  if (it == shapes.end()) {
    throw CheckpointError(fmt::format("{}: no tensor '{}' (the file holds {} tensors)", path, name, shapes.size()));
  }
  return it->second;
}

namespace {

// torch.save before PyTorch 1.6 (or with _use_new_zipfile_serialization=False) starts with a
// pickled magic number instead of a zip header.
constexpr std::array<uint8_t, 14> kLegacyTorchMagic = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                                       0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

std::string hex_bytes(const uint8_t* bytes, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += fmt::format("{}{:02x}", i ? " " : "", bytes[i]);
  return out;
}

}  // namespace

std::unique_ptr<TensorReader> open_tensor_file(const std::string& path) {
  std::array<uint8_t, 16> head{};
  std::size_t head_size = 0;
  {
    const checkpoint_io::RandomAccessFile file(path);
    head_size = static_cast<std::size_t>(std::min<uint64_t>(file.size(), head.size()));
    file.read_exact(0, head.data(), head_size, "file header");
  }
  if (head_size >= 4 && std::memcmp(head.data(), "PK\x03\x04", 4) == 0) return open_pth(path);
  // safetensors: u64 header length, then the JSON header, which always starts with '{'.
  if (head_size >= 9 && head[8] == '{') return open_safetensors(path);
  if (head_size >= kLegacyTorchMagic.size() &&
      std::memcmp(head.data(), kLegacyTorchMagic.data(), kLegacyTorchMagic.size()) == 0) {
    throw CheckpointError(fmt::format(
        "{}: legacy torch.save format (PyTorch < 1.6 or _use_new_zipfile_serialization=False) is not supported; "
        "expected a zip archive (.pth) or safetensors; re-save it with torch.save in PyTorch >= 1.6",
        path));
  }
  const std::string found = head_size == 0 ? std::string("an empty file")
                                           : fmt::format("first bytes [{}]", hex_bytes(head.data(), std::min<std::size_t>(head_size, 9)));
  throw CheckpointError(fmt::format(
      "{}: unrecognised checkpoint format: expected a PyTorch zip archive (starts with 'PK\\x03\\x04') or "
      "safetensors (8-byte header length, then '{{'), found {}",
      path, found));
}

namespace {

// Serves a loaded TensorFile; each tensor can be read once, as take() moves it out.
class TensorFileReader final : public TensorReader {
 public:
  explicit TensorFileReader(TensorFile file) : file_(std::move(file)), index_(file_.index()) {}
  const TensorIndex& index() const override { return index_; }
  std::string format() const override { return file_.format; }
  Tensor read(const std::string& name) override { return file_.take(name); }
  void read_row_blocks(const std::string& name, int64_t rows_per_block, const RowBlockSink& sink) override {
    const int64_t length = checkpoint_io::row_length(index_.path, name, index_.shape(name), rows_per_block);
    checkpoint_io::deliver_row_blocks(file_.take(name), length, rows_per_block, sink);
  }

 private:
  TensorFile file_;
  TensorIndex index_;
};

}  // namespace

std::unique_ptr<TensorReader> tensor_file_reader(TensorFile file) {
  return std::make_unique<TensorFileReader>(std::move(file));
}

TensorFile read_all(TensorReader& reader) {
  TensorFile file;
  file.path = reader.index().path;
  file.format = reader.format();
  for (const std::string& name : reader.index().order) {
    file.tensors.emplace(name, reader.read(name));
    file.order.push_back(name);
  }
  return file;
}

TensorFile load_tensor_file(const std::string& path) { return read_all(*open_tensor_file(path)); }
TensorFile load_pth(const std::string& path) { return read_all(*open_pth(path)); }
TensorFile load_safetensors(const std::string& path) { return read_all(*open_safetensors(path)); }

}  // namespace spiketile
