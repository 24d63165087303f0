#!/usr/bin/env bash
# The main job on built-in defaults: sets everything up, generates the FNO Burgers
# benchmark data (1100 samples solved on 8192 points), trains the FNO at s = 1024 on
# the first 1000 samples and reports the test error of the last 100 samples at
# s = 256 ... 8192. Outputs go to ./runs/burgers/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build

out=runs/burgers
mkdir -p "$out"
neurop=build/apps/neurop

if [[ ! -f "$out/burgers.h5" ]]; then
  "$neurop" generate burgers --samples 1100 --resolution 8192 --seed 0 --out "$out/burgers.h5"
fi

"$neurop" train --data "$out/burgers.h5" --ntrain 1000 --ntest 100 --resolution 1024 \
  --epochs "${NEUROP_DEMO_EPOCHS:-60}" --batch-size 20 --lr 1e-3 --schedule cosine --weight-decay 1e-4 \
  --evaluate-every 10 --log-every 5 --checkpoint "$out/fno.h5"

"$neurop" evaluate --checkpoint "$out/fno.h5" --data "$out/burgers.h5" --ntest 100 \
  --resolutions 256,512,1024,2048,4096,8192 --out "$out/errors.json" --markdown "$out/errors.md"
