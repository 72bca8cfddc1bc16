// The statistics every level writes for a SpikeGPT generation (`run --stats`, `simulate --stats`,
// the Python module's run() and simulate()): model, tokens consumed (prompt, then generated) and
// event counts; a simulator adds its own sections (ChipSimulator::fill_stats).
#pragma once

#include <string>
#include <vector>

#include "models/quant_options.hpp"
#include "models/token_model.hpp"
#include "runtime/execution.hpp"
#include "runtime/stats.hpp"

namespace spiketile {

// `quant`: the integer contract's widths, for a level that runs it (null: the float golden model).
RunStats generation_stats(const std::string& model_path, const QuantOptions* quant, const TokenModel& model,
                          const std::vector<int>& prompt, const std::vector<int>& generated, const CountTotals& counts);

}  // namespace spiketile
