// Crossbar tiling of odd sizes: every weight lands in exactly one tile that fits the crossbar.
#include <gtest/gtest.h>

#include <vector>

#include "compiler/tiling.hpp"

namespace spiketile {
namespace {

void expect_exact_cover(const MatrixTiling& t, int axons, int neurons) {
  std::vector<int> hits(std::size_t(t.rows * t.cols), 0);
  for (const Tile& tile : t.tiles) {
    EXPECT_LE(tile.axons(), axons);
    EXPECT_LE(tile.neurons(), neurons);
    EXPECT_GT(tile.axons(), 0);
    EXPECT_GT(tile.neurons(), 0);
    for (int64_t r = tile.out_begin; r < tile.out_end; ++r)
      for (int64_t c = tile.in_begin; c < tile.in_end; ++c) ++hits[std::size_t(r * t.cols + c)];
  }
  for (int h : hits) ASSERT_EQ(h, 1);
}

TEST(Tiling, SmallerThanACrossbarIsOneTile) {
  const MatrixTiling t = tile_matrix(77, 192, 256, 256);
  ASSERT_EQ(t.tiles.size(), 1u);
  EXPECT_EQ(t.partial_sums_per_token(), 0);
  expect_exact_cover(t, 256, 256);
}

TEST(Tiling, OutputSplitNeedsNoReduction) {
  const MatrixTiling t = tile_matrix(768, 192, 256, 256);  // ffn.key of width 192
  EXPECT_EQ(t.in_tiles, 1);
  EXPECT_EQ(t.out_tiles, 3);
  EXPECT_EQ(t.partial_sums_per_token(), 0);
  expect_exact_cover(t, 256, 256);
}

TEST(Tiling, InputSplitReducesPartialSums) {
  const MatrixTiling t = tile_matrix(192, 768, 256, 256);  // ffn.value of width 192
  EXPECT_EQ(t.in_tiles, 3);
  EXPECT_EQ(t.partial_sums_per_token(), 2 * 192);
  int reducers = 0;
  for (const Tile& tile : t.tiles) reducers += tile.reduces_partial_sums();
  EXPECT_EQ(reducers, t.out_tiles);
  expect_exact_cover(t, 256, 256);
}

TEST(Tiling, NonMultiplesSpreadEvenly) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1000, 257}, {3, 5}, {513, 1}, {5027, 768}, {257, 257}}) {
    const MatrixTiling t = tile_matrix(rows, cols, 128, 64);
    expect_exact_cover(t, 128, 64);
    for (const Tile& tile : t.tiles) {
      EXPECT_LE(tile.axons() * t.in_tiles, cols + t.in_tiles);   // near-equal blocks
      EXPECT_LE(tile.neurons() * t.out_tiles, rows + t.out_tiles);
    }
  }
}

TEST(Tiling, RejectsEmptyShapes) {
  EXPECT_THROW(tile_matrix(0, 4, 8, 8), std::invalid_argument);
  EXPECT_THROW(tile_matrix(4, 4, 0, 8), std::invalid_argument);
}

}  // namespace
}  // namespace spiketile
