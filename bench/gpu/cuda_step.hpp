// The GPU side of spiketile_gpu_bench, behind a plain C++ interface (no CUDA types), so that
// only cuda_step.cu needs nvcc. One CudaStep holds one packed model at one batch size on the
// device and runs the schedule of step_schedule.hpp: cuBLAS (cublasGemmEx) for the products,
// one block per sequence for the element-wise kernels, which compute the golden model's
// expressions (models/float_step_ops.hpp, models/lif.hpp) in float32.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "bench/gpu/packed_layout.hpp"

namespace spiketile::gpu_bench {

class CudaError : public std::runtime_error {
 public:
  CudaError(const std::string& what, bool unsupported) : std::runtime_error(what), unsupported_(unsupported) {}
  // cuBLAS refused the operation on this device (CUBLAS_STATUS_NOT_SUPPORTED), rather than failed.
  bool unsupported() const { return unsupported_; }

 private:
  bool unsupported_;
};

struct CudaDeviceDescription {
  std::string name, pci_bus_id, compute_capability, cuda_runtime, cublas;
  int sm_count = 0;
  double memory_gib = 0;
};

// Makes device `index` current and describes it; returns "" on success, else why no CUDA device
// can be used (no driver, no device, an index beyond the devices).
std::string open_cuda_device(int index, CudaDeviceDescription& description);

class CudaStep {
 public:
  // Uploads the model and allocates the step's buffers for `batch` sequences, all in the zero state.
  CudaStep(const PackedModelView& model, int batch);
  ~CudaStep();
  CudaStep(const CudaStep&) = delete;
  CudaStep& operator=(const CudaStep&) = delete;

  // Sequence b's recurrent state in the golden model's layout (n_layer · 7 · n_embd floats).
  void set_state(int sequence, const float* state);
  void get_state(int sequence, float* state);
  void set_tokens(const int* tokens);  // one per sequence
  void get_logits(float* logits);      // [batch × vocab], after the last step
  // One step, asynchronously: its kernels and products one by one, or the step captured once as
  // a CUDA Graph and launched as one. Either leaves each sequence's greedy next token where the
  // next step reads its token.
  void enqueue_step();
  void enqueue_graph_step();
  void synchronize();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spiketile::gpu_bench
