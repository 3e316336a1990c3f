"""Run one function per channel, on every core when there is more than one channel."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from joblib import Parallel, delayed


def n_workers(n_jobs: int | None, n_tasks: int) -> int:
    cores = os.cpu_count() or 1
    wanted = cores if n_jobs is None or n_jobs < 1 else n_jobs
    return max(1, min(wanted, n_tasks))


def map_channels(func: Callable[..., Any], tasks: Sequence[tuple], n_jobs: int | None = None) -> list[Any]:
    """`[func(*task) for task in tasks]`, in separate processes when it pays.

    Channels are independent series, so their fits are independent tasks; processes (not
    threads) because the statistical fitters hold the GIL in Python code. joblib's loky backend
    limits each worker's BLAS threads, so two workers on two cores do not oversubscribe.
    """
    workers = n_workers(n_jobs, len(tasks))
    if workers == 1:
        return [func(*task) for task in tasks]
    with warnings.catch_warnings():
        # loky replaces a worker whose memory grew during a long fit, and says so; no result is lost
        warnings.filterwarnings("ignore", message="A worker stopped while some jobs")
        return Parallel(n_jobs=workers)(delayed(func)(*task) for task in tasks)
