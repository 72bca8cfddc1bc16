// Typed reads of the fields of a JSON document the project reads back (run statistics, GPU
// measurements): every error names the document, the field's path and what it needs, e.g.
// "stats: 'power.gating' must be a string".
#pragma once

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "models/json_limits.hpp"

namespace spiketile {

// A JSON file from outside, parsed under a nesting limit. std::runtime_error naming the file:
// "<path>: cannot open the <what>" or "<path>: not valid JSON: …" (a parse error, or a number
// beyond double such as 1e999).
inline nlohmann::json parse_json_file(const std::string& path, const std::string& what, int max_depth) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open the {}", path, what));
  try {
    return nlohmann::json::parse(in, nesting_limit(max_depth, path));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

class JsonFields {
 public:
  explicit JsonFields(std::string document) : document_(std::move(document)) {}

  // std::invalid_argument "<document>: '<path>' <need>"; the caller prefixes the file.
  [[noreturn]] void error(const std::string& path, const std::string& need) const {
    throw std::invalid_argument(fmt::format("{}: '{}' {}", document_, path, need));
  }

  const nlohmann::json& field(const nlohmann::json& parent, const std::string& key, const std::string& path) const {
    auto found = parent.find(key);
    if (found == parent.end()) error(path, "is missing");
    return *found;
  }

  // The field `key` of `parent` (an object at `section`, "" at the top) as T: a string, a number
  // (floating T) or an integer of at least 0 that fits T.
  template <typename T>
  T get(const nlohmann::json& parent, const std::string& key, const std::string& section) const {
    const std::string path = section.empty() ? key : section + "." + key;
    const nlohmann::json& value = field(parent, key, path);
    if constexpr (std::is_same_v<T, std::string>) {
      if (!value.is_string()) error(path, "must be a string");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!value.is_boolean()) error(path, "must be true or false");
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!value.is_number()) error(path, "must be a number");
    } else {
      if (!value.is_number_integer()) error(path, "must be an integer");
      if (value.get<int64_t>() < 0) error(path, fmt::format("must be at least 0 (got {})", value.dump()));
      // Narrowing would wrap (a core index of 2^32 + 5 would read as core 5).
      if (value.get<uint64_t>() > uint64_t(std::numeric_limits<T>::max()))
        error(path, fmt::format("is {}, above the largest this field holds ({})", value.dump(),
                                std::numeric_limits<T>::max()));
    }
    return value.get<T>();
  }

  // The object `key` of `parent`, whose path is `path` (default: the key itself).
  const nlohmann::json& object(const nlohmann::json& parent, const std::string& key, std::string path = "") const {
    if (path.empty()) path = key;
    const nlohmann::json& value = field(parent, key, path);
    if (!value.is_object()) error(path, "must be an object");
    return value;
  }

 private:
  std::string document_;
};

}  // namespace spiketile
