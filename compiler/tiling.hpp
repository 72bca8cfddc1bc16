// Splitting a weight matrix W [rows = outputs × cols = inputs] into crossbar-sized tiles.
#pragma once

#include <cstdint>
#include <vector>

namespace spiketile {

struct Tile {
  int in_index = 0, out_index = 0;        // position in the tile grid
  int64_t in_begin = 0, in_end = 0;       // input slice -> crossbar axons
  int64_t out_begin = 0, out_end = 0;     // output slice -> crossbar neurons
  int64_t axons() const { return in_end - in_begin; }
  int64_t neurons() const { return out_end - out_begin; }
  // The tile with in_index 0 of each output block receives the other tiles' partial sums.
  bool reduces_partial_sums() const { return in_index == 0; }
};

struct MatrixTiling {
  int64_t rows = 0, cols = 0;
  int in_tiles = 0, out_tiles = 0;
  std::vector<Tile> tiles;                // out-major: tiles of one output block are adjacent

  // Partial sums sent to the reducing tile per token: every non-reducing tile ships one
  // accumulator per output row it holds.
  int64_t partial_sums_per_token() const { return int64_t(in_tiles - 1) * rows; }
};

// Even split: every input (output) block is ceil(cols / in_tiles) or one less wide, so odd sizes
// spread over the tiles instead of leaving a sliver in the last one.
MatrixTiling tile_matrix(int64_t rows, int64_t cols, int axons, int neurons);

}  // namespace spiketile
