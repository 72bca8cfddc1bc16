#include "rtl/loop/backend_comparison.hpp"

#include <fmt/format.h>

#include <chrono>
#include <deque>
#include <stdexcept>

namespace spiketile::rtl {

namespace {
using Clock = std::chrono::steady_clock;
}

ComparisonResult compare_backends(NeuronCoreBackend& a, NeuronCoreBackend& b, const ComparisonOptions& opt) {
  if (a.shape().axons != b.shape().axons || a.shape().neurons != b.shape().neurons ||
      a.geometry().lanes != b.geometry().lanes)
    throw std::invalid_argument(fmt::format("cannot compare neuron cores of different geometry ('{}' and '{}')",
                                            a.model_name(), b.model_name()));
  ComparisonResult r;
  const auto report = [&](const std::string& what, uint8_t scenario) {
    ++r.mismatches;
    if (int(r.reports.size()) < opt.max_report)
      r.reports.push_back(fmt::format("call {} [{}] {}", r.calls, Stimulus::scenario_names()[scenario], what));
  };
  const CoreGeometry& g = a.geometry();
  Stimulus stim(g.shape, g.lanes, opt.seed, opt.profile, opt.directed, opt.cycles);
  std::deque<Op> ops;
  TickResult ta, tb;
  double sa = 0, sb = 0;

  while (a.cycles() < opt.cycles || !ops.empty()) {
    if (opt.stop_at_first && r.mismatches) break;
    if (ops.empty()) stim.next_segment(ops);
    if (opt.progress) opt.progress(a.cycles(), opt.cycles);
    const Op op = std::move(ops.front());
    ops.pop_front();
    uint64_t ca = 0, cb = 0;
    try {
      const auto t0 = Clock::now();
      const auto run = [&](NeuronCoreBackend& core, TickResult& t) -> uint64_t {
        switch (op.type) {
          case Op::Type::kEvent: return core.apply(op.event);
          case Op::Type::kTick: return core.tick(t);
          case Op::Type::kReadout: return core.read_out(t);
          case Op::Type::kPartialSum: return core.add_partial_sum(op.neuron, op.partial_sum);
          case Op::Type::kReset: return core.reset();
          case Op::Type::kWeights: return core.set_weights(op.axon, op.group * g.lanes, op.weights.data(), g.lanes);
          case Op::Type::kMultiplier: return core.set_multiplier(op.neuron, op.multiplier);
          case Op::Type::kNeuronParams: return core.set_neuron_params(op.neuron, op.params);
          case Op::Type::kParamReset: return core.reset_neuron_params();
          case Op::Type::kGap: return core.idle(uint64_t(op.count));
        }
        return 0;
      };
      ca = run(a, ta);
      const auto t1 = Clock::now();
      cb = run(b, tb);
      sa += std::chrono::duration<double>(t1 - t0).count();
      sb += std::chrono::duration<double>(Clock::now() - t1).count();
    } catch (const std::runtime_error& e) {   // a core that breaks the port protocol
      report(e.what(), op.scenario);
      break;
    }
    ++r.calls;
    if (ca != cb) report(fmt::format("cycles: {} {} vs {} {}", a.backend_name(), ca, b.backend_name(), cb), op.scenario);
    if (op.type != Op::Type::kTick && op.type != Op::Type::kReadout) continue;
    ++r.ticks;
    r.spikes += uint64_t(ta.spike_count);
    const bool readout = op.type == Op::Type::kReadout;
    for (int n = 0; n < g.shape.neurons; ++n)
      if (ta.spikes[n] != tb.spikes[n] || ta.membranes[n] != tb.membranes[n] ||
          (readout && ta.accumulators[n] != tb.accumulators[n])) {
        report(fmt::format("{} {} neuron {}: {} v={} spike={}{}, {} v={} spike={}{}", readout ? "readout" : "tick",
                           r.ticks - 1, n, a.backend_name(), ta.membranes[n], ta.spikes[n],
                           readout ? fmt::format(" acc={}", ta.accumulators[n]) : "", b.backend_name(),
                           tb.membranes[n], tb.spikes[n], readout ? fmt::format(" acc={}", tb.accumulators[n]) : ""),
               op.scenario);
        break;   // one report per tick
      }
  }
  r.a = {a.backend_name(), a.model_name(), a.stats(), sa};
  r.b = {b.backend_name(), b.model_name(), b.stats(), sb};
  return r;
}

std::string comparison_summary(const ComparisonResult& r) {
  std::string out = fmt::format("backend comparison: {} ({}) vs {} ({}): {} calls, {} ticks, {} mismatches, {} spikes\n",
                                r.a.backend, r.a.model, r.b.backend, r.b.model, r.calls, r.ticks, r.mismatches, r.spikes);
  for (const BackendRun* run : {&r.a, &r.b}) {
    const CoreCycleStats& s = run->stats;
    out += fmt::format("  {:<9} {} cycles (events {} in {}, partial sums {} in {}, ticks {} in {}, readouts {} in {}, "
                       "writes {} in {}, resets {}, idle {}); {:.2f} s: {:.3g} cycles/s, {:.3g} neuron updates/s, {:.3g} SOPs/s\n",
                       run->backend, s.total(), s.events, s.event_cycles, s.partial_sums, s.partial_sum_cycles, s.ticks,
                       s.tick_cycles, s.readouts, s.readout_cycles, s.writes, s.write_cycles, s.resets, s.idle_cycles, run->seconds,
                       s.total() / run->seconds,
                       s.neuron_updates / run->seconds, s.sops / run->seconds);
  }
  for (const auto& m : r.reports) out += "  MISMATCH " + m + "\n";
  return out;
}

}  // namespace spiketile::rtl
