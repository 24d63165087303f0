#include <cmath>
#include <complex>
#include <numbers>

#include <doctest/doctest.h>

#include "lib/autodiff/gradcheck.hpp"
#include "lib/autodiff/graph.hpp"
#include "lib/core/random.hpp"
#include "lib/tensor/ops.hpp"
#include "lib/tensor/spectral.hpp"
#include "tests/support/check.hpp"
#include "tests/support/tensors.hpp"

using namespace neurop;
using neurop::testing::random_tensor;
using neurop::testing::max_abs_difference;
using neurop::testing::kF64Loose;
using neurop::testing::kF64Tight;
using neurop::testing::is_close;
using neurop::testing::Tolerance;
using Complex = std::complex<double>;

namespace {

double inner_product(const Tensor& a, const Tensor& b) { return sum(mul(a, b)).item(); }

// Restores the process-wide backend when a test ends.
struct BackendScope {
  explicit BackendScope(SpectralBackend backend) : previous(spectral_backend()) { set_spectral_backend(backend); }
  ~BackendScope() { set_spectral_backend(previous); }
  SpectralBackend previous;
};

const SpectralBackend kBackends[] = {SpectralBackend::dft, SpectralBackend::fft};

// Direct 2D DFT of a real [n0, n1] field at frequencies (f0, f1).
Complex direct_dft(const std::vector<double>& x, std::int64_t n0, std::int64_t n1, std::int64_t f0, std::int64_t f1) {
  Complex total = 0;
  for (std::int64_t a = 0; a < n0; ++a)
    for (std::int64_t b = 0; b < n1; ++b) {
      const double theta = 2 * std::numbers::pi * (static_cast<double>(f0 * a) / n0 + static_cast<double>(f1 * b) / n1);
      total += x[static_cast<std::size_t>(a * n1 + b)] * Complex(std::cos(theta), -std::sin(theta));
    }
  return total;
}

}  // namespace

TEST_CASE("real DFT of a delta at index 1") {
  // X_1 = exp(-i pi / 3) = 0.5 - 0.8660254i for length 6.
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    const Tensor x = Tensor::from_vector(std::vector<double>{0, 1, 0, 0, 0, 0}, {6}, DType::f64);
    const Tensor spectrum = rfft_modes(x, {4});
    CHECK_CLOSE(spectrum.at({1, 0}), 0.5, kF64Tight);
    CHECK_CLOSE(spectrum.at({1, 1}), -std::sqrt(3.0) / 2.0, kF64Tight);
    CHECK(max_abs_difference(irfft_modes(spectrum, {6}), x) < 1e-15);
  }
}

TEST_CASE("real DFT round trip on odd and even lengths") {
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    for (std::int64_t n : {6, 7, 48, 85, 421, 1023, 1025}) {
      const Tensor x = random_tensor({3, n}, static_cast<std::uint64_t>(n));
      const Tensor back = irfft_modes(rfft_modes(x, {n / 2 + 1}), {n});
      INFO("length ", n);
      CHECK(max_abs_difference(back, x) < 1e-12);
    }
  }
}

TEST_CASE("2D truncated transform matches the direct DFT") {
  const std::int64_t n0 = 9, n1 = 8, m0 = 3, m1 = 4;
  const Tensor x = random_tensor({n0, n1}, 3);
  const std::vector<double> values = x.to_vector();
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    const Tensor spectrum = rfft_modes(x, {m0, m1});
    REQUIRE(spectrum.shape() == Shape{2 * m0, m1, 2});
    for (std::int64_t r = 0; r < 2 * m0; ++r) {
      const std::int64_t f0 = r < m0 ? r : r - 2 * m0;
      for (std::int64_t k = 0; k < m1; ++k) {
        const Complex expected = direct_dft(values, n0, n1, f0, k);
        CHECK_CLOSE(spectrum.at({r, k, 0}), expected.real(), kF64Tight);
        CHECK_CLOSE(spectrum.at({r, k, 1}), expected.imag(), kF64Tight);
      }
    }
  }
}

