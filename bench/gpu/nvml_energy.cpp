#include "bench/gpu/nvml_energy.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <stdexcept>

namespace spiketile::gpu_bench {

// The NVML interface used here, declared after NVIDIA's NVML API Reference Guide
// (https://docs.nvidia.com/deploy/nvml-api/): "Initialization and Cleanup" (nvmlInit_v2,
// nvmlShutdown), "Error reporting" (nvmlErrorString), "System Queries"
// (nvmlSystemGetDriverVersion) and "Device Queries" (nvmlDeviceGetHandleByPciBusId_v2,
// nvmlDeviceGetTotalEnergyConsumption, nvmlDeviceGetClockInfo, nvmlDeviceGetMaxClockInfo,
// nvmlDeviceGetEnforcedPowerLimit). Only these signatures and constants, nothing else of nvml.h.
namespace nvml {
using Return = int;             // nvmlReturn_t, an enum
constexpr Return kSuccess = 0;  // NVML_SUCCESS
using Device = struct DeviceStruct*;  // nvmlDevice_t, an opaque handle
using ClockType = int;                // nvmlClockType_t
constexpr ClockType kClockSm = 1;     // NVML_CLOCK_SM
constexpr ClockType kClockMem = 2;    // NVML_CLOCK_MEM
constexpr unsigned kDriverVersionBufferSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

using Init = Return (*)();
using Shutdown = Return (*)();
using ErrorString = const char* (*)(Return);
using DriverVersion = Return (*)(char* version, unsigned length);
using HandleByPciBusId = Return (*)(const char* pci_bus_id, Device* device);
using TotalEnergy = Return (*)(Device device, unsigned long long* millijoules);
using ClockInfo = Return (*)(Device device, ClockType type, unsigned* mhz);
using PowerLimit = Return (*)(Device device, unsigned* milliwatts);
}  // namespace nvml

struct EnergyCounter::Api {
  void* library = nullptr;
  nvml::Init init = nullptr;
  nvml::Shutdown shutdown = nullptr;
  nvml::ErrorString error_string = nullptr;
  nvml::DriverVersion driver_version = nullptr;
  nvml::HandleByPciBusId handle_by_pci_bus_id = nullptr;
  nvml::TotalEnergy total_energy = nullptr;
  nvml::ClockInfo clock_info = nullptr;
  nvml::ClockInfo max_clock_info = nullptr;
  nvml::PowerLimit power_limit = nullptr;
  nvml::Device device = nullptr;
  bool initialized = false;

  ~Api() {
    if (initialized) shutdown();
    if (library) dlclose(library);
  }
  std::string error(nvml::Return r) const { return error_string ? error_string(r) : fmt::format("NVML error {}", r); }
};

namespace {

template <typename F>
bool bind(void* library, const char* name, F& f, std::string& missing) {
  f = reinterpret_cast<F>(dlsym(library, name));
  if (!f) missing += std::string(missing.empty() ? "" : ", ") + name;
  return f != nullptr;
}

}  // namespace

EnergyCounter::EnergyCounter() = default;
EnergyCounter::EnergyCounter(EnergyCounter&&) noexcept = default;
EnergyCounter& EnergyCounter::operator=(EnergyCounter&&) noexcept = default;
EnergyCounter::~EnergyCounter() = default;

EnergyCounter EnergyCounter::open(const std::string& pci_bus_id, const std::string& library) {
  EnergyCounter c;
  auto api = std::make_unique<Api>();
  api->library = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!api->library) {
    const char* why = dlerror();
    c.reason_ = fmt::format("no NVML: cannot load {} ({}); it comes with the NVIDIA driver", library,
                            why ? why : "unknown error");
    return c;
  }
  std::string missing;
  bind(api->library, "nvmlInit_v2", api->init, missing);
  bind(api->library, "nvmlShutdown", api->shutdown, missing);
  bind(api->library, "nvmlErrorString", api->error_string, missing);
  bind(api->library, "nvmlSystemGetDriverVersion", api->driver_version, missing);
  bind(api->library, "nvmlDeviceGetHandleByPciBusId_v2", api->handle_by_pci_bus_id, missing);
  bind(api->library, "nvmlDeviceGetTotalEnergyConsumption", api->total_energy, missing);
  bind(api->library, "nvmlDeviceGetClockInfo", api->clock_info, missing);
  bind(api->library, "nvmlDeviceGetMaxClockInfo", api->max_clock_info, missing);
  bind(api->library, "nvmlDeviceGetEnforcedPowerLimit", api->power_limit, missing);
  if (!missing.empty()) {
    c.reason_ = fmt::format("{} lacks {} (an NVML older than the R450 drivers?)", library, missing);
    return c;
  }
  if (const nvml::Return r = api->init(); r != nvml::kSuccess) {
    c.reason_ = fmt::format("nvmlInit_v2 failed: {}", api->error(r));
    return c;
  }
  api->initialized = true;
  if (const nvml::Return r = api->handle_by_pci_bus_id(pci_bus_id.c_str(), &api->device); r != nvml::kSuccess) {
    c.reason_ = fmt::format("NVML has no device at PCI bus id {}: {}", pci_bus_id, api->error(r));
    return c;
  }
  unsigned long long millijoules = 0;
  if (const nvml::Return r = api->total_energy(api->device, &millijoules); r != nvml::kSuccess) {
    c.reason_ = fmt::format("nvmlDeviceGetTotalEnergyConsumption: {} (the counter needs a Volta or newer GPU)",
                            api->error(r));
    c.api_ = std::move(api);  // clocks and driver may still be there
    return c;
  }
  c.api_ = std::move(api);
  c.available_ = true;
  return c;
}

