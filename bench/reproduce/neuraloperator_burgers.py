"""Train the neuraloperator package's FNO on neurop's 1D Burgers data and report test errors.

This is the PyTorch reference for neurop's Burgers reproduction. It reads the same HDF5 files
and follows the training schedule of the 1D Burgers experiment in Li et al., "Fourier Neural
Operator for Parametric Partial Differential Equations" (ICLR 2021). It reports the test
relative L2 error at several resolutions of the test file.

Input data (neurop's grid data-set layout, written by `neurop generate burgers`):
  /inputs  float64 [N, 1, S]  u0       /outputs float64 [N, 1, S]  u(t = 1)
  /grid/x0 float64 [S]        x_k = k / S in [0, 1 - 1/S]
  root attributes format="neurop-dataset", spatial_dims=1, periodic=1
The network input is the two channels (u0, x), read from /grid/x0 at the chosen resolution,
as in the paper; the package's own grid embedding is switched off (positional_embedding=None).

Model (neuraloperator 2.0.0, see model_constructor for the exact call):
  FNO(n_modes=(N,), in_channels=2, out_channels=1, hidden_channels=64, n_layers=4,
      positional_embedding=None, ...)
NOTE: neuraloperator 2.0.0 keeps n_modes[-1] // 2 + 1 rfft frequencies along the last axis,
so the paper's 16 modes (frequencies 0..15) need n_modes=(31,), the default here. n_modes=(16,)
keeps only 9 frequencies.
--layout paper (default) turns off the package's extra blocks so the network matches the
paper's: one linear lifting (lifting_channel_ratio=0) and no channel MLP after the Fourier
layers (use_channel_mlp=False), giving 549,569 parameters. --layout package keeps the
package defaults (two-layer lifting, channel MLP with soft-gating skip in every block).

--normalizer channel matches `neurop train --normalizer channel`. The u0 channel of the input
is shifted and scaled by the mean and standard deviation (n - 1 in the denominator) of the
training inputs over all samples and points. The network output z is scaled back with those
of the training outputs, u = z (std + eps) + mean, and the loss and errors are taken on u.
The default, none, feeds u0 and compares u as they are, as the paper's code does.

Training: Adam(lr, weight_decay), StepLR(step, gamma) stepped once per epoch, loss = sum over
the batch of per-sample relative L2 errors, shuffled batches. Reported errors are the mean over
all test samples of ||u_pred - u||_2 / ||u||_2 on the evaluation grid.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))

import bench_common  # noqa: E402

bench_common.configure_threads_from_argv()

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import neuralop  # noqa: E402
from neuralop.models import FNO  # noqa: E402

PAPER_LAYOUT_OPTIONS = {"lifting_channel_ratio": 0, "use_channel_mlp": False}


def decode_attribute(value):
    """Return an HDF5 attribute as str or int, whichever way the writer stored it."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


class BurgersSplit:
    """Samples of one file at one resolution: inputs [N, 2, S] float32 = (u0, x), targets [N, 1, S]."""

    def __init__(self, inputs, targets, resolution, stride):
        self.inputs = inputs
        self.targets = targets
        self.resolution = resolution
        self.stride = stride


