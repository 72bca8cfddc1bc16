// A minimal, bounds-checked pickle virtual machine: the opcodes of protocols 2-4 that plain
// data uses (no text-mode opcodes, no arbitrary code). What globals mean, and what REDUCE, BUILD
// and persistent ids produce, is left to hooks, so the caller decides which classes exist.
#pragma once

#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace spiketile::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Object };

struct Value {
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0.0;
  std::string text;                                  // String, Bytes
  std::vector<ValuePtr> items;                       // Tuple, List
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;   // Dict, in insertion order
  std::unordered_map<std::string, std::size_t> string_keys;   // Dict: string key -> index in entries
  std::string module, name;                          // Global
  std::string object_type;                           // Object: what a hook built, e.g. "torch.Tensor"
  std::any payload;                                  // Object

  std::string type_name() const;                     // "int", "tuple", "collections.OrderedDict", ...
};

ValuePtr make_none();
ValuePtr make_int(int64_t value);
ValuePtr make_string(std::string text);
ValuePtr make_dict();
ValuePtr make_object(std::string type, std::any payload);

// Sets dict[key] = value as Python does: an existing string key keeps its position.
void dict_set(Value& dict, ValuePtr key, ValuePtr value);

struct Hooks {
  // GLOBAL / STACK_GLOBAL. Should throw (any std::exception) for classes it does not allow.
  std::function<ValuePtr(const std::string& module, const std::string& name)> find_class;
  // BINPERSID: the persistent id (a tuple for torch) -> the object it stands for.
  std::function<ValuePtr(const ValuePtr& persistent_id)> persistent_load;
  // REDUCE: callable(*args).
  std::function<ValuePtr(const ValuePtr& callable, const ValuePtr& args)> reduce;
  // BUILD: object.__setstate__(state).
  std::function<void(const ValuePtr& object, const ValuePtr& state)> build;
};

// The object graph a pickle built. Owns every value, and on destruction unlinks them first, so
// neither reference cycles nor deeply nested containers from a hostile pickle leak or overflow
// the stack. Values stay valid only as long as this object lives.
class Unpickled {
 public:
  Unpickled() = default;
  Unpickled(Unpickled&&) = default;
  Unpickled& operator=(Unpickled&&) = delete;
  ~Unpickled();
  const ValuePtr& root() const { return root_; }

 private:
  friend class Machine;
  std::vector<ValuePtr> arena_;
  ValuePtr root_;
};

// Runs the pickle in `bytes` and returns the object STOP leaves. Every error, including one
// thrown by a hook, becomes a CheckpointError "<context>: byte <offset> (opcode ...): <what>".
Unpickled unpickle(const std::string& bytes, const Hooks& hooks, const std::string& context);

}  // namespace spiketile::pickle
