// The cycle-accurate chip against the mapping executor: the same tokens, spikes in every layer and
// event counts, on the shipped model over 64 tokens and on a mapping spread over four chips; plus
// the ways a run can go wrong, each ending in an error that names the cause instead of a hang.
// One TEST per process (SystemC elaborates once).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <sstream>
#include <unistd.h>

#include "chips/chip_spec.hpp"
#include "compiler/lowering.hpp"
#include "compiler/mapping_io.hpp"
#include "models/quantized.hpp"
#include "runtime/mapping_executor.hpp"
#include "runtime/sampler.hpp"
#include "sim/chip_simulator.hpp"
#include "sim/network.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile::sim {
namespace {

namespace fs = std::filesystem;
using test_fixtures::kRepo;
using test_fixtures::read_text;
using test_fixtures::shipped_on_default_chip;

// Steps the simulator and the executor through a teacher-forced prompt and a greedy continuation.
// Adds the counts of every step to *sum when given.
void expect_same_as_executor(ChipSimulator& chip, const std::shared_ptr<const Mapping>& mapping, int tokens,
                             Counts* sum = nullptr) {
  MappingExecutor executor(mapping);
  int token = 0;
  for (int t = 0; t < tokens; ++t) {
    const auto& le = executor.step(token);
    const auto& ls = chip.step(token);
    ASSERT_EQ(executor.last_logit_accumulators(), chip.last_logit_accumulators()) << "step " << t;
    ASSERT_EQ(le, ls);
    for (int l = 0; l < mapping->config.n_layer; ++l) {
      ASSERT_EQ(executor.last_activity().spikes_att[l], chip.last_activity().spikes_att[l]) << "step " << t;
      ASSERT_EQ(executor.last_activity().spikes_ffn[l], chip.last_activity().spikes_ffn[l]) << "step " << t;
    }
    EXPECT_TRUE(*executor.last_counts() == *chip.last_counts()) << "step " << t;
    EXPECT_GT(chip.last_token_cycles(), 0u);
    if (sum) *sum += chip.last_counts()->total();
    token = t < 5 ? (t * 17 + 3) % mapping->config.vocab_size : argmax(le);
  }
}

TEST(ChipSimulator, ShippedModelEqualsMappingExecutorOver64Tokens) {
  const auto mapping = shipped_on_default_chip({});
  ChipSimulator chip(mapping);
  Counts counted;
  expect_same_as_executor(chip, mapping, 64, &counted);
  RunStats stats;
  chip.fill_stats(stats);
  ASSERT_TRUE(stats.cores.has_value());
  EXPECT_EQ(stats.cores->size(), mapping->units.size());
  // Per-core synaptic ops add up to the counted ones of the whole run.
  int64_t graded = 0, binary = 0;
  for (const auto& c : *stats.cores) {
    graded += c.sop_graded;
    binary += c.sop_binary;
  }
  EXPECT_EQ(graded, counted.sop_graded);
  EXPECT_EQ(binary, counted.sop_binary);
  EXPECT_EQ(stats.cycles->per_step.size(), 64u);
  EXPECT_GT(stats.network->packets, 0);
  EXPECT_EQ(stats.network->inter_chip_flits, 0);  // 49 units fit the first 8×8 chip
}

// The latency objective's splits (att r/k/v, ffn r/k and the head in several row blocks, several
// residual slices per layer) compute the same bits as the functional model's contract.
TEST(ChipSimulator, LatencySplitMappingEqualsMappingExecutor) {
  ObjectiveOptions latency;
  latency.max_cores = 160;
  const auto mapping = test_fixtures::shipped_for_objective(latency, {}, ProfileOptions{4});
  ASSERT_GT(mapping->units.size(), 100u);
  int residual_slices = 0;
  for (const Unit& u : mapping->units) residual_slices = std::max(residual_slices, u.slices);
  EXPECT_GT(residual_slices, 1);
  ChipSimulator chip(mapping);
  expect_same_as_executor(chip, mapping, 12);
}

// A prompt as one pipelined prefill: every token's logits, spikes, counts and traffic are those of
// stepping the tokens one at a time (and of the mapping executor), in well under half the cycles.
// On this mapping (residual slices exchanging LayerNorm statistics, several crossbars per matrix)
// cores receive events of their next token before they finish their own and must hold them.
TEST(ChipSimulator, PipelinedPrefillEqualsSteppingTokenByToken) {
  ObjectiveOptions latency;
  latency.max_cores = 160;
  const auto mapping = test_fixtures::shipped_for_objective(latency, {}, ProfileOptions{4});
  SimulatorOptions a, b;
  a.instance_name = "pipelined_";
  b.instance_name = "stepped_";
  ChipSimulator pipelined(mapping, a), stepped(mapping, b);
  MappingExecutor executor(mapping);
  std::vector<int> tokens;
  for (int t = 0; t < 12; ++t) tokens.push_back((t * 17 + 3) % mapping->config.vocab_size);
  struct Seen {
    std::vector<float> logits;
    StepActivity activity;
    TokenCounts counts;
  };
  std::vector<Seen> seen;
  pipelined.prefill(tokens, [&](int64_t position, const std::vector<float>& logits) {
    EXPECT_EQ(position, int64_t(seen.size()));
    seen.push_back({logits, pipelined.last_activity(), *pipelined.last_counts()});
  });
  ASSERT_EQ(seen.size(), tokens.size());
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const auto& le = executor.step(tokens[t]);
    const auto& ls = stepped.step(tokens[t]);
    ASSERT_EQ(le, ls) << "token " << t;
    ASSERT_EQ(seen[t].logits, ls) << "token " << t;
    for (int l = 0; l < mapping->config.n_layer; ++l) {
      ASSERT_EQ(seen[t].activity.spikes_att[l], stepped.last_activity().spikes_att[l]) << "token " << t;
      ASSERT_EQ(seen[t].activity.spikes_ffn[l], stepped.last_activity().spikes_ffn[l]) << "token " << t;
    }
    EXPECT_EQ(seen[t].activity.relu2_nonzero, stepped.last_activity().relu2_nonzero) << "token " << t;
    EXPECT_TRUE(seen[t].counts == *stepped.last_counts()) << "token " << t;
    EXPECT_TRUE(seen[t].counts == *executor.last_counts()) << "token " << t;
  }
  RunStats ps, ss;
  pipelined.fill_stats(ps);
  stepped.fill_stats(ss);
  ASSERT_EQ(ps.network->per_step.size(), tokens.size());
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    EXPECT_EQ(ps.network->per_step[t].packets, ss.network->per_step[t].packets) << "token " << t;
    EXPECT_EQ(ps.network->per_step[t].flit_hops, ss.network->per_step[t].flit_hops) << "token " << t;
    EXPECT_EQ(ps.network->per_step[t].flits_delivered, ss.network->per_step[t].flits_delivered) << "token " << t;
    EXPECT_EQ(ps.network->per_step[t].inter_chip_flits, ss.network->per_step[t].inter_chip_flits) << "token " << t;
  }
  for (std::size_t c = 0; c < ps.cores->size(); ++c) {
    EXPECT_EQ((*ps.cores)[c].sop_graded, (*ss.cores)[c].sop_graded) << (*ps.cores)[c].unit;
    EXPECT_EQ((*ps.cores)[c].synapse_reads, (*ss.cores)[c].synapse_reads) << (*ps.cores)[c].unit;
    EXPECT_EQ((*ps.cores)[c].busy_cycles, (*ss.cores)[c].busy_cycles) << (*ps.cores)[c].unit;
  }
  // The token intervals add up to the run; the run is the prefill.
  int64_t sum = 0;
  for (int64_t c : ps.cycles->per_step) sum += c;
  EXPECT_EQ(sum, ps.cycles->total);
  EXPECT_EQ(ps.cycles->prefill_steps, int64_t(tokens.size()));
  EXPECT_EQ(ps.cycles->prefill_cycles, ps.cycles->total);
  EXPECT_EQ(ss.cycles->prefill_steps, 0);
  EXPECT_LT(2 * ps.cycles->total, ss.cycles->total);
  EXPECT_GT(pipelined.peak_held_events(), 0);
  EXPECT_EQ(stepped.peak_held_events(), 0);
}

