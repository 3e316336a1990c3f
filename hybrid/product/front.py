"""The front door: `Hybrid(...).fit(df).predict(h)`, in the conventions of Nixtla's statsforecast
and neuralforecast (a long frame of `unique_id`, `ds`, `y` in, a long frame of forecasts out,
`cross_validation` at cutoffs), on top of the engine (`HybridForecaster` and the members).

One procedure makes every out-of-sample forecast, the future one and those of the backtest: a
*fit at a cutoff*. The rows before the cutoff are split into training rows and, last, a
validation block (the length the data's split rule gives it: the ETT rules' four months, else
10%); the members learn from the training rows, the router from windows where the members
forecast out of sample — the validation windows and, before them, up to `backtest_blocks` blocks
forecast by the members refitted on the rows before each (`HybridForecaster.learning_rows`) —
and so do the conformal intervals. The fit then forecasts
from the cutoff on. `fit(df)` is the fit at the end of the data (with `refit=False`, the members
stay fitted on the training part of the data's own split instead); `cross_validation` is the fit
at each of its cutoffs (`refit=True`), or at the first one and every k-th (`refit=k`), each
forecasting the windows up to the next; forecasting from the data cut at a cutoff gives exactly
its forecast there.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hybrid.foundation.backend import check_backend, use_backend
from hybrid.foundation.cache import CachedForecaster
from hybrid.foundation.data import (ReadOptions, SeriesBundle, Split, cutoff_split, from_series, load_groups, per_series,
                                    take_rows, validation_rows)
from hybrid.foundation.errors import InputError
from hybrid.foundation.metrics import score, scored_origins, track_origins
from hybrid.foundation.periods import data_periods
from hybrid.foundation.registry import make_models, with_periods
from hybrid.foundation.state import decode, encode
from hybrid.product.evaluation import summary
from hybrid.product.fused import BACKTEST_BLOCKS, DEFAULT_MEMBERS, HybridForecaster, fit_everywhere, fit_pooled
from hybrid.product.intervals import Conformal, check_levels
from hybrid.product.select import Selection, select
from router.routers import MODES, Router

Data = str | os.PathLike | pd.DataFrame | SeriesBundle
FUSED = "hybrid"
# what `save` writes: bump when a folder it wrote can no longer be read back the same (2: series numbered
# across the groups, for the per-series router)
SAVE_FORMAT = 2


def _version() -> str:
    try:
        return version("hybrid")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class _Fit:
    """Members fitted on each group of series at a cutoff, one router over all of them, and the
    conformal calibration of the fused forecast on the validation windows."""

    bundles: list[SeriesBundle]  # each group's rows under the fit's split (unknown rows NaN)
    engines: list[HybridForecaster]
    router: Router
    conformal: Conformal
    dropped: dict[str, str]  # members left out, and why

    @property
    def members(self) -> tuple[str, ...]:
        return self.engines[0].member_names_

    def forecasts(self, data: SeriesBundle, engine: HybridForecaster, origins: np.ndarray) -> tuple[np.ndarray, ...]:
        """The members' forecasts [C*n, M, H] and the fused one [C*n, H] from `origins` (z-scored,
        channel-major: row c * n + i is channel c at origin i). The router fuses the members'
        float64 forecasts; it reads its features from their float32 copies, as it learned them."""
        run = track_origins(data, origins)
        over_run = [m.predict(data, run) for m in engine.members_]
        forecasts = np.stack([per_series(take_rows(f, origins - run[0])) for f in over_run], axis=1)
        rows = dataclasses.replace(engine.rows(data, origins, forecasts=over_run), forecasts=forecasts)
        return forecasts, self.router.fuse(rows)

    def forecast(self, origins: Sequence[np.ndarray], h: int, levels: tuple[float, ...],
                 cutoff: bool = False) -> pd.DataFrame:
        """The long frame of forecasts from each group's `origins`, on the original scale: `ds`
        the h rows from the origin on; with `cutoff`, the last row before it and `y` where known."""
        frames, offset = [], 0
        for data, engine, at in zip(self.bundles, self.engines, origins):
            at = np.asarray(at)
            forecasts, fused = self.forecasts(data, engine, at)
            n, C = len(at), data.n_channels
            fused = fused[:, :h]
            std = np.repeat(data.scaler.std, n)[:, None]
            mean = np.repeat(data.scaler.mean, n)[:, None]
            steps = at[None, :, None] + np.arange(h)[None, None, :] + np.zeros((C, 1, 1), int)  # [C, n, h]
            columns: dict[str, Any] = {
                "unique_id": np.repeat(np.array(data.columns, dtype=object), n * h),
                "ds": data.timestamps[steps.ravel()],
            }
            if cutoff:
                columns["cutoff"] = data.timestamps[np.tile(np.repeat(at - 1, h), C)]
                columns["y"] = data.raw[steps.ravel(), np.repeat(np.arange(C), n * h)]
            for j, name in enumerate(engine.member_names_):
                columns[name] = (forecasts[:, j, :h] * std + mean).ravel()
            columns[FUSED] = (fused * std + mean).ravel()
            for level in levels:
                half = np.vstack([np.tile(self.conformal.half_width(offset + c, level, h), (n, 1)) for c in range(C)])
                columns[f"{FUSED}-lo-{level:g}"] = ((fused - half) * std + mean).ravel()
                columns[f"{FUSED}-hi-{level:g}"] = ((fused + half) * std + mean).ravel()
            frames.append(pd.DataFrame(columns))
            offset += C
        out = pd.concat(frames, ignore_index=True)
        bounds = [f"{FUSED}-lo-{v:g}" for v in sorted(levels, reverse=True)] + [f"{FUSED}-hi-{v:g}" for v in levels]
        head = ["unique_id", "ds", *(["cutoff", "y"] if cutoff else [])]
        return out[[*head, *self.members, FUSED, *bounds]]


def _on_backend(method: Callable) -> Callable:
    """`method` with its per-series work on the instance's backend."""
    @functools.wraps(method)
    def run(self: "Hybrid", *args: Any, **kwargs: Any) -> Any:
        with use_backend(self.backend):
            return method(self, *args, **kwargs)
    return run


