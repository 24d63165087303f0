#!/usr/bin/env bash
# Reproduces the DeepONet experiments of docs/results/deeponet.md with the neurop program.
#
# Antiderivative ds/dx = u(x), s(0) = 0 on [0, 1], the setting of the DeepONet paper (Lu et
# al., Nature Machine Intelligence 3, 2021) and of DeepXDE's examples/operator
# antiderivative_aligned.py and antiderivative_unaligned.py: u from a Gaussian random field
# with RBF length scale 0.2 sampled at m = 100 sensors, branch [100, 40, 40], trunk
# [1, 40, 40], ReLU, Glorot-normal weights, Adam with learning rate 1e-3, full-batch steps.
#   aligned     150 training functions x 100 shared points, STEPS steps, 1000 test functions
#   unaligned   10000 training triples (u, x, s(x)) with one random x each, STEPS steps,
#               100000 test triples
#   sizes       the aligned setting with 10 ... 2000 training functions (test MSE against
#               the training-set size, plotted)
#   extended    2000 training functions, EXTENDED steps with a cosine learning-rate decay,
#               aimed at the test MSE target of 1e-6
# Then the gravity pendulum (two outputs), diffusion-reaction (two query coordinates) and the
# physics-informed antiderivative trained on the equation alone (no solution values). With
# --with-burgers also DeepONet with a periodic Fourier-feature trunk on the Burgers data of
# `neurop generate burgers` beside an FNO trained on the same file.
#
# Usage: bench/reproduce/deeponet.sh [--build DIR] [--threads N] [--steps N] [--extended-steps N]
#                                    [--piece N] [--pause-file FILE] [--with-burgers]
#                                    [--fno-epochs N] [--with-deepxde] [--quick] [--work DIR]
#                                    [--parts LIST]
#   --build DIR          build folder with apps/neurop (default: build, set up by scripts/setup.sh)
#   --threads N          threads per training run (default 1). On a shared 2-core machine,
#                        runs with 2 threads were slower. The results do not depend on it.
#   --steps N            steps of the DeepXDE settings, the size sweep, pendulum and
#                        diffusion-reaction (default 10000, as DeepXDE's examples)
#   --extended-steps N   steps of the extended antiderivative run (default 100000); the
#                        physics-informed run takes 2 x --steps
#   --piece N            train in pieces of at most N steps, each a separate `neurop train`
#                        continuing the last one's checkpoint (default 2000)
#   --pause-file FILE    before each piece and each data set, wait while FILE exists (for a
#                        shared machine where timings are taken)
#   --with-burgers       also run DeepONet and the FNO on Burgers data
#   --fno-epochs N       epochs of the FNO trained on the Burgers data (default 100)
#   --with-deepxde       also train DeepXDE (bench/.venv) in the two DeepXDE settings
#   --quick              a smoke run with 1/20 of the steps; its numbers are not the results
#   --parts LIST         comma-separated subset of aligned, extended, sizes, physics, pendulum,
#                        reaction, unaligned, or none (default: all). Two runs with disjoint parts and the
#                        same --work folder can share a machine; the last to finish writes the
#                        complete report
#   --work DIR           folder for data, checkpoints, logs and JSON (default
#                        runs/reproduce/deeponet, or runs/reproduce/deeponet-quick with --quick)
# Writes the --work folder and, unless --quick,
# docs/results/deeponet.md and docs/results/deeponet_training_size.png. Runs whose JSON
# report exists are not repeated; delete the folder to start over.
set -euo pipefail
invocation="bench/reproduce/deeponet.sh $*"
cd "$(dirname "$0")/../.."

build=build
threads=1
steps=10000
extended_steps=100000
piece=2000
pause_file=
with_burgers=0
with_deepxde=0
quick=0
fno_epochs=100
work=
parts=aligned,extended,sizes,physics,pendulum,reaction,unaligned
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --extended-steps) extended_steps="$2"; shift 2 ;;
    --piece) piece="$2"; shift 2 ;;
    --pause-file) pause_file="$2"; shift 2 ;;
    --with-burgers) with_burgers=1; shift ;;
    --fno-epochs) fno_epochs="$2"; shift 2 ;;
    --with-deepxde) with_deepxde=1; shift ;;
    --quick) quick=1; shift ;;
    --work) work="$2"; shift 2 ;;
    --parts) parts="$2"; shift 2 ;;
    *) echo "deeponet.sh: unknown option '$1'; see the usage at the top of $0" >&2
       exit 2 ;;
  esac
done

if [[ "$build" == build ]]; then scripts/setup.sh build; fi
neurop="$build/apps/neurop"
if [[ ! -x "$neurop" ]]; then
  echo "deeponet.sh: $neurop not found; build it first (scripts/setup.sh $build)" >&2
  exit 1
fi
if [[ -z "$work" ]]; then
  work=runs/reproduce/deeponet
  [[ $quick -eq 1 ]] && work=runs/reproduce/deeponet-quick
fi
if [[ $quick -eq 1 ]]; then
  steps=$((steps / 20))
  extended_steps=$((extended_steps / 20))
