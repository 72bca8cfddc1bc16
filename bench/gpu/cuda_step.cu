// The SpikeGPT RNN step on a CUDA GPU (cuda_step.hpp). Built only where nvcc is found, and
// compiled with --fmad=false so the element-wise float32 arithmetic rounds as the host's does.
#include "bench/gpu/cuda_step.hpp"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench/gpu/step_schedule.hpp"
#include "models/float_step_ops.hpp"
#include "models/lif.hpp"

namespace spiketile::gpu_bench {

namespace {

constexpr int kThreads = 256;          // element-wise kernels: one block per sequence
constexpr int kArgmaxThreads = 1024;   // the vocabulary scan is the longest row
constexpr int kSlots = 7;              // RecurrentState::kSlots
constexpr int kFfnShift = 0, kAttShift = 1, kWkvNum = 2, kWkvDen = 3, kWkvMax = 4, kMemAtt = 5, kMemFfn = 6;
constexpr float kWkvInitialMax = -1e30f;  // upstream state[5i+4] initial value
constexpr double kLayerNormEps = 1e-5;
constexpr int kRescaleEvery = 6;       // upstream RWKV_RESCALE_LAYER
constexpr std::size_t kCublasWorkspaceBytes = 32u << 20;  // what cuBLAS asks for on Hopper; set so graphs can capture

std::string cuda_message(const char* what, cudaError_t e) {
  return std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw CudaError(cuda_message(what, e), false);
}

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "an unknown cuBLAS status";
}

void check(cublasStatus_t s, const std::string& what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw CudaError(what + ": " + cublas_status_name(s), s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_ARCH_MISMATCH);
}

// ---- block-wide reductions (every thread of the block calls them) ---------------------------

// Scratch for one reduction: a slot per warp and one to broadcast the result.
struct Reduction {
  double sums[33];
  float values[33];
  int indices[33];
};

__device__ double block_sum(double v, Reduction& r) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  __syncthreads();  // the previous reduction's readers are done with the slots
  if (lane == 0) r.sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? r.sums[lane] : 0.0;
    for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) r.sums[32] = v;
  }
  __syncthreads();
  return r.sums[32];
}

__device__ float block_max(float v, Reduction& r) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
  __syncthreads();
  if (lane == 0) r.values[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? r.values[lane] : 0.0f;
    for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    if (lane == 0) r.values[32] = v;
  }
  __syncthreads();
  return r.values[32];
}

// The larger value, and of equal values the lower index: the first maximum, as std::max_element.
__device__ void keep_better(float& value, int& index, float other_value, int other_index) {
  if (other_value > value || (other_value == value && other_index < index)) {
    value = other_value;
    index = other_index;
  }
}

__device__ int block_argmax(float value, int index, Reduction& r) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  for (int o = 16; o > 0; o /= 2)
    keep_better(value, index, __shfl_down_sync(0xffffffffu, value, o), __shfl_down_sync(0xffffffffu, index, o));
  __syncthreads();
  if (lane == 0) {
    r.values[warp] = value;
    r.indices[warp] = index;
  }
  __syncthreads();
  if (warp == 0) {
    value = lane < warps ? r.values[lane] : -INFINITY;
    index = lane < warps ? r.indices[lane] : 0x7fffffff;
    for (int o = 16; o > 0; o /= 2)
      keep_better(value, index, __shfl_down_sync(0xffffffffu, value, o), __shfl_down_sync(0xffffffffu, index, o));
    if (lane == 0) r.indices[32] = index;
  }
  __syncthreads();
  return r.indices[32];
}

// The golden model's layer_norm (models/spikegpt.cpp): sums in double, the same expressions.
__device__ void block_layer_norm(const float* x, const float* weight, const float* bias, int n, float* out,
                                 Reduction& r) {
  double sum = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) sum += x[i];
  const double mean = block_sum(sum, r) / n;
  double squares = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) squares += (x[i] - mean) * (x[i] - mean);
  const float rstd = float(1.0 / sqrt(block_sum(squares, r) / n + kLayerNormEps));
  const float m = float(mean);
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = (x[i] - m) * rstd * weight[i] + bias[i];
  __syncthreads();
}

