"""Run one function per channel, on every core (or as Ray tasks, under the ray backend) when there
is more than one channel."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from joblib import Parallel, delayed, parallel_config

from hybrid.foundation.backend import current_backend, ray_map
from hybrid.foundation.runinfo import available_cores

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """In a worker: be killed when the process that started it (`parent`) dies (Linux), so that
    a fit killed with -9 leaves no worker finishing a channel nobody will read; a worker whose
    parent died before it got here leaves at once."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)


def n_workers(n_jobs: int | None, n_tasks: int) -> int:
    cores = available_cores()
    wanted = cores if n_jobs is None or n_jobs < 1 else n_jobs
    return max(1, min(wanted, n_tasks))


def map_channels(func: Callable[..., Any], tasks: Sequence[tuple], n_jobs: int | None = None) -> list[Any]:
    """`[func(*task) for task in tasks]`, in separate processes when it pays.

    Channels are independent series, so their fits are independent tasks; processes (not
    threads) because the statistical fitters hold the GIL in Python code. joblib's loky backend
    limits each worker's BLAS threads, so two workers on two cores do not oversubscribe. Under
    the ray backend (`hybrid.foundation.backend`) each channel is a Ray task instead.
    """
    if current_backend() == "ray" and len(tasks) > 1:
        return ray_map(func, tasks)
    workers = n_workers(n_jobs, len(tasks))
    if workers == 1:
        return [func(*task) for task in tasks]
    with warnings.catch_warnings():
        # loky replaces a worker whose memory grew during a long fit, and says so; no result is lost
        warnings.filterwarnings("ignore", message="A worker stopped while some jobs")
        with parallel_config(backend="loky", initializer=die_with_parent, initargs=(os.getpid(),)):
            return Parallel(n_jobs=workers)(delayed(func)(*task) for task in tasks)
