#include <fmt/format.h>

#include "rtl/bench/bench.hpp"

namespace spiketile::rtl {

std::string describe_model(const RtlModel& m) {
  const CoreShape& s = m.geometry.shape;
  return fmt::format("{:<12} {:4d} axons x {:4d} neurons, {:3d} lanes, w{} a{} acc{} mem{}, mutant {}", m.name, s.axons,
                     s.neurons, m.geometry.lanes, s.weight_bits, s.activation_bits, s.accumulator_bits,
                     s.membrane_bits, m.mutant);
}

std::string bench_summary(const RtlModel& model, const BenchOptions& opt, const BenchStats& st) {
  const CoreShape& s = model.geometry.shape;
  std::string out = fmt::format("rtl bench: {} cycles, {} mismatches, {} spikes\n", st.cycles, st.mismatches, st.spikes);
  out += fmt::format("  model {} ({} axons x {} neurons, {} lanes; w{} a{} acc{} mem{}), seed {}, profile {}\n", model.name,
                     s.axons, s.neurons, model.geometry.lanes, s.weight_bits, s.activation_bits, s.accumulator_bits,
                     s.membrane_bits, opt.seed, opt.profile == Profile::kTicks ? "ticks" : "mixed");
  out += fmt::format("  {} events ({} SOPs), {} ticks, {} neuron updates checked, {} resets, "
                     "{} weight words + {} multipliers + {} neuron parameters loaded, {} parameter table resets, "
                     "{} partial sums, {} readout ticks\n",
                     st.events, st.sops, st.ticks, st.neuron_checks, st.resets, st.weight_words, st.multiplier_writes,
                     st.param_writes, st.param_resets, st.partial_sums, st.readouts);
  out += fmt::format("  {:.2f} s: {:.3g} cycles/s, {:.3g} neuron updates/s, {:.3g} SOPs/s\n", st.seconds,
                     st.cycles / st.seconds, st.neuron_checks / st.seconds, st.sops / st.seconds);
  const Corners& c = st.corners;
  out += fmt::format("  corners (neuron-ticks): {} at threshold ({} of them holding with >), {} one below, current at "
                     "+rail {} / -rail {}, membrane at min {}, acc at +rail {} / -rail {}, rounding ties +{} / -{}, "
                     "left shifts {}, empty ticks {}, resets during a tick {}, accumulators read out at a rail {}\n",
                     c.at_threshold, c.at_threshold_gt, c.below_threshold, c.current_max, c.current_min, c.membrane_min,
                     c.acc_max, c.acc_min, c.tie_pos, c.tie_neg, c.left_shift, c.empty_ticks, c.reset_in_tick,
                     c.readout_rail);
  out += fmt::format("  neuron modes (neuron-ticks): spikes reset to v_reset {} / by subtraction {} (saturated {}), "
                     "no-spike neurons {} ({} at or above theta), membrane clamped at +rail {} / -rail {}, current "
                     "stage {} (current at +rail {} / -rail {}), integrators {}, dv 0 {} / 1.0 {}, di 0 {} / 1.0 {}\n",
                     c.reset_to_value, c.reset_subtract, c.subtract_saturated, c.no_spike_mode, c.no_spike_over,
                     c.membrane_clamp_max, c.membrane_clamp_min, c.current_stage, c.syn_current_max, c.syn_current_min,
                     c.integrator, c.dv_zero, c.dv_one, c.di_zero, c.di_one);
  for (const auto& k : st.skipped) out += fmt::format("  directed scenario {} skipped: needs a longer run\n", k);
  if (opt.stop_at_first) {
    if (st.mismatches)
      out += fmt::format("  mutation check: mutant {} caught at cycle {} (scenario {})\n", model.mutant,
                         st.first_mismatch_cycle, st.first_mismatch_scenario);
    else
      out += fmt::format("  mutation check FAILED: mutant {} survived {} cycles\n", model.mutant, st.cycles);
  }
  return out;
}

}  // namespace spiketile::rtl
