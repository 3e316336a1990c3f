"""Classical forecasters, each behind the project's `Forecaster` interface."""

from baselines.linear import Linear
from baselines.snaive import SeasonalNaive

FORECASTERS = {cls.name: cls for cls in (SeasonalNaive, Linear)}

__all__ = ["FORECASTERS", "Linear", "SeasonalNaive"]
