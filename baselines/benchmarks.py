"""The simple benchmarks every forecasting library ships beside naive and seasonal naive: the
random walk with drift, the window average and the seasonal window average. Each reads the rows
before its origin only and forecasts every origin in one gather."""

from __future__ import annotations

import numpy as np

from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.forecaster import Forecaster


class Drift(Forecaster):
    """The random walk with drift: the last value plus h times the mean step of all the history
    before the origin, y[t + h] = y[t - 1] + (h + 1) (y[t - 1] - y[0]) / (t - 1)."""

    name = "drift"

    def fit(self, data: SeriesBundle) -> "Drift":
        self.fitted_ = True  # nothing to learn: the drift is measured at each origin
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        if len(origins) and origins.min() < 2:
            raise ValueError("drift needs two rows of history")
        last = data.values[origins - 1]  # [N, C]
        slope = (last - data.values[0]) / (origins - 1)[:, None]
        steps = np.arange(1, data.horizon + 1)[None, :, None]
        return last[:, None, :] + steps * slope[:, None, :]


class WindowAverage(Forecaster):
    """The mean of the last `window` values, over the whole horizon (`window=None`: one season of
    the data's frequency)."""

    name = "window_average"

    def __init__(self, window: int | None = None) -> None:
        self.window = window

    def fit(self, data: SeriesBundle) -> "WindowAverage":
        self.window_ = self.window or max(data.season, 1)
        if self.window_ < 1:
            raise ValueError(f"window must be a positive number of rows, got {self.window}")
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        if len(origins) and origins.min() < self.window_:
            raise ValueError(f"origin {origins.min()} has fewer than {self.window_} rows before it")
        csum = np.concatenate([np.zeros((1, data.n_channels)), np.cumsum(data.values, axis=0)])
        mean = (csum[origins] - csum[origins - self.window_]) / self.window_  # rows [t - w, t)
        return np.repeat(mean[:, None, :], data.horizon, axis=1)


class SeasonalWindowAverage(Forecaster):
    """At each phase of the season, the mean of the last `window` seasons' values at that phase
    (`season=None`: the data's calendar season); from an origin with fewer seasons before it, of
    those there are (at least one)."""

    name = "seasonal_window_average"

    def __init__(self, season: int | None = None, window: int = 3) -> None:
        self.season = season
        self.window = window

    def fit(self, data: SeriesBundle) -> "SeasonalWindowAverage":
        self.season_ = self.season or data.season
        if self.season_ < 1 or self.window < 1:
            raise ValueError(f"season and window must be positive, got {self.season_} and {self.window}")
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        m, k = self.season_, self.window
        if len(origins) and origins.min() < m:
            raise ValueError(f"origin {origins.min()} has less than one season ({m} rows) before it")
        steps = np.arange(data.horizon) % m
        # the rows of the same phase in each of the last k seasons: t - m + (h mod m) - j m, j < k
        rows = origins[:, None, None] - m + steps[None, :, None] - m * np.arange(k)[None, None, :]
        held = np.arange(k)[None, None, :] < np.minimum(k, origins // m)[:, None, None]  # seasons the origin has
        values = data.values[np.where(held, rows, 0)] * held[..., None]
        return values.sum(axis=2) / held.sum(axis=2)[..., None]
