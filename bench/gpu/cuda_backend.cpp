#include "bench/gpu/cuda_backend.hpp"

#include <fmt/format.h>

namespace spiketile::gpu_bench {

namespace {

// What cuBLAS refuses on this device (an int8 product it has no kernel for) is a configuration
// the sweep records as not measured; every other CUDA error stops the run.
template <typename F>
decltype(auto) refusals_as_unsupported(F&& f) {
  try {
    return f();
  } catch (const CudaError& e) {
    if (e.unsupported()) throw UnsupportedConfiguration(e.what());
    throw;
  }
}

class CudaDevice : public BenchDevice {
 public:
  CudaDevice(const PackedModel& model, int batch)
      : step_(model.view(), batch), batch_(batch), vocab_(model.config.vocab_size),
        state_floats_(std::size_t(model.config.n_layer) * RecurrentState::kSlots * std::size_t(model.config.n_embd)),
        logits_(std::size_t(batch) * std::size_t(model.config.vocab_size)) {}

  int batch() const override { return batch_; }
  void set_state(int sequence, const std::vector<float>& state) override {
    if (state.size() != state_floats_) throw std::invalid_argument("CudaDevice::set_state: the state of another model shape");
    step_.set_state(sequence, state.data());
  }
  const std::vector<float>& step(const std::vector<int>& tokens) override {
    step_.set_tokens(tokens.data());
    enqueue_step();
    step_.get_logits(logits_.data());  // synchronizes
    return logits_;
  }
  std::vector<float> state(int sequence) override {
    std::vector<float> s(state_floats_);
    step_.get_state(sequence, s.data());
    return s;
  }
  void set_variant(Variant v) override { variant_ = v; }
  void enqueue_step() override {
    refusals_as_unsupported([this] {
      if (variant_ == Variant::graph)
        step_.enqueue_graph_step();
      else
        step_.enqueue_step();
    });
  }
  void synchronize() override { step_.synchronize(); }

 private:
  CudaStep step_;
  int batch_, vocab_;
  std::size_t state_floats_;
  std::vector<float> logits_;
  Variant variant_ = Variant::stream;
};

}  // namespace

CudaBackend::CudaBackend(int index) {
  const std::string why = open_cuda_device(index, description_);
  if (!why.empty()) throw NoCudaDevice("no CUDA device: " + why);
}

GpuMeasuredDevice CudaBackend::describe() const {
  GpuMeasuredDevice d;
  d.name = description_.name;
  d.pci_bus_id = description_.pci_bus_id;
  d.compute_capability = description_.compute_capability;
  d.sm_count = description_.sm_count;
  d.memory_gib = description_.memory_gib;
  d.cuda_runtime = description_.cuda_runtime;
  d.cublas = description_.cublas;
  return d;
}

std::unique_ptr<BenchDevice> CudaBackend::load(const PackedModel& model, int batch) {
  return refusals_as_unsupported([&]() -> std::unique_ptr<BenchDevice> { return std::make_unique<CudaDevice>(model, batch); });
}

}  // namespace spiketile::gpu_bench
