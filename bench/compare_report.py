"""Helpers for the summaries of bench/compare_fno1d.sh and bench/compare_fno2d.sh."""
import json
import os
import pathlib


def load_rounds(out, rounds):
    """Return the neurop and PyTorch JSON reports of rounds 1 .. rounds in `out`."""
    def load(kind):
        return [json.loads((pathlib.Path(out) / f"{kind}-{r}.json").read_text()) for r in range(1, rounds + 1)]
    return load("neurop"), load("torch")


def machine_line(torch_runs):
    """Return a line naming the CPU, its logical CPU count, and torch's version and BLAS."""
    env = torch_runs[0].get("environment", {})
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               "?")
    return (f"machine: {cpu}, {os.cpu_count()} logical CPUs; torch {env.get('torch_version', '?')}, "
            f"BLAS {env.get('blas', env.get('blas_info', '?'))}")


def load_line(torch_runs):
    """Return the share of all CPUs that other processes took during each PyTorch run."""
    loads = [r.get("host_load", {}).get("other_processes_share_of_all_cpus") for r in torch_runs]
    return f"other processes' CPU share during the PyTorch runs: {loads}"
