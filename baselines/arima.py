"""ARIMA: order chosen by pmdarima's auto_arima, then one fixed-parameter Kalman filter per channel
gives the forecast from every origin."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

from baselines.parallel import map_channels
from baselines.statespace import state_space_forecast
from hybrid.foundation.cache import memo_json
from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.forecaster import Forecaster


def _choose(y: np.ndarray, season: int, limits: dict) -> dict:
    """auto_arima's choice for one channel, as plain JSON-able values (memoised on disk)."""
    key = {"rows": hashlib.sha256(np.ascontiguousarray(y, dtype=np.float64).tobytes()).hexdigest(),
           "season": season, "limits": limits, "pmdarima": _pmdarima_version()}
    return memo_json("arima", key, lambda: _search(y, season, limits))


def _pmdarima_version() -> str:
    from importlib.metadata import version

    return version("pmdarima")


def _search(y: np.ndarray, season: int, limits: dict) -> dict:
    import pmdarima as pm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pm.auto_arima(
            y, seasonal=season > 1, m=max(season, 1), stepwise=True, suppress_warnings=True,
            error_action="ignore", information_criterion="aic", maxiter=50,
            start_p=min(2, limits["max_p"]), start_q=min(2, limits["max_q"]),
            start_P=min(1, limits["max_P"]), start_Q=min(1, limits["max_Q"]), **limits,
        )
    sm = model.arima_res_.model
    return {"order": list(sm.order), "seasonal_order": list(sm.seasonal_order), "trend": sm.trend,
            "params": [float(p) for p in model.arima_res_.params], "param_names": list(sm.param_names)}


def _filter_forecast(y: np.ndarray, spec: dict, origins: np.ndarray, horizon: int) -> np.ndarray:
    from statsmodels.tsa.statespace import kalman_filter as kf
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    # Only the predicted states are read: keeping the covariances of ~17k steps would cost
    # about half a GB per channel for a seasonal model (measured), for nothing.
    keep_states_only = (kf.MEMORY_NO_PREDICTED_COV | kf.MEMORY_NO_FILTERED | kf.MEMORY_NO_FORECAST_COV
                        | kf.MEMORY_NO_GAIN | kf.MEMORY_NO_SMOOTHING | kf.MEMORY_NO_STD_FORECAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SARIMAX(y, order=tuple(spec["order"]), seasonal_order=tuple(spec["seasonal_order"]),
                        trend=spec["trend"])
        result = model.filter(np.asarray(spec["params"]), conserve_memory=keep_states_only)
    ssm = model.ssm
    # A constant ('c') enters as a state intercept stored per time step, equal at every step.
    intercept = np.asarray(ssm["state_intercept"])
    if intercept.ndim == 2:
        if not np.allclose(intercept, intercept[:, :1]):
            raise ValueError(f"ARIMA trend {spec['trend']!r} is time-varying; only a constant is supported")
        intercept = intercept[:, 0]
    # predicted_state[:, t] is a_{t|t-1}: the state after rows < t, i.e. at origin t.
    states = result.predicted_state[:, origins].T
    return state_space_forecast(
        states, ssm["design"][0], ssm["transition"], horizon,
        obs_intercept=float(np.ravel(ssm["obs_intercept"])[0]),
        state_intercept=intercept,
    )


class ARIMA(Forecaster):
    """Seasonal ARIMA per channel.

    `auto_arima` (stepwise, AIC) chooses the order and estimates the parameters on the last
    `fit_rows` training rows: on the whole of ETTh1's training part a seasonal search with m = 24
    costs minutes per channel, while 1000 rows (six weeks of hourly data) cost about half a minute
    and still hold 40 seasons. The season is the data's calendar season, if at most
    `max_season` (a seasonal state of 96 or 672 lags makes each filter step slow); otherwise
    the model is non-seasonal.

    With those parameters fixed, SARIMAX's Kalman filter runs once through the series; its
    predicted state at each origin gives the forecast from that origin by `state_space_forecast`:
    no refit and no per-origin forecast call.

    The search's result per channel (order, parameters) is memoised in the cache folder
    (`<cache>/arima/`), keyed by the training rows it read and the search limits: another
    horizon or another run on the same data does not search again.
    """

    name = "arima"
    uses = ("baselines.statespace", "baselines.parallel")

    def __init__(self, season: int | None = None, fit_rows: int = 1000, max_p: int = 3, max_q: int = 3,
                 max_P: int = 1, max_Q: int = 1, max_season: int = 48, n_jobs: int | None = None) -> None:
        self.season = season
        self.fit_rows = fit_rows
        self.max_p = max_p
        self.max_q = max_q
        self.max_P = max_P
        self.max_Q = max_Q
        self.max_season = max_season
        self.n_jobs = n_jobs

    def fit(self, data: SeriesBundle) -> "ARIMA":
        y = data.train_values[-self.fit_rows:]
        season = self.season or data.season
        if not 1 < season <= self.max_season or len(y) < 3 * season:
            season = 1
        limits = {"max_p": self.max_p, "max_q": self.max_q, "max_P": self.max_P, "max_Q": self.max_Q}
        self.season_ = season
        self.specs_ = map_channels(_choose, [(y[:, c], season, limits) for c in range(data.n_channels)],
                                   self.n_jobs)
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        end = int(origins.max())  # the filter reads rows < the last origin, nothing after
        tasks = [(data.values[:end, c], spec, origins, data.horizon) for c, spec in enumerate(self.specs_)]
        return np.stack(map_channels(_filter_forecast, tasks, self.n_jobs), axis=-1)
