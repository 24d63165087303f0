// Truncated real Fourier transforms and the spectral convolution of Fourier neural
// operators, for 1, 2 or 3 spatial axes.
//
// Layouts. A real field has shape [..., N_1, ..., N_d] (the last d axes are spatial).
// Its kept Fourier modes have shape [..., K_1, ..., K_d, 2], complex values stored as
// (real, imaginary) pairs:
//  - along the last axis (the half spectrum of the real transform) the bins
//    k = 0 .. m_d - 1 are kept, so K_d = m_d;
//  - along every other axis i the frequencies 0 .. m_i - 1 and -m_i .. -1 are kept,
//    in that order, so K_i = 2 m_i.
// Transforms follow NumPy's default ("backward") normalisation: the forward transform
// is unscaled and the inverse divides by N_1 ... N_d.
//
// Mode counts and the grid. A grid holds at most N_d / 2 + 1 bins on the last axis
// and N_i distinct frequencies on the others. clamp_modes() reduces a request to
// m_d <= N_d / 2 + 1 and m_i <= N_i / 2 (integer division), so the kept frequencies
// never overlap or wrap around. On an even last axis with m_d = N_d / 2 + 1 the
// Nyquist bin is kept; its imaginary part, like that of bin 0, does not affect a real
// field and gets a zero gradient. On an odd axis i with m_i clamped, frequency
// +N_i/2 is dropped while -N_i/2 is kept.
//
// Backends. Each transform is computed either as matrix products with the kept rows
// of the DFT matrix (cheap when few modes are kept: 16 of 513 bins costs less as a
// GEMM than as an FFT) or with FFTW; both give the same values to rounding.
// FFTW plans are created once per length and dtype and reused; inputs are copied to
// scratch buffers, so no transform overwrites a tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "lib/tensor/ops.hpp"
#include "lib/tensor/tensor.hpp"

namespace neurop {

enum class SpectralBackend {
  automatic,  // matrix products when m < 2.5 log2(N) on every axis, FFTW otherwise
  dft,        // always matrix products with the DFT matrix rows
  fft,        // always FFTW
};

// Process-wide backend choice (default automatic). Not thread-safe against
// concurrent transforms.
void set_spectral_backend(SpectralBackend backend);
SpectralBackend spectral_backend();

// Mode counts that the grid `sizes` can hold, as documented above.
std::vector<std::int64_t> clamp_modes(const Shape& sizes, const std::vector<std::int64_t>& modes);

// Kept modes of the real DFT over the last modes.size() axes:
// [..., N_1..N_d] -> [..., K_1..K_d, 2]. Modes must already fit the grid.
Tensor rfft_modes(const Tensor& x, const std::vector<std::int64_t>& modes);
// The inverse real DFT of a spectrum that is zero outside the kept modes:
// [..., K_1..K_d, 2] -> [..., N_1..N_d]. Equals numpy.fft.irfftn of the zero-filled
// half spectrum with s = sizes.
Tensor irfft_modes(const Tensor& spectrum, const Shape& sizes);
// Adjoints of the two maps above (their gradients), for tests and custom layers.
Tensor rfft_modes_adjoint(const Tensor& spectrum, const Shape& sizes);
Tensor irfft_modes_adjoint(const Tensor& x, const std::vector<std::int64_t>& modes);

// Mode-wise complex channel mixing: y[b, o, k] = sum_i x[b, i, k] w[i, o, k] for
// x [B, C_in, K..., 2] and w [C_in, C_out, K..., 2] -> [B, C_out, K..., 2].
Tensor spectral_mix(const Tensor& x_hat, const Tensor& weight);

// Spectral convolution of a Fourier layer: irfft_modes(spectral_mix(rfft_modes(x), w)).
// x is [B, C_in, N_1..N_d]; weight is [C_in, C_out, K_1..K_d, 2] with the mode layout
// above. When the grid cannot hold the weight's modes they are clamped and the
// matching block of the weight is used, so the result equals that of a layer built
// with the clamped mode counts and those weights.
Tensor spectral_conv(const Tensor& x, const Tensor& weight);

// One Fourier layer, computed sample by sample while each sample is in cache:
//   activate(spectral_conv(x, spectral_weight) + pointwise_conv(x, pointwise_weight, bias), activation)
// with x [B, C_in, N...], spectral_weight [C_in, C_out, K..., 2], pointwise_weight
// [C_out, C_in] and bias [C_out]. The pointwise result seeds the output, the inverse
// transform accumulates onto it and the activation follows in place; the backward pass
// likewise fuses the activation's derivative and both branches' input gradients.
Tensor fourier_layer(const Tensor& x, const Tensor& spectral_weight, const Tensor& pointwise_weight, const Tensor& bias,
                     Activation activation = Activation::identity);

// Mode counts (m_1..m_d) described by a spectral weight's shape.
std::vector<std::int64_t> weight_modes(const Tensor& weight);
// The block of `weight` that a grid with clamped mode counts `modes` uses.
Tensor clamp_weight(const Tensor& weight, const std::vector<std::int64_t>& modes);

}  // namespace neurop
