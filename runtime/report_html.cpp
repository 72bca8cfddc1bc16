// Self-contained HTML form of a report: inline CSS and inline SVG charts drawn here, no scripts,
// no external URLs, so the file opens anywhere and renders the same headless.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "runtime/markup.hpp"
#include "runtime/report.hpp"

namespace spiketile {

using nlohmann::json;

namespace {

// One spelling of each markup rule (runtime/markup.hpp), shared with explore's page.
std::string escape(const std::string& s) { return html_escape(s); }

std::string number(const json& v) {
  if (v.is_null()) return "not measured";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return fmt::format("{:.4g}", v.get<double>());
}

struct Bar {
  std::string label;
  double value;
  std::string shown;  // the value as text beside the bar
  std::string color = "#3b73b9";
};

// A horizontal bar chart; log scale spans orders of magnitude (chip vs GPU).
std::string bar_chart(const std::string& id, const std::string& title, const std::vector<Bar>& bars, bool log_scale) {
  const int label_w = 330, bar_w = 420, value_w = 150, row_h = 22, top = 30;
  const int width = label_w + bar_w + value_w, height = top + row_h * int(bars.size()) + 10;
  double max_v = 0, min_v = 0;
  for (const auto& b : bars) max_v = std::max(max_v, b.value);
  if (log_scale) {
    min_v = max_v;
    for (const auto& b : bars)
      if (b.value > 0) min_v = std::min(min_v, b.value);
    min_v /= 10;
  }
  auto length = [&](double v) {
    if (v <= 0 || max_v <= 0) return 0.0;
    if (!log_scale) return bar_w * v / max_v;
    return bar_w * (std::log10(v) - std::log10(min_v)) / (std::log10(max_v) - std::log10(min_v));
  };
  std::ostringstream svg;
  svg << fmt::format(R"(<svg id="{}" class="chart" width="{}" height="{}" )"
                     R"(viewBox="0 0 {} {}" role="img" aria-label="{}">)",
                     id, width, height, width, height, escape(title))
      << "\n";
  svg << fmt::format(R"(<text x="0" y="18" class="title">{}{}</text>)", escape(title),
                     log_scale ? " (log scale)" : "")
      << "\n";
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const int y = top + int(i) * row_h;
    svg << fmt::format(R"(<text x="{}" y="{}" text-anchor="end" class="label">{}</text>)", label_w - 8, y + 15,
                       escape(bars[i].label))
        << fmt::format(R"(<rect class="bar" x="{}" y="{}" width="{:.1f}" height="{}" fill="{}"/>)", label_w, y + 3,
                       length(bars[i].value), row_h - 6, bars[i].color)
        << fmt::format(R"(<text x="{:.1f}" y="{}" class="value">{}</text>)", label_w + length(bars[i].value) + 6,
                       y + 15, escape(bars[i].shown))
        << "\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string ramp(double share, int r0, int g0, int b0, int r1, int g1, int b1) {
  return color_ramp(share, r0, g0, b0, r1, g1, b1);
}

// The mesh as measured: one square per core, shaded by utilization (busy cycles over the run's
// cycles; grey where no unit ran), and one line per direction of each link, shaded and thickened
// by its flits; a link leaving its chip (inter-chip) is a stub past the chip's edge. Chips sit
// where they sit in the chip grid. Each square and line has a tooltip with its numbers.
std::string mesh_heat_map(const json& mesh) {
  const int chip_rows = mesh["chip_grid"][0].get<int>(), chip_cols = mesh["chip_grid"][1].get<int>();
  const int rows = mesh["mesh"][0].get<int>(), cols = mesh["mesh"][1].get<int>();
  const int cell = 18, pitch = 30, chip_gap = 36, top = 48, left = 10;
  const int chip_w = cols * pitch, chip_h = rows * pitch;
  const int width = left * 2 + chip_cols * chip_w + (chip_cols - 1) * chip_gap;
  const int height = top + chip_rows * chip_h + (chip_rows - 1) * chip_gap + 10;
  double max_util = 0, max_flits = 0;
  for (const auto& c : mesh["cores"])
    if (!c["utilization"].is_null()) max_util = std::max(max_util, c["utilization"].get<double>());
  for (const auto& l : mesh["links"]) max_flits = std::max(max_flits, l["flits"].get<double>());
  auto origin = [&](const json& c) {
    const int chip = c["chip"].get<int>();
    const int x = left + (chip % chip_cols) * (chip_w + chip_gap) + c["col"].get<int>() * pitch;
    const int y = top + (chip / chip_cols) * (chip_h + chip_gap) + c["row"].get<int>() * pitch;
    return std::pair<int, int>{x, y};
  };
  std::ostringstream svg;
  svg << fmt::format(R"(<svg id="chart-mesh" class="chart" width="{}" height="{}" viewBox="0 0 {} {}" role="img" )"
                     R"(aria-label="Core utilization and link load">)",
                     width, height, width, height)
      << "\n";
  svg << fmt::format(R"(<text x="0" y="18" class="title">Core utilization (busiest {:.1f} %) and link load (busiest link {} )"
                     R"(flits) over {} cycles</text>)",
                     100 * max_util, number(json(int64_t(max_flits))), number(mesh["cycles"]))
      << "\n"
      << R"(<text x="0" y="36" class="label">darker core: busier; thicker, darker line: more flits; grey: no unit)"
      << R"(; a stub past a chip's edge: its inter-chip link</text>)" << "\n";
  for (const auto& c : mesh["cores"]) {
    const auto [x, y] = origin(c);
    const bool used = !c["utilization"].is_null();
    const double u = used ? c["utilization"].get<double>() : 0.0;
    svg << fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="#9aa5b1" stroke-width="0.5">)", x,
                       y, cell, cell, used ? ramp(max_util > 0 ? u / max_util : 0, 0xf7, 0xfb, 0xff, 0x08, 0x30, 0x6b) : "#e3e3e3")
        << fmt::format("<title>core {} (chip {}, row {}, col {}): {}</title></rect>\n", number(c["core"]), number(c["chip"]),
                       number(c["row"]), number(c["col"]),
                       used ? escape(fmt::format("{}, busy {:.1f} % of the run", c["unit"].get<std::string>(), 100 * u))
                            : std::string("no unit"));
  }
  for (const auto& l : mesh["links"]) {
    const json& c = mesh["cores"][l["core"].get<std::size_t>()];
    const auto [x, y] = origin(c);
    const std::string port = l["port"].get<std::string>();
    const double share = max_flits > 0 ? l["flits"].get<double>() / max_flits : 0;
    // From the edge of the sending core to the edge of its neighbour, offset to its own side of
    // the pair so both directions show.
    const int cx = x + cell / 2, cy = y + cell / 2, offset = 3;
    int x1 = cx, y1 = cy, x2 = cx, y2 = cy;
    if (port == "E") x1 = x + cell, x2 = x + pitch, y1 = y2 = cy - offset;
    if (port == "W") x1 = x, x2 = x + cell - pitch, y1 = y2 = cy + offset;
    if (port == "S") y1 = y + cell, y2 = y + pitch, x1 = x2 = cx + offset;
    if (port == "N") y1 = y, y2 = y + cell - pitch, x1 = x2 = cx - offset;
    svg << fmt::format(R"(<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="{:.1f}">)", x1, y1, x2, y2,
                       ramp(share, 0xfd, 0xd0, 0xa2, 0x7f, 0x27, 0x04), 1.0 + 3.5 * share)
        << fmt::format("<title>{} core {} port {}: {} flits</title></line>\n",
                       l["inter_chip"].get<bool>() ? "inter-chip link from" : "link from", number(l["core"]), port,
                       number(l["flits"]));
  }
  svg << "</svg>\n";
  return svg.str();
}

