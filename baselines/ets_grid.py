"""ETS for many series and many steps: the six additive forms of `ets`, their smoothing
parameters chosen from a grid by their H-step error on the training rows (or by AIC), every
channel and every candidate in one vectorised pass."""

from __future__ import annotations

import itertools

import numpy as np

from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.forecaster import Forecaster

ALPHAS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
BETAS = (0.01, 0.1, 0.3)  # as shares of alpha (beta <= alpha keeps the trend smoother than the level)
GAMMAS = (0.01, 0.05, 0.15, 0.3)  # as shares of 1 - alpha
PHIS = (0.85, 0.95)


def _candidates(seasonal: bool) -> np.ndarray:
    """[P, 6] rows (alpha, beta, gamma, phi, has_trend, has_season): the grid of every form."""
    rows = []
    for trend, damped, season in ((0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1)):
        if season and not seasonal:
            continue
        for a, b, g, p in itertools.product(ALPHAS, BETAS if trend else (0,), GAMMAS if season else (0,),
                                            PHIS if damped else (1.0,)):
            rows.append((a, a * b, (1 - a) * g, p, trend, season))
    return np.array(rows)


def _initial(y: np.ndarray, season: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heuristic initial level, trend and seasonal states of each channel (y: [C, T]): the first
    season's mean, the change of the mean from the first season to the second, and the first
    season's deviations from its mean."""
    m = max(season, 1)
    first = y[:, :m].mean(1)
    second = y[:, m:2 * m].mean(1) if y.shape[1] >= 2 * m else first
    seasonal = y[:, :m] - first[:, None] if season > 1 else np.zeros((len(y), 1))
    return first, (second - first) / m, seasonal


def _run(y: np.ndarray, params: np.ndarray, season: int, keep: bool = False, horizon: int = 0, every: int = 1):
    """The recursion for every channel [C, T] and every candidate [C, P, 6] at once: the sum of
    squared one-step errors [C, P] or, given a `horizon`, of the 1..horizon-step errors of the
    forecasts from every `every`-th row; with `keep` (P = 1), the states after each row: level,
    trend [C, T] and the seasonal ring [C, T, m] (slot k: the latest seasonal state of phase k)."""
    C, T = y.shape
    m = max(season, 1)
    alpha, beta, gamma, phi, has_trend, has_season = np.moveaxis(params, -1, 0)
    l0, b0, s0 = _initial(y, season)
    level = np.broadcast_to(l0[:, None], alpha.shape).copy()
    trend = b0[:, None] * has_trend
    ring = s0[:, None, :] * has_season[..., None] if season > 1 else np.zeros((*alpha.shape, 1))
    sse = np.zeros(alpha.shape)
    states = (np.empty((C, T)), np.empty((C, T)), np.empty((C, T, m))) if keep else None
    steps = np.arange(1, horizon + 1)
    damp = np.cumsum(phi[..., None] ** steps, axis=-1)  # [C, P, H]: phi + ... + phi^h
    for t in range(T):
        j = t % m
        damped = phi * trend
        error = y[:, t, None] - (level + damped + ring[..., j])
        if not horizon:
            sse += error ** 2
        level = level + damped + alpha * error
        trend = damped + beta * error
        ring[..., j] += gamma * error
        if keep:
            states[0][:, t], states[1][:, t] = level[:, 0], trend[:, 0]
            states[2][:, t] = ring[:, 0]  # slot k: the latest seasonal state of phase k (time % m)
        if horizon and t % every == every - 1 and t + horizon < T:  # the forecast of rows t+1 .. t+H
            forecast = level[..., None] + damp * trend[..., None] + ring[..., (t + steps) % m]
            sse += ((y[:, None, t + 1:t + 1 + horizon] - forecast) ** 2).sum(-1)
    return sse, states


class ETSGrid(Forecaster):
    """Additive ETS per channel (level, optional damped trend, optional season), the form and its
    smoothing parameters chosen together from a grid (`ALPHAS`, ...), with heuristic initial
    states. `criterion="multistep"` (default) chooses by the squared error of the 1..H-step
    forecasts from the training rows (from about 200 origins spread over them): what the model
    is used for. Chosen by likelihood (`"aic"`, one-step errors, as `ets` fits), the smoothing
    follows the last value (ETTh1: alpha ~ 0.8 on the daily channels) and the forecast many steps
    on is little better than a naive one. All channels and all 400 candidates run as one
    vectorised recursion; the forecasts from every origin come from the states of one more pass
    with each channel's choice. Where the training rows hold too few H-step windows (fewer than
    H + 2 seasons) it chooses by AIC. For many short series too, where `ets`'s maximum-likelihood
    fit of six forms per series costs 0.2-0.8 s each."""

    name = "ets-grid"
    CRITERIA = ("multistep", "aic")
    # its grid search, not the filter, is the cost (39 s of a 1,000-series fit when refitted
    # before every backtest block): chosen once before the first, then re-filtered
    backtest_refit = False

    def __init__(self, season: int | None = None, criterion: str = "multistep") -> None:
        self.season = season
        self.criterion = criterion

    def fit(self, data: SeriesBundle) -> "ETSGrid":
        y = data.train_values.T
        season = self.season or data.season
        self.season_ = season if 1 < season and y.shape[1] >= 2 * season else 1
        if self.criterion not in self.CRITERIA:
            raise ValueError(f"criterion must be one of {', '.join(self.CRITERIA)}, not {self.criterion!r}")
        grid = np.broadcast_to(_candidates(self.season_ > 1), (len(y), len(_candidates(self.season_ > 1)), 6))
        n = y.shape[1]
        if self.criterion == "multistep" and n > data.horizon + 2 * self.season_:
            sse, _ = _run(y, grid, self.season_, horizon=data.horizon, every=max(1, (n - data.horizon) // 200))
            self.params_ = grid[0][sse.argmin(1)]  # [C, 6]
            return self
        sse, _ = _run(y, grid, self.season_)
        # parameters: the smoothing ones in use, the initial level, trend and m - 1 free seasonal states
        k = 2 + grid[0, :, 4] * 2 + (grid[0, :, 3] < 1) + grid[0, :, 5] * self.season_
        aic = n * np.log(np.maximum(sse, 1e-12) / n) + 2 * k
        self.params_ = grid[0][aic.argmin(1)]  # [C, 6]
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        m = self.season_
        if len(origins) and origins.min() < m:
            raise ValueError(f"ets-grid forecasts need at least one season ({m}) of history")
        end = int(origins.max())
        _, (level, trend, ring) = _run(data.values[:end].T, self.params_[:, None, :], m, keep=True)
        after = origins - 1  # the states an origin forecasts from have seen rows < origin
        phi = self.params_[:, 3][:, None]  # [C, 1]
        steps = np.arange(1, data.horizon + 1)
        damp = np.cumsum(phi[..., None] ** steps, axis=-1)  # [C, 1, H]: phi + ... + phi^h
        # s_{t+h-m} is the latest state of phase (t + h) % m, t = after
        phase = (after[:, None] + steps[None, :]) % m  # [N, H]
        season = np.take_along_axis(ring[:, after], np.broadcast_to(phase, (len(ring), *phase.shape)), axis=-1)
        forecast = level[:, after, None] + damp * trend[:, after, None] + season
        return forecast.transpose(1, 2, 0)
