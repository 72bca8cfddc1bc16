// spiketile report: counts -> actions -> energy, the GPU baseline, paper mode, the stats and
// report formats, and the HTML form (parsed here, rendered headless in Chromium when present).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "models/output_file.hpp"
#include "runtime/npy.hpp"
#include "runtime/report.hpp"
#include "runtime/spike_raster.hpp"
#include "tests/unit/cli_runner.hpp"

namespace spiketile {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_cli::run_cli;

const fs::path kSourceDir{SPIKETILE_SOURCE_DIR};

EnergyTable table_named(const std::string& name) {
  return load_energy_table((kSourceDir / "chips/energy" / (name + ".yaml")).string());
}

// A hand-built run of a one-layer model over two steps, small enough to check every action by hand.
RunStats tiny_stats() {
  RunStats s;
  s.level = "quantized";
  s.model = {"tiny.pth", 1, 4, 3, 2 * 3 * 4 + 1 * (13 * 16 + 11 * 4) + 4 * 4, 8, 8, 16};
  s.tokens.prompt = {1};
  s.tokens.generated = {2};
  s.tokens.steps = 2;
  TokenCounts step;
  step.reset(1);
  Counts& key = step.at(0, Op::AttKey);  // a 4 × 4 crossbar fed 3 non-zero values with 5 set bits
  key.events_graded = 3;
  key.sop_graded = 12;
  key.events_bit_serial = 5;
  key.sop_bit_serial = 20;
  key.dense_macs = 16;
  key.neuron_updates = 4;
  key.synapse_read_bits = 12 * 8;
  Counts& lif = step.at(0, Op::AttLif);
  lif.neuron_updates = 4;
  lif.spikes = 1;
  lif.state_read_bytes = 8;
  lif.state_write_bytes = 8;
  step.at(0, Op::FfnLif).neuron_updates = 4;  // a silent population: updated, never fires
  Counts& residual = step.at(0, Op::AttResidual);
  residual.events_binary = 1;
  residual.sop_binary = 1;
  Counts& ln = step.at(0, Op::LnOut);
  ln.sfu[int(Sfu::MeanVar)] = 4;
  ln.sfu[int(Sfu::Rsqrt)] = 1;
  s.counts.add(&step);
  s.counts.add(&step);
  return s;
}

ReportInputs inputs_for(RunStats stats, const std::string& table = "default") {
  ReportInputs in;
  in.stats = std::move(stats);
  in.stats_path = "tiny.json";
  in.table = table_named(table);
  in.convention_table = table_named("45nm-horowitz");
  in.chip = load_chip_spec((kSourceDir / "chips/default.yaml").string());
  in.gpu = load_gpu_spec((kSourceDir / "chips/gpu/h100.yaml").string());
  in.batch = 4;
  return in;
}

double action_count(const json& report, const std::string& action) {
  for (const auto& a : report["chip"]["actions"])
    if (a["action"] == action) return a["count"].get<double>();
  ADD_FAILURE() << "no action " << action;
  return -1;
}

TEST(Report, CountsMapToActionsAsCheckedByHand) {
  const json r = build_report(inputs_for(tiny_stats()));
  // Two identical steps; the default chip reads 256 synapse bits and 64 state bits per access.
  EXPECT_DOUBLE_EQ(action_count(r, "synaptic_op.graded"), 2 * 12.0);
  EXPECT_DOUBLE_EQ(action_count(r, "synaptic_op.bit_serial"), 0.0);  // graded encoding chosen
  EXPECT_DOUBLE_EQ(action_count(r, "synaptic_op.binary"), 2 * 1.0);
  EXPECT_DOUBLE_EQ(action_count(r, "neuron_update.lif"), 2 * 8.0);
  EXPECT_DOUBLE_EQ(action_count(r, "neuron_update.other"), 2 * 4.0);  // the key crossbar's readout
  EXPECT_DOUBLE_EQ(action_count(r, "sram.synapse_read"), 2 * 96.0 / 256);  // 256-bit reads
  EXPECT_DOUBLE_EQ(action_count(r, "sram.state_read"), 2 * 8 * 8.0 / 64);
  EXPECT_DOUBLE_EQ(action_count(r, "core.event_out"), 2 * (3.0 + 1.0));
  EXPECT_DOUBLE_EQ(action_count(r, "sfu.mean_var"), 2 * 4.0);
  EXPECT_DOUBLE_EQ(action_count(r, "sfu.rsqrt"), 2 * 1.0);
  // Default table by hand: 12 × 0.3 + 1 × 0.1 + 8 × 0.15 + 4 × 0.85 + 0.375 × 110.38 + 1 × 10 + 1 × 10
  // + 4 × 10 + 4 × 3.3 + 1 × 18.8 per step.
  const double per_step = 12 * 0.3 + 0.1 + 8 * 0.15 + 4 * 0.85 + 0.375 * 110.38 + 10 + 10 + 4 * 10 + 4 * 3.3 + 18.8;
  EXPECT_NEAR(r["chip"]["dynamic_per_token_pj"].get<double>(), per_step, 1e-9);
  for (const auto& t : r["per_token"]) EXPECT_NEAR(t["dynamic_energy_pj"].get<double>(), per_step, 1e-9);
  double layers = 0;
  for (const auto& l : r["per_layer"]) layers += l["energy_per_token_pj"].get<double>();
  EXPECT_NEAR(layers, per_step, 1e-9);
  EXPECT_DOUBLE_EQ(r["per_layer"][0]["firing_rate_att"].get<double>(), 1.0 / 4);
  EXPECT_DOUBLE_EQ(r["per_layer"][0]["firing_rate_ffn"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(r["firing_rate_mean"].get<double>(), 2.0 / 16);  // 2 spikes in 16 LIF updates
}

TEST(Report, BitSerialEncodingChargesEveryBitAndItsWeightReads) {
  ReportInputs in = inputs_for(tiny_stats());
  in.encoding = GradedEncoding::BitSerial;
  const json r = build_report(in);
  EXPECT_DOUBLE_EQ(action_count(r, "synaptic_op.graded"), 0.0);
  EXPECT_DOUBLE_EQ(action_count(r, "synaptic_op.bit_serial"), 2 * 20.0);
  EXPECT_DOUBLE_EQ(action_count(r, "sram.synapse_read"), 2 * 20 * 8.0 / 256);
  EXPECT_DOUBLE_EQ(action_count(r, "core.event_out"), 2 * (5.0 + 1.0));
}

TEST(Report, EnergyScalesExactlyWithTableEntries) {
  ReportInputs in = inputs_for(tiny_stats());
  const json base = build_report(in);
  const double base_pj = base["chip"]["dynamic_energy_pj"].get<double>();
  // Raising one entry adds exactly its count × the raise.
  in.table.actions_pj["synaptic_op.graded"] += 1.0;
  const json raised = build_report(in);
  EXPECT_NEAR(raised["chip"]["dynamic_energy_pj"].get<double>() - base_pj, action_count(base, "synaptic_op.graded") * 1.0,
              1e-9);
  // Doubling every entry doubles the energy.
  in.table = table_named("default");
  for (auto& [action, pj] : in.table.actions_pj) pj *= 2;
  EXPECT_NEAR(build_report(in)["chip"]["dynamic_energy_pj"].get<double>(), 2 * base_pj, 1e-9);
  // Swapping tables prices identical counts.
  const json loihi = build_report(inputs_for(tiny_stats(), "loihi"));
  EXPECT_DOUBLE_EQ(action_count(loihi, "synaptic_op.graded"), action_count(base, "synaptic_op.graded"));
  EXPECT_NEAR(loihi["chip"]["dynamic_per_token_pj"].get<double>(),
              12 * 35.7 + 35.5 + 8 * 72.8 + 4 * 72.8 + 4 * 76.8 + 4 * 3.3 + 18.8, 1e-9);
}

// What `report` prints on stdout for `r`.
std::string summary_text(const json& r) {
  std::FILE* f = std::tmpfile();
  if (!f) throw std::runtime_error("no temporary file");
  print_report_summary(f, r, false);
  std::string text(std::size_t(std::ftell(f)), '\0');
  std::rewind(f);
  text.resize(std::fread(text.data(), 1, text.size(), f));
  std::fclose(f);
  return text;
}

// The same run under every shipped table, side by side: each row is its own report's figure (the
// hand-checked Loihi sum above), the report's own table is 1×, and a table that lacks an action
// the run counted is named as not applicable instead of pricing it at zero.
TEST(Report, SideBySideTablesPriceTheSameCountsWithEachTable) {
  ReportInputs in = inputs_for(tiny_stats());
  in.side_by_side = {table_named("default"), table_named("loihi")};
  EnergyTable partial = table_named("default");
  partial.name = "partial";
  partial.actions_pj.erase("synaptic_op.graded");
  in.side_by_side.push_back(partial);
  const json r = build_report(in);
  const json& rows = r["chip"]["side_by_side"];
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["name"], "default");
  EXPECT_DOUBLE_EQ(rows[0]["dynamic_per_token_pj"].get<double>(), r["chip"]["dynamic_per_token_pj"].get<double>());
  EXPECT_DOUBLE_EQ(rows[0]["ratio_to_report_table"].get<double>(), 1.0);
  EXPECT_NEAR(rows[1]["dynamic_per_token_pj"].get<double>(),
              build_report(inputs_for(tiny_stats(), "loihi"))["chip"]["dynamic_per_token_pj"].get<double>(), 1e-9);
  EXPECT_TRUE(rows[2].contains("unavailable"));
  EXPECT_NE(rows[2]["unavailable"].get<std::string>().find("synaptic_op.graded"), std::string::npos) << rows[2].dump();
  EXPECT_NE(summary_text(r).find("under every shipped energy table"), std::string::npos);
}

TEST(Report, UnmeasuredSectionsAreSaidNotZero) {
  const json r = build_report(inputs_for(tiny_stats()));
  EXPECT_TRUE(r["chip"]["static_per_token_pj"].is_null());
  EXPECT_TRUE(r["chip"]["latency_per_token_ns"].is_null());
  EXPECT_TRUE(r["per_core"].is_null());
  EXPECT_TRUE(r["per_token"][0]["flit_hops"].is_null());
  for (const auto& a : r["chip"]["actions"]) EXPECT_NE(a["action"], "router.flit_hop");
  const std::string notes = r["not_measured"].dump();
  EXPECT_NE(notes.find("router.flit_hop, router.flit_delivery and link.inter_chip_flit"), std::string::npos) << notes;
  EXPECT_NE(notes.find("cycles, latency, tokens/s and static energy: not measured at the quantized level"),
            std::string::npos);
  EXPECT_NE(report_csv(r).find("chip.static_per_token_pj,not measured\n"), std::string::npos);
}

// Every CSV row names one figure: per-core rows all carry a layer (the shipped mapping puts 63
// cores in each), so they are named by their core, and an array with no key unique to each
// element by its index.
// The raster of a chosen layer comes from the run's --spikes-out file: every spike listed in the
// JSON and drawn in the HTML; a file of another run or model, or not a raster, is refused by name.
TEST(Report, SpikeRasterOfTheRunIsListedAndDrawn) {
  const fs::path dir = fs::temp_directory_path() / ("spiketile_raster_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto write_raster = [&](const std::string& name, const std::vector<int64_t>& shape, std::vector<uint8_t> v) {
    OutputFile out((dir / name).string());
    write_npy(out, shape, v.data());
    out.commit();
    return (dir / name).string();
  };
  // tiny_stats: 1 layer of 4 neurons, 2 steps. [step][layer][lif][neuron]: step 0 att neurons 1 and
  // 3 fire, step 1 ffn neuron 0.
  std::vector<uint8_t> spikes(2 * 1 * 2 * 4, 0);
  spikes[0 * 8 + 0 * 4 + 1] = spikes[0 * 8 + 0 * 4 + 3] = 1;
  spikes[1 * 8 + 1 * 4 + 0] = 1;
  const std::string good = write_raster("good.npy", {2, 1, 2, 4}, spikes);
  ReportInputs in = inputs_for(tiny_stats());
  in.raster = read_spike_raster(good, 0, in.stats);
  const json r = build_report(in);
  EXPECT_EQ(r["raster"]["att"], json::parse("[[0, 1], [0, 3]]"));
  EXPECT_EQ(r["raster"]["ffn"], json::parse("[[1, 0]]"));
  EXPECT_EQ(r["raster"]["spikes_att"], 2);
  EXPECT_EQ(r["raster"]["file"], good);
  const std::string html = report_html(r);
  EXPECT_NE(html.find("id=\"chart-raster\""), std::string::npos);
  EXPECT_NE(html.find("Spike raster, layer 0: 2 steps × 4 neurons (2 and 1 spikes)"), std::string::npos);
  EXPECT_TRUE(build_report(inputs_for(tiny_stats()))["raster"].is_null());

  const auto error_of = [&](const std::string& path, int layer) {
    try {
      read_spike_raster(path, layer, tiny_stats());
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of(good, 1), "spike raster " + good + ": layer 1 asked for; the model has layers 0 to 0");
  const std::string longer = write_raster("longer.npy", {3, 1, 2, 4}, std::vector<uint8_t>(24, 0));
  EXPECT_EQ(error_of(longer, 0), "spike raster " + longer + ": has 3 steps, the stats 2: both must come from the same run");
  const std::string wider = write_raster("wider.npy", {2, 1, 2, 5}, std::vector<uint8_t>(20, 0));
  EXPECT_EQ(error_of(wider, 0), "spike raster " + wider +
                                    ": has shape (2, 1, 2, 5); the stats' model (L1 C4) needs (steps, 1, 2, 4) as "
                                    "--spikes-out writes it");
  spikes[5] = 2;
  const std::string counts = write_raster("counts.npy", {2, 1, 2, 4}, spikes);
  EXPECT_EQ(error_of(counts, 0), "spike raster " + counts + ": holds 2 at step 0, layer 0, neuron 1; spikes are 0 or 1");
  fs::remove_all(dir);
}

TEST(Report, CsvRowsHaveDistinctNames) {
  json r;
  r["per_core"] = json::array();
  for (int core = 0; core < 6; ++core)
    r["per_core"].push_back({{"core", core}, {"layer", core / 3}, {"unit", "L" + std::to_string(core / 3) + ".x"},
                             {"busy_cycles", 10 * core}});
  r["pairs"] = json::array({{{"layer", 0}, {"v", 1}}, {{"layer", 0}, {"v", 2}}});
  const std::string csv = report_csv(r);
  std::istringstream lines(csv);
  std::set<std::string> names;
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) EXPECT_TRUE(names.insert(line.substr(0, line.find(','))).second) << line;
  EXPECT_NE(csv.find("per_core[5].busy_cycles,50\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("per_core[4].layer,1\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("pairs[1].v,2\n"), std::string::npos) << csv;
}

// What the simulator will write: cycles, network and per-core counters.
RunStats simulated_stats() {
  RunStats s = tiny_stats();
  s.level = "simulator";
  s.chip = StatsChip{"spiketile-default", "", 500.0, 4, 256, 3};
  s.cycles = StatsCycles{{1000, 3000}, 4000};
  // 40 flit-hops, 12 flits delivered into cores, 6 of the hops across chips (per step 15/5/2 and
  // 25/7/4).
  s.network = StatsNetwork{10, 40, 12, 6, {{4, 15, 5, 2}, {6, 25, 7, 4}}, ""};
  CoreStats a;
  a.index = 0;
  a.unit = "att.key";
  a.layer = 0;
  a.op = "att.key";
  a.sop_graded = 24;
  a.synapse_reads = 5;
  a.neuron_updates_other = 8;
  a.events_out = 6;
  a.busy_cycles = 700;
  CoreStats b;
  b.index = 1;
  b.col = 1;
  b.unit = "ln_out";
  b.layer = -1;
  b.op = "ln_out";
  b.sfu["mean_var"] = 8;
  b.state_writes = 2;
  s.cores = std::vector<CoreStats>{a, b};
  return s;
}

TEST(Report, SimulatorStatsUseCoreCountersNetworkAndStaticPower) {
  const json r = build_report(inputs_for(simulated_stats()));
  EXPECT_EQ(r["chip"]["counts_source"], "simulator per-core counters (cores section)");
  EXPECT_DOUBLE_EQ(action_count(r, "synaptic_op.graded"), 24.0);
  EXPECT_DOUBLE_EQ(action_count(r, "sram.synapse_read"), 5.0);
  EXPECT_DOUBLE_EQ(action_count(r, "router.flit_hop"), 40.0);
  EXPECT_DOUBLE_EQ(action_count(r, "router.flit_delivery"), 12.0);
  EXPECT_DOUBLE_EQ(action_count(r, "link.inter_chip_flit"), 6.0);
  const double dynamic =
      24 * 0.3 + 5 * 110.38 + 8 * 0.85 + 6 * 10 + 8 * 3.3 + 2 * 10 + 40 * 11.6 + 12 * 5.5 + 6 * 13.5;
  EXPECT_NEAR(r["chip"]["dynamic_energy_pj"].get<double>(), dynamic, 1e-9);
  // No power section (as stats written before power states): every tile powered. 4000 cycles at
  // 500 MHz = 8 µs; 0.143 mW × 256 tiles × 8 µs = 292.864 nJ.
  EXPECT_NEAR(r["chip"]["static_energy_pj"].get<double>(), 292864.0, 1e-6);
  EXPECT_NEAR(r["chip"]["energy_per_token_pj"].get<double>(), (dynamic + 0.143e-3 * 256 * 8e-6 * 1e12) / 2, 1e-6);
  EXPECT_NEAR(r["chip"]["latency_per_token_ns"].get<double>(), 4000.0 / 2 / 500 * 1000, 1e-9);
  EXPECT_NEAR(r["per_token"][1]["latency_ns"].get<double>(), 3000.0 / 500 * 1000, 1e-9);
  EXPECT_EQ(r["per_token"][1]["flit_hops"], 25);
  EXPECT_EQ(r["per_token"][1]["flits_delivered"], 7);
  ASSERT_EQ(r["per_core"].size(), 2u);
  EXPECT_NEAR(r["per_core"][0]["energy_per_token_pj"].get<double>(), (24 * 0.3 + 5 * 110.38 + 8 * 0.85 + 6 * 10) / 2,
              1e-9);
  // The layers, the global ops and the network (a row of its own: no layer owns a router hop)
  // add up to the dynamic energy.
  const json& layers = r["per_layer"];
  ASSERT_GE(layers.size(), 2u);
  EXPECT_EQ(layers[layers.size() - 2]["layer"], "global");
  EXPECT_NEAR(layers[layers.size() - 2]["energy_per_token_pj"].get<double>(), (8 * 3.3 + 2 * 10) / 2, 1e-9);
  EXPECT_EQ(layers.back()["layer"], "network");
  EXPECT_TRUE(layers.back()["counts_per_token"].is_null());
  EXPECT_NEAR(layers.back()["energy_per_token_pj"].get<double>(), (40 * 11.6 + 12 * 5.5 + 6 * 13.5) / 2, 1e-9);
  double rows = 0;
  for (const auto& l : layers) rows += l["energy_per_token_pj"].get<double>();
  EXPECT_NEAR(rows, dynamic / 2, 1e-9);
  const std::string text = summary_text(r);
  EXPECT_NE(text.find("  network "), std::string::npos) << text;
  EXPECT_NE(text.find("the rows add up to the dynamic energy per token"), std::string::npos) << text;
}

// Where the table's sources disagree the report prices both ends: the default table's flit-hop
// (Loihi's east-west 3.0 to north-south 4.2 pJ hop, node-scaled: 9.6 to 13.5 pJ) and delivery (0,
// SANA-FE's calibrated value, to 5.5 pJ); simulated_stats counts 40 flit-hops and 12 deliveries
// over 2 steps, so the range is the total moved by those actions alone.
TEST(Report, EnergyRangeWhereSourcesDisagree) {
  ReportInputs in = inputs_for(simulated_stats());
  in.side_by_side = {table_named("45nm-horowitz"), table_named("default"), table_named("loihi")};
  const json r = build_report(in);
  const json& chip = r["chip"];
  const double total = chip["energy_per_token_pj"].get<double>();
  EXPECT_NEAR(chip["range"]["low_per_token_pj"].get<double>(), total - (40 * (11.6 - 9.6) + 12 * 5.5) / 2, 1e-9);
  EXPECT_NEAR(chip["range"]["high_per_token_pj"].get<double>(), total + 40 * (13.5 - 11.6) / 2, 1e-9);
  ASSERT_EQ(chip["range"]["actions"].size(), 2u);  // the DRAM range: never counted on the chip
  EXPECT_EQ(chip["range"]["actions"][0], json::parse(R"({"action": "router.flit_delivery", "low": 0.0, "pj_each": 5.5, "high": 5.5})"));
  EXPECT_EQ(chip["range"]["actions"][1]["action"], "router.flit_hop");
  const std::string text = summary_text(r);
  EXPECT_NE(text.find("  range: " + format_energy_pj(chip["range"]["low_per_token_pj"].get<double>()) + " to " +
                      format_energy_pj(chip["range"]["high_per_token_pj"].get<double>()) +
                      " per token where the sources disagree: router.flit_delivery 0-5.5 pJ (table 5.5), "
                      "router.flit_hop 9.6-13.5 pJ (table 11.6)"),
            std::string::npos)
      << text;
  EXPECT_NE(report_html(r).find("<p>Range: "), std::string::npos);
  // Every shipped table's row of the side-by-side view carries its own ends.
  ASSERT_EQ(chip["side_by_side"].size(), 3u);
  for (const auto& t : chip["side_by_side"]) {
    EXPECT_LE(t["low_per_token_pj"].get<double>(), t["energy_per_token_pj"].get<double>()) << t["name"];
    EXPECT_GE(t["high_per_token_pj"].get<double>(), t["energy_per_token_pj"].get<double>()) << t["name"];
  }
  // A table without ranges gives none.
  ReportInputs plain = inputs_for(simulated_stats());
  plain.table.low_pj.clear();
  plain.table.high_pj.clear();
  EXPECT_TRUE(build_report(plain)["chip"]["range"].is_null());
}

// Energy by component, static included: synaptic ops, neuron updates and SFU ops are compute,
// event_out and the router and links the network; the components and every action's share are
// of the whole energy per token, so static energy is not hidden behind dynamic-only shares.
TEST(Report, EnergyByComponentIncludesStaticAndAddsUp) {
  const json r = build_report(inputs_for(simulated_stats()));
  const json& chip = r["chip"];
  const double total = chip["energy_per_token_pj"].get<double>();
  std::map<std::string, double> pj;
  double shares = 0;
  for (const auto& c : chip["components"]) {
    pj[c["component"].get<std::string>()] = c["energy_per_token_pj"].get<double>();
    shares += c["share_of_total"].get<double>();
  }
  EXPECT_NEAR(shares, 1.0, 1e-12);
  // simulated_stats: 24 graded SOPs, 8 other neuron updates and 8 mean_var SFU ops; 5 synapse
  // reads; 2 state writes; 6 events out, 40 flit-hops, 12 flits delivered, 6 inter-chip flits;
  // over 2 steps.
  EXPECT_NEAR(pj["compute"], (24 * 0.3 + 8 * 0.85 + 8 * 3.3) / 2, 1e-9);
  EXPECT_NEAR(pj["synapse SRAM"], 5 * 110.38 / 2, 1e-9);
  EXPECT_NEAR(pj["state SRAM"], 2 * 10.0 / 2, 1e-9);
  EXPECT_NEAR(pj["network and events"], (6 * 10 + 40 * 11.6 + 12 * 5.5 + 6 * 13.5) / 2, 1e-9);
  EXPECT_NEAR(pj["static"], chip["static_per_token_pj"].get<double>(), 1e-9);
  for (const auto& a : chip["actions"])
    EXPECT_NEAR(a["share_of_total"].get<double>(), a["energy_per_token_pj"].get<double>() / total, 1e-12);
  const std::string text = summary_text(r);
  EXPECT_NE(text.find("  static  "), std::string::npos) << text;
  EXPECT_NE(text.find("by component: compute "), std::string::npos) << text;
}

// The simulator's power section for the chip of simulated_stats (256 tiles on 4 chips): what a
// policy powered, with a gated tile drawing 5 % of its static power.
StatsPower power_of(const std::string& gating, int64_t powered, int chips_powered) {
  return StatsPower{gating, 0.05, 256, powered, 256 - powered, 1, 4, chips_powered};
}

RunStats simulated_stats_with(const StatsPower& power) {
  RunStats s = simulated_stats();
  s.power = power;
  return s;
}

// Static energy = static power × (powered tiles + gated tiles × gated fraction) × simulated time,
// here 0.143 mW and 8 µs (4000 cycles at 500 MHz), worked out by hand for each policy.
TEST(Report, StaticEnergyIsChargedToPoweredTilesAndGatedOnesAtTheirFraction) {
  struct Case {
    StatsPower power;
    double static_pj;
    std::string summary;
  };
  const std::vector<Case> cases{
      // 256 tiles × 0.143 mW × 8 µs = 292.864 nJ.
      {StatsPower{"none", 1.0, 256, 256, 0, 0, 4, 4}, 292864.0, "no gating: all 256 tiles powered"},
      // One chip of 64 on, 192 tiles gated: (64 + 9.6) × 0.143 mW × 8 µs = 84.1984 nJ.
      {power_of("chip", 64, 1), 84198.4, "chip gating: 64 of 256 tiles powered, 192 gated at 5 %, 1 of 4 chips on"},
      // 4 tiles on (3 units, 1 router on a route), 252 gated: (4 + 12.6) × 0.143 mW × 8 µs = 18.9904 nJ.
      {power_of("core", 4, 1), 18990.4, "core gating: 4 of 256 tiles powered, 252 gated at 5 %, 1 of 4 chips on"},
  };
  const double dynamic =
      24 * 0.3 + 5 * 110.38 + 8 * 0.85 + 6 * 10 + 8 * 3.3 + 2 * 10 + 40 * 11.6 + 12 * 5.5 + 6 * 13.5;
  for (const Case& c : cases) {
    const json r = build_report(inputs_for(simulated_stats_with(c.power)));
    const json& chip = r["chip"];
    EXPECT_NEAR(chip["static_energy_pj"].get<double>(), c.static_pj, 1e-6) << c.power.gating;
    EXPECT_NEAR(chip["static_per_token_pj"].get<double>(), c.static_pj / 2, 1e-6) << c.power.gating;
    EXPECT_NEAR(chip["dynamic_per_token_pj"].get<double>(), dynamic / 2, 1e-9) << c.power.gating;
    EXPECT_NEAR(chip["energy_per_token_pj"].get<double>(), (dynamic + c.static_pj) / 2, 1e-6) << c.power.gating;
    EXPECT_EQ(chip["power"]["gating"], c.power.gating);
    EXPECT_EQ(chip["power"]["recorded"], true);
    EXPECT_EQ(chip["power"]["summary"], c.summary);
    // The chip line of the comparison with the GPU carries the same total.
    EXPECT_NEAR(r["chip_vs_gpu"][0]["energy_per_token_pj"].get<double>(), (dynamic + c.static_pj) / 2, 1e-6);
    // Every form shows static beside dynamic with the policy named.
    const std::string split = chip_energy_split(chip);
    EXPECT_EQ(split, "dynamic " + format_energy_pj(dynamic / 2) + ", static " + format_energy_pj(c.static_pj / 2) +
                         " (" + c.summary + "), total " + format_energy_pj((dynamic + c.static_pj) / 2));
    EXPECT_NE(report_html(r).find(split), std::string::npos) << c.power.gating;
    EXPECT_NE(report_csv(r).find("chip.power.gating," + c.power.gating + "\n"), std::string::npos);
  }
  // A switch that leaks as much as it passes charges what no switch does; one that leaks nothing
  // charges the powered tiles only (4 × 0.143 mW × 8 µs).
  StatsPower leaky = power_of("core", 4, 1);
  leaky.gated_static_fraction = 1.0;
  EXPECT_NEAR(build_report(inputs_for(simulated_stats_with(leaky)))["chip"]["static_energy_pj"].get<double>(), 292864.0,
              1e-6);
  StatsPower ideal = power_of("core", 4, 1);
  ideal.gated_static_fraction = 0.0;
  EXPECT_NEAR(build_report(inputs_for(simulated_stats_with(ideal)))["chip"]["static_energy_pj"].get<double>(), 4576.0,
              1e-6);
}

// A stats file written before power states has no power section: charged as policy none (every
// tile powered), and the report says so in every form.
TEST(Report, StatsWithoutPowerSectionAreChargedAsNoneAndSaySo) {
  const fs::path dir = fs::path(::testing::TempDir()) / "report_old_stats";
  fs::create_directories(dir);
  const std::string path = (dir / "old.json").string();
  json old = stats_to_json(simulated_stats());
  ASSERT_FALSE(old.contains("power"));
  std::ofstream(path) << old.dump(1);
  const RunStats read = read_stats(path);
  EXPECT_FALSE(read.power.has_value());
  const json r = build_report(inputs_for(read));
  EXPECT_NEAR(r["chip"]["static_energy_pj"].get<double>(), 292864.0, 1e-6);  // 256 × 0.143 mW × 8 µs
  EXPECT_EQ(r["chip"]["power"]["gating"], "none");
  EXPECT_EQ(r["chip"]["power"]["recorded"], false);
  EXPECT_TRUE(r["chip"]["power"]["tiles_routing_only"].is_null());
  const std::string said = "no gating: all 256 tiles powered; the stats file has no power section (written before "
                           "power states), so none is assumed";
  EXPECT_EQ(r["chip"]["power"]["summary"], said);
  EXPECT_NE(report_html(r).find(said), std::string::npos);
  const auto report = run_cli("report --stats " + path);
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_NE(report.output.find("static 146 nJ (" + said + ")"), std::string::npos) << report.output;
  fs::remove_all(dir);
}

// A stats file nested without bound is refused, naming it, before it can overflow the stack.
TEST(Report, DeeplyNestedStatsFilesAreRefused) {
  const std::string path = ::testing::TempDir() + "/deep_stats.json";
  std::ofstream(path) << "{\"format\": " << std::string(100000, '[') << std::string(100000, ']') << "}";
  try {
    read_stats(path);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": JSON nests deeper than 16 levels");
  }
}

// The compiler's estimate as simulate records it: a bound of 900 cycles, two stages, and a
// critical path of three steps in layer 0, the head (-1) and layer 0 again.
RunStats with_estimate(RunStats s) {
  StatsEstimate e;
  e.profile_tokens = 4;
  e.cycles_per_token = 900;
  e.stages = {{"L0.att.k", 0, 10, 200}, {"head.logits", -1, 600, 880}};
  e.critical_path = {{"L0.att.key[0,0]", 0, 0, 300}, {"head[0,0]", -1, 300, 800}, {"L0.x", 0, 800, 900}};
  s.estimate = e;
  return s;
}

TEST(Report, StatsRoundTripThroughJsonWithEveryOptionalSection) {
  for (const RunStats& s : {tiny_stats(), simulated_stats(), simulated_stats_with(power_of("core", 4, 1)),
                            with_estimate(simulated_stats())}) {
    const json j = stats_to_json(s);
    EXPECT_EQ(j["format"], "spiketile-stats-2");
    const RunStats back = stats_from_json(j);
    EXPECT_EQ(stats_to_json(back), j);
    EXPECT_TRUE(back.counts.sum == s.counts.sum);
    EXPECT_EQ(bool(back.cores), bool(s.cores));
  }
}

// simulated_stats's cores' work split over its 2 steps, as the simulator records it.
RunStats simulated_stats_per_step() {
  RunStats s = simulated_stats();
  CoreWork first, second;
  first.sop_graded = 10;
  first.synapse_reads = 2;
  first.neuron_updates_other = 8;
  first.events_out = 1;
  first.sfu["mean_var"] = 8;
  second.sop_graded = 14;
  second.synapse_reads = 3;
  second.events_out = 5;
  second.state_writes = 2;
  s.cores_per_step = std::vector<CoreWork>{first, second};
  return s;
}

// Each step's energy prices the cores' work of that step (whole SRAM accesses, as the headline
// prices the per-core counters) and its traffic, so the steps add up to the run's dynamic energy;
// the functional counts, priced pro rata, did not (the per-token chart was 0.83 % off).
TEST(Report, PerStepEnergyIsTheCoresWorkOfEachStep) {
  const json r = build_report(inputs_for(simulated_stats_per_step()));
  // Step 0: 10 graded SOPs, 2 synapse reads, 8 other updates, 1 event out, 8 mean_var; 15 flit-hops,
  // 5 deliveries, 2 inter-chip flits. Step 1: 14 SOPs, 3 reads, 5 events, 2 state writes; 25, 7, 4.
  const double step0 = 10 * 0.3 + 2 * 110.38 + 8 * 0.85 + 1 * 10 + 8 * 3.3 + 15 * 11.6 + 5 * 5.5 + 2 * 13.5;
  const double step1 = 14 * 0.3 + 3 * 110.38 + 5 * 10 + 2 * 10 + 25 * 11.6 + 7 * 5.5 + 4 * 13.5;
  EXPECT_NEAR(r["per_token"][0]["dynamic_energy_pj"].get<double>(), step0, 1e-9);
  EXPECT_NEAR(r["per_token"][1]["dynamic_energy_pj"].get<double>(), step1, 1e-9);
  EXPECT_NEAR(step0 + step1, r["chip"]["dynamic_energy_pj"].get<double>(), 1e-9);
  // Written and read back; steps that do not add up to the cores' counters are refused.
  const json j = stats_to_json(simulated_stats_per_step());
  EXPECT_EQ(stats_from_json(j).cores_per_step->at(1).state_writes, 2);
  json bad = j;
  bad["cores_per_step"][1]["sop_graded"] = 15;
  try {
    stats_from_json(bad);
    ADD_FAILURE() << "steps that do not add up were read";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "stats: 'cores_per_step' has sop_graded adding up to 25 over its steps; the cores count 24");
  }
}

TEST(Report, StatsErrorsNameTheField) {
  json j = stats_to_json(simulated_stats());
  auto error_of = [](const json& bad) {
    try {
      stats_from_json(bad);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  json bad = j;
  bad["format"] = "spiketile-stats-0";
  EXPECT_EQ(error_of(bad), "stats: 'format' is 'spiketile-stats-0'; this build reads 'spiketile-stats-2'");
  bad = j;
  bad["model"].erase("n_embd");
  EXPECT_EQ(error_of(bad), "stats: 'model.n_embd' is missing");
  bad = j;
  bad["cycles"]["per_step"] = {1};
  EXPECT_EQ(error_of(bad), "stats: 'cycles.per_step' has 1 entries for 2 steps");
  bad = j;
  bad["cores"][1]["index"] = bad["cores"][0]["index"];
  EXPECT_EQ(error_of(bad), "stats: 'cores[1].index' is " + std::to_string(bad["cores"][0]["index"].get<int>()) +
                              ", the core of cores[0] already");
  // A core the chip does not have, also one whose index would wrap to a real core as an int.
  bad = j;
  bad["cores"][1]["index"] = bad["chip"]["cores_total"];
  EXPECT_EQ(error_of(bad), "stats: 'cores[1].index' is " + bad["chip"]["cores_total"].dump() + "; the chip has " +
                              bad["chip"]["cores_total"].dump() + " cores (chip.cores_total)");
  bad = j;
  bad["cores"][1]["index"] = (int64_t(1) << 32) + bad["cores"][0]["index"].get<int64_t>();
  EXPECT_EQ(error_of(bad), "stats: 'cores[1].index' is " + bad["cores"][1]["index"].dump() +
                              ", above the largest this field holds (2147483647)");
  bad = j;
  bad["cores"][1]["sop_graded"] = -3;
  EXPECT_EQ(error_of(bad), "stats: 'cores[1].sop_graded' must be at least 0 (got -3)");
  const json powered = stats_to_json(simulated_stats_with(power_of("core", 4, 1)));
  bad = powered;
  bad["power"]["gating"] = "cores";
  EXPECT_EQ(error_of(bad), "stats: 'power.gating' is 'cores'; expected none, chip or core");
  bad = powered;
  bad["power"]["gated_static_fraction"] = 1.5;
  EXPECT_EQ(error_of(bad), "stats: 'power.gated_static_fraction' must be within [0, 1] (got 1.5)");
  bad = powered;
  bad["power"]["tiles_gated"] = 250;
  EXPECT_EQ(error_of(bad), "stats: 'power' tiles_powered (4) + tiles_gated (250) must equal tiles_total (256)");
  bad = powered;
  bad["power"]["tiles_total"] = 64;
  EXPECT_EQ(error_of(bad), "stats: 'power.tiles_total' is 64 but chip.cores_total is 256");
  bad = powered;
  bad.erase("chip");
  bad.erase("cycles");
  EXPECT_EQ(error_of(bad), "stats: 'chip' is missing; the power section counts the chip's tiles");
  bad = j;
  bad["counts"]["sum"]["layers"][0]["att.key"]["sop"].erase("graded");
  EXPECT_EQ(error_of(bad), "stats: counts: event counts: 'sop.graded' is missing or not an integer");
  // Counts that would wrap to negative SOPs (and a negative GPU baseline) are refused.
  bad = j;
  bad["counts"]["sum"]["layers"][0]["att.key"]["sop"]["graded"] = -5;
  EXPECT_EQ(error_of(bad), "stats: counts: event counts: 'sop.graded' is -5, below 0");
  bad = j;
  bad["counts"]["per_step_total"][0]["spikes"] = uint64_t(1) << 63;
  EXPECT_EQ(error_of(bad), "stats: counts: event counts: 'spikes' is 9223372036854775808, above the largest count "
                           "(9223372036854775807)");
}

// nlohmann reports a number beyond double (1e999) as out_of_range, not parse_error: the stats
// reader must still name the file and call it invalid JSON (found by fuzz_stats_json).
TEST(Report, StatsFileWithANumberBeyondDoubleIsInvalidJson) {
  const std::string path = ::testing::TempDir() + "/stats_number_overflow.json";
  std::ofstream(path) << R"({"format": "spiketile-stats-2", "steps": 1e999})";
  try {
    read_stats(path);
    ADD_FAILURE() << "read_stats accepted 1e999";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": not valid JSON: ", 0), 0u) << e.what();
  }
  std::remove(path.c_str());
}

// Summing counts that each fit int64 but together do not is an error naming the count, not a wrap
// to a negative number (signed overflow, undefined behaviour, before).
TEST(Report, CountSumsThatLeaveInt64AreAnError) {
  Counts near_max, more;
  near_max.sop_graded = INT64_MAX - 1;
  more.sop_graded = 2;
  try {
    near_max += more;
    FAIL() << "no error; sum " << near_max.sop_graded;
  } catch (const std::overflow_error& e) {
    EXPECT_EQ(std::string(e.what()), "event counts: the sum of 'sop.graded' leaves the 64-bit range");
  }
  Counts fits;
  fits.sop_graded = INT64_MAX - 2;
  fits += more;
  EXPECT_EQ(fits.sop_graded, INT64_MAX);
}

TEST(Report, PaperModeMatchesTheHandCalculationForTheStatedSetting) {
  // T = 3072, d = 512, R̂ = 0.15, E_MAC = 4.5 pJ, E_AC = 0.9 pJ, WKV 6Td, linear rows only:
  // vanilla = 4.5 · 12 · T · d², SpikeGPT = 0.9 · 0.15 · 12 · T · d² + 4.5 · 6 · T · d.
  // Divided by T·d: 4.5 · 12 · 512 / (0.9 · 0.15 · 12 · 512 + 27) = 27648 / 856.44.
  const double expected = 27648.0 / 856.44;
  EXPECT_NEAR(expected, 32.2825, 1e-4);
  const PaperEnergy e = paper_table1(PaperSetting{});
  EXPECT_NEAR(e.ratio(), expected, 1e-12);
  EXPECT_NEAR(e.vanilla_pj, 4.5 * 12 * 3072.0 * 512 * 512, 1e-3);
  const json r = build_report(inputs_for(tiny_stats()));
  EXPECT_NEAR(r["paper"]["stated_setting"]["ratio"].get<double>(), expected, 1e-12);
  // With 7Td and E_MAC 4.6 (the 45 nm table's own figure): 4.6 · 12 · 512 / (829.44 + 4.6 · 7).
  PaperSetting s;
  s.e_mac_pj = 4.6;
  s.wkv_macs_per_channel = 7;
  EXPECT_NEAR(paper_table1(s).ratio(), 28262.4 / (829.44 + 32.2), 1e-12);
  // The quadratic attention rows add 4.5 · (2T²d + 3T²) to vanilla.
  s = PaperSetting{};
  s.quadratic_attention = true;
  const double T = 3072, d = 512;
  EXPECT_NEAR(paper_table1(s).vanilla_pj, 4.5 * (12 * T * d * d + 2 * T * T * d + 3 * T * T), 1e-3);
  EXPECT_EQ(r["paper"]["readings"].size(), 8u);
  // The measured-rate line uses the run's rate (2 spikes / 16 LIF updates) in the same formula.
  PaperSetting measured;
  measured.rate = 2.0 / 16;
  EXPECT_NEAR(r["paper"]["measured_rate"]["ratio_paper_T_d"].get<double>(), paper_table1(measured).ratio(), 1e-12);
}

TEST(Report, GpuRooflineFollowsTheSpecSheet) {
  const RunStats s = tiny_stats();
  const json r = build_report(inputs_for(s));
  const json& dense = r["gpu"]["dense_per_token"];
  EXPECT_DOUBLE_EQ(dense["macs"].get<double>(), 16.0);
  const double weight_bytes = double(s.model.params - 3 * 4 + 4) * 2;  // bf16, one embedding row
  const double state_bytes = 2.0 * 7 * 1 * 4 * 4;                     // 7 fp32 vectors read and written
  EXPECT_DOUBLE_EQ(dense["weight_bytes"].get<double>(), weight_bytes);
  EXPECT_DOUBLE_EQ(dense["state_bytes"].get<double>(), state_bytes);
  const json& b1 = r["gpu"]["roofline"][0];
  const json& b4 = r["gpu"]["roofline"][1];
  EXPECT_EQ(b1["batch"], 1);
  EXPECT_EQ(b4["batch"], 4);
  // A few hundred bytes: resident in the L2, read at its 5.5 TB/s (chips/gpu/h100.yaml, [C]).
  EXPECT_EQ(b1["weights_in"], "L2");
  EXPECT_NEAR(b1["memory_s"].get<double>(), (weight_bytes + state_bytes) / 5.5e12, 1e-24);
  EXPECT_NEAR(b4["memory_s"].get<double>(), (weight_bytes + 4 * state_bytes) / 5.5e12, 1e-24);
  EXPECT_EQ(b1["bound"], "memory");
  EXPECT_NEAR(b1["energy_per_token_pj"].get<double>(), 700 * b1["step_s"].get<double>() * 1e12, 1e-6);
  EXPECT_NEAR(b4["tokens_per_s"].get<double>(), 4 / b4["step_s"].get<double>(), 1e-3);
  // The prompt in one batched pass per sequence: its tokens' compute, the weights read once; the
  // run's mean per token weighs it and the decode steps by their tokens.
  const double P = double(s.tokens.prompt.size()), steps = double(s.tokens.steps);
  ASSERT_GT(P, 0.0);
  const json& pre = b1["prefill"];
  EXPECT_EQ(pre["tokens"].get<double>(), P);
  EXPECT_NEAR(pre["step_s"].get<double>(), std::max(P * b1["compute_s"].get<double>(), b1["memory_s"].get<double>()),
              1e-24);
  EXPECT_NEAR(pre["energy_per_token_pj"].get<double>(), 700 * pre["step_s"].get<double>() / P * 1e12, 1e-6);
  EXPECT_NEAR(b1["energy_per_token_run_pj"].get<double>(),
              (P * pre["energy_per_token_pj"].get<double>() + (steps - P) * b1["energy_per_token_pj"].get<double>()) /
                  steps,
              1e-6);
  // One prompt token is one decode step; a 2-token prompt read by a memory-bound GPU in one pass
  // costs each token half a step.
  RunStats two = s;
  two.tokens.prompt = {1, 2};
  const json r2 = build_report(inputs_for(two));
  const json& p2 = r2["gpu"]["roofline"][0];
  EXPECT_NEAR(p2["energy_per_token_run_pj"].get<double>(), b1["energy_per_token_pj"].get<double>() / 2, 1e-6);
  EXPECT_DOUBLE_EQ(r["chip_vs_gpu"][r["chip_vs_gpu"].size() - 2]["energy_per_token_pj"].get<double>(),
                   b1["energy_per_token_run_pj"].get<double>());
  // 45 nm convention per token: 16 MACs × 4.6, 4 mean_var × 5.5, 1 rsqrt × 24, 8 LIF updates × 5.5,
  // 4 other updates × 4.6; DRAM bytes at 1300 pJ per 8.
  const double compute = 16 * 4.6 + 4 * 5.5 + 1 * 24.0 + 8 * 5.5 + 4 * 4.6;
  const json& conv = r["gpu"]["convention_45nm"][0];
  EXPECT_NEAR(conv["compute_pj"].get<double>(), compute, 1e-9);
  EXPECT_NEAR(conv["dram_pj"].get<double>(), (weight_bytes + state_bytes) / 8 * 1300, 1e-6);
  const GpuSpec h200 = load_gpu_spec((kSourceDir / "chips/gpu/h200.yaml").string());
  EXPECT_EQ(h200.name, "H200");
  EXPECT_DOUBLE_EQ(h200.memory_bandwidth_tb_per_s, 4.8);
  EXPECT_DOUBLE_EQ(h200.peak_dense_tensor_tflops, 989.4);
}

// The figures chips/gpu/h100.yaml and h200.yaml give the residency decision and its prices (the
// same GH100 die), and the H100's device-memory bandwidth.
constexpr double kHopperL2ResidentBytes = 25e6, kHopperL2BytesPerS = 5.5e12, kH100HbmBytesPerS = 3.35e12;
constexpr double kHopperL2PjPerBit = 0.906, kHopperL2HighPjPerBit = 1.56;
constexpr double kHopperHbmPjPerBit = 3.97, kHopperHbmLowPjPerBit = 2.54;

// The L2 and energy-per-bit sections are checked like the energy tables' ranges: every problem
// named with its line.
TEST(Report, GpuSpecMemoryProblemsNameTheLine) {
  const std::string path = ::testing::TempDir() + "/bad_gpu_memory.yaml";
  std::ofstream(path) << "version: 1\nname: X\nvariant: SXM\nsources: none\npeak_dense_tensor_tflops: 1\n"
                         "peak_fp32_tflops: 1\nmemory_bandwidth_tb_per_s: 1\nmemory_gb: 1\nboard_power_w: 1\n"
                         "l2_cache:\n  size_mb: 10\n  resident_mb: 20\n  read_bandwidth_tb_per_s: 2\n"  // lines 10-13
                         "energy_pj_per_bit:\n  hbm: 4\n"                                                    // 14-15
                         "low_pj_per_bit:\n  hbm: 5\n  l2: 1\n"                                             // 16-18
                         "high_pj_per_bit:\n  hbm: 3\n";                                                     // 19-20
  try {
    load_gpu_spec(path);
    FAIL() << "expected GpuSpecError";
  } catch (const GpuSpecError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("(5 problems)"), std::string::npos) << what;
    EXPECT_NE(what.find(":12:"), std::string::npos) << what;
    EXPECT_NE(what.find("l2_cache.resident_mb: 20 MB is more than the cache's size_mb (10 MB)"), std::string::npos)
        << what;
    EXPECT_NE(what.find("energy_pj_per_bit.l2 is missing"), std::string::npos) << what;
    EXPECT_NE(what.find(":17:"), std::string::npos) << what;
    EXPECT_NE(what.find("low_pj_per_bit.hbm: 5 pJ/bit is above energy_pj_per_bit.hbm (4 pJ/bit)"), std::string::npos)
        << what;
    EXPECT_NE(what.find(":18:"), std::string::npos) << what;
    EXPECT_NE(what.find("low_pj_per_bit.l2: a range end without energy_pj_per_bit.l2"), std::string::npos) << what;
    EXPECT_NE(what.find(":20:"), std::string::npos) << what;
    EXPECT_NE(what.find("high_pj_per_bit.hbm: 3 pJ/bit is below energy_pj_per_bit.hbm (4 pJ/bit)"), std::string::npos)
        << what;
  }
  // The shipped specs give every figure, the ranges where their sources disagree.
  const GpuSpec h200 = load_gpu_spec((kSourceDir / "chips/gpu/h200.yaml").string());
  EXPECT_DOUBLE_EQ(h200.l2_resident_mb, 25);
  EXPECT_DOUBLE_EQ(h200.hbm_energy.low, kHopperHbmLowPjPerBit);
  EXPECT_DOUBLE_EQ(h200.hbm_energy.high, kHopperHbmPjPerBit);
  EXPECT_DOUBLE_EQ(h200.l2_energy.low, kHopperL2PjPerBit);
}