class Hybrid:
    """Classical models and the Time-LLM core fused by a router, in one estimator.

    `models`: member names or a family (`classical`, `neural`; see `hybrid.foundation.registry`),
    comma-separated or a list. `router`: the router's mode (`auto`: the mode that forecast best,
    in every stretch, in forward-chained cross-validation over the backtest and validation
    windows). `backtest_blocks`: blocks of windows before the validation block, each forecast by the
    members refitted on the rows before it, that the router also learns from (0: none). `freq`: the
    pandas frequency of the data's calendar and its future timestamps (default inferred). `horizon`,
    `seq_len`: the forecast length and look-back (default: the manifest's, or chosen from the
    data's length and frequency). `refit`: before forecasting the future, fit the members on all
    the history but the last validation block (True, default), or keep them fitted on the
    training part of the data's own split (False). `periods`: each seasonal member once per
    period listed, or per period found ("auto"). `model_params`: parameters per member name
    (`{"timellm": {"epochs": 2}}`). `cache`: read and keep the members' forecasts in the forecast
    cache. `fill`: fill NaN values and missing timestamps ("ffill" or "interpolate") instead of
    refusing the data. `dayfirst`, `date_unit`: how dates are read where they cannot tell it
    (`hybrid.foundation.data.ReadOptions`). `backend`: where the per-series work of fitting and
    forecasting runs: `local` (this machine's cores) or `ray` (Ray tasks, on this machine or the
    cluster in $RAY_ADDRESS; the same forecasts either way).
    """

    def __init__(self, models: str | Sequence[str] = DEFAULT_MEMBERS, router: str = "auto", freq: str | None = None,
                 horizon: int | None = None, seq_len: int | None = None, refit: bool = True,
                 periods: str | Sequence[int] = (), model_params: dict[str, dict] | None = None,
                 fill: str | None = None, cache: bool = True, seed: int = 0, progress: bool = True,
                 backtest_blocks: int = BACKTEST_BLOCKS, dayfirst: bool | None = None,
                 date_unit: str | None = None, backend: str = "local") -> None:
        self.models = models
        self.router = router
        self.freq = freq
        self.horizon = horizon
        self.seq_len = seq_len
        self.refit = refit
        self.periods = periods
        self.model_params = model_params
        self.fill = fill
        self.cache = cache
        self.seed = seed
        self.progress = progress
        self.backtest_blocks = backtest_blocks
        self.dayfirst = dayfirst
        self.date_unit = date_unit
        self.backend = backend

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("models", "router", "freq", "horizon", "seq_len", "refit", "periods",
                                              "model_params", "fill", "cache", "seed", "progress", "backtest_blocks",
                                              "dayfirst", "date_unit", "backend")}

    def __repr__(self) -> str:
        return f"Hybrid({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    # ---------------------------------------------------------------------------------- fitting
    def _check(self) -> None:
        check_backend(self.backend)  # before any data is read
        if self.router not in MODES:
            raise InputError(f"unknown router '{self.router}'; known: {', '.join(MODES)}")
        for name, value in (("horizon", self.horizon), ("seq_len", self.seq_len)):
            if value is not None and (not isinstance(value, int | np.integer) or value < 1):
                raise InputError(f"{name} must be a positive whole number of steps, not {value!r}")
        make_models(self.models, self.model_params)  # a bad name fails before any data is read

    def _groups(self, df: Data, horizon: int | None) -> list[SeriesBundle]:
        say = (lambda msg: None) if not self.progress else tqdm.write
        read = ReadOptions(fill=self.fill, freq=self.freq, dayfirst=self.dayfirst, date_unit=self.date_unit)
        return load_groups(df, seq_len=self.seq_len, horizon=horizon, read=read, log=say)

    def _member_names(self, bundles: list[SeriesBundle]) -> list[str]:
        periods = data_periods(bundles) if self.periods == "auto" else tuple(self.periods)
        return with_periods(self.models, periods)

    def _fit_at(self, bases: list[SeriesBundle], cutoffs: Sequence[int], ends: Sequence[int], refit: bool,
                members: list[str]) -> _Fit:
        """The fit at `cutoffs` (one row per group): members, router, calibration; each group's
        rows run to `ends` (past its data: unknown rows, NaN)."""
        bundles = []
        for base, cut, end in zip(bases, cutoffs, ends):
            if refit:
                val_rows = validation_rows(base.split.rule, cut, base.horizon)
                split = cutoff_split(cut, val_rows, base.seq_len, base.horizon, end)
            else:  # the data's own split, its test part running on to the end
                split = Split(base.split.rule, base.split.train, base.split.val, (base.split.test[0], end))
            bundles.append(self._rows_of(base, split))
        single = len(bundles) == 1
        engines = [HybridForecaster(members, mode=self.router, cache=self.cache, model_params=self.model_params,
                                    seed=self.seed, progress=self.progress and single, backtest_blocks=self.backtest_blocks)
                   for _ in bundles]
        dropped = fit_everywhere(engines, bundles, progress=self.progress and not single)
        for label, reason in dropped.items():
            warnings.warn(f"{label} is left out of the fused forecast: it cannot forecast {reason}", stacklevel=3)
        router, val = fit_pooled(engines, bundles)
        conformal = Conformal.fit(val.target - router.fuse(val), val.series, sum(b.n_channels for b in bundles))
        return _Fit(bundles, engines, router, conformal, dropped)

    def _rows_of(self, base: SeriesBundle, split: Split) -> SeriesBundle:
        """`base` under `split`, with unknown rows (NaN) past its end up to the split's."""
        extra = split.test[1] - len(base.raw)
        return (base.extended(extra, self.freq) if extra > 0 else base).with_split(split)

    @_on_backend
    def fit(self, df: Data) -> "Hybrid":
        """Fit on a long frame (`unique_id`, `ds`, `y`; series may differ in dates and length),
        a wide one (a date column and one column per series), a CSV path, a dataset name or a
        `SeriesBundle` from `hybrid.load`."""
        self._check()
        self.__dict__.pop("backtest_", None)  # a refit makes the last fit's backtest stale
        bases = self._groups(df, self.horizon)
        self.members_ = self._member_names(bases)
        self.horizon_, self.seq_len_ = bases[0].horizon, bases[0].seq_len
        ends = [len(b.raw) for b in bases]
        self.fit_ = self._fit_at(bases, ends, [T + self.horizon_ for T in ends], self.refit, self.members_)
        self.bases_ = bases
        return self

    def _fitted(self) -> _Fit:
        if not hasattr(self, "fit_"):
            raise InputError("this Hybrid is not fitted yet: call fit(df) first")
        return self.fit_

    # ------------------------------------------------------------------------------- forecasting
    @_on_backend
    def predict(self, h: int | None = None, level: Sequence[float] | float | None = (80, 95),
                df: Data | None = None) -> pd.DataFrame:
        """The next `h` values of every series after its last timestamp (default: the fitted
        horizon): `unique_id`, `ds`, one column per member, `hybrid`, and for each level
        `hybrid-lo-<level>` and `hybrid-hi-<level>`, on the data's own scale.

        `df`: newer history of the same series (the data fitted on and the rows that came since):
        the fitted members, router and intervals forecast after its end and learn nothing from it
        (as neuralforecast's `predict(df=...)`); ETS and ARIMA run their fixed-parameter filter
        from df's first row, so give them the old rows too."""
        fit = self._fitted()
        h = self._steps(h)
        levels = check_levels(level)
        if df is not None:
            fit = self._on_newer(df)
            return fit.forecast([[len(b.raw) - self.horizon_] for b in fit.bundles], h, levels)
        return fit.forecast([[len(b.raw)] for b in self.bases_], h, levels)

    def _on_newer(self, df: Data) -> _Fit:
        """The fit, its members unwrapped from the cache, over each group's rows in `df` (z-scored
        as the fit was) followed by a horizon of unknown rows."""
        fit = self._fitted()
        newer = {name: (data, j) for data in self._groups(df, self.horizon_) for j, name in enumerate(data.columns)}
        bundles, engines = [], []
        for data, engine in zip(fit.bundles, fit.engines):
            missing = [name for name in data.columns if name not in newer]
            if missing:
                raise InputError(f"df lacks series the model was fitted on: {', '.join(missing[:5])}")
            source = newer[data.columns[0]][0]
            if any(newer[name][0] is not source for name in data.columns):
                raise InputError(f"the series {', '.join(data.columns[:5])} shared their dates when fitted; in df they "
                                 "do not: give them the same timestamps")
            if len(source.raw) < data.seq_len:
                raise InputError(f"df holds {len(source.raw)} rows of {data.columns[0]}; the look-back needs "
                                 f"{data.seq_len}")
            raw = source.raw[:, [newer[name][1] for name in data.columns]]
            recent = dataclasses.replace(data, raw=raw, values=data.scaler.transform(raw), timestamps=source.timestamps)
            T = len(raw)
            bundles.append(dataclasses.replace(recent.extended(self.horizon_, self.freq), split=Split(
                data.split.rule, data.split.train, data.split.val, (T - data.seq_len, T + self.horizon_))))
            engines.append(self._unwrapped(engine, data))
        return _Fit(bundles, engines, fit.router, fit.conformal, fit.dropped)

    def _prefit(self, state: dict[str, Any]) -> HybridForecaster:
        """An engine of fitted members and a fitted router, from `HybridForecaster.state()`."""
        engine = HybridForecaster(list(state["member_names_"]), mode=self.router, prefit=True, cache=False,
                                  seed=self.seed)
        return engine.set_state(state)

    def _unwrapped(self, engine: HybridForecaster, data: SeriesBundle) -> HybridForecaster:
        """`engine` with its members out of the forecast cache (fitted on `data` where their
        forecasts were read from it), so that they can forecast other rows or be saved."""
        members = [m.fitted_model(data) if isinstance(m, CachedForecaster) else m for m in engine.members_]
        return self._prefit({**engine.state(), "members_": members})

    def _steps(self, h: int | None) -> int:
        if h is None:
            return self.horizon_
        if not isinstance(h, int | np.integer) or h < 1:
            raise InputError(f"h must be a positive whole number of steps, not {h!r}")
        if h > self.horizon_:
            raise InputError(f"h={h} is beyond the horizon of {self.horizon_} steps the models were fitted for; "
                             f"fit with Hybrid(horizon={h})")
        return int(h)

    @_on_backend
    def cross_validation(self, df: Data | None = None, h: int | None = None, n_windows: int = 1,
                         step_size: int = 1, refit: bool | int = True,
                         level: Sequence[float] | float | None = None) -> pd.DataFrame:
        """Forecasts from `n_windows` cutoffs `step_size` rows apart, the last window ending at
        each series' last row: `unique_id`, `ds`, `cutoff` (the last row the forecast could read),
        `y`, every member, `hybrid` (and its intervals at `level`). `refit=True` fits at every
        cutoff, `refit=k` at the first and every k-th, `False` at the first only; each fit reads
        the rows before its cutoff only. `df` defaults to the data `fit` was given."""
        self._check()
        if df is not None:
            bases = self._groups(df, h if h is not None else self.horizon)
        elif hasattr(self, "bases_") and h in (None, self.horizon_):
            bases = self.bases_
        else:
            raise InputError("give cross_validation the df (it is needed for another h, or before fit)")
        h = bases[0].horizon
        for name, value in (("n_windows", n_windows), ("step_size", step_size)):
            if not isinstance(value, int | np.integer) or value < 1:
                raise InputError(f"{name} must be a positive whole number, not {value!r}")
        every = n_windows if refit is False else 1 if refit is True else int(refit)
        if every < 1:
            raise InputError(f"refit must be True, False or a positive number of windows, not {refit!r}")
        members = self._member_names(bases)
        levels = check_levels(level)
        ends = [len(b.raw) for b in bases]
        first = [T - h - (n_windows - 1) * step_size for T in ends]
        frames = []
        starts = range(0, n_windows, every)
        for k in tqdm(starts, desc="cutoffs", unit="fit", disable=not self.progress or len(starts) == 1):
            windows = np.arange(k, min(k + every, n_windows)) * step_size
            fit = self._fit_at(bases, [f + k * step_size for f in first], ends, True, members)
            frames.append(fit.forecast([f + windows for f in first], h, levels, cutoff=True))
        return pd.concat(frames, ignore_index=True)

    # -------------------------------------------------------------------------------- evaluation
    @_on_backend
    def evaluate(self) -> pd.DataFrame:
        """Every member and the fused forecast scored on the validation and test windows of the
        data's own split (the public protocol: z-scored MSE/MAE over every test window, stride 1,
        the validation windows on the router's grid, and the original-scale metrics), one row per
        (model, split), as `hybrid fit` reports them;
        over several groups of series, each metric over all their values (sMAPE and MASE: the
        mean over the groups, weighted by their values).
        With `refit=True` this fits once more, on the training part of that split."""
        fit = self._backtest_fit()
        records = []
        for part in ("val", "test"):
            per_group = []
            for base, data, engine in zip(self.bases_, fit.bundles, fit.engines):
                origins = scored_origins(base, part)
                members, fused = fit.forecasts(data, engine, origins)
                y = data.future(origins)
                forecasts = {m: from_series(members[:, j], data.n_channels) for j, m in enumerate(engine.member_names_)}
                forecasts[FUSED] = from_series(fused, data.n_channels)
                per_group.append({m: (score(data, y, f), y.size, len(origins)) for m, f in forecasts.items()})
            for model in per_group[0]:
                size = sum(g[model][1] for g in per_group)

                def pooled(k: str) -> float:  # over every value of every group (RMSE through its square)
                    power = 2 if k == "rmse_orig" else 1
                    return (sum(g[model][0][k] ** power * g[model][1] for g in per_group) / size) ** (1 / power)

                metrics = {k: pooled(k) for k in per_group[0][model][0]}
                records.append({"model": model, "split": part, **metrics,
                                "n_windows": sum(g[model][2] for g in per_group)})
        return pd.DataFrame(records)

    def _backtest_fit(self) -> _Fit:
        """The fit on the training part of the data's own split: the one `fit` made where
        `refit=False`, else made now (once)."""
        fit = self._fitted()
        if not self.refit:
            return fit
        if not hasattr(self, "backtest_"):
            ends = [len(b.raw) for b in self.bases_]
            self.backtest_ = self._fit_at(self.bases_, ends, ends, False, self.members_)
        return self.backtest_

    @_on_backend
    def backtest(self, part: str = "test", level: Sequence[float] | float | None = None) -> pd.DataFrame:
        """The forecasts from every window of the test part of the data's own split (stride 1), or
        of the validation part on the router's grid (`scored_origins`), as `cross_validation` gives them: `cutoff`, `y`, every member, `hybrid`
        and its intervals at `level` (calibrated on the validation windows): what `evaluate`
        scores, for plots or other metrics."""
        if part not in ("val", "test"):
            raise InputError(f"part must be 'val' or 'test', not {part!r}")
        fit = self._backtest_fit()
        return fit.forecast([scored_origins(b, part) for b in self.bases_], self.horizon_, check_levels(level),
                            cutoff=True)

    def comparison(self) -> pd.DataFrame:
        """`evaluate()` as one row per model (validation and test side by side), the lowest
        test MSE marked."""
        table = self.evaluate().assign(fit_seconds=np.nan)
        return summary(table).drop(columns="fit_seconds")

    @_on_backend
    def select(self, n_drivers: int = 3) -> "Selection":
        """For each series, which member to use, with the router's weights and the reasons
        (`hybrid.product.select`), on the data `fit` was given, each series' latest window."""
        self._fitted()
        return select(self.bases_, models=self.members_, mode=self.router, cache=self.cache,
                      model_params=self.model_params, seed=self.seed, n_drivers=n_drivers, progress=self.progress,
                      backtest_blocks=self.backtest_blocks)

    # ------------------------------------------------------------------------------------ saving
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to the folder `path`: `hybrid.json` (parameters, data, every
        member's and the router's state), `arrays.safetensors` and `documents/` (LightGBM's model
        strings, Prophet's JSON); never a pickle. A member whose forecasts were read from the
        forecast cache is fitted first (its state was not kept). Nothing is left half-written: the
        folder appears whole or not at all, replacing an earlier save."""
        fit = self._fitted()
        path = Path(path)
        if path.exists() and not (path / "hybrid.json").is_file():
            raise InputError(f"{path} exists and is not a saved Hybrid: give a new folder")
        # the router once, beside the engines that share it
        engines = [{k: v for k, v in self._unwrapped(engine, data).state().items() if k != "router_"}
                   for data, engine in zip(fit.bundles, fit.engines)]
        arrays, documents = {}, {}
        meta = encode({"params": self.get_params(), "members": self.members_, "horizon": self.horizon_,
                       "seq_len": self.seq_len_, "bases": self.bases_, "splits": [b.split for b in fit.bundles],
                       "engines": engines, "router": fit.router, "conformal": fit.conformal, "dropped": fit.dropped},
                      arrays, documents)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".hybrid-save-", dir=path.parent))
        try:
            from safetensors.numpy import save_file

            (staging / "documents").mkdir()
            for name, text in documents.items():
                (staging / "documents" / name).write_text(text)
            save_file(arrays, str(staging / "arrays.safetensors"))
            (staging / "hybrid.json").write_text(json.dumps({"format": SAVE_FORMAT, "hybrid_version": _version(),
                                                             **meta}, indent=1))
            old = path.with_name(f".{path.name}.old") if path.exists() else None
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
            os.replace(staging, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Hybrid":
        """A Hybrid saved by `save`, ready to `predict` (the same forecast as before it was saved)."""
        path = Path(path)
        if not (path / "hybrid.json").is_file():
            raise InputError(f"{path} is not a saved Hybrid (no hybrid.json in it): save one with Hybrid.save(path) "
                             "or `hybrid fit --save DIR`")
        try:
            meta = json.loads((path / "hybrid.json").read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}/hybrid.json is damaged ({exc}); fit and save again") from None
        if meta.get("format") != SAVE_FORMAT:
            raise InputError(f"{path} was saved by hybrid {meta.get('hybrid_version', '?')} in format "
                             f"{meta.get('format')}; this hybrid ({_version()}) reads format {SAVE_FORMAT}: "
                             "fit and save it again")
        try:
            from safetensors.numpy import load_file

            arrays = load_file(str(path / "arrays.safetensors"))
            documents = {p.name: p.read_text() for p in (path / "documents").iterdir()}
            state = decode({k: v for k, v in meta.items() if k not in ("format", "hybrid_version")}, arrays, documents)
            self = cls(**state["params"])
            self.members_, self.horizon_, self.seq_len_ = state["members"], state["horizon"], state["seq_len"]
            self.bases_ = state["bases"]
            bundles = [self._rows_of(base, split) for base, split in zip(self.bases_, state["splits"])]
            engines = [self._prefit({**saved, "router_": state["router"]}) for saved in state["engines"]]
        except InputError:
            raise
        except Exception as exc:  # a damaged folder fails in many ways; each is the same answer
            raise InputError(f"{path} is damaged ({type(exc).__name__}: {exc}); fit and save again") from None
        self.fit_ = _Fit(bundles, engines, state["router"], state["conformal"], state["dropped"])
        return self