// ---- the buffers a kernel reads and writes ---------------------------------------------------

// A product's output: float32 sums, or int8's int32 sums with the row and input scales.
struct ProductView {
  const void* data = nullptr;
  const float* row_scales = nullptr;
  const float* input_scales = nullptr;
  int64_t width = 0;
  bool int8 = false;

  __device__ float at(int b, int64_t i) const {
    if (!int8) return static_cast<const float*>(data)[b * width + i];
    return dequantize_int8(static_cast<const int32_t*>(data)[b * width + i], row_scales[i], input_scales[b]);
  }
};

// A product's input in the run's precision (int8: with one scale per sequence).
struct InputView {
  void* data = nullptr;
  float* scales = nullptr;
  int64_t width = 0;
  Precision precision = Precision::fp16;
};

// Writes sequence b's `n` staged values (shared memory) as the product's input, rounded as the
// host emulation rounds them (precision.hpp).
__device__ void store_input(const InputView& in, int b, const float* values, int64_t n, Reduction& r) {
  if (in.precision == Precision::int8) {
    float largest = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) largest = fmaxf(largest, fabsf(values[i]));
    largest = block_max(largest, r);
    const float inverse = int8_inverse_scale(largest);
    int8_t* out = static_cast<int8_t*>(in.data) + b * in.width;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) out[i] = quantize_int8(values[i], inverse);
    if (threadIdx.x == 0) in.scales[b] = int8_scale(largest);
  } else if (in.precision == Precision::fp16) {
    __half* out = static_cast<__half*>(in.data) + b * in.width;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) out[i] = __float2half_rn(values[i]);
  } else {
    __nv_bfloat16* out = static_cast<__nv_bfloat16*>(in.data) + b * in.width;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) out[i] = __float2bfloat16_rn(values[i]);
  }
  __syncthreads();  // the staging buffer is free again
}

// Everything one kernel launch needs, passed by value (the products' views for this layer).
struct StepArgs {
  const int* tokens;
  int* next_tokens;
  float* x;       // [batch × C] residual stream
  float* state;   // [batch × L × 7 × C]
  const float* vectors;
  const float* embedding;
  float* logits;  // int8: the head's dequantized sums [batch × vocab_padded]; else the head's output itself
  int C, layer, vocab;
  int64_t vocab_padded, state_floats;
  LayerVectors l;
  std::size_t ln_weight, ln_bias;  // ln0 (embed) or ln_out (head_input)
  bool halve;                      // ffn_spikes: the rescale after every 6th layer
  InputView inputs[kGemmCount];
  ProductView products[kGemmCount];

  __device__ float* slot(int b, int s) const { return state + b * state_floats + (int64_t(layer) * kSlots + s) * C; }
  __device__ const float* vec(std::size_t offset) const { return vectors + offset; }
  __device__ const ProductView& product(Gemm g) const { return products[int(g)]; }
  __device__ const InputView& input(Gemm g) const { return inputs[int(g)]; }
};

// ---- the element-wise kernels (grid: one block per sequence) --------------------------------

// The token shifts of z (this token's LayerNorm output) with `previous` (the last token's) into
// the inputs of N products, each through the staging buffer; then z becomes the previous one.
template <int N>
__device__ void shift_into_inputs(const StepArgs& a, int b, const float* z, float* stage, float* previous,
                                  const Gemm (&gemms)[N], const std::size_t (&mixes)[N], Reduction& r) {
  for (int m = 0; m < N; ++m) {
    const float* mix = a.vec(mixes[m]);
    for (int i = threadIdx.x; i < a.C; i += blockDim.x) stage[i] = token_mix(z[i], previous[i], mix[i]);
    __syncthreads();
    store_input(a.input(gemms[m]), b, stage, a.C, r);
  }
  for (int i = threadIdx.x; i < a.C; i += blockDim.x) previous[i] = z[i];
}

