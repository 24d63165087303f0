#!/usr/bin/env bash
# Reproduces the 1D Burgers experiment of the FNO paper (Li et al., ICLR 2021) with
# neurop: 1000 training and 100 test samples (nu = 0.1, u0 ~ N(0, 625 (-Laplacian +
# 25 I)^(-2)), solved on 8192 points), FNO with width 64 and 16 modes trained at
# s = 1024 for 500 epochs with Adam (lr 1e-3, weight decay 1e-4) and a step decay
# (x 0.5 every 100 epochs), batch 20; test relative L2 error at s = 256 ... 8192.
# Writes docs/results/fno_burgers.md (and JSON beside it).
#
# Usage: bench/reproduce/fno_burgers.sh [--with-neuraloperator] [--epochs N] [--threads N]
#                                       [--schedule step|cosine] [--parameters paper|repository]
#                                       [--normalizer none|channel]
#   --with-neuraloperator  also trains the FNO of the neuraloperator package (PyPI, in
#                          bench/.venv) on the same files and reports its errors beside ours
#   --schedule cosine      anneals the rate from 1e-3 to 0 over the epochs instead of the
#                          paper's step decay, and writes docs/results/fno_burgers_cosine.md
#                          (neurop only)
#   --parameters repository
#                          generates the data with the parameters of the data-generation
#                          script in the neuraloperator repository (data_generation/burgers/
#                          gen_burgers1.m: nu = 1e-3, u0 ~ N(0, 49^2 (-Laplacian + 49 I)^(-2.5)))
#                          instead of the parameters stated in the paper. The page name
#                          gets the suffix _repository (fno_burgers_repository.md,
#                          fno_burgers_cosine_repository.md).
#   --normalizer channel   normalises both codes' data per channel: u0 and u shifted and scaled
#                          by their training-set mean and standard deviation, the network's
#                          output scaled back before the loss (`neurop train --normalizer
#                          channel`, and the same wrapper around the reference). The default,
#                          none, trains on u0 and u as they are, as the paper's code does. The
#                          page name gets the suffix _channel.
set -euo pipefail
cd "$(dirname "$0")/../.."

epochs=500
threads=2
with_reference=0
schedule=step
parameters=paper
normalizer=none
while [[ $# -gt 0 ]]; do
  case "$1" in
    --with-neuraloperator) with_reference=1; shift ;;
    --epochs) epochs="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --schedule) schedule="$2"; shift 2 ;;
    --parameters) parameters="$2"; shift 2 ;;
    --normalizer) normalizer="$2"; shift 2 ;;
    *) echo "fno_burgers.sh: unknown option '$1'; expected --with-neuraloperator, --epochs N, --threads N," \
            "--schedule step|cosine, --parameters paper|repository or --normalizer none|channel" >&2
       exit 2 ;;
  esac
done
case "$schedule" in
  step) schedule_options="--schedule step --step-size 100 --gamma 0.5"; page=fno_burgers ;;
  cosine) schedule_options="--schedule cosine"; page=fno_burgers_cosine ;;
  *) echo "fno_burgers.sh: invalid --schedule '$schedule'; expected step or cosine" >&2; exit 2 ;;
esac
case "$parameters" in
  paper) generator_options=""; suffix="" ;;
  repository) generator_options="--nu 1e-3 --sigma 49 --tau 7 --gamma 2.5"; suffix="_repository" ;;
  *) echo "fno_burgers.sh: invalid --parameters '$parameters'; expected paper or repository" >&2; exit 2 ;;
esac
case "$normalizer" in
  none) ;;
  channel) suffix="${suffix}_channel" ;;
  *) echo "fno_burgers.sh: invalid --normalizer '$normalizer'; expected none or channel" >&2; exit 2 ;;
esac
page="$page$suffix"
if [[ $schedule == cosine && $with_reference -eq 1 ]]; then
  echo "fno_burgers.sh: --with-neuraloperator runs the step schedule only; drop one of the two options" >&2
  exit 2
fi

scripts/setup.sh build
neurop=build/apps/neurop
work=runs/reproduce/fno_burgers
model="$work/fno$suffix.h5"
[[ $schedule == step ]] || model="$work/fno_$schedule$suffix.h5"
results=docs/results
mkdir -p "$work" "$results"
data="$work/burgers${suffix%_channel}.h5"
resolutions=256,512,1024,2048,4096,8192

if [[ ! -f "$data" ]]; then
  "$neurop" generate burgers --samples 1100 --resolution 8192 --seed 0 $generator_options \
    --threads "$threads" --out "$data"
fi

start=$(date +%s)
"$neurop" train --data "$data" --ntrain 1000 --ntest 100 --resolution 1024 --epochs "$epochs" \
  --batch-size 20 --lr 1e-3 --weight-decay 1e-4 $schedule_options --normalizer "$normalizer" \
  --evaluate-every 25 --log-every 25 --threads "$threads" --checkpoint "$model" | tee "$work/train_$schedule$suffix.log"
neurop_seconds=$(($(date +%s) - start))
"$neurop" evaluate --checkpoint "$model" --data "$data" --ntest 100 --resolutions "$resolutions" \
  --threads "$threads" --out "$work/neurop_$schedule$suffix.json"

