// Multigrid neural operator, MgNO (He, Liu and Xu, "MgNO: Efficient Parameterization
// of Linear Operators via Multigrid", ICLR 2024), on 2D grids.
//
// Each layer computes
//   u <- act(W u + K u + b),
// where K is a pointwise (1x1) convolution with bias and W is a multi-channel V-cycle
// with learned operators, all 3x3 convolutions without bias:
//   down, level 0 (the input grid, f_0 = u):
//     v_0 = S f_0, then pre_smoothing[0] - 1 steps v_0 <- v_0 + S (f_0 - A v_0);
//   down, level l = 1 .. L-1:
//     f_l = R f_{l-1} and v_l = Pi v_{l-1} (stride-2 restrictions),
//     then pre_smoothing[l] steps v_l <- v_l + S (f_l - A v_l);
//   up, level l = L-2 .. 0:
//     v_l <- v_l + P v_{l+1} (a stride-2 transposed convolution, the prolongation),
//     then post_smoothing[l] steps v_l <- v_l + S (f_l - A v_l);
//   W u = v_0.
// Every S, A, R, Pi and P is its own learned convolution. The first layer maps
// in_channels to width channels (its f has in_channels), the others width to width,
// and a final 1x1 convolution without bias maps width to out_channels. No lifting
// precedes the first layer. This is the layout of the authors' Darcy model
// (github.com/xlliu2017/MgNO, models.py, MgNO_DC), whose Darcy defaults are used here:
// 5 layers, width 24, pre-smoothing (1, 1, 1, 2, 2) on 5 levels, no post-smoothing,
// GELU, zero padding.
//
// Boundary conditions enter through the padding mode of every convolution (see
// lib/tensor/conv2d.hpp): zeros for Dirichlet data, circular for periodic data,
// reflect for Neumann-like data. The prolongation is the transposed convolution of the
// same padding mode, the adjoint of a stride-2 convolution.
//
// Grids. The model runs on any H x W grid its levels can coarsen; it is not tied to
// the resolution it was trained on. Restriction is a 3x3 convolution with stride 2 and
// padding 1, so an axis of n points coarsens to (n + 1) / 2 (integer division: odd n
// keeps both end points, n = 2m - 1 -> m; even n halves). The prolongation is a
// transposed convolution with stride 2 and padding 1 that maps each coarse grid back
// to the exact fine extent:
//   prolongation_kernel 3: the adjoint of the restriction geometry, valid for every n;
//   prolongation_kernel 4: the reference code's kernel. A 4x4 stride-2 convolution
//     maps n to n / 2 only for even n. Every level except the coarsest must therefore
//     be even, so H and W must be divisible by 2^(L-1).
// Every level must keep at least 2 points per axis. max_levels() returns the largest L
// a grid allows, for example 7 for 85 points (85, 43, 22, 11, 6, 3, 2) with kernel 3.
// forward() throws ShapeError naming the grid, the model's level count and that
// maximum when the grid cannot be coarsened to the model's levels.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/random.hpp"
#include "lib/nn/conv_layers.hpp"
#include "lib/nn/layers.hpp"

namespace neurop::mgno {

struct MgnoConfig {
  std::int64_t in_channels = 1;
  std::int64_t out_channels = 1;
  std::int64_t width = 24;  // channels of v on every level
  std::int64_t layers = 5;
  // Smoothing steps per level, finest first; their length is the level count L.
  // pre_smoothing[0] >= 1 (the first step creates v_0), the others >= 0; the coarsest
  // level has no post-smoothing (the V-cycle turns there).
  std::vector<std::int64_t> pre_smoothing = {1, 1, 1, 2, 2};
  std::vector<std::int64_t> post_smoothing = {0, 0, 0, 0, 0};
  PaddingMode padding_mode = PaddingMode::zeros;
  std::int64_t prolongation_kernel = 3;  // 3 or 4, see the file comment
  nn::Activation activation = nn::Activation::gelu;
  DType dtype = DType::f32;
  std::uint64_t seed = 0;

  std::int64_t levels() const { return static_cast<std::int64_t>(pre_smoothing.size()); }
  // Throws ValueError naming the first invalid field.
  void validate() const;
  std::string to_json() const;
  static MgnoConfig from_json(const std::string& text);
};

// Extents of the levels of an axis of n points: n, (n + 1) / 2, ... (`levels` values).
std::vector<std::int64_t> level_extents(std::int64_t n, std::int64_t levels);

// The largest level count that an axis of n points allows with this prolongation
// kernel (0 when n < 2).
std::int64_t max_levels(std::int64_t n, std::int64_t prolongation_kernel);

// Throws ShapeError unless an H x W grid can be coarsened to config.levels() levels.
// The message names the grid, the level count and the maximum the grid allows.
void check_grid(const MgnoConfig& config, std::int64_t height, std::int64_t width);

// The multigrid convolution W of one layer: f [B, C_f, H, W] -> v_0 [B, width, H, W].
class MultigridConv : public nn::Module {
public:
  MultigridConv(std::int64_t f_channels, const MgnoConfig& config, Rng& rng);
  Tensor forward(const Tensor& f) const;

private:
  struct Smoother {
    std::unique_ptr<nn::Conv2d> residual;  // A: width -> C_f (absent for the first step of level 0)
    std::unique_ptr<nn::Conv2d> update;    // S: C_f -> width
  };
  // v <- v + S (f - A v), or v = S f for a step without A.
  Tensor smooth(const Smoother& step, const Tensor& f, const Tensor& v) const;

  std::int64_t levels_;
  std::vector<std::vector<Smoother>> pre_, post_;                      // [level][step]
  std::vector<std::unique_ptr<nn::Conv2d>> restrict_f_, restrict_v_;  // R, Pi into level l + 1
  std::vector<std::unique_ptr<nn::ConvTranspose2d>> prolong_;         // P from level l + 1 to l
};

class Mgno : public nn::Module {
public:
  explicit Mgno(const MgnoConfig& config);
  // u [B, C_in, H, W] -> [B, C_out, H, W]. Throws ShapeError for another rank, channel
  // count or dtype, and for a grid the levels cannot coarsen (see the file comment).
  Tensor forward(const Tensor& u) const;
  const MgnoConfig& config() const { return config_; }

private:
  MgnoConfig config_;
  Rng rng_;
  std::vector<std::unique_ptr<MultigridConv>> multigrid_;
  std::vector<std::unique_ptr<nn::PointwiseConv>> pointwise_;
  std::unique_ptr<nn::PointwiseConv> projection_;
};

}  // namespace neurop::mgno
