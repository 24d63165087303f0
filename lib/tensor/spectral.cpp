// Truncated real DFTs (matrix-product and FFTW backends), mode mixing and the
// spectral convolution.
//
// Notation for one axis of length N with m kept modes, theta = 2 pi (f n mod N) / N:
//   last (real) axis, analysis    X_k = w_k sum_n x_n e^{-i theta},  k = 0 .. m-1
//   last (real) axis, synthesis   y_n = sum_k w_k (Re G_k cos theta - Im G_k sin theta)
//   other axes, analysis          Y_r = s sum_n x_n e^{-i f_r theta_1 n}
//   other axes, synthesis         y_n = s sum_r G_r e^{+i f_r theta_1 n}
// Synthesis with weights w, s is the adjoint of analysis with the same weights.
// Unit scaling (w = s = 1) gives the forward transform and its adjoint. Inverse
// scaling (w_k = c_k / N with c_0 = c_{N/2} = 1 and c_k = 2 otherwise, s = 1/N) gives
// the inverse real DFT of the zero-filled half spectrum and its adjoint.
#include "lib/tensor/spectral.hpp"

#include <fftw3.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <complex>
#include <cstring>
#include <map>
#include <mutex>
#include <numbers>
#include <tuple>

#include <Eigen/Core>

#include "lib/autodiff/graph.hpp"
#include "lib/core/fftw_planner.hpp"
#include "lib/tensor/direct_gemm.hpp"
#include "lib/tensor/kernels.hpp"
#include "lib/tensor/mode_mix.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/tensor/unary_specs.hpp"

