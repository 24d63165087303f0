#!/usr/bin/env bash
# Sets up (see scripts/setup.sh), builds the unit suites twice, once optimised with
# warnings as errors and once with AddressSanitizer and UBSan, runs every suite of
# both builds and ends with the line "N passed, N failed" (doctest test cases).
#
#   scripts/test.sh            all suites, both builds
#   NEUROP_SKIP_SANITIZE=1 scripts/test.sh   optimised build only
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build-test -Dwerror=true || { echo "0 passed, 1 failed"; exit 1; }

builds=(build-test)
if [[ "${NEUROP_SKIP_SANITIZE:-0}" != 1 ]]; then
  if [[ ! -f build-asan/build.ninja ]]; then
    meson setup build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbenchmarks=disabled -Dnative_arch=true >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
  fi
  ninja -C build-asan || { echo "0 passed, 1 failed"; exit 1; }
  builds+=(build-asan)
fi

passed=0
failed=0
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# halt_on_error keeps the first report readable; detect_leaks needs ptrace, absent in some sandboxes.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log_dir=$(mktemp -d)
for build in "${builds[@]}"; do
  for suite in "$build"/tests/test_*; do
    [[ -f "$suite" && -x "$suite" ]] || continue
    name="$build/$(basename "$suite")"
    log="$log_dir/$(basename "$build")-$(basename "$suite").log"
    start=$(date +%s)
    "$suite" --no-colors=true >"$log" 2>&1
    status=$?
    summary=$(grep -E "^\[doctest\] test cases:" "$log" | tail -n 1)
    if [[ -z "$summary" ]]; then
      echo "$name: crashed or printed no summary (exit $status); log follows"
      tail -n 40 "$log"
      failed=$((failed + 1))
      continue
    fi
    ok=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$summary")
    bad=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$summary")
    passed=$((passed + ok))
    failed=$((failed + bad))
    echo "$name: $ok passed, $bad failed ($(($(date +%s) - start)) s)"
    if [[ $bad -ne 0 || $status -ne 0 ]]; then
      grep -E "ERROR|error|FAILED|runtime error" "$log" | head -n 40
      [[ $bad -eq 0 ]] && failed=$((failed + 1))
    fi
  done
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
