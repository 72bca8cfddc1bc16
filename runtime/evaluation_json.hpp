// The results of an evaluation as `spiketile eval --json` writes them and the Python module's
// evaluate() returns them: one layout for both.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "models/token_model.hpp"
#include "models/tokenizer.hpp"
#include "runtime/execution.hpp"

namespace spiketile {

// What was evaluated: the model's file, the input under its kind ("text" or "ids": a path, or null
// for a text given in memory) and the tokenizer that encoded it.
struct EvaluationInput {
  std::string model;
  std::string kind = "text";
  nlohmann::json source;
  TokenizerSource tokenizer;
  int64_t unknown_characters_replaced = 0;
};

// bits per character for a character vocabulary (whatever its size), else bits per token.
bool evaluates_characters(const TokenizerSource& tokenizer);

nlohmann::json evaluation_json(const EvaluationInput& input, const TokenModel& model, const EvalResult& r);

}  // namespace spiketile