def read_burgers_file(path, first, count):
    """Read samples [first, first + count) of a neurop 1D periodic data set at its stored resolution.

    Returns (u0 [count, S], u1 [count, S], x [S]) as float64 arrays. Exits with a message that
    names the file and the problem when the layout differs from neurop's 1D periodic data set.
    """
    if not os.path.isfile(path):
        sys.exit(f"data file not found: {path}")
    with h5py.File(path, "r") as data_file:
        format_name = decode_attribute(data_file.attrs.get("format", ""))
        spatial_dims = decode_attribute(data_file.attrs.get("spatial_dims", -1))
        periodic = decode_attribute(data_file.attrs.get("periodic", 0))
        if format_name != "neurop-dataset":
            sys.exit(f"{path}: root attribute format is '{format_name}', expected 'neurop-dataset'")
        if spatial_dims != 1 or periodic != 1:
            sys.exit(f"{path}: expected spatial_dims=1 and periodic=1, got {spatial_dims} and {periodic}")
        for name in ("inputs", "outputs", "grid/x0"):
            if name not in data_file:
                sys.exit(f"{path}: dataset /{name} is missing")

        inputs = data_file["inputs"]
        outputs = data_file["outputs"]
        if inputs.ndim != 3 or inputs.shape[1] != 1 or outputs.shape != inputs.shape:
            sys.exit(f"{path}: expected /inputs and /outputs of shape [N, 1, S], got {inputs.shape} and {outputs.shape}")
        total, _, size = inputs.shape
        if first + count > total:
            sys.exit(f"{path}: requested samples [{first}, {first + count}) but the file contains {total}")
        grid = np.asarray(data_file["grid/x0"][:], dtype=np.float64)
        if grid.shape != (size,):
            sys.exit(f"{path}: /grid/x0 has shape {grid.shape}, expected ({size},)")
        u0 = np.asarray(inputs[first : first + count, 0, :], dtype=np.float64)
        u1 = np.asarray(outputs[first : first + count, 0, :], dtype=np.float64)
    return u0, u1, grid


def subsample_split(u0, u1, grid, resolution, path):
    """Return a BurgersSplit at `resolution` by taking every (S / resolution)-th stored point."""
    size = grid.shape[0]
    if resolution > size or size % resolution != 0:
        sys.exit(f"{path}: cannot subsample the stored {size} points to {resolution}; it must divide {size}")
    stride = size // resolution
    u0_coarse = u0[:, ::stride]
    x_coarse = np.broadcast_to(grid[::stride], u0_coarse.shape)
    inputs = torch.from_numpy(np.stack([u0_coarse, x_coarse], axis=1).astype(np.float32))
    targets = torch.from_numpy(u1[:, None, ::stride].astype(np.float32))
    return BurgersSplit(inputs, targets, resolution, stride)


class ChannelNormalized(torch.nn.Module):
    """Network wrapped in a channel Gaussian encoding of u0 and a decoding of its output."""

    def __init__(self, network, train_split, eps):
        super().__init__()
        self.network = network
        u0 = train_split.inputs[:, 0:1].double()
        u1 = train_split.targets.double()
        self.eps = eps
        self.register_buffer("input_mean", u0.mean().float())
        self.register_buffer("input_std", u0.std().float())
        self.register_buffer("output_mean", u1.mean().float())
        self.register_buffer("output_std", u1.std().float())

    def forward(self, inputs):
        u0 = (inputs[:, 0:1] - self.input_mean) / (self.input_std + self.eps)
        z = self.network(torch.cat([u0, inputs[:, 1:]], dim=1))
        return z * (self.output_std + self.eps) + self.output_mean


def relative_l2_per_sample(prediction, target):
    """Return ||p_b - y_b||_2 / ||y_b||_2 for each sample b, as a [B] tensor."""
    batch = prediction.shape[0]
    difference = (prediction - target).reshape(batch, -1).norm(dim=1)
    return difference / target.reshape(batch, -1).norm(dim=1)


def evaluate(model, split, batch):
    """Return the mean over all samples of the per-sample relative L2 error, in float64."""
    errors = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, split.inputs.shape[0], batch):
            prediction = model(split.inputs[start : start + batch])
            target = split.targets[start : start + batch]
            errors.append(relative_l2_per_sample(prediction.double(), target.double()))
    return torch.cat(errors).mean().item()


def model_constructor(args):
    """Return the keyword arguments passed to neuralop.models.FNO."""
    options = {
        "n_modes": (args.n_modes,),
        "in_channels": 2,
        "out_channels": 1,
        "hidden_channels": args.width,
        "n_layers": 4,
        "positional_embedding": None,
    }
    if args.layout == "paper":
        options.update(PAPER_LAYOUT_OPTIONS)
    return options