namespace neurop {
namespace {

enum class Scaling { unit, inverse };

std::atomic<SpectralBackend> backend_setting{SpectralBackend::automatic};

template <typename T>
using Complex = std::complex<T>;
template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Angle 2 pi (f n mod N) / N with the product reduced exactly in integers.
double dft_angle(std::int64_t frequency, std::int64_t n, std::int64_t size) {
  const std::int64_t reduced = ((frequency * n) % size + size) % size;
  return 2.0 * std::numbers::pi * static_cast<double>(reduced) / static_cast<double>(size);
}

// Frequency of kept row r on a complex axis with m kept modes per sign.
std::int64_t row_frequency(std::int64_t r, std::int64_t m) { return r < m ? r : r - 2 * m; }

// Weight w_k of bin k on the last axis.
double real_axis_weight(std::int64_t k, std::int64_t size, Scaling scaling) {
  if (scaling == Scaling::unit) return 1.0;
  const bool single = k == 0 || 2 * k == size;  // DC and Nyquist appear once in a real signal
  return (single ? 1.0 : 2.0) / static_cast<double>(size);
}

bool use_matrix_backend(const Shape& sizes, const std::vector<std::int64_t>& modes) {
  switch (backend_setting.load()) {
    case SpectralBackend::dft: return true;
    case SpectralBackend::fft: return false;
    default: break;
  }
  // A kept mode costs about 4 N flops as a GEMM column (sine and cosine, multiply and
  // add) against about 5 N log2 N flops for a whole FFT; GEMM runs several times
  // closer to peak, so the products win while m < 2.5 log2 N.
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const double size = static_cast<double>(sizes[i]);
    if (static_cast<double>(modes[i]) >= 2.5 * std::log2(std::max(size, 2.0))) return false;
  }
  return true;
}

// ---- cached DFT matrices ----

using MatrixKey = std::tuple<std::int64_t, std::int64_t, Scaling>;  // (N, m, scaling)

// Returns the value cached for `key`, made by `make()` on first use. Each Value and Make
// pair has its own cache, so every matrix kind below keeps one map.
template <typename Value, typename Make>
std::shared_ptr<const Value> cached(const MatrixKey& key, Make make) {
  static std::mutex mutex;
  static std::map<MatrixKey, std::shared_ptr<const Value>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = cache[key];
  if (!entry) entry = make();
  return entry;
}

// Real-axis matrix A [N, 2m]: A[n, 2k] = w_k cos theta, A[n, 2k+1] = -w_k sin theta.
template <typename T>
std::shared_ptr<const RowMatrix<T>> real_axis_matrix(std::int64_t size, std::int64_t m, Scaling scaling) {
  return cached<RowMatrix<T>>({size, m, scaling}, [&] {
    auto matrix = std::make_shared<RowMatrix<T>>(size, 2 * m);
    for (std::int64_t n = 0; n < size; ++n) {
      for (std::int64_t k = 0; k < m; ++k) {
        const double theta = dft_angle(k, n, size);
        const double w = real_axis_weight(k, size, scaling);
        (*matrix)(n, 2 * k) = static_cast<T>(w * std::cos(theta));
        (*matrix)(n, 2 * k + 1) = static_cast<T>(-w * std::sin(theta));
      }
    }
    return matrix;
  });
}

// A^T [2m, N], so that the synthesis product reads no transposed operand.
template <typename T>
std::shared_ptr<const RowMatrix<T>> real_axis_matrix_transposed(std::int64_t size, std::int64_t m, Scaling scaling) {
  return cached<RowMatrix<T>>({size, m, scaling}, [&] {
    return std::make_shared<RowMatrix<T>>(real_axis_matrix<T>(size, m, scaling)->transpose());
  });
}

// Half-axis synthesis matrices for n = 0 .. H-1, H = N/2 + 1 (integer division):
// cosines [m, H] with entries w_k cos theta and sines [m, H] with entries w_k sin theta.
// theta at N - n is -theta at n, so with P = Re(G) cosines and Q = Im(G) sines the
// synthesis is y_n = P_n - Q_n and y_{N-n} = P_n + Q_n.
template <typename T>
struct HalfAxisMatrices {
  RowMatrix<T> cosines, sines;
};

template <typename T>
std::shared_ptr<const HalfAxisMatrices<T>> half_axis_matrices(std::int64_t size, std::int64_t m, Scaling scaling) {
  return cached<HalfAxisMatrices<T>>({size, m, scaling}, [&] {
    const std::int64_t half = size / 2 + 1;
    auto matrices = std::make_shared<HalfAxisMatrices<T>>();
    matrices->cosines.resize(m, half);
    matrices->sines.resize(m, half);
    for (std::int64_t k = 0; k < m; ++k) {
      const double w = real_axis_weight(k, size, scaling);
      for (std::int64_t n = 0; n < half; ++n) {
        const double theta = dft_angle(k, n, size);
        matrices->cosines(k, n) = static_cast<T>(w * std::cos(theta));
        matrices->sines(k, n) = static_cast<T>(w * std::sin(theta));
      }
    }
    return matrices;
  });
}

// Writes P = Re(G) cosines and Q = Im(G) sines [C, H] for the modes g [C, m] (complex,
// interleaved) of one sample. `re_im` is scratch for the 2 C m split values.
template <typename T>
void half_axis_sums(const HalfAxisMatrices<T>& matrices, const T* g, std::int64_t channels, T* re_im, T* p, T* q) {
  const std::int64_t m = matrices.cosines.rows(), half = matrices.cosines.cols();
  T* const re = re_im;
  T* const im = re_im + channels * m;
  for (std::int64_t j = 0; j < channels * m; ++j) {
    re[j] = g[2 * j];
    im[j] = g[2 * j + 1];
  }
  detail::direct_gemm<T>(re, m, matrices.cosines.data(), half, p, half, channels, half, m, /*accumulate=*/false);
  detail::direct_gemm<T>(im, m, matrices.sines.data(), half, q, half, channels, half, m, /*accumulate=*/false);
}

// Complex-axis matrix E [2m, N]: E[r, n] = s e^{-i f_r theta}.
template <typename T>
std::shared_ptr<const RowMatrix<Complex<T>>> complex_axis_matrix(std::int64_t size, std::int64_t m, Scaling scaling) {
  return cached<RowMatrix<Complex<T>>>({size, m, scaling}, [&] {
    const double s = scaling == Scaling::unit ? 1.0 : 1.0 / static_cast<double>(size);
    auto matrix = std::make_shared<RowMatrix<Complex<T>>>(2 * m, size);
    for (std::int64_t r = 0; r < 2 * m; ++r) {
      for (std::int64_t n = 0; n < size; ++n) {
        const double theta = dft_angle(row_frequency(r, m), n, size);
        (*matrix)(r, n) = Complex<T>(static_cast<T>(s * std::cos(theta)), static_cast<T>(-s * std::sin(theta)));
      }
    }
    return matrix;
  });
}

// ---- FFTW plans ----

template <typename T>
struct Fftw;

template <>
struct Fftw<double> {
  using Plan = fftw_plan;
  using ComplexType = fftw_complex;
  static Plan r2c(int n, double* in, ComplexType* out) { return fftw_plan_dft_r2c_1d(n, in, out, FFTW_MEASURE); }
  static Plan c2r(int n, ComplexType* in, double* out) { return fftw_plan_dft_c2r_1d(n, in, out, FFTW_MEASURE); }
  static Plan c2c(int n, ComplexType* in, ComplexType* out, int sign) {
    return fftw_plan_dft_1d(n, in, out, sign, FFTW_MEASURE);
  }
  static void execute_r2c(Plan p, double* in, ComplexType* out) { fftw_execute_dft_r2c(p, in, out); }
  static void execute_c2r(Plan p, ComplexType* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
  static void execute_c2c(Plan p, ComplexType* in, ComplexType* out) { fftw_execute_dft(p, in, out); }
  static void* allocate(std::size_t bytes) { return fftw_malloc(bytes); }
  static void release(void* p) { fftw_free(p); }
};

template <>
struct Fftw<float> {
  using Plan = fftwf_plan;
  using ComplexType = fftwf_complex;
  static Plan r2c(int n, float* in, ComplexType* out) { return fftwf_plan_dft_r2c_1d(n, in, out, FFTW_MEASURE); }
  static Plan c2r(int n, ComplexType* in, float* out) { return fftwf_plan_dft_c2r_1d(n, in, out, FFTW_MEASURE); }
  static Plan c2c(int n, ComplexType* in, ComplexType* out, int sign) {
    return fftwf_plan_dft_1d(n, in, out, sign, FFTW_MEASURE);
  }
  static void execute_r2c(Plan p, float* in, ComplexType* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void execute_c2r(Plan p, ComplexType* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
  static void execute_c2c(Plan p, ComplexType* in, ComplexType* out) { fftwf_execute_dft(p, in, out); }
  static void* allocate(std::size_t bytes) { return fftwf_malloc(bytes); }
  static void release(void* p) { fftwf_free(p); }
};

// Scratch memory from the FFTW allocator, whose alignment matches the planning buffers.
template <typename T>
class Scratch {
public:
  explicit Scratch(std::size_t bytes) : data_(Fftw<T>::allocate(std::max<std::size_t>(bytes, 64))) {
    if (data_ == nullptr) throw std::bad_alloc();
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { Fftw<T>::release(data_); }
  T* real() { return static_cast<T*>(data_); }
  Complex<T>* complex() { return static_cast<Complex<T>*>(data_); }
  typename Fftw<T>::ComplexType* fftw() { return static_cast<typename Fftw<T>::ComplexType*>(data_); }

private:
  void* data_;
};

enum class PlanKind { r2c, c2r, forward, backward };

// Returns the cached plan for one transform of length n. Planning is not
// thread-safe in FFTW, so it happens under a lock; execution with the new-array
// functions is. Plans are made on FFTW-allocated buffers and executed on
// FFTW-allocated scratch buffers, so their alignment always matches.
template <typename T>
typename Fftw<T>::Plan fftw_plan_for(PlanKind kind, std::int64_t n) {
  static std::map<std::pair<PlanKind, std::int64_t>, typename Fftw<T>::Plan> cache;
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  auto found = cache.find({kind, n});
  if (found != cache.end()) return found->second;
  Scratch<T> in(static_cast<std::size_t>(2 * (n + 2)) * sizeof(T));
  Scratch<T> out(static_cast<std::size_t>(2 * (n + 2)) * sizeof(T));
  typename Fftw<T>::Plan plan = nullptr;
  const int length = static_cast<int>(n);
  switch (kind) {
    case PlanKind::r2c: plan = Fftw<T>::r2c(length, in.real(), out.fftw()); break;
    case PlanKind::c2r: plan = Fftw<T>::c2r(length, in.fftw(), out.real()); break;
    case PlanKind::forward: plan = Fftw<T>::c2c(length, in.fftw(), out.fftw(), FFTW_FORWARD); break;
    case PlanKind::backward: plan = Fftw<T>::c2c(length, in.fftw(), out.fftw(), FFTW_BACKWARD); break;
  }
  NEUROP_CHECK(plan != nullptr, ValueError, "FFTW could not create a plan for length {}", n);
  cache[{kind, n}] = plan;
  return plan;
}

// ---- one-axis kernels ----

// x [rows, N] real -> out [rows, m] complex.
template <typename T>
void real_axis_analysis(const T* x, Complex<T>* out, std::int64_t rows, std::int64_t size, std::int64_t m,
                        Scaling scaling, bool matrices) {
  if (matrices) {
    // Folding x about N/2 would halve these multiply-adds, but the fold is an extra pass
    // over x: with it, inference in the 1D FNO benchmark ran about 6% slower.
    const auto a = real_axis_matrix<T>(size, m, scaling);
    detail::direct_gemm<T>(x, size, a->data(), 2 * m, reinterpret_cast<T*>(out), 2 * m, rows, 2 * m, size,
                           /*accumulate=*/false);
    return;
  }
  const auto plan = fftw_plan_for<T>(PlanKind::r2c, size);
#pragma omp parallel if (rows * size > detail::kParallelThreshold)
  {
    Scratch<T> in(static_cast<std::size_t>(size) * sizeof(T));
    Scratch<T> spectrum(static_cast<std::size_t>(size / 2 + 1) * sizeof(Complex<T>));
#pragma omp for schedule(static)
    for (std::int64_t row = 0; row < rows; ++row) {
      std::memcpy(in.real(), x + row * size, static_cast<std::size_t>(size) * sizeof(T));
      Fftw<T>::execute_r2c(plan, in.real(), spectrum.fftw());
      for (std::int64_t k = 0; k < m; ++k)
        out[row * m + k] = spectrum.complex()[k] * static_cast<T>(real_axis_weight(k, size, scaling));
    }
  }
}

// g [rows, m] complex -> out [rows, N] real.
// With `accumulate` the result is added to `out` instead of overwriting it.
template <typename T>
void real_axis_synthesis(const Complex<T>* g, T* out, std::int64_t rows, std::int64_t size, std::int64_t m,
                         Scaling scaling, bool matrices, bool accumulate) {
  if (matrices) {
    const auto a_transposed = real_axis_matrix_transposed<T>(size, m, scaling);
    detail::direct_gemm<T>(reinterpret_cast<const T*>(g), 2 * m, a_transposed->data(), size, out, size, rows, size,
                           2 * m, accumulate);
    return;
  }
  const auto plan = fftw_plan_for<T>(PlanKind::c2r, size);
  const std::int64_t bins = size / 2 + 1;
#pragma omp parallel if (rows * size > detail::kParallelThreshold)
  {
    Scratch<T> spectrum(static_cast<std::size_t>(bins) * sizeof(Complex<T>));
    Scratch<T> result(static_cast<std::size_t>(size) * sizeof(T));
#pragma omp for schedule(static)
    for (std::int64_t row = 0; row < rows; ++row) {
      // c2r evaluates Z_0 + 2 sum Re(Z_k e^{i theta}) (+ Z_{N/2} (-1)^n), so bin k gets w_k / c_k.
      Complex<T>* z = spectrum.complex();
      for (std::int64_t k = 0; k < bins; ++k) z[k] = Complex<T>(0, 0);
      for (std::int64_t k = 0; k < m; ++k) {
        const bool single = k == 0 || 2 * k == size;
        const double factor = real_axis_weight(k, size, scaling) / (single ? 1.0 : 2.0);
        z[k] = g[row * m + k] * static_cast<T>(factor);
      }
      Fftw<T>::execute_c2r(plan, spectrum.fftw(), result.real());
      if (accumulate) {
        for (std::int64_t n = 0; n < size; ++n) out[row * size + n] += result.real()[n];
      } else {
        std::memcpy(out + row * size, result.real(), static_cast<std::size_t>(size) * sizeof(T));
      }
    }
  }
}

// in [outer, N, inner] -> out [outer, 2m, inner], complex.
template <typename T>
void complex_axis_analysis(const Complex<T>* in, Complex<T>* out, std::int64_t outer, std::int64_t size,
                           std::int64_t inner, std::int64_t m, Scaling scaling, bool matrices) {
  const std::int64_t kept = 2 * m;
  if (matrices) {
    const auto e = complex_axis_matrix<T>(size, m, scaling);
#pragma omp parallel for schedule(static) if (outer > 1 && outer * size * inner > detail::kParallelThreshold)
    for (std::int64_t o = 0; o < outer; ++o) {
      Eigen::Map<const RowMatrix<Complex<T>>> input(in + o * size * inner, size, inner);
      Eigen::Map<RowMatrix<Complex<T>>> output(out + o * kept * inner, kept, inner);
      output.noalias() = (*e) * input;
    }
    return;
  }
  const auto plan = fftw_plan_for<T>(PlanKind::forward, size);
  const T s = static_cast<T>(scaling == Scaling::unit ? 1.0 : 1.0 / static_cast<double>(size));
#pragma omp parallel if (outer * size * inner > detail::kParallelThreshold)
  {
    Scratch<T> column(static_cast<std::size_t>(size) * sizeof(Complex<T>));
    Scratch<T> spectrum(static_cast<std::size_t>(size) * sizeof(Complex<T>));
#pragma omp for schedule(static)
    for (std::int64_t index = 0; index < outer * inner; ++index) {
      const std::int64_t o = index / inner, j = index % inner;
      for (std::int64_t n = 0; n < size; ++n) column.complex()[n] = in[(o * size + n) * inner + j];
      Fftw<T>::execute_c2c(plan, column.fftw(), spectrum.fftw());
      for (std::int64_t r = 0; r < kept; ++r) {
        const std::int64_t bin = r < m ? r : size - kept + r;
        out[(o * kept + r) * inner + j] = spectrum.complex()[bin] * s;
      }
    }
  }
}

// in [outer, 2m, inner] -> out [outer, N, inner], complex.
template <typename T>
void complex_axis_synthesis(const Complex<T>* in, Complex<T>* out, std::int64_t outer, std::int64_t size,
                            std::int64_t inner, std::int64_t m, Scaling scaling, bool matrices) {
  const std::int64_t kept = 2 * m;
  if (matrices) {
    const auto e = complex_axis_matrix<T>(size, m, scaling);
#pragma omp parallel for schedule(static) if (outer > 1 && outer * size * inner > detail::kParallelThreshold)
    for (std::int64_t o = 0; o < outer; ++o) {
      Eigen::Map<const RowMatrix<Complex<T>>> input(in + o * kept * inner, kept, inner);
      Eigen::Map<RowMatrix<Complex<T>>> output(out + o * size * inner, size, inner);
      output.noalias() = e->adjoint() * input;
    }
    return;
  }
  const auto plan = fftw_plan_for<T>(PlanKind::backward, size);
  const T s = static_cast<T>(scaling == Scaling::unit ? 1.0 : 1.0 / static_cast<double>(size));
#pragma omp parallel if (outer * size * inner > detail::kParallelThreshold)
  {
    Scratch<T> spectrum(static_cast<std::size_t>(size) * sizeof(Complex<T>));
    Scratch<T> column(static_cast<std::size_t>(size) * sizeof(Complex<T>));
#pragma omp for schedule(static)
    for (std::int64_t index = 0; index < outer * inner; ++index) {
      const std::int64_t o = index / inner, j = index % inner;
      for (std::int64_t n = 0; n < size; ++n) spectrum.complex()[n] = Complex<T>(0, 0);
      for (std::int64_t r = 0; r < kept; ++r) {
        const std::int64_t bin = r < m ? r : size - kept + r;
        spectrum.complex()[bin] = in[(o * kept + r) * inner + j];
      }
      Fftw<T>::execute_c2c(plan, spectrum.fftw(), column.fftw());
      for (std::int64_t n = 0; n < size; ++n) out[(o * size + n) * inner + j] = column.complex()[n] * s;
    }
  }
}

// ---- multi-axis transforms ----

void check_modes(const char* op, const Shape& sizes, const std::vector<std::int64_t>& modes) {
  const std::size_t d = sizes.size();
  for (std::size_t i = 0; i < d; ++i) {
    const std::int64_t limit = i + 1 == d ? sizes[i] / 2 + 1 : sizes[i] / 2;
    NEUROP_CHECK(modes[i] >= 1 && modes[i] <= limit, ShapeError,
                 "{}: {} modes requested on spatial axis {} of extent {}, which holds 1 to {}; use clamp_modes()", op,
                 modes[i], i, sizes[i], limit);
  }
}

Tensor spectral_synthesis(const Tensor& spectrum, const Shape& sizes, Scaling scaling);

class AnalysisNode : public Node {
public:
  AnalysisNode(Shape sizes, Scaling scaling) : sizes_(std::move(sizes)), scaling_(scaling) {}
  const char* name() const override { return "rfft_modes"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {spectral_synthesis(g, sizes_, scaling_)}; }

private:
  Shape sizes_;
  Scaling scaling_;
};

// The values of the analysis map, without recording.
Tensor analysis_values(const Tensor& x, const std::vector<std::int64_t>& modes, Scaling scaling) {
  const auto d = static_cast<std::int64_t>(modes.size());
  NEUROP_CHECK(d >= 1 && d <= 3 && x.ndim() >= d, ShapeError,
               "rfft_modes: {} mode counts for a tensor of shape {}; expected 1 to 3 spatial axes at the end", d,
               shape_string(x.shape()));
  const Shape sizes(x.shape().end() - d, x.shape().end());
  check_modes("rfft_modes", sizes, modes);
  const Shape lead(x.shape().begin(), x.shape().end() - d);
  const std::int64_t batch = shape_numel(lead);
  const bool matrices = use_matrix_backend(sizes, modes);

  Shape kept(static_cast<std::size_t>(d));
  for (std::int64_t i = 0; i < d; ++i) kept[static_cast<std::size_t>(i)] = i + 1 == d ? modes.back() : 2 * modes[static_cast<std::size_t>(i)];
  Shape out_shape = lead;
  out_shape.insert(out_shape.end(), kept.begin(), kept.end());
  out_shape.push_back(2);
  Tensor out = Tensor::empty(out_shape, x.dtype());

  dispatch(x.dtype(), [&]<typename T>() {
    // Stage 1, last axis: [batch * N_1..N_{d-1}, N_d] real -> [.., m_d] complex.
    std::int64_t rows = batch;
    for (std::int64_t i = 0; i + 1 < d; ++i) rows *= sizes[static_cast<std::size_t>(i)];
    Tensor current = d == 1 ? out : Tensor::empty({rows, modes.back(), 2}, x.dtype());
    real_axis_analysis<T>(x.data<T>(), reinterpret_cast<Complex<T>*>(current.data<T>()), rows, sizes.back(),
                          modes.back(), scaling, matrices);
    // Stage 2, the other axes from the last to the first:
    // [outer, N_i, inner] -> [outer, 2 m_i, inner] with inner = K_{i+1} .. K_d.
    std::int64_t inner = modes.back();
    for (std::int64_t i = d - 2; i >= 0; --i) {
      std::int64_t outer = batch;
      for (std::int64_t j = 0; j < i; ++j) outer *= sizes[static_cast<std::size_t>(j)];
      const std::int64_t size = sizes[static_cast<std::size_t>(i)], m = modes[static_cast<std::size_t>(i)];
      Tensor next = i == 0 ? out : Tensor::empty({outer, 2 * m, inner, 2}, x.dtype());
      complex_axis_analysis<T>(reinterpret_cast<const Complex<T>*>(current.data<T>()),
                               reinterpret_cast<Complex<T>*>(next.data<T>()), outer, size, inner, m, scaling,
                               matrices);
      current = next;
      inner *= 2 * m;
    }
  });
  return out;
}

Tensor spectral_analysis(const Tensor& x, const std::vector<std::int64_t>& modes, Scaling scaling) {
  Tensor out = analysis_values(x, modes, scaling);
  if (needs_graph(x)) {
    const Shape sizes(x.shape().end() - static_cast<std::ptrdiff_t>(modes.size()), x.shape().end());
    record(out, std::make_shared<AnalysisNode>(sizes, scaling), {x});
  }
  return out;
}

class SynthesisNode : public Node {
public:
  SynthesisNode(std::vector<std::int64_t> modes, Scaling scaling) : modes_(std::move(modes)), scaling_(scaling) {}
  const char* name() const override { return "irfft_modes"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {spectral_analysis(g, modes_, scaling_)}; }

private:
  std::vector<std::int64_t> modes_;
  Scaling scaling_;
};

// Mode counts described by a spectrum's kept extents; checks them against `sizes`.
std::vector<std::int64_t> spectrum_modes(const Tensor& spectrum, const Shape& sizes) {
  const auto d = static_cast<std::int64_t>(sizes.size());
  NEUROP_CHECK(d >= 1 && d <= 3 && spectrum.ndim() >= d + 1 && spectrum.size(-1) == 2, ShapeError,
               "irfft_modes: spectrum of shape {} for {} spatial axes; expected [..., K_1..K_d, 2]",
               shape_string(spectrum.shape()), d);
  std::vector<std::int64_t> modes(static_cast<std::size_t>(d));
  for (std::int64_t i = 0; i < d; ++i) {
    const std::int64_t k = spectrum.size(i - d - 1);
    NEUROP_CHECK(i + 1 == d || k % 2 == 0, ShapeError,
                 "irfft_modes: axis {} of spectrum shape {} keeps {} rows; expected an even count (m positive and m "
                 "negative frequencies)",
                 i, shape_string(spectrum.shape()), k);
    modes[static_cast<std::size_t>(i)] = i + 1 == d ? k : k / 2;
  }
  check_modes("irfft_modes", sizes, modes);
  return modes;
}

// Writes (or, with `accumulate`, adds) the synthesis of `spectrum` into `out`, whose
// shape must be [..., N_1..N_d]; no recording.
void synthesis_values(const Tensor& spectrum, const Shape& sizes, Scaling scaling, Tensor& out, bool accumulate) {
  const auto d = static_cast<std::int64_t>(sizes.size());
  const std::vector<std::int64_t> modes = spectrum_modes(spectrum, sizes);
  const Shape kept(spectrum.shape().end() - d - 1, spectrum.shape().end() - 1);
  const Shape lead(spectrum.shape().begin(), spectrum.shape().end() - d - 1);
  const std::int64_t batch = shape_numel(lead);
  const bool matrices = use_matrix_backend(sizes, modes);
  NEUROP_ASSERT(out.numel() == batch * shape_numel(sizes));

  dispatch(spectrum.dtype(), [&]<typename T>() {
    // Stage 1, axes 1 .. d-1: [outer, 2 m_i, inner] -> [outer, N_i, inner] with
    // inner = K_{i+1} .. K_d.
    Tensor current = spectrum;
    for (std::int64_t i = 0; i + 1 < d; ++i) {
      std::int64_t outer = batch, inner = 1;
      for (std::int64_t j = 0; j < i; ++j) outer *= sizes[static_cast<std::size_t>(j)];
      for (std::int64_t j = i + 1; j < d; ++j) inner *= kept[static_cast<std::size_t>(j)];
      const std::int64_t size = sizes[static_cast<std::size_t>(i)], m = modes[static_cast<std::size_t>(i)];
      Tensor next = Tensor::empty({outer, size, inner, 2}, spectrum.dtype());
      complex_axis_synthesis<T>(reinterpret_cast<const Complex<T>*>(current.data<T>()),
                                reinterpret_cast<Complex<T>*>(next.data<T>()), outer, size, inner, m, scaling,
                                matrices);
      current = next;
    }
    // Stage 2, last axis: [rows, m_d] complex -> [rows, N_d] real.
    std::int64_t rows = batch;
    for (std::int64_t i = 0; i + 1 < d; ++i) rows *= sizes[static_cast<std::size_t>(i)];
    real_axis_synthesis<T>(reinterpret_cast<const Complex<T>*>(current.data<T>()), out.data<T>(), rows, sizes.back(),
                           modes.back(), scaling, matrices, accumulate);
  });
}

Tensor spectral_synthesis(const Tensor& spectrum, const Shape& sizes, Scaling scaling) {
  const auto d = static_cast<std::int64_t>(sizes.size());
  const std::vector<std::int64_t> modes = spectrum_modes(spectrum, sizes);
  Shape out_shape(spectrum.shape().begin(), spectrum.shape().end() - d - 1);
  out_shape.insert(out_shape.end(), sizes.begin(), sizes.end());
  Tensor out = Tensor::empty(out_shape, spectrum.dtype());
  synthesis_values(spectrum, sizes, scaling, out, /*accumulate=*/false);
  if (needs_graph(spectrum)) record(out, std::make_shared<SynthesisNode>(modes, scaling), {spectrum});
  return out;
}

// ---- mode mixing ----

enum class MixKind {
  mix,     // out_k = a_k b_k,   a = x [B, I, K], b = w [I, O, K] -> [B, O, K]
  grad_x,  // out_k = a_k b_k^H, a = g [B, O, K], b = w [I, O, K] -> [B, I, K]
  grad_w,  // out_k = a_k^H b_k, a = x [B, I, K], b = g [B, O, K] -> [I, O, K]
};

Tensor mix_modes(MixKind kind, const Tensor& a, const Tensor& b);

class MixNode : public Node {
public:
  MixNode(MixKind kind, Tensor a, Tensor b) : kind_(kind), a_(std::move(a)), b_(std::move(b)) {}
  const char* name() const override { return "spectral_mix"; }

  // With real-pair gradients (dL/dRe, dL/dIm), the adjoint of z -> a z is z -> conj(a) z:
  //   mix(x, w):     dx = grad_x(g, w),  dw = grad_w(x, g)
  //   grad_x(g, w):  dg = mix(h, w),     dw = grad_w(h, g)
  //   grad_w(x, g):  dx = grad_x(g, h),  dg = mix(x, h)
  std::vector<Tensor> backward(const Tensor& h) override {
    Tensor ga, gb;
    switch (kind_) {
      case MixKind::mix:
        if (needs_input_grad(0)) ga = mix_modes(MixKind::grad_x, h, b_);
        if (needs_input_grad(1)) gb = mix_modes(MixKind::grad_w, a_, h);
        break;
      case MixKind::grad_x:
        if (needs_input_grad(0)) ga = mix_modes(MixKind::mix, h, b_);
        if (needs_input_grad(1)) gb = mix_modes(MixKind::grad_w, h, a_);
        break;
      case MixKind::grad_w:
        if (needs_input_grad(0)) ga = mix_modes(MixKind::grad_x, b_, h);
        if (needs_input_grad(1)) gb = mix_modes(MixKind::mix, a_, h);
        break;
    }
    return {ga, gb};
  }

private:
  MixKind kind_;
  Tensor a_, b_;
};

// The values of a mode mixing, without recording.
Tensor mix_values(MixKind kind, const Tensor& a, const Tensor& b) {
  check_same_dtype("spectral_mix", a, b);
  NEUROP_CHECK(a.ndim() >= 4 && a.ndim() == b.ndim() && a.size(-1) == 2 && b.size(-1) == 2, ShapeError,
               "spectral_mix: expected [B, C_in, K..., 2] and [C_in, C_out, K..., 2], got shapes {} and {}",
               shape_string(a.shape()), shape_string(b.shape()));
  const Shape modes_shape(a.shape().begin() + 2, a.shape().end() - 1);
  const Shape b_modes(b.shape().begin() + 2, b.shape().end() - 1);
  NEUROP_CHECK(modes_shape == b_modes, ShapeError, "spectral_mix: mode extents differ: shapes {} and {}",
               shape_string(a.shape()), shape_string(b.shape()));
  const std::int64_t k = shape_numel(modes_shape);
  const std::int64_t a0 = a.size(0), a1 = a.size(1), b0 = b.size(0), b1 = b.size(1);
  std::int64_t rows = 0, inner = 0, cols = 0;  // out_k is [rows, cols], contracted over `inner`
  switch (kind) {
    case MixKind::mix:
      NEUROP_CHECK(a1 == b0, ShapeError, "spectral_mix: input has {} channels (shape {}) but the weight {} expects {}",
                   a1, shape_string(a.shape()), shape_string(b.shape()), b0);
      rows = a0, inner = a1, cols = b1;
      break;
    case MixKind::grad_x:
      NEUROP_CHECK(a1 == b1, ShapeError, "spectral_mix: gradient shape {} does not match weight shape {}",
                   shape_string(a.shape()), shape_string(b.shape()));
      rows = a0, inner = a1, cols = b0;
      break;
    case MixKind::grad_w:
      NEUROP_CHECK(a0 == b0, ShapeError, "spectral_mix: batch extents differ: shapes {} and {}",
                   shape_string(a.shape()), shape_string(b.shape()));
      rows = a1, inner = a0, cols = b1;
      break;
  }
  Shape out_shape = {rows, cols};
  out_shape.insert(out_shape.end(), modes_shape.begin(), modes_shape.end());
  out_shape.push_back(2);
  Tensor out = Tensor::empty(out_shape, a.dtype());

  dispatch(a.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, float>) {
      if (kind == MixKind::mix &&
          detail::mix_modes_rowwise(a.data<T>(), b.data<T>(), out.data<T>(), rows, inner, cols, k))
        return;
    }
    // Mode m of a [P, Q, K] complex array is the [P, Q] matrix that starts at element m,
    // with row stride Q K and column stride K. The products therefore read and write the
    // tensors in place, without transposing them to [K, P, Q] first.
    using Strides = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
    using ConstModeMap = Eigen::Map<const RowMatrix<Complex<T>>, Eigen::Unaligned, Strides>;
    using ModeMap = Eigen::Map<RowMatrix<Complex<T>>, Eigen::Unaligned, Strides>;
    const auto* pa = reinterpret_cast<const Complex<T>*>(a.data<T>());
    const auto* pb = reinterpret_cast<const Complex<T>*>(b.data<T>());
    auto* po = reinterpret_cast<Complex<T>*>(out.data<T>());
#pragma omp parallel for schedule(static) if (k > 1 && rows * inner * cols * k > detail::kParallelThreshold)
    for (std::int64_t m = 0; m < k; ++m) {
      const ConstModeMap am_k(pa + m, a0, a1, Strides(a1 * k, k));
      const ConstModeMap bm_k(pb + m, b0, b1, Strides(b1 * k, k));
      ModeMap om_k(po + m, rows, cols, Strides(cols * k, k));
      switch (kind) {
        case MixKind::mix: om_k.noalias() = am_k * bm_k; break;
        case MixKind::grad_x: om_k.noalias() = am_k * bm_k.adjoint(); break;
        case MixKind::grad_w: om_k.noalias() = am_k.adjoint() * bm_k; break;
      }
    }
  });
  return out;
}

Tensor mix_modes(MixKind kind, const Tensor& a, const Tensor& b) {
  Tensor out = mix_values(kind, a, b);
  if (needs_graph(a, b)) record(out, std::make_shared<MixNode>(kind, a, b), {a, b});
  return out;
}

// ---- fused Fourier layer ----

template <typename T>
using PlainMatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstPlainMatrixMap = Eigen::Map<const RowMatrix<T>>;

// out[b] = W x[b] for x [B, K, S] and W [M, K] (or W^T when `transpose`), written into
// out [B, M, S].
void pointwise_values(const Tensor& x, const Tensor& weight, bool transpose, Tensor& out) {
  const std::int64_t batch = x.size(0), k = x.size(1), points = x.size(2);
  const std::int64_t m = transpose ? weight.size(1) : weight.size(0);
  dispatch(x.dtype(), [&]<typename T>() {
    // The product reads W^T as a plain row-major matrix.
    RowMatrix<T> transposed;
    if (transpose) transposed = ConstPlainMatrixMap<T>(weight.data<T>(), weight.size(0), weight.size(1)).transpose();
    const T* w = transpose ? transposed.data() : weight.data<T>();
    auto one = [&](std::int64_t b) {
      detail::direct_gemm<T>(w, k, x.data<T>() + b * k * points, points, out.data<T>() + b * m * points, points, m,
                             points, k, /*accumulate=*/false);
    };
    if (batch == 1) {
      one(0);
    } else {
#pragma omp parallel for schedule(static) if (batch * m * k * points > detail::kParallelThreshold)
      for (std::int64_t b = 0; b < batch; ++b) one(b);
    }
  });
}

class FourierLayerNode : public Node {
public:
  // `slope` is act'(z) from the forward pass, undefined for the identity.
  FourierLayerNode(Tensor x, Tensor spectral_weight, Tensor pointwise_weight, Tensor bias, Tensor spectrum,
                   Tensor slope, std::vector<std::int64_t> modes, Activation activation)
      : x_(std::move(x)), spectral_weight_(std::move(spectral_weight)), pointwise_weight_(std::move(pointwise_weight)),
        bias_(std::move(bias)), spectrum_(std::move(spectrum)), slope_(std::move(slope)), modes_(std::move(modes)),
        activation_(activation) {}
  const char* name() const override { return "fourier_layer"; }

