// Port access on verilated neuron_core models: field access on Verilator --cc ports, whatever C type the port's width maps to: CData..QData
// for up to 64 bits, VlWide<N> (32-bit words) beyond. Fields are at most 32 bits wide here.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>

#include "verilated.h"

namespace spiketile::rtl {

template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
inline void put_field(T& port, int lsb, int width, uint64_t v) {
  const uint64_t mask = ((uint64_t(1) << width) - 1) << lsb;
  port = T((uint64_t(port) & ~mask) | ((v << lsb) & mask));
}
template <std::size_t N>
inline void put_field(VlWide<N>& port, int lsb, int width, uint64_t v) {
  // A field of <= 32 bits spans at most two words: edit them as one 64-bit value.
  const int w = lsb / 32, o = lsb % 32;
  const bool two = w + 1 < int(N);
  const uint64_t mask = ((uint64_t(1) << width) - 1) << o;
  uint64_t pair = uint64_t(port.at(w)) | (two ? uint64_t(port.at(w + 1)) << 32 : 0);
  pair = (pair & ~mask) | ((v << o) & mask);
  port.at(w) = EData(pair);
  if (two) port.at(w + 1) = EData(pair >> 32);
}

template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
inline void clear_port(T& port) {
  port = 0;
}
template <std::size_t N>
inline void clear_port(VlWide<N>& port) {
  for (std::size_t i = 0; i < N; ++i) port.at(i) = 0;
}

// Several fields of one port word (e.g. neuron_param_fields()): the rest of the word is 0.
template <typename P, typename Fields>
inline void put_fields(P& port, const Fields& fields) {
  clear_port(port);
  for (const auto& f : fields) put_field(port, f.lsb, f.width, f.value);
}

template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
inline uint64_t get_field(const T& port, int lsb, int width) {
  return (uint64_t(port) >> lsb) & ((uint64_t(1) << width) - 1);
}
template <std::size_t N>
inline uint64_t get_field(const VlWide<N>& port, int lsb, int width) {
  const int w = lsb / 32, o = lsb % 32;
  uint64_t v = uint64_t(port.at(w)) >> o;
  if (o + width > 32 && w + 1 < int(N)) v |= uint64_t(port.at(w + 1)) << (32 - o);
  return v & ((uint64_t(1) << width) - 1);
}

inline int64_t sign_extend(uint64_t v, int width) {
  const uint64_t m = uint64_t(1) << (width - 1);
  return int64_t((v ^ m) - m);
}

// One clock cycle of a verilated neuron_core: inputs change only between the edges, the DUT
// samples them at the rising one.
template <typename V>
inline void clock_edge(V& dut, VerilatedContext& ctx) {
  dut.clk = 1;
  dut.eval();
  ctx.timeInc(1);
  dut.clk = 0;
  dut.eval();
  ctx.timeInc(1);
}

// The simulation context of one verilated core: memories power up as 0 (the stimulus loads them
// before any read anyway), and a failed RTL assertion ($error under --assert) is recorded
// (gotError) instead of stopping the process, so the bench and the backends can report it.
inline std::unique_ptr<VerilatedContext> make_core_context() {
  auto ctx = std::make_unique<VerilatedContext>();
  ctx->randReset(0);
  ctx->fatalOnError(false);
  return ctx;
}

// Whether an RTL assertion failed since the last call (its message is already printed).
inline bool assertion_failed(VerilatedContext& ctx) {
  const bool failed = ctx.gotError();
  ctx.gotError(false);
  return failed;
}

// Every input deasserted and both resets (the state's and the neuron parameter table's) held for
// two edges: the state every run starts from, with every neuron at SpikeGPT's LIF.
template <typename V>
inline void power_on(V& dut, VerilatedContext& ctx) {
  dut.clk = 0;
  dut.rst_n = 0;
  dut.par_rst_n = 0;
  dut.cmd_valid = 0;
  dut.wr_en = 0;
  dut.mul_wr_en = 0;
  dut.par_wr_en = 0;
  dut.eval();
  for (int i = 0; i < 2; ++i) clock_edge(dut, ctx);
}

}  // namespace spiketile::rtl
