// One SpikeGPT RNN step over a batch of sequences, as the GPU runs it: the order of its kernels
// and matrix products, written once for both executors, the CUDA one (cuda_step.cu) and the host
// emulation the unit tests check against the golden model (step_emulator.hpp).
//
// Every matrix product reads its own input buffer and writes its own output buffer, both indexed
// by the product (Gemm): input g holds [batch × in_width(g)] values in the run's precision,
// output g [batch × out_width(g)] float32 sums (int8: int32 sums and the scales to apply). The
// element-wise kernels between the products compute exactly the golden model's expressions
// (models/float_step_ops.hpp, models/lif.hpp) in float32, one sequence after another in the
// emulation, in parallel on the GPU.
#pragma once

#include <cstdint>

namespace spiketile::gpu_bench {

// The matrices of a step: per layer the first seven, then the head.
enum class Gemm { att_receptance, att_key, att_value, att_output, ffn_receptance, ffn_key, ffn_value, head };
inline constexpr int kLayerGemms = 7;
inline constexpr int kGemmCount = 8;

// Widths of a step's buffers for one sequence.
struct StepShape {
  int64_t n_embd = 0;
  int64_t vocab_padded = 0;  // the head's rows, padded (packed_model.hpp)

  int64_t in_width(Gemm g) const { return g == Gemm::ffn_value ? 4 * n_embd : n_embd; }
  int64_t out_width(Gemm g) const {
    return g == Gemm::ffn_key ? 4 * n_embd : g == Gemm::head ? vocab_padded : n_embd;
  }
};

// The recurrent state of one sequence has the golden model's layout (RecurrentState: per layer
// 7 vectors of n_embd, slots FfnShift, AttShift, WkvNum, WkvDen, WkvMax, MemAtt, MemFfn), and a
// batch holds one such block per sequence, so a sequence's state moves to and from the golden
// model as one copy.

// The step. Executor provides:
//   embed()                      x = LN0(emb[token]) (the embedding row binarized where the model is)
//   att_inputs(i)                z = LN1(x); r/k/v inputs = token shifts of z and the previous z; keep z
//   gemm(i, g)                   output g = W_g(i) · input g (layer -1: the head)
//   wkv(i)                       att_output input = sigmoid(r) · WKV(k, v), updating a, b, p
//   att_spikes_ffn_inputs(i)     x += LIF1(W_o y); z = LN2(x); ffn r/k inputs = token shifts; keep z
//   relu_squared(i)              ffn_value input = max(k', 0)²
//   ffn_spikes(i)                x += LIF2(sigmoid(r') · W'_v h); x /= 2 after every 6th layer (rescale)
//   head_input()                 head input = LN_out(x)
//   next_tokens()                each sequence's next token = the first index of its largest logit
template <class Executor>
void run_step(Executor& e, int n_layer) {
  e.embed();
  for (int i = 0; i < n_layer; ++i) {
    e.att_inputs(i);
    e.gemm(i, Gemm::att_receptance);
    e.gemm(i, Gemm::att_key);
    e.gemm(i, Gemm::att_value);
    e.wkv(i);
    e.gemm(i, Gemm::att_output);
    e.att_spikes_ffn_inputs(i);
    e.gemm(i, Gemm::ffn_receptance);
    e.gemm(i, Gemm::ffn_key);
    e.relu_squared(i);
    e.gemm(i, Gemm::ffn_value);
    e.ffn_spikes(i);
  }
  e.head_input();
  e.gemm(-1, Gemm::head);
  e.next_tokens();
}

}  // namespace spiketile::gpu_bench
