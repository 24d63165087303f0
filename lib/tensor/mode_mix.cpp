// Mode mixing as elementwise complex products of contiguous mode rows.
//
// With x = xr + i xi and w = wr + i wi interleaved as (re, im) pairs,
//   x w = (xr wr - xi wi) + i (xr wi + xi wr).
// Two sums run per output vector: p += (xr, xr) * (wr, wi) and q += (xi, xi) * (wi, wr),
// and the result is (p_re - q_re, p_im + q_im), one fmaddsub with a vector of ones.
// (xr, xr), (xi, xi) and (wi, wr) each take one shuffle of a loaded vector. Each x vector
// serves a block of output channels, and each weight vector serves every sample.
#include "lib/tensor/mode_mix.hpp"

#include <omp.h>

#include <algorithm>
#include <vector>

#include <Eigen/Core>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "lib/tensor/kernels.hpp"

namespace neurop::detail {

#if defined(__AVX512F__)
namespace {

constexpr int kLanes = 16;      // floats per AVX-512 vector: 8 complex modes
constexpr int kMaxVectors = 2;  // vectors of modes per output row in one pass
constexpr int kMaxOutputs = 4;  // output channels per pass; 4 x 2 x 2 sums fill 16 registers

struct Rows {
  const float* x;
  const float* w;
  float* out;
  std::int64_t in_channels, out_channels;
  std::int64_t row;  // floats per mode row, 2K
};

// Computes sample b, output channels [o0, o0 + Outputs) and floats [c0, c0 + 16 Vectors)
// of each row. `masks` select the floats of each vector that lie inside the row. The
// panel (I x Outputs x Vectors vectors, 32 KiB for 64 channels) stays in the L1 cache
// while the caller walks the samples.
template <int Outputs, int Vectors>
void mix_block(const Rows& r, const float* panel, std::int64_t b, std::int64_t o0, std::int64_t c0,
               const __mmask16* masks) {
  __m512 p[Outputs][Vectors], q[Outputs][Vectors];
  for (int j = 0; j < Outputs; ++j)
    for (int v = 0; v < Vectors; ++v) p[j][v] = q[j][v] = _mm512_setzero_ps();
  for (std::int64_t i = 0; i < r.in_channels; ++i) {
    const std::int64_t offset = (b * r.in_channels + i) * r.row + c0;
    __m512 re[Vectors], im[Vectors];
    for (int v = 0; v < Vectors; ++v) {
      const __m512 xv = _mm512_maskz_loadu_ps(masks[v], r.x + offset + v * kLanes);
      re[v] = _mm512_moveldup_ps(xv);
      im[v] = _mm512_movehdup_ps(xv);
    }
    for (int j = 0; j < Outputs; ++j) {
      const float* w_row = panel + (i * Outputs + j) * Vectors * kLanes;
      for (int v = 0; v < Vectors; ++v) {
        const __m512 w = _mm512_load_ps(w_row + v * kLanes);
        p[j][v] = _mm512_fmadd_ps(re[v], w, p[j][v]);
        // (re, im) -> (im, re) in every pair
        q[j][v] = _mm512_fmadd_ps(im[v], _mm512_permute_ps(w, 0xB1), q[j][v]);
      }
    }
  }
  const __m512 ones = _mm512_set1_ps(1.0F);
  for (int j = 0; j < Outputs; ++j) {
    float* out_row = r.out + (b * r.out_channels + o0 + j) * r.row + c0;
    for (int v = 0; v < Vectors; ++v)
      _mm512_mask_storeu_ps(out_row + v * kLanes, masks[v], _mm512_fmaddsub_ps(p[j][v], ones, q[j][v]));
  }
}

// Copies the weights of output channels [o0, o0 + Outputs) and floats [c0, c0 + 16 Vectors)
// into `panel` [I, Outputs, 16 Vectors], zero past the row's end. In w, consecutive input
// channels lie O 2K floats apart (8 KiB for 64 channels and 16 modes). Loads with that
// stride fall into a few L1 sets, so they evict each other before the next sample reuses them.
template <int Outputs, int Vectors>
void mix_panel(const Rows& r, float* panel, std::int64_t o0, std::int64_t c0, const __mmask16* masks) {
  for (std::int64_t i = 0; i < r.in_channels; ++i)
    for (int j = 0; j < Outputs; ++j)
      for (int v = 0; v < Vectors; ++v)
        _mm512_store_ps(panel + ((i * Outputs + j) * Vectors + v) * kLanes,
                        _mm512_maskz_loadu_ps(masks[v], r.w + (i * r.out_channels + o0 + j) * r.row + c0 + v * kLanes));
}

template <int Outputs, int Vectors>
void mix_samples(const Rows& r, float* panel, std::int64_t batch, std::int64_t o0, std::int64_t c0,
                 const __mmask16* masks) {
  mix_panel<Outputs, Vectors>(r, panel, o0, c0, masks);
  for (std::int64_t b = 0; b < batch; ++b) mix_block<Outputs, Vectors>(r, panel, b, o0, c0, masks);
}

template <int Vectors>
void mix_outputs(const Rows& r, float* panel, std::int64_t batch, std::int64_t o0, std::int64_t outputs,
                 std::int64_t c0, const __mmask16* masks) {
  switch (outputs) {
    case 1: mix_samples<1, Vectors>(r, panel, batch, o0, c0, masks); break;
    case 2: mix_samples<2, Vectors>(r, panel, batch, o0, c0, masks); break;
    case 3: mix_samples<3, Vectors>(r, panel, batch, o0, c0, masks); break;
    default: mix_samples<4, Vectors>(r, panel, batch, o0, c0, masks); break;
  }
}

__mmask16 lanes_below(std::int64_t count) {
  if (count <= 0) return 0;
  return count >= kLanes ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1U << count) - 1U);
}

}  // namespace
#endif

bool mix_modes_rowwise(const float* x, const float* w, float* out, std::int64_t batch, std::int64_t in_channels,
                       std::int64_t out_channels, std::int64_t modes) {
#if !defined(__AVX512F__)
  (void)x, (void)w, (void)out, (void)batch, (void)in_channels, (void)out_channels, (void)modes;
  return false;
#else
  const std::int64_t row = 2 * modes;
  const Rows rows{x, w, out, in_channels, out_channels, row};
  const bool parallel = !omp_in_parallel() && batch * in_channels * out_channels * modes > kParallelThreshold;
  const std::int64_t blocks = (out_channels + kMaxOutputs - 1) / kMaxOutputs;
#pragma omp parallel if (parallel)
  {
    std::vector<float, Eigen::aligned_allocator<float>> panel(
        static_cast<std::size_t>(in_channels * kMaxOutputs * kMaxVectors * kLanes));
#pragma omp for schedule(static)
    for (std::int64_t block = 0; block < blocks; ++block) {
      const std::int64_t o0 = block * kMaxOutputs, outputs = std::min<std::int64_t>(kMaxOutputs, out_channels - o0);
      for (std::int64_t c0 = 0; c0 < row; c0 += kMaxVectors * kLanes) {
        const __mmask16 masks[kMaxVectors] = {lanes_below(row - c0), lanes_below(row - c0 - kLanes)};
        if (row - c0 > kLanes) {
          mix_outputs<2>(rows, panel.data(), batch, o0, outputs, c0, masks);
        } else {
          mix_outputs<1>(rows, panel.data(), batch, o0, outputs, c0, masks);
        }
      }
    }
  }
  return true;
#endif
}

}  // namespace neurop::detail
