#include "models/pickle.hpp"

#include <cstring>

#include <fmt/format.h>

#include "models/tensor_file.hpp"

namespace spiketile::pickle {

std::string Value::type_name() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return fmt::format("class {}.{}", module, name);
    case Kind::Object: return object_type;
  }
  return "?";
}

namespace {

ValuePtr make(Kind kind) {
  auto value = std::make_shared<Value>();
  value->kind = kind;
  return value;
}

}  // namespace

ValuePtr make_none() { return make(Kind::None); }

ValuePtr make_int(int64_t value) {
  auto v = make(Kind::Int);
  v->integer = value;
  return v;
}

ValuePtr make_string(std::string text) {
  auto v = make(Kind::String);
  v->text = std::move(text);
  return v;
}

ValuePtr make_dict() { return make(Kind::Dict); }

ValuePtr make_object(std::string type, std::any payload) {
  auto v = make(Kind::Object);
  v->object_type = std::move(type);
  v->payload = std::move(payload);
  return v;
}

void dict_set(Value& dict, ValuePtr key, ValuePtr value) {
  if (key->kind == Kind::String) {
    const auto [it, inserted] = dict.string_keys.emplace(key->text, dict.entries.size());
    if (!inserted) {
      dict.entries[it->second].second = std::move(value);
      return;
    }
  }
  dict.entries.emplace_back(std::move(key), std::move(value));
}

Unpickled::~Unpickled() {
  // Cut every link first: then releasing the arena frees values one at a time, without the
  // recursive destructor chain a deep or cyclic graph would otherwise cause.
  for (const ValuePtr& value : arena_) {
    value->items.clear();
    value->entries.clear();
  }
}

