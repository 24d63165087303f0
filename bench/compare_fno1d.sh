#!/usr/bin/env bash
# Times the 1D Burgers FNO in neurop and in PyTorch side by side, in one run.
# The two benchmarks alternate for several rounds, so load from other processes falls on
# both alike. Prints the medians over all rounds and their ratio as a Markdown table, the
# form used in docs/benchmarks.md, and keeps each round's JSON reports.
#
#   bench/compare_fno1d.sh [--rounds 5] [--threads 2] [--out DIR] [--build DIR]
#
# Needs the benchmark binary (meson setup build; ninja -C build bench/fno1d_bench) and the
# PyTorch environment (bench/pytorch/setup_venv.sh, which the script runs if it is missing).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script=compare_fno1d.sh
rounds=5
threads=2
out="$repo_root/runs/bench/fno1d-$(date -u +%Y%m%dT%H%M%SZ)"
build="$repo_root/build"
usage="--rounds N, --threads N, --out DIR or --build DIR"
source "$repo_root/bench/compare_common.sh"
compare_parse_options "$@"
compare_prepare fno1d_bench

run_neurop() {
  "$binary" --threads "$threads" --epoch-repeats 2 --inference-repeats 20 --out "$out/neurop-$1.json" >/dev/null
}
run_torch() {
  (cd "$repo_root/bench/pytorch" && "$python" fno1d_bench.py --threads "$threads" --epoch-repeats 2 \
    --inference-repeats 20 --profile-steps 0 --out "$out/torch-$1.json" >/dev/null)
}
compare_alternate

PYTHONPATH="$repo_root/bench" python3 - "$out" "$rounds" <<'PY'
import statistics, sys
from compare_report import load_line, load_rounds, machine_line
out, rounds = sys.argv[1], int(sys.argv[2])
neurop_runs, torch_runs = load_rounds(out, rounds)
def median_seconds(reports, key):
    return statistics.median(r[key]["median_s"] for r in reports)
def step_seconds(reports):
    return median_seconds(reports, "training_epoch") / reports[0]["config"]["steps_per_epoch"]
config = neurop_runs[0]["config"]
print(machine_line(torch_runs))
print(f"rounds: {rounds}, threads: {config['threads']}, batch {config['batch']}, S = {config['size']}")
print()
print("| measure | neurop median | PyTorch median | PyTorch / neurop |")
print("| --- | --- | --- | --- |")
for name, a, b in [("training epoch (50 steps)", median_seconds(neurop_runs, "training_epoch"), median_seconds(torch_runs, "training_epoch")),
                   ("training step", step_seconds(neurop_runs), step_seconds(torch_runs)),
                   ("inference, batch of 20", median_seconds(neurop_runs, "inference_batch"), median_seconds(torch_runs, "inference_batch"))]:
    print(f"| {name} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {b / a:.2f}x |")
print()
print(load_line(torch_runs))
PY
echo "reports in $out" >&2
