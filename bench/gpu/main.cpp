// spiketile_gpu_bench: the measured dense GPU baseline (docs/performance.md, "A measured GPU
// baseline"; the file it writes: docs/report.md §3 (c)). Needs a CUDA GPU; without one it says
// "no CUDA device: …" and exits with status 3.
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "bench/gpu/cuda_backend.hpp"
#include "bench/gpu/gpu_bench_host.hpp"

using namespace spiketile;
using namespace spiketile::gpu_bench;

int main(int argc, char** argv) {
  GpuBenchOptions options;
  const std::unique_ptr<CLI::App> app = make_cli(options);
  try {
    app->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app->exit(e);
  }
  try {
    validate_options(options);
    // The device first: a machine without one learns it before a large checkpoint loads.
    CudaBackend backend(options.device);
    const EnergyCounter energy = EnergyCounter::open(backend.pci_bus_id());
    if (!energy.available()) fmt::print(stderr, "warning: no energy figures: {}\n", energy.unavailable_reason());
    fmt::print(stderr, "loading {}\n", options.shape.empty() ? options.model : "random weights " + options.shape);
    GoldenModel golden(load_weights(options), options.threads);
    const GpuMeasurement measurement = run_sweep(options, golden, backend, energy, stderr);
    print_measurement(stdout, measurement);
    if (!options.json_out.empty()) write_measurement(options.json_out, measurement);
    return 0;
  } catch (const NoCudaDevice& e) {
    fmt::print(stderr, "{}\n", e.what());
    return kNoDeviceExitStatus;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
