"""The on-disk cache of every-origin forecasts.

A model's forecasts from every origin of a dataset (train, val and test: what the router, the
hints and the experiments read) are computed once and kept as `<cache>/forecasts/<key>.npy`
(float64 [n_origins, H, n_channels], no pickle) beside `<key>.json` (what the key was made of,
the shape, the SHA-256 of the array file). The cache folder is `$HYBRID_CACHE_DIR`, default
`~/.cache/hybrid`.

The key is made of what the forecasts depend on, declared, and nothing else:
- the data: values, timestamps, columns, split, look-back and horizon (`SeriesBundle.fingerprint`);
- the model's name and parameters (but those in its `cache_ignores`, which change no forecast);
- the version its author bumps (`Forecaster.version`), the SHA-256 of its own module's source and
  of each module it declares it `uses`;
- the keys of the models whose forecasts it reads (`Forecaster.reads`: the core's hint models).
An edit to a module a model uses makes its entries unreachable; an edit to any other module,
another model's included, leaves them as they were. The data protocol is in no key as code: what
it produces is, through the data's fingerprint; a change to what is stored, or to how the
protocol cuts windows from the same fingerprint, bumps `FORMAT`.

An entry whose sidecar is unreadable or names another key, or whose array has another shape or
checksum, is reported and recomputed. The folder is bounded (`$HYBRID_CACHE_MAX_GB`, default 20):
after a write that takes it over, the entries used longest ago are removed, but never one used in
the last hour (by any process: a read refreshes the sidecar's time) nor one a live
`CachedForecaster` of this process reads (a run in progress keeps what it maps; a long benchmark
lets go of a cell's entries with the cell's forecasters); a run that alone needs more is warned once. Writers publish an entry under a lock on `<key>.lock`
(array, then sidecar) and readers check it under the same lock, so that two processes writing
the same entry at once leave one whole entry, never a sidecar of one beside the array of the other.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
import time
import warnings
import weakref
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hybrid.foundation.data import SeriesBundle, take_rows
from hybrid.foundation.forecaster import Forecaster, NotFittedError
from hybrid.foundation.metrics import track_origins, track_step
from hybrid.foundation.paths import cache_dir, file_hash, file_lock
from hybrid.foundation.runinfo import process_count

FORMAT = 3  # 2: float64 arrays; 3: keys from declared dependencies
DEFAULT_MAX_GB = 20.0


@lru_cache(maxsize=None)
def module_hash(module: str) -> str:
    """SHA-256 of a module's source file, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ValueError(f"{module!r} is not a Python module with a source file")
    return file_hash(Path(spec.origin), "sha256")


def code_hashes(cls: type[Forecaster]) -> dict[str, str]:
    """The hash of each module a model's forecasts depend on: its own, then those it `uses`."""
    return {m: module_hash(m) for m in dict.fromkeys((cls.__module__, *cls.uses))}


_UMASK = os.umask(0)
os.umask(_UMASK)