std::string EnergyCounter::source() const {
  return available_ ? "nvmlDeviceGetTotalEnergyConsumption (board energy, millijoules)" : "none: " + reason_;
}

double EnergyCounter::total_energy_j() const {
  if (!available_) throw std::runtime_error("no energy counter: " + reason_);
  unsigned long long millijoules = 0;
  if (const nvml::Return r = api_->total_energy(api_->device, &millijoules); r != nvml::kSuccess)
    throw std::runtime_error(fmt::format("nvmlDeviceGetTotalEnergyConsumption failed: {}", api_->error(r)));
  return double(millijoules) / 1e3;
}

std::optional<GpuClocks> EnergyCounter::read_clocks(bool maximum) const {
  if (!api_ || !api_->device) return std::nullopt;
  const nvml::ClockInfo read = maximum ? api_->max_clock_info : api_->clock_info;
  unsigned sm = 0, memory = 0;
  if (read(api_->device, nvml::kClockSm, &sm) != nvml::kSuccess ||
      read(api_->device, nvml::kClockMem, &memory) != nvml::kSuccess)
    return std::nullopt;
  return GpuClocks{double(sm), double(memory)};
}

std::optional<GpuClocks> EnergyCounter::clocks() const { return read_clocks(false); }
std::optional<GpuClocks> EnergyCounter::max_clocks() const { return read_clocks(true); }

std::optional<double> EnergyCounter::power_limit_w() const {
  unsigned milliwatts = 0;
  if (!api_ || !api_->device || api_->power_limit(api_->device, &milliwatts) != nvml::kSuccess) return std::nullopt;
  return double(milliwatts) / 1e3;
}

std::string EnergyCounter::driver_version() const {
  char version[nvml::kDriverVersionBufferSize] = {};
  if (!api_ || api_->driver_version(version, sizeof version) != nvml::kSuccess) return "";
  return version;
}

EnergyFigures energy_figures(std::optional<double> energy_j, double seconds, int64_t tokens,
                             std::optional<double> idle_power_w) {
  if (seconds <= 0 || tokens <= 0) throw std::invalid_argument("energy_figures: an interval needs time and tokens");
  EnergyFigures f;
  if (!energy_j) return f;
  f.energy_j = *energy_j;
  f.mean_power_w = *energy_j / seconds;
  f.per_token_j = *energy_j / double(tokens);
  if (idle_power_w) f.per_token_above_idle_j = (*energy_j - *idle_power_w * seconds) / double(tokens);
  return f;
}

}  // namespace spiketile::gpu_bench
