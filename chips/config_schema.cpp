#include "chips/config_schema.hpp"

#include "chips/utf8.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <tuple>

namespace spiketile {

std::string ConfigProblem::to_string() const {
  if (line > 0) return fmt::format("{}:{}:{}: {}", file, line, column, message);
  return fmt::format("{}: {}", file, message);
}

namespace {

std::string with_problem_lines(const std::string& headline, const std::vector<ConfigProblem>& problems) {
  std::string text = headline;
  for (const ConfigProblem& problem : problems) {
    text += "\n  ";
    text += problem.to_string();
  }
  return text;
}

}  // namespace

ConfigError::ConfigError(const std::string& headline, std::vector<ConfigProblem> problems)
    : std::runtime_error(with_problem_lines(headline, problems)), problems_(std::move(problems)) {}

ConfigError::ConfigError(const std::string& message) : std::runtime_error(message) {}

namespace config {

// ---------------------------------------------------------------------------------------------
// ParsedConfig and ProblemSink

namespace {

template <class T>
std::optional<T> typed_value(const std::map<std::string, std::pair<Value, Position>>& values,
                             const std::string& path) {
  auto found = values.find(path);
  if (found == values.end()) return std::nullopt;
  if (const T* value = std::get_if<T>(&found->second.first)) return *value;
  return std::nullopt;
}

std::string parent_path(const std::string& path) {
  std::size_t dot = path.rfind('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

std::string leaf_name(const std::string& path) {
  std::size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// "in core.crossbar" / "at the top level", for messages.
std::string in_section(const std::string& path) {
  return path.empty() ? "at the top level" : "in " + path;
}

}  // namespace

std::optional<int64_t> ParsedConfig::integer(const std::string& path) const {
  return typed_value<int64_t>(values_, path);
}

std::optional<double> ParsedConfig::number(const std::string& path) const {
  if (auto as_double = typed_value<double>(values_, path)) return as_double;
  if (auto as_integer = typed_value<int64_t>(values_, path)) return static_cast<double>(*as_integer);
  return std::nullopt;
}

std::optional<bool> ParsedConfig::boolean(const std::string& path) const {
  return typed_value<bool>(values_, path);
}

std::optional<std::string> ParsedConfig::string(const std::string& path) const {
  return typed_value<std::string>(values_, path);
}

std::optional<std::vector<std::string>> ParsedConfig::list(const std::string& path) const {
  return typed_value<std::vector<std::string>>(values_, path);
}

std::vector<std::string> ParsedConfig::keys_under(const std::string& section_path) const {
  std::vector<std::string> keys;
  const std::string prefix = section_path.empty() ? "" : section_path + ".";
  for (const auto& [path, entry] : values_) {
    if (path.compare(0, prefix.size(), prefix) != 0) continue;
    std::string rest = path.substr(prefix.size());
    if (rest.find('.') == std::string::npos) keys.push_back(rest);
  }
  return keys;
}

Position ParsedConfig::position(const std::string& path) const {
  if (auto found = values_.find(path); found != values_.end() && found->second.second.line > 0) {
    return found->second.second;
  }
  std::string section = path;
  while (true) {
    if (auto found = sections_.find(section); found != sections_.end()) return found->second;
    if (section.empty()) return Position{};
    section = parent_path(section);
  }
}

void ParsedConfig::set_value(const std::string& path, Value value, Position where) {
  values_[path] = {std::move(value), where};
}

void ParsedConfig::set_section(const std::string& path, Position where) { sections_[path] = where; }

void ProblemSink::add(Position where, std::string message) {
  problems_.push_back(ConfigProblem{file_, where.line, where.column, std::move(message)});
}

std::vector<ConfigProblem> ProblemSink::sorted() const {
  std::vector<ConfigProblem> problems = problems_;
  std::stable_sort(problems.begin(), problems.end(), [](const ConfigProblem& a, const ConfigProblem& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

ParamSpec string_param(std::string key, Need need, std::string description) {
  ParamSpec param;
  param.key = std::move(key);
  param.type = ParamType::string;
  param.need = need;
  param.description = std::move(description);
  return param;
}

ParamSpec version_param(int supported) {
  ParamSpec version;
  version.key = "version";
  version.min_value = 1;
  version.max_value = 1000;
  version.description = fmt::format("Format version of this file; this build reads {}.", supported);
  return version;
}

void check_version(const ParsedConfig& parsed, int supported, const std::string& what, ProblemSink& sink) {
  if (auto version = parsed.integer("version"); version && *version != supported) {
    sink.add(parsed.position("version"),
             fmt::format("version: unsupported {} version {}; this build reads version {}", what, *version, supported));
  }
}

std::string problems_headline(const std::string& what, const ProblemSink& sink) {
  const std::size_t count = sink.sorted().size();
  return fmt::format("invalid {} {} ({} problem{}):", what, sink.file(), count, count == 1 ? "" : "s");
}

int index_bits(uint64_t count) {
  int bits = 0;
  while (bits < 64 && (uint64_t{1} << bits) < count) ++bits;
  return bits;
}

namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  // A typo is a few edits away; anything further is a different word and a suggestion would mislead.
  const std::size_t budget = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  const std::string folded = lowercase(word);
  std::string best;
  std::size_t best_distance = budget + 1;
  std::size_t best_length_gap = 0;
  for (const std::string& candidate : candidates) {
    std::size_t distance = edit_distance(folded, lowercase(candidate));
    std::size_t length_gap = candidate.size() > word.size() ? candidate.size() - word.size()
                                                            : word.size() - candidate.size();
    // Ties go to the candidate of the same length: 'relu3' means 'relu2', not 'relu'.
    if (distance < best_distance || (distance == best_distance && length_gap < best_length_gap)) {
      best = candidate;
      best_distance = distance;
      best_length_gap = length_gap;
    }
  }
  return best_distance <= budget ? best : std::string();
}

namespace {

std::string trim(const std::string& text) {
  std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  std::size_t last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) {
    if (!text.empty()) text += ", ";
    text += item;
  }
  return text;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = trim(text.substr(start, comma - start));
    if (!item.empty()) items.push_back(item);
    start = comma + 1;
  }
  return items;
}

// Decimal or 0x-hex integer with optional sign and '_' separators between digits. Magnitudes
// beyond int64 saturate so that the range check reports them with the original text.
std::optional<int64_t> parse_integer_text(const std::string& raw) {
  const std::string text = trim(raw);
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  int base = 10;
  if (i + 1 < text.size() && text[i] == '0' && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
    base = 16;
    i += 2;
  }
  std::string digits;
  for (; i < text.size(); ++i) {
    if (text[i] == '_') {
      bool between_digits = !digits.empty() && i + 1 < text.size() && text[i + 1] != '_';
      if (!between_digits) return std::nullopt;
      continue;
    }
    digits += text[i];
  }
  if (digits.empty()) return std::nullopt;
  uint64_t magnitude = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (end != digits.data() + digits.size()) return std::nullopt;
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (error == std::errc::result_out_of_range || magnitude > kMax) {
    return negative ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
  }
  if (error != std::errc()) return std::nullopt;
  int64_t value = static_cast<int64_t>(magnitude);
  return negative ? -value : value;
}

std::optional<double> parse_number_text(const std::string& raw) {
  std::string text = trim(raw);
  if (!text.empty() && text[0] == '+') text.erase(0, 1);
  if (text.empty()) return std::nullopt;
  double value = 0.0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<bool> parse_boolean_text(const std::string& raw) {
  const std::string text = trim(raw);
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

std::string expected_kind(ParamType type) {
  switch (type) {
    case ParamType::integer: return "an integer";
    case ParamType::number: return "a number";
    case ParamType::boolean: return "true or false";
    case ParamType::string: return "a string";
    case ParamType::impl: return "an implementation name";
    case ParamType::impl_list: return "a list of implementation names";
  }
  return "a value";
}

std::string type_name(ParamType type) {
  switch (type) {
    case ParamType::integer: return "integer";
    case ParamType::number: return "number";
    case ParamType::boolean: return "boolean";
    case ParamType::string: return "string";
    case ParamType::impl: return "impl";
    case ParamType::impl_list: return "impl list";
  }
  return "";
}

// A value as an error message may show it: short single-line text quoted, anything longer only
// described, so a message never reproduces a file that was not a chip description at all.
std::string shown(const std::string& text) {
  constexpr std::size_t kShownChars = 40;
  if (text.size() <= kShownChars && text.find_first_of("\r\n") == std::string::npos) return fmt::format("'{}'", text);
  return fmt::format("a text of {} characters", text.size());
}

std::string found_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return shown(node.Scalar());
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

Position position_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return Position{};
  return Position{mark.line + 1, mark.column + 1};
}

std::string format_bound(double bound, ParamType type) {
  if (type == ParamType::integer) return fmt::format("{}", static_cast<int64_t>(bound));
  return fmt::format("{}", bound);
}

bool has_lower_bound(const ParamSpec& param) {
  return param.min_value > std::numeric_limits<double>::lowest();
}

bool has_upper_bound(const ParamSpec& param) {
  return param.max_value < std::numeric_limits<double>::max();
}

std::vector<std::string> choice_names(const ParamSpec& param) {
  std::vector<std::string> names;
  for (const ImplChoice& choice : param.choices) names.push_back(choice.name);
  return names;
}

const ImplChoice* find_choice(const ParamSpec& param, const std::string& name) {
  for (const ImplChoice& choice : param.choices) {
    if (choice.name == name) return &choice;
  }
  return nullptr;
}

struct Entry {
  YAML::Node key;
  YAML::Node value;
};

// First entry with the given key; iterating instead of operator[] keeps the key's own position.
std::optional<Entry> find_entry(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return std::nullopt;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return Entry{it->first, it->second};
  }
  return std::nullopt;
}

}  // namespace

std::optional<Value> scalar_value(const std::string& path, const ParamSpec& param, const std::string& text,
                                  std::string& problem) {
  if (!valid_utf8(text)) {
    problem = fmt::format("{}: is not valid UTF-8", path);
    return std::nullopt;
  }
  if (param.type == ParamType::string) {
    if (param.need == Need::required && trim(text).empty()) {
      problem = fmt::format("{}: must not be empty", path);
      return std::nullopt;
    }
    return Value{text};
  }
  if (param.type == ParamType::boolean) {
    if (auto value = parse_boolean_text(text)) return Value{*value};
    problem = fmt::format("{}: expected true or false, got {}", path, shown(text));
    return std::nullopt;
  }
  double as_double = 0.0;
  Value value;
  if (param.type == ParamType::integer) {
    auto parsed = parse_integer_text(text);
    if (!parsed) {
      problem = fmt::format("{}: expected an integer, got {}", path, shown(text));
      return std::nullopt;
    }
    as_double = static_cast<double>(*parsed);
    value = *parsed;
  } else {
    auto parsed = parse_number_text(text);
    if (!parsed) {
      problem = fmt::format("{}: expected a number, got {}", path, shown(text));
      return std::nullopt;
    }
    as_double = *parsed;
    value = *parsed;
  }
  if (has_lower_bound(param) && as_double < param.min_value) {
    problem = fmt::format("{}: must be at least {}, got {}", path, format_bound(param.min_value, param.type), trim(text));
    return std::nullopt;
  }
  if (has_upper_bound(param) && as_double > param.max_value) {
    problem = fmt::format("{}: must be at most {}, got {}", path, format_bound(param.max_value, param.type), trim(text));
    return std::nullopt;
  }
  return value;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The walker: validates a YAML tree against a schema

class SchemaWalker {
 public:
  SchemaWalker(const Schema& schema, ProblemSink& sink, ParsedConfig& out)
      : schema_(schema), sink_(sink), out_(out) {
    for (const SectionSpec& section : schema_) {
      if (!section.path.empty()) children_[parent_path(section.path)].push_back(&section);
    }
  }

  void walk_root(const YAML::Node& root) {
    for (const SectionSpec& section : schema_) {
      if (section.path.empty()) {
        walk_section(section, root, Position{1, 1});
        return;
      }
    }
  }

 private:
  const std::vector<const SectionSpec*>& children_of(const std::string& path) const {
    static const std::vector<const SectionSpec*> kNone;
    auto found = children_.find(path);
    return found == children_.end() ? kNone : found->second;
  }

  bool has_required_content(const SectionSpec& section) const {
    for (const ParamSpec& param : section.params) {
      if (param.need == Need::required) return true;
    }
    for (const SectionSpec* child : children_of(section.path)) {
      if (!child->optional && has_required_content(*child)) return true;
    }
    return false;
  }

  void walk_section(const SectionSpec& section, const YAML::Node& node, Position where) {
    if (!node.IsNull() && !node.IsMap()) {
      sink_.add(position_of(node.Mark()),
                fmt::format("{}: expected a mapping of keys, got {}",
                            section.path.empty() ? "the file" : section.path, found_kind(node)));
      return;
    }
    out_.set_section(section.path, where);

    std::vector<std::string> allowed;
    for (const ParamSpec& param : section.params) allowed.push_back(param.key);
    for (const SectionSpec* child : children_of(section.path)) allowed.push_back(leaf_name(child->path));
    check_keys(node, section.path, allowed, /*open=*/section.any_key.has_value());

    if (section.any_key && node.IsMap()) {
      std::set<std::string> known(allowed.begin(), allowed.end());
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar() || known.count(it->first.Scalar())) continue;
        ParamSpec param = *section.any_key;
        param.key = it->first.Scalar();
        read_value(child_path(section.path, param.key), param, it->second, position_of(it->first.Mark()));
      }
    }

    read_params(section.path, section.params, node, where);

    for (const SectionSpec* child : children_of(section.path)) {
      const std::string name = leaf_name(child->path);
      if (auto entry = find_entry(node, name)) {
        walk_section(*child, entry->value, position_of(entry->key.Mark()));
      } else {
        walk_absent_section(*child, where);
      }
    }
  }

  void walk_absent_section(const SectionSpec& section, Position parent_position) {
    if (section.optional) return;
    if (has_required_content(section)) {
      sink_.add(parent_position, fmt::format("missing required section '{}' {}", leaf_name(section.path),
                                             in_section(parent_path(section.path))));
      return;
    }
    for (const ParamSpec& param : section.params) {
      if (param.need == Need::defaulted) set_default(child_path(section.path, param.key), param, parent_position);
    }
    for (const SectionSpec* child : children_of(section.path)) walk_absent_section(*child, parent_position);
  }

  // Reports duplicate keys, non-scalar keys and (unless the section is open) unknown keys.
  void check_keys(const YAML::Node& map, const std::string& path, const std::vector<std::string>& allowed,
                  bool open, const std::string& hint = "") {
    if (!map.IsMap()) return;
    std::map<std::string, Position> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const Position where = position_of(it->first.Mark());
      if (!it->first.IsScalar()) {
        sink_.add(where, fmt::format("keys {} must be plain names, got {}", in_section(path), found_kind(it->first)));
        continue;
      }
      const std::string key = it->first.Scalar();
      if (auto first = seen.find(key); first != seen.end()) {
        sink_.add(where, fmt::format("duplicate key '{}' {} (first given on line {})", key, in_section(path),
                                     first->second.line));
        continue;
      }
      seen.emplace(key, where);
      if (open || std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string suggestion = closest_match(key, allowed);
      if (!suggestion.empty()) {
        sink_.add(where, fmt::format("unknown key {} {}{} (did you mean '{}'?)", shown(key), in_section(path), hint,
                                     suggestion));
      } else {
        sink_.add(where, fmt::format("unknown key {} {}{} (expected one of: {})", shown(key), in_section(path), hint,
                                     joined(allowed)));
      }
    }
  }

  void read_params(const std::string& owner, const std::vector<ParamSpec>& params, const YAML::Node& map,
                   Position owner_position, const std::string& missing_hint = "") {
    for (const ParamSpec& param : params) {
      const std::string path = child_path(owner, param.key);
      if (auto entry = find_entry(map, param.key)) {
        read_value(path, param, entry->value, position_of(entry->key.Mark()));
        continue;
      }
      if (param.need == Need::required) {
        sink_.add(owner_position,
                  fmt::format("missing required key '{}' {}{}", param.key, in_section(owner), missing_hint));
      } else if (param.need == Need::defaulted) {
        set_default(path, param, owner_position);
      }
    }
  }

  // A default is YAML text from the schema table; a bad one is a programming error, caught by tests.
  void set_default(const std::string& path, const ParamSpec& param, Position where) {
    switch (param.type) {
      case ParamType::integer:
        if (auto value = parse_integer_text(param.default_value)) out_.set_value(path, *value, where);
        break;
      case ParamType::number:
        if (auto value = parse_number_text(param.default_value)) out_.set_value(path, *value, where);
        break;
      case ParamType::boolean:
        if (auto value = parse_boolean_text(param.default_value)) out_.set_value(path, *value, where);
        break;
      case ParamType::string:
        out_.set_value(path, param.default_value, where);
        break;
      case ParamType::impl:
        out_.set_value(path, param.default_value, where);
        if (const ImplChoice* choice = find_choice(param, param.default_value)) {
          for (const ParamSpec& sub : choice->params) {
            if (sub.need == Need::defaulted) set_default(child_path(path, sub.key), sub, where);
          }
        }
        break;
      case ParamType::impl_list:
        out_.set_value(path, split_list(param.default_value), where);
        break;
    }
  }

  void read_value(const std::string& path, const ParamSpec& param, const YAML::Node& node, Position key_position) {
    Position where = position_of(node.Mark());
    if (where.line == 0 || node.IsNull()) where = key_position;  // empty values carry no useful mark
    switch (param.type) {
      case ParamType::integer:
      case ParamType::number:
      case ParamType::boolean:
      case ParamType::string:
        read_scalar(path, param, node, where);
        return;
      case ParamType::impl:
        read_impl(path, param, node, where);
        return;
      case ParamType::impl_list:
        read_impl_list(path, param, node, where);
        return;
    }
  }

  void read_scalar(const std::string& path, const ParamSpec& param, const YAML::Node& node, Position where) {
    if (!node.IsScalar()) {
      sink_.add(where, fmt::format("{}: expected {}, got {}", path, expected_kind(param.type), found_kind(node)));
      return;
    }
    std::string problem;
    if (auto value = scalar_value(path, param, node.Scalar(), problem)) {
      out_.set_value(path, std::move(*value), where);
    } else {
      sink_.add(where, std::move(problem));
    }
  }

  void report_unknown_choice(const std::string& path, const ParamSpec& param, const std::string& name,
                             Position where) {
    const std::vector<std::string> names = choice_names(param);
    std::string suggestion = closest_match(name, names);
    sink_.add(where, fmt::format("{}: unknown implementation '{}'{}; known: {}", path, name,
                                 suggestion.empty() ? "" : fmt::format(" (did you mean '{}'?)", suggestion),
                                 joined(names)));
  }

  // `routing: xy` or `routing: {impl: xy, ...}`; the chosen implementation's params are read too.
  void read_impl(const std::string& path, const ParamSpec& param, const YAML::Node& node, Position where) {
    std::string name;
    Position name_position = where;
    if (node.IsScalar()) {
      name = node.Scalar();
    } else if (node.IsMap()) {
      auto entry = find_entry(node, "impl");
      if (!entry) {
        sink_.add(where, fmt::format("{}: missing required key 'impl' (one of: {})", path, joined(choice_names(param))));
        return;
      }
      if (!entry->value.IsScalar()) {
        sink_.add(position_of(entry->value.Mark()),
                  fmt::format("{}.impl: expected an implementation name, got {}", path, found_kind(entry->value)));
        return;
      }
      name = entry->value.Scalar();
      name_position = position_of(entry->value.Mark());
    } else {
      sink_.add(where, fmt::format("{}: expected an implementation name or {{impl: name, ...}}, got {}", path,
                                   found_kind(node)));
      return;
    }
    const ImplChoice* choice = find_choice(param, name);
    if (!choice) {
      report_unknown_choice(path, param, name, name_position);
      return;
    }
    out_.set_value(path, name, name_position);

    const std::string hint = fmt::format(" (implementation '{}')", name);
    if (node.IsMap()) {
      std::vector<std::string> allowed{"impl"};
      for (const ParamSpec& sub : choice->params) allowed.push_back(sub.key);
      check_keys(node, path, allowed, /*open=*/false, hint);
      out_.set_section(path, where);
      read_params(path, choice->params, node, where, hint);
    } else {
      read_params(path, choice->params, YAML::Node(), where, hint);
    }
  }

  void read_impl_list(const std::string& path, const ParamSpec& param, const YAML::Node& node, Position where) {
    if (!node.IsSequence()) {
      sink_.add(where, fmt::format("{}: expected a list of implementation names such as [{}], got {}", path,
                                   joined(choice_names(param)), found_kind(node)));
      return;
    }
    std::vector<std::string> names;
    bool all_valid = true;
    for (const YAML::Node& item : node) {
      const Position item_position = position_of(item.Mark());
      if (!item.IsScalar()) {
        sink_.add(item_position, fmt::format("{}: expected an implementation name, got {}", path, found_kind(item)));
        all_valid = false;
        continue;
      }
      const std::string name = item.Scalar();
      if (!find_choice(param, name)) {
        report_unknown_choice(path, param, name, item_position);
        all_valid = false;
      } else if (std::find(names.begin(), names.end(), name) != names.end()) {
        sink_.add(item_position, fmt::format("{}: '{}' is listed twice", path, name));
        all_valid = false;
      } else {
        names.push_back(name);
      }
    }
    if (names.empty() && all_valid) {
      sink_.add(where, fmt::format("{}: must name at least one of: {}", path, joined(choice_names(param))));
      return;
    }
    if (all_valid) out_.set_value(path, names, where);
  }

  const Schema& schema_;
  ProblemSink& sink_;
  ParsedConfig& out_;
  std::map<std::string, std::vector<const SectionSpec*>> children_;
};

}  // namespace

namespace {

// Loads the YAML with `load` (from a file or from text) and walks it; both report the same problems.
template <class LoadYaml>
ParsedConfig parse_yaml(LoadYaml load, const Schema& schema, ProblemSink& sink) {
  ParsedConfig parsed;
  YAML::Node root;
  try {
    root = load();
  } catch (const YAML::BadFile&) {
    sink.add(Position{}, "cannot open the file");
    return parsed;
  } catch (const YAML::ParserException& error) {
    sink.add(position_of(error.mark), "YAML syntax error: " + error.msg);
    return parsed;
  } catch (const YAML::Exception& error) {
    sink.add(position_of(error.mark), "cannot read YAML: " + error.msg);
    return parsed;
  } catch (const std::exception& error) {  // e.g. the path is a directory
    sink.add(Position{}, std::string("cannot read the file: ") + error.what());
    return parsed;
  }
  if (!root.IsDefined() || root.IsNull()) {
    sink.add(Position{1, 1}, "the file is empty; expected a mapping of sections");
    return parsed;
  }
  SchemaWalker(schema, sink, parsed).walk_root(root);
  return parsed;
}

}  // namespace

ParsedConfig parse_file(const std::string& path, const Schema& schema, ProblemSink& sink) {
  // yaml-cpp fails on a folder only after allocating state it then leaks: ask first.
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    sink.add(Position{}, "cannot read the file: it is a folder");
    return {};
  }
  return parse_yaml([&path] { return YAML::LoadFile(path); }, schema, sink);
}

ParsedConfig parse_text(const std::string& text, const Schema& schema, ProblemSink& sink) {
  return parse_yaml([&text] { return YAML::Load(text); }, schema, sink);
}

ParsedConfig parse_node(const YAML::Node& root, const Schema& schema, ProblemSink& sink) {
  return parse_yaml([&root] { return root; }, schema, sink);
}

// ---------------------------------------------------------------------------------------------
// Documentation

namespace {

std::string requirement_text(const ParamSpec& param) {
  switch (param.need) {
    case Need::required: return "required";
    case Need::optional: return "optional";
    case Need::defaulted:
      if (param.type == ParamType::string && param.default_value.empty()) return "default `\"\"`";
      if (param.type == ParamType::impl_list) return fmt::format("default `[{}]`", param.default_value);
      return fmt::format("default `{}`", param.default_value);
  }
  return "";
}

std::string allowed_text(const ParamSpec& param) {
  if (param.type == ParamType::impl || param.type == ParamType::impl_list) {
    std::string names;
    for (const ImplChoice& choice : param.choices) {
      if (!names.empty()) names += ", ";
      names += "`" + choice.name + "`";
    }
    return names;
  }
  if (param.type != ParamType::integer && param.type != ParamType::number) return "";
  const bool low = has_lower_bound(param), high = has_upper_bound(param);
  if (low && high && param.min_value == param.max_value) return format_bound(param.min_value, param.type);
  if (low && high) {
    return fmt::format("{} … {}", format_bound(param.min_value, param.type), format_bound(param.max_value, param.type));
  }
  if (low) return "≥ " + format_bound(param.min_value, param.type);
  if (high) return "≤ " + format_bound(param.max_value, param.type);
  return "";
}

std::string table_row(const std::string& key, const ParamSpec& param) {
  return fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", key, type_name(param.type),
                     param.unit.empty() ? "—" : param.unit, requirement_text(param), allowed_text(param),
                     param.description);
}

}  // namespace

std::string describe_markdown(const Schema& schema) {
  std::string text;
  for (const SectionSpec& section : schema) {
    text += section.path.empty() ? std::string("#### top level\n\n") : fmt::format("#### `{}`\n\n", section.path);
    text += section.description + "\n";
    if (section.optional) text += "Optional section: it may be left out.\n";
    text += "\n";
    if (section.params.empty() && !section.any_key) continue;  // a pure container of sections
    text += "| key | type | unit | required / default | allowed | description |\n";
    text += "|---|---|---|---|---|---|\n";
    for (const ParamSpec& param : section.params) text += table_row(param.key, param);
    if (section.any_key) text += table_row("<any name>", *section.any_key);
    for (const ParamSpec& param : section.params) {
      if (param.choices.empty()) continue;
      text += fmt::format("\nImplementations for `{}`:\n\n", param.key);
      for (const ImplChoice& choice : param.choices) {
        text += fmt::format("- `{}`: {}\n", choice.name, choice.description);
        for (const ParamSpec& sub : choice.params) {
          text += fmt::format("  - `{}` ({}{}, {}{}): {}\n", sub.key, type_name(sub.type),
                              sub.unit.empty() ? "" : ", " + sub.unit, requirement_text(sub),
                              allowed_text(sub).empty() ? "" : ", " + allowed_text(sub), sub.description);
        }
      }
    }
    text += "\n";
  }
  return text;
}

}  // namespace config
}  // namespace spiketile
