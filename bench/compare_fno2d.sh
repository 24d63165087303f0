#!/usr/bin/env bash
# Times the 2D Darcy FNO (12 modes per axis, width 32, 4 layers, float32, Adam, batch 20) in
# neurop and in PyTorch side by side, in one run. The two benchmarks alternate for several
# rounds, so load from other processes falls on both alike. Prints, per grid size, the
# medians over all rounds and their ratio as a Markdown table (the form used in
# docs/benchmarks.md) and keeps each round's JSON reports.
#
#   bench/compare_fno2d.sh [--rounds 3] [--threads 2] [--sizes 64,85] [--out DIR] [--build DIR]
#
# Needs the benchmark binary (meson setup build; ninja -C build bench/fno2d_bench) and the
# PyTorch environment (bench/pytorch/setup_venv.sh, which the script runs if it is missing).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=3
threads=2
sizes=64,85
out="$repo_root/runs/bench/fno2d-$(date -u +%Y%m%dT%H%M%SZ)"
build="$repo_root/build"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    *) echo "compare_fno2d.sh: unknown option '$1'; expected --rounds N, --threads N, --sizes LIST, --out DIR" \
            "or --build DIR" >&2
       exit 2 ;;
  esac
done
binary="$build/bench/fno2d_bench"
if [[ ! -x "$binary" ]]; then
  echo "compare_fno2d.sh: $binary is missing; build it with: meson setup $build && ninja -C $build bench/fno2d_bench" >&2
  exit 2
fi
python="$repo_root/bench/.venv/bin/python"
[[ -x "$python" ]] || "$repo_root/bench/pytorch/setup_venv.sh"
mkdir -p "$out"
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds: neurop" >&2
  "$binary" --threads "$threads" --sizes "$sizes" --batch 20 --out "$out/neurop-$round.json" >/dev/null
  echo "round $round of $rounds: PyTorch" >&2
  (cd "$repo_root/bench/pytorch" && "$python" fno2d_bench.py --threads "$threads" --sizes "$sizes" --batch 20 \
    --profile-steps 0 --out "$out/torch-$round.json" >/dev/null)
done
python3 - "$out" "$rounds" <<'PY'
import json, os, pathlib, statistics, sys
out, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def load(kind):
    return [json.loads((out / f"{kind}-{r}.json").read_text()) for r in range(1, rounds + 1)]
neurop_runs, torch_runs = load("neurop"), load("torch")
def median(reports, index, key):
    return statistics.median(r["results"][index][key]["median_s"] for r in reports)
env = torch_runs[0].get("environment", {})
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"machine: {cpu}, {os.cpu_count()} logical CPUs; torch {env.get('torch_version', '?')}, "
      f"BLAS {env.get('blas', env.get('blas_info', '?'))}")
print(f"rounds: {rounds}, threads: {neurop_runs[0]['config']['threads']}, batch {neurop_runs[0]['config']['batch']}")
print()
print("| s | parameters (neurop / PyTorch) | measure | neurop median | PyTorch median | PyTorch / neurop |")
print("| --- | --- | --- | --- | --- | --- |")
for index, result in enumerate(neurop_runs[0]["results"]):
    params = f"{result['parameters']} / {torch_runs[0]['results'][index]['parameters']}"
    for name, key in [("training step", "training_step"), ("inference, batch of 20", "inference_batch")]:
        a, b = median(neurop_runs, index, key), median(torch_runs, index, key)
        print(f"| {result['size']} | {params} | {name} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {b / a:.2f}x |")
loads = [r.get("host_load", {}).get("other_processes_share_of_all_cpus") for r in torch_runs]
print()
print(f"other processes' CPU share during the PyTorch runs: {loads}")
PY
echo "reports in $out" >&2
