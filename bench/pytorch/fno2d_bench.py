"""Time the 2D Darcy-flow Fourier neural operator (FNO) in PyTorch as a peer for neurop's FNO.

The model follows the 2D Darcy network of Li et al., "Fourier Neural Operator for Parametric
Partial Differential Equations" (ICLR 2021). A Linear(3, width) lifting acts on (a, x, y). Four
Fourier layers follow, each a 2D spectral convolution plus a pointwise Conv2d, with GELU after
all but the last. The projection is Linear(width, 128), GELU, Linear(128, 1). Everything runs
in float32 on the CPU.
With --padding P the lifted field gets P zero rows and columns on the bottom and right before
the Fourier layers, and they are cut off again before the projection.

For each grid size s in --sizes this measures one training step (forward, summed per-sample
relative L2 loss, backward, Adam step) on a batch of --batch samples, one inference forward
pass of one batch under torch.inference_mode, and with the torch profiler the share of op time
spent in FFTs. The data are synthetic random tensors, so only the timings are meaningful.
"""

import argparse

import bench_common

bench_common.configure_threads_from_argv()

import torch  # noqa: E402  (must load after the thread variables are set)
import torch.nn.functional as F  # noqa: E402

import torch_timing  # noqa: E402

FFT_OP_FRAGMENTS = ("fft",)