// tiny_stats()'s two steps on a model of another shape: the dense baseline's memory depends only
// on the shape (weights and recurrent state), so the added layers may have counted nothing.
RunStats stats_of_shape(int64_t L, int64_t C, int64_t V) {
  RunStats s = tiny_stats();
  s.model = {"shaped.pth", int(L), int(C), int(V), 2 * V * C + L * (13 * C * C + 11 * C) + 4 * C, 8, 8, 16};  // spikegpt.md §5.2
  s.counts.sum.layers.resize(std::size_t(L));
  return s;
}

std::string assumption_with(const json& report, const std::string& text) {
  for (const auto& a : report["gpu"]["assumptions"])
    if (a.get<std::string>().find(text) != std::string::npos) return a.get<std::string>();
  ADD_FAILURE() << "no assumption says '" << text << "': " << report["gpu"]["assumptions"].dump(1);
  return "";
}

// The shipped model (L4 C192 V77) keeps its 3.9 MB of bf16 weights in the H100's L2: they and the
// batch's state fit in the 25 MB one of its two partitions holds, so a decode step reads them at
// the L2's bandwidth and the data-movement row prices them at the L2's energy per bit; the
// assumptions say so with the sizes compared.
TEST(Report, ShippedModelWeightsAreResidentInTheL2AndPricedThere) {
  const double L = 4, C = 192, V = 77;
  const double weight_bytes = (2 * V * C + L * (13 * C * C + 11 * C) + 4 * C - V * C + C) * 2;  // one embedding row
  const double state_held = 7 * L * C * 4, state_moved = 2 * state_held;  // fp32, read and written
  ASSERT_DOUBLE_EQ(weight_bytes, 3882240);
  ReportInputs in = inputs_for(stats_of_shape(4, 192, 77));  // batch 1 and 4
  const json r = build_report(in);
  for (int i : {0, 1}) {
    const json& roof = r["gpu"]["roofline"][i];
    const double b = roof["batch"].get<double>();
    EXPECT_EQ(roof["weights_in"], "L2") << "batch " << b;
    EXPECT_DOUBLE_EQ(roof["held_bytes"].get<double>(), weight_bytes + b * state_held);
    EXPECT_LE(weight_bytes + b * state_held, kHopperL2ResidentBytes);
    EXPECT_NEAR(roof["memory_s"].get<double>(), (weight_bytes + b * state_moved) / kHopperL2BytesPerS, 1e-20);
    const json& conv = r["gpu"]["convention_45nm"][i];
    const json& memory = conv["gpu_memory"];
    const double bits = (weight_bytes / b + state_moved) * 8;
    const double compute = conv["compute_pj"].get<double>();
    EXPECT_EQ(memory["level"], "L2");
    EXPECT_NEAR(memory["pj"].get<double>(), bits * kHopperL2PjPerBit, 1e-3);
    EXPECT_NEAR(memory["total_pj"].get<double>(), compute + bits * kHopperL2PjPerBit, 1e-3);
    EXPECT_NEAR(memory["low_total_pj"].get<double>(), compute + bits * kHopperL2PjPerBit, 1e-3);  // no low end stated
    EXPECT_NEAR(memory["high_total_pj"].get<double>(), compute + bits * kHopperL2HighPjPerBit, 1e-3);
    // The Horowitz DDR row keeps its meaning beside it.
    EXPECT_NEAR(conv["dram_pj"].get<double>(), (weight_bytes / b + state_moved) / 8 * 1300, 1e-3);
  }
  EXPECT_EQ(assumption_with(r, "batch 1: "),
            "batch 1: weights and state resident in the H100's L2: 3.88 MB of weights + 1 × 0.0215 MB of recurrent "
            "state = 3.9 MB <= 25 MB, what data every SM reads can occupy of its 50 MB L2 (each of its partitions "
            "keeps its own copy), read at 5.5 TB/s");
  EXPECT_NE(assumption_with(r, "data movement").find("L2 0.906 pJ/bit (0.906 to 1.56 where sources disagree)"),
            std::string::npos);
  // The chip-vs-GPU table names the row by the GPU and the level.
  bool named = false;
  for (const auto& v : r["chip_vs_gpu"]) named |= v["name"] == "GPU dense, 45 nm convention + H100 L2, batch 4";
  EXPECT_TRUE(named) << r["chip_vs_gpu"].dump(1);
  EXPECT_NE(summary_text(r).find("H100 roofline batch 1: "), std::string::npos);
  EXPECT_NE(summary_text(r).find("-bound, weights in L2, "), std::string::npos);
}

