"""Naive: the last observed value, repeated over the horizon (a random walk's forecast)."""

from __future__ import annotations

from baselines.snaive import SeasonalNaive


class Naive(SeasonalNaive):
    """y[t + h] = y[t - 1]: the seasonal naive forecast with a season of one step, the benchmark
    every forecast of a series that wanders should beat."""

    name = "naive"
    uses = ("baselines.snaive",)

    def __init__(self) -> None:
        super().__init__(season=1)
