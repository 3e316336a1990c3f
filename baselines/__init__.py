"""Classical forecasters, each behind the project's `Forecaster` interface, one module each.

Every one forecasts all origins in one call: the linear maps over strided windows, ARIMA and ETS
from the states of one filter pass (ETSGrid: of one vectorised recursion over every channel), Prophet from one curve, LightGBM from one feature table.
They are found by name through `hybrid.foundation.registry`.
"""

from baselines.arima import ARIMA
from baselines.benchmarks import Drift, SeasonalWindowAverage, WindowAverage
from baselines.ets import ETS
from baselines.ets_grid import ETSGrid
from baselines.lightgbm import LightGBM
from baselines.linear import DLinear, Linear
from baselines.naive import Naive
from baselines.prophet import Prophet
from baselines.snaive import SeasonalNaive

__all__ = ["ARIMA", "DLinear", "Drift", "ETS", "ETSGrid", "LightGBM", "Linear", "Naive", "Prophet", "SeasonalNaive",
           "SeasonalWindowAverage", "WindowAverage"]