TEST_CASE("inverse equals irfftn of the zero-filled spectrum") {
  // irfftn: a complex inverse DFT along axis 0, then a real inverse along axis 1 that
  // counts interior bins twice and keeps the real part of bin 0:
  //   y[a, b] = 1/(N0 N1) sum_k c_k Re( sum_f Z[f, k] e^{2 pi i (f a / N0 + k b / N1)} )
  // with c_0 = 1 and c_k = 2 for the interior bins of an odd N1.
  const std::int64_t n0 = 10, n1 = 7, m0 = 2, m1 = 3;
  const Tensor spectrum = random_tensor({2 * m0, m1, 2}, 4);
  std::vector<double> expected(static_cast<std::size_t>(n0 * n1), 0.0);
  for (std::int64_t a = 0; a < n0; ++a)
    for (std::int64_t b = 0; b < n1; ++b) {
      double total = 0.0;
      for (std::int64_t k = 0; k < m1; ++k) {
        Complex column = 0;
        for (std::int64_t r = 0; r < 2 * m0; ++r) {
          const std::int64_t f = r < m0 ? r : r - 2 * m0;
          const Complex z(spectrum.at({r, k, 0}), spectrum.at({r, k, 1}));
          const double theta = 2 * std::numbers::pi * (static_cast<double>(f * a) / n0 + static_cast<double>(k * b) / n1);
          column += z * Complex(std::cos(theta), std::sin(theta));
        }
        total += (k == 0 ? 1.0 : 2.0) * column.real();
      }
      expected[static_cast<std::size_t>(a * n1 + b)] = total / static_cast<double>(n0 * n1);
    }
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    const std::vector<double> result = irfft_modes(spectrum, {n0, n1}).to_vector();
    for (std::size_t i = 0; i < result.size(); ++i) CHECK_CLOSE(result[i], expected[i], kF64Tight);
  }
}

TEST_CASE("matrix and FFTW backends agree") {
  struct Case {
    Shape shape;
    std::vector<std::int64_t> modes;
  };
  // Then: a product split across threads, the shortest axes (N = 2 and N = 1), and long
  // even and odd axes with every mode kept.
  const Case cases[] = {{{2, 3, 64}, {16}},     {{2, 17}, {9}},         {{2, 12, 15}, {5, 8}},
                        {{1, 6, 8, 10}, {2, 3, 4}}, {{2, 100, 256}, {16}}, {{4, 2}, {2}},
                        {{5, 1}, {1}},          {{2, 41, 1024}, {513}}, {{3, 23, 2049}, {1025}}};
  for (const Case& c : cases) {
    const Tensor x = random_tensor(c.shape, 5);
    Tensor spectrum_dft, spectrum_fft, back_dft, back_fft;
    Shape sizes(c.shape.end() - static_cast<std::ptrdiff_t>(c.modes.size()), c.shape.end());
    {
      BackendScope scope(SpectralBackend::dft);
      spectrum_dft = rfft_modes(x, c.modes);
      back_dft = irfft_modes(spectrum_dft, sizes);
    }
    {
      BackendScope scope(SpectralBackend::fft);
      spectrum_fft = rfft_modes(x, c.modes);
      back_fft = irfft_modes(spectrum_dft, sizes);
    }
    INFO("shape ", shape_string(c.shape));
    CHECK(max_abs_difference(spectrum_dft, spectrum_fft) < 1e-12);
    CHECK(max_abs_difference(back_dft, back_fft) < 1e-13);
  }
}

TEST_CASE("transforms and their adjoints satisfy <Ax, y> = <x, A*y>") {
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    const Shape sizes = {6, 9};
    const std::vector<std::int64_t> modes = {2, 5};
    const Tensor x = random_tensor({2, 6, 9}, 6);
    const Tensor g = random_tensor({2, 4, 5, 2}, 7);
    CHECK_CLOSE(inner_product(rfft_modes(x, modes), g), inner_product(x, rfft_modes_adjoint(g, sizes)), kF64Tight);
    CHECK_CLOSE(inner_product(irfft_modes(g, sizes), x), inner_product(g, irfft_modes_adjoint(x, modes)), kF64Tight);
  }
}

TEST_CASE("inverse transform leaves its input unchanged") {
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    const Tensor spectrum = random_tensor({3, 4, 5, 2}, 8);
    const std::vector<double> before = spectrum.to_vector();
    const Tensor first = irfft_modes(spectrum, {8, 9});
    const Tensor second = irfft_modes(spectrum, {8, 9});
    CHECK(first.to_vector() == second.to_vector());
    CHECK(spectrum.to_vector() == before);
  }
}

