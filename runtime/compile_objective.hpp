// What `spiketile compile --objective` optimizes, and the search that does it.
//
// `cores` compiles on as few cores as the model needs (every matrix in as few crossbar tiles as
// fit, one residual slice per crossbar width). `latency` starts there and spends idle cores on the
// token's critical path: it reads the latency estimate's critical path (runtime/latency_estimate.hpp),
// takes the stage that holds it longest — a matrix of one layer, or the residual slices — and
// splits it in twice as many row blocks (slices), so each block's events read shorter rows and its
// neuron function and SFU work covers fewer rows; it keeps a split that shortens the bound by at
// least 1 % and fits the cores allowed, and tries the next stage otherwise. `energy` and `edp` run
// the same search but keep a split only when it lowers the estimated energy per token (the
// replayed work and traffic priced by the energy table, plus the powered tiles' static energy over
// the bound: the report's own rules), or energy × bound, by at least 1 %. Every split tried is a
// decision line with its predicted effect.
#pragma once

#include <functional>
#include <string>

#include "chips/energy_table.hpp"
#include "compiler/lowering.hpp"
#include "runtime/latency_estimate.hpp"

namespace spiketile {

enum class Objective { latency, energy, edp, cores };
const char* objective_name(Objective objective);
Objective objective_from_name(const std::string& name);  // throws std::invalid_argument naming the choices

struct ObjectiveOptions {
  Objective objective = Objective::latency;
  const EnergyTable* energy_table = nullptr;  // prices energy and edp (required for them)
  int max_cores = 0;            // cores the mapping may take; 0: every core of the system
  int search_steps = 24;        // splits tried at most
  int search_profile_tokens = 4;  // tokens each tried split is estimated on (the result: ProfileOptions::tokens)
  // Hears (splits tried, the most it may try) as the search goes (may be empty).
  std::function<void(int, int)> progress;
};

// The chip's energy per token, in pJ, that a placed mapping's estimate predicts: `work` (what its
// replay did) and the estimate's traffic priced as the report prices the simulator's counts
// (chip_actions with whole SRAM accesses, router.flit_hop and flit_delivery, link.inter_chip_flit), plus the static
// energy of the tiles power.gating keeps on, over the latency bound.
double estimated_energy_pj(const Mapping& mapping, const ChipSpec& chip, const EnergyTable& table,
                           const EstimatedWork& work);

// The model, read anew for each compile the search runs (lowering consumes it).
using ModelSource = std::function<QuantizedSpikeGpt()>;

Mapping compile_for_objective(const ModelSource& read_model, const ChipSpec& chip, const std::string& chip_yaml,
                              const CompileOptions& compile, const ProfileOptions& profile,
                              const EmbeddingRowSource& rows, const ObjectiveOptions& objective);

}  // namespace spiketile