// A model too large for the L2's 25 MB (GPT-2 small's shape: 131 M weights, 261 MB in bf16), a
// batch whose state overflows it, and a spec without L2 figures all leave the weights in HBM: read
// at the device-memory bandwidth and priced at HBM's energy per bit, the assumptions saying why.
TEST(Report, WeightsTooLargeForTheL2AreReadFromHbm) {
  const double L = 12, C = 768, V = 50277;
  const double weight_bytes = (2 * V * C + L * (13 * C * C + 11 * C) + 4 * C - V * C + C) * 2;
  const double state_moved = 2 * 7 * L * C * 4;
  const json r = build_report(inputs_for(stats_of_shape(12, 768, 50277)));
  const json& roof = r["gpu"]["roofline"][0];
  EXPECT_EQ(roof["weights_in"], "HBM");
  EXPECT_GT(weight_bytes, kHopperL2ResidentBytes);
  EXPECT_NEAR(roof["memory_s"].get<double>(), (weight_bytes + state_moved) / kH100HbmBytesPerS, 1e-18);
  const json& conv = r["gpu"]["convention_45nm"][0];
  const double bits = (weight_bytes + state_moved) * 8, compute = conv["compute_pj"].get<double>();
  EXPECT_EQ(conv["gpu_memory"]["level"], "HBM");
  EXPECT_NEAR(conv["gpu_memory"]["total_pj"].get<double>(), compute + bits * kHopperHbmPjPerBit, 1);
  EXPECT_NEAR(conv["gpu_memory"]["low_total_pj"].get<double>(), compute + bits * kHopperHbmLowPjPerBit, 1);
  EXPECT_NEAR(conv["gpu_memory"]["high_total_pj"].get<double>(), compute + bits * kHopperHbmPjPerBit, 1);
  EXPECT_EQ(assumption_with(r, "batch 1: "),
            "batch 1: weights and state read from HBM, not resident in the H100's L2 (too large): 261 MB of weights + "
            "1 × 0.258 MB of recurrent state = 262 MB > 25 MB, what data every SM reads can occupy of its 50 MB L2 "
            "(each of its partitions keeps its own copy), read at 3.35 TB/s");

  // The shipped model at batch 1000: 3.88 MB of weights + 1000 × 21,504 bytes of state = 25.4 MB.
  ReportInputs crowded = inputs_for(stats_of_shape(4, 192, 77));
  crowded.batch = 1000;
  const json c = build_report(crowded);
  EXPECT_EQ(c["gpu"]["roofline"][0]["weights_in"], "L2");
  EXPECT_EQ(c["gpu"]["roofline"][1]["weights_in"], "HBM");
  EXPECT_NE(assumption_with(c, "batch 1000: ").find("= 25.4 MB > 25 MB"), std::string::npos);

  // A spec that gives no L2: device memory, said as such.
  ReportInputs no_l2 = inputs_for(stats_of_shape(4, 192, 77));
  no_l2.gpu.l2_resident_mb = no_l2.gpu.l2_cache_mb = no_l2.gpu.l2_read_bandwidth_tb_per_s = 0;
  const json n = build_report(no_l2);
  EXPECT_EQ(n["gpu"]["roofline"][0]["weights_in"], "HBM");
  EXPECT_EQ(assumption_with(n, "batch 1: "),
            "batch 1: weights and state read from HBM at 3.35 TB/s every step: the spec gives no L2 figures");
}

