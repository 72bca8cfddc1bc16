#include "explore/results.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "explore/pareto.hpp"
#include "runtime/markup.hpp"

namespace spiketile::explore {

using nlohmann::json;

namespace {

const char* const kMetricColumns[] = {"cores_used",          "cores_total",          "energy_per_token_pj",
                                      "dynamic_per_token_pj", "static_per_token_pj",  "latency_per_token_cycles",
                                      "latency_per_token_us", "decode_latency_per_token_us", "tokens_per_s",
                                      "edp_pj_s",            "sops_per_token",       "area_proxy_logic_cells",
                                      "spike_input_steps",   "projection_input_rate", "bits_per_token"};

bool ok(const json& row) { return row["status"] == "ok"; }

std::string cell(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return fmt::format("{}", v.get<double>());  // the shortest text that reads back to the same double
}

// A multi-line error on one line ("a: b; c"), so each point stays one line of a table.
std::string one_line(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    line.erase(0, line.find_first_not_of(" \t"));
    if (!line.empty()) out += (out.empty() ? "" : out.back() == ':' ? " " : "; ") + line;
    start = end + 1;
  }
  return out;
}

}  // namespace

json results_json(const Sweep& sweep, json rows) {
  std::vector<Objectives> objectives;
  std::vector<std::size_t> measured;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i]["on_front"] = false;
    if (!ok(rows[i])) continue;
    const json& m = rows[i]["metrics"];
    objectives.push_back({m["energy_per_token_pj"].get<double>(), m["latency_per_token_us"].get<double>()});
    measured.push_back(i);
  }
  const std::vector<bool> front = pareto_front(objectives);
  json front_indices = json::array();
  for (std::size_t k = 0; k < measured.size(); ++k)
    if (front[k]) {
      rows[measured[k]]["on_front"] = true;
      front_indices.push_back(rows[measured[k]]["index"]);
    }
  json run{{"prompt", sweep.run.prompt},         {"prompt_ids", sweep.run.prompt_ids},
           {"tokens", sweep.run.tokens},         {"energy_table", sweep.run.energy_table},
           {"gpu", sweep.run.gpu},               {"gpu_precision", sweep.run.gpu_precision},
           {"batch", sweep.run.batch},           {"eval_text", sweep.run.eval_text},
           {"eval_tokens", sweep.run.eval_tokens}};
  return {{"format", kResultsFormat}, {"sweep", sweep.path},     {"name", sweep.name},
          {"base_chip", sweep.base_chip}, {"run", run},          {"axes", sweep.axes},
          {"points", rows},           {"front", front_indices}};
}

std::string results_csv(const json& results) {
  std::vector<std::string> header{"index", "hash", "model"};
  for (const auto& axis : results["axes"])
    if (axis != "model") header.push_back(axis.get<std::string>());
  header.push_back("status");
  for (const char* column : kMetricColumns) header.push_back(column);
  header.insert(header.end(), {"on_front", "computed", "error"});
  std::ostringstream out;
  for (std::size_t i = 0; i < header.size(); ++i) out << (i ? "," : "") << csv_field(header[i]);
  out << "\n";
  for (const json& row : results["points"]) {
    std::vector<std::string> cells{cell(row["index"]), cell(row["hash"]), cell(row["model"])};
    for (const auto& axis : results["axes"])
      if (axis != "model") cells.push_back(cell(row["settings"].value(axis.get<std::string>(), json())));
    cells.push_back(cell(row["status"]));
    for (const char* column : kMetricColumns) cells.push_back(ok(row) ? cell(row["metrics"][column]) : "");
    cells.insert(cells.end(), {cell(row["on_front"]), cell(row["computed"]), one_line(cell(row["error"]))});
    for (std::size_t i = 0; i < cells.size(); ++i) out << (i ? "," : "") << csv_field(cells[i]);
    out << "\n";
  }
  return out.str();
}

