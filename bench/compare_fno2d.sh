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
script=compare_fno2d.sh
rounds=3
threads=2
sizes=64,85
out="$repo_root/runs/bench/fno2d-$(date -u +%Y%m%dT%H%M%SZ)"
build="$repo_root/build"
usage="--rounds N, --threads N, --sizes LIST, --out DIR or --build DIR"
source "$repo_root/bench/compare_common.sh"
compare_extra_option() {
  [[ $1 == --sizes ]] || return 1
  sizes="$2"
}
compare_parse_options "$@"
compare_prepare fno2d_bench

run_neurop() {
  "$binary" --threads "$threads" --sizes "$sizes" --batch 20 --out "$out/neurop-$1.json" >/dev/null
}
run_torch() {
  (cd "$repo_root/bench/pytorch" && "$python" fno2d_bench.py --threads "$threads" --sizes "$sizes" --batch 20 \
    --profile-steps 0 --out "$out/torch-$1.json" >/dev/null)
}
compare_alternate

PYTHONPATH="$repo_root/bench" python3 - "$out" "$rounds" <<'PY'
import statistics, sys
from compare_report import load_line, load_rounds, machine_line
out, rounds = sys.argv[1], int(sys.argv[2])
neurop_runs, torch_runs = load_rounds(out, rounds)
def median(reports, index, key):
    return statistics.median(r["results"][index][key]["median_s"] for r in reports)
config = neurop_runs[0]["config"]
print(machine_line(torch_runs))
print(f"rounds: {rounds}, threads: {config['threads']}, batch {config['batch']}")
print()
print("| s | parameters (neurop / PyTorch) | measure | neurop median | PyTorch median | PyTorch / neurop |")
print("| --- | --- | --- | --- | --- | --- |")
for index, result in enumerate(neurop_runs[0]["results"]):
    params = f"{result['parameters']} / {torch_runs[0]['results'][index]['parameters']}"
    for name, key in [("training step", "training_step"), ("inference, batch of 20", "inference_batch")]:
        a, b = median(neurop_runs, index, key), median(torch_runs, index, key)
        print(f"| {result['size']} | {params} | {name} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {b / a:.2f}x |")
print()
print(load_line(torch_runs))
PY
echo "reports in $out" >&2
