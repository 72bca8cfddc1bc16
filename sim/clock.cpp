#include "sim/clock.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace spiketile::sim {

CycleClock::CycleClock(double frequency_mhz) : frequency_mhz_(frequency_mhz) {
  if (!(frequency_mhz > 0.0))
    throw std::invalid_argument(fmt::format("clock_frequency_mhz must be positive, got {}", frequency_mhz));
  const double resolution_ps = sc_core::sc_get_time_resolution().to_seconds() * 1e12;
  const double period_ps = 1e6 / frequency_mhz;
  const double ticks = std::round(period_ps / resolution_ps);
  if (ticks < 1.0)
    throw std::invalid_argument(fmt::format("a {} MHz clock period ({} ps) is below the SystemC time resolution ({} ps)",
                                            frequency_mhz, period_ps, resolution_ps));
  period_ticks_ = sc_core::sc_time::value_type(ticks);
  period_ = sc_core::sc_time::from_value(period_ticks_);
}

}  // namespace spiketile::sim
