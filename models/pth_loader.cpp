// Loads `torch.save(model.state_dict(), f)` checkpoints without Python: a zip archive holding
// data.pkl (a protocol-2 pickle of the dict) and one entry per tensor storage under data/.
// The pickle runs in a restricted machine that knows only the few classes a state_dict uses;
// tensors are read by streaming their storage entries, converting to float32 on the way.
#include <algorithm>
#include <limits>
#include <map>
#include <new>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "models/checkpoint_io.hpp"
#include "models/pickle.hpp"
#include "models/tensor_file.hpp"
#include "models/zip_archive.hpp"

namespace spiketile {

namespace {

using pickle::Kind;
using pickle::Value;
using pickle::ValuePtr;

constexpr uint64_t kMaxPickleSize = 256ull << 20;
// A view may repeat storage elements (stride 0), so its size is not bounded by the file. Views
// larger than their storage are allowed only up to this many elements.
constexpr int64_t kMaxExpandedViewElements = int64_t{1} << 26;

constexpr const char* kTensorObject = "torch.Tensor";
constexpr const char* kStorageObject = "torch storage";

struct StorageRef {
  std::string class_name;          // "torch.FloatStorage"
  std::optional<DType> dtype;      // empty for storage classes we do not read (integers, bool, ...)
  std::string key;                 // entry name under <archive>/data/
  int64_t numel = 0;
};

struct TensorRef {
  StorageRef storage;
  int64_t offset = 0;
  std::vector<int64_t> size;
  std::vector<int64_t> stride;
};

std::optional<DType> float_storage_dtype(const std::string& class_name) {
  if (class_name == "FloatStorage") return DType::F32;
  if (class_name == "HalfStorage") return DType::F16;
  if (class_name == "BFloat16Storage") return DType::BF16;
  if (class_name == "DoubleStorage") return DType::F64;
  return std::nullopt;
}

// For the error message about a storage class we do not convert.
std::string storage_element_name(const std::string& class_name) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"LongStorage", "int64"},   {"IntStorage", "int32"},       {"ShortStorage", "int16"},
      {"CharStorage", "int8"},    {"ByteStorage", "uint8"},      {"BoolStorage", "bool"},
      {"ComplexFloatStorage", "complex64"}, {"ComplexDoubleStorage", "complex128"},
      {"QInt8Storage", "qint8"},  {"QUInt8Storage", "quint8"},   {"QInt32Storage", "qint32"},
  };
  for (const auto& [name, element] : kNames) {
    if (class_name == name) return element;
  }
  return "unknown";
}

bool is_row_major(const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
  uint64_t expected = 1;   // unsigned: an empty tensor's other extents may overflow harmlessly
  for (std::size_t d = size.size(); d-- > 0;) {
    if (size[d] != 1 && static_cast<uint64_t>(stride[d]) != expected) return false;
    expected *= static_cast<uint64_t>(size[d]);
  }
  return true;
}

const Value& tuple_item(const Value& tuple, std::size_t index) { return *tuple.items[index]; }

int64_t require_int(const Value& value, const char* what) {
  if (value.kind != Kind::Int) throw std::runtime_error(fmt::format("{} is a {}, expected an int", what, value.type_name()));
  return value.integer;
}

std::vector<int64_t> require_int_tuple(const Value& value, const char* what) {
  if (value.kind != Kind::Tuple) throw std::runtime_error(fmt::format("{} is a {}, expected a tuple of ints", what, value.type_name()));
  std::vector<int64_t> numbers;
  for (const ValuePtr& item : value.items) {
    const int64_t number = require_int(*item, what);
    if (number < 0) throw std::runtime_error(fmt::format("{} holds the negative value {}", what, number));
    numbers.push_back(number);
  }
  return numbers;
}

// Where a tensor view's elements lie in its storage entry, after every bounds check.
struct ViewPlan {
  const ZipEntry* entry = nullptr;
  DType dtype = DType::F32;
  int64_t numel = 0;
  int64_t span = 0;          // storage elements from the view's offset to its last element
  bool contiguous = true;    // row-major: element i of the view is element offset + i of the storage
};

