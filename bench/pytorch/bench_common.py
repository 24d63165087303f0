"""Shared pieces of the PyTorch peer benchmarks: thread set-up, run metadata and timing statistics.

Import this module before torch. `configure_threads_from_argv` must run before the first
`import torch`, because OpenMP, MKL and OpenBLAS read their thread counts and the OpenBLAS
core type from the environment when their libraries load.
"""

import argparse
import ctypes
import importlib.util
import json
import os
import platform
import re
import statistics
import resource
import subprocess
import sys
import time

# Debian 12 ships OpenBLAS 0.3.21, which may not recognise newer CPU models and then falls back
# to slower kernels. SKYLAKEX pins its AVX-512 kernels. On the 2-core development machine
# (AVX-512 Xeon) it chose SkylakeX without the setting too (checked with OPENBLAS_VERBOSE=2).
DEBIAN_OPENBLAS_CORETYPE = "SKYLAKEX"
DEBIAN_OPENBLAS_PACKAGE = "libopenblas0-openmp"


def torch_is_from_debian():
    """Return True when `import torch` would load Debian's python3-torch instead of a PyPI wheel."""
    spec = importlib.util.find_spec("torch")
    return spec is not None and spec.origin is not None and spec.origin.startswith("/usr/lib/python3/")


def configure_threads_from_argv(default_threads=2):
    """Read --threads from the command line and export the thread variables before torch loads.

    Sets OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS to the requested count,
    overriding values already in the environment so that the run matches its recorded settings.
    For Debian's torch it also sets OPENBLAS_CORETYPE unless the caller already chose one.
    Returns the thread count.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int, default=default_threads)
    known, _ = parser.parse_known_args()
    if known.threads < 1:
        sys.exit(f"--threads must be at least 1, got {known.threads}")

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(known.threads)
    if torch_is_from_debian():
        os.environ.setdefault("OPENBLAS_CORETYPE", DEBIAN_OPENBLAS_CORETYPE)
    return known.threads


def read_cpu_model():
    """Return the CPU model name from /proc/cpuinfo, or platform.processor() where that file is missing."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def read_debian_package_version(package):
    """Return the installed version of a Debian package, or None when it is not installed."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status} ${Version}", package],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    if result.returncode != 0 or "install ok installed" not in result.stdout:
        return None
    return result.stdout.split()[-1]


def list_loaded_blas_libraries():
    """Return the BLAS-like shared libraries mapped into this process (OpenBLAS, MKL, reference BLAS).

    A PyPI torch wheel links MKL statically, so its BLAS does not show up here and the build
    configuration in `describe_torch` is the source of truth. numpy's bundled OpenBLAS
    (libscipy_openblas) shows up but torch does not call it.
    """
    pattern = re.compile(r"(openblas|libmkl|libblas|libcblas|blis)", re.IGNORECASE)
    libraries = set()
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) >= 6 and pattern.search(os.path.basename(fields[5])):
                    libraries.add(fields[5])
    except OSError:
        pass
    return sorted(libraries)


def read_openblas_core(libraries):
    """Return the kernel set (for example "SkylakeX") that Debian's OpenBLAS chose, or None.

    Looks for a loaded libopenblas*.so and calls its openblas_get_corename().
    """
    for path in libraries:
        if os.path.basename(path).startswith("libopenblas"):
            try:
                library = ctypes.CDLL(path)
                library.openblas_get_corename.restype = ctypes.c_char_p
                return library.openblas_get_corename().decode()
            except (OSError, AttributeError):
                return None
    return None


def summarize_torch_config(torch):
    """Return the BLAS, LAPACK, MKL, OpenMP and CPU-capability lines of torch.__config__.show()."""
    config_text = torch.__config__.show()
    summary = {}
    for line in config_text.splitlines():
        stripped = line.strip().lstrip("- ").strip()
        if "Math Kernel Library" in stripped:
            summary["mkl"] = stripped
        elif stripped.startswith("OpenMP"):
            summary["openmp"] = stripped
        elif stripped.startswith("CPU capability usage"):
            summary["cpu_capability"] = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("Build settings"):
            for key in ("BLAS_INFO", "LAPACK_INFO", "TORCH_VERSION", "USE_CUDA"):
                match = re.search(key + r"=([^,]*)", stripped)
                if match:
                    summary[key.lower()] = match.group(1).strip()
    return summary


def describe_torch(torch):
    """Return the torch build, BLAS and thread settings that a benchmark ran with."""
    source = "debian python3-torch" if torch_is_from_debian() else "pypi wheel"
    config = summarize_torch_config(torch)
    loaded = list_loaded_blas_libraries()
    blas = config.get("blas_info", "unknown")
    if "mkl" in config:
        blas = f"{blas} ({config['mkl']})"
    openblas_core = read_openblas_core(loaded)
    if blas == "generic" and openblas_core is not None:
        # Debian's torch calls the libblas.so.3 interface, which the alternatives system points at OpenBLAS.
        blas = f"generic libblas.so.3 interface -> OpenBLAS, core {openblas_core}"

    info = {
        "torch_version": torch.__version__,
        "torch_source": source,
        "torch_path": os.path.dirname(torch.__file__),
        "blas": blas,
        "torch_config": config,
        "mkl_available": bool(torch.backends.mkl.is_available()),
        "mkldnn_available": bool(torch.backends.mkldnn.is_available()),
        "blas_libraries_loaded": loaded,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "thread_env": {
            name: os.environ.get(name)
            for name in (
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "OPENBLAS_CORETYPE",
                "OMP_WAIT_POLICY",
            )
        },
        "python": platform.python_version(),
        "cpu_model": read_cpu_model(),
        "logical_cpus": os.cpu_count(),
    }
    if source == "debian python3-torch":
        info["openblas_package"] = {
            "name": DEBIAN_OPENBLAS_PACKAGE,
            "version": read_debian_package_version(DEBIAN_OPENBLAS_PACKAGE),
        }
        info["python3_torch_package_version"] = read_debian_package_version("python3-torch")
        info["openblas_core"] = openblas_core
    return info


def summarize_seconds(seconds, samples_per_run):
    """Return median, min, mean and max of per-run wall times in seconds, with samples/s from each.

    samples_per_run is the number of input functions one timed run processes.
    """
    median = statistics.median(seconds)
    fastest = min(seconds)
    return {
        "runs": len(seconds),
        "median_s": median,
        "min_s": fastest,
        "mean_s": statistics.fmean(seconds),
        "max_s": max(seconds),
        "samples_per_run": samples_per_run,
        "samples_per_s_median": samples_per_run / median,
        "samples_per_s_best": samples_per_run / fastest,
    }


def summarize_profile(profiler, name_fragments, wall_seconds, steps):
    """Return the self CPU time of the profiled ops whose names contain any of name_fragments.

    The fraction is taken over the self CPU time of all profiled ops on the calling thread,
    which includes the autograd backward ops because CPU backward runs on the calling thread.
    wall_seconds is the wall time of the profiled region, profiler overhead included.
    The eight ops with the largest self CPU time are listed for context.
    """
    events = profiler.key_averages()
    total_us = sum(event.self_cpu_time_total for event in events)
    matched = [event for event in events if any(fragment in event.key for fragment in name_fragments)]
    matched_us = sum(event.self_cpu_time_total for event in matched)
    top = sorted(events, key=lambda event: event.self_cpu_time_total, reverse=True)[:8]
    return {
        "steps": steps,
        "matched_ops": sorted(event.key for event in matched),
        "matched_self_cpu_s_per_step": matched_us * 1e-6 / steps,
        "all_ops_self_cpu_s_per_step": total_us * 1e-6 / steps,
        "fraction_of_op_time": matched_us / total_us if total_us > 0 else None,
        "fraction_of_wall_time": (matched_us * 1e-6) / wall_seconds if wall_seconds > 0 else None,
        "top_ops_self_cpu_s_per_step": {event.key: event.self_cpu_time_total * 1e-6 / steps for event in top},
    }


def read_cpu_jiffies():
    """Return (busy, total) clock ticks of all CPUs from the first line of /proc/stat."""
    with open("/proc/stat", encoding="utf-8") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class HostLoadMonitor:
    """Meter of the CPU time that other processes took while a benchmark ran.

    On a shared machine, OpenMP threads that lose their core to another process can stretch a
    timing many times over, so every report records this next to its numbers.
    """

    def __init__(self):
        self.start_wall = time.perf_counter()
        self.start_load = os.getloadavg()
        self.start_jiffies = read_cpu_jiffies()
        self.start_self = self._self_cpu_seconds()

    @staticmethod
    def _self_cpu_seconds():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def finish(self):
        """Return wall time, this process's CPU time, other processes' CPU share and load averages."""
        wall = time.perf_counter() - self.start_wall
        busy_end, total_end = read_cpu_jiffies()
        busy_ticks = busy_end - self.start_jiffies[0]
        total_ticks = total_end - self.start_jiffies[1]
        self_cpu = self._self_cpu_seconds() - self.start_self
        cpus = os.cpu_count() or 1
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        other_cpu = max(0.0, busy_ticks / ticks_per_second - self_cpu)
        return {
            "wall_s": wall,
            "self_cpu_s": self_cpu,
            "other_processes_cpu_s": other_cpu,
            "other_processes_share_of_all_cpus": other_cpu / (total_ticks / ticks_per_second) if total_ticks else None,
            "cpus": cpus,
            "loadavg_1min_start": self.start_load[0],
            "loadavg_1min_end": os.getloadavg()[0],
        }


def emit_report(report, out_path):
    """Print the report as JSON on stdout and also write it to out_path when one is given."""
    text = json.dumps(report, indent=2, sort_keys=False)
    print(text)
    if out_path:
        with open(out_path, "w", encoding="utf-8") as out_file:
            out_file.write(text + "\n")
