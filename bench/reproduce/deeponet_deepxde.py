"""Train DeepXDE's DeepONet on a neurop point data set, as a side-by-side check of neurop's results.

Reads the HDF5 files written by `neurop generate antiderivative ...` (datasets/point_dataset.hpp:
/branch_inputs [N, m], /queries [P, d] or [N, P, d], /outputs [N, P, c]) and trains
  product layout:  deepxde.nn.DeepONetCartesianProd on deepxde.data.TripleCartesianProd
                   (the setting of DeepXDE's examples/operator/antiderivative_aligned.py);
  aligned layout:  deepxde.nn.DeepONet on deepxde.data.Triple with one row per (function, point)
                   pair (examples/operator/antiderivative_unaligned.py).
Both with the branch [m, w..., p], trunk [d, w..., p], the activation, "Glorot normal" and Adam at
the given learning rate for --iterations full-batch steps. Prints one JSON report with the test
mean squared error over all test points, computed here from model.predict in float64.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))

import bench_common  # noqa: E402

bench_common.configure_threads_from_argv()
os.environ.setdefault("DDE_BACKEND", "pytorch")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def read_point_data(path, first, count):
    """Return (branch [count, m], queries [P, d] or [count, P, d], outputs [count, P], layout) as float32."""
    with h5py.File(path, "r") as f:
        if f.attrs.get("spatial_dims", -1) != 0:
            sys.exit(f"{path} is not a neurop point data set (spatial_dims = 0)")
        layout = f.attrs["layout"]
        layout = layout.decode() if isinstance(layout, bytes) else str(layout)
        samples = f["branch_inputs"].shape[0]
        if first < 0 or first + count > samples:
            sys.exit(f"{path} holds {samples} samples; samples [{first}, {first + count}) do not fit")
        branch = f["branch_inputs"][first : first + count]
        outputs = f["outputs"][first : first + count]
        if outputs.shape[2] != 1:
            sys.exit(f"{path} has {outputs.shape[2]} output components; this script trains one")
        outputs = outputs[:, :, 0]
        queries = f["queries"][...] if layout == "product" else f["queries"][first : first + count]
    return branch.astype(np.float32), queries.astype(np.float32), outputs.astype(np.float32), layout


def to_triples(branch, queries, outputs):
    """Flatten aligned data [N, P, d] into one row per (function, point): ([N P, m], [N P, d]), [N P, 1]."""
    n, p, d = queries.shape
    return (np.repeat(branch, p, axis=0), queries.reshape(n * p, d)), outputs.reshape(n * p, 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", required=True, help="neurop point data set (HDF5) with the training samples")
    parser.add_argument("--test", required=True, help="neurop point data set (HDF5) with the test samples")
    parser.add_argument("--ntrain", type=int, required=True, help="training samples: the first ones of --train")
    parser.add_argument("--ntest", type=int, required=True, help="test samples: the first ones of --test")
    parser.add_argument("--iterations", type=int, default=10000, help="Adam steps, default 10000")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate, default 1e-3")
    parser.add_argument("--branch", default="40,40", help="branch widths after the m inputs, default 40,40")
    parser.add_argument("--trunk", default="40,40", help="trunk widths after the d inputs, default 40,40")
    parser.add_argument("--activation", default="relu", help="activation, default relu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, default 2")
    parser.add_argument("--seed", type=int, default=0, help="DeepXDE random seed, default 0")
    parser.add_argument("--out", help="also write the JSON report to this file")
    args = parser.parse_args()

    import deepxde as dde

    torch.set_num_threads(args.threads)
    dde.config.set_random_seed(args.seed)
    u_train, y_train_points, s_train, layout = read_point_data(args.train, 0, args.ntrain)
    u_test, y_test_points, s_test, test_layout = read_point_data(args.test, 0, args.ntest)
    if test_layout != layout:
        sys.exit(f"{args.train} has the {layout} layout but {args.test} the {test_layout} layout")
    m, d = u_train.shape[1], y_train_points.shape[-1]
    branch = [m] + [int(w) for w in args.branch.split(",")]
    trunk = [d] + [int(w) for w in args.trunk.split(",")]

    if layout == "product":
        data = dde.data.TripleCartesianProd(
            X_train=(u_train, y_train_points), y_train=s_train, X_test=(u_test, y_test_points), y_test=s_test
        )
        net = dde.nn.DeepONetCartesianProd(branch, trunk, args.activation, "Glorot normal")
        test_inputs = (u_test, y_test_points)
    else:
        x_train, t_train = to_triples(u_train, y_train_points, s_train)
        x_test, t_test = to_triples(u_test, y_test_points, s_test)
        data = dde.data.Triple(X_train=x_train, y_train=t_train, X_test=x_test, y_test=t_test)
        net = dde.nn.DeepONet(branch, trunk, args.activation, "Glorot normal")
        test_inputs = x_test
        s_test = t_test
    model = dde.Model(data, net)
    model.compile("adam", lr=args.lr)
    start = time.perf_counter()
    model.train(iterations=args.iterations, display_every=max(1, args.iterations // 10), verbose=0)
    seconds = time.perf_counter() - start
    prediction = np.asarray(model.predict(test_inputs), dtype=np.float64).reshape(s_test.shape)
    error = prediction - s_test.astype(np.float64)
    norms = np.linalg.norm(s_test.reshape(args.ntest, -1).astype(np.float64), axis=1)
    errors = np.linalg.norm(error.reshape(args.ntest, -1), axis=1)
    report = {
        "implementation": "deepxde",
        "deepxde_version": dde.__version__,
        "torch_version": torch.__version__,
        "train": args.train,
        "test": args.test,
        "layout": layout,
        "ntrain": args.ntrain,
        "ntest": args.ntest,
        "branch": branch,
        "trunk": trunk,
        "activation": args.activation,
        "iterations": args.iterations,
        "lr": args.lr,
        "threads": args.threads,
        "test_mse": float(np.mean(error**2)),
        "test_relative_l2": float(np.mean(errors / np.where(norms > 0, norms, 1.0))),
        "train_seconds": seconds,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