// One layer's spikes: time left to right (a column per step), neurons top to bottom, the time-mix
// LIF above the channel-mix LIF; each spike a dot. Its JSON is `raster` (runtime/spike_raster.hpp).
std::string spike_raster_chart(const json& raster) {
  const int64_t steps = raster["steps"].get<int64_t>(), neurons = raster["neurons"].get<int64_t>();
  const double plot_w = 760, dx = plot_w / double(std::max<int64_t>(steps, 1));
  const double dy = std::max(0.5, std::min(3.0, 240.0 / double(std::max<int64_t>(neurons, 1))));
  const double panel_h = dy * double(neurons), left = 120, top = 40, gap = 28;
  const double width = left + plot_w + 10, height = top + 2 * panel_h + gap + 30;
  std::ostringstream svg;
  svg << fmt::format(R"(<svg id="chart-raster" class="chart" width="{:.0f}" height="{:.0f}" viewBox="0 0 {:.0f} {:.0f}" )"
                     R"(role="img" aria-label="spike raster of layer {}">)",
                     width, height, width, height, number(raster["layer"]))
      << fmt::format(R"(<text x="0" y="18" class="title">Spike raster, layer {}: {} steps × {} neurons ({} and {} spikes)</text>)",
                     number(raster["layer"]), steps, neurons, number(raster["spikes_att"]), number(raster["spikes_ffn"]))
      << R"(<text x="0" y="34" class="label">a dot per spike; x = step (token), y = neuron</text>)";
  const struct {
    const char* key;
    const char* name;
    const char* color;
  } panels[] = {{"att", "time-mix LIF", "#3b73b9"}, {"ffn", "channel-mix LIF", "#7a5cb8"}};
  for (int k = 0; k < 2; ++k) {
    const double y0 = top + k * (panel_h + gap);
    svg << fmt::format(R"(<rect x="{:.0f}" y="{:.1f}" width="{:.0f}" height="{:.1f}" fill="#f6f6f6" stroke="#ccc"/>)", left,
                       y0, plot_w, panel_h)
        << fmt::format(R"(<text x="{:.0f}" y="{:.1f}" text-anchor="end" class="label">{}</text>)", left - 6,
                       y0 + panel_h / 2 + 4, panels[k].name);
    for (const auto& spike : raster[panels[k].key])
      svg << fmt::format(R"(<rect x="{:.2f}" y="{:.2f}" width="{:.2f}" height="{:.2f}" fill="{}"/>)",
                         left + dx * spike[0].get<double>(), y0 + dy * spike[1].get<double>(), std::max(dx - 0.5, 0.5),
                         dy, panels[k].color);
  }
  svg << fmt::format(R"(<text x="{:.0f}" y="{:.0f}" class="label">step 0</text>)", left, height - 8)
      << fmt::format(R"(<text x="{:.0f}" y="{:.0f}" text-anchor="end" class="label">step {}</text>)", left + plot_w,
                     height - 8, steps - 1)
      << "</svg>\n";
  return svg.str();
}