class PthReader final : public TensorReader {
 public:
  explicit PthReader(const std::string& path);

  const TensorIndex& index() const override { return index_; }
  std::string format() const override { return "pth"; }
  Tensor read(const std::string& name) override;
  void read_row_blocks(const std::string& name, int64_t rows_per_block, const RowBlockSink& sink) override;

 private:
  const std::string& path() const { return archive_.path(); }
  std::string find_archive_folder() const;
  bool read_byte_order() const;
  pickle::Hooks hooks();

  ValuePtr find_class(const std::string& module, const std::string& name) const;
  ValuePtr persistent_load(const ValuePtr& persistent_id) const;
  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args) const;
  ValuePtr rebuild_tensor(const Value& args) const;
  void build(const ValuePtr& object, const ValuePtr& state) const;

  const TensorRef& tensor_ref(const std::string& name) const;
  ViewPlan plan_view(const std::string& name, const TensorRef& ref) const;
  // Streams storage elements [offset, offset + span) of the view in pieces of whole elements:
  // sink(first, count, bytes) with `first` counted from the view's offset; `convert` turns them
  // into float32.
  using PieceSink = std::function<void(std::size_t first, std::size_t count, const uint8_t* bytes)>;
  void stream_view(const std::string& name, const TensorRef& ref, const ViewPlan& plan, const PieceSink& sink);
  void convert(const std::string& name, const TensorRef& ref, const ViewPlan& plan, const uint8_t* bytes,
               std::size_t count, std::size_t first, float* out) const;
  const ZipEntry& storage_entry(const std::string& name, const TensorRef& ref) const;
  void check_storage_bounds(const std::string& name, const TensorRef& ref, const ZipEntry& entry, int64_t numel,
                            int64_t last_element) const;

  ZipArchive archive_;
  std::string folder_;
  bool big_endian_ = false;
  std::set<std::string> crc_checked_entries_;
  std::map<std::string, TensorRef> refs_;
  TensorIndex index_;
};

std::string PthReader::find_archive_folder() const {
  // torch names the top folder after the file's stem at save time; renaming the file later does
  // not change it, so find it from the entries.
  std::vector<std::string> folders;
  for (const ZipEntry& entry : archive_.entries()) {
    const std::size_t slash = entry.name.find('/');
    if (slash != std::string::npos && slash > 0 && entry.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      folders.push_back(entry.name.substr(0, slash));
    }
  }
  if (folders.size() == 1) return folders.front();
  if (folders.empty()) {
    std::string names;
    for (std::size_t i = 0; i < archive_.entries().size() && i < 5; ++i) {
      names += fmt::format("{}'{}'", i ? ", " : "", archive_.entries()[i].name);
    }
    throw CheckpointError(fmt::format(
        "{}: zip archive has no '<folder>/data.pkl' entry, so it is not a torch.save checkpoint (entries: {}{})", path(),
        names, archive_.entries().size() > 5 ? ", ..." : ""));
  }
  throw CheckpointError(fmt::format("{}: zip archive holds {} data.pkl entries ('{}/data.pkl', '{}/data.pkl', ...); expected one",
                                    path(), folders.size(), folders[0], folders[1]));
}

bool PthReader::read_byte_order() const {
  const ZipEntry* entry = archive_.find(folder_ + "/byteorder");
  if (!entry) return false;   // torch < 1.13 writes none: little-endian
  const std::string order = archive_.read_entry(*entry, 16);
  if (order == "little") return false;
  if (order == "big") return true;
  throw CheckpointError(fmt::format("{}: entry '{}' holds '{}', expected 'little' or 'big'", path(), entry->name, order));
}