TEST(Report, GpuSpecProblemsNameTheLine) {
  const std::string path = ::testing::TempDir() + "/bad_gpu.yaml";
  std::ofstream(path) << "version: 1\nname: X\nvariant: SXM\nsources: none\npeak_dense_tensor_tflops: fast\n"
                         "peak_fp32_tflops: 1\nmemory_bandwidth_tb_per_s: 1\nmemory_gb: 1\nboard_power_w: 1\n"
                         "bandwith: 3\n";
  try {
    load_gpu_spec(path);
    FAIL() << "expected GpuSpecError";
  } catch (const GpuSpecError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("invalid GPU spec " + path + " (2 problems):"), std::string::npos) << what;
    EXPECT_NE(what.find(":5:"), std::string::npos) << what;
    EXPECT_NE(what.find("unknown key 'bandwith'"), std::string::npos) << what;
  }
}

// yaml-cpp drops comments, so "every number cites its source" is checked on the text.
TEST(Report, EveryGpuNumberCarriesASourceComment) {
  const std::regex numeric(R"(^\s*[a-z0-9_]+\s*:\s*[-+]?[0-9.]+\s*(#.*)?$)");
  for (const char* name : {"h100", "h200"}) {
    std::ifstream in(kSourceDir / "chips/gpu" / (std::string(name) + ".yaml"));
    std::string line;
    int numbers = 0;
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_match(line, m, numeric)) continue;
      ++numbers;
      EXPECT_GT(m[1].length(), 3) << name << ": a number without a source: " << line;
    }
    // version, 7 spec figures (8-bit peaks included), 3 of the L2, 2 energies per bit and 2 range ends,
    // 2 baseline byte widths
    EXPECT_EQ(numbers, 17) << name;
  }
}

