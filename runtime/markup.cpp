#include "runtime/markup.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace spiketile {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::ostringstream t;
  t << "<table><thead><tr>";
  for (const auto& h : header) t << "<th>" << html_escape(h) << "</th>";
  t << "</tr></thead><tbody>\n";
  for (const auto& row : rows) {
    t << "<tr>";
    for (const auto& cell : row) t << "<td>" << html_escape(cell) << "</td>";
    t << "</tr>\n";
  }
  t << "</tbody></table>\n";
  return t.str();
}

std::string color_ramp(double share, int r0, int g0, int b0, int r1, int g1, int b1) {
  share = std::clamp(share, 0.0, 1.0);
  auto mix = [&](int a, int b) { return int(std::lround(a + (b - a) * share)); };
  return fmt::format("#{:02x}{:02x}{:02x}", mix(r0, r1), mix(g0, g1), mix(b0, b1));
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace spiketile
