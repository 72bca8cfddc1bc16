// spiketile: compile a trained SpikeGPT onto a neuromorphic chip, simulate it, and report
// what it costs. One binary, one subcommand per job.
#include <fmt/format.h>

#include <cstdlib>
#include <exception>

#include <systemc>

#include "cli/common.hpp"
#include "sim/mpi_rank_group.hpp"

namespace {
// SystemC prints its banner to stdout, in the middle of generated text; it honours this variable,
// which must be set before libsystemc's main() runs, i.e. during static initialisation.
const bool kQuietSystemC = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;
}  // namespace

// libsystemc supplies main() and calls sc_main (../shared/reference/stack.md), so the CLI's entry
// point is sc_main; commands that never build a SystemC model never touch the kernel.
int sc_main(int argc, char** argv) {
  CLI::App app{"spiketile: what does a trained SpikeGPT really cost on neuromorphic hardware?"};
  app.set_version_flag("--version", "spiketile " SPIKETILE_VERSION);
  app.require_subcommand(1);
  spiketile::cli::register_run(app);
  spiketile::cli::register_eval(app);
  spiketile::cli::register_inspect(app);
  spiketile::cli::register_calibrate(app);
  spiketile::cli::register_chip(app);
  spiketile::cli::register_compile(app);
  spiketile::cli::register_simulate(app);
  spiketile::cli::register_report(app);
  spiketile::cli::register_verify_rtl(app);
  spiketile::cli::register_explore(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);  // also a command's own exit status (explore: 2 when a point failed)
    spiketile::sim::mpi_finish();
    return status;
  } catch (const std::exception& e) {
    if (spiketile::sim::mpi_active()) {
      // One rank's error ends every rank now, rather than leaving them waiting for it.
      fmt::print(stderr, "spiketile: error (rank {} of {}): {}\n", spiketile::sim::mpi_rank(),
                 spiketile::sim::mpi_size(), e.what());
      std::fflush(stderr);
      spiketile::sim::mpi_abort_all(1);
    }
    fmt::print(stderr, "spiketile: error: {}\n", e.what());
    return 1;
  }
  spiketile::sim::mpi_finish();
  return 0;
}