// A categorical colour per layer (the global ops grey), so a stage and its steps on the critical
// path read as one layer.
std::string layer_color(int layer) {
  static const char* kPalette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
                                   "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6"};
  return layer < 0 ? "#8c8c8c" : kPalette[layer % 10];
}

// The compiler's token timeline: one bar per tensor stage from its first to its last send, and the
// critical path as a row of its steps on top, in cycles from the token's start, each coloured by
// its layer; the measured decode cycles per token are a line beside the bound.
std::string critical_path_chart(const json& cp) {
  const double bound = cp["bound_cycles_per_token"].get<double>();
  const double measured = cp["measured_decode_cycles_per_token"].is_null() ? 0.0 : cp["measured_decode_cycles_per_token"].get<double>();
  double span = std::max(bound, measured);
  for (const auto& st : cp["stages"]) span = std::max(span, st["last_send"].get<double>());
  for (const auto& step : cp["critical_path"]) span = std::max(span, step["end"].get<double>());
  if (span <= 0) span = 1;
  const int label_w = 200, plot_w = 640, row_h = 14, top = 44;
  const int rows = int(cp["stages"].size()) + 1;
  const int width = label_w + plot_w + 110, height = top + rows * row_h + 30;  // room for the line labels
  auto x_of = [&](double cycles) { return label_w + plot_w * cycles / span; };
  std::ostringstream svg;
  svg << fmt::format(R"(<svg id="chart-critical-path" class="chart" width="{}" height="{}" viewBox="0 0 {} {}" role="img" )"
                     R"(aria-label="Critical path of a token">)",
                     width, height, width, height)
      << "\n"
      << fmt::format(R"(<text x="0" y="18" class="title">A token's critical path and stages (compiler's bound {:.0f} cycles)"
                     R"({})</text>)",
                     bound, measured > 0 ? fmt::format("; measured {:.0f} cycles per decoded token", measured) : std::string())
      << "\n"
      << R"(<text x="0" y="34" class="label">cycles from the token's start; colour = layer (grey: global ops); top row: the critical path's steps</text>)"
      << "\n";
  const int path_y = top;
  svg << fmt::format(R"(<text x="{}" y="{}" text-anchor="end" class="label">critical path</text>)", label_w - 6, path_y + 11)
      << "\n";
  for (const auto& step : cp["critical_path"]) {
    const double a = step["start"].get<double>(), b = step["end"].get<double>();
    svg << fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}">)", x_of(a), path_y + 1,
                       std::max(0.5, x_of(b) - x_of(a)), row_h - 2, layer_color(step["layer"].get<int>()))
        << fmt::format("<title>{}: cycles {:.0f} to {:.0f}</title></rect>\n", escape(step["unit"].get<std::string>()), a, b);
  }
  int row = 1;
  for (const auto& st : cp["stages"]) {
    const int y = top + row * row_h;
    const double a = st["first_send"].get<double>(), b = st["last_send"].get<double>();
    svg << fmt::format(R"(<text x="{}" y="{}" text-anchor="end" class="label">{}</text>)", label_w - 6, y + 11,
                       escape(st["tensor"].get<std::string>()))
        << fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}" opacity="0.8">)", x_of(a), y + 2,
                       std::max(1.0, x_of(b) - x_of(a)), row_h - 4, layer_color(st["layer"].get<int>()))
        << fmt::format("<title>{} sends from cycle {:.0f} to {:.0f}</title></rect>\n", escape(st["tensor"].get<std::string>()),
                       a, b);
    ++row;
  }
  const int axis_y = top + rows * row_h + 4;
  for (const auto& [cycles, label] : std::vector<std::pair<double, std::string>>{{bound, "bound"}, {measured, "measured"}}) {
    if (cycles <= 0) continue;
    svg << fmt::format(R"(<line x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{}" stroke="#333333" stroke-dasharray="3,2"/>)",
                       x_of(cycles), top, x_of(cycles), axis_y)
        << fmt::format(R"(<text x="{:.1f}" y="{}" class="label">{} {:.0f}</text>)", x_of(cycles) + 3, axis_y + 14, label,
                       cycles)
        << "\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  return html_table(header, rows);
}

}  // namespace

