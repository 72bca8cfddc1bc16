// Text-format pieces the report and the design-space exploration (explore/) both write: HTML
// escaping, tables and colour ramps for their self-contained pages, and CSV fields.
#pragma once

#include <string>
#include <vector>

namespace spiketile {

std::string html_escape(const std::string& s);
// A <table> with one header row; every cell escaped.
std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
// Sequential colour ramp for a share in [0, 1]: from (r0, g0, b0) to (r1, g1, b1), as #rrggbb.
std::string color_ramp(double share, int r0, int g0, int b0, int r1, int g1, int b1);
// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& s);

}  // namespace spiketile
