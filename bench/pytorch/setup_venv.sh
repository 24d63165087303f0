#!/usr/bin/env bash
# Create the Python environment of the PyTorch peer benchmarks (default: bench/.venv).
#
# Preferred source: PyPI. `pip install torch` on Linux x86_64 brings the CUDA build of torch with
# its nvidia-* and triton wheels. The wheel cannot be imported without them (libcufile.so.0 is
# missing), but it runs on the CPU with MKL and no GPU. Also installed: numpy, h5py,
# neuraloperator and deepxde. With torch 2.15.0 the venv takes 5.9 GB, and the install took
# 75 s for torch and 27 s for the rest on the 2-core development machine.
#
# Fallback, used when the PyPI install fails or --debian is given: Debian's python3-torch with
# libopenblas0-openmp (apt-get, needs root), python3-numpy and python3-h5py, seen through a venv
# made with /usr/bin/python3 --system-site-packages. neuraloperator and deepxde are not
# installed there, because deepxde's PyTorch backend needs torch >= 2.0 and Debian 12 has 1.13.1.
# Debian's OpenBLAS 0.3.21 does not recognise this CPU, so the benchmark scripts export
# OPENBLAS_CORETYPE=SKYLAKEX when they run on Debian's torch (see bench_common.py).
#
# Running it again does nothing when the environment already imports everything it should.
#
# Usage: bench/pytorch/setup_venv.sh [--venv DIR] [--debian]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$repo_root/bench/.venv"
force_debian=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --venv)
      venv="$2"
      shift 2
      ;;
    --debian)
      force_debian=1
      shift
      ;;
    -h | --help)
      sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup_venv.sh: unknown option '$1'; expected --venv DIR or --debian" >&2
      exit 2
      ;;
  esac
done

pypi_packages=(torch numpy h5py neuraloperator deepxde)
pypi_modules="torch,numpy,h5py,neuralop,deepxde"
debian_modules="torch,numpy,h5py"
# Space that the PyPI install needs, in GiB, measured for torch 2.15.0 plus the other packages.
pypi_disk_gib=7

# Imports the comma-separated modules in the venv, runs a matmul and an FFT on the CPU and
# prints where torch came from. Fails when any step fails.
check_environment() {
  local modules="$1"
  [[ -x "$venv/bin/python" ]] || return 1
  OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SKYLAKEX}" DDE_BACKEND=pytorch "$venv/bin/python" - "$modules" <<'EOF'
import importlib
import sys

for name in sys.argv[1].split(","):
    importlib.import_module(name)

import torch

x = torch.randn(64, 64)
assert torch.isfinite(x @ x).all()
assert torch.fft.rfft(x).shape == (64, 33)
print(f"torch {torch.__version__} from {torch.__file__}")
EOF
}

# Succeeds when the venv's torch is Debian's python3-torch.
uses_debian_torch() {
  check_environment torch 2> /dev/null | grep -q ' from /usr/lib/python3/'
}

if [[ $force_debian -eq 0 ]] && found="$(check_environment "$pypi_modules" 2> /dev/null)" &&
  [[ "$found" != *" from /usr/lib/python3/"* ]]; then
  echo "setup_venv.sh: $venv already has the PyPI packages: $found"
  exit 0
fi
if [[ $force_debian -eq 1 ]] && found="$(check_environment "$debian_modules" 2> /dev/null)" &&
  [[ "$found" == *" from /usr/lib/python3/"* ]]; then
  echo "setup_venv.sh: $venv already uses Debian's torch: $found"
  exit 0
fi

# Each step returns a failure status itself, because errexit does not apply inside a function
# that is called as an `if` condition.
install_from_pypi() {
  local parent free_gib
  parent="$(dirname "$venv")"
  mkdir -p "$parent" || return 1
  free_gib=$(($(df --output=avail -k "$parent" | tail -n 1) / 1024 / 1024))
  if ((free_gib < pypi_disk_gib)); then
    echo "setup_venv.sh: $parent has ${free_gib} GiB free, the PyPI install needs about ${pypi_disk_gib} GiB" >&2
    return 1
  fi

  if [[ -x "$venv/bin/python" ]] && uses_debian_torch; then
    rm -rf "$venv" || return 1
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup_venv.sh: creating $venv"
    python3 -m venv "$venv" || return 1
  fi
  echo "setup_venv.sh: installing ${pypi_packages[*]} from PyPI into $venv"
  "$venv/bin/python" -m pip install "${pypi_packages[@]}" || return 1
  check_environment "$pypi_modules" || return 1
}

install_from_debian() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup_venv.sh: the Debian fallback runs apt-get and needs root" >&2
    return 1
  fi
  echo "setup_venv.sh: installing Debian's python3-torch with libopenblas0-openmp"
  apt-get update || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    python3-torch libopenblas0-openmp python3-numpy python3-h5py python3-venv || return 1
  rm -rf "$venv" || return 1
  /usr/bin/python3 -m venv --system-site-packages "$venv" || return 1
  check_environment "$debian_modules" || return 1
  echo "setup_venv.sh: neuraloperator and deepxde are not available with Debian's torch 1.13;" \
    "reproduce/neuraloperator_burgers.py and deeponet_bench.py --compare-deepxde will not run"
}

if [[ $force_debian -eq 1 ]]; then
  install_from_debian
elif ! install_from_pypi; then
  echo "setup_venv.sh: the PyPI install failed; falling back to Debian's python3-torch" >&2
  install_from_debian
fi