// 4 × 4 cores per chip: the 49 units cannot share one chip, so events cross inter-chip links.
TEST(ChipSimulator, MultiChipMappingEqualsMappingExecutor) {
  const auto mapping = shipped_on_default_chip({{"rows: 8", "rows: 4"}, {"cols: 8", "cols: 4"}});
  std::set<int> chips;
  for (const auto& c : mapping->unit_cores) chips.insert(c.chip);
  ASSERT_GE(chips.size(), 4u);
  ChipSimulator chip(mapping);
  expect_same_as_executor(chip, mapping, 16);
  RunStats stats;
  chip.fill_stats(stats);
  EXPECT_GT(stats.network->inter_chip_flits, 0);
  // One definition of flit-hops: the stats' count is the network's own links-crossed counters
  // (mesh and inter-chip), the deliveries into cores its delivered flits, and the steps add up.
  const auto noc = nlohmann::json::parse(stats.network->detail_json);
  const int64_t mesh = noc.at("noc.flit_hops.mesh"), inter_chip = noc.at("noc.flit_hops.inter_chip");
  EXPECT_EQ(stats.network->flit_hops, mesh + inter_chip);
  EXPECT_EQ(stats.network->inter_chip_flits, inter_chip);
  EXPECT_EQ(stats.network->flits_delivered, noc.at("noc.flits_delivered").get<int64_t>());
  NetworkStepStats sum;
  for (const auto& step : stats.network->per_step) {
    sum.flit_hops += step.flit_hops;
    sum.flits_delivered += step.flits_delivered;
    sum.inter_chip_flits += step.inter_chip_flits;
  }
  EXPECT_EQ(sum.flit_hops, stats.network->flit_hops);
  EXPECT_EQ(sum.flits_delivered, stats.network->flits_delivered);
  EXPECT_EQ(sum.inter_chip_flits, stats.network->inter_chip_flits);
}

