"""Where per-series work runs: `local` (this machine's cores, through joblib's process pool) or
`ray` (Ray tasks, on this machine or on the cluster `ray.init` joins: $RAY_ADDRESS).

The backend is a context, not a parameter threaded through every member: `Hybrid(backend="ray")`
enters `use_backend("ray")` around its fit and forecasts, and the one place that spreads work
over series (`baselines.parallel.map_channels`, `hybrid.product.fused.fit_everywhere`) asks
`current_backend()`. Inside a Ray task the context is the default again, and the task's own
cores (Ray sets $OMP_NUM_THREADS) bound its pool, so work is never spread twice.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from hybrid.foundation.errors import InputError
from hybrid.foundation.runinfo import SOURCE_ROOT

BACKENDS = ("local", "ray")
NO_RAY = "the ray backend needs Ray: pip install 'ray>=2.9'"
_BACKEND: ContextVar[str] = ContextVar("hybrid_backend", default="local")


def current_backend() -> str:
    return _BACKEND.get()


def check_backend(name: str) -> None:
    """A known backend, whose engine is installed (without starting it)."""
    if name not in BACKENDS:
        raise InputError(f"unknown backend '{name}'; use {' or '.join(BACKENDS)}")
    if name == "ray" and importlib.util.find_spec("ray") is None:
        raise InputError(NO_RAY)


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run the per-series work of the block on `name` (Ray starts with the first task, so that
    bad input is refused before it)."""
    check_backend(name)
    token = _BACKEND.set(name)
    try:
        yield
    finally:
        _BACKEND.reset(token)


def start_ray(address: str | None = None) -> None:
    """Join Ray (`address`, else $RAY_ADDRESS, else a new instance on this machine's cores), unless
    this process already has; the workers import this checkout and see the same $HYBRID_*
    settings (data folders, cache) as this process."""
    try:
        import ray
    except ImportError as exc:
        raise InputError(NO_RAY) from exc
    if ray.is_initialized():
        return
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")])),
           **{k: v for k, v in os.environ.items() if k.startswith("HYBRID_")}}
    ray.init(address=address, include_dashboard=False, log_to_driver=True, runtime_env={"env_vars": env})


def _call(func: Callable[..., Any], task: tuple) -> Any:
    return func(*task)


def ray_map(func: Callable[..., Any], tasks: Sequence[tuple]) -> list[Any]:
    """`[func(*task) for task in tasks]` as Ray tasks of one core each, in order."""
    start_ray()
    import ray

    remote = ray.remote(num_cpus=1, max_retries=0)(_call)
    shared = ray.put(func)
    return ray.get([remote.remote(shared, task) for task in tasks])
