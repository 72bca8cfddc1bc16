// The board's energy counter and clocks through NVML, loaded at run time.
//
// NVML ships with the NVIDIA driver (libnvidia-ml.so.1), not with the CUDA toolkit, and its
// header is not in Debian 12's main archive, so the library is opened with dlopen and only the
// handful of entry points used here are declared (nvml_energy.cpp, after NVML's reference
// manual). A machine without the driver's NVML still runs the benchmark: every energy figure is
// then null ("not measured"), with the reason, never zero.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "runtime/gpu_measured.hpp"

namespace spiketile::gpu_bench {

class EnergyCounter {
 public:
  // Opens `library` and the GPU at `pci_bus_id` (as cudaDeviceGetPCIBusId writes it, so the
  // counter belongs to the device CUDA runs on whatever the enumeration order). Never throws:
  // without NVML, or without the energy counter (before Volta), available() is false.
  static EnergyCounter open(const std::string& pci_bus_id, const std::string& library = "libnvidia-ml.so.1");
  EnergyCounter(EnergyCounter&&) noexcept;
  EnergyCounter& operator=(EnergyCounter&&) noexcept;
  ~EnergyCounter();

  bool available() const { return available_; }
  // Why there is no energy counter ("" when there is one).
  const std::string& unavailable_reason() const { return reason_; }
  // What the energies come from: the NVML call, or why there are none.
  std::string source() const;

  // The board's energy since the driver loaded, in joules (NVML counts millijoules and updates
  // the counter every 20 to 100 ms, so intervals are timed over seconds). Throws
  // std::runtime_error when the read fails.
  double total_energy_j() const;
  // Present clocks, the maximum ones, the enforced power limit, the driver: null/"" where
  // NVML cannot say.
  std::optional<GpuClocks> clocks() const;
  std::optional<GpuClocks> max_clocks() const;
  std::optional<double> power_limit_w() const;
  std::string driver_version() const;

 private:
  struct Api;
  EnergyCounter();
  std::optional<GpuClocks> read_clocks(bool maximum) const;
  std::unique_ptr<Api> api_;
  bool available_ = false;
  std::string reason_;
};

// An interval's energy turned into the row's figures. The idle power (null without a counter)
// times the interval is what the board would have drawn doing nothing; above idle is the rest.
struct EnergyFigures {
  std::optional<double> energy_j, mean_power_w, per_token_j, per_token_above_idle_j;
};
EnergyFigures energy_figures(std::optional<double> energy_j, double seconds, int64_t tokens,
                             std::optional<double> idle_power_w);

}  // namespace spiketile::gpu_bench
