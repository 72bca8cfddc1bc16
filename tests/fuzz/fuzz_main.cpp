// libFuzzer entry point of one harness. The build compiles this file once per reader with
// SPIKETILE_FUZZ_TARGET naming its function in fuzz_targets.hpp, so the readers' harnesses cannot
// drift apart the way nine copies of this file could.
#include "tests/fuzz/fuzz_targets.hpp"

#ifndef SPIKETILE_FUZZ_TARGET
#error "define SPIKETILE_FUZZ_TARGET as the fuzz_<reader> function this harness runs"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  spiketile::fuzz::SPIKETILE_FUZZ_TARGET(data, size);
  return 0;
}
