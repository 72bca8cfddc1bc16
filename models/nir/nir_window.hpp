// The taps of a convolution or pooling window, enumerated once for every user: the float
// reference accumulates over them, the integer model folds them into weight matrices.
#pragma once

#include <cstdint>

#include "models/nir/nir_graph.hpp"

namespace spiketile::nir {

// Calls tap(out, in, weight) for every (output element, input element) pair the window of node
// `n` (Conv1d, Conv2d, SumPool2d, AvgPool2d) joins: outputs in row-major order, and per output
// its input channels, then kernel rows, then kernel columns — the order of every sum over them.
// `weight` indexes the node's weight array, or is -1 for a pooling tap (weight 1). A 1-d window
// is the 2-d one with a height of 1. Padding taps are skipped (zero padding).
template <class Tap>
void for_each_window_tap(const Node& n, Tap&& tap) {
  const bool one_d = n.input_shape.size() == 2;
  const bool pool = n.op == Op::SumPool2d || n.op == Op::AvgPool2d;
  const Shape is = one_d ? Shape{n.input_shape[0], 1, n.input_shape[1]} : n.input_shape;
  const Shape os = one_d ? Shape{n.output_shape[0], 1, n.output_shape[1]} : n.output_shape;
  auto with_height = [&](const std::vector<int64_t>& v, int64_t unit) {
    return one_d ? std::vector<int64_t>{unit, v[0]} : v;
  };
  const auto kernel = with_height(n.window.kernel, 1), stride = with_height(n.window.stride, 1),
             padding = with_height(n.window.padding, 0), dilation = with_height(n.window.dilation, 1);
  const int64_t C = is[0], H = is[1], W = is[2], O = os[0], Ho = os[1], Wo = os[2];
  const int64_t kh = kernel[0], kw = kernel[1];
  const int64_t group_in = pool ? 1 : C / n.window.groups, group_out = pool ? 1 : O / n.window.groups;
  for (int64_t o = 0; o < O; ++o) {
    const int64_t first_c = pool ? o : (o / group_out) * group_in;
    for (int64_t y = 0; y < Ho; ++y)
      for (int64_t x = 0; x < Wo; ++x) {
        const int64_t out = (o * Ho + y) * Wo + x;
        for (int64_t c = 0; c < group_in; ++c)
          for (int64_t ky = 0; ky < kh; ++ky) {
            const int64_t iy = y * stride[0] - padding[0] + ky * dilation[0];
            if (iy < 0 || iy >= H) continue;
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t ix = x * stride[1] - padding[1] + kx * dilation[1];
              if (ix < 0 || ix >= W) continue;
              tap(out, ((first_c + c) * H + iy) * W + ix, pool ? int64_t(-1) : ((o * group_in + c) * kh + ky) * kw + kx);
            }
          }
      }
  }
}

}  // namespace spiketile::nir