// A core starts the next token of a prefill once every core it sends to has started its last one:
// at once when that core shares its chip, one inter-chip link latency later when it does not (no
// signal crosses chips faster; that latency is what lets chips run on separate kernels).
TEST(ChipSimulator, PrefillLearnsOfStartsOnOtherChipsOneLinkLatencyLater) {
  const auto mapping = shipped_on_default_chip({{"rows: 8", "rows: 4"}, {"cols: 8", "cols: 4"}});
  const Cycle link = Cycle(mapping_chip_spec(*mapping).system.inter_chip_link.latency_cycles);
  ASSERT_GT(link, 0u);
  std::map<std::pair<int, int64_t>, Cycle> started;  // (unit, token) -> cycle
  SimulatorOptions options;
  options.on_token_start = [&](int unit, int64_t token, Cycle at) {
    EXPECT_TRUE(started.emplace(std::make_pair(unit, token), at).second) << "unit " << unit << " token " << token;
  };
  ChipSimulator chip(mapping, options);
  std::vector<int> tokens;
  for (int t = 0; t < 10; ++t) tokens.push_back((t * 17 + 3) % mapping->config.vocab_size);
  chip.prefill(tokens, {});
  ASSERT_EQ(started.size(), mapping->units.size() * tokens.size());
  int bound_by_off_chip = 0, off_chip_pairs = 0;
  for (const auto& flow : mapping->flows)
    for (int d : flow.destinations) {
      const bool off_chip = mapping->unit_cores[std::size_t(flow.source)].chip != mapping->unit_cores[std::size_t(d)].chip;
      off_chip_pairs += off_chip;
      for (int64_t t = 1; t < int64_t(tokens.size()); ++t) {
        const Cycle source_start = started.at({flow.source, t}), known = started.at({d, t - 1}) + (off_chip ? link : 0);
        EXPECT_GE(source_start, known) << flow.tensor << " to unit " << d << " token " << t;
        bound_by_off_chip += off_chip && source_start == known;
      }
    }
  EXPECT_GT(off_chip_pairs, 0);
  // The rule binds: some starts wait exactly for the notice from another chip.
  EXPECT_GT(bound_by_off_chip, 0);
}

