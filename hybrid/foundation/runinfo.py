"""Provenance of a run: package versions, git commit, machine."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# the source tree this module was loaded from; an installed copy has no git checkout: commit 'unknown'
SOURCE_ROOT = Path(__file__).resolve().parents[2]

PACKAGES = ("hybrid", "numpy", "pandas", "scikit-learn", "statsmodels", "pmdarima", "prophet",
            "lightgbm", "torch", "transformers", "gguf", "accelerate", "safetensors", "tqdm", "ray", "pyarrow")


def available_cores() -> int:
    """The cores this process may use: $OMP_NUM_THREADS where it is set (Ray sets it to a task's
    CPUs, so that work inside a task keeps to its share), else the CPUs it may run on."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_rank() -> int:
    """This process's place in a multi-process run (`accelerate launch`, torchrun: $RANK); 0 alone."""
    return int(os.environ.get("RANK", "0"))


def process_count() -> int:
    """How many processes the run has ($WORLD_SIZE); 1 alone."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str:
    """The commit of the working tree, with '+dirty' when its code has uncommitted changes (the
    benchmarks' own results, rewritten as they run, are not code: a run that follows another
    before its results are committed still ran the committed code)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(SOURCE_ROOT), *args], capture_output=True,
                              text=True, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no", "--", ".",
                                               ":(exclude)experiments/results") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