// The report's JSON keys are an interface (docs/report.md §5): changing them must be deliberate.
std::set<std::string> keys(const json& j) {
  std::set<std::string> k;
  for (const auto& [key, value] : j.items()) k.insert(key);
  return k;
}

// A pipelined prefill's throughput and the decode's latency, apart: the fixture's two steps at
// 500 MHz as a 1-token prefill of 1000 cycles (2 µs: 500 k tokens/s) and one decoded token of
// 3000 cycles (6000 ns); without a prefill, every step counts as decoded.
TEST(Report, PrefillThroughputAndDecodeLatencyApart) {
  RunStats s = simulated_stats();
  s.cycles->prefill_steps = 1;
  s.cycles->prefill_cycles = 1000;
  const json chip = build_report(inputs_for(s))["chip"];
  EXPECT_EQ(chip["prefill_tokens"], 1);
  EXPECT_DOUBLE_EQ(chip["prefill_tokens_per_s"].get<double>(), 500e3);
  EXPECT_EQ(chip["decode_tokens"], 1);
  EXPECT_DOUBLE_EQ(chip["decode_latency_per_token_ns"].get<double>(), 6000.0);
  const json plain = build_report(inputs_for(simulated_stats()))["chip"];
  EXPECT_TRUE(plain["prefill_tokens_per_s"].is_null());
  EXPECT_EQ(plain["decode_tokens"], 2);
  EXPECT_DOUBLE_EQ(plain["decode_latency_per_token_ns"].get<double>(), 4000.0);
}

// The verdict compares, per baseline, every metric both sides have, from the report's own figures:
// energy against every GPU row; latency, energy-delay product and tokens/s against the rooflines
// (the 45 nm convention has no time). Winner and factor follow from the two numbers; the terms
// name the largest share of the chip's energy and the roofline's bound. The text opens with it.
TEST(Report, VerdictNamesTheWinnerPerMetricAndTheTermBehindIt) {
  const json r = build_report(inputs_for(simulated_stats()));
  const json& chip = r["chip"];
  const double chip_pj = chip["energy_per_token_pj"].get<double>();
  const json& verdict = r["verdict"];
  // Each convention row twice (DDR DRAM, then the GPU's own memory), then every roofline.
  const std::size_t energy_only = 2 * r["gpu"]["convention_45nm"].size();
  ASSERT_EQ(verdict.size(), energy_only + r["gpu"]["roofline"].size());
  const json& dram = verdict[0]["comparisons"];
  ASSERT_EQ(dram.size(), 1u);
  const double dram_pj = r["gpu"]["convention_45nm"][0]["total_pj"].get<double>();
  EXPECT_EQ(dram[0]["winner"], chip_pj < dram_pj ? "chip" : "baseline");
  EXPECT_NEAR(dram[0]["factor"].get<double>(), std::max(chip_pj, dram_pj) / std::min(chip_pj, dram_pj), 1e-9);
  const json& roof = r["gpu"]["roofline"][0];
  const json& gpu_memory = r["gpu"]["convention_45nm"][0]["gpu_memory"];
  EXPECT_EQ(verdict[r["gpu"]["convention_45nm"].size()]["comparisons"][0]["baseline_term"],
            fmt::format("L2 traffic {:.0f} % of its energy",
                        100 * gpu_memory["pj"].get<double>() / gpu_memory["total_pj"].get<double>()));
  const json& vs_roof = verdict[energy_only]["comparisons"];
  ASSERT_EQ(vs_roof.size(), 4u);
  std::map<std::string, json> by_metric;
  for (const auto& c : vs_roof) by_metric[c["metric"].get<std::string>()] = c;
  const double chip_ns = chip["decode_latency_per_token_ns"].is_null() ? chip["latency_per_token_ns"].get<double>()
                                                                        : chip["decode_latency_per_token_ns"].get<double>();
  const double gpu_ns = roof["step_s"].get<double>() * 1e9;
  EXPECT_DOUBLE_EQ(by_metric["latency per token"]["chip"].get<double>(), chip_ns);
  EXPECT_DOUBLE_EQ(by_metric["latency per token"]["baseline"].get<double>(), gpu_ns);
  EXPECT_EQ(by_metric["latency per token"]["winner"], chip_ns < gpu_ns ? "chip" : "baseline");
  EXPECT_NEAR(by_metric["energy-delay product per token"]["chip"].get<double>(), chip_pj * chip_ns * 1e-9, 1e-9);
  const double gpu_tps = roof["tokens_per_s"].get<double>(), chip_tps = chip["tokens_per_s"].get<double>();
  EXPECT_EQ(by_metric["tokens per second"]["winner"], chip_tps > gpu_tps ? "chip" : "baseline");
  // The chip's largest share: the run's biggest action or static energy, with its percentage.
  std::string largest = "static energy";
  double most = chip["static_per_token_pj"].get<double>();
  for (const auto& a : chip["actions"])
    if (a["energy_per_token_pj"].get<double>() > most) {
      most = a["energy_per_token_pj"].get<double>();
      largest = a["action"].get<std::string>();
    }
  EXPECT_EQ(by_metric["energy per token"]["chip_term"],
            fmt::format("{} {:.0f} % of the chip's energy", largest, 100 * most / chip_pj));
  EXPECT_NE(by_metric["energy per token"]["baseline_term"].get<std::string>().find(roof["bound"].get<std::string>() +
                                                                                    "-bound decode step"),
            std::string::npos);
  EXPECT_NE(by_metric["energy per token"]["baseline_term"].get<std::string>().find("weights in L2"), std::string::npos);

  // The same figures beside the energy in the chip-vs-GPU table: the chip's decode latency, each
  // roofline's step; the 45 nm convention has no time.
  const json& versus = r["chip_vs_gpu"];
  EXPECT_DOUBLE_EQ(versus[0]["latency_per_token_ns"].get<double>(), chip_ns);
  EXPECT_NEAR(versus[0]["edp_pj_s"].get<double>(), chip_pj * chip_ns * 1e-9, 1e-9);
  EXPECT_TRUE(versus[1]["latency_per_token_ns"].is_null());
  EXPECT_TRUE(versus[1]["edp_pj_s"].is_null());
  const json& roof_row = versus[versus.size() - r["gpu"]["roofline"].size()];
  EXPECT_DOUBLE_EQ(roof_row["latency_per_token_ns"].get<double>(), gpu_ns);
  EXPECT_DOUBLE_EQ(roof_row["tokens_per_s"].get<double>(), gpu_tps);
  const std::string text = summary_text(r);
  const std::size_t verdict_at = text.find("verdict (chip vs each dense GPU baseline, per token):");
  ASSERT_NE(verdict_at, std::string::npos) << text;
  EXPECT_LT(verdict_at, text.find("chip energy per token by action")) << "the verdict comes first";
  EXPECT_NE(text.find("    " + verdict_sentence(vs_roof[0])), std::string::npos) << text;
}

