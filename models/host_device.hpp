// Marks a function that the CUDA compiler must also build for the device, so one definition of
// a float rule serves the host models and the GPU benchmark's kernels (bench/gpu/). Plain C++
// compilers see nothing.
#pragma once

#if defined(__CUDACC__)
#define SPIKETILE_HOST_DEVICE __host__ __device__
#else
#define SPIKETILE_HOST_DEVICE
#endif
