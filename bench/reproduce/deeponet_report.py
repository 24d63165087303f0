"""Write docs/results/deeponet.md and the training-size plot from the JSON files of deeponet.sh.

Every number in the page comes from the files in --work: NAME.json from `neurop evaluate --out`
(with the training seconds and options added by deeponet.sh), deepxde_*.json from
deeponet_deepxde.py, and burgers_fno.json. The plot needs matplotlib.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess


def load(work, name):
    """Return the JSON report NAME.json in `work`, or None when the run did not happen."""
    path = os.path.join(work, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision():
    try:
        revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return revision.stdout.strip() + (" with uncommitted changes" if status.stdout.strip() else "")


def option(report, name):
    """Return the value after `name` in the recorded training options, or None."""
    words = report.get("train_options", "").split()
    return words[words.index(name) + 1] if name in words else None


def row(label, data, report, relative=True):
    steps = option(report, "--epochs")
    schedule = option(report, "--schedule") or "constant"
    rel = f"{report['relative_l2']:.3e}" if relative else "n/a"
    return (f"| {label} | {data} | {steps} ({schedule}) | {report['samples']} | {report['mse']:.3e} | {rel} | "
            f"{report['train_seconds']:.0f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", required=True, help="folder with the JSON files of deeponet.sh")
    parser.add_argument("--threads", type=int, required=True, help="threads the runs used")
    parser.add_argument("--fno-epochs", type=int, required=True, help="epochs of the Burgers FNO")
    parser.add_argument("--markdown", required=True, help="Markdown file to write")
    parser.add_argument("--plot", required=True, help="PNG file of test MSE against training-set size")
    parser.add_argument("--command", default="bench/reproduce/deeponet.sh",
                        help="the deeponet.sh command line that produced the runs")
    args = parser.parse_args()
    work = args.work

    lines = ["# DeepONet results", ""]
    lines.append(
        f"Written by `bench/reproduce/deeponet.sh` (report: `bench/reproduce/deeponet_report.py`) on "
        f"{datetime.date.today().isoformat()}, neurop {git_revision()}, {cpu_model()}, {args.threads} thread(s) "
        "per run, float32. Test errors: MSE over all test points and output components; relative L2 is the mean "
        "over test functions of ||G(u) - s|| / ||s|| over the function's query points (not shown for one query "
        "point per function, where it divides by single values near 0). Seconds are wall-clock training time "
        "on a shared machine, evaluation excluded.")
    lines.append("")

    # ---- antiderivative and the other problems ----
    lines += ["## Test errors", "",
              "| problem | training data | steps (lr schedule) | test functions | test MSE | test relative L2 "
              "| seconds |",
              "|---|---|---:|---:|---:|---:|---:|"]
    entries = [
        ("aligned", "antiderivative, DeepXDE aligned setting", "150 functions x 100 points", True),
        ("unaligned", "antiderivative, DeepXDE unaligned setting", "10000 triples (one point each)", False),
        ("extended", "antiderivative, longer training", "2000 functions x 100 points", True),
        ("physics", "antiderivative, physics-informed (tanh), no solution data",
         "1000 functions, residual at the 100 sensors + s(0) = 0", True),
        ("pendulum", "gravity pendulum, outputs (s1, s2), split trunk", "1000 functions x 100 points", True),
        ("reaction", "diffusion-reaction, queries (x, t) on 21 x 21", "1000 functions x 441 points", True),
    ]
    results = {}
    for name, label, data, relative in entries:
        report = load(work, name)
        if report is None:
            continue
        results[name] = report
        lines.append(row(label, data, report, relative))
    lines.append("")
    best = min((results[n]["mse"], n) for n in ("aligned", "unaligned", "extended") if n in results) \
        if any(n in results for n in ("aligned", "unaligned", "extended")) else None
    if best is not None:
        verdict = "reaches" if best[0] <= 1e-6 else "does not reach"
        lines.append(f"Best antiderivative test MSE: {best[0]:.3e} ({best[1]}), which {verdict} the 1e-6 target.")
        lines.append("")

    # ---- DeepXDE ----
    deepxde = {s: load(work, "deepxde_" + s) for s in ("aligned", "unaligned")}
    if any(deepxde.values()):
        lines += ["## DeepXDE on the same files", "",
                  "| setting | neurop test MSE | DeepXDE test MSE | neurop seconds | DeepXDE seconds |",
                  "|---|---:|---:|---:|---:|"]
        for setting, reference in deepxde.items():
            if reference is None or setting not in results:
                continue
            ours = results[setting]
            lines.append(f"| {setting} | {ours['mse']:.3e} | {reference['test_mse']:.3e} | "
                         f"{ours['train_seconds']:.0f} | {reference['train_seconds']:.0f} |")
        versions = next(r for r in deepxde.values() if r)
        lines.append("")
        lines.append(f"DeepXDE {versions['deepxde_version']} with torch {versions['torch_version']}: "
                     "`DeepONetCartesianProd` (aligned) or `DeepONet` (unaligned), the same widths, ReLU, "
                     "\"Glorot normal\", Adam 1e-3, full-batch steps, its own random initialisation.")
        lines.append("")

    # ---- training-set size ----
    sizes = []
    for name in sorted(os.listdir(work)):
        if name.startswith("size_") and name.endswith(".json") and not name.endswith(".eval.json"):
            report = load(work, name[:-5])
            sizes.append((int(name[5:-5]), report))
    if "aligned" in results:
        sizes.append((150, results["aligned"]))
    sizes.sort(key=lambda item: item[0])
    if sizes:
        size_steps = sorted({option(r, "--epochs") for _, r in sizes})
        steps_text = " or ".join(size_steps)
        lines += ["## Test error against the training-set size", "",
                  f"The aligned setting (100 shared points per function, {steps_text} steps, constant learning rate) "
                  "with N training functions, tested on the same 1000 functions.", "",
                  "| training functions N | test MSE | test relative L2 | seconds |", "|---:|---:|---:|---:|"]
        for n, report in sizes:
            lines.append(f"| {n} | {report['mse']:.3e} | {report['relative_l2']:.3e} | {report['train_seconds']:.0f} |")
        lines += ["", f"![test MSE against training functions]({os.path.basename(args.plot)})", ""]
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(5.5, 4))
        axis.loglog([n for n, _ in sizes], [r["mse"] for _, r in sizes], "o-", label=f"neurop, {steps_text} steps")
        if "extended" in results:
            extended_steps = option(results["extended"], "--epochs")
            axis.loglog([2000], [results["extended"]["mse"]], "s", label=f"neurop, {extended_steps} steps, cosine")
        if deepxde.get("aligned"):
            axis.loglog([150], [deepxde["aligned"]["test_mse"]], "^",
                        label=f"DeepXDE, {deepxde['aligned'].get('iterations', '?')} steps")
        axis.axhline(1e-6, color="gray", linestyle=":", label="1e-6")
        axis.set_xlabel("training functions N (100 points each)")
        axis.set_ylabel("test MSE (1000 functions)")
        axis.set_title("DeepONet, antiderivative, m = 100, l = 0.2")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
        figure.tight_layout()
        figure.savefig(args.plot, dpi=120)

    # ---- Burgers ----
    burgers = load(work, "burgers_deeponet")
    fno = load(work, "burgers_fno")
    if burgers and fno:
        fno_error = fno["results"][0]["relative_l2"]
        seconds_path = os.path.join(work, "burgers_fno_seconds.txt")
        fno_seconds = float(open(seconds_path, encoding="utf-8").read()) if os.path.exists(seconds_path) else None
        lines += ["## Burgers: DeepONet beside the FNO", "",
                  "Data: `neurop generate burgers --samples 1100 --resolution 256 --fine-resolution 1024 --seed 0` "
                  "(nu = 0.1, t = 1, periodic on [0, 1)); both models train on the first 1000 samples and are tested "
                  "on the last 100 at the 256 stored points. DeepONet: branch [256, 128, 128] on the 256 values of "
                  "u0. The trunk [32, 128, 128] reads 16 Fourier modes of period 1, so the output is exactly "
                  "periodic. ReLU and a relative L2 loss, because the outputs are about 50 times smaller than the "
                  "inputs and an MSE loss would favour the large samples. Adam 1e-3 with a cosine decay over "
                  f"{option(burgers, '--epochs')} epochs of 10 steps of 100 functions. FNO: width 64, "
                  f"16 modes, 4 layers, {args.fno_epochs} epochs (shortened from the paper's 500), batch 20, Adam 1e-3, "
                  "weight decay 1e-4, the learning rate halved every 20 epochs (4 times).", "",
                  "| model | test relative L2 | test MSE | seconds |", "|---|---:|---:|---:|",
                  f"| DeepONet (Fourier trunk) | {burgers['relative_l2']:.4f} | {burgers['mse']:.3e} | "
                  f"{burgers['train_seconds']:.0f} |",
                  f"| FNO | {fno_error:.4f} | - | {fno_seconds:.0f} |" if fno_seconds is not None else
                  f"| FNO | {fno_error:.4f} | - | - |", ""]

    lines += ["## Reproducing", "", "```sh",
              args.command,
              "```", "",
              "The full schedule is `bench/reproduce/deeponet.sh --with-burgers --with-deepxde` (10000 steps per "
              "DeepXDE setting, 100000 for the extended run); the command above is the one that produced this "
              "page.", "",
              "The script generates every data set with fixed seeds (training and test functions from different "
              "seeds) and writes data, checkpoints, logs and JSON under `runs/reproduce/deeponet/`.", ""]
    with open(args.markdown, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