TEST_CASE("gradcheck spectral operations") {
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    INFO("backend ", backend == SpectralBackend::dft ? "dft" : "fft");
    const auto check = [](const char* label, const TensorFunction& f, const std::vector<Tensor>& inputs) {
      const GradcheckResult first = gradcheck(f, inputs);
      CHECK_MESSAGE(first.passed, label, ": ", first.message());
      const GradcheckResult second = gradgradcheck(f, inputs);
      CHECK_MESSAGE(second.passed, label, " (second order): ", second.message());
    };
    check("rfft_modes even", [](const auto& v) { return rfft_modes(v[0], {5}); }, {random_tensor({2, 8}, 9)});
    check("rfft_modes odd 2D", [](const auto& v) { return rfft_modes(v[0], {2, 3}); }, {random_tensor({5, 5}, 10)});
    check("irfft_modes with Nyquist", [](const auto& v) { return irfft_modes(v[0], {8}); },
          {random_tensor({2, 5, 2}, 11)});
    check("irfft_modes 2D", [](const auto& v) { return irfft_modes(v[0], {6, 7}); }, {random_tensor({4, 3, 2}, 12)});
    check("spectral_mix", [](const auto& v) { return spectral_mix(v[0], v[1]); },
          {random_tensor({2, 3, 4, 2}, 13), random_tensor({3, 2, 4, 2}, 14)});
    check("spectral_conv 1D", [](const auto& v) { return spectral_conv(v[0], v[1]); },
          {random_tensor({2, 2, 9}, 15), random_tensor({2, 3, 4, 2}, 16)});
    check("spectral_conv 2D", [](const auto& v) { return spectral_conv(v[0], v[1]); },
          {random_tensor({1, 2, 6, 5}, 17), random_tensor({2, 2, 4, 3, 2}, 18)});
    // tanh makes the second derivative depend on both arguments.
    check("tanh of spectral_conv", [](const auto& v) { return tanh(spectral_conv(v[0], v[1])); },
          {random_tensor({2, 2, 8}, 19), random_tensor({2, 2, 3, 2}, 20)});
  }
}

TEST_CASE("float32 mode mixing matches complex sums") {
  // Shapes cover one and two vectors of modes per row, partial vectors, blocks of 1 to 4
  // output channels and the modes of two spatial axes.
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{5, 3, 11, 2}, {3, 2, 11, 2}}, {{1, 2, 3, 2}, {2, 3, 3, 2}},      {{9, 4, 20, 2}, {4, 2, 20, 2}},
      {{4, 64, 16, 2}, {64, 3, 16, 2}}, {{3, 2, 4, 3, 2}, {2, 5, 4, 3, 2}}, {{2, 1, 8, 2}, {1, 1, 8, 2}}};
  std::uint64_t seed = 40;
  for (const auto& [x_shape, w_shape] : cases) {
    const Tensor x = random_tensor(x_shape, seed++, DType::f32), w = random_tensor(w_shape, seed++, DType::f32);
    const Tensor out = spectral_mix(x, w);
    const std::int64_t batch = x.size(0), in = x.size(1), out_channels = w.size(1), modes = x.numel() / batch / in / 2;
    Shape expected_shape = x_shape;
    expected_shape[1] = out_channels;
    REQUIRE(out.shape() == expected_shape);
    const auto xv = x.to_vector(), wv = w.to_vector(), ov = out.to_vector();
    // The float32 products are summed over up to 64 channels of values in [-1, 1).
    const Tolerance tolerance{1e-6 * static_cast<double>(in), 1e-5};
    int mismatches = 0;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t o = 0; o < out_channels; ++o)
        for (std::int64_t k = 0; k < modes; ++k) {
          Complex expected = 0;
          for (std::int64_t i = 0; i < in; ++i) {
            const auto xi = static_cast<std::size_t>(((b * in + i) * modes + k) * 2);
            const auto wi = static_cast<std::size_t>(((i * out_channels + o) * modes + k) * 2);
            expected += Complex(xv[xi], xv[xi + 1]) * Complex(wv[wi], wv[wi + 1]);
          }
          const auto oi = static_cast<std::size_t>(((b * out_channels + o) * modes + k) * 2);
          if (!is_close(ov[oi], expected.real(), tolerance) || !is_close(ov[oi + 1], expected.imag(), tolerance))
            ++mismatches;
        }
    CHECK_MESSAGE(mismatches == 0, "x ", shape_string(x_shape), ", w ", shape_string(w_shape));
  }
}