namespace {

// An axis of the scatter plot: linear, or log10 when the values span more than a decade.
struct Scale {
  double lo = 0, hi = 1;
  bool log = false;
  Scale(double min, double max) : log(min > 0 && max / min > 10) {
    lo = log ? std::log10(min) : min;
    hi = log ? std::log10(max) : max;
    const double pad = hi > lo ? (hi - lo) * 0.08 : (log ? 0.1 : std::max(std::abs(lo) * 0.1, 1e-9));
    lo -= pad, hi += pad;
  }
  double at(double v, double length) const { return ((log ? std::log10(v) : v) - lo) / (hi - lo) * length; }
  double value(double t) const {
    const double x = lo + t * (hi - lo);
    return log ? std::pow(10, x) : x;
  }
};

struct Range {
  double min = 1e300, max = -1e300;
  void add(double v) { min = std::min(min, v), max = std::max(max, v); }
  double share(double v) const { return max > min ? (v - min) / (max - min) : 1.0; }
};

double energy_uj(const json& row) { return row["metrics"]["energy_per_token_pj"].get<double>() / 1e6; }
double latency_us(const json& row) { return row["metrics"]["latency_per_token_us"].get<double>(); }

// What the colour shows: the area proxy where every finished point has one (it weighs a core by
// its size, which a sweep over crossbars changes), else the cores used.
struct Shade {
  const char* metric;
  const char* title;
  Range range;
};

Shade shade_of(const json& rows) {
  bool area = true;
  for (const json& row : rows)
    if (ok(row) && !row["metrics"]["area_proxy_logic_cells"].is_number()) area = false;
  Shade shade{area ? "area_proxy_logic_cells" : "cores_used", area ? "area proxy (logic cells)" : "cores used", {}};
  for (const json& row : rows)
    if (ok(row)) shade.range.add(row["metrics"][shade.metric].get<double>());
  return shade;
}

std::string shade_color(double share) { return color_ramp(share, 0xc6, 0xdb, 0xef, 0x08, 0x30, 0x6b); }

struct Plot {
  int width = 780, height = 460, left = 90, bottom = 60, top = 30, right = 170;
  int w() const { return width - left - right; }
  int h() const { return height - top - bottom; }
  Scale xs{1, 1}, ys{1, 1};
  std::string x_title = "latency per token (µs)", y_title = "energy per token (µJ)";
  double x(double v) const { return left + xs.at(v, w()); }
  double y(double v) const { return top + h() - ys.at(v, h()); }
};

std::string plot_axes(const Plot& p) {
  std::ostringstream svg;
  svg << fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#999"/>)", p.left, p.top, p.w(), p.h())
      << "\n";
  for (int t = 0; t <= 4; ++t) {
    const double f = t / 4.0;
    svg << fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle" class="label">{:.4g}</text>)",
                       p.left + f * p.w(), p.top + p.h() + 16, p.xs.value(f))
        << fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end" class="label">{:.4g}</text>)", p.left - 6,
                       p.top + p.h() - f * p.h() + 4, p.ys.value(f))
        << "\n";
  }
  svg << fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" class="title">{}{}</text>)", p.left + p.w() / 2,
                     p.height - 18, p.x_title, p.xs.log ? ", log scale" : "")
      << fmt::format(R"svg(<text x="18" y="{}" text-anchor="middle" class="title" transform="rotate(-90 18 {})">)svg"
                     R"({}{}</text>)",
                     p.top + p.h() / 2, p.top + p.h() / 2, p.y_title, p.ys.log ? ", log scale" : "")
      << "\n";
  return svg.str();
}

// The front as a staircase: the least energy a design of at most that latency needs.
std::string front_path(const Plot& p, const json& rows) {
  std::vector<std::pair<double, double>> front;
  for (const json& row : rows)
    if (ok(row) && row["on_front"].get<bool>()) front.emplace_back(latency_us(row), energy_uj(row));
  std::sort(front.begin(), front.end());
  std::string path;
  for (std::size_t i = 0; i < front.size(); ++i) {
    if (i > 0) path += fmt::format(" L{:.1f},{:.1f}", p.x(front[i].first), p.y(front[i - 1].second));
    path += fmt::format("{}{:.1f},{:.1f}", i ? " L" : "M", p.x(front[i].first), p.y(front[i].second));
  }
  return fmt::format(R"(<path d="{}" fill="none" stroke="#d62728" stroke-width="1.5"/>)", path) + "\n";
}

std::string plot_points(const Plot& p, const json& rows, const Shade& shade) {
  std::ostringstream svg;
  for (const json& row : rows) {
    if (!ok(row)) continue;
    const json& m = row["metrics"];
    const bool front = row["on_front"].get<bool>();
    svg << fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="{}" fill="{}" stroke="{}" stroke-width="{}">)",
                       p.x(latency_us(row)), p.y(energy_uj(row)), front ? 7 : 5,
                       shade_color(shade.range.share(m[shade.metric].get<double>())), front ? "#d62728" : "#333",
                       front ? 2 : 0.5)
        << fmt::format("<title>point {}: {}&#10;{:.4g} µJ/token, {:.4g} µs/token, {} cores</title></circle>\n",
                       cell(row["index"]), html_escape(row["label"].get<std::string>()), energy_uj(row),
                       latency_us(row), cell(m["cores_used"]));
  }
  return svg.str();
}

