#!/usr/bin/env bash
# Darcy flow with FNO-2D and MgNO: generates 1000 training and 100 test samples per grid
# size (solved on 421 x 421 points and subsampled), trains both models, evaluates them on
# the test samples and draws one test sample. Results go to $OUT:
#   darcy_s<s>.h5                        data (neurop grid data-set layout)
#   <model>_s<s>.h5, <model>_s<s>.log    checkpoint and training log
#   <model>_s<s>_eval.json               test relative L2 error (neurop evaluate --out)
#   <model>_s<s>_predictions.h5          first test samples with predictions
#   darcy_s<s>.png                       coefficient, solution, prediction, error
#   summary.json                         errors, parameter counts, seconds per epoch
#
# Environment (defaults in brackets):
#   NEUROP [build/apps/neurop]  OUT [runs/darcy]  SIZES ["85 141"]  THREADS [2]
#   NTRAIN [1000]  NTEST [100]  MODELS ["fno mgno"] (set but empty: only generate the data)
#   PARALLEL [0]: 1 trains the models of one size at the same time (give each THREADS=1
#     on a 2-core machine; two single-threaded runs lose less to a loaded machine than
#     one run whose two OpenMP threads wait for each other)
#   FNO_EPOCHS [500]   FNO_LR [1e-3]    step schedule halving the rate every FNO_EPOCHS / 5
#                                       epochs (the FNO paper: 500 epochs, every 100)
#   FNO_SCHEDULE [step]: step as above, or cosine (from FNO_LR down to 0 over FNO_EPOCHS)
#   MGNO_EPOCHS [500]  MGNO_LR [3e-4]   one-cycle schedule (the MgNO code's Darcy run)
#   FNO_EPOCHS_<s>, MGNO_EPOCHS_<s>: the epoch count for grid size s only (e.g. FNO_EPOCHS_141)
#   PYTHON [bench/.venv/bin/python] for the picture and summary; skipped when it is missing.
#   PAUSE_FILE [unset]: while this file exists, every generation and training run is
#     stopped (SIGSTOP) and resumes (SIGCONT) once it is gone, checked every 10 s, so
#     that timings taken meanwhile on the same machine are not disturbed.
# docs/results/darcy.md states the schedule of the reported runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

NEUROP=${NEUROP:-build/apps/neurop}
OUT=${OUT:-runs/darcy}
SIZES=${SIZES:-"85 141"}
THREADS=${THREADS:-2}
NTRAIN=${NTRAIN:-1000}
NTEST=${NTEST:-100}
MODELS=${MODELS-"fno mgno"}
PARALLEL=${PARALLEL:-0}
FNO_EPOCHS=${FNO_EPOCHS:-500}
FNO_LR=${FNO_LR:-1e-3}
FNO_SCHEDULE=${FNO_SCHEDULE:-step}
MGNO_EPOCHS=${MGNO_EPOCHS:-500}
MGNO_LR=${MGNO_LR:-3e-4}
PYTHON=${PYTHON:-bench/.venv/bin/python}

PAUSE_FILE=${PAUSE_FILE:-}

case $FNO_SCHEDULE in
  step | cosine) ;;
  *) echo "FNO_SCHEDULE=$FNO_SCHEDULE is invalid; use step or cosine" >&2; exit 1 ;;
esac
[[ -x $NEUROP ]] || { echo "neurop program not found at $NEUROP; build it or set NEUROP" >&2; exit 1; }

# Runs a command; while $PAUSE_FILE exists the command is stopped. Returns its status.
run_pausable() {
  "$@" &
  local pid=$! stopped=0
  while kill -0 "$pid" 2>/dev/null; do
    if [[ -n $PAUSE_FILE && -e $PAUSE_FILE && $stopped == 0 ]]; then
      echo "== $PAUSE_FILE exists: pausing process $pid" >&2
      kill -STOP "$pid" 2>/dev/null || true
      stopped=1
    elif [[ $stopped == 1 && ! -e $PAUSE_FILE ]]; then
      echo "== $PAUSE_FILE is gone: resuming process $pid" >&2
      kill -CONT "$pid" 2>/dev/null || true
      stopped=0
    fi
    sleep 10
  done
  wait "$pid"
}
mkdir -p "$OUT"

