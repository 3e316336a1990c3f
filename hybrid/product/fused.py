"""The fused forecaster: every member forecaster, and the router that weights or votes between
them by the features of each window.

The members learn from the training rows. The router learns from out-of-sample forecasts over a
long stretch of the history (`learning_rows`): the validation windows, forecast by the members
fitted on the training rows, and before them `backtest_blocks` blocks of as many windows, each
forecast by the members refitted on the rows before it (an expanding window). One
validation block ranks the members unlike the test windows too often (ETTh1: LightGBM first on
validation at H >= 192, far behind on test); several blocks tell a member that is good
everywhere from one that was lucky once. The test rows are never read by `fit`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hybrid.foundation.backend import current_backend, ray_map
from hybrid.foundation.cache import CachedForecaster, ForecastCache
from hybrid.foundation.data import SeriesBundle, backtest_blocks, backtest_split, from_series
from hybrid.foundation.errors import InputError, cannot_forecast
from hybrid.foundation.forecaster import Forecaster
from hybrid.foundation.metrics import mse, on_grid, scored_origins, track_origins
from hybrid.foundation.periods import calendar_periods
from hybrid.foundation.registry import make_models
from router.features import MIN_LOOKBACK
from router.routers import MODES, Router, make_router
from router.rows import RouterRows, build_rows

# Fast and different from each other: the benchmarks every library ships (the last value, its drift, the
# last season and the mean of the last seasons), two linear maps, a state-space model and trees.
CLASSICAL_MEMBERS = "naive,drift,snaive,seasonal_window_average,linear,dlinear,ets-grid,lightgbm"
# and beside them the Time-LLM core, at its default budget (hybrid.core.config)
DEFAULT_MEMBERS = CLASSICAL_MEMBERS + ",timellm"
# blocks of backtest windows before the validation part (as many as the data holds, up to this)
BACKTEST_BLOCKS = 3


class HybridForecaster(Forecaster):
    """Member forecasters fused by a router (see `router.routers`).

    `models`: member names (`hybrid.foundation.registry`; `model_params[name]` are that model's
    parameters) or forecaster instances. `mode`: `auto` (default: the router picks its mode by
    forward-chained cross-validation over the windows it learns from, for being good in every
    stretch; `router.routers.Auto`), `vote`, or one of `router.routers.MODES`.
    `prefit=True` uses members that are already fitted (e.g. scored in a comparison) as they
    are. `cache=True` reads and keeps the members' every-origin forecasts in the forecast cache.
    `backtest_blocks`: how many blocks of windows before the validation part the router also
    learns from (as many as the data holds, up to this; 0: the validation windows alone). Each
    costs a fit of every member on the rows before it (`learning_rows`).
    """

    name = "hybrid"
    cache_ignores = ("progress",)
    uses = ("router.features", "router.routers", "router.rows", "hybrid.foundation.metrics")

    def __init__(self, models: str | Sequence[str | Forecaster] = DEFAULT_MEMBERS, mode: str = "auto",
                 prefit: bool = False, cache: bool = True, model_params: Mapping[str, Mapping[str, Any]] | None = None,
                 seed: int = 0, progress: bool = False, backtest_blocks: int = BACKTEST_BLOCKS) -> None:
        self.models = models
        self.mode = mode
        self.prefit = prefit
        self.cache = cache
        self.model_params = model_params
        self.seed = seed
        self.progress = progress
        self.backtest_blocks = backtest_blocks

    def reads(self) -> list[Forecaster]:
        return self._members(cached=False)

    def _members(self, fresh: bool = False, cached: bool = True) -> list[Forecaster]:
        """The members as given (`fresh`: new unfitted ones of the same classes and parameters),
        in the forecast cache unless `cached` is false. A core that corrects the fused forecast
        (residual_on="hybrid") gets this engine's fusion of its hint models as its base."""
        given = [self.models] if isinstance(self.models, Forecaster) else self.models
        if isinstance(given, str) or all(isinstance(m, str) for m in given):
            members = make_models(given, self.model_params)
            for m in members:
                if getattr(m, "needs_residual_base", False):
                    m.residual_base = HybridForecaster(m.hint_models, mode=self.mode, cache=self.cache,
                                                       seed=self.seed, backtest_blocks=self.backtest_blocks)
        elif all(isinstance(m, Forecaster) for m in given):
            members = list(given)
            if fresh:
                inner = (m.model if isinstance(m, CachedForecaster) else m for m in members)
                members = [type(m)(**m.get_params()) for m in inner]
        else:
            raise InputError("models must be names or forecaster instances, not a mix")
        if self.cache and cached:
            cache = ForecastCache()
            # a backtest fit's forecasts are read for its block alone (its bundle's test part), on the grid
            origins_from = "test" if fresh else None
            members = [m if not fresh and (isinstance(m, CachedForecaster) or self.prefit)
                       else CachedForecaster(m, cache, origins_from, test_on_grid=fresh) for m in members]
        names = [m.label for m in members]
        if len(set(names)) != len(names) or not members:
            raise InputError(f"the members' names must be distinct and at least one given, got {names}")
        return members

    def rows(self, data: SeriesBundle, origins: np.ndarray, with_target: bool = False,
             forecasts: Sequence[np.ndarray] | None = None) -> RouterRows:
        """The router's rows for `origins`: the members' forecasts, features and track records.
        `forecasts`: the members' forecasts over `track_origins(data, origins)`, where the caller
        has them already."""
        run = track_origins(data, origins)
        if forecasts is None:
            forecasts = (m.predict(data, run) for m in self.members_)  # read one member at a time
        return self._numbered(build_rows(data, self.member_names_, forecasts, int(run[0]), origins, self.periods(data),
                                         with_target=with_target))

    def _numbered(self, rows: RouterRows) -> RouterRows:
        """`rows` with their series numbered as in the router's pooled rows (`fit_pooled`: this
        dataset's channels after those of the datasets before it), so that a per-series mode finds its own."""
        return dataclasses.replace(rows, series=rows.series + self.series_offset_) if self.series_offset_ else rows

    def learning_rows(self, data: SeriesBundle) -> RouterRows:
        """What the router learns from, with targets: the rows of each backtest block, then those
        of the validation windows (the fitted members). Before each block a member is refitted on
        the rows before it, or, where its class says a refit costs too much (`backtest_refit`
        false: ARIMA's search, Prophet, ets-grid's grid, the core), fitted once before the first block and run on
        with those parameters (a fixed-parameter re-filter: still out of sample); the forecasts
        are brought to `data`'s scale. A block some member cannot be fitted for (too few rows
        for its season) is left out and said in `backtest_skipped_`."""
        self.check_fitted()
        parts, self.backtest_blocks_, self.backtest_skipped_ = [], [], {}
        self.backtest_seconds_: dict[str, float] = {}  # each member's fits for the blocks, where measured
        blocks = backtest_blocks(data.split, data.seq_len, data.horizon, self.backtest_blocks)
        once: dict[str, tuple[SeriesBundle, Forecaster]] = {}  # fitted before the first block, for every block
        bar = tqdm(blocks, desc="backtest blocks", unit="block", disable=not self.progress or not blocks, leave=False)
        for cutoff, next_origin in bar:
            bar.set_postfix_str(f"cutoff at row {cutoff}")
            try:
                parts.append(self._block_rows(data, cutoff, next_origin, (blocks[0][0], blocks[-1][1]), once))
                self.backtest_blocks_.append((cutoff, next_origin))
            except (ValueError, InputError) as exc:
                self.backtest_skipped_[cutoff] = str(exc).splitlines()[0]
        parts.append(self.rows(data, scored_origins(data, "val"), with_target=True))
        return RouterRows.concat(parts, same_series=True)

    def _block_rows(self, data: SeriesBundle, cutoff: int, next_origin: int, stretch: tuple[int, int],
                    once: dict[str, tuple[SeriesBundle, Forecaster]]) -> RouterRows:
        """The rows of the origins `cutoff .. next_origin - 1`, forecast by fresh members fitted on
        the rows before `cutoff` (those fitted once, on the rows before the `stretch` of every
        block, from `once`); their z-scores (of their fit's own training rows) are brought to
        `data`'s, which the router's features and targets are on."""
        origins = on_grid(np.arange(cutoff, next_origin), data.horizon)
        run = track_origins(data, origins)
        fresh = {m.label: m for m in self._members(fresh=True)}

        def forecasts() -> Iterator[np.ndarray]:  # a member at a time, as `build_rows` reads them
            for label in self.member_names_:
                member = fresh[label]
                if label in once:
                    early, member = once[label]
                else:
                    early = self._early(data, *(stretch if not member.backtest_refit else (cutoff, next_origin)))
                    member.fit(early)
                    seconds = getattr(member, "compute_seconds_", None)  # a cached one's: measured when computed
                    self.backtest_seconds_[label] = self.backtest_seconds_.get(label, 0.0) + (seconds or 0.0)
                    if not member.backtest_refit:
                        once[label] = early, member
                scale = early.scaler.std / data.scaler.std
                shift = (early.scaler.mean - data.scaler.mean) / data.scaler.std
                yield np.asarray(member.predict(early, run)) * scale + shift

        return self._numbered(build_rows(data, self.member_names_, forecasts(), int(run[0]), origins,
                                         self.periods(data)))

    @staticmethod
    def _early(data: SeriesBundle, cutoff: int, next_origin: int) -> SeriesBundle:
        """`data` as a fit at `cutoff` sees it: its rows up to the last target of the origins
        before `next_origin`, split there, z-scored on its own training rows."""
        split = backtest_split(cutoff, next_origin, data.split, data.seq_len, data.horizon)
        return data.truncated(split.test[1]).with_split(split)

    def periods(self, data: SeriesBundle) -> tuple[int, ...]:
        """The periods the router's features measure: the calendar ones and those the members
        follow (snaive@168), each where a look-back holds it twice — so that a rule can say which
        period to follow in which windows."""
        followed = (m.period_followed for m in self.members_)
        return tuple(sorted({*calendar_periods(data.freq, data.seq_len // 2),
                             *(p for p in followed if p is not None and 1 < p <= data.seq_len // 2)}))

    def fit_members(self, data: SeriesBundle, drop_failing: bool = False) -> "HybridForecaster":
        """Fit the members only (unless `prefit`); `fit` does this and then fits the router.

        With `drop_failing`, a member that cannot fit this data or forecast from the first origin
        the router reads (a season longer than the look-back, too short a series) is left out
        and its reason kept in `dropped_`; the caller says so."""
        if self.mode not in MODES:
            raise InputError(f"unknown router mode '{self.mode}'; known: {', '.join(MODES)}")
        if data.seq_len < MIN_LOOKBACK:
            raise InputError(f"the router reads look-backs of at least {MIN_LOOKBACK} rows; {data.name} has "
                             f"seq_len={data.seq_len} ({len(data.raw)} rows): give a longer --seq-len, or more rows")
        members = self._members()
        self.dropped_: dict[str, str] = {}
        self.series_offset_ = 0
        if not self.prefit:
            first = track_origins(data, data.origins("val"))[:1]
            bar = tqdm(members, desc="members", unit="model", disable=not self.progress, leave=False)
            for member in bar:
                bar.set_postfix_str(member.label)
                try:
                    member.fit(data)
                    if drop_failing:
                        member.predict(data, first)
                except (ValueError, InputError) as exc:
                    if not drop_failing:
                        raise cannot_forecast(member.label, data.name, exc) from None
                    self.dropped_[member.label] = str(exc).splitlines()[0]
        self._keep([m for m in members if m.label not in self.dropped_])
        return self

    def _keep(self, members: list[Forecaster]) -> None:
        if not members:
            raise InputError("no member can forecast this data: "
                             + "; ".join(f"{k}: {v}" for k, v in self.dropped_.items()))
        self.members_ = members
        self.member_names_ = tuple(m.label for m in members)
        self.from_cache_ = all(getattr(m, "from_cache_", False) for m in members)  # every member's forecasts read

    def drop(self, labels: Sequence[str]) -> "HybridForecaster":
        """Leave out fitted members (those another dataset's fit dropped, so that one router serves both)."""
        self._keep([m for m in self.members_ if m.label not in labels])
        return self

    def fit(self, data: SeriesBundle) -> "HybridForecaster":
        self.fit_members(data)
        rows = self.learning_rows(data)
        return self.use_router(make_router(self.mode, self.seed).fit(rows), rows)

    def use_router(self, router: Router, rows: RouterRows) -> "HybridForecaster":
        """Fuse with `router` (fitted on these members' `learning_rows`, or on rows pooled with
        other datasets' by `fit_pooled`); the members' and the fused MSE on `rows`, and the mean
        weights there, are kept."""
        self.router_ = router
        self.learned_mse_ = {**dict(zip(self.member_names_, map(float, rows.errors().mean(0)))),
                             self.name: mse(rows.target, router.fuse(rows))}
        self.learned_weights_ = dict(zip(self.member_names_, map(float, router.weights(rows).mean(0))))
        return self

    def period_groups(self) -> dict[str, list[str]]:
        """The members by the period they follow ("24": [snaive@24, timellm@24]; "none": the rest);
        empty where no member was told a period."""
        groups: dict[str, list[str]] = {}
        for m in self.members_:
            groups.setdefault("none" if m.period_followed is None else str(m.period_followed), []).append(m.label)
        return {} if list(groups) == ["none"] else groups

    def period_shares(self, weights: dict[str, float]) -> dict[str, float]:
        """The weight each followed period carries (the sum over its members), largest first."""
        shares = {key: sum(weights[m] for m in members) for key, members in self.period_groups().items()}
        return dict(sorted(shares.items(), key=lambda kv: -kv[1]))

    def describe_periods(self, weights: dict[str, float]) -> str:
        """How members' `weights` fall on the periods: '24 0.62 (snaive@24 0.30, timellm@24 0.32);
        none 0.38 (linear 0.38)'; '' where no member was told a period."""
        groups = self.period_groups()
        return "; ".join(f"{key} {share:.2f} ({', '.join(f'{m} {weights[m]:.2f}' for m in groups[key])})"
                         for key, share in self.period_shares(weights).items())

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        rows = self.rows(data, np.asarray(origins))
        return from_series(self.router_.fuse(rows), data.n_channels)

    def weights(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        """The router's weights [n, M, C] over the members (`member_names_`) at each origin."""
        self.check_fitted()
        rows = self.rows(data, np.asarray(origins))
        return from_series(self.router_.weights(rows), data.n_channels)


def _fit_group(engine: HybridForecaster, data: SeriesBundle) -> HybridForecaster:
    return engine.fit_members(data, drop_failing=True)


def fit_everywhere(engines: Sequence[HybridForecaster], bundles: Sequence[SeriesBundle],
                   progress: bool = False) -> dict[str, str]:
    """Fit each engine's members on its bundle; a member some bundle cannot be forecast by (too
    short a history for its season, ...) is left out of every engine, so that one router serves
    them all. Returns what was left out and why. Under the ray backend each group is a Ray task."""
    if current_backend() == "ray" and len(engines) > 1:
        # a task fits a copy of the engine; the caller's engines then take the fitted copies' state
        for engine, fitted in zip(engines, ray_map(_fit_group, list(zip(engines, bundles)))):
            vars(engine).update(vars(fitted))
    else:
        for engine, data in zip(tqdm(engines, desc="series groups", unit="group", disable=not progress,
                                     leave=False), bundles):
            engine.fit_members(data, drop_failing=True)
    dropped = {k: f"{data.name}: {v}" for e, data in zip(engines, bundles) for k, v in e.dropped_.items()}
    for engine in engines:
        engine.drop(list(dropped))
    return dropped


def pooled_validation(engines: Sequence[HybridForecaster], bundles: Sequence[SeriesBundle]) -> list[RouterRows]:
    """Each dataset's `learning_rows` (members fitted), origins counted from its first validation
    origin: pooled series keep their own time, and the held-back blocks of the router's
    cross-validation are the latest windows of each."""
    parts, offset = [], 0
    for engine, data in zip(engines, bundles):
        engine.series_offset_, offset = offset, offset + data.n_channels
        part = engine.learning_rows(data)
        parts.append(dataclasses.replace(part, origin=part.origin - data.origins("val")[0]))
    return parts


def fit_pooled(engines: Sequence[HybridForecaster], bundles: Sequence[SeriesBundle]) -> tuple[Router, RouterRows]:
    """One router for several datasets (their members fitted by `fit_members`), learned from
    the `learning_rows` of all of them together; each engine then fuses with it. Returns the
    router and the pooled rows (series numbered on across the datasets)."""
    parts = pooled_validation(engines, bundles)
    val = RouterRows.concat(parts, same_series=True)  # numbered across the datasets already
    router = make_router(engines[0].mode, engines[0].seed).fit(val)
    for engine, part in zip(engines, parts):
        engine.use_router(router, part)
    return router, val