TEST_CASE("fused fourier layer equals its parts") {
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    // 1D: even, odd, and even with the Nyquist bin kept (5 modes of 8 points); batch 1.
    for (const Shape& shape : {Shape{3, 2, 16}, Shape{2, 2, 9}, Shape{1, 2, 8}, Shape{2, 2, 6, 7}}) {
      const auto d = static_cast<std::int64_t>(shape.size()) - 2;
      Shape weight_shape = {2, 3};
      for (std::int64_t i = 0; i < d; ++i) weight_shape.push_back(i + 1 == d ? 5 : 6);  // clamped on the 6 x 7 grid
      weight_shape.push_back(2);
      const Tensor x = random_tensor(shape, 40);
      const Tensor w = random_tensor(weight_shape, 41);
      const Tensor p = random_tensor({3, 2}, 42);
      const Tensor b = random_tensor({3}, 43);
      INFO("shape ", shape_string(shape));
      CHECK(max_abs_difference(fourier_layer(x, w, p, b), spectral_conv(x, w) + pointwise_conv(x, p, b)) < 1e-13);
    }
  }
}

TEST_CASE("float32 fourier layer matches float64") {
  // One axis with the matrix backend uses the half-axis synthesis, on odd and even lengths.
  BackendScope scope(SpectralBackend::dft);
  for (const Shape& shape : {Shape{5, 3, 64}, Shape{2, 3, 33}, Shape{2, 3, 10}}) {
    const Tensor x = random_tensor(shape, 44), w = random_tensor({3, 4, 6, 2}, 45);
    const Tensor p = random_tensor({4, 3}, 46), b = random_tensor({4}, 47);
    const Tensor expected = gelu(spectral_conv(x, w) + pointwise_conv(x, p, b));
    const Tensor actual = fourier_layer(x.to(DType::f32), w.to(DType::f32), p.to(DType::f32), b.to(DType::f32),
                                        Activation::gelu);
    INFO("shape ", shape_string(shape));
    CHECK(max_abs_difference(actual.to(DType::f64), expected) < 1e-5);
  }
}

TEST_CASE("fused fourier layer activation equals activate after the layer") {
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    const Tensor x = random_tensor({3, 2, 12}, 52);
    const Tensor w = random_tensor({2, 3, 5, 2}, 53);
    const Tensor p = random_tensor({3, 2}, 54);
    const Tensor b = random_tensor({3}, 55);
    for (Activation activation : {Activation::gelu, Activation::relu, Activation::tanh, Activation::selu,
                                  Activation::sigmoid}) {
      INFO("activation ", activation_name(activation));
      CHECK(max_abs_difference(fourier_layer(x, w, p, b, activation), activate(fourier_layer(x, w, p, b), activation)) <
            1e-13);
    }
  }
}

TEST_CASE("gradcheck fused fourier layer with activations") {
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    const std::vector<Tensor> inputs = {random_tensor({2, 2, 9}, 56), random_tensor({2, 3, 4, 2}, 57),
                                        random_tensor({3, 2}, 58), random_tensor({3}, 59)};
    for (Activation activation : {Activation::gelu, Activation::tanh, Activation::sigmoid}) {
      INFO("activation ", activation_name(activation));
      const auto f = [activation](const auto& v) { return fourier_layer(v[0], v[1], v[2], v[3], activation); };
      const GradcheckResult first = gradcheck(f, inputs);
      CHECK_MESSAGE(first.passed, first.message());
      const GradcheckResult second = gradgradcheck(f, inputs);
      CHECK_MESSAGE(second.passed, second.message());
    }
  }
}

TEST_CASE("gradcheck fused fourier layer") {
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    const auto f = [](const auto& v) { return tanh(fourier_layer(v[0], v[1], v[2], v[3])); };
    const std::vector<Tensor> inputs = {random_tensor({2, 2, 9}, 44), random_tensor({2, 3, 4, 2}, 45),
                                        random_tensor({3, 2}, 46), random_tensor({3}, 47)};
    const GradcheckResult first = gradcheck(f, inputs);
    CHECK_MESSAGE(first.passed, first.message());
    const GradcheckResult second = gradgradcheck(f, inputs);
    CHECK_MESSAGE(second.passed, second.message());
    const std::vector<Tensor> inputs_2d = {random_tensor({1, 2, 5, 6}, 48), random_tensor({2, 2, 4, 3, 2}, 49),
                                           random_tensor({2, 2}, 50), random_tensor({2}, 51)};
    const GradcheckResult first_2d = gradcheck(f, inputs_2d);
    CHECK_MESSAGE(first_2d.passed, first_2d.message());
  }
}