ValuePtr PthReader::find_class(const std::string& module, const std::string& name) const {
  const bool allowed = (module == "collections" && name == "OrderedDict") ||
                       (module == "torch._utils" && (name == "_rebuild_tensor_v2" || name == "_rebuild_parameter" ||
                                                     name == "_rebuild_parameter_with_state")) ||
                       (module == "torch" && name.size() > 7 && name.compare(name.size() - 7, 7, "Storage") == 0);
  if (!allowed) {
    throw std::runtime_error(fmt::format(
        "unsupported pickle global '{}.{}': a torch.save(state_dict) checkpoint uses only collections.OrderedDict, "
        "torch._utils._rebuild_tensor_v2 and torch.*Storage classes",
        module, name));
  }
  auto global = std::make_shared<Value>();
  global->kind = Kind::Global;
  global->module = module;
  global->name = name;
  return global;
}

// torch's persistent id for a storage: ('storage', <storage class>, key, location, numel).
ValuePtr PthReader::persistent_load(const ValuePtr& persistent_id) const {
  const Value& id = *persistent_id;
  if (id.kind != Kind::Tuple || id.items.size() != 5 || tuple_item(id, 0).kind != Kind::String ||
      tuple_item(id, 0).text != "storage") {
    throw std::runtime_error(fmt::format("persistent id is a {} of {} items, expected ('storage', class, key, location, numel)",
                                         id.type_name(), id.items.size()));
  }
  const Value& storage_class = tuple_item(id, 1);
  const Value& key = tuple_item(id, 2);
  if (storage_class.kind != Kind::Global || storage_class.module != "torch") {
    throw std::runtime_error(fmt::format("storage type is a {}, expected a torch.*Storage class", storage_class.type_name()));
  }
  if (key.kind != Kind::String) throw std::runtime_error(fmt::format("storage key is a {}, expected a str", key.type_name()));
  StorageRef storage;
  storage.class_name = "torch." + storage_class.name;
  storage.dtype = float_storage_dtype(storage_class.name);
  storage.key = key.text;
  storage.numel = require_int(tuple_item(id, 4), "storage size");
  if (storage.numel < 0) throw std::runtime_error(fmt::format("storage '{}' has negative size {}", storage.key, storage.numel));
  return pickle::make_object(kStorageObject, storage);
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
ValuePtr PthReader::rebuild_tensor(const Value& args) const {
  if (args.items.size() != 6 && args.items.size() != 7) {
    throw std::runtime_error(fmt::format("_rebuild_tensor_v2 takes 6 or 7 arguments, got {}", args.items.size()));
  }
  const Value& storage = tuple_item(args, 0);
  if (storage.kind != Kind::Object || storage.object_type != kStorageObject) {
    throw std::runtime_error(fmt::format("_rebuild_tensor_v2 storage argument is a {}", storage.type_name()));
  }
  TensorRef tensor;
  tensor.storage = std::any_cast<const StorageRef&>(storage.payload);
  tensor.offset = require_int(tuple_item(args, 1), "storage offset");
  if (tensor.offset < 0) throw std::runtime_error(fmt::format("negative storage offset {}", tensor.offset));
  tensor.size = require_int_tuple(tuple_item(args, 2), "tensor size");
  tensor.stride = require_int_tuple(tuple_item(args, 3), "tensor stride");
  if (tensor.size.size() != tensor.stride.size()) {
    throw std::runtime_error(fmt::format("tensor size {} and stride {} differ in length", checkpoint_io::shape_str(tensor.size),
                                         checkpoint_io::shape_str(tensor.stride)));
  }
  return pickle::make_object(kTensorObject, tensor);
}

ValuePtr PthReader::reduce(const ValuePtr& callable, const ValuePtr& args) const {
  const Value& function = *callable;
  if (function.kind != Kind::Global) throw std::runtime_error(fmt::format("cannot call a {}", function.type_name()));
  if (function.module == "collections" && function.name == "OrderedDict") {
    if (!args->items.empty()) throw std::runtime_error("OrderedDict(...) with arguments is not supported");
    return pickle::make_dict();
  }
  if (function.module == "torch._utils" && function.name == "_rebuild_tensor_v2") return rebuild_tensor(*args);
  if (function.module == "torch._utils" && (function.name == "_rebuild_parameter" || function.name == "_rebuild_parameter_with_state")) {
    // A Parameter saved directly: keep its data tensor.
    if (args->items.empty() || tuple_item(*args, 0).object_type != kTensorObject) {
      throw std::runtime_error(fmt::format("{} needs a tensor as its first argument", function.name));
    }
    return args->items[0];
  }
  throw std::runtime_error(fmt::format("calling {}.{} is not supported", function.module, function.name));
}

void PthReader::build(const ValuePtr& object, const ValuePtr& /*state*/) const {
  // state_dict() attaches `_metadata` (per-module versions) to the OrderedDict; we do not need it.
  if (object->kind == Kind::Dict) return;
  throw std::runtime_error(fmt::format("setting the state of a {} is not supported", object->type_name()));
}

pickle::Hooks PthReader::hooks() {
  pickle::Hooks hooks;
  hooks.find_class = [this](const std::string& module, const std::string& name) { return find_class(module, name); };
  hooks.persistent_load = [this](const ValuePtr& id) { return persistent_load(id); };
  hooks.reduce = [this](const ValuePtr& callable, const ValuePtr& args) { return reduce(callable, args); };
  hooks.build = [this](const ValuePtr& object, const ValuePtr& state) { build(object, state); };
  return hooks;
}

const ZipEntry& PthReader::storage_entry(const std::string& name, const TensorRef& ref) const {
  if (!ref.storage.dtype) {
    throw CheckpointError(fmt::format(
        "{}: tensor '{}': unsupported dtype {} (storage class {}); supported: float32, float16, bfloat16, float64", path(),
        name, storage_element_name(ref.storage.class_name.substr(6)), ref.storage.class_name));
  }
  const std::string entry_name = folder_ + "/data/" + ref.storage.key;
  const ZipEntry* entry = archive_.find(entry_name);
  if (!entry) {
    throw CheckpointError(fmt::format("{}: tensor '{}': storage entry '{}' is missing from the archive", path(), name, entry_name));
  }
  return *entry;
}

void PthReader::check_storage_bounds(const std::string& name, const TensorRef& ref, const ZipEntry& entry, int64_t numel,
                                     int64_t last_element) const {
  const DType dtype = *ref.storage.dtype;
  const auto element_size = static_cast<int64_t>(dtype_size(dtype));
  const uint64_t needed_bytes = numel == 0 ? 0 : static_cast<uint64_t>(last_element + 1) * static_cast<uint64_t>(element_size);
  if (needed_bytes > entry.size) {
    const std::string view = ref.offset != 0 || !is_row_major(ref.size, ref.stride)
                                 ? fmt::format(", storage offset {}, stride {}", ref.offset, checkpoint_io::shape_str(ref.stride))
                                 : std::string();
    throw CheckpointError(fmt::format("{}: tensor '{}': storage '{}' holds {} bytes, tensor needs {} (shape {}, {}{})", path(),
                                      name, entry.name, entry.size, needed_bytes, checkpoint_io::shape_str(ref.size),
                                      dtype_name(dtype), view));
  }
  if (ref.storage.numel > std::numeric_limits<int64_t>::max() / element_size ||
      static_cast<uint64_t>(ref.storage.numel * element_size) != entry.size) {
    throw CheckpointError(fmt::format("{}: tensor '{}': storage '{}' holds {} bytes, but the pickle declares {} {} elements ({} bytes)",
                                      path(), name, entry.name, entry.size, ref.storage.numel, dtype_name(dtype),
                                      static_cast<uint64_t>(ref.storage.numel) * static_cast<uint64_t>(element_size)));
  }
  if (numel > ref.storage.numel && numel > kMaxExpandedViewElements) {
    throw CheckpointError(fmt::format("{}: tensor '{}': a view of {} elements over a storage of {} is larger than the {} "
                                      "elements allowed for views that repeat elements",
                                      path(), name, numel, ref.storage.numel, kMaxExpandedViewElements));
  }
}

const TensorRef& PthReader::tensor_ref(const std::string& name) const {
  index_.shape(name);   // throws the standard "no tensor" error for an unknown name
  return refs_.at(name);
}

ViewPlan PthReader::plan_view(const std::string& name, const TensorRef& ref) const {
  ViewPlan plan;
  plan.entry = &storage_entry(name, ref);
  plan.dtype = *ref.storage.dtype;
  plan.numel = checkpoint_io::checked_numel(ref.size);
  // Index of the last storage element the view touches; hostile sizes must not overflow it.
  int64_t last_element = ref.offset;
  bool overflow = false;
  for (std::size_t d = 0; d < ref.size.size() && plan.numel > 0; ++d) {
    int64_t reach = 0;
    overflow |= __builtin_mul_overflow(ref.size[d] - 1, ref.stride[d], &reach);
    overflow |= __builtin_add_overflow(last_element, reach, &last_element);
  }
  if (plan.numel < 0 || overflow || last_element > std::numeric_limits<int64_t>::max() / 8 - 1) {
    throw CheckpointError(fmt::format("{}: tensor '{}': shape {} with stride {} and offset {} is too large", path(), name,
                                      checkpoint_io::shape_str(ref.size), checkpoint_io::shape_str(ref.stride), ref.offset));
  }
  check_storage_bounds(name, ref, *plan.entry, plan.numel, last_element);
  plan.contiguous = is_row_major(ref.size, ref.stride);
  plan.span = plan.numel == 0 ? 0 : (plan.contiguous ? plan.numel : last_element - ref.offset + 1);
  return plan;
}

void PthReader::stream_view(const std::string& name, const TensorRef& ref, const ViewPlan& plan, const PieceSink& sink) {
  const uint64_t element_size = dtype_size(plan.dtype);
  const uint64_t byte_begin = static_cast<uint64_t>(ref.offset) * element_size;
  auto piece = [&](const uint8_t* bytes, std::size_t length, uint64_t entry_offset) {
    sink(static_cast<std::size_t>((entry_offset - byte_begin) / element_size), length / element_size, bytes);
  };
  const bool check_crc = crc_checked_entries_.insert(plan.entry->name).second;
  archive_.stream_entry(*plan.entry, byte_begin, byte_begin + static_cast<uint64_t>(plan.span) * element_size, check_crc,
                        piece, fmt::format("tensor '{}'", name));
}

void PthReader::convert(const std::string& name, const TensorRef& ref, const ViewPlan& plan, const uint8_t* bytes,
                        std::size_t count, std::size_t first, float* out) const {
  const std::size_t overflow = checkpoint_io::convert_to_float(plan.dtype, big_endian_, bytes, count, out);
  if (overflow == checkpoint_io::kNoIndex) return;
  throw CheckpointError(fmt::format("{}: tensor '{}': element {} of storage '{}' is {:g} (float64), outside the float32 range",
                                    path(), name, static_cast<int64_t>(first + overflow) + ref.offset, plan.entry->name,
                                    checkpoint_io::read_float64(bytes + overflow * dtype_size(plan.dtype), big_endian_)));
}

Tensor PthReader::read(const std::string& name) {
  const TensorRef& ref = tensor_ref(name);
  const ViewPlan plan = plan_view(name, ref);
  Tensor tensor;
  tensor.shape = ref.size;
  tensor.source_dtype = plan.dtype;
  std::vector<float> strided_source;
  try {
    tensor.data.resize(static_cast<std::size_t>(plan.numel));
    if (!plan.contiguous) strided_source.resize(static_cast<std::size_t>(plan.span));
  } catch (const std::bad_alloc&) {
    throw CheckpointError(fmt::format("{}: tensor '{}': out of memory for {} elements", path(), name, plan.numel));
  }
  float* destination = plan.contiguous ? tensor.data.data() : strided_source.data();
  stream_view(name, ref, plan, [&](std::size_t first, std::size_t count, const uint8_t* bytes) {
    convert(name, ref, plan, bytes, count, first, destination + first);
  });

  if (!plan.contiguous && plan.numel > 0) {
    // Walk the view's multi-index like an odometer, tracking the storage position incrementally.
    // Unsigned arithmetic: a size-1 dimension may carry any stride, and the transient
    // overshoot must wrap, not overflow.
    std::vector<int64_t> index(ref.size.size(), 0);
    uint64_t position = 0;
    for (int64_t i = 0; i < plan.numel; ++i) {
      tensor.data[static_cast<std::size_t>(i)] = strided_source[static_cast<std::size_t>(position)];
      for (std::size_t d = ref.size.size(); d-- > 0;) {
        const auto stride = static_cast<uint64_t>(ref.stride[d]);
        position += stride;
        if (++index[d] < ref.size[d]) break;
        position -= stride * static_cast<uint64_t>(ref.size[d]);
        index[d] = 0;
      }
    }
  }
  checkpoint_io::require_finite(path(), name, tensor);
  return tensor;
}

void PthReader::read_row_blocks(const std::string& name, int64_t rows_per_block, const RowBlockSink& sink) {
  const TensorRef& ref = tensor_ref(name);
  const int64_t length = checkpoint_io::row_length(path(), name, ref.size, rows_per_block);
  const ViewPlan plan = plan_view(name, ref);
  // torch.save writes parameters contiguous; only a view of another tensor can be strided, and
  // those are small enough to read whole (as are tensors of empty rows).
  if (!plan.contiguous || length == 0) return checkpoint_io::deliver_row_blocks(read(name), length, rows_per_block, sink);
  const int64_t rows = ref.size[0];
  const std::size_t block_elements = static_cast<std::size_t>(std::min(rows_per_block, rows) * length);
  std::vector<float> block(block_elements);
  int64_t block_first_row = 0;
  std::size_t filled = 0;
  auto deliver = [&] {
    const int64_t count = int64_t(filled) / length;
    checkpoint_io::require_finite(path(), name, ref.size, plan.dtype, block.data(), filled,
                                  static_cast<std::size_t>(block_first_row * length));
    sink(block_first_row, count, block.data());
    block_first_row += count;
    filled = 0;
  };
  const std::size_t element_size = dtype_size(plan.dtype);
  stream_view(name, ref, plan, [&](std::size_t first, std::size_t count, const uint8_t* bytes) {
    while (count > 0) {   // a piece may end one block and start the next
      const std::size_t n = std::min(count, block_elements - filled);
      convert(name, ref, plan, bytes, n, first, block.data() + filled);
      filled += n;
      first += n;
      bytes += n * element_size;
      count -= n;
      if (filled == block_elements) deliver();
    }
  });
  if (filled > 0) deliver();   // the last, shorter block
}

PthReader::PthReader(const std::string& path) : archive_(path) {
  folder_ = find_archive_folder();
  big_endian_ = read_byte_order();
  const std::string pickle_name = folder_ + "/data.pkl";
  const std::string pickle_bytes = archive_.read_entry(*archive_.find(pickle_name), kMaxPickleSize);
  const pickle::Unpickled unpickled = pickle::unpickle(pickle_bytes, hooks(), fmt::format("{}: {}", path, pickle_name));

  const Value& root = *unpickled.root();
  if (root.kind != Kind::Dict) {
    throw CheckpointError(fmt::format("{}: {} holds a {}, expected a dict of tensors (a state_dict)", path, pickle_name,
                                      root.type_name()));
  }
  index_.path = path;
  for (const auto& [key, value] : root.entries) {
    if (key->kind != Kind::String) {
      throw CheckpointError(fmt::format("{}: state_dict has a {} key, expected tensor names (str)", path, key->type_name()));
    }
    const std::string& name = key->text;
    if (value->kind != Kind::Object || value->object_type != kTensorObject) {
      throw CheckpointError(fmt::format(
          "{}: key '{}' holds a {}, not a tensor; expected a flat name -> tensor state_dict as torch.save(model.state_dict()) "
          "writes",
          path, name, value->type_name()));
    }
    const TensorRef& ref = std::any_cast<const TensorRef&>(value->payload);
    refs_.emplace(name, ref);
    index_.order.push_back(name);
    index_.shapes.emplace(name, ref.size);
  }
}

}  // namespace

std::unique_ptr<TensorReader> open_pth(const std::string& path) { return std::make_unique<PthReader>(path); }

}  // namespace spiketile
