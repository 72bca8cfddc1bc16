#include <fmt/format.h>

#include "chips/chip_spec.hpp"
#include "chips/core_area.hpp"
#include "chips/energy_table.hpp"
#include "cli/common.hpp"

namespace spiketile::cli {

namespace {
struct ChipOptions {
  std::string chip = std::string(SPIKETILE_SOURCE_DIR) + "/chips/default.yaml";
  std::string energy;
  bool describe = false;
};

void run_chip(const ChipOptions& o) {
  if (o.describe) {
    fmt::print("{}\n{}", describe_chip_spec(), describe_energy_table());
    return;
  }
  const ChipSpec c = load_chip_spec(o.chip);
  const auto packet = c.event_packet_format();
  fmt::print("chip description:  {} ({})\n", o.chip, c.name);
  fmt::print("system:            {} chip(s) of {}x{} cores = {} cores at {} MHz\n", c.system.chip_count, c.mesh.rows,
             c.mesh.cols, c.total_cores(), c.clock_frequency_mhz);
  fmt::print("crossbar:          {} axons x {} neurons, {}-bit weights ({} bytes per core, {:.1f} MB in all)\n",
             c.core.crossbar.axons, c.core.crossbar.neurons, c.core.weight_bits, c.crossbar_weight_bytes(),
             double(c.total_synapse_bytes()) / 1e6);
  fmt::print("core datapath:     {}-bit synapse reads, {} neuron-unit lanes, {} SFU(s); axon queue {} events\n",
             c.core.synapse_sram.access_width_bits, c.core.neuron_unit.lanes, c.core.sfu.units,
             c.core.axon_input_queue_depth);
  fmt::print("event packet:      {} bits in a {}-bit flit{}; router buffers {} flits per port, bursts of up to {}\n",
             packet.single_event_bits(c.router.max_burst_events), c.router.flit_bits,
             c.router.max_burst_events > 1 ? " (its burst bit included)" : "", c.router.input_buffer_depth_flits,
             c.router.max_burst_events);
  if (c.power.gating == PowerGating::none)
    fmt::print("power gating:      none (every tile powered for the whole run)\n");
  else
    fmt::print("power gating:      {} (a switched-off tile draws {:g} % of its static power)\n",
               power_gating_name(c.power.gating), 100.0 * c.power.gated_static_fraction);
  std::string no_area;
  if (const auto area = core_area_proxy(c, &no_area))
    fmt::print("core area proxy:   {} generic cells ({} flip-flops) + {} synapse SRAM bits per core: the neuron-core "
               "datapath as Yosys synthesizes the RTL (rtl/README.md)\n",
               area->logic_cells, area->flip_flops, area->synapse_sram_bits);
  else
    fmt::print("core area proxy:   none ({})\n", no_area);
  fmt::print("valid:             yes (every field checked)\n");
  if (!o.energy.empty()) {
    const EnergyTable e = load_energy_table(o.energy);
    fmt::print("\nenergy table:      {} ({}), {} actions, static {:.3f} mW/core\n", o.energy, e.name, e.actions_pj.size(),
               e.static_power_mw_per_core);
    for (const auto& w : energy_table_compatibility_warnings(e, c)) fmt::print("  warning: {}\n", w);
  }
}
}  // namespace

void register_chip(CLI::App& app) {
  auto opts = std::make_shared<ChipOptions>();
  auto* cmd = app.add_subcommand("chip", "Validate a chip description (and energy table) or describe every parameter");
  auto* positional = cmd->add_option("chip", opts->chip, "Chip description YAML")->capture_default_str();
  // The same file by the name compile and report give it.
  cmd->add_option("-c,--chip", opts->chip, "The same as the positional argument")->excludes(positional);
  cmd->add_option("--energy-table", opts->energy, "Also validate this per-action energy table");
  cmd->add_flag("--describe", opts->describe, "Print every section and parameter with unit, default and meaning");
  cmd->callback([opts] { run_chip(*opts); });
}

}  // namespace spiketile::cli