__global__ void embed_kernel(StepArgs a) {
  __shared__ Reduction r;
  const int b = blockIdx.x;
  const float* e = a.embedding + int64_t(a.tokens[b]) * a.C;
  block_layer_norm(e, a.vec(a.ln_weight), a.vec(a.ln_bias), a.C, a.x + int64_t(b) * a.C, r);
}

__global__ void att_inputs_kernel(StepArgs a) {
  __shared__ Reduction r;
  extern __shared__ float shared[];
  float *z = shared, *stage = shared + a.C;
  const int b = blockIdx.x;
  block_layer_norm(a.x + int64_t(b) * a.C, a.vec(a.l.ln1_weight), a.vec(a.l.ln1_bias), a.C, z, r);
  const Gemm gemms[3] = {Gemm::att_receptance, Gemm::att_key, Gemm::att_value};
  const std::size_t mixes[3] = {a.l.att_mix_r, a.l.att_mix_k, a.l.att_mix_v};
  shift_into_inputs(a, b, z, stage, a.slot(b, kAttShift), gemms, mixes, r);
}

__global__ void wkv_kernel(StepArgs a) {
  __shared__ Reduction r;
  extern __shared__ float stage[];
  const int b = blockIdx.x;
  float *num = a.slot(b, kWkvNum), *den = a.slot(b, kWkvDen), *max = a.slot(b, kWkvMax);
  const float *u = a.vec(a.l.time_first), *w = a.vec(a.l.time_decay);
  const ProductView &rv = a.product(Gemm::att_receptance), &kv = a.product(Gemm::att_key), &vv = a.product(Gemm::att_value);
  for (int i = threadIdx.x; i < a.C; i += blockDim.x)
    stage[i] = sigmoid(rv.at(b, i)) * wkv_step(kv.at(b, i), vv.at(b, i), u[i], w[i], num[i], den[i], max[i]);
  __syncthreads();
  store_input(a.input(Gemm::att_output), b, stage, a.C, r);
}

__global__ void att_spikes_ffn_inputs_kernel(StepArgs a) {
  __shared__ Reduction r;
  extern __shared__ float shared[];
  float *z = shared, *stage = shared + a.C;
  const int b = blockIdx.x;
  float* x = a.x + int64_t(b) * a.C;
  float* membrane = a.slot(b, kMemAtt);
  const ProductView& current = a.product(Gemm::att_output);
  for (int i = threadIdx.x; i < a.C; i += blockDim.x) x[i] += float(lif_step(membrane[i], current.at(b, i)));
  __syncthreads();
  block_layer_norm(x, a.vec(a.l.ln2_weight), a.vec(a.l.ln2_bias), a.C, z, r);
  const Gemm gemms[2] = {Gemm::ffn_receptance, Gemm::ffn_key};
  const std::size_t mixes[2] = {a.l.ffn_mix_r, a.l.ffn_mix_k};
  shift_into_inputs(a, b, z, stage, a.slot(b, kFfnShift), gemms, mixes, r);
}

__global__ void relu_squared_kernel(StepArgs a) {
  __shared__ Reduction r;
  extern __shared__ float stage[];
  const int b = blockIdx.x;
  const int64_t hidden = 4 * int64_t(a.C);
  const ProductView& key = a.product(Gemm::ffn_key);
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float k = key.at(b, i);
    stage[i] = k > 0.0f ? k * k : 0.0f;
  }
  __syncthreads();
  store_input(a.input(Gemm::ffn_value), b, stage, hidden, r);
}

__global__ void ffn_spikes_kernel(StepArgs a) {
  const int b = blockIdx.x;
  float* x = a.x + int64_t(b) * a.C;
  float* membrane = a.slot(b, kMemFfn);
  const ProductView &rv = a.product(Gemm::ffn_receptance), &vv = a.product(Gemm::ffn_value);
  for (int i = threadIdx.x; i < a.C; i += blockDim.x) {
    x[i] += float(lif_step(membrane[i], sigmoid(rv.at(b, i)) * vv.at(b, i)));
    if (a.halve) x[i] /= 2.0f;
  }
}

