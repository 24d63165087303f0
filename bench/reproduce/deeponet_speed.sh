#!/usr/bin/env bash
# Times neurop's DeepONet training step against PyTorch on the same machine and writes
# docs/results/deeponet_benchmark.md: bench/deeponet_bench (C++) and
# bench/pytorch/deeponet_bench.py with the same sizes (m = 100, d = 1, w = 40, B = 1000,
# P = 100, float32, MSE, Adam), alternating between the two programs for several rounds
# so that both see the same load. Each run reports the median of its 300 timed steps; the
# page gives, per thread count, the median over rounds of those medians and the
# throughput ratio neurop / PyTorch.
#
# Usage: bench/reproduce/deeponet_speed.sh [--build DIR] [--rounds N] [--threads "2 1"] [--venv DIR]
#   --venv DIR   Python environment with torch (default bench/.venv). It is created with
#                bench/pytorch/setup_venv.sh only when DIR/bin/python does not exist.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build
rounds=3
thread_counts="2 1"
venv=bench/.venv
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) thread_counts="$2"; shift 2 ;;
    --venv) venv="$2"; shift 2 ;;
    *) echo "deeponet_speed.sh: unknown option '$1'; expected --build DIR, --rounds N, --threads LIST or" \
            "--venv DIR" >&2
       exit 2 ;;
  esac
done
venv=$(realpath "$venv")

if [[ "$build" == build ]]; then scripts/setup.sh build; fi
bench="$build/bench/deeponet_bench"
[[ -x "$bench" ]] || { echo "deeponet_speed.sh: $bench not found; build it first" >&2; exit 1; }
[[ -x "$venv/bin/python" ]] || bench/pytorch/setup_venv.sh --venv "$venv"
work=runs/reproduce/deeponet_speed
mkdir -p "$work" docs/results
rm -f "$work"/*.json

for round in $(seq 1 "$rounds"); do
  for threads in $thread_counts; do
    "$bench" --threads "$threads" --out "$work/neurop_t${threads}_r${round}.json" > /dev/null
    (cd bench/pytorch && "$venv/bin/python" deeponet_bench.py --threads "$threads" \
      --out "../../$work/torch_t${threads}_r${round}.json" > /dev/null 2> /dev/null)
  done
done

"$venv/bin/python" - "$work" "$build" <<'PYTHON' > docs/results/deeponet_benchmark.md
import glob, json, os, statistics, sys

work, build = sys.argv[1], sys.argv[2]
runs = {}
for path in sorted(glob.glob(os.path.join(work, "*.json"))):
    implementation, threads, _ = os.path.basename(path)[:-5].split("_")
    runs.setdefault((implementation, int(threads[1:])), []).append(json.load(open(path)))

def step(report, implementation):
    timing = report["training_step"] if implementation == "neurop" else report["this_model"]["training_step"]
    return timing["median_s"], timing["min_s"]

def inference(report, implementation):
    timing = report["inference"] if implementation == "neurop" else report["this_model"]["inference"]
    return timing["median_s"]

def load_share(report):
    return report["host_load"]["other_processes_share_of_all_cpus"]

torch_env = next(r for (i, _), rs in runs.items() if i == "torch" for r in rs)["environment"]
print("# DeepONet training-step benchmark: neurop against PyTorch\n")
print("Unstacked DeepONet, Cartesian-product form: branch [100, 40, 40], trunk [1, 40, 40] (ReLU after every "
      "trunk layer, as DeepXDE), B = 1000 functions x P = 100 points, float32, full-batch MSE, Adam (lr 1e-3). "
      "One step is zero_grad, forward, loss, backward, Adam step and reading the loss. neurop: "
      f"`{build}/bench/deeponet_bench --threads T`; PyTorch: `bench/pytorch/deeponet_bench.py --threads T` "
      f"(torch {torch_env['torch_version']}, {torch_env['torch_source']}, BLAS: {torch_env['blas']}). "
      f"CPU: {torch_env['cpu_model']}, {torch_env['logical_cpus']} logical CPUs. Written by "
      "`bench/reproduce/deeponet_speed.sh`, which alternates the two programs.\n")
print("| threads | neurop step median (ms) | PyTorch step median (ms) | throughput ratio neurop / PyTorch "
      "| neurop best (ms) | PyTorch best (ms) | inference neurop / PyTorch (ms) | other processes' CPU share |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for threads in sorted({t for _, t in runs}, reverse=True):
    ours = runs.get(("neurop", threads), [])
    theirs = runs.get(("torch", threads), [])
    if not ours or not theirs:
        continue
    ours_median = statistics.median(step(r, "neurop")[0] for r in ours)
    theirs_median = statistics.median(step(r, "torch")[0] for r in theirs)
    ours_best = min(step(r, "neurop")[1] for r in ours)
    theirs_best = min(step(r, "torch")[1] for r in theirs)
    ours_inference = statistics.median(inference(r, "neurop") for r in ours)
    theirs_inference = statistics.median(inference(r, "torch") for r in theirs)
    shares = [load_share(r) for r in ours + theirs]
    print(f"| {threads} | {1e3 * ours_median:.3f} | {1e3 * theirs_median:.3f} | {theirs_median / ours_median:.2f} "
          f"| {1e3 * ours_best:.3f} | {1e3 * theirs_best:.3f} | {1e3 * ours_inference:.3f} / "
          f"{1e3 * theirs_inference:.3f} | {min(shares):.2f} to {max(shares):.2f} |")
print(f"\nMedians are over {len(next(iter(runs.values())))} rounds of the per-run median of 300 timed steps "
      "(after 20 warm-up steps). The last column is the share of all CPU time that other processes took "
      "during the runs; above a few percent the timings are disturbed, and OpenMP threads that lose their "
      "core stretch them most.")
PYTHON
echo "wrote docs/results/deeponet_benchmark.md"