  // y = act(z), z = I(mix(T x, w)) + W x + b, with T the truncated transform and I its
  // inverse. With gz = g act'(z):
  //   dx = T*(mix_grad_x(I* gz, w)) + W^T gz     dw = mix_grad_w(T x, I* gz)
  //   dW = sum_b gz[b] x[b]^T                    db = sum of gz over batch and points
  std::vector<Tensor> backward(const Tensor& g) override {
    if (GradMode::enabled()) return backward_with_graph(g);
    return backward_fused(g);
  }

private:
  // Differentiable composition, so that second derivatives exist.
  std::vector<Tensor> backward_with_graph(const Tensor& g) {
    const Shape sizes(x_.shape().begin() + 2, x_.shape().end());
    const std::int64_t batch = x_.size(0), points = shape_numel(sizes);
    Tensor gz = g;
    if (activation_ != Activation::identity) {
      const Tensor z = fourier_layer(x_, spectral_weight_, pointwise_weight_, bias_, Activation::identity);
      gz = g * activation_derivative(z, activation_);
    }
    const Tensor gz_flat = reshape(gz, {batch, gz.size(1), points});
    const Tensor x_flat = reshape(x_, {batch, x_.size(1), points});
    const Tensor g_hat = irfft_modes_adjoint(gz, modes_);
    Tensor gx, gw, gpw, gb;
    if (needs_input_grad(0)) {
      gx = rfft_modes_adjoint(mix_modes(MixKind::grad_x, g_hat, spectral_weight_), sizes) +
           reshape(channel_mix(gz_flat, pointwise_weight_, true), x_.shape());
    }
    if (needs_input_grad(1)) gw = mix_modes(MixKind::grad_w, rfft_modes(x_, modes_), g_hat);
    if (needs_input_grad(2)) gpw = batch_outer(gz_flat, x_flat);
    if (needs_input_grad(3)) gb = sum(gz_flat, {0, 2});
    return {gx, gw, gpw, gb};
  }