__global__ void head_input_kernel(StepArgs a) {
  __shared__ Reduction r;
  extern __shared__ float z[];
  const int b = blockIdx.x;
  block_layer_norm(a.x + int64_t(b) * a.C, a.vec(a.ln_weight), a.vec(a.ln_bias), a.C, z, r);
  store_input(a.input(Gemm::head), b, z, a.C, r);
}

__global__ void next_tokens_kernel(StepArgs a) {
  __shared__ Reduction r;
  const int b = blockIdx.x;
  const ProductView& head = a.product(Gemm::head);
  float best = -INFINITY;
  int index = 0x7fffffff;
  for (int i = threadIdx.x; i < a.vocab; i += blockDim.x) {
    const float v = head.at(b, i);
    if (head.int8) a.logits[b * a.vocab_padded + i] = v;
    keep_better(best, index, v, i);
  }
  const int token = block_argmax(best, index, r);
  if (threadIdx.x == 0) a.next_tokens[b] = token;
}

__global__ void reset_kernel(float* state, int64_t floats, int C) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < floats; i += int64_t(gridDim.x) * blockDim.x)
    state[i] = (i / C) % kSlots == kWkvMax ? kWkvInitialMax : 0.0f;
}

template <typename T>
T* device_alloc(std::size_t count, const char* what) {
  void* p = nullptr;
  check(cudaMalloc(&p, count * sizeof(T) + 1), what);  // never 0 bytes
  return static_cast<T*>(p);
}

// An empty block (no row scales outside int8) has no host pointer to copy from.
void upload(void* device, const void* host, std::size_t bytes, const char* what) {
  if (bytes > 0) check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), what);
}

}  // namespace

std::string open_cuda_device(int index, CudaDeviceDescription& d) {
  int count = 0;
  if (const cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess)
    return cuda_message("cudaGetDeviceCount", e) +
           (e == cudaErrorNoDevice            ? "; the driver sees no GPU"
            : e == cudaErrorInsufficientDriver ? "; there is no NVIDIA driver, or one too old for CUDA " +
                                                     std::to_string(CUDART_VERSION / 1000) + "." +
                                                     std::to_string(CUDART_VERSION % 1000 / 10)
                                               : "");
  if (count == 0) return "the CUDA runtime sees no device";
  if (index >= count)
    return "--device " + std::to_string(index) + " but the CUDA runtime sees " + std::to_string(count) + " device" +
           (count == 1 ? "" : "s");
  if (const cudaError_t e = cudaSetDevice(index); e != cudaSuccess) return cuda_message("cudaSetDevice", e);
  if (const cudaError_t e = cudaFree(nullptr); e != cudaSuccess) return cuda_message("creating a CUDA context", e);
  cudaDeviceProp prop{};
  if (const cudaError_t e = cudaGetDeviceProperties(&prop, index); e != cudaSuccess)
    return cuda_message("cudaGetDeviceProperties", e);
  char bus[64] = {};
  if (const cudaError_t e = cudaDeviceGetPCIBusId(bus, sizeof bus, index); e != cudaSuccess)
    return cuda_message("cudaDeviceGetPCIBusId", e);
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  int major = 0, minor = 0, patch = 0;
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  d.name = prop.name;
  d.pci_bus_id = bus;
  d.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  d.sm_count = prop.multiProcessorCount;
  d.memory_gib = double(prop.totalGlobalMem) / double(1ull << 30);
  d.cuda_runtime = std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10);
  d.cublas = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  return "";
}

struct CudaStep::Impl {
  PackedModelView model;
  int batch = 0;
  StepShape shape;
  int64_t state_floats = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  void* workspace = nullptr;
  cudaGraphExec_t graph = nullptr;
  uint8_t* matrices = nullptr;
  float *row_scales = nullptr, *vectors = nullptr, *embedding = nullptr;
  int* tokens = nullptr;
  float *x = nullptr, *state = nullptr, *logits = nullptr;
  void* inputs[kGemmCount] = {};
  float* input_scales[kGemmCount] = {};
  void* outputs[kGemmCount] = {};
  std::vector<float> host_logits;