// Buffers of 2 flits (a partial sum is 2 flits) and one-event axon queues: the run either completes
// with the same tokens and more blocked cycles, or stops with a stall report — it never hangs
// (ctest's timeout would fail the test).
TEST(ChipSimulator, UndersizedBuffersCompleteCorrectlyOrReportTheStall) {
  const auto mapping = shipped_on_default_chip({{"input_buffer_depth_flits: 16", "input_buffer_depth_flits: 2"},
                                   {"axon_input_queue_depth: 64", "axon_input_queue_depth: 1"}});
  ChipSimulator chip(mapping);
  try {
    expect_same_as_executor(chip, mapping, 8);
    RunStats stats;
    chip.fill_stats(stats);
    int64_t stalls = 0;
    for (const auto& c : *stats.cores) stalls += c.stall_cycles;
    EXPECT_GT(stalls, 0);
  } catch (const NocError& e) {
    EXPECT_NE(std::string(e.what()).find("router"), std::string::npos) << e.what();
  }
}

// The VCD holds the selected cores' busy flag and axon queue, and their routers, and shows activity.
// Every value change of a VCD, by signal: scope path joined with '.', then the changes in order.
std::map<std::string, std::vector<std::string>> vcd_changes(const std::string& text) {
  std::map<std::string, std::string> name_of;  // identifier code -> scoped name
  std::map<std::string, std::vector<std::string>> changes;
  std::vector<std::string> scope;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string first;
    if (!(words >> first)) continue;
    if (first == "$scope") {
      std::string kind, name;
      words >> kind >> name;
      scope.push_back(name);
    } else if (first == "$upscope") {
      scope.pop_back();
    } else if (first == "$var") {
      std::string kind, width, code, name, path;
      words >> kind >> width >> code >> name;
      for (const auto& s : scope) path += s + ".";
      name_of[code] = path + name;
    } else if (first[0] == 'b' || first[0] == 'r') {  // vector or real: "bVALUE CODE"
      std::string code;
      words >> code;
      if (name_of.count(code)) changes[name_of[code]].push_back(first.substr(1));
    } else if (first[0] == '0' || first[0] == '1') {  // scalar: "1CODE"
      const std::string code = first.substr(1);
      if (name_of.count(code)) changes[name_of[code]].push_back(first.substr(0, 1));
    }
  }
  return changes;
}

TEST(ChipSimulator, TraceOfSelectedCoresShowsTheirActivity) {
  const auto mapping = shipped_on_default_chip({});
  const Topology topology(mapping_chip_spec(*mapping));
  const int core = topology.core_index(mapping->unit_cores[0]);
  // A LIF unit: its neurons' spikes and membranes are traced too.
  int lif_unit = -1;
  for (const Unit& u : mapping->units)
    if (u.name == "L0.att.output[0,0]") lif_unit = u.id;
  ASSERT_GE(lif_unit, 0);
  const Unit& lif = mapping->units[std::size_t(lif_unit)];
  const int lif_core = topology.core_index(mapping->unit_cores[std::size_t(lif_unit)]);
  const fs::path vcd = fs::temp_directory_path() / ("spiketile_trace_" + std::to_string(::getpid()) + ".vcd");
  SimulatorOptions options;
  options.trace_path = vcd.string();
  options.trace_cores = {core, lif_core};
  StepActivity last;
  int64_t spiking_steps = 0;
  {
    ChipSimulator chip(mapping, options);
    for (int token : {3, 4, 20, 45, 57, 1, 9, 9}) {
      chip.step(token);
      for (uint8_t s : chip.last_activity().spikes_att[0]) spiking_steps += s;
    }
    last = chip.last_activity();
    chip.finish_trace()->commit();
  }
  const std::string text = read_text(vcd);
  // Each traced neuron's last spike and membrane are the chip's after the last token (the
  // membrane as the integer the unit holds: threshold units × 256).
  const auto changes = vcd_changes(text);
  for (int64_t r = 0; r < lif.rows(); ++r) {
    const int64_t neuron = lif.out_begin + r;
    const std::string at = fmt::format("SystemC.core_{}.neuron_{}.", lif_core, neuron);
    ASSERT_TRUE(changes.count(at + "spike") && changes.count(at + "v")) << at;
    EXPECT_EQ(changes.at(at + "spike").back(), last.spikes_att[0][std::size_t(neuron)] ? "1" : "0") << at;
    const std::string bits = changes.at(at + "v").back();
    const int32_t v = int32_t(std::stoul(bits, nullptr, 2));
    EXPECT_EQ(float(v) / 256.0f, last.membrane_att[0][std::size_t(neuron)]) << at;
  }
  EXPECT_GT(spiking_steps, 0) << "some neuron spiked over the run, so the spike signals changed";
  fs::remove(vcd);
  EXPECT_NE(text.find("busy"), std::string::npos);
  EXPECT_NE(text.find("axon_queue"), std::string::npos);
  EXPECT_NE(text.find("occupancy_flits"), std::string::npos);
  // The busy flag rises and falls: a value change to 1 and one back to 0 for its identifier.
  std::string id;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string var, kind, width, code, name;
    if (words >> var >> kind >> width >> code >> name && var == "$var" && name == "busy") {
      id = code;
      break;
    }
  }
  ASSERT_FALSE(id.empty());
  EXPECT_NE(text.find("\n1" + id + "\n"), std::string::npos) << id;
  EXPECT_NE(text.find("\n0" + id + "\n"), std::string::npos) << id;
}