# FNO-2D as in the FNO paper's Darcy runs: width 32, 12 x 12 modes, 4 layers, projection
# 128, pointwise Gaussian normalisation of a and u, relative L2 loss on decoded outputs,
# Adam with weight decay 1e-4, batch 20, the rate halved every ceil(epochs / 5) epochs, and 9
# zero points of padding at s = 85 (a fraction 9/85 of each axis at every size).
# FNO_SCHEDULE=cosine replaces the halving with a cosine decay over all epochs.
fno_options() {
  local epochs=$1 schedule="--schedule cosine"
  if [[ $FNO_SCHEDULE == step ]]; then
    schedule="--schedule step --step-size $(((epochs + 4) / 5)) --gamma 0.5"
  fi
  echo "--model fno --width 32 --modes 12 --layers 4 --projection-width 128 --padding 0.10588 \
    --normalizer pointwise --loss relative-l2 --optimizer adam --lr $FNO_LR --weight-decay 1e-4 \
    --batch-size 20 $schedule --epochs $epochs"
}

# MgNO as in the authors' Darcy script: 5 layers of width 24, pre-smoothing 1,1,1,2,2 on
# 5 levels, zero padding (Dirichlet), GELU and the H1 loss. Training uses Adam with
# weight decay 1e-4, batch 8 and a one-cycle rate (20% warm-up, div factor 2, final div
# factor 100). a and u get pointwise Gaussian normalisation, as for the FNO.
mgno_options() {
  local epochs=$1
  echo "--model mgno --width 24 --layers 5 --pre-smoothing 1,1,1,2,2 --padding-mode zeros \
    --normalizer pointwise --loss h1 --optimizer adam --lr $MGNO_LR --weight-decay 1e-4 --batch-size 8 \
    --schedule onecycle --pct-start 0.2 --div-factor 2 --final-div-factor 100 --epochs $epochs"
}

# Trains and evaluates one model on one data file.
run_model() {
  local model=$1 s=$2 data=$3
  local name="${model}_s$s"
  local epochs_name="${model^^}_EPOCHS_$s" default_name="${model^^}_EPOCHS"
  local epochs=${!epochs_name:-${!default_name}}
  echo "== training $name for $epochs epochs"
  # shellcheck disable=SC2046  # the option string is a word list on purpose
  run_pausable "$NEUROP" train --data "$data" --ntrain "$NTRAIN" --ntest "$NTEST" $("${model}_options" "$epochs") --seed 0 \
    --threads "$THREADS" --evaluate-every 5 --checkpoint-every 5 --log-every 1 \
    --checkpoint "$OUT/$name.h5" >"$OUT/$name.log" 2>&1
  run_pausable "$NEUROP" evaluate --checkpoint "$OUT/$name.h5" --data "$data" --ntest "$NTEST" --threads "$THREADS" \
    --out "$OUT/${name}_eval.json" --save-predictions "$OUT/${name}_predictions.h5" --prediction-samples 4 \
    >>"$OUT/$name.log" 2>&1
  echo "== $name done: $(tail -n 1 "$OUT/$name.log")"
}

for s in $SIZES; do
  data="$OUT/darcy_s$s.h5"
  if [[ ! -f $data ]]; then
    echo "== generating $((NTRAIN + NTEST)) Darcy samples at s = $s"
    run_pausable "$NEUROP" generate darcy --samples $((NTRAIN + NTEST)) --solve-resolution 421 --resolution "$s" --seed 0 \
      --threads "$THREADS" --out "$data"
  fi
  pids=()
  for model in $MODELS; do
    if [[ $PARALLEL == 1 ]]; then
      run_model "$model" "$s" "$data" &
      pids+=($!)
    else
      run_model "$model" "$s" "$data"
    fi
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || { echo "a training run for s = $s failed; see the logs in $OUT" >&2; exit 1; }
  done
  if [[ -x $PYTHON && -n $MODELS ]]; then
    rows=()
    for model in $MODELS; do
      label=$([[ $model == fno ]] && echo "FNO-2D" || echo "MgNO")
      rows+=("$label=$OUT/${model}_s${s}_predictions.h5")
    done
    "$PYTHON" bench/reproduce/darcy_plot.py --sample 0 --out "$OUT/darcy_s$s.png" "${rows[@]}"
  fi
done

if [[ -x $PYTHON && -n $MODELS ]]; then
  "$PYTHON" bench/reproduce/darcy_summary.py --out "$OUT/summary.json" "$OUT"
fi
