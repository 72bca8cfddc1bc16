// Limits every reader of a JSON file from outside applies while parsing.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <utility>

namespace spiketile {

// nlohmann's parser keeps its own stack, but destroying or printing a value recurses once per
// nesting level, so a file of a million '[' would overflow the call stack. Readers parse through
// this callback; `what` names the file in the error (std::runtime_error).
inline nlohmann::json::parser_callback_t nesting_limit(int max_depth, std::string what) {
  return [max_depth, what = std::move(what)](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > max_depth)
      throw std::runtime_error(what + ": JSON nests deeper than " + std::to_string(max_depth) + " levels");
    return true;
  };
}

}  // namespace spiketile