  ~Impl() {
    if (graph) cudaGraphExecDestroy(graph);
    if (cublas) cublasDestroy(cublas);
    for (void* p : {static_cast<void*>(matrices), static_cast<void*>(row_scales), static_cast<void*>(vectors),
                    static_cast<void*>(embedding), static_cast<void*>(tokens), static_cast<void*>(x),
                    static_cast<void*>(state), static_cast<void*>(logits), workspace})
      if (p) cudaFree(p);
    for (int g = 0; g < kGemmCount; ++g) {
      if (inputs[g]) cudaFree(inputs[g]);
      if (input_scales[g]) cudaFree(input_scales[g]);
      if (outputs[g]) cudaFree(outputs[g]);
    }
    if (stream) cudaStreamDestroy(stream);
  }

  const MatrixBlock& block(int layer, Gemm g) const {
    return g == Gemm::head ? model.blocks[model.block_count - 1] : model.blocks[layer * kLayerGemms + int(g)];
  }

  StepArgs args(int layer) const {
    StepArgs a{};
    a.tokens = tokens;
    a.next_tokens = tokens;
    a.x = x;
    a.state = state;
    a.vectors = vectors;
    a.embedding = embedding;
    a.logits = model.precision == Precision::int8 ? logits : static_cast<float*>(outputs[int(Gemm::head)]);
    a.C = model.n_embd;
    a.layer = layer;
    a.vocab = model.vocab;
    a.vocab_padded = model.vocab_padded;
    a.state_floats = state_floats;
    if (layer >= 0) {
      a.l = model.layers[layer];
      a.halve = model.rescale_every_6_layers && (layer + 1) % kRescaleEvery == 0;
    }
    const bool int8 = model.precision == Precision::int8;
    for (int g = 0; g < kGemmCount; ++g) {
      a.inputs[g] = InputView{inputs[g], input_scales[g], shape.in_width(Gemm(g)), model.precision};
      const Gemm gemm = Gemm(g);
      // The head's row scales are the same at every layer; a layer's products use its own.
      const bool has_block = gemm == Gemm::head || layer >= 0;
      a.products[g] = ProductView{outputs[g],
                                  int8 && has_block ? row_scales + block(layer, gemm).scale_offset : nullptr,
                                  input_scales[g], shape.out_width(gemm), int8};
    }
    return a;
  }

  void launched(const char* kernel) { check(cudaPeekAtLastError(), kernel); }