// --gpu-precision: 8-bit weights halve the weight bytes a memory-bound step streams and use the
// spec's 8-bit tensor peak; a spec without that peak is refused naming the field.
TEST(Report, GpuPrecisionChangesWeightBytesAndTensorPeak) {
  ReportInputs bf16 = inputs_for(simulated_stats()), fp8 = bf16;
  fp8.gpu = at_precision(fp8.gpu, GpuPrecision::fp8);
  fp8.gpu_precision = "fp8";
  EXPECT_EQ(fp8.gpu.weight_bytes, 1);
  EXPECT_DOUBLE_EQ(fp8.gpu.peak_dense_tensor_tflops, 1978.9);  // chips/gpu/h100.yaml, [K]
  EXPECT_DOUBLE_EQ(at_precision(bf16.gpu, GpuPrecision::int8).peak_dense_tensor_tflops, 1978.9);
  const json a = build_report(bf16), b = build_report(fp8);
  EXPECT_EQ(b["inputs"]["gpu"]["precision"], "fp8");
  EXPECT_EQ(b["gpu"]["spec"]["weight_bytes"], 1);
  // Batch 1 streams the weights and the state once: bytes = weights + state, at the bandwidth of
  // where they reside (the L2 for both precisions).
  ASSERT_EQ(a["gpu"]["roofline"][0]["weights_in"], b["gpu"]["roofline"][0]["weights_in"]);
  const double bw = a["gpu"]["roofline"][0]["memory_bandwidth_tb_per_s"].get<double>() * 1e12;
  const double bytes16 = a["gpu"]["roofline"][0]["memory_s"].get<double>() * bw;
  const double bytes8 = b["gpu"]["roofline"][0]["memory_s"].get<double>() * bw;
  const double weights8 = bytes16 - bytes8;  // the byte each weight no longer takes
  EXPECT_GT(weights8, 0.0);
  EXPECT_NEAR(bytes16 - 2 * weights8, bytes8 - weights8, 1e-3) << "the same state bytes either way";
  GpuSpec without = bf16.gpu;
  without.peak_dense_fp8_tflops = 0;
  try {
    at_precision(without, GpuPrecision::fp8);
    ADD_FAILURE() << "a spec without an fp8 peak was accepted";
  } catch (const GpuSpecError& e) {
    EXPECT_NE(std::string(e.what()).find("no peak_dense_fp8_tflops (needed for --gpu-precision fp8)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(parse_gpu_precision("fp16"), std::invalid_argument);
}

TEST(Report, JsonSchemaIsStable) {
  const json r = build_report(inputs_for(simulated_stats()));
  EXPECT_EQ(r["format"], "spiketile-report-1");
  using S = std::set<std::string>;
  EXPECT_EQ(keys(r), (S{"format", "inputs", "model", "tokens", "measured", "not_measured", "chip", "per_token",
                        "per_layer", "per_op", "per_core", "mesh", "critical_path", "raster", "firing_rate_mean", "gpu",
                        "chip_vs_gpu", "paper", "verdict", "projection_inputs"}));
  EXPECT_EQ(keys(r["projection_inputs"]), (S{"kind", "spike_input_steps", "per_op", "rate_mean"}));
  EXPECT_EQ(keys(r["projection_inputs"]["per_op"][0]), (S{"op", "rate", "per_layer"}));
  EXPECT_EQ(keys(r["mesh"]), (S{"chip_grid", "mesh", "cycles", "cores", "links"}));
  EXPECT_EQ(keys(r["mesh"]["cores"][0]), (S{"core", "chip", "row", "col", "unit", "utilization"}));
  EXPECT_EQ(keys(r["verdict"][0]), (S{"baseline", "comparisons"}));
  EXPECT_EQ(keys(r["verdict"][0]["comparisons"][0]),
            (S{"metric", "unit", "chip", "baseline", "winner", "factor", "chip_term", "baseline_term"}));
  EXPECT_EQ(keys(r["inputs"]), (S{"stats", "level", "energy_table", "convention_table", "chip", "gpu", "batch",
                                  "encoding"}));
  EXPECT_EQ(keys(r["chip"]),
            (S{"counts_source", "actions", "dynamic_energy_pj", "dynamic_per_token_pj", "static_power_mw_per_core",
               "power", "cores_total", "cores_used", "run_seconds", "static_energy_pj", "static_per_token_pj",
               "energy_per_token_pj", "latency_per_token_ns", "tokens_per_s", "prefill_tokens", "prefill_tokens_per_s",
               "decode_tokens", "decode_latency_per_token_ns", "energy_includes_static", "range", "warnings", "components", "side_by_side"}));
  EXPECT_EQ(keys(r["chip"]["components"][0]), (S{"component", "energy_per_token_pj", "share_of_total"}));
  EXPECT_EQ(keys(r["chip"]["power"]),
            (S{"gating", "gated_static_fraction", "tiles_total", "tiles_powered", "tiles_gated", "tiles_routing_only",
               "chips_total", "chips_powered", "charged_tiles", "recorded", "summary"}));
  EXPECT_EQ(keys(r["chip"]["actions"][0]),
            (S{"action", "count", "count_per_token", "pj_each", "energy_pj", "energy_per_token_pj", "share",
               "share_of_total"}));
  EXPECT_EQ(keys(r["per_token"][0]),
            (S{"step", "sop_binary", "sop_graded", "sop_bit_serial", "dense_macs", "neuron_updates", "sfu_ops", "spikes",
               "synapse_read_bits", "state_read_bytes", "state_write_bytes", "flit_hops", "flits_delivered", "inter_chip_flits",
               "dynamic_energy_pj", "cycles", "latency_ns"}));
  EXPECT_EQ(keys(r["per_layer"][0]), (S{"layer", "firing_rate_att", "firing_rate_ffn", "relu2_density",
                                        "counts_per_token", "energy_per_token_pj", "actions_per_token"}));
  EXPECT_EQ(keys(r["per_op"][0]), (S{"op", "counts_per_token", "energy_per_token_pj", "actions_per_token"}));
  EXPECT_EQ(keys(r["per_core"][0]), (S{"core", "chip", "row", "col", "unit", "layer", "op", "busy_cycles",
                                       "stall_cycles", "energy_per_token_pj", "actions_per_token"}));
  EXPECT_EQ(keys(r["gpu"]), (S{"spec", "assumptions", "dense_per_token", "convention_45nm", "roofline", "measured"}));
  EXPECT_TRUE(r["gpu"]["measured"].is_null());  // no --gpu-measured file
  EXPECT_EQ(keys(r["gpu"]["roofline"][0]),
            (S{"batch", "weights_in", "held_bytes", "memory_bandwidth_tb_per_s", "compute_s", "memory_s", "step_s",
               "bound", "tokens_per_s", "energy_per_token_pj", "prefill", "energy_per_token_run_pj"}));
  EXPECT_EQ(keys(r["gpu"]["convention_45nm"][0]),
            (S{"batch", "compute_pj", "mac_pj", "nonlinear_pj", "dram_bytes", "dram_pj", "total_pj", "gpu_memory"}));
  EXPECT_EQ(keys(r["gpu"]["convention_45nm"][0]["gpu_memory"]),
            (S{"level", "bytes", "pj_per_bit", "pj", "total_pj", "low_total_pj", "high_total_pj"}));
  EXPECT_EQ(keys(r["gpu"]["spec"]),
            (S{"name", "variant", "path", "sources", "peak_dense_tensor_tflops", "peak_fp32_tflops",
               "memory_bandwidth_tb_per_s", "board_power_w", "l2_cache_mb", "l2_resident_mb",
               "l2_read_bandwidth_tb_per_s", "hbm_pj_per_bit", "l2_pj_per_bit", "weight_bytes", "state_bytes"}));
  EXPECT_EQ(keys(r["gpu"]["spec"]["l2_pj_per_bit"]), (S{"pj", "low", "high"}));
  EXPECT_EQ(keys(r["chip_vs_gpu"][0]), (S{"name", "energy_per_token_pj", "basis", "ratio_to_chip",
                                          "latency_per_token_ns", "tokens_per_s", "edp_pj_s"}));
  EXPECT_EQ(keys(r["paper"]), (S{"claim", "formulas", "sources", "readings", "stated_setting", "measured_rate",
                                 "counted"}));
  EXPECT_EQ(keys(r["paper"]["counted"]),
            (S{"dense_macs_per_token", "chip_sops_per_token", "operation_ratio", "dense_convention_pj",
               "chip_convention_pj", "convention_ratio", "chip_table_pj", "gpu_roofline_batch1_pj", "roofline_ratio",
               "note"}));
}

// ---- measured GPU baselines ---------------------------------------------------------------------

std::vector<std::string> html_problems(const std::string& html);

// A measurement of tiny_stats()'s model (L1 C4 V3) on a made-up board, as spiketile_gpu_bench writes it.
GpuMeasurement sample_measurement() {
  GpuMeasurement m;
  m.tool = "spiketile_gpu_bench (bench/gpu)";
  m.date = "2026-12-08T10:00:00Z";
  m.gpu = {"NVIDIA H100 80GB HBM3", "00000000:19:00.0", "9.0", 132, 79.2, "570.86.15", "13.0", "13.0.2",
           GpuClocks{1980, 2619}, 700.0};
  m.model = {"tiny.pth", 1, 4, 3, 2 * 3 * 4 + 1 * (13 * 16 + 11 * 4) + 4 * 4, true, false};
  m.energy_counter = "nvmlDeviceGetTotalEnergyConsumption (board energy, millijoules)";
  m.idle = GpuIdle{10.0, 700.0, 70.0};
  GpuMeasuredRow row;
  row.precision = "fp16";
  row.variant = "graph";
  row.batch = 8;
  row.steps = 40000;
  row.seconds = 5.0;
  row.steps_per_s = 8000;
  row.tokens_per_s = 64000;
  row.energy_j = 1000.0;                       // 200 W
  row.mean_power_w = 200.0;
  row.energy_per_token_j = 1000.0 / 320000;    // 3.125 mJ
  row.energy_per_token_above_idle_j = (1000.0 - 70.0 * 5) / 320000;
  row.clocks = GpuClocks{1980, 2619};
  row.check = {16, 8, 120, 1e-4, 2e-4, 10.0 / 2048, 0.001, 0.01, 0.02, 1.0};
  m.rows.push_back(row);
  row.variant = "stream";
  row.batch = 1;
  row.steps_per_s = row.tokens_per_s = 2000;
  row.steps = 10000;
  row.energy_j = 500.0;
  row.mean_power_w = 100.0;
  row.energy_per_token_j = 0.05;
  row.energy_per_token_above_idle_j = (500.0 - 350.0) / 10000;
  m.rows.push_back(row);
  m.not_measured = {"int8: cuBLAS's int8 matrix products (IMMA) need every matrix dimension a multiple of 4"};
  m.source_path = "h100.json";
  return m;
}

TEST(Report, MeasuredGpuRowsStandBesideTheRooflineInEveryForm) {
  ReportInputs in = inputs_for(simulated_stats());
  in.gpu_measured = {sample_measurement()};
  const json r = build_report(in);
  const json& measured = r["gpu"]["measured"];
  ASSERT_EQ(measured.size(), 1u);
  EXPECT_EQ(measured[0]["file"], "h100.json");
  EXPECT_EQ(measured[0]["gpu"]["driver"], "570.86.15");
  EXPECT_DOUBLE_EQ(measured[0]["rows"][0]["energy_per_token_pj"].get<double>(), 1000.0 / 320000 * 1e12);
  EXPECT_DOUBLE_EQ(measured[0]["rows"][0]["latency_per_step_ns"].get<double>(), 1e9 / 8000);
  // Every measured row with an energy stands in the chip-vs-GPU table, after the rooflines.
  const json& last = r["chip_vs_gpu"].back();
  EXPECT_EQ(last["name"], "NVIDIA H100 80GB HBM3 measured, fp16 stream, batch 1");
  EXPECT_DOUBLE_EQ(last["energy_per_token_pj"].get<double>(), 0.05e12);
  EXPECT_DOUBLE_EQ(last["latency_per_token_ns"].get<double>(), 1e9 / 2000);
  EXPECT_DOUBLE_EQ(last["tokens_per_s"].get<double>(), 2000);
  // The verdict weighs the chip against the board's best row (lowest energy per token).
  const json& v = r["verdict"].back();
  EXPECT_EQ(v["baseline"], "NVIDIA H100 80GB HBM3 measured, fp16 graph, batch 8 (its lowest energy per token)");
  EXPECT_DOUBLE_EQ(v["comparisons"][0]["baseline"].get<double>(), 1000.0 / 320000 * 1e12);

  const std::string text = summary_text(r);
  for (const char* expected : {"measured on NVIDIA H100 80GB HBM3 (132 SMs, compute capability 9.0, 79 GiB; driver "
                               "570.86.15, CUDA 13.0, cuBLAS 13.0.2; max clocks SM 1980 / memory 2619 MHz; power limit "
                               "700 W), measured 2026-12-08T10:00:00Z (h100.json)",
                               "idle: 70.0 W over 10.0 s", "fp16 graph batch 8", "3.12 mJ", "1980/2619",
                               "not measured: int8: cuBLAS's int8"})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  const std::string csv = report_csv(r);
  EXPECT_NE(csv.find("gpu.measured[0].rows[8].steps_per_s,8000.0"), std::string::npos);
  EXPECT_NE(csv.find("gpu.measured[0].gpu.max_clocks.sm_mhz,1980.0"), std::string::npos);
  const std::string html = report_html(r);
  EXPECT_NE(html.find("<h3>Measured on NVIDIA H100 80GB HBM3</h3>"), std::string::npos);
  EXPECT_NE(html.find("fp16 stream batch 1"), std::string::npos);
}

TEST(Report, MeasuredRowsWithoutAnEnergyCounterShowTheirSpeedOnly) {
  GpuMeasurement m = sample_measurement();
  m.idle.reset();
  m.energy_counter = "none: no NVML: cannot load libnvidia-ml.so.1";
  for (GpuMeasuredRow& row : m.rows) row.energy_j = row.mean_power_w = row.energy_per_token_j = row.energy_per_token_above_idle_j = std::nullopt;
  ReportInputs in = inputs_for(simulated_stats());
  in.gpu_measured = {m};
  const json r = build_report(in);
  for (const auto& row : r["chip_vs_gpu"]) EXPECT_EQ(row["name"].get<std::string>().find("measured"), std::string::npos);
  EXPECT_EQ(r["verdict"].back()["baseline"].get<std::string>().find("measured"), std::string::npos);
  EXPECT_TRUE(r["gpu"]["measured"][0]["rows"][0]["energy_per_token_pj"].is_null());
  EXPECT_NE(summary_text(r).find("energy: none: no NVML"), std::string::npos);
  EXPECT_EQ(html_problems(report_html(r)), std::vector<std::string>{});
}

TEST(Report, MeasurementFilesRoundTripAndEveryProblemNamesItsField) {
  const GpuMeasurement m = sample_measurement();
  const json good = gpu_measurement_to_json(m);
  EXPECT_EQ(gpu_measurement_to_json(gpu_measurement_from_json(good)), good);
  auto error_of = [&](const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    try {
      gpu_measurement_from_json(j);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases{
      {[](json& j) { j["format"] = "spiketile-report-1"; },
       "GPU measurement: 'format' is 'spiketile-report-1'; expected 'spiketile-gpu-measured-1'"},
      {[](json& j) { j["gpu"].erase("name"); }, "'gpu.name' is missing"},
      {[](json& j) { j["gpu"]["sm_count"] = 0; }, "'gpu.sm_count' must be at least 1 (got 0)"},
      {[](json& j) { j["model"]["n_embd"] = "192"; }, "'model.n_embd' must be an integer"},
      {[](json& j) { j["rows"] = json::array(); }, "'rows' must be an array of at least one measured configuration"},
      {[](json& j) { j["rows"][1]["precision"] = "fp32"; }, "'rows[1].precision' is 'fp32'; expected one of fp16, bf16, int8"},
      {[](json& j) { j["rows"][0]["variant"] = "eager"; }, "'rows[0].variant' is 'eager'"},
      {[](json& j) { j["rows"][0]["batch"] = 0; }, "'rows[0].batch' must be at least 1 (got 0)"},
      {[](json& j) { j["rows"][0]["steps_per_s"] = -3; }, "'rows[0].steps_per_s' must be above 0"},
      {[](json& j) { j["rows"][0]["energy_per_token_j"] = "a lot"; }, "'rows[0].energy_per_token_j' must be a number"},
      {[](json& j) { j["rows"][0]["clocks"] = 5; }, "'rows[0].clocks' must be an object"},
      {[](json& j) { j["rows"][0]["check"]["max_normalized_error"] = 0.5; }, "'rows[0].check' did not pass"},
      {[](json& j) { j["rows"][0]["check"]["spike_flip_share"] = 2; }, "'rows[0].check.spike_flip_share' is a share"},
      {[](json& j) { j["rows"][1]["batch"] = 8; j["rows"][1]["variant"] = "graph"; }, "'rows[1]' repeats fp16 graph batch 8 of rows[0]"},
      {[](json& j) { j["idle"]["seconds"] = 0; }, "'idle.seconds' must be above 0"},
      {[](json& j) { j["not_measured"][0] = 3; }, "'not_measured[0]' must be a string"},
  };
  for (const auto& [edit, expected] : cases) {
    const std::string error = error_of(edit);
    EXPECT_NE(error.find(expected), std::string::npos) << "expected: " << expected << "\ngot: " << error;
  }
  json nulls = good;  // null where not measured is fine
  for (const char* key : {"energy_j", "mean_power_w", "energy_per_token_j", "energy_per_token_above_idle_j", "clocks"})
    nulls["rows"][0][key] = nullptr;
  nulls["idle"] = nullptr;
  nulls["gpu"]["max_clocks"] = nullptr;
  EXPECT_NO_THROW(gpu_measurement_from_json(nulls));
}

TEST(Report, AMeasurementOfAnotherModelIsRefusedNamingFileAndField) {
  const GpuMeasurement m = sample_measurement();
  StatsModel shipped{"models/spikegpt-fortunes.pth", 4, 192, 77, 1955712, 8, 8, 16};
  try {
    require_same_model(m, shipped, "s.json");
    ADD_FAILURE() << "a measurement of L1 C4 V3 passed for L4 C192 V77";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("h100.json: 'model.n_layer' is 1, but the stats' model (s.json) has n_layer 4"),
              std::string::npos)
        << e.what();
  }
  StatsModel same = shipped;
  same.n_layer = 1, same.n_embd = 4, same.vocab = 3;
  EXPECT_NO_THROW(require_same_model(m, same, "s.json"));
}

// ---- HTML -------------------------------------------------------------------------------------

const std::vector<std::string> kChartIds{"chart-chip-vs-gpu", "chart-energy-by-action", "chart-energy-by-layer",
                                         "chart-firing-rate", "chart-energy-per-token", "chart-mesh", "chart-raster"};

// simulated_stats's inputs with a raster of its one layer (4 neurons, 2 steps), as --raster gives.
ReportInputs simulated_with_raster() {
  ReportInputs in = inputs_for(simulated_stats());
  in.raster = SpikeRaster{"spikes.npy", 0, 2, 4, {{0, 1}, {1, 3}}, {{1, 0}}};
  return in;
}

std::vector<std::string> html_problems(const std::string& html);

// The critical path section sets the compiler's bound beside the measured decode cycles and sums
// the path's cycles by layer; the HTML draws every stage and every step of the path.
TEST(ReportHtml, CriticalPathShowsTheCompilersStagesBesideTheMeasuredCycles) {
  const json r = build_report(inputs_for(with_estimate(simulated_stats())));
  const json& cp = r["critical_path"];
  EXPECT_EQ(cp["bound_cycles_per_token"], 900.0);
  EXPECT_DOUBLE_EQ(cp["measured_decode_cycles_per_token"].get<double>(), 2000.0);  // 4,000 cycles over 2 steps, no prefill
  ASSERT_EQ(cp["per_layer"].size(), 2u);
  EXPECT_EQ(cp["per_layer"][0], (json{{"layer", "global"}, {"cycles", 500.0}, {"share", 500.0 / 900.0}}));
  EXPECT_EQ(cp["per_layer"][1]["cycles"], 400.0);
  EXPECT_TRUE(build_report(inputs_for(simulated_stats()))["critical_path"].is_null());
  const std::string html = report_html(r);
  const auto begin = html.find("<svg id=\"chart-critical-path\""), end = html.find("</svg>", begin);
  ASSERT_NE(begin, std::string::npos);
  const std::string svg = html.substr(begin, end - begin);
  int rects = 0;
  for (auto at = svg.find("<rect "); at != std::string::npos; at = svg.find("<rect ", at + 1)) ++rects;
  EXPECT_EQ(rects, 5);  // three path steps, two stages
  EXPECT_NE(svg.find("head[0,0]: cycles 300 to 800"), std::string::npos);
  EXPECT_NE(svg.find("measured 2000"), std::string::npos);
  EXPECT_NE(html.find("cycles on the critical path"), std::string::npos);
  const auto problems = html_problems(html);
  EXPECT_TRUE(problems.empty()) << problems.front();
}

// The mesh heat map reads utilization and link loads from the stats: core 0 busy 700 of 4,000
// cycles, core 1 idle, the rest without a unit; router 0 sends 30 flits east and router 1 10 west
// (one link, both directions), router 7 (the east edge of chip 0's 8 × 8 mesh) 4 flits east, off
// the chip: an inter-chip link.
TEST(ReportHtml, MeshHeatMapShowsUtilizationAndLinkLoadFromTheStats) {
  RunStats s = simulated_stats();
  s.network->detail_json =
      R"({"noc.router[0].out.E.flits": 30, "noc.router[1].out.W.flits": 10, "noc.router[7].out.E.flits": 4,)"
      R"( "noc.router[3].out.N.flits": 0, "noc.flit_hops.mesh": 40})";
  const json r = build_report(inputs_for(s));
  const json& mesh = r["mesh"];
  EXPECT_EQ(mesh["chip_grid"], json::array({1, 4}));  // chips/default.yaml: a chain of 4
  EXPECT_EQ(mesh["mesh"], json::array({8, 8}));
  ASSERT_EQ(mesh["cores"].size(), 256u);
  EXPECT_DOUBLE_EQ(mesh["cores"][0]["utilization"].get<double>(), 700.0 / 4000.0);
  EXPECT_DOUBLE_EQ(mesh["cores"][1]["utilization"].get<double>(), 0.0);
  EXPECT_TRUE(mesh["cores"][2]["utilization"].is_null());
  EXPECT_EQ(mesh["cores"][65]["chip"], 1);  // chips are 64 cores each, numbered row-major in the grid
  ASSERT_EQ(mesh["links"].size(), 3u);  // the zero-flit port is left out
  EXPECT_EQ(mesh["links"][0], (json{{"core", 0}, {"port", "E"}, {"flits", 30}, {"inter_chip", false}}));
  EXPECT_EQ(mesh["links"][2], (json{{"core", 7}, {"port", "E"}, {"flits", 4}, {"inter_chip", true}}));

  const std::string html = report_html(r);
  const auto begin = html.find("<svg id=\"chart-mesh\""), end = html.find("</svg>", begin);
  ASSERT_NE(begin, std::string::npos);
  const std::string svg = html.substr(begin, end - begin);
  auto occurrences = [&](const std::string& what) {
    int n = 0;
    for (auto at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(occurrences("<rect "), 256);
  EXPECT_EQ(occurrences("<line "), 3);
  EXPECT_EQ(occurrences("no unit</title>"), 254);
  EXPECT_NE(svg.find("att.key, busy 17.5 % of the run"), std::string::npos);
  EXPECT_NE(svg.find("inter-chip link from core 7 port E: 4 flits"), std::string::npos);
  EXPECT_NE(svg.find("busiest link 30 flits"), std::string::npos);
  const auto problems = html_problems(html);
  EXPECT_TRUE(problems.empty()) << problems.front();
}

// Well-formedness of the generated HTML: every non-void element closed in order, attributes quoted.
std::vector<std::string> html_problems(const std::string& html) {
  static const std::set<std::string> kVoid{"meta", "br", "img", "link", "input", "hr"};
  std::vector<std::string> problems, open;
  // Attribute names may hold digits (SVG's x1, y2).
  const std::regex tag(R"(<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z][a-zA-Z0-9-]*="[^"]*")*)\s*(/?)>|<!DOCTYPE html>)");
  std::size_t pos = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tag); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const std::string between = html.substr(pos, std::size_t(m.position()) - pos);
    if (between.find('<') != std::string::npos) problems.push_back("unparsed '<' near: " + between.substr(0, 60));
    pos = std::size_t(m.position() + m.length());
    if (m[2].length() == 0) continue;  // doctype
    const std::string name = m[2];
    if (m[1] == "/") {
      if (open.empty() || open.back() != name)
        problems.push_back("</" + name + "> closes <" + (open.empty() ? "nothing" : open.back()) + ">");
      else
        open.pop_back();
    } else if (m[4] != "/" && !kVoid.count(name)) {
      open.push_back(name);
    }
  }
  if (!open.empty()) problems.push_back("unclosed <" + open.back() + ">");
  return problems;
}

TEST(ReportHtml, IsWellFormedSelfContainedAndHasEveryChart) {
  const std::string html = report_html(build_report(simulated_with_raster()));
  const auto problems = html_problems(html);
  EXPECT_TRUE(problems.empty()) << problems.front();
  // Nothing is fetched: no scripts, no linked resources (URLs appear only as quoted source text).
  EXPECT_FALSE(std::regex_search(html, std::regex(R"((src|href|xlink:href)\s*=)"))) << "a linked resource";
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  for (const auto& id : kChartIds) EXPECT_NE(html.find("<svg id=\"" + id + "\""), std::string::npos) << id;
  EXPECT_NE(html.find("Per core"), std::string::npos);
  EXPECT_NE(html.find("32.28×"), std::string::npos);
}

TEST(ReportHtml, CatchesBrokenMarkup) {
  EXPECT_FALSE(html_problems("<html><body><p>x</body></html>").empty());
  EXPECT_FALSE(html_problems("<html><body><p a=b>x</p></body></html>").empty());
  EXPECT_TRUE(html_problems("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body></body></html>").empty());
}

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser"}) {
    const std::string probe = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return name;
  }
  return "";
}

TEST(ReportHtml, RendersHeadlessInChromium) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium is not installed (scripts/setup.sh installs Debian's package)";
  const fs::path dir = fs::path(::testing::TempDir()) / "report_html_render";
  fs::create_directories(dir);
  std::ofstream(dir / "report.html") << report_html(build_report(simulated_with_raster()));
  std::ofstream(dir / "blank.html") << "<!DOCTYPE html><html><body></body></html>";
  const std::string chrome = "timeout 120 " + chromium + " --headless --no-sandbox --disable-gpu --user-data-dir=" +
                             (dir / "profile").string() + " ";
  const auto dom = testing_cli::run_shell(chrome + "--dump-dom file://" + (dir / "report.html").string());
  ASSERT_EQ(dom.status, 0) << dom.output;
  for (const auto& id : kChartIds) EXPECT_NE(dom.output.find("<svg id=\"" + id + "\""), std::string::npos) << id;
  const std::regex bar("<rect class=\"bar\"");
  EXPECT_GT(std::distance(std::sregex_iterator(dom.output.begin(), dom.output.end(), bar), std::sregex_iterator()), 20);
  // A rendered page of charts and tables compresses far worse than an empty page of the same size.
  const std::string size = "--window-size=1100,3000 ";
  const auto shot = testing_cli::run_shell(chrome + size + "--screenshot=" + (dir / "report.png").string() + " file://" +
                                           (dir / "report.html").string());
  ASSERT_EQ(shot.status, 0) << shot.output;
  const auto blank = testing_cli::run_shell(chrome + size + "--screenshot=" + (dir / "blank.png").string() + " file://" +
                                            (dir / "blank.html").string());
  ASSERT_EQ(blank.status, 0) << blank.output;
  ASSERT_TRUE(fs::exists(dir / "report.png"));
  EXPECT_GT(fs::file_size(dir / "report.png"), 5 * fs::file_size(dir / "blank.png"));
}

// ---- CLI ----------------------------------------------------------------------------------------

TEST(ReportCli, ShippedModelRoundTrip) {
  const fs::path dir = fs::path(::testing::TempDir()) / "report_cli";
  fs::create_directories(dir);
  const std::string stats = (dir / "s.json").string();
  const auto run = run_cli("run --quantized -n 8 --prompt \"The \" --quiet-stats --stats " + stats);
  ASSERT_EQ(run.status, 0) << run.output;
  const auto report = run_cli("report --stats " + stats + " --gpu h200 --batch 16 --json " + (dir / "r.json").string() +
                              " --csv " + (dir / "r.csv").string() + " --html " + (dir / "r.html").string());
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_NE(report.output.find("paper's setting (T 3072, d 512, R̂ 0.15, E_MAC 4.5 pJ, E_AC 0.9 pJ, WKV 6Td, linear "
                               "rows): 32.28×"),
            std::string::npos)
      << report.output;
  EXPECT_NE(report.output.find("H200 SXM roofline, batch 16"), std::string::npos);
  EXPECT_NE(report.output.find("not measured: cycles, latency, tokens/s and static energy"), std::string::npos);

  json r;
  std::ifstream(dir / "r.json") >> r;
  // The shipped model is L4 C192 V77 (models/spikegpt-fortunes.md): 12 steps (4 prompt + 8).
  const double L = 4, C = 192, V = 77;
  EXPECT_EQ(r["tokens"]["steps"], 12);
  EXPECT_EQ(r["model"]["params"], int64_t(2 * V * C + L * (13 * C * C + 11 * C) + 4 * C));
  // spikegpt.md §9.1: dense MACs per token = L·13·C² + V·C; every LIF neuron updates every step.
  EXPECT_DOUBLE_EQ(r["gpu"]["dense_per_token"]["macs"].get<double>(), L * 13 * C * C + V * C);
  EXPECT_DOUBLE_EQ(action_count(r, "neuron_update.lif") / 12, 2 * L * C);
  // Graded SOPs never exceed the dense MACs (zeros send nothing) and the SOP count is what the paper's
  // "operations" compares against.
  EXPECT_LE(action_count(r, "synaptic_op.graded") / 12, L * 13 * C * C + V * C);
  EXPECT_GT(r["paper"]["counted"]["operation_ratio"].get<double>(), 1.0);
  const double rate = r["firing_rate_mean"].get<double>();
  EXPECT_GT(rate, 0.0);
  EXPECT_LT(rate, 1.0);
  EXPECT_DOUBLE_EQ(r["gpu"]["spec"]["memory_bandwidth_tb_per_s"].get<double>(), 4.8);
  EXPECT_EQ(r["gpu"]["roofline"][1]["batch"], 16);
  // Its 3.9 MB of weights stay in the H200's L2 (chips/gpu/h200.yaml: 25 MB of it for data every SM
  // reads), and the report says so.
  EXPECT_EQ(r["gpu"]["roofline"][1]["weights_in"], "L2");
  EXPECT_NE(report.output.find("batch 16: weights and state resident in the H200's L2"), std::string::npos)
      << report.output;

  std::ifstream csv_in(dir / "r.csv");
  std::stringstream csv;
  csv << csv_in.rdbuf();
  EXPECT_EQ(csv.str().rfind("quantity,value\n", 0), 0u);
  EXPECT_NE(csv.str().find("paper.stated_setting.ratio,32.28"), std::string::npos);
  EXPECT_NE(csv.str().find("chip.actions[synaptic_op.graded].pj_each,0.3\n"), std::string::npos);
  EXPECT_TRUE(fs::file_size(dir / "r.html") > 10000);
}

TEST(ReportCli, GpuMeasuredFilesAreReadCheckedAgainstTheModelAndShown) {
  const fs::path dir = fs::path(::testing::TempDir()) / "report_cli_measured";
  fs::create_directories(dir);
  const std::string stats = (dir / "s.json").string();
  ASSERT_EQ(run_cli("run --quantized -n 2 --quiet-stats --stats " + stats).status, 0);
  GpuMeasurement m = sample_measurement();
  m.model.n_layer = 4, m.model.n_embd = 192, m.model.vocab = 77;  // the shipped model
  const std::string good = (dir / "h100.json").string();
  std::ofstream(good) << gpu_measurement_to_json(m).dump(1);
  const auto shown = run_cli("report --stats " + stats + " --gpu-measured " + good + " --json " + (dir / "r.json").string());
  ASSERT_EQ(shown.status, 0) << shown.output;
  EXPECT_NE(shown.output.find("NVIDIA H100 80GB HBM3 measured, fp16 graph, batch 8"), std::string::npos) << shown.output;
  json r;
  std::ifstream(dir / "r.json") >> r;
  EXPECT_EQ(r["gpu"]["measured"][0]["file"], good);

  m.model.n_embd = 512;
  const std::string other = (dir / "other.json").string();
  std::ofstream(other) << gpu_measurement_to_json(m).dump(1);
  const auto mismatch = run_cli("report --stats " + stats + " --gpu-measured " + good + " " + other);
  EXPECT_NE(mismatch.status, 0);
  EXPECT_NE(mismatch.output.find(other + ": 'model.n_embd' is 512, but the stats' model (" + stats + ") has n_embd 192"),
            std::string::npos)
      << mismatch.output;
  const std::string broken = (dir / "broken.json").string();
  std::ofstream(broken) << R"({"format": "spiketile-gpu-measured-1", "tool": "x"})";
  const auto malformed = run_cli("report --stats " + stats + " --gpu-measured " + broken);
  EXPECT_NE(malformed.status, 0);
  EXPECT_NE(malformed.output.find(broken + ": GPU measurement: 'date' is missing"), std::string::npos) << malformed.output;
  const auto overwrite = run_cli("report --stats " + stats + " --gpu-measured " + good + " --json " + good);
  EXPECT_NE(overwrite.status, 0);
}

TEST(ReportCli, HelpDescribesEveryOption) {
  const auto help = run_cli("report --help");
  EXPECT_EQ(help.status, 0);
  for (const char* option : {"--stats", "--energy-table", "--convention-table", "--chip", "--gpu", "--batch",
                             "--encoding", "--gpu-measured", "--json", "--csv", "--html", "--paper", "--quiet"})
    EXPECT_NE(help.output.find(option), std::string::npos) << option;
  EXPECT_NE(run_cli("run --help").output.find("--stats"), std::string::npos);
}

TEST(ReportCli, ErrorsNameTheProblem) {
  const fs::path dir = fs::path(::testing::TempDir()) / "report_cli_errors";
  fs::create_directories(dir);
  const auto golden = run_cli("run -n 1 --quiet-stats --stats " + (dir / "g.json").string());
  EXPECT_NE(golden.status, 0);
  EXPECT_NE(golden.output.find("--stats needs a level that counts events (e.g. --quantized)"), std::string::npos)
      << golden.output;
  std::ofstream(dir / "bad.json") << R"({"format": "spiketile-stats-2", "level": "quantized"})";
  const auto bad = run_cli("report --stats " + (dir / "bad.json").string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("bad.json: stats: 'model' is missing"), std::string::npos) << bad.output;
  const std::string stats = (dir / "s.json").string();
  ASSERT_EQ(run_cli("run --quantized -n 1 --quiet-stats --stats " + stats).status, 0);
  const auto gpu = run_cli("report --stats " + stats + " --gpu a100");
  EXPECT_NE(gpu.status, 0);
  EXPECT_NE(gpu.output.find("chips/gpu/a100.yaml ; known GPUs: h100, h200"), std::string::npos) << gpu.output;
}

}  // namespace
}  // namespace spiketile
