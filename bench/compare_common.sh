# Functions shared by bench/compare_fno1d.sh and bench/compare_fno2d.sh, which source this
# file after setting the defaults `script` (their name), `rounds`, `threads`, `out`,
# `build` and `usage` (the options they accept, for the error message).

# Reads --rounds N, --threads N, --out DIR and --build DIR into the variables of the same
# names. Any other option goes to compare_extra_option OPTION VALUE when the caller
# defines that function. An option that it does not accept (returns 1) stops the script
# with exit code 2.
compare_parse_options() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --rounds) rounds="$2"; shift 2 ;;
      --threads) threads="$2"; shift 2 ;;
      --out) out="$2"; shift 2 ;;
      --build) build="$2"; shift 2 ;;
      *)
        if declare -F compare_extra_option >/dev/null && compare_extra_option "$1" "${2-}"; then
          shift 2
        else
          echo "$script: unknown option '$1'; expected $usage" >&2
          exit 2
        fi ;;
    esac
  done
}

# Checks for the benchmark binary $build/bench/$1 and the PyTorch environment (created
# by bench/pytorch/setup_venv.sh when missing), creates $out and sets the thread
# variables of OpenMP and MKL. Sets `binary` and `python`.
compare_prepare() {
  binary="$build/bench/$1"
  if [[ ! -x "$binary" ]]; then
    echo "$script: $binary is missing; build it with: meson setup $build && ninja -C $build bench/$1" >&2
    exit 2
  fi
  python="$repo_root/bench/.venv/bin/python"
  [[ -x "$python" ]] || "$repo_root/bench/pytorch/setup_venv.sh"
  mkdir -p "$out"
  export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"
}

# Calls the caller's run_neurop ROUND and run_torch ROUND in turn for each round, so
# that load from other processes falls on both alike.
compare_alternate() {
  local round
  for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds: neurop" >&2
    run_neurop "$round"
    echo "round $round of $rounds: PyTorch" >&2
    run_torch "$round"
  done
}