std::string report_html(const json& r) {
  // A NIR graph's run (runtime/report_nir.cpp): its steps are time steps, its rows populations,
  // and it has no paper section.
  const bool nir = r.contains("kind") && r["kind"] == "nir";
  const std::string step = nir ? "time step" : "token";
  const json& in = r["inputs"];
  const json& chip = r["chip"];
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>spiketile report</title>\n"
    << "<style>\nbody{font-family:sans-serif;margin:24px;color:#222;max-width:1000px}\n"
    << "table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;"
    << "text-align:right;font-size:13px}th{background:#eee}td:first-child{text-align:left}\n"
    << ".chart{display:block;margin:12px 0}.chart .title{font-weight:bold;font-size:14px}"
    << ".chart .label,.chart .value{font-size:12px}.note{color:#555;font-size:13px}\n</style>\n</head>\n<body>\n";
  h << "<h1>spiketile report</h1>\n";
  if (nir)
    h << fmt::format("<p>NIR graph {} (dt {} s, {} populations, {} weights): {} time steps. Energy table <b>{}</b> ({}), "
                     "chip {}, GPU {} {}.</p>\n",
                     escape(r["nir"]["graph"].get<std::string>()), number(r["nir"]["dt"]), r["nir"]["populations"].size(),
                     number(r["model"]["params"]), number(r["tokens"]["steps"]),
                     escape(in["energy_table"]["name"].get<std::string>()), escape(in["energy_table"]["path"].get<std::string>()),
                     escape(in["chip"]["name"].get<std::string>()), escape(in["gpu"]["name"].get<std::string>()),
                     escape(in["gpu"]["variant"].get<std::string>()));
  else
  h << fmt::format("<p>{} level, {} steps ({} prompt + {} generated tokens), model {} (L{} C{} V{}, {} parameters). "
                   "Energy table <b>{}</b> ({}), chip {}, GPU {} {}, encoding of real-valued inputs: {}.</p>\n",
                   escape(in["level"].get<std::string>()), number(r["tokens"]["steps"]), number(r["tokens"]["prompt"]),
                   number(r["tokens"]["generated"]), escape(r["model"]["path"].get<std::string>()),
                   number(r["model"]["n_layer"]), number(r["model"]["n_embd"]), number(r["model"]["vocab"]),
                   number(r["model"]["params"]), escape(in["energy_table"]["name"].get<std::string>()),
                   escape(in["energy_table"]["path"].get<std::string>()), escape(in["chip"]["name"].get<std::string>()),
                   escape(in["gpu"]["name"].get<std::string>()), escape(in["gpu"]["variant"].get<std::string>()),
                   escape(in["encoding"].get<std::string>()));
  h << "<p class=\"note\">Counts: " << escape(chip["counts_source"].get<std::string>()) << ".</p>\n";
  if (!r["not_measured"].empty()) {
    h << "<ul class=\"note\">\n";
    for (const auto& n : r["not_measured"]) h << "<li>Not measured: " << escape(n.get<std::string>()) << "</li>\n";
    for (const auto& w : chip["warnings"]) h << "<li>Warning: " << escape(w.get<std::string>()) << "</li>\n";
    h << "</ul>\n";
  }

  h << "<h2>Verdict</h2>\n";
  for (const auto& v : r["verdict"]) {
    h << "<p><b>vs " << escape(v["baseline"].get<std::string>()) << "</b></p>\n<ul>\n";
    for (const auto& c : v["comparisons"]) h << "<li>" << escape(verdict_sentence(c)) << "</li>\n";
    h << "</ul>\n";
  }

  if (nir) {
    const json& inference = r["inference"];
    h << fmt::format("<p>Per inference (the whole input, its steps overlapped through the chip): {} in {} cycles ({:.4g} µs, "
                     "{:.4g} inferences/s); {} binary and {} graded SOPs.</p>\n",
                     format_energy_pj(inference["energy_pj"].get<double>()), number(inference["cycles"]),
                     inference["latency_ns"].get<double>() / 1e3, inference["inferences_per_s"].get<double>(),
                     number(inference["sop_binary"]), number(inference["sop_graded"]));
  }
  h << "<h2>Chip vs dense GPU, energy per " << step << "</h2>\n";
  std::vector<Bar> versus;
  for (const auto& v : r["chip_vs_gpu"]) {
    const double pj = v["energy_per_token_pj"].get<double>();
    versus.push_back({v["name"].get<std::string>(), pj, format_energy_pj(pj),
                      versus.empty() ? std::string("#2a9d55") : std::string("#c0504d")});
  }
  h << bar_chart("chart-chip-vs-gpu", "Energy per " + step + ": chip vs dense GPU", versus, true);
  std::vector<std::vector<std::string>> versus_rows;
  for (const auto& v : r["chip_vs_gpu"])
    versus_rows.push_back({v["name"].get<std::string>(), format_energy_pj(v["energy_per_token_pj"].get<double>()),
                           fmt::format("{:.3g}×", v["ratio_to_chip"].get<double>()),
                           v["latency_per_token_ns"].is_null() ? "—" : fmt::format("{:.4g} µs", v["latency_per_token_ns"].get<double>() / 1e3),
                           v["tokens_per_s"].is_null() ? "—" : number(v["tokens_per_s"]),
                           v["edp_pj_s"].is_null() ? "—" : number(v["edp_pj_s"]), v["basis"].get<std::string>()});
  h << table({"system", "energy per " + step, "× chip", "latency per " + step, step + "s/s", "energy-delay (pJ·s)", "basis"},
             versus_rows);

  h << "<h2>Chip energy by action</h2>\n";
  std::vector<Bar> by_action;
  std::vector<std::vector<std::string>> action_rows;
  for (const auto& a : chip["actions"]) {
    const double pj = a["energy_per_token_pj"].get<double>();
    action_rows.push_back({a["action"].get<std::string>(), fmt::format("{:.1f}", a["count_per_token"].get<double>()),
                           fmt::format("{:.4g}", a["pj_each"].get<double>()), format_energy_pj(pj),
                           fmt::format("{:.1f}%", 100 * a["share_of_total"].get<double>())});
    if (a["count"].get<double>() > 0) by_action.push_back({a["action"].get<std::string>(), pj, format_energy_pj(pj)});
  }
  const bool with_static = !chip["static_per_token_pj"].is_null();
  if (with_static) {
    const double pj = chip["static_per_token_pj"].get<double>();
    by_action.push_back({"static", pj, format_energy_pj(pj), "#888888"});
    action_rows.push_back({"static", "", "", format_energy_pj(pj),
                           fmt::format("{:.1f}%", 100 * pj / chip["energy_per_token_pj"].get<double>())});
  }
  std::sort(by_action.begin(), by_action.end(), [](const Bar& a, const Bar& b) { return a.value > b.value; });
  h << bar_chart("chart-energy-by-action",
                 with_static ? "Energy per " + step + " by action, static included"
                             : "Dynamic energy per " + step + " by action (no static energy at this level)",
                 by_action, false);
  h << table({"action", "count per " + step, "pJ each", "energy per " + step,
              with_static ? "share of the total" : "share of the dynamic energy"},
             action_rows);
  std::vector<std::vector<std::string>> component_rows;
  for (const auto& c : chip["components"])
    component_rows.push_back({c["component"].get<std::string>(), format_energy_pj(c["energy_per_token_pj"].get<double>()),
                              fmt::format("{:.1f}%", 100 * c["share_of_total"].get<double>())});
  h << table({"component", "energy per " + step, "share"}, component_rows);
  if (chip.contains("side_by_side") && !chip["side_by_side"].is_null()) {
    std::vector<std::vector<std::string>> table_rows;
    for (const auto& t : chip["side_by_side"])
      table_rows.push_back(t.contains("unavailable")
                               ? std::vector<std::string>{t["name"].get<std::string>(), "—", "—", "—",
                                                          "not applicable: " + t["unavailable"].get<std::string>()}
                               : std::vector<std::string>{t["name"].get<std::string>(),
                                                          format_energy_pj(t["dynamic_per_token_pj"].get<double>()),
                                                          t["static_per_token_pj"].is_null()
                                                              ? "—"
                                                              : format_energy_pj(t["static_per_token_pj"].get<double>()),
                                                          format_energy_pj(t["energy_per_token_pj"].get<double>()),
                                                          fmt::format("{:.3g}×", t["ratio_to_report_table"].get<double>())});
    h << "<p>The same counts under every shipped energy table:</p>\n"
      << table({"energy table", "dynamic per " + step, "static per " + step, "total per " + step, "× this report's table"},
               table_rows);
  }
  if (const std::string range = energy_range_line(chip, step); !range.empty())
    h << fmt::format("<p>Range: {}.</p>\n", escape(range));
  h << fmt::format("<p>Per {}: {}; latency per {} {}; {}s/s {}.</p>\n", step, escape(chip_energy_split(chip)), step,
                   chip["latency_per_token_ns"].is_null() ? "not measured at this level"
                                                          : fmt::format("{:.1f} ns", chip["latency_per_token_ns"].get<double>()),
                   step, number(chip["tokens_per_s"]));

  if (nir) {
    h << "<h2>Per population</h2>\n";
    std::vector<Bar> by_population;
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : r["per_population"]) {
      const double pj = p["energy_per_token_pj"].get<double>();
      by_population.push_back({p["population"].get<std::string>(), pj, format_energy_pj(pj)});
      auto or_dash = [](const json& v) { return v.is_null() ? std::string("—") : number(v); };
      rows.push_back({p["population"].get<std::string>(), p["type"].is_null() ? "—" : p["type"].get<std::string>(),
                      or_dash(p["neurons"]), or_dash(p["cores"]), format_energy_pj(pj), or_dash(p["spikes"]),
                      or_dash(p["firing_rate"])});
    }
    h << bar_chart("chart-energy-by-population", "Dynamic energy per time step by population", by_population, false);
    h << table({"population", "type", "neurons", "cores", "energy per time step", "spikes", "firing rate"}, rows);
  } else {
  h << "<h2>Per layer</h2>\n";
  std::vector<Bar> by_layer, rates;
  std::vector<std::vector<std::string>> layer_rows;
  for (const auto& l : r["per_layer"]) {
    const std::string name = l["layer"].get<std::string>();
    const double pj = l["energy_per_token_pj"].get<double>();
    by_layer.push_back({name == "global" ? "global ops" : name == "network" ? "network" : "layer " + name, pj,
                        format_energy_pj(pj)});
    const json& c = l["counts_per_token"];
    // Global ops (embedding, ln_out, head) have no LIF population: a rate does not apply; the
    // network row has no op counts.
    auto rate = [](const json& v) { return v.is_null() ? std::string("—") : number(v); };
    auto count = [&c](const char* key) { return c.is_null() ? std::string("—") : number(c[key]); };
    layer_rows.push_back({name, format_energy_pj(pj), count("sop_graded"), count("sop_bit_serial"), count("sop_binary"),
                          count("dense_macs"), count("neuron_updates"), count("sfu_ops"), rate(l["firing_rate_att"]),
                          rate(l["firing_rate_ffn"]), rate(l["relu2_density"])});
    if (!l["firing_rate_att"].is_null()) {
      rates.push_back({"layer " + name + " att LIF", l["firing_rate_att"].get<double>(),
                       fmt::format("{:.4f}", l["firing_rate_att"].get<double>()), "#3b73b9"});
      rates.push_back({"layer " + name + " ffn LIF", l["firing_rate_ffn"].get<double>(),
                       fmt::format("{:.4f}", l["firing_rate_ffn"].get<double>()), "#7a5cb8"});
      rates.push_back({"layer " + name + " ReLU² density", l["relu2_density"].get<double>(),
                       fmt::format("{:.4f}", l["relu2_density"].get<double>()), "#d08a2c"});
    }
  }
  h << bar_chart("chart-energy-by-layer", "Dynamic energy per token by layer", by_layer, false);
  h << bar_chart("chart-firing-rate", "Firing rate per layer (spikes per neuron per token) and ReLU² density", rates,
                 false);
  if (r.contains("raster") && !r["raster"].is_null()) h << spike_raster_chart(r["raster"]);
  h << table({"layer", "energy", "SOP graded", "SOP bit-serial", "SOP binary", "dense MACs", "neuron updates",
              "SFU ops", "fire att", "fire ffn", "ReLU² density"},
             layer_rows);

  h << "<h2>Per op</h2>\n";
  std::vector<std::vector<std::string>> op_rows;
  for (const auto& o : r["per_op"]) op_rows.push_back({o["op"].get<std::string>(), format_energy_pj(o["energy_per_token_pj"].get<double>())});
  h << table({"op", "energy per token"}, op_rows);
  }

  if (!r["per_core"].is_null()) {
    h << "<h2>Per core</h2>\n";
    std::vector<std::vector<std::string>> core_rows;
    for (const auto& c : r["per_core"])
      core_rows.push_back({number(c["core"]), fmt::format("{}/{}/{}", number(c["chip"]), number(c["row"]), number(c["col"])),
                           c["unit"].get<std::string>(), format_energy_pj(c["energy_per_token_pj"].get<double>()),
                           number(c["busy_cycles"]), number(c["stall_cycles"])});
    h << table({"core", "chip/row/col", "unit", "energy per " + step, "busy cycles", "stall cycles"}, core_rows);
  }
  if (r.contains("mesh") && !r["mesh"].is_null())
    h << "<h2>Mesh: core utilization and link load</h2>\n" << mesh_heat_map(r["mesh"]);
  if (r.contains("critical_path") && !r["critical_path"].is_null()) {
    const json& cp = r["critical_path"];
    h << "<h2>Critical path of a token</h2>\n" << critical_path_chart(cp);
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : cp["per_layer"])
      rows.push_back({l["layer"].is_string() ? l["layer"].get<std::string>() : number(l["layer"]),
                      fmt::format("{:.0f}", l["cycles"].get<double>()), fmt::format("{:.1f} %", 100 * l["share"].get<double>())});
    h << table({"layer", "cycles on the critical path", "share"}, rows);
  }

  std::vector<Bar> per_token;
  for (const auto& t : r["per_token"]) {
    const double pj = t["dynamic_energy_pj"].get<double>();
    per_token.push_back({"step " + number(t["step"]), pj, format_energy_pj(pj)});
  }
  h << "<h2>Per " << step << "</h2>\n"
    << bar_chart("chart-energy-per-token", "Dynamic energy of each " + step + (nir ? "" : " step"), per_token, false);

  const json& gpu = r["gpu"];
  h << "<h2>Dense GPU baseline</h2>\n<p class=\"note\">Sources: " << escape(gpu["spec"]["sources"].get<std::string>())
    << "</p>\n<ul>\n";
  for (const auto& a : gpu["assumptions"]) h << "<li>" << escape(a.get<std::string>()) << "</li>\n";
  h << "</ul>\n";
  std::vector<std::vector<std::string>> roof_rows;
  for (const auto& p : gpu["roofline"])
    roof_rows.push_back({number(p["batch"]), p["weights_in"].get<std::string>(),
                         fmt::format("{:.3g} µs", p["compute_s"].get<double>() * 1e6),
                         fmt::format("{:.3g} µs", p["memory_s"].get<double>() * 1e6), p["bound"].get<std::string>(),
                         fmt::format("{:.4g}", p["tokens_per_s"].get<double>()),
                         format_energy_pj(p["energy_per_token_pj"].get<double>())});
  h << table({"batch", "weights read from", "compute time", "memory time", "bound", step + "s/s", "energy per " + step},
             roof_rows);
  if (!gpu["measured"].is_null())
    for (const auto& file : gpu["measured"]) {
      h << "<h3>Measured on " << escape(file["gpu"]["name"].get<std::string>()) << "</h3>\n<p class=\"note\">"
        << escape(measured_gpu_headline(file)) << ". Energy: " << escape(file["energy_counter"].get<std::string>())
        << "; idle: "
        << (file["idle"].is_null() ? std::string("not measured")
                                   : fmt::format("{:.1f} W over {:.1f} s", file["idle"]["power_w"].get<double>(),
                                                 file["idle"]["seconds"].get<double>()))
        << ".</p>\n";
      std::vector<std::vector<std::string>> rows;
      auto energy = [](const json& joules) {
        return joules.is_null() ? std::string("not measured") : format_energy_pj(joules.get<double>() * 1e12);
      };
      for (const auto& row : file["rows"])
        rows.push_back({row["name"].get<std::string>(), fmt::format("{:.4g}", row["steps_per_s"].get<double>()),
                        fmt::format("{:.4g}", row["tokens_per_s"].get<double>()), energy(row["energy_per_token_j"]),
                        energy(row["energy_per_token_above_idle_j"]), number(row["mean_power_w"]),
                        measured_clocks(row["clocks"]),
                        fmt::format("{:.2g} (tolerance {:.2g})", row["check"]["max_normalized_error"].get<double>(),
                                    row["check"]["tolerance"].get<double>())});
      h << table({"configuration", "steps/s", "tokens/s", "energy per token", "above idle", "power (W)",
                  "SM/memory MHz", "check: logits error"},
                 rows);
      if (!file["not_measured"].empty()) {
        h << "<ul class=\"note\">\n";
        for (const auto& n : file["not_measured"]) h << "<li>Not measured: " << escape(n.get<std::string>()) << "</li>\n";
        h << "</ul>\n";
      }
    }
  const json& dense = gpu["dense_per_token"];
  h << table({"dense work per " + step, "value"},
             {{"MACs", number(dense["macs"])},
              {"element-wise ops", number(dense["nonlinear_ops"])},
              {"weight bytes per step", number(dense["weight_bytes"])},
              {"state bytes per step and sequence", number(dense["state_bytes"])}});

  if (nir) {
    h << "</body>\n</html>\n";
    return h.str();
  }
  const json& paper = r["paper"];
  h << "<h2>Paper mode</h2>\n<p>Claim: " << escape(paper["claim"].get<std::string>()) << "</p>\n";
  const json& counted = paper["counted"];
  h << table({"comparison", "ratio"},
             {{"paper's setting (T 3072, d 512, R̂ 0.15, E_MAC 4.5, 6Td, linear rows)",
               fmt::format("{:.2f}×", paper["stated_setting"]["ratio"].get<double>())},
              {fmt::format("same formula, measured R̂ = {:.4f}, paper T and d", paper["measured_rate"]["rate"].get<double>()),
               fmt::format("{:.2f}×", paper["measured_rate"]["ratio_paper_T_d"].get<double>())},
              {"same formula, measured R̂, this model's d and T",
               fmt::format("{:.2f}×", paper["measured_rate"]["ratio_model_T_d"].get<double>())},
              {"dense MACs / SOPs the chip performs", fmt::format("{:.2f}×", counted["operation_ratio"].get<double>())},
              {"same counts at the 45 nm convention (compute only)",
               fmt::format("{:.2f}×", counted["convention_ratio"].get<double>())},
              {"GPU roofline (batch 1) / chip with data movement",
               fmt::format("{:.3g}×", counted["roofline_ratio"].get<double>())}});
  h << "<p class=\"note\">" << escape(counted["note"].get<std::string>()) << "</p>\n";
  const json& inputs = r["projection_inputs"];
  std::vector<std::vector<std::string>> input_rows;
  for (const auto& p : inputs["per_op"]) {
    std::string layers;
    for (const auto& l : p["per_layer"]) layers += fmt::format("{}{:.3f}", layers.empty() ? "" : " ", l.get<double>());
    input_rows.push_back({p["op"].get<std::string>(), fmt::format("{:.4f}", p["rate"].get<double>()), layers});
  }
  h << "<p>Projection inputs: " << escape(inputs["kind"].get<std::string>()) << "; the fraction that are non-zero events "
    << "(the measured R̂ where they are spikes):</p>\n"
    << table({"projection", "non-zero fraction", "per layer"}, input_rows);
  std::vector<std::vector<std::string>> reading_rows;
  for (const auto& p : paper["readings"])
    reading_rows.push_back({fmt::format("{:.2f}", p["e_mac_pj"].get<double>()), number(p["wkv_macs_per_channel"]) + "Td",
                            p["quadratic_attention"].get<bool>() ? "yes" : "no", format_energy_pj(p["vanilla_pj"].get<double>()),
                            format_energy_pj(p["spikegpt_pj"].get<double>()), fmt::format("{:.2f}×", p["ratio"].get<double>())});
  h << table({"E_MAC (pJ)", "WKV term", "quadratic rows", "vanilla", "SpikeGPT", "ratio"}, reading_rows);
  h << "<ul class=\"note\">\n";
  for (const auto& f : paper["formulas"]) h << "<li>" << escape(f.get<std::string>()) << "</li>\n";
  for (const auto& s : paper["sources"]) h << "<li>" << escape(s.get<std::string>()) << "</li>\n";
  h << "</ul>\n</body>\n</html>\n";
  return h.str();
}

}  // namespace spiketile
