#include "runtime/compile_objective.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

#include "runtime/power_states.hpp"
#include "runtime/report.hpp"

namespace spiketile {

const char* objective_name(Objective objective) {
  switch (objective) {
    case Objective::latency: return "latency";
    case Objective::energy: return "energy";
    case Objective::edp: return "edp";
    case Objective::cores: return "cores";
  }
  return "?";
}

Objective objective_from_name(const std::string& name) {
  if (name == "latency") return Objective::latency;
  if (name == "energy") return Objective::energy;
  if (name == "edp") return Objective::edp;
  if (name == "cores") return Objective::cores;
  throw std::invalid_argument(fmt::format("objective '{}': choose latency, energy, edp or cores", name));
}

double estimated_energy_pj(const Mapping& m, const ChipSpec& chip, const EnergyTable& table, const EstimatedWork& w) {
  const LatencyEstimate& e = m.estimate;
  const double tokens = std::max(1, w.tokens);
  ActionCounts actions = chip_actions(w.counts, w.lif_updates, action_mapping(chip, GradedEncoding::Graded));
  // SRAM accesses whole, per event, as the simulator's per-core counters (which the report prices).
  actions["sram.synapse_read"] = w.synapse_accesses;
  actions["sram.state_read"] = w.state_reads;
  actions["sram.state_write"] = w.state_writes;
  actions["router.flit_hop"] = tokens * (e.mesh_flit_hops_per_token + e.inter_chip_flits_per_token);
  actions["router.flit_delivery"] = tokens * e.flits_delivered_per_token;
  actions["link.inter_chip_flit"] = tokens * e.inter_chip_flits_per_token;
  const Topology topology(chip);
  RoutingOptions routing = m.routing_options;
  routing.enforce_table_capacity = false;
  const RoutingTables routes = build_routing_tables(topology, m.unit_cores, to_placement_flows(m.flows), routing);
  const double seconds = e.cycles_per_token / (chip.clock_frequency_mhz * 1e6);
  return price_pj(actions, table) / tokens + static_energy_pj(table, power_states(chip, m.unit_cores, routes), seconds);
}

namespace {

// What the search splits: the matrices of a stage in every layer (the ops of one stage run in
// parallel, r, k and v of the time mix or r and k of the channel mix, so they split together:
// halving one branch alone cannot shorten a path the other still holds), or the residual slices.
enum class Group { residual, att_rkv, att_output, ffn_rk, ffn_value, head };
constexpr Group kGroups[] = {Group::residual, Group::att_rkv, Group::att_output, Group::ffn_rk, Group::ffn_value, Group::head};

const char* group_name(Group g) {
  switch (g) {
    case Group::residual: return "the residual slices";
    case Group::att_rkv: return "att.receptance/key/value";
    case Group::att_output: return "att.output";
    case Group::ffn_rk: return "ffn.receptance/key";
    case Group::ffn_value: return "ffn.value";
    case Group::head: return "the head";
  }
  return "?";
}

Group group_of(const Unit& u) {
  if (u.kind == UnitKind::Residual) return Group::residual;
  switch (u.op) {
    case Op::AttReceptance:
    case Op::AttKey:
    case Op::AttValue: return Group::att_rkv;
    case Op::AttOutput: return Group::att_output;
    case Op::FfnReceptance:
    case Op::FfnKey: return Group::ffn_rk;
    case Op::FfnValue: return Group::ffn_value;
    default: return Group::head;
  }
}

// What the search keeps of a compiled mapping: its bound and cores, where its critical path
// spends its time, and the shape of every matrix and of the residual stream. A mapping at the
// 216M shape holds 180 MB of weights; the search holds one at a time.
struct Snapshot {
  double bound = 0;
  double energy_pj = 0;  // per token, dynamic + static; 0 without an energy table
  int64_t cores = 0;
  std::vector<Group> by_time_on_path;  // groups, longest first
  int residual_slices = 1, layers = 0, channels = 0;
  struct Matrix {
    Group group;
    int64_t rows = 0, largest_block = 0;
    int blocks = 0, in_tiles = 1;
  };
  std::map<std::pair<int, Op>, Matrix> matrices;
};

Snapshot snapshot(const Mapping& m, const ChipSpec& chip, const EnergyTable* table, const EstimatedWork& work) {
  Snapshot s;
  s.bound = m.estimate.cycles_per_token;
  if (table) s.energy_pj = estimated_energy_pj(m, chip, *table, work);
  s.cores = int64_t(m.units.size());
  s.layers = m.config.n_layer;
  s.channels = m.config.n_embd;
  std::map<Group, double> time;
  for (const LatencyEstimate::PathStep& step : m.estimate.critical_path)
    time[group_of(m.units[std::size_t(step.unit)])] += step.end - step.start;
  for (const auto& [g, t] : time) s.by_time_on_path.push_back(g);
  std::stable_sort(s.by_time_on_path.begin(), s.by_time_on_path.end(), [&](Group a, Group b) { return time[a] > time[b]; });
  for (const Unit& u : m.units) {
    if (u.kind == UnitKind::Residual) {
      s.residual_slices = u.slices;
      continue;
    }
    if (u.in_index != 0) continue;
    Snapshot::Matrix& x = s.matrices[{u.layer, u.op}];
    x.group = group_of(u);
    x.rows += u.rows();
    x.largest_block = std::max(x.largest_block, u.rows());
    x.blocks = u.out_tiles;
    x.in_tiles = u.in_tiles;
  }
  return s;
}

// The next split of `g` into `options`: the residual slices doubled, or every matrix of the
// group in row blocks of at most half the group's largest block now (so parallel branches end up
// alike). Returns the cores the split adds, or -1 when the group cannot split further.
int64_t split_further(const Snapshot& s, Group g, CompileOptions& options) {
  if (g == Group::residual) {
    if (s.residual_slices * 2 > s.channels) return -1;
    options.residual_slices = s.residual_slices * 2;
    return int64_t(s.layers) * s.residual_slices;
  }
  int64_t largest = 0;
  for (const auto& [key, x] : s.matrices)
    if (x.group == g) largest = std::max(largest, x.largest_block);
  const int64_t target = largest / 2;
  if (target < 1) return -1;
  int64_t added = 0;
  for (const auto& [key, x] : s.matrices) {
    if (x.group != g) continue;
    const int blocks = int((x.rows + target - 1) / target);
    options.row_blocks[key] = blocks;
    added += int64_t(std::max(0, blocks - x.blocks)) * x.in_tiles;
  }
  return added;
}

}  // namespace

Mapping compile_for_objective(const ModelSource& read_model, const ChipSpec& chip, const std::string& chip_yaml,
                              const CompileOptions& compile, const ProfileOptions& profile,
                              const EmbeddingRowSource& rows, const ObjectiveOptions& objective) {
  const int64_t core_limit = objective.max_cores > 0 ? std::min<int64_t>(objective.max_cores, chip.total_cores())
                                                     : chip.total_cores();
  std::vector<std::string> search;
  auto with_search_notes = [&](Mapping m) {
    m.decisions.insert(m.decisions.end(), search.begin(), search.end());
    return m;
  };
  const char* name = objective_name(objective.objective);
  if (objective.objective == Objective::cores || profile.tokens == 0) {
    Mapping m = compile_profiled(read_model(), chip, chip_yaml, compile, profile, rows);
    search.push_back(objective.objective == Objective::cores
                         ? "objective cores: every matrix in as few tiles as fit, as few residual slices as the crossbar "
                           "allows; no core spent on latency"
                         : fmt::format("objective {}: no search without a profile (--profile-tokens 0)", name));
    if (int64_t(m.units.size()) > core_limit)
      throw DoesNotFitError(chip.name, {{"cores", "--max-cores", int64_t(m.units.size()), core_limit,
                                         "allow more cores (--max-cores) or use a larger chip"}});
    return with_search_notes(std::move(m));
  }
  const bool priced = objective.objective != Objective::latency;
  if (priced && !objective.energy_table)
    throw std::invalid_argument(fmt::format("objective {} needs an energy table", name));
  const EnergyTable* table = priced ? objective.energy_table : nullptr;
  // What the search lowers: cycles per token, energy per token, or their product.
  auto cost = [&](const Snapshot& x) {
    switch (objective.objective) {
      case Objective::energy: return x.energy_pj;
      case Objective::edp: return x.energy_pj * x.bound;
      default: return x.bound;
    }
  };
  auto change = [&](const Snapshot& from, const Snapshot& to) {
    if (!priced) return fmt::format("bound {:.0f} -> {:.0f} cycles per token", from.bound, to.bound);
    return fmt::format("{:.3g} -> {:.3g} µJ per token, bound {:.0f} -> {:.0f} cycles", from.energy_pj / 1e6,
                       to.energy_pj / 1e6, from.bound, to.bound);
  };
  auto compile_snapshot = [&](const CompileOptions& options, const ProfileOptions& p) {
    EstimatedWork work;
    const Mapping m = compile_profiled(read_model(), chip, chip_yaml, options, p, rows, &work);
    return snapshot(m, chip, table, work);
  };

  ProfileOptions quick = profile;
  quick.tokens = std::min(profile.tokens, std::max(1, objective.search_profile_tokens));
  CompileOptions best_options = compile;
  Snapshot best = compile_snapshot(best_options, quick);
  if (best.cores > core_limit)
    throw DoesNotFitError(chip.name, {{"cores", "--max-cores", best.cores, core_limit,
                                       "allow more cores (--max-cores) or use a larger chip"}});
  const Snapshot start = best;
  std::set<Group> exhausted;  // groups a further split did not pay for, or cannot take
  int steps = 0, kept = 0;
  while (steps < objective.search_steps) {
    std::optional<Group> chosen;
    for (Group g : best.by_time_on_path)
      if (!exhausted.count(g)) {
        chosen = g;
        break;
      }
    if (!chosen) break;
    CompileOptions trial = best_options;
    const int64_t added = split_further(best, *chosen, trial);
    if (added < 0) {
      exhausted.insert(*chosen);
      continue;
    }
    ++steps;
    if (objective.progress) objective.progress(steps, objective.search_steps);
    const std::string what =
        *chosen == Group::residual
            ? fmt::format("the residual stream in {} slices per layer", trial.residual_slices)
            : fmt::format("{} in smaller row blocks", group_name(*chosen));
    // A split that cannot fit is refused before anything is compiled.
    if (best.cores + added > core_limit) {
      search.push_back(fmt::format("objective {}: {}: needs {} cores, {} allowed, not kept", name, what,
                                   best.cores + added, core_limit));
      exhausted.insert(*chosen);
      continue;
    }
    std::optional<Snapshot> tried;
    std::string why_not;
    try {
      tried = compile_snapshot(trial, quick);
    } catch (const DoesNotFitError& e) {
      why_not = fmt::format("does not fit ({} problem{})", e.problems().size(), e.problems().size() == 1 ? "" : "s");
    }
    if (tried && tried->cores <= core_limit && cost(*tried) < 0.99 * cost(best)) {
      search.push_back(fmt::format("objective {}: {}: {}, {} -> {} cores: kept", name, what, change(best, *tried),
                                   best.cores, tried->cores));
      best = std::move(*tried);
      best_options = std::move(trial);
      ++kept;
    } else {
      search.push_back(!tried ? fmt::format("objective {}: {}: {}, not kept", name, what, why_not)
                       : tried->cores > core_limit
                           ? fmt::format("objective {}: {}: needs {} cores, {} allowed, not kept", name, what,
                                         tried->cores, core_limit)
                           : fmt::format("objective {}: {}: {}: under 1 % better, not kept", name, what,
                                         change(best, *tried)));
      exhausted.insert(*chosen);
    }
  }
  Mapping result = compile_profiled(read_model(), chip, chip_yaml, best_options, profile, rows);
  search.push_back(fmt::format(
      "objective {}: {} split{} kept of {} tried, each estimated on {} profile token{}: {} on those tokens, {} -> {} "
      "cores (at most {})",
      name, kept, kept == 1 ? "" : "s", steps, quick.tokens, quick.tokens == 1 ? "" : "s", change(start, best),
      start.cores, result.units.size(), core_limit));
  return with_search_notes(std::move(result));
}

}  // namespace spiketile