namespace {

const char* opcode_name(uint8_t op) {
  switch (op) {
    case 0x80: return "PROTO";
    case 0x95: return "FRAME";
    case '.': return "STOP";
    case '(': return "MARK";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'N': return "NONE";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'M': return "BININT2";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 'G': return "BINFLOAT";
    case 'X': return "BINUNICODE";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x8e: return "BINBYTES8";
    case ')': return "EMPTY_TUPLE";
    case 't': return "TUPLE";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case ']': return "EMPTY_LIST";
    case 'l': return "LIST";
    case 'a': return "APPEND";
    case 'e': return "APPENDS";
    case '}': return "EMPTY_DICT";
    case 'd': return "DICT";
    case 's': return "SETITEM";
    case 'u': return "SETITEMS";
    case 'c': return "GLOBAL";
    case 0x93: return "STACK_GLOBAL";
    case 'R': return "REDUCE";
    case 'b': return "BUILD";
    case 'Q': return "BINPERSID";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 0x94: return "MEMOIZE";
    case 'h': return "BINGET";
    case 'j': return "LONG_BINGET";
    // Known opcodes this machine refuses: text-mode protocol 0/1 and object construction.
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'P': return "PERSID";
    case 'p': return "PUT";
    case 'g': return "GET";
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

// Thrown inside the machine; unpickle() adds the context and opcode position.
struct MachineError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

class Machine {
 public:
  Machine(const std::string& bytes, const Hooks& hooks) : bytes_(bytes), hooks_(hooks) {}

  // Runs to STOP. `opcode_offset` and `opcode` always describe the opcode being executed, for
  // error messages.
  Unpickled run(std::size_t& opcode_offset, uint8_t& opcode);

 private:
  // --- input ---
  const uint8_t* take(std::size_t count) {
    if (bytes_.size() - pos_ < count) {
      throw MachineError(fmt::format("needs {} argument bytes, only {} remain (truncated pickle)", count,
                                     bytes_.size() - pos_));
    }
    const auto* p = reinterpret_cast<const uint8_t*>(bytes_.data()) + pos_;
    pos_ += count;
    return p;
  }
  uint64_t take_unsigned(std::size_t count) {   // little-endian
    const uint8_t* p = take(count);
    uint64_t value = 0;
    for (std::size_t i = count; i-- > 0;) value = (value << 8) | p[i];
    return value;
  }
  std::string take_text(uint64_t count) {
    if (count > bytes_.size() - pos_) {
      throw MachineError(fmt::format("string of {} bytes exceeds the {} bytes left (truncated or corrupt pickle)", count,
                                     bytes_.size() - pos_));
    }
    const auto* p = reinterpret_cast<const char*>(take(static_cast<std::size_t>(count)));
    return std::string(p, static_cast<std::size_t>(count));
  }
  std::string take_line() {
    const std::size_t end = bytes_.find('\n', pos_);
    if (end == std::string::npos) throw MachineError("GLOBAL name has no terminating newline (truncated pickle)");
    std::string line = bytes_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return line;
  }

  // --- values ---
  ValuePtr own(ValuePtr value) {
    if (!value) throw MachineError("a hook returned no value");
    unpickled_.arena_.push_back(value);
    return value;
  }
  ValuePtr fresh(Kind kind) { return own(make(kind)); }
  ValuePtr fresh_int(int64_t number) {
    auto value = fresh(Kind::Int);
    value->integer = number;
    return value;
  }
  ValuePtr fresh_text(Kind kind, std::string text) {
    auto value = fresh(kind);
    value->text = std::move(text);
    return value;
  }
  ValuePtr fresh_tuple(std::vector<ValuePtr> items) {
    auto value = fresh(Kind::Tuple);
    value->items = std::move(items);
    return value;
  }
  ValuePtr decode_long(std::size_t size) {
    if (size > 8) throw MachineError(fmt::format("integer of {} bytes does not fit in 64 bits", size));
    const uint8_t* p = take(size);
    uint64_t value = 0;
    for (std::size_t i = size; i-- > 0;) value = (value << 8) | p[i];
    if (size > 0 && size < 8 && (p[size - 1] & 0x80)) value |= ~uint64_t{0} << (8 * size);   // sign-extend
    return fresh_int(static_cast<int64_t>(value));
  }
  ValuePtr decode_float() {
    const uint8_t* p = take(8);
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];   // stored big-endian
    auto value = fresh(Kind::Float);
    std::memcpy(&value->real, &bits, sizeof bits);
    return value;
  }

  // --- stack; pops never reach below the innermost MARK ---
  std::size_t stack_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(ValuePtr value) { stack_.push_back(std::move(value)); }
  ValuePtr pop() {
    if (stack_.size() <= stack_floor()) throw MachineError("stack underflow");
    ValuePtr value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }
  const ValuePtr& top() const {
    if (stack_.size() <= stack_floor()) throw MachineError("stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) throw MachineError("no MARK on the stack");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(mark)),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }
  Value& top_of_kind(Kind kind, const char* opcode) const {
    Value& value = *top();
    if (value.kind != kind) {
      throw MachineError(fmt::format("{} needs a {} below its arguments, found {}", opcode,
                                     kind == Kind::List ? "list" : "dict", value.type_name()));
    }
    return value;
  }

  // --- memo ---
  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) throw MachineError(fmt::format("memo slot {} was never stored", index));
    push(it->second);
  }

  static void set_items(Value& dict, std::vector<ValuePtr>& items) {
    if (items.size() % 2 != 0) throw MachineError("SETITEMS has an odd number of items");
    for (std::size_t i = 0; i < items.size(); i += 2) dict_set(dict, items[i], items[i + 1]);
  }

  ValuePtr find_class(const std::string& module, const std::string& name) {
    if (!hooks_.find_class) throw MachineError(fmt::format("global '{}.{}' is not allowed", module, name));
    return own(hooks_.find_class(module, name));
  }

  bool step(uint8_t op);
  void step_collection(uint8_t op);
  void step_object(uint8_t op);

  const std::string& bytes_;
  const Hooks& hooks_;
  std::size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  Unpickled unpickled_;   // last member: destroyed first, unlinking everything the others hold
};

// Tuples, lists and dicts.
void Machine::step_collection(uint8_t op) {
  switch (op) {
    case ')': push(fresh_tuple({})); return;
    case 't': push(fresh_tuple(pop_to_mark())); return;
    case 0x85:
    case 0x86:
    case 0x87: {
      std::vector<ValuePtr> items(static_cast<std::size_t>(op - 0x85 + 1));
      for (std::size_t i = items.size(); i-- > 0;) items[i] = pop();
      push(fresh_tuple(std::move(items)));
      return;
    }
    case ']': push(fresh(Kind::List)); return;
    case 'l': {
      auto list = fresh(Kind::List);
      list->items = pop_to_mark();
      push(list);
      return;
    }
    case 'a': {
      ValuePtr item = pop();
      top_of_kind(Kind::List, "APPEND").items.push_back(std::move(item));
      return;
    }
    case 'e': {
      std::vector<ValuePtr> items = pop_to_mark();
      auto& list = top_of_kind(Kind::List, "APPENDS").items;
      list.insert(list.end(), items.begin(), items.end());
      return;
    }
    case '}': push(fresh(Kind::Dict)); return;
    case 'd': {
      std::vector<ValuePtr> items = pop_to_mark();
      auto dict = fresh(Kind::Dict);
      set_items(*dict, items);
      push(dict);
      return;
    }
    case 's': {
      ValuePtr value = pop();
      ValuePtr key = pop();
      dict_set(top_of_kind(Kind::Dict, "SETITEM"), std::move(key), std::move(value));
      return;
    }
    case 'u': {
      std::vector<ValuePtr> items = pop_to_mark();
      set_items(top_of_kind(Kind::Dict, "SETITEMS"), items);
      return;
    }
  }
}

// Globals, calls, BUILD and persistent ids: all delegated to the hooks.
void Machine::step_object(uint8_t op) {
  switch (op) {
    case 'c': {
      const std::string module = take_line();
      const std::string name = take_line();
      push(find_class(module, name));
      return;
    }
    case 0x93: {
      ValuePtr name = pop();
      ValuePtr module = pop();
      if (module->kind != Kind::String || name->kind != Kind::String) throw MachineError("STACK_GLOBAL needs two strings");
      push(find_class(module->text, name->text));
      return;
    }
    case 'R': {
      ValuePtr args = pop();
      ValuePtr callable = pop();
      if (args->kind != Kind::Tuple) throw MachineError(fmt::format("REDUCE arguments are a {}, not a tuple", args->type_name()));
      if (!hooks_.reduce) throw MachineError(fmt::format("calling {} is not allowed", callable->type_name()));
      push(own(hooks_.reduce(callable, args)));
      return;
    }
    case 'b': {
      ValuePtr state = pop();
      if (!hooks_.build) throw MachineError(fmt::format("BUILD on {} is not allowed", top()->type_name()));
      hooks_.build(top(), state);
      return;
    }
    case 'Q': {
      ValuePtr persistent_id = pop();
      if (!hooks_.persistent_load) throw MachineError("persistent ids are not allowed");
      push(own(hooks_.persistent_load(persistent_id)));
      return;
    }
  }
}

// Executes one opcode; returns false at STOP.
bool Machine::step(uint8_t op) {
  switch (op) {
    case 0x80: {
      const uint8_t protocol = *take(1);
      if (protocol > 5) throw MachineError(fmt::format("pickle protocol {} is newer than 5", protocol));
      return true;
    }
    case 0x95: take(8); return true;   // FRAME: only a read-ahead hint
    case '.': unpickled_.root_ = pop(); return false;
    case '(': marks_.push_back(stack_.size()); return true;
    case '0':
      if (stack_.size() == stack_floor() && !marks_.empty()) marks_.pop_back();
      else pop();
      return true;
    case '1': pop_to_mark(); return true;
    case '2': push(top()); return true;
    case 'N': push(fresh(Kind::None)); return true;
    case 0x88:
    case 0x89: {
      auto value = fresh(Kind::Bool);
      value->boolean = op == 0x88;
      push(value);
      return true;
    }
    case 'J': push(fresh_int(static_cast<int32_t>(take_unsigned(4)))); return true;
    case 'K': push(fresh_int(static_cast<int64_t>(take_unsigned(1)))); return true;
    case 'M': push(fresh_int(static_cast<int64_t>(take_unsigned(2)))); return true;
    case 0x8a: push(decode_long(*take(1))); return true;
    case 0x8b: push(decode_long(take_unsigned(4))); return true;
    case 'G': push(decode_float()); return true;
    case 'X': push(fresh_text(Kind::String, take_text(take_unsigned(4)))); return true;
    case 0x8c: push(fresh_text(Kind::String, take_text(take_unsigned(1)))); return true;
    case 0x8d: push(fresh_text(Kind::String, take_text(take_unsigned(8)))); return true;
    case 'T': {
      const auto size = static_cast<int32_t>(take_unsigned(4));
      if (size < 0) throw MachineError("BINSTRING with negative length");
      push(fresh_text(Kind::String, take_text(static_cast<uint64_t>(size))));
      return true;
    }
    case 'U': push(fresh_text(Kind::String, take_text(take_unsigned(1)))); return true;
    case 'B': push(fresh_text(Kind::Bytes, take_text(take_unsigned(4)))); return true;
    case 'C': push(fresh_text(Kind::Bytes, take_text(take_unsigned(1)))); return true;
    case 0x8e: push(fresh_text(Kind::Bytes, take_text(take_unsigned(8)))); return true;
    case ')': case 't': case 0x85: case 0x86: case 0x87: case ']': case 'l': case 'a': case 'e':
    case '}': case 'd': case 's': case 'u':
      step_collection(op);
      return true;
    case 'c': case 0x93: case 'R': case 'b': case 'Q':
      step_object(op);
      return true;
    case 'q': memo_put(take_unsigned(1)); return true;
    case 'r': memo_put(take_unsigned(4)); return true;
    case 0x94: memo_put(memo_.size()); return true;
    case 'h': memo_get(take_unsigned(1)); return true;
    case 'j': memo_get(take_unsigned(4)); return true;
    default: {
      const char* name = opcode_name(op);
      throw MachineError(name ? fmt::format("pickle opcode {} is not supported (not used by torch.save)", name)
                              : fmt::format("unknown pickle opcode 0x{:02x}", op));
    }
  }
}

Unpickled Machine::run(std::size_t& opcode_offset, uint8_t& opcode) {
  while (true) {
    opcode_offset = pos_;
    if (pos_ >= bytes_.size()) throw MachineError("pickle ends without a STOP opcode (truncated?)");
    opcode = static_cast<uint8_t>(bytes_[pos_++]);
    if (!step(opcode)) break;
  }
  return std::move(unpickled_);
}

Unpickled unpickle(const std::string& bytes, const Hooks& hooks, const std::string& context) {
  Machine machine(bytes, hooks);
  std::size_t opcode_offset = 0;
  uint8_t opcode = 0;
  try {
    return machine.run(opcode_offset, opcode);
  } catch (const CheckpointError&) {
    throw;
  } catch (const std::exception& e) {
    if (opcode_offset >= bytes.size()) throw CheckpointError(fmt::format("{}: byte {}: {}", context, opcode_offset, e.what()));
    const char* name = opcode_name(opcode);
    throw CheckpointError(fmt::format("{}: byte {} (opcode {}): {}", context, opcode_offset,
                                      name ? std::string(name) : fmt::format("0x{:02x}", opcode), e.what()));
  }
}

}  // namespace spiketile::pickle
