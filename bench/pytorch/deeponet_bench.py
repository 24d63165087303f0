"""Time an unstacked DeepONet in Cartesian-product form in PyTorch as a peer for neurop's DeepONet.

The layout matches DeepXDE's DeepONetCartesianProd (deepxde 1.15.0, PyTorch backend) with a
single output and activation "relu":
  branch: Linear(m, w), ReLU, Linear(w, w)          (no activation after the last layer)
  trunk:  Linear(d, w), ReLU, Linear(w, w), ReLU    (DeepXDE applies the trunk activation
                                                     once more to the trunk output)
  output: G[b, p] = sum_k branch[b, k] trunk[p, k] + b0, with b0 one trainable scalar set to 0.
Weights use Glorot (Xavier) normal initialisation and biases start at zero, as DeepXDE does for
kernel_initializer="Glorot normal".

Inputs are B functions sampled at m sensors ([B, m]) and P query points in d dimensions
([P, d]); the target is [B, P]. One training step is a full-batch forward, mean squared error,
backward and Adam step. Inference is one forward pass under torch.inference_mode. The data are
synthetic random tensors, so only the timings are meaningful. With --compare-deepxde the script
also builds DeepXDE's model with the same weights, reports the largest output difference and
times that model with the same loops.
"""

import argparse
import os

import bench_common

bench_common.configure_threads_from_argv()

import torch  # noqa: E402  (must load after the thread variables are set)

import torch_timing  # noqa: E402


def build_mlp(sizes):
    """Return Linear layers for consecutive pairs of `sizes`, Glorot-normal weights and zero biases."""
    layers = torch.nn.ModuleList()
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        linear = torch.nn.Linear(fan_in, fan_out)
        torch.nn.init.xavier_normal_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
    return layers


def apply_mlp(layers, x, activate_output):
    """Apply ReLU after every layer but the last, and after the last one too when activate_output."""
    for layer in layers[:-1]:
        x = torch.relu(layer(x))
    x = layers[-1](x)
    return torch.relu(x) if activate_output else x


class DeepONetCartesianProduct(torch.nn.Module):
    """Unstacked DeepONet: branch [B, m] -> [B, w], trunk [P, d] -> [P, w], output [B, P]."""

    def __init__(self, branch_sizes, trunk_sizes):
        super().__init__()
        if branch_sizes[-1] != trunk_sizes[-1]:
            raise ValueError(f"branch and trunk must end in the same width, got {branch_sizes} and {trunk_sizes}")
        self.branch = build_mlp(branch_sizes)
        self.trunk = build_mlp(trunk_sizes)
        self.output_bias = torch.nn.Parameter(torch.tensor(0.0))

    def forward(self, functions, points):
        branch = apply_mlp(self.branch, functions, activate_output=False)  # [B, w]
        trunk = apply_mlp(self.trunk, points, activate_output=True)  # [P, w]
        # G = branch trunk^T + b0: [B, w] x [w, P] -> [B, P]
        return branch @ trunk.T + self.output_bias


class InputPairModel(torch.nn.Module):
    """Adapter that lets DeepXDE's model, called as model((functions, points)), be called as model(functions, points)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, functions, points):
        return self.model((functions, points))


def build_deepxde_copy(model, branch_sizes, trunk_sizes):
    """Return DeepXDE's DeepONetCartesianProd with the weights of `model` copied in, and its version."""
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    import deepxde

    reference = deepxde.nn.DeepONetCartesianProd(branch_sizes, trunk_sizes, "relu", "Glorot normal")
    with torch.no_grad():
        for ours, theirs in zip(model.branch, reference.branch.linears):
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
        for ours, theirs in zip(model.trunk, reference.trunk.linears):
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
        reference.b[0].copy_(model.output_bias)
    return reference, deepxde.__version__


class TrainingBatch:
    """One full batch: (functions [B, m], points [P, d]) as model input and the target [B, P]."""

    def __init__(self, functions, points, target):
        self.inputs = (functions, points)
        self.target = target


