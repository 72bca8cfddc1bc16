// Simulated time in chip clock cycles.
//
// Every process of the chip model works in whole cycles of the one chip clock
// (clock_frequency_mhz). SystemC time is that count times the clock period, rounded once to the
// kernel's time resolution, so all activity sits exactly on cycle boundaries and converting back
// is an exact integer division. There is no sc_clock: a process that has work asks to be woken a
// number of cycles ahead (`after`), and a process without work is never run.
#pragma once

#include <cstdint>
#include <limits>

#include <systemc>

namespace spiketile::sim {

using Cycle = uint64_t;
inline constexpr Cycle kNever = std::numeric_limits<Cycle>::max();

class CycleClock {
 public:
  explicit CycleClock(double frequency_mhz);

  double frequency_mhz() const { return frequency_mhz_; }
  double period_ns() const { return 1000.0 / frequency_mhz_; }
  const sc_core::sc_time& period() const { return period_; }

  // The current cycle (time since the start of the simulation, in whole periods).
  Cycle now() const { return sc_core::sc_time_stamp().value() / period_ticks_; }
  // The delay from now until `cycles` cycles later, for sc_event::notify / next_trigger.
  sc_core::sc_time after(Cycle cycles) const { return sc_core::sc_time::from_value(cycles * period_ticks_); }
  double to_ns(Cycle cycles) const { return double(cycles) * period_ns(); }
  // Whole cycles in a span of kernel time.
  Cycle cycles(const sc_core::sc_time& span) const { return span.value() / period_ticks_; }

 private:
  double frequency_mhz_;
  sc_core::sc_time::value_type period_ticks_;
  sc_core::sc_time period_;
};

}  // namespace spiketile::sim