reference_json=""
reference_seconds=""
if [[ $with_reference -eq 1 ]]; then
  bench/pytorch/setup_venv.sh
  start=$(date +%s)
  bench/.venv/bin/python bench/reproduce/neuraloperator_burgers.py --train "$data" --test "$data" \
    --ntrain 1000 --ntest 100 --resolution 1024 --epochs "$epochs" --batch 20 --lr 1e-3 \
    --step 100 --gamma 0.5 --weight-decay 1e-4 --normalizer "$normalizer" --threads "$threads" \
    --eval-resolutions "$resolutions" --out "$work/neuraloperator$suffix.json"
  reference_seconds=$(($(date +%s) - start))
  reference_json="$work/neuraloperator$suffix.json"
fi

python3 - "$work/neurop_$schedule$suffix.json" "$neurop_seconds" "$epochs" "$threads" "$reference_json" \
  "$reference_seconds" "$schedule" "$parameters" "$normalizer" > "$results/$page.md.tmp" <<'PYTHON'
import json, platform, subprocess, sys

(neurop_file, neurop_seconds, epochs, threads, reference_file, reference_seconds, schedule, parameters,
 normalizer) = sys.argv[1:10]
ours = {r["resolution"]: r["relative_l2"] for r in json.load(open(neurop_file))["results"]}
reference = {}
reference_info = {}
if reference_file:
    data = json.load(open(reference_file))
    reference_info = data
    reference = {int(resolution): error for resolution, error in data["test_relative_l2"].items()}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
print("# FNO on 1D Burgers: test relative L2 error by resolution\n")
decay = "x0.5 every 100 epochs" if schedule == "step" else "cosine annealing to 0 over all epochs"
print(f"Setting of the FNO paper: 1000 training and 100 test samples, trained at s = 1024 for {epochs} epochs "
      f"(Adam, lr 1e-3, weight decay 1e-4, {decay}, batch 20), width 64, 16 modes, 4 layers. "
      + ("" if schedule == "step" else "The paper halves the rate every 100 epochs instead. ") +
      "Data from `neurop generate burgers` (seed 0, 8192-point solver grid). "
      + ("" if parameters == "paper" else "The generator ran with the parameters of the neuraloperator "
         "repository's data-generation script `data_generation/burgers/gen_burgers1.m`: nu = 1e-3 and "
         "u0 ~ N(0, 49^2 (-Laplacian + 49 I)^(-2.5)). The paper states nu = 0.1 and "
         "u0 ~ N(0, 625 (-Laplacian + 25 I)^(-2)). ") + "The errors are means over the "
      "100 test samples of ||u_pred - u|| / ||u|| on the evaluation grid, without retraining. "
      + ("Inputs and outputs are normalised per channel: shifted and scaled by the mean and "
         "standard deviation of the training set, with the network's output scaled back before "
         "the loss (`--normalizer channel`, in each code shown). The paper's code uses the data "
         "as they are.\n"
         if normalizer == "channel" else
         "The data are used as they are, without normalisation, as in the paper's code.\n"))
header = "| resolution | neurop |" + (" neuraloperator |" if reference else "")
print(header)
print("|---:|---:|" + ("---:|" if reference else ""))
for resolution in sorted(ours):
    row = f"| {resolution} | {ours[resolution]:.5f} |"
    if reference:
        value = reference.get(resolution)
        row += f" {value:.5f} |" if value is not None else " - |"
    print(row)
print()
at_1024 = ours.get(1024)
if at_1024 is not None:
    spread = max(abs(error / at_1024 - 1) for error in ours.values())
    verdict = "met" if at_1024 <= 0.0025 and spread <= 0.2 else "not met"
    print(f"Target (at most 0.0025 at s = 1024 and within 20% of that error at every other resolution): "
          f"{verdict}; largest deviation from the s = 1024 error: {100 * spread:.1f}%.\n")
thread_words = "1 thread" if threads == "1" else f"{threads} threads"
print(f"- neurop training time: {int(neurop_seconds) / 60:.1f} min for {epochs} epochs on {thread_words}.")
if reference:
    print(f"- neuraloperator training time: {int(reference_seconds) / 60:.1f} min "
          f"(neuraloperator {reference_info.get('neuraloperator_version', '?')}, torch "
          f"{reference_info.get('environment', {}).get('torch_version', '?')}).")
print(f"- Machine: {cpu}, {thread_words}; Linux {platform.release()}.")
print("- Command: `bench/reproduce/fno_burgers.sh" + (" --with-neuraloperator" if reference else "") +
      (f" --epochs {epochs}" if epochs != "500" else "") + (f" --schedule {schedule}" if schedule != "step" else "") +
      (f" --threads {threads}" if threads != "2" else "") +
      (f" --parameters {parameters}" if parameters != "paper" else "") +
      (f" --normalizer {normalizer}" if normalizer != "none" else "") + "`")
PYTHON
mv "$results/$page.md.tmp" "$results/$page.md"
cat "$results/$page.md"
