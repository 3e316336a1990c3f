"""Is one forecast better than another, or lucky? The Diebold-Mariano test on the windows of a
backtest."""

from __future__ import annotations

import numpy as np
from scipy import stats


def window_losses(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """Each window's squared error [n] from forecasts [n, H, C] in time order (the origins' order)."""
    return ((np.asarray(y) - np.asarray(yhat)) ** 2).reshape(len(y), -1).mean(1)


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, horizon: int) -> tuple[float, float]:
    """The test of equal expected loss of two forecasts from their losses at the same origins [n],
    in time order: (statistic, two-sided p-value); a negative statistic says `a` loses less.

    Windows of stride 1 that are `horizon` steps long overlap, so the loss differential is
    autocorrelated up to lag horizon - 1: its long-run variance is Newey-West's (Bartlett weights
    1 - k / horizon, which keep it positive) over those lags. The statistic takes Harvey,
    Leybourne and Newbold's (1997) small-sample factor and is read against Student's t with n - 1
    degrees of freedom. Equal losses give (0, 1)."""
    d = np.asarray(loss_a, dtype=float) - np.asarray(loss_b, dtype=float)
    n = len(d)
    if n < 2:
        raise ValueError(f"the Diebold-Mariano test needs at least two windows, got {n}")
    lags = min(horizon - 1, n - 1)
    centred = d - d.mean()
    autocov = [centred[k:] @ centred[:n - k] / n for k in range(lags + 1)]
    long_run = autocov[0] + 2 * sum((1 - k / (lags + 1)) * autocov[k] for k in range(1, lags + 1))
    if long_run <= 0:
        return 0.0, 1.0
    h = horizon
    statistic = d.mean() / np.sqrt(long_run / n) * np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return float(statistic), float(2 * stats.t.sf(abs(statistic), df=n - 1))