def time_model(model, batch, args):
    """Return training-step and inference timing summaries of `model` on one full batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    batches = [(batch.inputs, batch.target)]
    _, step_seconds = torch_timing.time_training(
        model, optimizer, torch_timing.mean_squared_error, batches, 1, args.train_warmup, args.train_repeats
    )
    inference_seconds = torch_timing.time_inference(
        model, batch.inputs, args.inference_warmup, args.inference_repeats
    )
    return {
        "training_step": bench_common.summarize_seconds(step_seconds, args.functions),
        "inference": bench_common.summarize_seconds(inference_seconds, args.functions),
    }


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (also OMP/MKL env), default 2")
    parser.add_argument("--sensors", "-m", type=int, default=100, help="branch input size m, default 100")
    parser.add_argument("--dim", "-d", type=int, default=1, help="query point dimension d, default 1")
    parser.add_argument("--width", "-w", type=int, default=40, help="hidden and latent width w, default 40")
    parser.add_argument("--functions", "-B", type=int, default=1000, help="input functions B, default 1000")
    parser.add_argument("--points", "-P", type=int, default=100, help="query points P, default 100")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate, default 1e-3")
    parser.add_argument("--train-warmup", type=int, default=20, help="untimed training steps, default 20")
    parser.add_argument("--train-repeats", type=int, default=300, help="timed training steps, default 300")
    parser.add_argument("--inference-warmup", type=int, default=20, help="untimed forward passes, default 20")
    parser.add_argument("--inference-repeats", type=int, default=300, help="timed forward passes, default 300")
    parser.add_argument(
        "--compare-deepxde",
        action="store_true",
        help="also build DeepXDE's DeepONetCartesianProd with the same weights, check and time it",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and synthetic data")
    parser.add_argument("--out", help="also write the JSON report to this file")
    args = parser.parse_args()
    for name in ("sensors", "dim", "width", "functions", "points"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    return args


def main():
    args = parse_args()
    monitor = bench_common.HostLoadMonitor()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    branch_sizes = [args.sensors, args.width, args.width]
    trunk_sizes = [args.dim, args.width, args.width]
    model = DeepONetCartesianProduct(branch_sizes, trunk_sizes)

    generator = torch.Generator().manual_seed(args.seed)
    batch = TrainingBatch(
        torch.randn(args.functions, args.sensors, generator=generator),
        torch.rand(args.points, args.dim, generator=generator),
        torch.randn(args.functions, args.points, generator=generator),
    )

    comparison = None
    if args.compare_deepxde:
        # Copy the weights before timing, because the timed training steps change them.
        reference, deepxde_version = build_deepxde_copy(model, branch_sizes, trunk_sizes)
        with torch.no_grad():
            difference = (model(*batch.inputs) - reference(batch.inputs)).abs().max().item()
        comparison = {
            "deepxde_version": deepxde_version,
            "constructor": f"DeepONetCartesianProd({branch_sizes}, {trunk_sizes}, 'relu', 'Glorot normal')",
            "max_abs_output_difference": difference,
        }

    report = {
        "benchmark": "deeponet_cartesian_product",
        "config": {
            "branch_sizes": branch_sizes,
            "trunk_sizes": trunk_sizes,
            "functions": args.functions,
            "points": args.points,
            "dtype": "float32",
            "optimizer": f"Adam(lr={args.lr})",
            "loss": "mean squared error over all B x P outputs (full batch)",
            "parameters": torch_timing.count_real_parameters(model),
            "data": "synthetic torch.randn / torch.rand",
        },
        "this_model": time_model(model, batch, args),
    }
    if comparison is not None:
        comparison.update(time_model(InputPairModel(reference), batch, args))
        report["deepxde_model"] = comparison
    report["environment"] = bench_common.describe_torch(torch)
    report["host_load"] = monitor.finish()
    bench_common.emit_report(report, args.out)


if __name__ == "__main__":
    main()