TEST_CASE("spectral weight gradient decreases the loss") {
  // One gradient-descent step on the real and imaginary parts of every weight lowers
  // the loss: the documented convention (dL/dRe, dL/dIm) is a descent direction.
  const Tensor x = random_tensor({4, 2, 16}, 21);
  const Tensor target = random_tensor({4, 2, 16}, 22);
  Tensor w = random_tensor({2, 2, 5, 2}, 23);
  w.set_requires_grad();
  const auto loss_of = [&](const Tensor& weight) { return sum(square(spectral_conv(x, weight) - target)); };
  const Tensor loss = loss_of(w);
  loss.backward();
  const Tensor stepped = w.detach() - 1e-3 * w.grad();
  CHECK(loss_of(stepped).item() < loss.item());
}

TEST_CASE("too many modes are clamped to the grid") {
  // A 2D layer with 12 x 12 modes on a 16 x 16 grid keeps 8 x 9, on 16 x 8 keeps 8 x 5.
  CHECK(clamp_modes({16, 16}, {12, 12}) == std::vector<std::int64_t>{8, 9});
  CHECK(clamp_modes({16, 8}, {12, 12}) == std::vector<std::int64_t>{8, 5});
  CHECK(clamp_modes({7}, {3}) == std::vector<std::int64_t>{3});
  const Tensor weight = random_tensor({2, 3, 24, 12, 2}, 24);
  for (const Shape& grid : {Shape{16, 16}, Shape{16, 8}}) {
    Shape shape = {2, 2};
    shape.insert(shape.end(), grid.begin(), grid.end());
    const Tensor x = random_tensor(shape, 25);
    const std::vector<std::int64_t> modes = clamp_modes(grid, {12, 12});
    const Tensor small_weight = clamp_weight(weight, modes).detach().clone();
    REQUIRE(small_weight.shape() == Shape{2, 3, 2 * modes[0], modes[1], 2});
    INFO("grid ", shape_string(grid));
    CHECK(max_abs_difference(spectral_conv(x, weight), spectral_conv(x, small_weight)) == 0.0);
  }
}

TEST_CASE("even grid with n/2 + 1 modes keeps the Nyquist bin") {
  const std::int64_t n = 8;
  std::vector<double> alternating(n);
  for (std::int64_t i = 0; i < n; ++i) alternating[static_cast<std::size_t>(i)] = i % 2 == 0 ? 1.0 : -1.0;
  const Tensor x = Tensor::from_vector(alternating, {1, 1, n}, DType::f64);
  // Identity weights: real part 1, imaginary part 0 at every mode.
  auto identity_weight = [](std::int64_t modes) {
    Tensor w = Tensor::zeros({1, 1, modes, 2}, DType::f64);
    for (std::int64_t k = 0; k < modes; ++k) w.data<double>()[2 * k] = 1.0;
    return w;
  };
  for (SpectralBackend backend : kBackends) {
    BackendScope scope(backend);
    CHECK(max_abs_difference(spectral_conv(x, identity_weight(n / 2 + 1)), x) < 1e-14);
    CHECK(max_abs_difference(spectral_conv(x, identity_weight(n / 2)), Tensor::zeros({1, 1, n}, DType::f64)) < 1e-14);
  }
}

TEST_CASE("spectral errors name the shapes") {
  CHECK_THROWS_AS(rfft_modes(random_tensor({8}, 1), {6}), ShapeError);
  CHECK_THROWS_AS(spectral_conv(random_tensor({1, 2, 8}, 1), random_tensor({3, 1, 4, 2}, 2)), ShapeError);
  CHECK_THROWS_AS(spectral_conv(random_tensor({1, 2, 8, 8}, 1), random_tensor({2, 1, 4, 2}, 2)), ShapeError);
  CHECK_THROWS_AS(spectral_mix(random_tensor({1, 2, 4, 2}, 1), random_tensor({2, 1, 4, 2}, 2, DType::f32)),
                  ShapeError);
}
