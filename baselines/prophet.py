"""Prophet: a curve of time fitted on the training rows; one predict serves every origin."""

from __future__ import annotations

import contextlib
import logging
import os

import numpy as np
import pandas as pd

from baselines.parallel import map_channels
from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.forecaster import Forecaster
from hybrid.foundation.state import Document

VERBOSE_ENV = "HYBRID_VERBOSE"  # "1": let Prophet and cmdstanpy log (set by `hybrid --verbose`)


@contextlib.contextmanager
def _quiet():
    """Silence Prophet's, cmdstanpy's and Stan's chatter unless $HYBRID_VERBOSE is 1.

    Set in the process that fits, since the fits run in worker processes.
    """
    if os.environ.get(VERBOSE_ENV) == "1":
        yield
        return
    # `disabled`, not a level: cmdstanpy resets its logger's level when it first runs.
    loggers = [logging.getLogger(n) for n in ("prophet", "prophet.plot", "cmdstanpy")]
    saved = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, saved):
            lg.disabled = was


def fit_prophet(train: tuple[pd.DatetimeIndex, np.ndarray], val: tuple[pd.DatetimeIndex, np.ndarray],
                growths: tuple[str, ...], params: dict) -> tuple[object, str, dict[str, float]]:
    """Prophet fitted once per growth on train; the one with the lowest MSE on the val rows, its
    growth and every growth's MSE."""
    with _quiet():
        from prophet import Prophet as _Prophet

        best, scores = None, {}
        for growth in growths:
            model = _Prophet(growth=growth, uncertainty_samples=0, **params)
            model.fit(pd.DataFrame({"ds": train[0], "y": train[1]}))
            scores[growth] = float(np.mean((_predict(model, val[0]) - val[1]) ** 2))
            if best is None or scores[growth] < scores[best[1]]:
                best = (model, growth)
    return best[0], best[1], scores


def _predict(model, ds: pd.DatetimeIndex) -> np.ndarray:
    with _quiet():
        return model.predict(pd.DataFrame({"ds": ds}))["yhat"].to_numpy()


class Prophet(Forecaster):
    """Meta's Prophet per channel (trend with changepoints + Fourier seasonalities).

    Fitted on the training rows. Its forecast for a row depends on the row's timestamp, not on
    the origin, so one predict over the rows that any origin needs serves every origin: the
    forecast from origin t is the curve on rows [t, t+H). Uncertainty sampling is off (point
    forecasts only; it dominates predict time otherwise).

    The trend's growth is chosen per channel on the validation rows among `growths`: Prophet's
    default linear trend, extrapolated months past the training rows, can run far off, and a
    flat trend is the usual remedy.
    """

    name = "prophet"
    backtest_refit = False
    uses = ("baselines.parallel",)

    def __init__(self, growths: tuple[str, ...] = ("linear", "flat"), changepoint_prior_scale: float = 0.05,
                 seasonality_mode: str = "additive", n_jobs: int | None = None) -> None:
        self.growths = tuple(growths)
        self.changepoint_prior_scale = changepoint_prior_scale
        self.seasonality_mode = seasonality_mode
        self.n_jobs = n_jobs

    def fit(self, data: SeriesBundle) -> "Prophet":
        train = slice(*data.split.train)
        val = slice(data.split.val[0] + data.seq_len, data.split.val[1])  # rows val windows forecast
        params = {"changepoint_prior_scale": self.changepoint_prior_scale,
                  "seasonality_mode": self.seasonality_mode}
        tasks = [((data.timestamps[train], data.values[train, c]), (data.timestamps[val], data.values[val, c]),
                  self.growths, params) for c in range(data.n_channels)]
        with _quiet():  # the models come back unpickled here, which imports prophet here too
            fitted = map_channels(fit_prophet, tasks, self.n_jobs)
        self.models_ = [f[0] for f in fitted]
        self.growth_ = [f[1] for f in fitted]
        self.val_mse_by_growth_ = [f[2] for f in fitted]
        return self

    def state(self) -> dict:
        from prophet.serialize import model_to_json

        # each channel's model as Prophet's own JSON
        return {**super().state(), "models_": [Document(model_to_json(m), ".json") for m in self.models_]}

    def set_state(self, state: dict) -> "Prophet":
        with _quiet():
            from prophet.serialize import model_from_json

            super().set_state(state)
            self.models_ = [model_from_json(d.text) for d in state["models_"]]
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        first = int(origins.min())
        rows = np.arange(first, int(origins.max()) + data.horizon)
        curves = map_channels(_predict, [(m, data.timestamps[rows]) for m in self.models_], self.n_jobs)
        gather = origins[:, None] - first + np.arange(data.horizon)[None, :]
        return np.stack([curve[gather] for curve in curves], axis=-1)
