"""Classical forecasters, each behind the project's `Forecaster` interface, one module each.

Every one forecasts all origins in one call: the linear maps over strided windows, ARIMA and ETS
from the states of one filter pass, Prophet from one curve, LightGBM from one feature table.
They are found by name through `hybrid.foundation.registry`.
"""

from baselines.arima import ARIMA
from baselines.ets import ETS
from baselines.lightgbm import LightGBM
from baselines.linear import DLinear, Linear
from baselines.prophet import Prophet
from baselines.snaive import SeasonalNaive

__all__ = ["ARIMA", "DLinear", "ETS", "LightGBM", "Linear", "Prophet", "SeasonalNaive"]
