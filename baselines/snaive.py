"""Seasonal naive: repeat the last observed season."""

from __future__ import annotations

import numpy as np

from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.forecaster import Forecaster


class SeasonalNaive(Forecaster):
    """y[t + h] = y[t - m + (h mod m)]: the last full season, repeated over the horizon.

    `season=None` takes the calendar season of the data's frequency (24 for hourly data, 96 for
    15-minute, 7 for daily, 52 for weekly, 12 for monthly).
    """

    name = "snaive"

    def __init__(self, season: int | None = None) -> None:
        self.season = season

    def fit(self, data: SeriesBundle) -> "SeasonalNaive":
        season = self.season or data.season
        if season < 1:
            raise ValueError(f"season must be a positive number of steps, got {season}")
        self.season_ = season
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        if len(origins) and origins.min() < self.season_:
            raise ValueError(f"origin {origins.min()} has less than one season ({self.season_}) of history")
        # One gather for every origin at once: the source row of each (origin, step).
        steps = np.arange(data.horizon) % self.season_
        rows = origins[:, None] - self.season_ + steps[None, :]
        return data.values[rows]
