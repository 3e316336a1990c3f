"""Features of a forecasting window, for the router: what the series looked like up to the origin,
and what the forecasters said and how they did lately.

Every function here is vectorised over rows: a row is one series' look-back [L] (one channel at
one origin), so a dataset's validation part is one call. Every feature reads the look-back and
what was known at the origin only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hybrid.foundation.periods import autocorrelation

# rows per chunk: bounds the FFT's memory (chunk x L complex numbers) on long data
CHUNK = 4096
EPS = 1e-8


def feature_docs(periods: Sequence[int], models: Sequence[str]) -> dict[str, str]:
    """Each feature's name and one line saying what it measures, in column order."""
    docs = {
        "level": "mean of the look-back (z-scored units of the training part)",
        "spread": "standard deviation of the look-back",
        "trend_slope": "change across the look-back of a fitted straight line, in units of the spread",
        "trend_strength": "1 - var(remainder) / var(trend + remainder): how much a straight line explains, "
                          "after the first period's seasonal profile is removed",
    }
    for p in periods:
        docs[f"seasonal_strength_{p}"] = (f"1 - var(remainder) / var(season + remainder) for a period of {p} "
                                          "steps, after the line is removed")
    docs.update({
        "fft_period_1": "period (steps) of the strongest frequency of the detrended look-back",
        "fft_share_1": "that frequency's share of the spectrum's power",
        "fft_period_2": "period of the second strongest frequency",
        "fft_share_2": "its share of the power",
        "acf_1": "autocorrelation at lag 1",
    })
    for p in periods:
        docs[f"acf_{p}"] = f"autocorrelation at lag {p}"
    docs.update({
        "spectral_entropy": "entropy of the normalised power spectrum, 0 (one pure tone) to 1 (white noise)",
        "volatility_change": "log of the step-to-step spread in the last quarter over that in the rest",
        "last_vs_mean": "last value minus the look-back mean, in units of the spread",
    })
    for m in models:
        docs[f"recent_error_{m}"] = (f"log MSE of {m} over the latest windows whose outcome was known at the "
                                     "origin (imputed where none was)")
    if models:
        docs["forecast_spread"] = ("mean over the horizon of the forecasters' standard deviation, in units of "
                                   "the look-back's spread")
    return docs


def _detrend(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares line through each row, and the slope per step: ([n, L], [n])."""
    L = x.shape[1]
    t = np.arange(L) - (L - 1) / 2
    slope = (x - x.mean(1, keepdims=True)) @ t / (t @ t)
    return x.mean(1, keepdims=True) + slope[:, None] * t, slope


def _seasonal(x: np.ndarray, period: int) -> np.ndarray:
    """Each row's mean profile over phases of `period` (phase counted back from the last step, so
    that every row's profile lines up with its origin), repeated over the row, centred."""
    n, L = x.shape
    k = L // period
    tail = x[:, L - k * period:].reshape(n, k, period).mean(1)
    tail -= tail.mean(1, keepdims=True)
    reps = -(-L // period)
    return np.tile(tail, (1, reps))[:, reps * period - L:]


def _strength(remainder: np.ndarray, component_plus_remainder: np.ndarray) -> np.ndarray:
    return np.clip(1 - remainder.var(1) / (component_plus_remainder.var(1) + EPS), 0, 1)


def _window_block(x: np.ndarray, periods: Sequence[int]) -> np.ndarray:
    n, L = x.shape
    level, spread = x.mean(1), x.std(1)
    trend, slope = _detrend(x)
    detrended = x - trend
    strengths = []
    for p in periods:
        # one round of backfitting: the line refitted without the season, the season without that line
        line, _ = _detrend(x - _seasonal(detrended, p))
        season = _seasonal(x - line, p)
        remainder = x - line - season
        strengths.append((_strength(remainder, remainder + line),
                          _strength(remainder, remainder + season)))
    trend_strength = strengths[0][0] if periods else _strength(detrended, x)
    columns = [level, spread, slope * L / (spread + EPS), trend_strength]
    columns += [season for _, season in strengths]

    power = np.abs(np.fft.rfft(detrended, axis=1)[:, 1:]) ** 2  # without the mean's bin
    total = power.sum(1) + EPS
    top = np.argsort(-power, axis=1)[:, :2]
    rows = np.arange(n)
    for j in range(2):
        columns += [L / (top[:, j] + 1), power[rows, top[:, j]] / total]
    columns.append(autocorrelation(x, 1))
    columns += [autocorrelation(x, p) for p in periods]
    share = power / total[:, None]
    columns.append(-(share * np.log(share + EPS)).sum(1) / np.log(power.shape[1]))
    steps = np.diff(x, axis=1)
    q = max(1, steps.shape[1] // 4)
    columns.append(np.log((steps[:, -q:].std(1) + EPS) / (steps[:, :-q].std(1) + EPS)))
    columns.append((x[:, -1] - level) / (spread + EPS))
    return np.column_stack(columns)


MIN_LOOKBACK = 4  # the change in volatility compares the last quarter of the steps with the rest


def window_features(history: np.ndarray, periods: Sequence[int]) -> np.ndarray:
    """Features of each look-back row [n, L] -> [n, F], in the order of `feature_docs(periods, ())`."""
    history = np.asarray(history, dtype=np.float64)
    if history.ndim != 2 or history.shape[1] < MIN_LOOKBACK:
        raise ValueError(f"need look-back rows [n, L >= {MIN_LOOKBACK}], got shape {history.shape}")
    if not len(history):
        return np.zeros((0, len(feature_docs(periods, ()))))
    return np.vstack([_window_block(history[i:i + CHUNK], periods) for i in range(0, len(history), CHUNK)])


def forecaster_features(forecasts: np.ndarray, recent_error: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """The forecasters' part of the features: log recent error of each [n, M] (NaN stays NaN, for
    the router to impute) and the spread between their forecasts [n, M, H] relative to the
    look-back's `spread` [n] -> [n, M + 1]."""
    disagreement = forecasts.std(axis=1).mean(axis=1) / (spread + EPS)
    with np.errstate(divide="ignore"):
        return np.column_stack([np.log(recent_error + EPS), disagreement])
