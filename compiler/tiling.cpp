#include "compiler/tiling.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace spiketile {

namespace {
// Boundary b of n near-equal blocks over [0, size).
int64_t block_edge(int64_t size, int blocks, int b) { return size * b / blocks; }
}  // namespace

MatrixTiling tile_matrix(int64_t rows, int64_t cols, int axons, int neurons) {
  if (rows <= 0 || cols <= 0) throw std::invalid_argument(fmt::format("cannot tile a {}x{} matrix", rows, cols));
  if (axons <= 0 || neurons <= 0)
    throw std::invalid_argument(fmt::format("crossbar must have axons and neurons (got {}x{})", axons, neurons));
  MatrixTiling t;
  t.rows = rows;
  t.cols = cols;
  t.in_tiles = int((cols + axons - 1) / axons);
  t.out_tiles = int((rows + neurons - 1) / neurons);
  for (int o = 0; o < t.out_tiles; ++o)
    for (int i = 0; i < t.in_tiles; ++i) {
      Tile tile;
      tile.in_index = i;
      tile.out_index = o;
      tile.in_begin = block_edge(cols, t.in_tiles, i);
      tile.in_end = block_edge(cols, t.in_tiles, i + 1);
      tile.out_begin = block_edge(rows, t.out_tiles, o);
      tile.out_end = block_edge(rows, t.out_tiles, o + 1);
      t.tiles.push_back(tile);
    }
  return t;
}

}  // namespace spiketile
