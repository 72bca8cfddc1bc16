// Windows: the chips of a run see each other only at window boundaries (sim/README.md, "Windows").
//
// Everything that crosses a chip boundary — a packet on an inter-chip link, credits coming back
// over one, a token start on its way to another chip's core — takes at least the inter-chip link
// latency L to arrive. So if the earliest event anywhere lies at cycle e, nothing sent from then
// on can matter anywhere before e + L: every chip can run to e + L on its own, and what crossed
// chips is handed over there, before anything at e + L happens. The window ends are a function of
// the run's events alone, so the bits and every count are the same however the chips are spread
// over processes.
#include <fmt/format.h>

#include "sim/chip_simulator.hpp"
#include "sim/cross_chip_starts.hpp"
#include "sim/network.hpp"

namespace spiketile::sim {

void ChipSimulator::hand_over_held_traffic() {
  // Taken out first: handing over may queue nothing new, but the lists must not grow under us.
  std::vector<InterChipFlit> flits;
  std::vector<InterChipCredit> credits;
  std::vector<CrossChipStarts::Notice> starts;
  flits.swap(network_->held_flits());
  credits.swap(network_->held_credits());
  starts.swap(cross_chip_starts_->held());
  for (const auto& f : flits) network_->deliver(f);
  for (const auto& c : credits) network_->deliver(c);
  for (const auto& s : starts) cross_chip_starts_->queue(s);
}

void ChipSimulator::run_windows() {
  const CycleClock& clock = network_->clock();
  const Cycle lookahead = Cycle(network_->config().inter_chip_link_latency_cycles);
  for (;;) {
    hand_over_held_traffic();
    if (network_->failed()) break;
    if (!sc_core::sc_pending_activity()) break;
    const Cycle next = clock.now() + clock.cycles(sc_core::sc_time_to_pending_activity());
    const Cycle until = next + lookahead;
    sc_core::sc_start(clock.after(until - clock.now()), sc_core::SC_EXIT_ON_STARVATION);
  }
  network_->rethrow_if_failed();
  if (!network_->quiescent())
    throw NocError(fmt::format("simulation stopped after {} cycles with packets still in flight:\n{}", clock.now(),
                               network_->stall_report()));
}

}  // namespace spiketile::sim
