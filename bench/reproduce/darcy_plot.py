"""Draw coefficient, solution, prediction and error of one Darcy test sample for each model.

Input: prediction files written by `neurop evaluate --save-predictions FILE`, one per model:
  /inputs      float64 [K, 1, s, s]  coefficient a
  /outputs     float64 [K, 1, s, s]  solution u
  /predictions float64 [K, 1, s, s]  model prediction
  /grid/x0, /grid/x1  float64 [s]    coordinates
Output: one PNG with a row per model and the columns a, u, prediction, prediction - u. The
title of each error panel gives the sample's relative L2 error ||pred - u|| / ||u||.

  bench/.venv/bin/python bench/reproduce/darcy_plot.py --sample 0 --out darcy.png \
      FNO-2D=runs/darcy/fno_predictions.h5 MgNO=runs/darcy/mgno_predictions.h5
"""

import argparse

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="LABEL=FILE pairs, one row each")
    parser.add_argument("--sample", type=int, default=0, help="index of the sample in the files, default 0")
    parser.add_argument("--out", required=True, help="PNG file to write")
    args = parser.parse_args()
    pairs = []
    for item in args.models:
        if "=" not in item:
            parser.error(f"expected LABEL=FILE, got '{item}'")
        label, path = item.split("=", 1)
        pairs.append((label, path))
    args.models = pairs
    return args


def main():
    args = parse_args()
    rows = len(args.models)
    figure, axes = plt.subplots(rows, 4, figsize=(16, 3.8 * rows), squeeze=False)
    for row, (label, path) in enumerate(args.models):
        with h5py.File(path, "r") as file:
            count = file["predictions"].shape[0]
            if not 0 <= args.sample < count:
                raise SystemExit(f"--sample {args.sample} is out of range: {path} contains {count} samples")
            a = file["inputs"][args.sample, 0]
            u = file["outputs"][args.sample, 0]
            prediction = file["predictions"][args.sample, 0]
            x0 = file["grid/x0"][:]
            x1 = file["grid/x1"][:]
        error = prediction - u
        relative = np.linalg.norm(error) / np.linalg.norm(u)
        extent = [x1[0], x1[-1], x0[-1], x0[0]]  # value [i, j] at (x0_i, x1_j): rows are x0
        limits = (min(u.min(), prediction.min()), max(u.max(), prediction.max()))
        panels = [
            (a, "coefficient a", "viridis", None),
            (u, "solution u", "magma", limits),
            (prediction, f"{label} prediction", "magma", limits),
            (error, f"{label} error (relative L2 {relative:.4f})", "RdBu_r", None),
        ]
        for column, (values, title, colormap, value_range) in enumerate(panels):
            axis = axes[row][column]
            if colormap == "RdBu_r":
                bound = np.abs(values).max()
                value_range = (-bound, bound)
            image = axis.imshow(
                values,
                extent=extent,
                cmap=colormap,
                vmin=None if value_range is None else value_range[0],
                vmax=None if value_range is None else value_range[1],
            )
            axis.set_title(title, fontsize=10)
            axis.set_xlabel("x1")
            axis.set_ylabel("x0")
            figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