def parse_resolutions(text):
    values = [int(item) for item in text.split(",") if item.strip()]
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"expected comma-separated grid sizes >= 2, got '{text}'")
    return values


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True, help="HDF5 file with the training samples")
    parser.add_argument("--test", required=True, help="HDF5 file with the test samples (may equal --train)")
    parser.add_argument("--ntrain", type=int, default=1000, help="training samples (the first ones), default 1000")
    parser.add_argument("--ntest", type=int, default=100, help="test samples, default 100; taken from the end "
                        "of the file when --test equals --train, else from the start")
    parser.add_argument("--resolution", type=int, default=1024, help="training grid size, default 1024")
    parser.add_argument("--epochs", type=int, default=500, help="training epochs, default 500")
    parser.add_argument("--batch", type=int, default=20, help="samples per batch, default 20")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate, default 1e-3")
    parser.add_argument("--step", type=int, default=100, help="epochs between learning-rate decays, default 100")
    parser.add_argument("--gamma", type=float, default=0.5, help="learning-rate decay factor, default 0.5")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="Adam weight decay, default 1e-4")
    parser.add_argument("--eval-resolutions", type=parse_resolutions, default=[256, 512, 1024, 2048, 4096, 8192],
                        help="test grid sizes, comma-separated, default 256,512,1024,2048,4096,8192")
    parser.add_argument("--n-modes", type=int, default=31, help="n_modes passed to FNO; neuraloperator 2.0.0 "
                        "keeps n_modes // 2 + 1 frequencies, default 31 (16 frequencies, as the paper)")
    parser.add_argument("--width", type=int, default=64, help="hidden_channels, default 64")
    parser.add_argument("--layout", choices=["paper", "package"], default="paper",
                        help="paper: linear lifting, no channel MLP (default); package: neuraloperator defaults")
    parser.add_argument("--normalizer", choices=["none", "channel"], default="none",
                        help="none (default, as the paper's code) or channel: Gaussian encoding of u0 and "
                        "decoding of the output with one mean and std each, fitted on the training set")
    parser.add_argument("--normalizer-eps", type=float, default=1e-5, help="eps added to each std, default 1e-5")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (also OMP/MKL env), default 2")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the batch order, default 0")
    parser.add_argument("--log-every", type=int, default=10, help="epochs between progress lines on stderr")
    parser.add_argument("--out", default="results.json", help="JSON results file, default results.json")
    args = parser.parse_args()
    for name in ("ntrain", "ntest", "epochs", "batch", "step", "n_modes", "width"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


def load_data(args):
    """Return the training split at --resolution and one test split per usable evaluation resolution."""
    same_file = os.path.realpath(args.train) == os.path.realpath(args.test)
    u0, u1, grid = read_burgers_file(args.train, 0, args.ntrain)
    train = subsample_split(u0, u1, grid, args.resolution, args.train)

    if same_file:
        with h5py.File(args.test, "r") as data_file:
            total = data_file["inputs"].shape[0]
        if args.ntrain + args.ntest > total:
            sys.exit(f"{args.test}: --ntrain {args.ntrain} plus --ntest {args.ntest} exceeds the {total} samples")
        test_first = total - args.ntest
    else:
        test_first = 0
    u0, u1, grid = read_burgers_file(args.test, test_first, args.ntest)

    tests = []
    skipped = []
    for resolution in args.eval_resolutions:
        if resolution > grid.shape[0] or grid.shape[0] % resolution != 0:
            skipped.append(resolution)
            continue
        tests.append(subsample_split(u0, u1, grid, resolution, args.test))
    if not any(split.resolution == args.resolution for split in tests):
        tests.append(subsample_split(u0, u1, grid, args.resolution, args.test))
    return train, tests, skipped, test_first


def train(model, train_split, monitor_split, args):
    """Train with Adam and StepLR, and return the per-epoch history and the training wall time."""
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.step, gamma=args.gamma)
    generator = torch.Generator().manual_seed(args.seed)
    count = train_split.inputs.shape[0]
    history = []
    start = time.perf_counter()

    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(count, generator=generator)
        loss_sum = 0.0
        epoch_start = time.perf_counter()
        for first in range(0, count, args.batch):
            index = order[first : first + args.batch]
            optimizer.zero_grad(set_to_none=True)
            loss = relative_l2_per_sample(model(train_split.inputs[index]), train_split.targets[index]).sum()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item()
        scheduler.step()
        epoch_seconds = time.perf_counter() - epoch_start

        test_error = evaluate(model, monitor_split, args.batch)
        history.append({
            "epoch": epoch,
            "train_relative_l2": loss_sum / count,
            "test_relative_l2": test_error,
            "epoch_s": epoch_seconds,
        })
        if epoch % args.log_every == 0 or epoch == 1 or epoch == args.epochs:
            elapsed = time.perf_counter() - start
            remaining = elapsed / epoch * (args.epochs - epoch)
            print(
                f"epoch {epoch}/{args.epochs}  train rel L2 {loss_sum / count:.5f}  "
                f"test rel L2 {test_error:.5f}  {epoch_seconds:.2f} s/epoch  ETA {remaining / 60:.1f} min",
                file=sys.stderr,
                flush=True,
            )
    return history, time.perf_counter() - start


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train_split, test_splits, skipped, test_first = load_data(args)
    print(
        f"loaded {args.ntrain} training samples at {args.resolution} points (stride {train_split.stride}) "
        f"and {args.ntest} test samples; evaluating at {[split.resolution for split in test_splits]}",
        file=sys.stderr,
    )
    if skipped:
        print(
            f"skipping evaluation resolutions {skipped}: each must divide the {args.test} grid size "
            f"({test_splits[0].inputs.shape[-1] * test_splits[0].stride} points)",
            file=sys.stderr,
        )

    constructor = model_constructor(args)
    model = FNO(**constructor)
    kept_modes = list(model.fno_blocks.convs[0].weight.shape[2:])
    if args.normalizer == "channel":
        model = ChannelNormalized(model, train_split, args.normalizer_eps)
    monitor_split = next(split for split in test_splits if split.resolution == args.resolution)

    history, training_seconds = train(model, train_split, monitor_split, args)

    errors = {}
    for split in test_splits:
        if split.resolution in args.eval_resolutions:
            errors[str(split.resolution)] = evaluate(model, split, args.batch)
    train_error = evaluate(model, train_split, args.batch)

    results = {
        "experiment": "neuraloperator FNO on neurop Burgers data",
        "train_file": os.path.abspath(args.train),
        "test_file": os.path.abspath(args.test),
        "test_samples": [test_first, test_first + args.ntest],
        "arguments": {key: value for key, value in vars(args).items() if key not in ("train", "test")},
        "neuraloperator_version": neuralop.__version__,
        "model": {
            "constructor": "neuralop.models.FNO(" + ", ".join(f"{k}={v!r}" for k, v in constructor.items()) + ")",
            "kept_rfft_modes": kept_modes,
            "parameters": sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters()),
            "normalizer": args.normalizer,
        },
        "test_relative_l2": errors,
        "skipped_resolutions": skipped,
        "train_relative_l2_final": train_error,
        "training_s": training_seconds,
        "epoch_s_median": float(np.median([entry["epoch_s"] for entry in history])),
        "history": history,
        "environment": bench_common.describe_torch(torch),
    }
    with open(args.out, "w", encoding="utf-8") as out_file:
        json.dump(results, out_file, indent=2)
        out_file.write("\n")
    print(json.dumps({key: results[key] for key in ("model", "test_relative_l2", "training_s")}, indent=2))


if __name__ == "__main__":
    main()
