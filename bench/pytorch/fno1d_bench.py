"""Time the 1D Burgers Fourier neural operator (FNO) in PyTorch as a peer for neurop's FNO.

The model follows the 1D Burgers network of Li et al., "Fourier Neural Operator for Parametric
Partial Differential Equations" (ICLR 2021). A Linear(2, width) lifting acts on (u0, x). Four
Fourier layers follow, each a spectral convolution plus a pointwise Conv1d, with GELU after all
but the last. The projection is Linear(width, 128), GELU, Linear(128, 1). Everything runs in
float32 on the CPU.

Measured: (a) one training epoch of `--steps` Adam steps on batches of `--batch` samples with the
summed per-sample relative L2 loss, (b) one inference forward pass of one batch under
torch.inference_mode, (c) with the torch profiler, the share of op time spent in FFTs.
The data are synthetic random tensors, so only the timings are meaningful.
"""

import argparse

import bench_common

bench_common.configure_threads_from_argv()

import torch  # noqa: E402  (must load after the thread variables are set)
import torch.nn.functional as F  # noqa: E402

import torch_timing  # noqa: E402

FFT_OP_FRAGMENTS = ("fft",)


class SpectralConv1d(torch.nn.Module):
    """Fourier layer kernel: rfft, multiply the lowest `modes` frequencies by complex weights, irfft.

    Input and output are [B, C, S] real tensors. The weights are complex [in, out, modes],
    initialised as scale * U[0, 1) in both real and imaginary parts with scale = 1 / (in * out).
    """

    def __init__(self, in_channels, out_channels, modes):
        super().__init__()
        self.out_channels = out_channels
        self.modes = modes
        scale = 1.0 / (in_channels * out_channels)
        self.weight = torch.nn.Parameter(scale * torch.rand(in_channels, out_channels, modes, dtype=torch.cfloat))

    def forward(self, x):
        batch, _, size = x.shape
        # [B, C_in, S] -> [B, C_in, S/2+1]
        x_hat = torch.fft.rfft(x)
        out_hat = torch.zeros(batch, self.out_channels, size // 2 + 1, dtype=torch.cfloat, device=x.device)
        # out[b, o, k] = sum_i x_hat[b, i, k] W[i, o, k] for k < modes; higher frequencies are dropped.
        out_hat[:, :, : self.modes] = torch.einsum("bix,iox->box", x_hat[:, :, : self.modes], self.weight)
        # [B, C_out, S/2+1] -> [B, C_out, S]
        return torch.fft.irfft(out_hat, n=size)


class FNO1d(torch.nn.Module):
    """FNO for 1D Burgers: input [B, S, 2] = (u0, x), output [B, S, 1]."""

    def __init__(self, modes=16, width=64, layers=4, projection_width=128):
        super().__init__()
        self.lifting = torch.nn.Linear(2, width)
        self.spectral = torch.nn.ModuleList([SpectralConv1d(width, width, modes) for _ in range(layers)])
        self.pointwise = torch.nn.ModuleList([torch.nn.Conv1d(width, width, 1) for _ in range(layers)])
        self.projection_hidden = torch.nn.Linear(width, projection_width)
        self.projection_out = torch.nn.Linear(projection_width, 1)

    def forward(self, x):
        x = self.lifting(x).permute(0, 2, 1)  # [B, S, 2] -> [B, width, S]
        last = len(self.spectral) - 1
        for index, (spectral, pointwise) in enumerate(zip(self.spectral, self.pointwise)):
            x = spectral(x) + pointwise(x)
            if index < last:
                x = F.gelu(x)
        x = x.permute(0, 2, 1)  # [B, width, S] -> [B, S, width]
        x = F.gelu(self.projection_hidden(x))
        return self.projection_out(x)


def make_synthetic_batches(steps, batch, size, seed):
    """Return `steps` (input [B, S, 2], target [B, S, 1]) pairs: random u0 and target, x = k / S."""
    generator = torch.Generator().manual_seed(seed)
    grid = torch.arange(size, dtype=torch.float32) / size
    batches = []
    for _ in range(steps):
        u0 = torch.randn(batch, size, 1, generator=generator)
        inputs = torch.cat([u0, grid.expand(batch, size).unsqueeze(-1)], dim=-1)
        target = torch.randn(batch, size, 1, generator=generator)
        batches.append((inputs, target))
    return batches


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (also OMP/MKL env), default 2")
    parser.add_argument("--size", type=int, default=1024, help="grid points S, default 1024")
    parser.add_argument("--batch", type=int, default=20, help="samples per batch, default 20")
    parser.add_argument("--steps", type=int, default=50, help="optimizer steps per training epoch, default 50")
    parser.add_argument("--modes", type=int, default=16, help="Fourier modes kept per layer, default 16")
    parser.add_argument("--width", type=int, default=64, help="channels in the Fourier layers, default 64")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate, default 1e-3")
    parser.add_argument("--epoch-warmup", type=int, default=1, help="untimed epochs before timing, default 1")
    parser.add_argument("--epoch-repeats", type=int, default=7, help="timed training epochs, default 7")
    parser.add_argument("--inference-warmup", type=int, default=5, help="untimed forward passes, default 5")
    parser.add_argument("--inference-repeats", type=int, default=50, help="timed forward passes, default 50")
    parser.add_argument("--profile-steps", type=int, default=10, help="steps under the profiler; 0 skips it")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and synthetic data")
    parser.add_argument("--out", help="also write the JSON report to this file")
    args = parser.parse_args()
    if args.modes > args.size // 2 + 1:
        parser.error(f"--modes {args.modes} exceeds the S/2+1 = {args.size // 2 + 1} rfft frequencies")
    return args


def main():
    args = parse_args()
    monitor = bench_common.HostLoadMonitor()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    model = FNO1d(modes=args.modes, width=args.width)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    batches = make_synthetic_batches(args.steps, args.batch, args.size, args.seed)
    inference_inputs = batches[0][0]

    loss_function = torch_timing.relative_l2_sum
    epoch_seconds, step_seconds = torch_timing.time_training(
        model, optimizer, loss_function, batches, args.steps, args.epoch_warmup, args.epoch_repeats
    )
    inference_seconds = torch_timing.time_inference(
        model, inference_inputs, args.inference_warmup, args.inference_repeats
    )

    report = {
        "benchmark": "fno1d_burgers",
        "config": {
            "size": args.size,
            "batch": args.batch,
            "steps_per_epoch": args.steps,
            "modes": args.modes,
            "width": args.width,
            "layers": 4,
            "dtype": "float32",
            "optimizer": f"Adam(lr={args.lr})",
            "loss": "sum over batch of per-sample relative L2",
            "parameters": torch_timing.count_real_parameters(model),
            "data": "synthetic torch.randn",
        },
        "training_epoch": bench_common.summarize_seconds(epoch_seconds, args.steps * args.batch),
        "training_step": bench_common.summarize_seconds(step_seconds, args.batch),
        "inference_batch": bench_common.summarize_seconds(inference_seconds, args.batch),
        "environment": bench_common.describe_torch(torch),
    }
    if args.profile_steps > 0:
        report["fft_profile"] = torch_timing.profile_op_share(
            model, optimizer, loss_function, batches, inference_inputs, args.profile_steps, FFT_OP_FRAGMENTS
        )
    report["host_load"] = monitor.finish()
    bench_common.emit_report(report, args.out)


if __name__ == "__main__":
    main()
