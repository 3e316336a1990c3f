"""ETS (exponential smoothing, innovations state space): form chosen per channel by AIC, then one
fixed-parameter pass per channel gives the forecast from every origin."""

from __future__ import annotations

import warnings

import numpy as np

from baselines.parallel import map_channels
from baselines.statespace import state_space_forecast
from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.forecaster import Forecaster

# (trend, damped, seasonal) forms tried on each channel
_FORMS = ((None, False, False), ("add", False, False), ("add", True, False),
          (None, False, True), ("add", False, True), ("add", True, True))


def ets_model(y: np.ndarray, spec: dict, init: dict | None = None):
    """statsmodels' ETSModel of the form `spec` on `y`: initialised by heuristic, or at `init`."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = spec["season"] > 1
    kwargs = {"initialization_method": "heuristic"} if init is None else {"initialization_method": "known", **init}
    return ETSModel(y, error="add", trend=spec["trend"], damped_trend=spec["damped"],
                    seasonal="add" if seasonal else None,
                    seasonal_periods=spec["season"] if seasonal else None, **kwargs)


def _choose(y: np.ndarray, season: int) -> dict:
    best = None
    for trend, damped, seasonal in _FORMS:
        if seasonal and season <= 1:
            continue
        spec = {"trend": trend, "damped": damped, "season": season if seasonal else 1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = ets_model(y, spec).fit(disp=False)
        if np.isfinite(result.aic) and (best is None or result.aic < best[0]):
            init = {"initial_level": float(result.initial_level)}
            if trend:
                init["initial_trend"] = float(result.initial_trend)
            if spec["season"] > 1:
                init["initial_seasonal"] = np.asarray(result.initial_seasonal, dtype=float)
            best = (result.aic, {**spec, "params": np.asarray(result.params, dtype=float), "init": init,
                                 "aic": float(result.aic)})
    return best[1]


def _system(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Design w and transition F for the state [level, (trend), s_{t-1}, ..., s_{t-m}]."""
    m = spec["season"] if spec["season"] > 1 else 0
    has_trend = spec["trend"] is not None
    phi = spec["params"][-1] if spec["damped"] else 1.0
    k = 1 + has_trend + m
    w, F = np.zeros(k), np.zeros((k, k))
    w[0] = F[0, 0] = 1.0
    if has_trend:
        w[1] = F[0, 1] = F[1, 1] = phi
    if m:
        first = 1 + has_trend
        w[k - 1] = 1.0  # y_t uses s_{t-m}
        F[first, k - 1] = 1.0  # with zero innovation, s_t = s_{t-m}
        F[first + 1:, first:k - 1] = np.eye(m - 1)  # the other seasonal states shift by one
    return w, F


def _smooth_forecast(y: np.ndarray, spec: dict, origins: np.ndarray, horizon: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        states = ets_model(y, spec, spec["init"]).smooth(spec["params"]).states  # row t: after y_t
    after = origins - 1  # the state an origin forecasts from has seen rows < origin
    columns = [states[after, 0]]
    if spec["trend"] is not None:
        columns.append(states[after, 1])
    m = spec["season"]
    if m > 1:
        columns.extend(states[after - j, -1] for j in range(m))  # s_{t-1}, ..., s_{t-m}
    w, F = _system(spec)
    return state_space_forecast(np.column_stack(columns), w, F, horizon)


class ETS(Forecaster):
    """Additive exponential smoothing per channel: level, optional (damped) trend, optional season.

    The form with the lowest AIC on the training rows wins (six candidates; initial states by
    statsmodels' heuristic, so that every candidate counts the same kind of parameters). The
    error is additive and so are trend and season: the models see z-scored data, which crosses
    zero, where multiplicative forms are undefined. (With additive trend and season a
    multiplicative error changes the likelihood, not the point forecast.)

    Forecasts: the states of one pass through the series with the fitted parameters and initial
    states held fixed, mapped to every origin's H-step forecast by `state_space_forecast`.
    """

    name = "ets"
    backtest_refit = False
    uses = ("baselines.statespace", "baselines.parallel")

    def __init__(self, season: int | None = None, n_jobs: int | None = None) -> None:
        self.season = season
        self.n_jobs = n_jobs

    def fit(self, data: SeriesBundle) -> "ETS":
        train = data.train_values
        season = self.season or data.season
        self.season_ = season if 1 < season and len(train) >= 2 * season else 1
        self.specs_ = map_channels(_choose, [(train[:, c], self.season_) for c in range(data.n_channels)],
                                   self.n_jobs)
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        if len(origins) and origins.min() < self.season_:  # the seasonal states of the last season
            raise ValueError(f"ETS forecasts need at least one season ({self.season_}) of history")
        end = int(origins.max())
        tasks = [(data.values[:end, c], spec, origins, data.horizon) for c, spec in enumerate(self.specs_)]
        return np.stack(map_channels(_smooth_forecast, tasks, self.n_jobs), axis=-1)
