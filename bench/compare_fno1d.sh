#!/usr/bin/env bash
# Times the 1D Burgers FNO in neurop and in PyTorch side by side, in one run.
# The two benchmarks alternate for several rounds, so load from other processes falls on
# both alike. Prints the medians over all rounds and their ratio as a Markdown table, the
# form used in docs/benchmarks.md, and keeps each round's JSON reports.
#
#   bench/compare_fno1d.sh [--rounds 5] [--threads 2] [--out DIR]
#
# Needs the benchmark binary (meson setup build; ninja -C build bench/fno1d_bench) and the
# PyTorch environment (bench/pytorch/setup_venv.sh, which the script runs if it is missing).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=5
threads=2
out="$repo_root/runs/bench/fno1d-$(date -u +%Y%m%dT%H%M%SZ)"
build="$repo_root/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    *) echo "compare_fno1d.sh: unknown option '$1'; expected --rounds N, --threads N, --out DIR or --build DIR" >&2; exit 2 ;;
  esac
done
binary="$build/bench/fno1d_bench"
if [[ ! -x "$binary" ]]; then
  echo "compare_fno1d.sh: $binary is missing; build it with: meson setup $build && ninja -C $build bench/fno1d_bench" >&2
  exit 2
fi
python="$repo_root/bench/.venv/bin/python"
[[ -x "$python" ]] || "$repo_root/bench/pytorch/setup_venv.sh"
mkdir -p "$out"
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds: neurop" >&2
  "$binary" --threads "$threads" --epoch-repeats 2 --inference-repeats 20 --out "$out/neurop-$round.json" >/dev/null
  echo "round $round of $rounds: PyTorch" >&2
  (cd "$repo_root/bench/pytorch" && "$python" fno1d_bench.py --threads "$threads" --epoch-repeats 2 \
    --inference-repeats 20 --profile-steps 0 --out "$out/torch-$round.json" >/dev/null)
done
python3 - "$out" "$rounds" <<'PY'
import json, pathlib, statistics, sys, platform, os
out, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def load(kind):
    return [json.loads((out / f"{kind}-{r}.json").read_text()) for r in range(1, rounds + 1)]
neurop_runs, torch_runs = load("neurop"), load("torch")
def median_seconds(reports, key):
    return statistics.median(r[key]["median_s"] for r in reports)
def step_seconds(reports):
    return median_seconds(reports, "training_epoch") / reports[0]["config"]["steps_per_epoch"]
env = torch_runs[0].get("environment", {})
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"machine: {cpu}, {os.cpu_count()} logical CPUs; torch {env.get('torch_version', '?')}, BLAS {env.get('blas', env.get('blas_info', '?'))}")
print(f"rounds: {rounds}, threads: {neurop_runs[0]['config']['threads']}, batch {neurop_runs[0]['config']['batch']}, S = {neurop_runs[0]['config']['size']}")
print()
print("| measure | neurop median | PyTorch median | PyTorch / neurop |")
print("| --- | --- | --- | --- |")
for name, a, b in [("training epoch (50 steps)", median_seconds(neurop_runs, "training_epoch"), median_seconds(torch_runs, "training_epoch")),
                   ("training step", step_seconds(neurop_runs), step_seconds(torch_runs)),
                   ("inference, batch of 20", median_seconds(neurop_runs, "inference_batch"), median_seconds(torch_runs, "inference_batch"))]:
    print(f"| {name} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {b / a:.2f}x |")
loads = [r.get("host_load", {}).get("other_processes_share_of_all_cpus") for r in torch_runs]
print()
print(f"other processes' CPU share during the PyTorch runs: {loads}")
PY
echo "reports in $out" >&2