class SpectralConv2d(torch.nn.Module):
    """2D Fourier layer kernel on [B, C, H, W] real tensors.

    rfft2 gives [B, C, H, W/2+1] coefficients. The kept block is columns 0..modes_y-1 of rows
    0..modes_x-1 (non-negative row frequencies, weight_positive) and of the last modes_x rows
    (negative row frequencies, weight_negative). Each weight is complex [in, out, modes_x, modes_y],
    initialised as scale * U[0, 1) in real and imaginary parts with scale = 1 / (in * out).
    """

    def __init__(self, in_channels, out_channels, modes_x, modes_y):
        super().__init__()
        self.out_channels = out_channels
        self.modes_x = modes_x
        self.modes_y = modes_y
        scale = 1.0 / (in_channels * out_channels)
        shape = (in_channels, out_channels, modes_x, modes_y)
        self.weight_positive = torch.nn.Parameter(scale * torch.rand(*shape, dtype=torch.cfloat))
        self.weight_negative = torch.nn.Parameter(scale * torch.rand(*shape, dtype=torch.cfloat))

    def forward(self, x):
        batch, _, height, width = x.shape
        mx, my = self.modes_x, self.modes_y
        # [B, C_in, H, W] -> [B, C_in, H, W/2+1]
        x_hat = torch.fft.rfft2(x)
        out_hat = torch.zeros(batch, self.out_channels, height, width // 2 + 1, dtype=torch.cfloat, device=x.device)
        # out[b, o, kx, ky] = sum_i x_hat[b, i, kx, ky] W[i, o, kx, ky] on both kept row blocks.
        out_hat[:, :, :mx, :my] = torch.einsum("bixy,ioxy->boxy", x_hat[:, :, :mx, :my], self.weight_positive)
        out_hat[:, :, -mx:, :my] = torch.einsum("bixy,ioxy->boxy", x_hat[:, :, -mx:, :my], self.weight_negative)
        # [B, C_out, H, W/2+1] -> [B, C_out, H, W]
        return torch.fft.irfft2(out_hat, s=(height, width))


class FNO2d(torch.nn.Module):
    """FNO for 2D Darcy flow: input [B, s, s, 3] = (a, x, y), output [B, s, s, 1]."""

    def __init__(self, modes=12, width=32, layers=4, projection_width=128, padding=0):
        super().__init__()
        self.padding = padding
        self.lifting = torch.nn.Linear(3, width)
        self.spectral = torch.nn.ModuleList([SpectralConv2d(width, width, modes, modes) for _ in range(layers)])
        self.pointwise = torch.nn.ModuleList([torch.nn.Conv2d(width, width, 1) for _ in range(layers)])
        self.projection_hidden = torch.nn.Linear(width, projection_width)
        self.projection_out = torch.nn.Linear(projection_width, 1)

    def forward(self, x):
        x = self.lifting(x).permute(0, 3, 1, 2)  # [B, s, s, 3] -> [B, width, s, s]
        if self.padding > 0:
            # Zero rows at the bottom and zero columns at the right: [B, width, s+P, s+P].
            x = F.pad(x, [0, self.padding, 0, self.padding])
        last = len(self.spectral) - 1
        for index, (spectral, pointwise) in enumerate(zip(self.spectral, self.pointwise)):
            x = spectral(x) + pointwise(x)
            if index < last:
                x = F.gelu(x)
        if self.padding > 0:
            x = x[..., : -self.padding, : -self.padding]
        x = x.permute(0, 2, 3, 1)  # [B, width, s, s] -> [B, s, s, width]
        x = F.gelu(self.projection_hidden(x))
        return self.projection_out(x)


def make_synthetic_batches(count, batch, size, seed):
    """Return `count` (input [B, s, s, 3], target [B, s, s, 1]) pairs with (x_i, y_j) = (i, j) / (s - 1)."""
    generator = torch.Generator().manual_seed(seed)
    axis = torch.linspace(0.0, 1.0, size)
    grid_x, grid_y = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([grid_x, grid_y], dim=-1).expand(batch, size, size, 2)
    batches = []
    for _ in range(count):
        coefficient = torch.randn(batch, size, size, 1, generator=generator)
        target = torch.randn(batch, size, size, 1, generator=generator)
        batches.append((torch.cat([coefficient, grid], dim=-1), target))
    return batches


def benchmark_size(args, size):
    """Return the training-step, inference and FFT-profile report for one grid size."""
    torch.manual_seed(args.seed)
    model = FNO2d(modes=args.modes, width=args.width, padding=args.padding)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    batches = make_synthetic_batches(args.batch_pool, args.batch, size, args.seed)
    inference_inputs = batches[0][0]
    loss_function = torch_timing.relative_l2_sum

    _, step_seconds = torch_timing.time_training(
        model, optimizer, loss_function, batches, 1, args.train_warmup, args.train_repeats
    )
    inference_seconds = torch_timing.time_inference(
        model, inference_inputs, args.inference_warmup, args.inference_repeats
    )
    result = {
        "size": size,
        "padded_size": size + args.padding,
        "parameters": torch_timing.count_real_parameters(model),
        "training_step": bench_common.summarize_seconds(step_seconds, args.batch),
        "inference_batch": bench_common.summarize_seconds(inference_seconds, args.batch),
    }
    if args.profile_steps > 0:
        result["fft_profile"] = torch_timing.profile_op_share(
            model, optimizer, loss_function, batches, inference_inputs, args.profile_steps, FFT_OP_FRAGMENTS
        )
    return result


def parse_sizes(text):
    sizes = [int(item) for item in text.split(",") if item.strip()]
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of grid sizes >= 2, got '{text}'")
    return sizes


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (also OMP/MKL env), default 2")
    parser.add_argument("--sizes", type=parse_sizes, default=[64, 85], help="grid sizes s, default 64,85")
    parser.add_argument("--batch", type=int, default=20, help="samples per batch, default 20")
    parser.add_argument("--padding", type=int, default=0, help="zero points added on the right/bottom, default 0")
    parser.add_argument("--modes", type=int, default=12, help="Fourier modes kept per axis and block, default 12")
    parser.add_argument("--width", type=int, default=32, help="channels in the Fourier layers, default 32")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate, default 1e-3")
    parser.add_argument("--batch-pool", type=int, default=10, help="distinct synthetic batches cycled, default 10")
    parser.add_argument("--train-warmup", type=int, default=5, help="untimed training steps, default 5")
    parser.add_argument("--train-repeats", type=int, default=30, help="timed training steps, default 30")
    parser.add_argument("--inference-warmup", type=int, default=5, help="untimed forward passes, default 5")
    parser.add_argument("--inference-repeats", type=int, default=50, help="timed forward passes, default 50")
    parser.add_argument("--profile-steps", type=int, default=5, help="steps under the profiler; 0 skips it")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and synthetic data")
    parser.add_argument("--out", help="also write the JSON report to this file")
    args = parser.parse_args()
    if args.padding < 0:
        parser.error(f"--padding must be >= 0, got {args.padding}")
    for size in args.sizes:
        padded = size + args.padding
        if 2 * args.modes > padded or args.modes > padded // 2 + 1:
            parser.error(
                f"--modes {args.modes} needs a padded grid of at least {2 * args.modes} points, "
                f"but s + padding = {padded}; lower --modes or raise --padding"
            )
    return args


def main():
    args = parse_args()
    monitor = bench_common.HostLoadMonitor()
    torch.set_num_threads(args.threads)

    report = {
        "benchmark": "fno2d_darcy",
        "config": {
            "sizes": args.sizes,
            "batch": args.batch,
            "padding": args.padding,
            "modes": [args.modes, args.modes],
            "width": args.width,
            "layers": 4,
            "dtype": "float32",
            "optimizer": f"Adam(lr={args.lr})",
            "loss": "sum over batch of per-sample relative L2",
            "data": "synthetic torch.randn",
        },
        "results": [benchmark_size(args, size) for size in args.sizes],
        "environment": bench_common.describe_torch(torch),
    }
    report["host_load"] = monitor.finish()
    bench_common.emit_report(report, args.out)


if __name__ == "__main__":
    main()