// A unit whose input flow is given to a core that never sends on it waits forever; the token ends
// with an error naming the core, the unit and what it waits for.
TEST(ChipSimulator, UnitWaitingForeverIsNamed) {
  const ChipSpec spec = load_chip_spec((kRepo / "chips" / "default.yaml").string());
  Mapping m = compile_model(test_fixtures::shipped_quantized(), spec, read_text(kRepo / "chips" / "default.yaml"));
  for (auto& f : m.flows)
    if (f.role == FlowRole::Key && f.tensor == "L0.att.k") f.source = 0;
  m.routing_tables = build_routing_tables(Topology(spec), m.unit_cores, to_placement_flows(m.flows)).tables;
  auto mapping = std::make_shared<const Mapping>(std::move(m));
  ChipSimulator chip(mapping);
  try {
    chip.step(1);
    FAIL() << "expected a stall error";
  } catch (const NocError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("L0.att.value[0,0]"), std::string::npos) << what;
    EXPECT_NE(what.find("key 0/1 streams ended"), std::string::npos) << what;
  }
}

// Bursts (router.max_burst_events) change only how values travel: the same tokens, spikes and
// counts as the executor, and as the same mapping without bursts (both chips in one elaboration),
// with fewer packets and flit-hops on the network.
TEST(ChipSimulator, BurstsKeepTheBitsAndCarryTheValuesInFewerPackets) {
  const auto single = shipped_on_default_chip({{"max_burst_events: 16", "max_burst_events: 1"}});
  const auto bursting = shipped_on_default_chip({});
  ASSERT_EQ(mapping_chip_spec(*bursting).router.max_burst_events, 16);  // chips/default.yaml
  ASSERT_EQ(mapping_chip_spec(*single).router.max_burst_events, 1);
  SimulatorOptions plain_options, burst_options;
  plain_options.instance_name = "plain_";
  burst_options.instance_name = "burst_";
  ChipSimulator plain(single, plain_options), burst(bursting, burst_options);
  MappingExecutor executor(bursting);
  for (int t = 0; t < 12; ++t) {
    const int token = (t * 17 + 3) % single->config.vocab_size;
    executor.step(token);
    plain.step(token);
    burst.step(token);
    ASSERT_EQ(burst.last_logit_accumulators(), executor.last_logit_accumulators()) << "step " << t;
    ASSERT_EQ(burst.last_logit_accumulators(), plain.last_logit_accumulators()) << "step " << t;
    EXPECT_TRUE(*burst.last_counts() == *executor.last_counts()) << "step " << t;
  }
  RunStats plain_stats, burst_stats;
  plain.fill_stats(plain_stats);
  burst.fill_stats(burst_stats);
  EXPECT_LT(burst_stats.network->packets * 2, plain_stats.network->packets);
  EXPECT_LT(burst_stats.network->flit_hops, plain_stats.network->flit_hops);
  // Each value still costs its receiving core what it cost as a single event: the same busy cycles.
  ASSERT_EQ(burst_stats.cores->size(), plain_stats.cores->size());
  for (std::size_t c = 0; c < plain_stats.cores->size(); ++c)
    EXPECT_EQ((*burst_stats.cores)[c].busy_cycles, (*plain_stats.cores)[c].busy_cycles) << (*plain_stats.cores)[c].unit;
}

}  // namespace
}  // namespace spiketile::sim