std::string legend(const Plot& p, const Shade& shade) {
  std::ostringstream svg;
  const int lx = p.left + p.w() + 20;
  svg << fmt::format(R"(<text x="{}" y="{}" class="label">{}</text>)", lx, p.top + 10, shade.title) << "\n";
  for (int k = 0; k <= 4; ++k) {
    const double f = k / 4.0;
    svg << fmt::format(R"(<circle cx="{}" cy="{}" r="5" fill="{}"/><text x="{}" y="{}" class="label">{:.4g}</text>)",
                       lx + 6, p.top + 28 + 18 * k, shade_color(f), lx + 18, p.top + 32 + 18 * k,
                       shade.range.min + f * (shade.range.max - shade.range.min))
        << "\n";
  }
  svg << fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d62728" stroke-width="1.5"/>)"
                     R"(<text x="{}" y="{}" class="label">Pareto front</text>)",
                     lx, p.top + 130, lx + 14, p.top + 130, lx + 18, p.top + 134)
      << "\n";
  return svg.str();
}

std::string scatter(const json& rows) {
  Plot p;
  Range energy, latency;
  for (const json& row : rows)
    if (ok(row)) energy.add(energy_uj(row)), latency.add(latency_us(row));
  std::string svg = fmt::format(R"(<svg class="chart" width="{}" height="{}" viewBox="0 0 {} {}" role="img" )"
                                R"(aria-label="energy per token against latency per token">)" "\n",
                                p.width, p.height, p.width, p.height);
  if (energy.max < energy.min) return svg + "<text x=\"10\" y=\"20\">no point finished</text></svg>\n";
  p.xs = Scale(latency.min, latency.max);
  p.ys = Scale(energy.min, energy.max);
  const Shade shade = shade_of(rows);
  return svg + plot_axes(p) + front_path(p, rows) + plot_points(p, rows, shade) + legend(p, shade) + "</svg>\n";
}

bool scored(const json& row) { return ok(row) && row["metrics"].value("bits_per_token", json()).is_number(); }

// The accuracy frontier of a sweep that scores its points: bits per character against energy per
// token, each point labelled with its settings (a sweep over models: which variant it is).
std::string accuracy_scatter(const json& rows) {
  Plot p;
  p.x_title = "energy per token (µJ)";
  p.y_title = "bits per token (per character: a character vocabulary)";
  Range energy, bpc;
  for (const json& row : rows)
    if (scored(row)) energy.add(energy_uj(row)), bpc.add(row["metrics"]["bits_per_token"].get<double>());
  std::string svg = fmt::format(R"(<svg class="chart" width="{}" height="{}" viewBox="0 0 {} {}" role="img" )"
                                R"(aria-label="bits per token against energy per token">)" "\n",
                                p.width, p.height, p.width, p.height);
  p.xs = Scale(energy.min, energy.max);
  p.ys = Scale(bpc.min, bpc.max);
  svg += plot_axes(p);
  for (const json& row : rows) {
    if (!scored(row)) continue;
    const double x = p.x(energy_uj(row)), y = p.y(row["metrics"]["bits_per_token"].get<double>());
    svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="6" fill="#1f77b4"><title>point {}: {}&#10;{:.4g} µJ/token, )"
                       R"({:.4g} bits/token</title></circle>)"
                       R"(<text x="{:.1f}" y="{:.1f}" class="label">{}</text>)" "\n",
                       x, y, cell(row["index"]), html_escape(row["label"].get<std::string>()), energy_uj(row),
                       row["metrics"]["bits_per_token"].get<double>(), x + 9, y - 6, html_escape(row["label"].get<std::string>()));
  }
  return svg + "</svg>\n";
}

std::vector<std::string> point_cells(const json& row) {
  const json& m = row["metrics"];
  if (!ok(row)) return {cell(row["index"]), row["label"].get<std::string>(), "failed", "", "", "", "", "",
                        one_line(cell(row["error"]))};
  return {cell(row["index"]), row["label"].get<std::string>(), cell(m["cores_used"]),
          fmt::format("{:.4g}", m["energy_per_token_pj"].get<double>() / 1e6),
          fmt::format("{:.4g}", m["static_per_token_pj"].get<double>() / 1e6),
          fmt::format("{:.4g}", m["latency_per_token_us"].get<double>()), fmt::format("{:.4g}", m["tokens_per_s"].get<double>()),
          fmt::format("{:.4g}", m["edp_pj_s"].get<double>()), row["on_front"].get<bool>() ? "front" : ""};
}

const std::vector<std::string> kTableHeader{"point", "settings", "cores used", "energy/token (µJ)", "static (µJ)",
                                            "latency/token (µs)", "tokens/s", "EDP (pJ·s)", ""};

}  // namespace