  void gemm(int layer, Gemm g) {
    const MatrixBlock& b = block(layer, g);
    const int m = int(b.rows), n = batch, k = int(b.cols);
    const void* weights = matrices + b.offset * std::size_t(weight_bytes(model.precision));
    // Row-major weights [m × k] are column-major [k × m]: op T. Inputs [batch × k] row-major are
    // column-major [k × batch]: op N. Outputs [batch × m] row-major = column-major [m × batch].
    cublasStatus_t s;
    if (model.precision == Precision::int8) {
      const int32_t one = 1, zero = 0;
      s = cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, weights, CUDA_R_8I, k, inputs[int(g)],
                       CUDA_R_8I, k, &zero, outputs[int(g)], CUDA_R_32I, m, CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT);
    } else {
      const float one = 1.0f, zero = 0.0f;
      const cudaDataType type = model.precision == Precision::fp16 ? CUDA_R_16F : CUDA_R_16BF;
      s = cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, weights, type, k, inputs[int(g)], type, k,
                       &zero, outputs[int(g)], CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    }
    if (s != CUBLAS_STATUS_SUCCESS)
      check(s, std::string("cublasGemmEx (") + precision_name(model.precision) + ", m " + std::to_string(m) + ", n " +
                   std::to_string(n) + ", k " + std::to_string(k) + ")");
  }

  // The schedule's executor (step_schedule.hpp): each call launches its kernel on the stream.
  void embed() {
    StepArgs a = args(-1);
    a.ln_weight = model.ln0_weight;
    a.ln_bias = model.ln0_bias;
    embed_kernel<<<batch, kThreads, 0, stream>>>(a);
    launched("embed_kernel");
  }
  void att_inputs(int i) {
    att_inputs_kernel<<<batch, kThreads, 2 * model.n_embd * sizeof(float), stream>>>(args(i));
    launched("att_inputs_kernel");
  }
  void wkv(int i) {
    wkv_kernel<<<batch, kThreads, model.n_embd * sizeof(float), stream>>>(args(i));
    launched("wkv_kernel");
  }
  void att_spikes_ffn_inputs(int i) {
    att_spikes_ffn_inputs_kernel<<<batch, kThreads, 2 * model.n_embd * sizeof(float), stream>>>(args(i));
    launched("att_spikes_ffn_inputs_kernel");
  }
  void relu_squared(int i) {
    relu_squared_kernel<<<batch, kThreads, 4 * model.n_embd * sizeof(float), stream>>>(args(i));
    launched("relu_squared_kernel");
  }
  void ffn_spikes(int i) {
    ffn_spikes_kernel<<<batch, kThreads, 0, stream>>>(args(i));
    launched("ffn_spikes_kernel");
  }
  void head_input() {
    StepArgs a = args(-1);
    a.ln_weight = model.ln_out_weight;
    a.ln_bias = model.ln_out_bias;
    head_input_kernel<<<batch, kThreads, model.n_embd * sizeof(float), stream>>>(a);
    launched("head_input_kernel");
  }
  void next_tokens() {
    next_tokens_kernel<<<batch, kArgmaxThreads, 0, stream>>>(args(-1));
    launched("next_tokens_kernel");
  }
};

CudaStep::CudaStep(const PackedModelView& model, int batch) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.model = model;
  s.batch = batch;
  s.shape = StepShape{model.n_embd, model.vocab_padded};
  s.state_floats = int64_t(model.n_layer) * kSlots * model.n_embd;
  check(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cublasCreate(&s.cublas), "cublasCreate");
  check(cublasSetStream(s.cublas, s.stream), "cublasSetStream");
  s.workspace = device_alloc<uint8_t>(kCublasWorkspaceBytes, "cudaMalloc (cuBLAS workspace)");
  check(cublasSetWorkspace(s.cublas, s.workspace, kCublasWorkspaceBytes), "cublasSetWorkspace");
  s.matrices = device_alloc<uint8_t>(model.matrix_bytes, "cudaMalloc (weights)");
  s.row_scales = device_alloc<float>(model.row_scale_count, "cudaMalloc (row scales)");
  s.vectors = device_alloc<float>(model.vector_count, "cudaMalloc (vectors)");
  s.embedding = device_alloc<float>(model.embedding_count, "cudaMalloc (embedding)");
  upload(s.matrices, model.matrices, model.matrix_bytes, "uploading the weights");
  upload(s.row_scales, model.row_scales, model.row_scale_count * sizeof(float), "uploading the row scales");
  upload(s.vectors, model.vectors, model.vector_count * sizeof(float), "uploading the vectors");
  upload(s.embedding, model.embedding, model.embedding_count * sizeof(float), "uploading the embedding");
  s.tokens = device_alloc<int>(std::size_t(batch), "cudaMalloc (tokens)");
  check(cudaMemset(s.tokens, 0, std::size_t(batch) * sizeof(int)), "cudaMemset (tokens)");
  s.x = device_alloc<float>(std::size_t(batch) * std::size_t(model.n_embd), "cudaMalloc (residual stream)");
  s.state = device_alloc<float>(std::size_t(batch) * std::size_t(s.state_floats), "cudaMalloc (state)");
  s.logits = device_alloc<float>(std::size_t(batch) * std::size_t(model.vocab_padded), "cudaMalloc (logits)");
  const std::size_t element = std::size_t(weight_bytes(model.precision));
  for (int g = 0; g < kGemmCount; ++g) {
    s.inputs[g] = device_alloc<uint8_t>(std::size_t(batch) * std::size_t(s.shape.in_width(Gemm(g))) * element,
                                        "cudaMalloc (product inputs)");
    s.input_scales[g] = device_alloc<float>(std::size_t(batch), "cudaMalloc (input scales)");
    s.outputs[g] = device_alloc<float>(std::size_t(batch) * std::size_t(s.shape.out_width(Gemm(g))),
                                       "cudaMalloc (product outputs)");  // float32 or int32
  }
  // The staging of ReLU²'s 4·n_embd values may exceed the 48 KiB a kernel gets unasked.
  check(cudaFuncSetAttribute(relu_squared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             int(4 * model.n_embd * sizeof(float))),
        "cudaFuncSetAttribute (relu_squared_kernel shared memory)");
  reset_kernel<<<64, kThreads, 0, s.stream>>>(s.state, int64_t(batch) * s.state_floats, model.n_embd);
  s.launched("reset_kernel");
  s.host_logits.resize(std::size_t(batch) * std::size_t(model.vocab_padded));
  synchronize();
}