  // One pass per sample while its data are in cache: gz, the transform of gz and the
  // weight and bias sums; then the mode mixing for the whole batch; then dx per sample.
  std::vector<Tensor> backward_fused(const Tensor& g) {
    const Shape sizes(x_.shape().begin() + 2, x_.shape().end());
    const std::int64_t batch = x_.size(0), points = shape_numel(sizes);
    const std::int64_t in_channels = x_.size(1), out_channels = g.size(1);
    Shape spectrum_shape = spectrum_.shape();
    spectrum_shape[1] = out_channels;
    Tensor g_hat = Tensor::empty(spectrum_shape, g.dtype());
    Tensor gz = activation_ == Activation::identity ? g : Tensor::empty(g.shape(), g.dtype());
    Tensor gx, gw, gpw, gb;
    const bool want_pointwise = needs_input_grad(2), want_bias = needs_input_grad(3);

    dispatch(g.dtype(), [&]<typename T>() {
      using Matrix = RowMatrix<T>;
      const int threads = batch > 1 && !omp_in_parallel() ? std::min<int>(omp_get_max_threads(), static_cast<int>(batch)) : 1;
      std::vector<Matrix> pointwise_sums(static_cast<std::size_t>(threads), Matrix::Zero(out_channels, in_channels));
      std::vector<std::vector<double>> bias_sums(static_cast<std::size_t>(threads),
                                                 std::vector<double>(static_cast<std::size_t>(out_channels), 0.0));
#pragma omp parallel num_threads(threads)
      {
        const int t = omp_get_thread_num();
        // Each thread owns a fixed range of samples, so the sums depend only on the thread count.
        const std::int64_t first = batch * t / threads, last = batch * (t + 1) / threads;
        for (std::int64_t b = first; b < last; ++b) {
          const std::int64_t block = out_channels * points;
          if (activation_ != Activation::identity) {
            const detail::ConstArrayMap<T> slope(slope_.data<T>() + b * block, block);
            const detail::ConstArrayMap<T> grad(g.data<T>() + b * block, block);
            detail::ArrayMap<T>(gz.data<T>() + b * block, block) = grad * slope;
          }
          const Tensor gz_b = detail::sample_view(gz, b, 1);
          const Tensor g_hat_b = analysis_values(gz_b, modes_, Scaling::inverse);
          std::memcpy(g_hat.data<T>() + b * g_hat_b.numel(), g_hat_b.data<T>(),
                      static_cast<std::size_t>(g_hat_b.numel()) * sizeof(T));
          const ConstPlainMatrixMap<T> gz_matrix(gz.data<T>() + b * block, out_channels, points);
          if (want_pointwise) {
            const ConstPlainMatrixMap<T> x_matrix(x_.data<T>() + b * in_channels * points, in_channels, points);
            pointwise_sums[static_cast<std::size_t>(t)].noalias() += gz_matrix * x_matrix.transpose();
          }
          if (want_bias) {
            for (std::int64_t row = 0; row < out_channels; ++row)
              bias_sums[static_cast<std::size_t>(t)][static_cast<std::size_t>(row)] +=
                  static_cast<double>(gz_matrix.row(row).sum());
          }
        }
      }
      if (want_pointwise) {
        gpw = Tensor::zeros({out_channels, in_channels}, g.dtype());
        PlainMatrixMap<T> total(gpw.data<T>(), out_channels, in_channels);
        for (const Matrix& part : pointwise_sums) total += part;
      }
      if (want_bias) {
        std::vector<double> total(static_cast<std::size_t>(out_channels), 0.0);
        for (const auto& part : bias_sums)
          for (std::size_t row = 0; row < total.size(); ++row) total[row] += part[row];
        gb = Tensor::from_vector(total, {out_channels}, g.dtype());
      }
    });

    if (needs_input_grad(1)) gw = mix_values(MixKind::grad_w, spectrum_, g_hat);
    if (needs_input_grad(0)) {
      const Tensor gx_hat = mix_values(MixKind::grad_x, g_hat, spectral_weight_);
      gx = Tensor::empty(x_.shape(), x_.dtype());
#pragma omp parallel for schedule(static) if (batch > 1)
      for (std::int64_t b = 0; b < batch; ++b) {
        Tensor gx_b = detail::sample_view(gx, b, 1);
        Tensor gx_flat = gx_b.reshape({1, in_channels, points});
        pointwise_values(detail::sample_view(gz, b, 1).reshape({1, out_channels, points}), pointwise_weight_,
                         /*transpose=*/true, gx_flat);
        synthesis_values(detail::sample_view(gx_hat, b, 1), sizes, Scaling::unit, gx_b, /*accumulate=*/true);
      }
    }
    return {gx, gw, gpw, gb};
  }