std::string results_html(const json& results) {
  std::vector<std::vector<std::string>> front_rows, all_rows;
  std::vector<json> front_points;
  for (const json& row : results["points"]) {
    all_rows.push_back(point_cells(row));
    if (row["on_front"].get<bool>()) front_points.push_back(row);
  }
  std::sort(front_points.begin(), front_points.end(), [](const json& a, const json& b) {
    return a["metrics"]["latency_per_token_us"].get<double>() < b["metrics"]["latency_per_token_us"].get<double>();
  });
  for (const json& row : front_points) front_rows.push_back(point_cells(row));
  std::size_t failed = 0;
  for (const json& row : results["points"]) failed += ok(row) ? 0 : 1;
  const json& run = results["run"];
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>spiketile explore: "
    << html_escape(results["name"].get<std::string>()) << "</title>\n"
    << "<style>\nbody{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}\n"
    << "table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;"
    << "text-align:right;font-size:13px}th{background:#eee}td:nth-child(2){text-align:left}\n"
    << ".chart{display:block;margin:12px 0}.chart .title{font-size:13px}.chart .label{font-size:11px}"
    << ".note{color:#555;font-size:13px}\n</style>\n</head>\n<body>\n";
  h << "<h1>spiketile explore: " << html_escape(results["name"].get<std::string>()) << "</h1>\n";
  h << fmt::format("<p>{} points from {} over base chip {}; each compiled, simulated for {} generated tokens and "
                   "priced with {} ({} failed). Energy and latency per token count the whole run (prompt and "
                   "generated tokens), static energy included.</p>\n",
                   results["points"].size(), html_escape(results["sweep"].get<std::string>()),
                   html_escape(results["base_chip"].get<std::string>()), cell(run["tokens"]),
                   html_escape(run["energy_table"].get<std::string>()), failed);
  h << "<h2>Energy per token against latency per token</h2>\n"
    << "<p class=\"note\">Each point coloured by the area proxy of the cores its mapping uses (cores used × the RTL "
       "core's logic cells, chips/core_area.hpp) where every point has one, else by the cores used; the red "
       "staircase joins the Pareto front (no other point is better on both).</p>\n"
    << scatter(results["points"]);
  bool any_scored = false;
  for (const json& row : results["points"]) any_scored |= scored(row);
  if (any_scored) {
    std::vector<std::vector<std::string>> accuracy_rows;
    for (const json& row : results["points"]) {
      if (!scored(row)) continue;
      const json& m = row["metrics"];
      accuracy_rows.push_back({cell(row["index"]), row["label"].get<std::string>(),
                               fmt::format("{:.4f}", m["bits_per_token"].get<double>()),
                               fmt::format("{:.4g}", m["energy_per_token_pj"].get<double>() / 1e6),
                               fmt::format("{:.4g}", m["dynamic_per_token_pj"].get<double>() / 1e6),
                               fmt::format("{:.4g}", m["latency_per_token_cycles"].get<double>()),
                               m["projection_input_rate"].is_number()
                                   ? fmt::format("{:.4f}", m["projection_input_rate"].get<double>())
                                   : std::string()});
    }
    h << "<h2>Bits per token against energy per token</h2>\n"
      << fmt::format("<p class=\"note\">Each point's mapping scored on {} ({}), the integer contract the chip "
                     "computes (eval --map).</p>\n",
                     html_escape(run["eval_text"].get<std::string>()),
                     run["eval_tokens"].get<int64_t>() > 0 ? "its first " + cell(run["eval_tokens"]) + " tokens"
                                                           : std::string("the whole text"))
      << accuracy_scatter(results["points"])
      << html_table({"point", "settings", "bits/token", "energy/token (µJ)", "dynamic (µJ)", "cycles/token",
                     "projection inputs non-zero"},
                    accuracy_rows);
  }
  h << "<h2>The Pareto front</h2>\n" << html_table(kTableHeader, front_rows);
  h << "<h2>Every point</h2>\n" << html_table(kTableHeader, all_rows);
  h << "</body>\n</html>\n";
  return h.str();
}

std::string results_text(const json& results) {
  std::ostringstream out;
  out << fmt::format("{:>5}  {:<16}  {:>5}  {:>12}  {:>12}  {:>10}  {}\n", "point", "hash", "cores", "µJ/token",
                     "µs/token", "tokens/s", "settings");
  for (const json& row : results["points"]) {
    const std::string mark = row["on_front"].get<bool>() ? " *" : "";
    if (!ok(row)) {
      out << fmt::format("{:>5}  {:<16}  FAILED {}: {}\n", cell(row["index"]), cell(row["hash"]),
                         row["label"].get<std::string>(), one_line(cell(row["error"])));
      continue;
    }
    const json& m = row["metrics"];
    out << fmt::format("{:>5}  {:<16}  {:>5}  {:>12.4g}  {:>12.4g}  {:>10.4g}  {}{}\n", cell(row["index"]),
                       cell(row["hash"]), cell(m["cores_used"]), m["energy_per_token_pj"].get<double>() / 1e6,
                       m["latency_per_token_us"].get<double>(), m["tokens_per_s"].get<double>(),
                       row["label"].get<std::string>(), mark);
  }
  out << "* on the Pareto front (energy and latency per token)\n";
  return out.str();
}

}  // namespace spiketile::explore
