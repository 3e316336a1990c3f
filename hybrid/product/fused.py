"""The fused forecaster: every member forecaster, and the router that weights or votes between
them by the features of each window.

The members learn from the training rows; the router learns from the validation windows only
(with their members' forecasts and track records); the test rows are never read by `fit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hybrid.foundation.cache import CachedForecaster, ForecastCache
from hybrid.foundation.data import SeriesBundle, from_series
from hybrid.foundation.errors import InputError
from hybrid.foundation.forecaster import Forecaster
from hybrid.foundation.metrics import mse, track_origins
from hybrid.foundation.periods import calendar_periods
from hybrid.foundation.registry import make_models
from router.routers import MODES, Router, make_router
from router.rows import RouterRows, build_rows

# Fast and different from each other: a seasonal copy, two linear maps, a state-space model and trees.
DEFAULT_MEMBERS = "snaive,linear,dlinear,ets,lightgbm"


class HybridForecaster(Forecaster):
    """Member forecasters fused by a router (see `router.routers`).

    `models`: member names (`hybrid.foundation.registry`; `model_params[name]` are that model's
    parameters) or forecaster instances. `mode`: `auto` (default: the router picks its mode on
    held-back validation windows, and falls back to the best single member if the result loses
    to it on validation), `vote`, or one of `router.routers.MODES`.
    `prefit=True` uses members that are already fitted (e.g. scored in a comparison) as they
    are. `cache=True` reads and keeps the members' every-origin forecasts in the forecast cache.
    """

    name = "hybrid"
    cache_ignores = ("progress",)

    def __init__(self, models: str | Sequence[str | Forecaster] = DEFAULT_MEMBERS, mode: str = "auto",
                 prefit: bool = False, cache: bool = True, model_params: Mapping[str, Mapping[str, Any]] | None = None,
                 seed: int = 0, progress: bool = False) -> None:
        self.models = models
        self.mode = mode
        self.prefit = prefit
        self.cache = cache
        self.model_params = model_params
        self.seed = seed
        self.progress = progress

    def _members(self) -> list[Forecaster]:
        given = [self.models] if isinstance(self.models, Forecaster) else self.models
        if isinstance(given, str) or all(isinstance(m, str) for m in given):
            members = make_models(given, self.model_params)
        elif all(isinstance(m, Forecaster) for m in given):
            members = list(given)
        else:
            raise InputError("models must be names or forecaster instances, not a mix")
        if self.cache:
            cache = ForecastCache()
            members = [m if isinstance(m, CachedForecaster) or self.prefit else CachedForecaster(m, cache)
                       for m in members]
        names = [m.label for m in members]
        if len(set(names)) != len(names) or not members:
            raise InputError(f"the members' names must be distinct and at least one given, got {names}")
        return members

    def rows(self, data: SeriesBundle, origins: np.ndarray, with_target: bool = False) -> RouterRows:
        """The router's rows for `origins`: the members' forecasts, features and track records."""
        run = track_origins(data, origins)
        forecasts = (m.predict(data, run) for m in self.members_)  # read one member at a time
        return build_rows(data, self.member_names_, forecasts, int(run[0]), origins, self.periods(data),
                          with_target=with_target)

    def periods(self, data: SeriesBundle) -> tuple[int, ...]:
        """The periods the router's features measure: the calendar ones and those the members
        follow (snaive@168), each where a look-back holds it twice — so that a rule can say which
        period to follow in which windows."""
        followed = (m.period_followed for m in self.members_)
        return tuple(sorted({*calendar_periods(data.freq, data.seq_len // 2),
                             *(p for p in followed if p is not None and 1 < p <= data.seq_len // 2)}))

    def fit_members(self, data: SeriesBundle) -> "HybridForecaster":
        """Fit the members only (unless `prefit`); `fit` does this and then fits the router."""
        if self.mode not in MODES:
            raise InputError(f"unknown router mode '{self.mode}'; known: {', '.join(MODES)}")
        members = self._members()
        if not self.prefit:
            bar = tqdm(members, desc="members", unit="model", disable=not self.progress, leave=False)
            for member in bar:
                bar.set_postfix_str(member.label)
                member.fit(data)
        self.members_ = members
        self.member_names_ = tuple(m.label for m in members)
        self.from_cache_ = all(getattr(m, "from_cache_", False) for m in members)  # every member's forecasts read
        return self

    def fit(self, data: SeriesBundle) -> "HybridForecaster":
        self.fit_members(data)
        val = self.rows(data, data.origins("val"), with_target=True)
        self.router_: Router = make_router(self.mode, self.seed).fit(val)
        self.val_mse_ = {**dict(zip(self.member_names_, map(float, self.router_.mean_error_))),
                         self.name: mse(val.target, self.router_.fuse(val))}
        self.val_weights_ = dict(zip(self.member_names_, map(float, self.router_.weights(val).mean(0))))
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