def shared_tempfile(folder: Path) -> tuple[int, str]:
    """`tempfile.mkstemp` in `folder`, its mode what the umask gives a new file (0644 as a rule,
    not mkstemp's 0600): a cache others on the machine can read."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, tmp


def memo_json(namespace: str, key_parts: dict[str, Any], compute, root: Path | None = None) -> Any:
    """`compute()`, kept as JSON under `<cache>/<namespace>/<hash of key_parts>.json`.

    For slow fits whose result is small and JSON-able (ARIMA's order search): a second run on the
    same training rows with the same settings reads the result instead of searching again. An
    unreadable entry is recomputed.
    """
    folder = (Path(root) if root is not None else cache_dir()) / namespace
    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()[:32]
    path = folder / f"{key}.json"
    try:
        stored = json.loads(path.read_text())
        if stored.get("key_parts") == key_parts:
            return stored["value"]
    except (OSError, ValueError, AttributeError):
        pass
    value = compute()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = shared_tempfile(folder)
    with os.fdopen(fd, "w") as fh:
        json.dump({"key_parts": key_parts, "value": value}, fh)
    os.replace(tmp, path)
    return value


def max_cache_bytes() -> int:
    """The forecast cache's bound: `$HYBRID_CACHE_MAX_GB` gigabytes (default 20)."""
    raw = os.environ.get("HYBRID_CACHE_MAX_GB", "")
    try:
        gigabytes = float(raw) if raw else DEFAULT_MAX_GB
    except ValueError:
        raise ValueError(f"HYBRID_CACHE_MAX_GB must be a number of gigabytes, got {raw!r}") from None
    return int(gigabytes * 1e9)


_holds: dict[int, weakref.finalize] = {}


def _release(owner: int, sidecar: Path) -> None:
    ForecastCache.in_use[sidecar] -= 1
    if _holds.get(owner) is not None and not _holds[owner].alive:
        del _holds[owner]


class ForecastCache:
    """Get and put every-origin forecast arrays by key, the folder kept under `max_bytes` (default
    `max_cache_bytes()`) by removing the entries used longest ago, none used in the last
    `grace_seconds` (another process may be reading it)."""

    # sidecar -> how many live forecasters of this process read the entry: what eviction spares
    in_use: ClassVar[Counter[Path]] = Counter()
    warned_full: ClassVar[bool] = False

    def __init__(self, root: Path | None = None, max_bytes: int | None = None, grace_seconds: float = 3600) -> None:
        self.root = Path(root) if root is not None else cache_dir() / "forecasts"
        self.max_bytes = max_bytes
        self.grace_seconds = grace_seconds

    def key(self, data: SeriesBundle, model: Forecaster, origins_from: str | None = None,
            test_on_grid: bool = False) -> tuple[str, dict[str, Any]]:
        """The key of `model`'s forecasts on `data` from the track record of the part `origins_from`
        on (default the model's `cache_from`; for a model of `grid_forecasts`, the test part's on
        the grid too where `test_on_grid`), and what it was made of (module docstring)."""
        parts = {
            "format": FORMAT,
            "model": model.name,
            "version": model.version,
            "params": json.loads(json.dumps({k: v for k, v in model.get_params().items()
                                             if k not in model.cache_ignores}, default=str)),
            "data": data.fingerprint(),
            "code": code_hashes(type(model)),
            "reads": {m.label: self.key(data, m)[0] for m in model.reads()},
            "origins_from": origins_from or model.cache_from,
        }
        if model.grid_forecasts:
            parts["grid"] = {"step": track_step(data.horizon), "test_on_grid": test_on_grid}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32], parts

    @contextmanager
    def computing(self, key: str) -> Iterator[None]:
        """Held while one process computes `key`: a second process that misses the same entry
        waits here, then reads what the first stored (a lock of its own, not the entry's, which
        the publishing takes; the system drops it with a process that dies)."""
        with file_lock(self.root / f"{key}.computing"):
            yield

    @contextmanager
    def _lock(self, key: str, exclusive: bool) -> Iterator[None]:
        """Writers of an entry hold its lock alone while they publish it, readers share it while
        they check it: nobody sees the array of one write beside the sidecar of another."""
        with file_lock(self.root / f"{key}.lock", exclusive):
            yield

    def load(self, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """The array stored under `key`, or None if absent; a damaged entry warns and is None."""
        if not (self.root / f"{key}.json").exists():
            return None
        with self._lock(key, exclusive=False):
            array = self._checked(key, shape)
        if array is not None:
            self.touch(key)
        return array

    def touch(self, key: str) -> None:
        """Mark `key` used now: its sidecar's time orders eviction, for every process."""
        try:
            os.utime(self.root / f"{key}.json")
        except OSError:
            pass  # removed meanwhile: whoever reads it has it mapped already

    def hold(self, owner: object, key: str) -> None:
        """Spare `key` from eviction while `owner` lives (once per owner: a refit lets go of the
        entry it read before)."""
        sidecar = self.root / f"{key}.json"
        previous = _holds.pop(id(owner), None)
        ForecastCache.in_use[sidecar] += 1
        if previous is not None:
            previous()
        _holds[id(owner)] = weakref.finalize(owner, _release, id(owner), sidecar)

    def evict(self, keep: str | None = None) -> None:
        """Remove the entries used longest ago until the folder is within its bound, sparing
        `keep`, those used within `grace_seconds` and those a live forecaster of this process reads."""
        bound = self.max_bytes if self.max_bytes is not None else max_cache_bytes()
        entries = []
        for sidecar in self.root.glob("*.json"):
            try:
                entries.append((sidecar.stat().st_mtime, sidecar, sidecar.with_suffix(".npy").stat().st_size))
            except OSError:
                continue  # half-published, or removed meanwhile
        total = sum(size for _, _, size in entries)
        for used, sidecar, size in sorted(entries):
            if total <= bound:
                return
            if ForecastCache.in_use[sidecar] > 0 or sidecar.stem == keep or used > time.time() - self.grace_seconds:
                continue
            with self._lock(sidecar.stem, exclusive=True):
                sidecar.unlink(missing_ok=True)
                sidecar.with_suffix(".npy").unlink(missing_ok=True)
            total -= size
        if total > bound and not ForecastCache.warned_full:
            ForecastCache.warned_full = True
            warnings.warn(f"the forecast cache {self.root} holds {total / 1e9:.1f} GB, above its bound of "
                          f"{bound / 1e9:.1f} GB, in entries in use (by this run, or read in the last "
                          f"{self.grace_seconds / 60:.0f} minutes): kept until the room can be taken "
                          "(raise HYBRID_CACHE_MAX_GB, or free the disk)", stacklevel=2)

    def _checked(self, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
        meta_path, array_path = self.root / f"{key}.json", self.root / f"{key}.npy"
        try:
            meta = json.loads(meta_path.read_text())
            problem = None
            if meta.get("key") != key or tuple(meta.get("shape", ())) != tuple(shape):
                problem = "its sidecar does not match the request"
            elif file_hash(array_path, "sha256") != meta.get("sha256"):
                problem = "its array fails the checksum"
            else:
                # memory-mapped: a reader touches the origins it indexes only (ETTm1 at H = 720
                # holds 2.3 GB per model, mostly training origins that scoring never reads)
                array = np.load(array_path, mmap_mode="r", allow_pickle=False)
                if array.shape != tuple(shape):
                    problem = f"its array has shape {array.shape}"
        except (OSError, ValueError) as exc:
            problem = f"it cannot be read ({exc})"
        if problem:
            warnings.warn(f"cache entry {meta_path.with_suffix('')} is damaged: {problem}; recomputing",
                          stacklevel=2)
            return None
        return array

    def about(self, key: str) -> dict[str, Any]:
        """The sidecar of `key` (what was stored and how long it took), or {} if unreadable."""
        try:
            return json.loads((self.root / f"{key}.json").read_text())
        except (OSError, ValueError):
            return {}

    def save(self, key: str, array: np.ndarray, about: dict[str, Any]) -> None:
        """Store atomically: array and sidecar are written aside, then published under the lock."""
        self.root.mkdir(parents=True, exist_ok=True)
        # float64, not float32: a cached forecast must score exactly as a fresh one, and sMAPE
        # jumps from 0 to 200% when a forecast of an exact 0 becomes 1e-7 after rounding.
        # no contiguous copy: np.save writes a strided view (a model's [C, N, H] forecasts seen as
        # [N, H, C]) in C order as it goes, where a copy would double the peak (2.3 GB for ETTm1 at H = 720)
        array = np.asarray(array, dtype=np.float64)
        staged = []
        try:
            array_tmp = self._staged(lambda fh: np.save(fh, array, allow_pickle=False), staged)
            meta = {"key": key, "shape": list(array.shape), "dtype": "float64",
                    "sha256": file_hash(array_tmp, "sha256"), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    **about}
            meta_tmp = self._staged(lambda fh: fh.write(json.dumps(meta, indent=1).encode()), staged)
            with self._lock(key, exclusive=True):
                os.replace(array_tmp, self.root / f"{key}.npy")
                os.replace(meta_tmp, self.root / f"{key}.json")
        finally:
            for path in staged:
                if path.exists():
                    path.unlink()
        self.evict(keep=key)

    def _staged(self, write, staged: list[Path]) -> Path:
        """A new file in the cache folder holding what `write(fh)` wrote, not yet published."""
        fd, tmp = shared_tempfile(self.root)
        staged.append(Path(tmp))
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        return Path(tmp)


def cached_origins(data: SeriesBundle, first_part: str) -> np.ndarray:
    """The origins whose forecasts are cached: every one (`train`), or from a later part's track
    record on (`val`: what scoring and the router read; `test`: what a backtest block's rows read)."""
    if first_part == "train":
        return data.every_origin()
    return np.arange(track_origins(data, data.origins(first_part))[0], data.every_origin()[-1] + 1)


def forecast_origins(data: SeriesBundle, origins: np.ndarray, model: Forecaster, test_on_grid: bool) -> np.ndarray:
    """Which of the cached `origins` a model forecasts: all of them, or for a model of
    `grid_forecasts` those every `track_step` rows and every one of the test part (unless
    `test_on_grid`: a backtest block's test part, which the router reads on its grid alone)."""
    if not model.grid_forecasts:
        return origins
    keep = origins % track_step(data.horizon) == 0
    test = data.origins("test")
    if not test_on_grid and len(test):
        keep |= origins >= test[0]
    return origins[keep]


class CachedForecaster(Forecaster):
    """A forecaster whose forecasts from every origin of the data are computed once, then read.

    `fit` looks the forecasts up; on a miss it fits the wrapped model and predicts every origin
    (`data.every_origin()`; from `origins_from`, default the model's `cache_from`: where it is
    `val`, only those from the validation part's track record on) in one call, then stores them.
    A model of `grid_forecasts` forecasts only some of them (`forecast_origins`; `test_on_grid`:
    the test part's too, as a backtest block's), the rest NaN. `predict` only indexes that array,
    so it must be given the data it was fitted on.
    """

    def __init__(self, model: Forecaster, cache: ForecastCache | None = None, origins_from: str | None = None,
                 test_on_grid: bool = False) -> None:
        self.model = model
        self.cache = cache if cache is not None else ForecastCache()
        self.origins_from = origins_from
        self.test_on_grid = test_on_grid

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.model.name

    @property
    def period_followed(self) -> int | None:  # type: ignore[override]
        return self.model.period_followed

    @property
    def backtest_refit(self) -> bool:  # type: ignore[override]
        return self.model.backtest_refit

    def get_params(self) -> dict[str, Any]:
        return self.model.get_params()

    def fit(self, data: SeriesBundle) -> "CachedForecaster":
        origins = cached_origins(data, self.origins_from or self.model.cache_from)
        key, parts = self.cache.key(data, self.model, self.origins_from, self.test_on_grid)
        shape = (len(origins), data.horizon, data.n_channels)
        self.from_cache_ = self.cache.load(key, shape) is not None  # checked, then unmapped: predict maps afresh
        if not self.from_cache_ and self.model.collective and process_count() > 1:
            # every process of the run fits it together: none may wait on another's lock (each
            # stores the same forecasts; the store publishes atomically)
            self._compute(data, origins, key, parts, shape)
        elif not self.from_cache_:
            with self.cache.computing(key):
                self.from_cache_ = self.cache.load(key, shape) is not None  # computed meanwhile by another process
                if not self.from_cache_:
                    self._compute(data, origins, key, parts, shape)
        # what computing the forecasts cost, measured when they were: a row of a table that reads
        # them from the cache can still report its members' fit time (None: stored before it was kept)
        if self.from_cache_:
            self.compute_seconds_ = self.cache.about(key).get("seconds")
        self.cache.hold(self, key)
        self.path_ = self.cache.root / f"{key}.npy"
        self.first_origin_ = int(origins[0])
        self.n_origins_ = len(origins)
        self.fingerprint_ = parts["data"]
        return self

    def _compute(self, data: SeriesBundle, origins: np.ndarray, key: str, parts: dict[str, Any],
                 shape: tuple[int, ...]) -> None:
        """Fit the model, forecast every origin in one call, store the result under `key`."""
        start = time.perf_counter()
        wanted = forecast_origins(data, origins, self.model, self.test_on_grid)
        forecast = np.asarray(self.model.fit(data).predict(data, wanted))
        self.compute_seconds_ = round(time.perf_counter() - start, 1)
        if forecast.shape != (len(wanted), *shape[1:]):
            raise ValueError(f"{self.label} forecast shape {forecast.shape} from {len(wanted)} origins; "
                             f"expected {(len(wanted), *shape[1:])}")
        if len(wanted) == len(origins):
            computed = forecast
        else:
            computed = np.full(shape, np.nan)
            computed[wanted - origins[0]] = forecast
        del forecast
        self.cache.save(key, computed, {**parts, "dataset": data.name, "seconds": self.compute_seconds_})
        del computed  # save hashed the file it wrote: no second read to check it

    def fitted_model(self, data: SeriesBundle) -> Forecaster:
        """The wrapped model fitted on `data`, the data these forecasts are of (to save it, or to
        forecast other data): where they were read from the cache, it is fitted now."""
        self.check_fitted()
        if data.fingerprint() != self.fingerprint_:
            raise ValueError(f"{self.name} was fitted on other data")
        try:
            self.model.check_fitted()
        except NotFittedError:
            self.model.fit(data)
        return self.model

    @property
    def forecasts_(self) -> np.ndarray:
        """Every cached origin's forecasts [N, H, C] (float64, as saved), mapped read-only afresh:
        the pages read belong to the process only while the result (or a view of it) lives, so
        that scoring ETTm1 does not keep every member's 2 GB file resident. Each read marks the
        entry used, so that no other process evicts it meanwhile."""
        self.cache.touch(self.path_.stem)
        return np.load(self.path_, mmap_mode="r", allow_pickle=False)

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        if data.fingerprint() != self.fingerprint_:
            raise ValueError(f"{self.name} was fitted on other data: fit it on this data first")
        index = np.asarray(origins) - self.first_origin_
        if len(index) and (index.min() < 0 or index.max() >= self.n_origins_):
            raise ValueError(f"origins must lie in [{self.first_origin_}, "
                             f"{self.first_origin_ + self.n_origins_}) for this data")
        return take_rows(self.forecasts_, index)
