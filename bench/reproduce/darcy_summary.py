"""Collect the Darcy runs of bench/reproduce/darcy.sh into one JSON file and a Markdown table.

For every <model>_s<s>.log in the run folder it reads the model summary line (parameter
count), the per-epoch lines (seconds per epoch, epochs run, last training loss) and the
matching <model>_s<s>_eval.json (test relative L2 error from `neurop evaluate`).

  bench/.venv/bin/python bench/reproduce/darcy_summary.py --out runs/darcy/summary.json runs/darcy
"""

import argparse
import json
import pathlib
import re
import statistics

SUMMARY = re.compile(r"model: (?P<summary>.*?(?P<parameters>\d+) parameters.*)$")
EPOCH = re.compile(
    r"epoch\s+(?P<epoch>\d+)/(?P<epochs>\d+)\s+train (?P<loss_name>.+?) (?P<loss>[0-9.]+)"
    r"\s+test (?:rel-L2|relative L2) (?P<test>\S+)"  # rel-L2: the label in older logs
    r".*?(?P<seconds>[0-9.]+) s/epoch"
)


def read_run(log_path):
    """Return the facts of one training log."""
    run = {"log": str(log_path), "seconds_per_epoch": [], "test_during_training": []}
    for line in log_path.read_text().splitlines():
        match = SUMMARY.search(line)
        if match:
            run["model"] = match["summary"]
            run["parameters"] = int(match["parameters"])
        match = EPOCH.search(line)
        if match:
            run["epochs"] = int(match["epoch"])
            run["planned_epochs"] = int(match["epochs"])
            run["train_loss_name"] = match["loss_name"]
            run["final_train_loss"] = float(match["loss"])
            run["seconds_per_epoch"].append(float(match["seconds"]))
            if match["test"] != "-":
                run["test_during_training"].append([int(match["epoch"]), float(match["test"])])
    times = run.pop("seconds_per_epoch")
    if times:
        run["median_seconds_per_epoch"] = statistics.median(times)
        run["total_training_seconds"] = sum(times)
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=pathlib.Path, help="run folder of darcy.sh")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="JSON file to write")
    args = parser.parse_args()

    runs = {}
    for log_path in sorted(args.folder.glob("*_s*.log")):
        name = log_path.stem
        run = read_run(log_path)
        evaluation = args.folder / f"{name}_eval.json"
        if evaluation.exists():
            results = json.loads(evaluation.read_text())["results"]
            run["test_relative_l2"] = {str(r["resolution"]): r["relative_l2"] for r in results}
        runs[name] = run
    args.out.write_text(json.dumps(runs, indent=2) + "\n")

    print("| run | parameters | epochs | s/epoch (median) | train loss | test relative L2 |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, run in runs.items():
        errors = ", ".join(f"{value:.5f} (s={key})" for key, value in run.get("test_relative_l2", {}).items())
        print(
            f"| {name} | {run.get('parameters', '?')} | {run.get('epochs', '?')} | "
            f"{run.get('median_seconds_per_epoch', float('nan')):.1f} | {run.get('final_train_loss', float('nan')):.5f} "
            f"({run.get('train_loss_name', '?')}) | {errors} |"
        )


if __name__ == "__main__":
    main()