CudaStep::~CudaStep() = default;

void CudaStep::set_state(int sequence, const float* state) {
  Impl& s = *impl_;
  check(cudaMemcpyAsync(s.state + int64_t(sequence) * s.state_floats, state, std::size_t(s.state_floats) * sizeof(float),
                        cudaMemcpyHostToDevice, s.stream),
        "uploading a state");
  synchronize();
}

void CudaStep::get_state(int sequence, float* state) {
  Impl& s = *impl_;
  check(cudaMemcpyAsync(state, s.state + int64_t(sequence) * s.state_floats, std::size_t(s.state_floats) * sizeof(float),
                        cudaMemcpyDeviceToHost, s.stream),
        "downloading a state");
  synchronize();
}

void CudaStep::set_tokens(const int* tokens) {
  Impl& s = *impl_;
  check(cudaMemcpyAsync(s.tokens, tokens, std::size_t(s.batch) * sizeof(int), cudaMemcpyHostToDevice, s.stream),
        "uploading tokens");
  synchronize();
}

void CudaStep::get_logits(float* logits) {
  Impl& s = *impl_;
  const float* source = s.model.precision == Precision::int8 ? s.logits : static_cast<float*>(s.outputs[int(Gemm::head)]);
  check(cudaMemcpyAsync(s.host_logits.data(), source, s.host_logits.size() * sizeof(float), cudaMemcpyDeviceToHost,
                        s.stream),
        "downloading logits");
  synchronize();
  for (int b = 0; b < s.batch; ++b)
    for (int v = 0; v < s.model.vocab; ++v)
      logits[int64_t(b) * s.model.vocab + v] = s.host_logits[std::size_t(int64_t(b) * s.model.vocab_padded + v)];
}

void CudaStep::enqueue_step() { run_step(*impl_, impl_->model.n_layer); }

void CudaStep::enqueue_graph_step() {
  Impl& s = *impl_;
  if (!s.graph) {
    check(cudaStreamBeginCapture(s.stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    cudaGraph_t graph = nullptr;
    try {
      run_step(s, s.model.n_layer);
    } catch (...) {
      cudaStreamEndCapture(s.stream, &graph);
      if (graph) cudaGraphDestroy(graph);
      throw;
    }
    check(cudaStreamEndCapture(s.stream, &graph), "cudaStreamEndCapture");
    const cudaError_t e = cudaGraphInstantiate(&s.graph, graph, 0);
    cudaGraphDestroy(graph);
    check(e, "cudaGraphInstantiate");
  }
  check(cudaGraphLaunch(s.graph, s.stream), "cudaGraphLaunch");
}

void CudaStep::synchronize() { check(cudaStreamSynchronize(impl_->stream), "cudaStreamSynchronize"); }

}  // namespace spiketile::gpu_bench