fi
for part in ${parts//,/ }; do
  case "$part" in
    aligned | extended | sizes | physics | pendulum | reaction | unaligned | none) ;;
    *) echo "deeponet.sh: unknown part '$part' in --parts; expected aligned, extended, sizes, physics," \
            "pendulum, reaction, unaligned or none" >&2
       exit 2 ;;
  esac
done
mkdir -p "$work"
# The report needs matplotlib (bench/.venv has it); PYTHON overrides the interpreter.
python=${PYTHON:-python3}
if [[ -z "${PYTHON:-}" && -x bench/.venv/bin/python ]]; then python=bench/.venv/bin/python; fi

# Succeeds when part $1 was selected with --parts.
selected() { [[ ",$parts," == *",$1,"* ]]; }

# Waits while the --pause-file exists.
wait_for_quiet() {
  [[ -z "$pause_file" ]] && return 0
  while [[ -e "$pause_file" ]]; do sleep 20; done
}

# Runs `neurop generate ...` unless the output file exists.
generate() {
  local out="$1"
  shift
  [[ -f "$out" ]] && return 0
  wait_for_quiet
  echo "generating $out"
  "$neurop" generate "$@" --threads "$threads" --out "$out" > "$out.log" 2>&1 || { tail -n 20 "$out.log" >&2; return 1; }
}