  Tensor x_, spectral_weight_, pointwise_weight_, bias_, spectrum_, slope_;
  std::vector<std::int64_t> modes_;
  Activation activation_;
};

}  // namespace

void set_spectral_backend(SpectralBackend backend) { backend_setting.store(backend); }
SpectralBackend spectral_backend() { return backend_setting.load(); }

std::vector<std::int64_t> clamp_modes(const Shape& sizes, const std::vector<std::int64_t>& modes) {
  NEUROP_CHECK(sizes.size() == modes.size(), ShapeError, "clamp_modes: {} mode counts for {} spatial axes",
               modes.size(), sizes.size());
  std::vector<std::int64_t> clamped(modes.size());
  for (std::size_t i = 0; i < modes.size(); ++i) {
    const std::int64_t limit = i + 1 == modes.size() ? sizes[i] / 2 + 1 : sizes[i] / 2;
    clamped[i] = std::min(modes[i], limit);
    NEUROP_CHECK(clamped[i] >= 1, ShapeError, "clamp_modes: spatial axis {} of extent {} holds no mode", i, sizes[i]);
  }
  return clamped;
}

Tensor rfft_modes(const Tensor& x, const std::vector<std::int64_t>& modes) {
  return spectral_analysis(x, modes, Scaling::unit);
}

Tensor irfft_modes(const Tensor& spectrum, const Shape& sizes) {
  return spectral_synthesis(spectrum, sizes, Scaling::inverse);
}

Tensor rfft_modes_adjoint(const Tensor& spectrum, const Shape& sizes) {
  return spectral_synthesis(spectrum, sizes, Scaling::unit);
}

Tensor irfft_modes_adjoint(const Tensor& x, const std::vector<std::int64_t>& modes) {
  return spectral_analysis(x, modes, Scaling::inverse);
}

Tensor spectral_mix(const Tensor& x_hat, const Tensor& weight) { return mix_modes(MixKind::mix, x_hat, weight); }

std::vector<std::int64_t> weight_modes(const Tensor& weight) {
  NEUROP_CHECK(weight.ndim() >= 4 && weight.ndim() <= 6 && weight.size(-1) == 2, ShapeError,
               "spectral weight: expected [C_in, C_out, K_1..K_d, 2] with d = 1..3, got shape {}",
               shape_string(weight.shape()));
  const std::int64_t d = weight.ndim() - 3;
  std::vector<std::int64_t> modes(static_cast<std::size_t>(d));
  for (std::int64_t i = 0; i < d; ++i) {
    const std::int64_t k = weight.size(2 + i);
    NEUROP_CHECK(i + 1 == d || k % 2 == 0, ShapeError,
                 "spectral weight: axis {} of shape {} keeps {} rows; expected an even count", i,
                 shape_string(weight.shape()), k);
    modes[static_cast<std::size_t>(i)] = i + 1 == d ? k : k / 2;
  }
  return modes;
}

Tensor clamp_weight(const Tensor& weight, const std::vector<std::int64_t>& modes) {
  const std::vector<std::int64_t> full = weight_modes(weight);
  NEUROP_CHECK(modes.size() == full.size(), ShapeError, "clamp_weight: {} mode counts for a weight of shape {}",
               modes.size(), shape_string(weight.shape()));
  Tensor result = weight;
  const auto d = static_cast<std::int64_t>(full.size());
  for (std::int64_t i = 0; i < d; ++i) {
    const std::int64_t requested = full[static_cast<std::size_t>(i)], kept = modes[static_cast<std::size_t>(i)];
    NEUROP_CHECK(kept >= 1 && kept <= requested, ShapeError,
                 "clamp_weight: {} modes on axis {} but the weight holds {}", kept, i, requested);
    if (kept == requested) continue;
    const std::int64_t axis = 2 + i;
    if (i + 1 == d) {
      result = slice(result, axis, 0, kept);
    } else {
      // Rows are frequencies 0 .. m-1 then -m .. -1; keep 0 .. kept-1 and -kept .. -1.
      result = concat({slice(result, axis, 0, kept), slice(result, axis, 2 * requested - kept, 2 * requested)}, axis);
    }
  }
  return result;
}

Tensor spectral_conv(const Tensor& x, const Tensor& weight) {
  const std::vector<std::int64_t> requested = weight_modes(weight);
  const auto d = static_cast<std::int64_t>(requested.size());
  NEUROP_CHECK(x.ndim() == d + 2, ShapeError,
               "spectral_conv: input shape {} does not fit a weight for {} spatial axes (shape {}); expected [batch, "
               "channels, {} spatial extents]",
               shape_string(x.shape()), d, shape_string(weight.shape()), d);
  NEUROP_CHECK(x.size(1) == weight.size(0), ShapeError,
               "spectral_conv: input has {} channels (shape {}) but the weight {} expects {}", x.size(1),
               shape_string(x.shape()), shape_string(weight.shape()), weight.size(0));
  const Shape sizes(x.shape().begin() + 2, x.shape().end());
  const std::vector<std::int64_t> modes = clamp_modes(sizes, requested);
  const Tensor w = clamp_weight(weight, modes);
  return irfft_modes(spectral_mix(rfft_modes(x, modes), w), sizes);
}

Tensor fourier_layer(const Tensor& x, const Tensor& spectral_weight, const Tensor& pointwise_weight, const Tensor& bias,
                     Activation activation) {
  const std::vector<std::int64_t> requested = weight_modes(spectral_weight);
  const auto d = static_cast<std::int64_t>(requested.size());
  NEUROP_CHECK(x.ndim() == d + 2, ShapeError,
               "fourier_layer: input shape {} does not fit a weight for {} spatial axes (shape {}); expected [batch, "
               "channels, {} spatial extents]",
               shape_string(x.shape()), d, shape_string(spectral_weight.shape()), d);
  const std::int64_t in_channels = spectral_weight.size(0), out_channels = spectral_weight.size(1);
  NEUROP_CHECK(x.size(1) == in_channels, ShapeError,
               "fourier_layer: input has {} channels (shape {}) but the spectral weight {} expects {}", x.size(1),
               shape_string(x.shape()), shape_string(spectral_weight.shape()), in_channels);
  NEUROP_CHECK(pointwise_weight.shape() == (Shape{out_channels, in_channels}), ShapeError,
               "fourier_layer: pointwise weight shape {} should be [{}, {}]", shape_string(pointwise_weight.shape()),
               out_channels, in_channels);
  NEUROP_CHECK(bias.defined() && bias.shape() == Shape{out_channels}, ShapeError,
               "fourier_layer: bias shape {} should be [{}]",
               bias.defined() ? shape_string(bias.shape()) : std::string("undefined"), out_channels);
  check_same_dtype("fourier_layer", x, spectral_weight);
  check_same_dtype("fourier_layer", x, pointwise_weight);
  check_same_dtype("fourier_layer", x, bias);

  const Shape sizes(x.shape().begin() + 2, x.shape().end());
  const std::vector<std::int64_t> modes = clamp_modes(sizes, requested);
  const Tensor w = clamp_weight(spectral_weight, modes);
  const std::int64_t batch = x.size(0), points = shape_numel(sizes);

  // x [B, C_in, N...] -> spectrum [B, C_in, K..., 2] -> mixed [B, C_out, K..., 2]
  const Tensor spectrum = analysis_values(x, modes, Scaling::unit);
  const Tensor mixed = mix_values(MixKind::mix, spectrum, w);
  // Per sample, while it is in cache: z = W x, z += inverse transform of the mixed modes,
  // then row by row z += b, y = act(z) in place, and act'(z) when recording.
  Shape out_shape = x.shape();
  out_shape[1] = out_channels;
  const bool recording = needs_graph({x, w, pointwise_weight, bias});
  Tensor y = Tensor::empty(out_shape, x.dtype());
  Tensor slope = recording && activation != Activation::identity ? Tensor::empty(out_shape, x.dtype()) : Tensor();
  // On one axis with the matrix backend, the synthesis runs on half of the axis (see
  // half_axis_matrices) and its two halves are combined in the pass that adds the bias.
  const bool half_axis = d == 1 && use_matrix_backend(sizes, modes);
#pragma omp parallel if (batch > 1)
  dispatch(x.dtype(), [&]<typename T>() {
    const std::int64_t m = modes.back(), half = points / 2 + 1;
    // Per thread: Re(G), Im(G) [C_out, m] and P, Q [C_out, H] of one sample.
    Eigen::Matrix<T, Eigen::Dynamic, 1> re_im, sums;
    std::shared_ptr<const HalfAxisMatrices<T>> matrices;
    T* p = nullptr;
    T* q = nullptr;
    if (half_axis) {
      re_im.resize(2 * out_channels * m);
      sums.resize(2 * out_channels * half);
      matrices = half_axis_matrices<T>(points, m, Scaling::inverse);
      p = sums.data();
      q = p + out_channels * half;
    }
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < batch; ++b) {
      Tensor y_b = detail::sample_view(y, b, 1);
      Tensor y_flat = y_b.reshape({1, out_channels, points});
      pointwise_values(detail::sample_view(x, b, 1).reshape({1, in_channels, points}), pointwise_weight,
                       /*transpose=*/false, y_flat);
      const std::int64_t offset = b * out_channels * points;
      if (half_axis) {
        half_axis_sums<T>(*matrices, mixed.data<T>() + b * out_channels * m * 2, out_channels, re_im.data(), p, q);
      } else {
        synthesis_values(detail::sample_view(mixed, b, 1), sizes, Scaling::inverse, y_b, /*accumulate=*/true);
      }
      for (std::int64_t row = 0; row < out_channels; ++row) {
        T* values = y.data<T>() + offset + row * points;
        const T shift = bias.data<T>()[row];
        if (half_axis) {
          // y_n += P_n - Q_n + b for n < H, y_{N-n} += P_n + Q_n + b for 1 <= n <= N - H.
          const detail::ConstArrayMap<T> p_row(p + row * half, half), q_row(q + row * half, half);
          detail::ArrayMap<T>(values, half) += p_row - q_row + shift;
          const std::int64_t rest = points - half;
          detail::ArrayMap<T>(values + half, rest) += (p_row.segment(1, rest) + q_row.segment(1, rest)).reverse() + shift;
        } else {
          detail::ArrayMap<T>(values, points) += shift;
        }
        if (slope.defined()) {
          detail::activation_forward_and_slope<T>(activation, values, values, slope.data<T>() + offset + row * points,
                                                  points);
        } else if (activation != Activation::identity) {
          detail::activation_forward<T>(activation, values, values, points);
        }
      }
    }
  });

  if (recording) {
    record(y, std::make_shared<FourierLayerNode>(x, w, pointwise_weight, bias, spectrum, slope, modes, activation),
           {x, w, pointwise_weight, bias});
  }
  return y;
}

}  // namespace neurop
