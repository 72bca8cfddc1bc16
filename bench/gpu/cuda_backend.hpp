// The CUDA device as the sweep's backend (gpu_bench_host.hpp), over CudaStep (cuda_step.hpp).
#pragma once

#include <stdexcept>
#include <string>

#include "bench/gpu/cuda_step.hpp"
#include "bench/gpu/gpu_bench_host.hpp"

namespace spiketile::gpu_bench {

// "no CUDA device: <why>": the program prints it and exits with kNoDeviceExitStatus.
class NoCudaDevice : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class CudaBackend : public BenchBackend {
 public:
  // Throws NoCudaDevice when device `index` cannot be used.
  explicit CudaBackend(int index);
  GpuMeasuredDevice describe() const override;
  std::unique_ptr<BenchDevice> load(const PackedModel& model, int batch) override;
  const std::string& pci_bus_id() const { return description_.pci_bus_id; }

 private:
  CudaDeviceDescription description_;
};

}  // namespace spiketile::gpu_bench