# The value after option $1 in the remaining arguments.
option_value() {
  local name="$1"
  shift
  while [[ $# -gt 1 ]]; do
    [[ "$1" == "$name" ]] && { echo "$2"; return 0; }
    shift
  done
  return 1
}

# train NAME [neurop train options...]: trains in pieces of at most --piece epochs. Each piece
# resumes the previous checkpoint, and the learning-rate schedule spans all --epochs. Then it
# evaluates with `$test_option FILE --ntest N`, where $test_option is --test (the first N
# samples of a test file) or --data (the last N of the training file). $work/NAME.json gets
# the test errors, the training seconds and the options.
train() {
  local name="$1"
  shift
  if [[ -f "$work/$name.json" ]]; then
    echo "$work/$name.json exists; skipping $name"
    return 0
  fi
  local epochs
  epochs=$(option_value --epochs "$@")
  local seconds=0 done_epochs=0 stop start
  rm -f "$work/$name.h5" "$work/$name.log"
  while [[ $done_epochs -lt $epochs ]]; do
    stop=$((done_epochs + piece < epochs ? done_epochs + piece : epochs))
    local resume=()
    [[ $done_epochs -gt 0 ]] && resume=(--resume "$work/$name.h5")
    wait_for_quiet
    start=$EPOCHREALTIME
    "$neurop" train "$@" --stop-epoch "$stop" "${resume[@]}" --threads "$threads" --checkpoint "$work/$name.h5" \
      >> "$work/$name.log" 2>&1 || { tail -n 20 "$work/$name.log" >&2; return 1; }
    seconds=$(echo "$seconds + $EPOCHREALTIME - $start" | bc)
    done_epochs=$stop
  done
  wait_for_quiet
  "$neurop" evaluate --checkpoint "$work/$name.h5" "$test_option" "$test_file" --ntest "$ntest" \
    --threads "$threads" --batch-size 1000 --out "$work/$name.eval.json" > "$work/$name.evaluate.log" 2>&1
  "$python" - "$work/$name.eval.json" "$work/$name.json" "$seconds" "$*" <<'PYTHON'
import json, sys
source, target, seconds, command = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
report = json.load(open(source))
report.update({"train_seconds": seconds, "train_options": command})
json.dump(report, open(target, "w"), indent=2)
print(f"{target}: test MSE {report['mse']:.3e}, relative L2 {report['relative_l2']:.3e}, {seconds:.0f} s")
PYTHON
}
test_option=--test

model="--branch 40,40 --trunk 40,40 --activation relu --lr 1e-3"

# ---- antiderivative data: independent seeds for training and test functions ----
generate "$work/anti_train.h5" antiderivative --samples 2000 --sensors 100 --queries 100 --length-scale 0.2 --seed 1
generate "$work/anti_test.h5" antiderivative --samples 1000 --sensors 100 --queries 100 --length-scale 0.2 --seed 2

test_file="$work/anti_test.h5"
ntest=1000
selected aligned && train aligned --train "$work/anti_train.h5" --test "$test_file" --ntrain 150 --ntest "$ntest" --epochs "$steps" $model
selected extended && train extended --train "$work/anti_train.h5" --test "$test_file" --ntrain 2000 --ntest "$ntest" \
  --epochs "$extended_steps" --schedule cosine --evaluate-every 2000 $model
for size in 10 20 50 100 300 1000 2000; do
  selected sizes || break
  train "size_$size" --train "$work/anti_train.h5" --test "$test_file" --ntrain "$size" --ntest "$ntest" \
    --epochs "$steps" $model
done

# ---- physics-informed antiderivative: the loss reads the branch inputs only ----
selected physics && train physics --train "$work/anti_train.h5" --test "$test_file" --ntrain 1000 --ntest "$ntest" \
  --epochs "$((2 * steps))" --physics antiderivative --branch 40,40 --trunk 40,40 --activation tanh --lr 1e-3 \
  --schedule cosine --evaluate-every 2000

# ---- pendulum (outputs s1, s2 split over the trunk) and diffusion-reaction ----
if selected pendulum; then
  generate "$work/pendulum_train.h5" pendulum --samples 1000 --sensors 100 --queries 100 --seed 5
  generate "$work/pendulum_test.h5" pendulum --samples 1000 --sensors 100 --queries 100 --seed 6
  test_file="$work/pendulum_test.h5"
  ntest=1000
  train pendulum --train "$work/pendulum_train.h5" --test "$test_file" --ntrain 1000 --ntest "$ntest" \
    --epochs "$steps" $model
fi

if selected reaction; then
  generate "$work/reaction_train.h5" diffusion-reaction --samples 1000 --sensors 100 --query-x 21 --query-t 21 \
    --seed 7
  generate "$work/reaction_test.h5" diffusion-reaction --samples 200 --sensors 100 --query-x 21 --query-t 21 --seed 8
  test_file="$work/reaction_test.h5"
  ntest=200
  train reaction --train "$work/reaction_train.h5" --test "$test_file" --ntrain 1000 --ntest "$ntest" \
    --epochs "$steps" --branch 100,100 --trunk 100,100 --activation relu --lr 1e-3
fi

# ---- antiderivative with one random query point per function (DeepXDE's unaligned setting) ----
if selected unaligned; then
  generate "$work/anti_unaligned_train.h5" antiderivative --samples 10000 --sensors 100 --layout aligned --queries 1 \
    --length-scale 0.2 --seed 3
  generate "$work/anti_unaligned_test.h5" antiderivative --samples 100000 --sensors 100 --layout aligned \
    --queries 1 --length-scale 0.2 --seed 4
  test_file="$work/anti_unaligned_test.h5"
  ntest=100000
  train unaligned --train "$work/anti_unaligned_train.h5" --test "$test_file" --ntrain 10000 --ntest "$ntest" \
    --epochs "$steps" --evaluate-every 2000 $model
fi

# ---- Burgers: DeepONet with a periodic trunk beside the FNO on the same test set ----
# Both train on the first 1000 samples of one file and are tested on its last 100.
if [[ $with_burgers -eq 1 ]]; then
  generate "$work/burgers.h5" burgers --samples 1100 --resolution 256 --fine-resolution 1024 --seed 0
  test_option=--data
  test_file="$work/burgers.h5"
  ntest=100
  train burgers_deeponet --data "$work/burgers.h5" --ntrain 1000 --ntest 100 --model deeponet --epochs "$steps" \
    --batch-size 100 --branch 128,128 --trunk 128,128 --fourier-modes 16 --activation relu --lr 1e-3 \
    --loss relative-l2 --schedule cosine --evaluate-every 1000
  if [[ ! -f "$work/burgers_fno.json" ]]; then
    wait_for_quiet
    start=$EPOCHREALTIME
    "$neurop" train --data "$work/burgers.h5" --ntrain 1000 --ntest 100 --model fno --epochs "$fno_epochs" \
      --batch-size 20 --lr 1e-3 --weight-decay 1e-4 --schedule step --step-size "$(( (fno_epochs + 4) / 5 ))" \
      --gamma 0.5 --evaluate-every 10 --log-every 10 --threads "$threads" --checkpoint "$work/burgers_fno.h5" \
      > "$work/burgers_fno.log" 2>&1
    echo "$EPOCHREALTIME - $start" | bc > "$work/burgers_fno_seconds.txt"
    "$neurop" evaluate --checkpoint "$work/burgers_fno.h5" --data "$work/burgers.h5" --ntest 100 \
      --threads "$threads" --out "$work/burgers_fno.json" > "$work/burgers_fno.evaluate.log" 2>&1
  fi
fi

# ---- DeepXDE in the two settings of its examples, on the same files ----
if [[ $with_deepxde -eq 1 ]]; then
  bench/pytorch/setup_venv.sh
  wait_for_quiet
  bench/.venv/bin/python bench/reproduce/deeponet_deepxde.py --train "$work/anti_train.h5" \
    --test "$work/anti_test.h5" --ntrain 150 --ntest 1000 --iterations "$steps" --threads "$threads" \
    --out "$work/deepxde_aligned.json" > "$work/deepxde_aligned.log" 2>&1
  wait_for_quiet
  bench/.venv/bin/python bench/reproduce/deeponet_deepxde.py --train "$work/anti_unaligned_train.h5" \
    --test "$work/anti_unaligned_test.h5" --ntrain 10000 --ntest 100000 --iterations "$steps" \
    --threads "$threads" --out "$work/deepxde_unaligned.json" > "$work/deepxde_unaligned.log" 2>&1
fi

if [[ $quick -eq 0 ]]; then
  mkdir -p docs/results
  "$python" bench/reproduce/deeponet_report.py --work "$work" --threads "$threads" --fno-epochs "$fno_epochs" \
    --command "$invocation" --markdown docs/results/deeponet.md --plot docs/results/deeponet_training_size.png
fi
