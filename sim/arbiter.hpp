// Output-port arbitration, implementations registered by name (router.arbitration in the chip YAML).
//
// Each cycle a router asks the arbiter of an output port to pick one of the input ports whose head
// packet is ready, wants that output and has the credits to go; the arbiter keeps whatever state
// its policy needs per output port.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace spiketile::sim {

class IArbiter {
 public:
  virtual ~IArbiter() = default;
  // Picks one input port from `requests` (bit i = input port i; never 0) for `output`.
  virtual int grant(int output, uint32_t requests) = 0;
};

struct ArbiterInfo {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<IArbiter>(int ports)> make;
};

// Every registered arbiter (round_robin, fixed_priority, and whatever register_arbiter added).
const std::vector<ArbiterInfo>& arbiters();
void register_arbiter(ArbiterInfo info);
// Throws std::invalid_argument naming the unknown policy and the known ones.
std::unique_ptr<IArbiter> make_arbiter(const std::string& name, int ports);

}  // namespace spiketile::sim
