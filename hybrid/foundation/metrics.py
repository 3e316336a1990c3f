"""Forecast metrics.

Arrays are [n_windows, H, n_channels]. `mse` and `mae` on the z-scored scale are what the
published long-horizon tables report (averaged over every element, which equals the average over
channels and windows). On the original scale we add MAE, RMSE, sMAPE and MASE, the numbers a
practitioner reads.
"""

from __future__ import annotations

import numpy as np

from hybrid.foundation.data import SeriesBundle


def mse(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.mean((y - yhat) ** 2))


def mae(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.mean(np.abs(y - yhat)))


def rmse(y: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.sqrt(mse(y, yhat)))


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE in percent, 2|y - yhat| / (|y| + |yhat|); a 0/0 term counts as 0."""
    denom = np.abs(y) + np.abs(yhat)
    ratio = np.divide(2 * np.abs(y - yhat), denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)
    return float(100 * np.mean(ratio))


def mase_scale(train: np.ndarray, season: int) -> np.ndarray:
    """Per-channel in-sample MAE of the seasonal naive forecast on the training rows [T, C].

    Falls back to lag 1 when the training rows are shorter than two seasons.
    """
    lag = season if 1 <= season < len(train) // 2 else 1
    return np.mean(np.abs(train[lag:] - train[:-lag]), axis=0)


def mase(y: np.ndarray, yhat: np.ndarray, scale: np.ndarray) -> float:
    """MAE of each channel divided by that channel's `mase_scale`, averaged over channels."""
    per_channel = np.mean(np.abs(y - yhat), axis=(0, 1))
    return float(np.mean(per_channel / np.where(scale > 0, scale, np.nan)))


def score(data: SeriesBundle, y: np.ndarray, yhat: np.ndarray) -> dict[str, float]:
    """Every metric of one forecast, given on the z-scored scale [N, H, C]."""
    y_orig, yhat_orig = data.scaler.inverse(y), data.scaler.inverse(yhat)
    start, end = data.split.train
    scale = mase_scale(data.raw[start:end], data.season)
    return {
        "mse": mse(y, yhat),
        "mae": mae(y, yhat),
        "mae_orig": mae(y_orig, yhat_orig),
        "rmse_orig": rmse(y_orig, yhat_orig),
        "smape": smape(y_orig, yhat_orig),
        "mase": mase(y_orig, yhat_orig, scale),
    }


# --------------------------------------------------------------------------------------------
# Track records: how a forecaster did on the windows whose outcome was known at an origin

# Windows over which a forecaster's recent error is averaged: a day of hourly origins.
TRACK_WINDOWS = 24


def window_errors(forecasts: np.ndarray, values: np.ndarray, first_origin: int) -> np.ndarray:
    """MSE of each origin's forecast [N, H, C] against what followed: [N, C]; NaN where the target
    runs past the data."""
    N, H, C = forecasts.shape
    errors = np.full((N, C), np.nan)
    n_known = min(N, len(values) - H - first_origin + 1)
    if n_known > 0:
        view = np.lib.stride_tricks.sliding_window_view(values, H, axis=0)[first_origin:first_origin + n_known]
        errors[:n_known] = ((forecasts[:n_known] - view.transpose(0, 2, 1)) ** 2).mean(axis=1)
    return errors


def recent_errors(errors: np.ndarray, horizon: int, track: int = TRACK_WINDOWS) -> np.ndarray:
    """At each origin index i, the mean of `errors` over origin indices [i-H-track+1, i-H]
    (the windows whose outcome is known at i); NaN where none is."""
    N = len(errors)
    known = ~np.isnan(errors)
    sums = np.concatenate([np.zeros((1,) + errors.shape[1:]), np.cumsum(np.where(known, errors, 0.0), axis=0)])
    counts = np.concatenate([np.zeros((1,) + errors.shape[1:]), np.cumsum(known, axis=0)])
    hi = np.arange(N) - horizon + 1  # exclusive end in `sums`
    lo = np.clip(hi - track, 0, None)
    hi = np.clip(hi, 0, None)
    n = counts[hi] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[hi] - sums[lo]) / np.maximum(n, 1), np.nan)


def grid_step(horizon: int) -> int:
    """The step between the origins the router learns from and validation is scored at (the
    grid: origins that are multiples of it): windows a step apart overlap in all but one of their
    H rows, so at long horizons every H/24-th holds what they all do, in a 24th of the memory
    (ETTm1 at H = 720: 0.2 GB of rows, not 8)."""
    return max(1, horizon // 24)


def on_grid(origins: np.ndarray, horizon: int) -> np.ndarray:
    """The origins among `origins` that lie on the grid (`grid_step`)."""
    origins = np.asarray(origins)
    return origins[origins % grid_step(horizon) == 0]


def track_step(horizon: int, track: int = TRACK_WINDOWS) -> int:
    """The step of the origins a costly model forecasts outside the test part
    (`Forecaster.grid_forecasts`): the largest divisor of the grid step that leaves at least four
    windows in every track record, so that the grid's origins are among them and a recent error is
    still a mean of several (H = 96: every 4th origin; H = 720: every 6th)."""
    step = grid_step(horizon)
    return max(d for d in range(1, min(step, track // 4) + 1) if step % d == 0)


def scored_origins(data: SeriesBundle, part: str) -> np.ndarray:
    """The origins a part is scored at: every test window (the protocol), the validation windows
    on the grid (what the router learns from)."""
    origins = data.origins(part)
    return origins if part == "test" else on_grid(origins, data.horizon)


def track_origins(data: SeriesBundle, origins: np.ndarray, track: int = TRACK_WINDOWS) -> np.ndarray:
    """The contiguous run of origins whose forecasts `build_rows` needs for `origins`: from the
    earliest window of the first origin's track record (or the first origin the data has) to the
    last origin."""
    origins = np.asarray(origins)
    first = max(data.seq_len, int(origins.min()) - data.horizon - track + 1)
    return np.arange(first, int(origins.max()) + 1)
