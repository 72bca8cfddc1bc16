// Self-describing YAML schemas for the chip description and the energy tables.
//
// Each section of a file is described once, in a static table of parameters (name, type, unit,
// required/default, range, description), in the spirit of SST's ELI tables. The same table drives
// the loader (types, ranges, defaults, unknown-key detection) and the documentation renderer, so
// `spiketile chip --describe` and docs/chip.md cannot drift from what the loader accepts.
//
// Validation never stops at the first problem: every problem is collected with its file, line and
// column and reported together in one ConfigError.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace YAML {
class Node;
}

namespace spiketile {

// One thing wrong with a configuration file, located in it (line/column are 1-based, 0 = unknown).
struct ConfigProblem {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;

  std::string to_string() const;  // "file:line:column: message"
};

// Every problem found in one file. what() lists them all, one per line, sorted by position.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& headline, std::vector<ConfigProblem> problems);
  explicit ConfigError(const std::string& message);

  const std::vector<ConfigProblem>& problems() const { return problems_; }

 private:
  std::vector<ConfigProblem> problems_;
};

namespace config {

enum class ParamType {
  integer,    // decimal or 0x hex, '_' digit separators allowed
  number,     // real; integers accepted
  boolean,    // true / false
  string,
  impl,       // a named implementation: `name` or `{impl: name, <its params>}` (Ramulator-2 style)
  impl_list,  // a list of implementation names: [a, b]
};

enum class Need {
  required,   // must be present
  defaulted,  // takes default_value when absent
  optional,   // may be absent; then it simply has no value
};

struct ImplChoice;

struct ParamSpec {
  std::string key;
  ParamType type = ParamType::integer;
  std::string unit;           // empty for dimensionless values
  Need need = Need::required;
  std::string default_value;  // YAML text, parsed like a value from the file (lists: "a, b")
  std::string description;
  double min_value = std::numeric_limits<double>::lowest();
  double max_value = std::numeric_limits<double>::max();
  std::vector<ImplChoice> choices;  // for impl and impl_list
};

struct ImplChoice {
  std::string name;
  std::string description;
  std::vector<ParamSpec> params;  // the implementation's own parameters
};

struct SectionSpec {
  std::string path;  // dotted path of the mapping; "" is the top level
  std::string description;
  // An optional section that is absent means "this feature is absent" (no defaults filled in);
  // any other absent section gets its defaults, or is reported if it has required content.
  bool optional = false;
  std::vector<ParamSpec> params;
  // Set for open sections whose keys are free names (all values checked against this spec).
  std::optional<ParamSpec> any_key;
};

using Schema = std::vector<SectionSpec>;

struct Position {
  int line = 0;  // 1-based, 0 = unknown
  int column = 0;
};

using Value = std::variant<int64_t, double, bool, std::string, std::vector<std::string>>;

// The validated values of one file, by dotted path ("core.crossbar.axons"), with their positions.
// A value that failed validation is absent, so later consistency checks skip it rather than
// reporting knock-on errors.
class ParsedConfig {
 public:
  std::optional<int64_t> integer(const std::string& path) const;
  std::optional<double> number(const std::string& path) const;
  std::optional<bool> boolean(const std::string& path) const;
  std::optional<std::string> string(const std::string& path) const;
  std::optional<std::vector<std::string>> list(const std::string& path) const;
  bool has(const std::string& path) const { return values_.count(path) != 0; }
  bool has_section(const std::string& path) const { return sections_.count(path) != 0; }
  // Keys recorded directly under a section (sorted); used for open sections.
  std::vector<std::string> keys_under(const std::string& section_path) const;

  // Where a value came from; for a defaulted or missing value, the nearest enclosing section
  // present in the file (so an error about it points somewhere sensible).
  Position position(const std::string& path) const;

  void set_value(const std::string& path, Value value, Position where);
  void set_section(const std::string& path, Position where);

 private:
  std::map<std::string, std::pair<Value, Position>> values_;
  std::map<std::string, Position> sections_;
};

// Collects problems for one file.
class ProblemSink {
 public:
  explicit ProblemSink(std::string file) : file_(std::move(file)) {}
  void add(Position where, std::string message);
  bool empty() const { return problems_.empty(); }
  const std::string& file() const { return file_; }
  // Problems sorted by position (stable for problems on the same line).
  std::vector<ConfigProblem> sorted() const;

 private:
  std::string file_;
  std::vector<ConfigProblem> problems_;
};

// Reads the YAML file at `path` and validates it against `schema`. File, syntax, type, range,
// missing-key and unknown-key problems go to `sink`; whatever validated is returned.
ParsedConfig parse_file(const std::string& path, const Schema& schema, ProblemSink& sink);
// The same for YAML held in memory (a chip description embedded in a compiled mapping).
ParsedConfig parse_text(const std::string& text, const Schema& schema, ProblemSink& sink);

// The same for a YAML tree another reader loaded (a part of a larger file): positions stay those of
// that file.
ParsedConfig parse_node(const YAML::Node& root, const Schema& schema, ProblemSink& sink);

// Checks one scalar's text against `param` as the loader checks a value in a file (UTF-8, type,
// range, a required string not empty): the value, or nullopt with `problem` set to "path: why".
std::optional<Value> scalar_value(const std::string& path, const ParamSpec& param, const std::string& text,
                                  std::string& problem);

// Renders the schema as Markdown: one table per section, implementation choices listed.
std::string describe_markdown(const Schema& schema);

// The candidate closest to `word` by edit distance, or "" when none is plausibly a typo of it.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// Building blocks shared by the YAML formats (energy tables, GPU specs).
ParamSpec string_param(std::string key, Need need, std::string description);
// `version`: 1 ... 1000, described as "this build reads <supported>".
ParamSpec version_param(int supported);
// Reports a `version` other than `supported` ("unsupported <what> version N; this build reads ...").
void check_version(const ParsedConfig& parsed, int supported, const std::string& what, ProblemSink& sink);
// "invalid <what> <file> (N problems):", the headline of a ConfigError listing sink's problems.
std::string problems_headline(const std::string& what, const ProblemSink& sink);

// Bits needed to index `count` distinct items (0 for count <= 1).
int index_bits(uint64_t count);

}  // namespace config
}  // namespace spiketile
