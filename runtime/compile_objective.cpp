#include "runtime/compile_objective.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

namespace spiketile {

const char* objective_name(Objective objective) { return objective == Objective::latency ? "latency" : "cores"; }

Objective objective_from_name(const std::string& name) {
  if (name == "latency") return Objective::latency;
  if (name == "cores") return Objective::cores;
  throw std::invalid_argument(fmt::format("objective '{}': choose latency or cores", name));
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

// Cycles the critical path spends in each group (working, or waiting for the input it then takes).
std::vector<Group> groups_by_time_on_path(const Mapping& m) {
  std::map<Group, double> time;
  for (const LatencyEstimate::PathStep& step : m.estimate.critical_path)
    time[group_of(m.units[std::size_t(step.unit)])] += step.end - step.start;
  std::vector<Group> order;
  for (const auto& [g, t] : time) order.push_back(g);
  std::stable_sort(order.begin(), order.end(), [&](Group a, Group b) { return time[a] > time[b]; });
  return order;
}

// The next split of `g`: the residual slices doubled, or every matrix of the group in row blocks
// of at most half the group's largest block now (so parallel branches end up alike). False when
// the group cannot split further.
bool split_further(const Mapping& m, Group g, CompileOptions& options) {
  if (g == Group::residual) {
    const int slices = m.units.empty() ? 1 : [&] {
      for (const Unit& u : m.units)
        if (u.kind == UnitKind::Residual) return u.slices;
      return 1;
    }();
    if (slices * 2 > m.config.n_embd) return false;
    options.residual_slices = slices * 2;
    return true;
  }
  // Rows of each matrix of the group, and its largest row block now.
  std::map<std::pair<int, Op>, int64_t> rows;
  int64_t largest = 0;
  for (const Unit& u : m.units) {
    if (u.kind != UnitKind::Crossbar || group_of(u) != g || u.in_index != 0) continue;
    rows[{u.layer, u.op}] += u.rows();
    largest = std::max(largest, u.rows());
  }
  const int64_t target = largest / 2;
  if (target < 1) return false;
  for (const auto& [key, n] : rows) options.row_blocks[key] = int((n + target - 1) / target);
  return true;
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
  if (objective.objective == Objective::cores || profile.tokens == 0) {
    Mapping m = compile_profiled(read_model(), chip, chip_yaml, compile, profile, rows);
    search.push_back(objective.objective == Objective::cores
                         ? "objective cores: every matrix in as few tiles as fit, as few residual slices as the crossbar "
                           "allows; no core spent on latency"
                         : "objective latency: no search without a profile (--profile-tokens 0)");
    if (int64_t(m.units.size()) > core_limit)
      throw DoesNotFitError(chip.name, {{"cores", "--max-cores", int64_t(m.units.size()), core_limit,
                                         "allow more cores (--max-cores) or use a larger chip"}});
    return with_search_notes(std::move(m));
  }

  ProfileOptions quick = profile;
  quick.tokens = std::min(profile.tokens, std::max(1, objective.search_profile_tokens));
  CompileOptions best_options = compile;
  Mapping best = compile_profiled(read_model(), chip, chip_yaml, best_options, quick, rows);
  if (int64_t(best.units.size()) > core_limit)
    throw DoesNotFitError(chip.name, {{"cores", "--max-cores", int64_t(best.units.size()), core_limit,
                                       "allow more cores (--max-cores) or use a larger chip"}});
  const double start_bound = best.estimate.cycles_per_token;
  const std::size_t start_cores = best.units.size();
  std::set<Group> exhausted;  // groups a further split did not pay for, or cannot take
  int steps = 0, kept = 0;
  while (steps < objective.search_steps) {
    std::optional<Group> chosen;
    for (Group g : groups_by_time_on_path(best))
      if (!exhausted.count(g)) {
        chosen = g;
        break;
      }
    if (!chosen) break;
    CompileOptions trial = best_options;
    if (!split_further(best, *chosen, trial)) {
      exhausted.insert(*chosen);
      continue;
    }
    ++steps;
    std::optional<Mapping> tried;
    std::string why_not;
    try {
      tried = compile_profiled(read_model(), chip, chip_yaml, trial, quick, rows);
      if (int64_t(tried->units.size()) > core_limit) {
        why_not = fmt::format("needs {} cores, {} allowed", tried->units.size(), core_limit);
        tried.reset();
      }
    } catch (const DoesNotFitError& e) {
      why_not = fmt::format("does not fit ({} problem{})", e.problems().size(), e.problems().size() == 1 ? "" : "s");
    }
    const std::string what =
        *chosen == Group::residual
            ? fmt::format("the residual stream in {} slices per layer", trial.residual_slices)
            : fmt::format("{} in smaller row blocks", group_name(*chosen));
    if (tried && tried->estimate.cycles_per_token < 0.99 * best.estimate.cycles_per_token) {
      search.push_back(fmt::format("objective latency: {}: bound {:.0f} -> {:.0f} cycles per token, {} -> {} cores: kept",
                                   what, best.estimate.cycles_per_token, tried->estimate.cycles_per_token,
                                   best.units.size(), tried->units.size()));
      best = std::move(*tried);
      best_options = std::move(trial);
      ++kept;
    } else {
      search.push_back(tried ? fmt::format("objective latency: {}: bound {:.0f} -> {:.0f} cycles per token: "
                                           "under 1 % shorter, not kept",
                                           what, best.estimate.cycles_per_token, tried->estimate.cycles_per_token)
                             : fmt::format("objective latency: {}: {}, not kept", what, why_not));
      exhausted.insert(*chosen);
    }
  }
  Mapping result = quick.tokens != profile.tokens
                       ? compile_profiled(read_model(), chip, chip_yaml, best_options, profile, rows)
                       : best;
  search.push_back(fmt::format(
      "objective latency: {} split{} kept of {} tried, each estimated on {} profile token{}: bound {:.0f} -> {:.0f} "
      "cycles per token on those tokens, {} -> {} cores (at most {})",
      kept, kept == 1 ? "" : "s", steps, quick.tokens, quick.tokens == 1 ? "" : "s", start_bound,
      best.estimate.cycles_per_token, start_cores, result.units.size(), core_limit));
  return with_search_notes(std::move(result));
}

}  // namespace spiketile
