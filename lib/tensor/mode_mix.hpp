// Complex mode mixing of float spectra as a vector loop over the modes; internal.
#pragma once

#include <cstdint>

namespace neurop::detail {

// out[b, o, k] = sum_i x[b, i, k] w[i, o, k] for x [B, I, K], w [I, O, K] and
// out [B, O, K], all complex with interleaved (re, im) floats and K the modes of all
// spatial axes together. Each (b, o) row of out is a sum of elementwise products of
// contiguous mode rows, so no operand is packed or transposed. Eigen's complex GEMM per
// mode instead gathers every mode's weight matrix from rows 2K floats apart.
// Returns false, writing nothing, when the build has no AVX-512 (the caller then uses
// the per-mode GEMM). Splits the output channels over the OpenMP threads when called
// outside a parallel region.
bool mix_modes_rowwise(const float* x, const float* w, float* out, std::int64_t batch, std::int64_t in_channels,
                       std::int64_t out_channels, std::int64_t modes);

}  // namespace neurop::detail
