"""ARIMA: order chosen by pmdarima's auto_arima, then one fixed-parameter Kalman filter per channel
gives the forecast from every origin; a long season through Fourier terms."""

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

    limits = dict(limits)
    seconds = limits.pop("max_seconds")
    # the stepwise search stops when its fits have taken `seconds` and keeps the best found so far
    with warnings.catch_warnings(), pm.arima.StepwiseContext(max_dur=seconds):
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


def fourier_terms(rows: np.ndarray, period: int, pairs: int) -> np.ndarray:
    """[len(rows), 1 + 2 * pairs]: a constant and sin/cos(2 pi k row / period), k = 1 .. pairs."""
    angle = 2 * np.pi * np.outer(rows, np.arange(1, pairs + 1)) / period
    return np.column_stack([np.ones(len(rows)), np.sin(angle), np.cos(angle)])


def _fourier_fit(y: np.ndarray, rows: np.ndarray, period: int, max_pairs: int) -> tuple[int, np.ndarray]:
    """The number of Fourier pairs (1 .. max_pairs, by BIC of the least-squares fit of `y` on
    them) and the coefficients [1 + 2 K]."""
    best = None
    for k in range(1, max(1, min(max_pairs, period // 2)) + 1):
        x = fourier_terms(rows, period, k)
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        rss = float(np.sum((y - x @ beta) ** 2))
        bic = len(y) * np.log(max(rss, 1e-12) / len(y)) + x.shape[1] * np.log(len(y))
        if best is None or bic < best[0]:
            best = (bic, k, beta)
    return best[1], best[2]


class ARIMA(Forecaster):
    """Seasonal ARIMA per channel, or for a long season a regression on Fourier terms with ARIMA
    errors (Hyndman's dynamic harmonic regression).

    `auto_arima` (stepwise, AIC) chooses the order and estimates the parameters on the last
    `fit_rows` training rows: on the whole of ETTh1's training part a seasonal search with m = 24
    costs minutes per channel, while 1000 rows (six weeks of hourly data) cost about half a minute
    and still hold 40 seasons. The season is the data's calendar season. Up to `max_season` it is
    a seasonal ARIMA's (its state holds m lags: each filter step and each fit of the search slows
    with m, and with m = 48 the search took 8 minutes on 4,000 half-hourly rows); a longer one is
    removed first by least squares on up to `fourier_pairs` pairs of sine and cosine terms of its
    period (how many by BIC), and a non-seasonal ARIMA models what is left; the forecast adds
    the terms back. `max_seconds` bounds each channel's search: past it, the best order found so
    far is kept (so a slower machine may keep another). What was chosen is in `describe()`.

    With those parameters fixed, SARIMAX's Kalman filter runs once through the series; its
    predicted state at each origin gives the forecast from that origin by `state_space_forecast`:
    no refit and no per-origin forecast call.

    The search's result per channel (order, parameters) is memoised in the cache folder
    (`<cache>/arima/`), keyed by the training rows it read and the search limits: another
    horizon or another run on the same data does not search again.
    """

    name = "arima"
    backtest_refit = False
    uses = ("baselines.statespace", "baselines.parallel")

    def __init__(self, season: int | None = None, fit_rows: int = 1000, max_p: int = 3, max_q: int = 3,
                 max_P: int = 1, max_Q: int = 1, max_seconds: float = 60.0, max_season: int = 12, fourier_pairs: int = 6,
                 n_jobs: int | None = None) -> None:
        self.season = season
        self.fit_rows = fit_rows
        self.max_p = max_p
        self.max_q = max_q
        self.max_P = max_P
        self.max_Q = max_Q
        self.max_seconds = max_seconds
        self.max_season = max_season
        self.fourier_pairs = fourier_pairs
        self.n_jobs = n_jobs

    def fit(self, data: SeriesBundle) -> "ARIMA":
        start, end = data.split.train
        first = max(start, end - self.fit_rows)
        y, rows = data.values[first:end], np.arange(first, end)
        season = self.season or data.season
        if len(y) < 3 * season:
            season = 1
        self.season_ = season if 1 < season <= self.max_season else 1
        self.fourier_period_ = season if season > self.max_season else 0
        self.fourier_ = []  # per channel: (pairs, coefficients)
        if self.fourier_period_:
            self.fourier_ = [_fourier_fit(y[:, c], rows, season, self.fourier_pairs) for c in range(data.n_channels)]
            y = y - np.column_stack([self._seasonal(rows, c) for c in range(data.n_channels)])
        limits = {"max_p": self.max_p, "max_q": self.max_q, "max_P": self.max_P, "max_Q": self.max_Q,
                  "max_seconds": self.max_seconds}
        self.specs_ = map_channels(_choose, [(y[:, c], self.season_, limits) for c in range(data.n_channels)],
                                   self.n_jobs)
        return self

    def _seasonal(self, rows: np.ndarray, channel: int) -> np.ndarray:
        """The Fourier terms' part of the channel at `rows` (0 without them)."""
        if not self.fourier_period_:
            return np.zeros(len(rows))
        pairs, beta = self.fourier_[channel]
        return fourier_terms(rows, self.fourier_period_, pairs) @ np.asarray(beta)

    def describe(self) -> list[str]:
        """What was chosen for each channel: 'ARIMA(2,0,1)(1,0,0)[12]' or 'ARIMA(2,0,1) + 3 Fourier pairs of period 24'."""
        self.check_fitted()
        out = []
        for c, spec in enumerate(self.specs_):
            text = "ARIMA({},{},{})".format(*spec["order"])
            if self.season_ > 1:
                text += "({},{},{})[{}]".format(*spec["seasonal_order"])
            if self.fourier_period_:
                text += f" + {self.fourier_[c][0]} Fourier pairs of period {self.fourier_period_}"
            out.append(text)
        return out

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        end = int(origins.max())  # the filter reads rows < the last origin, nothing after
        C, steps = data.n_channels, np.arange(data.horizon)
        tasks = [(data.values[:end, c] - self._seasonal(np.arange(end), c), spec, origins, data.horizon)
                 for c, spec in enumerate(self.specs_)]
        forecasts = np.stack(map_channels(_filter_forecast, tasks, self.n_jobs), axis=-1)  # [N, H, C]
        if self.fourier_period_:
            ahead = (origins[:, None] + steps[None, :]).ravel()
            forecasts += np.stack([self._seasonal(ahead, c).reshape(len(origins), -1) for c in range(C)], axis=-1)
        return forecasts
