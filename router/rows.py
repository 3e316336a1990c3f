"""The rows the router reads: for each series at each origin, every forecaster's forecast, the
window's features, the forecasters' recent errors and, where known, the target.

`build_rows` makes them from a dataset and the forecasters' forecasts over a contiguous run of
origins that starts early enough for the track record (`track_origins`): a recent error at
origin t comes from windows whose whole target lies before t, so nothing in a row reads a value
from t on but the target itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from hybrid.foundation.data import SeriesBundle, per_series, take_rows
from hybrid.foundation.metrics import TRACK_WINDOWS, recent_errors, window_errors
from hybrid.foundation.periods import calendar_periods
from router.features import feature_docs, forecaster_features, window_features

# rows per chunk where a [n, M, H] temporary would be large
CHUNK = 4096


@dataclass(frozen=True)
class RouterRows:
    """What the router sees for each row (a series at an origin)."""

    models: tuple[str, ...]
    feature_names: tuple[str, ...]
    forecasts: np.ndarray  # [n, M, H] float32, z-scored
    features: np.ndarray  # [n, F]; NaN where a recent error was not known yet
    recent_error: np.ndarray  # [n, M] MSE over the latest windows known at the origin; NaN if none
    origin: np.ndarray  # [n] the row's origin (time order, for the blocked cross-validation)
    series: np.ndarray  # [n] the row's series index
    target: np.ndarray | None = None  # [n, H] when known

    def __len__(self) -> int:
        return len(self.forecasts)

    def take(self, index: np.ndarray) -> "RouterRows":
        """The rows at `index` (a boolean mask or positions)."""
        return replace(self, forecasts=self.forecasts[index], features=self.features[index],
                       recent_error=self.recent_error[index], origin=self.origin[index],
                       series=self.series[index], target=None if self.target is None else self.target[index])

    @classmethod
    def concat(cls, parts: Sequence["RouterRows"], same_series: bool = False) -> "RouterRows":
        """The rows of several datasets as one set, series numbered on across the parts; with
        `same_series`, of the same series at other origins (their numbers kept)."""
        first = parts[0]
        if any(p.models != first.models or p.feature_names != first.feature_names for p in parts):
            raise ValueError("rows to pool must have the same forecasters and features")
        offsets = (np.zeros(len(parts), int) if same_series else
                   np.cumsum([0] + [int(p.series.max()) + 1 if len(p) else 0 for p in parts[:-1]]))
        known = all(p.target is not None for p in parts)
        return cls(models=first.models, feature_names=first.feature_names,
                   forecasts=np.concatenate([p.forecasts for p in parts]),
                   features=np.concatenate([p.features for p in parts]),
                   recent_error=np.concatenate([p.recent_error for p in parts]),
                   origin=np.concatenate([p.origin for p in parts]),
                   series=np.concatenate([p.series + o for p, o in zip(parts, offsets)]),
                   target=np.concatenate([p.target for p in parts]) if known else None)

    def errors(self) -> np.ndarray:
        """Each forecaster's MSE on each row [n, M]; needs the target."""
        if self.target is None:
            raise ValueError("these rows have no target: errors are only known on fitted parts")
        out = np.empty(self.forecasts.shape[:2])
        for i in range(0, len(self), CHUNK):
            f = self.forecasts[i:i + CHUNK].astype(np.float64)
            out[i:i + CHUNK] = ((f - self.target[i:i + CHUNK, None]) ** 2).mean(-1)
        return out


def build_rows(data: SeriesBundle, models: Sequence[str], forecasts: Iterable[np.ndarray], first_origin: int,
               origins: np.ndarray, periods: Sequence[int] | None = None, with_target: bool = True,
               track: int = TRACK_WINDOWS) -> RouterRows:
    """Rows for `origins` from each forecaster's forecasts [N, H, C] over the origins
    `first_origin`, `first_origin + 1`, ... (a run covering `track_origins(data, origins)`).

    `forecasts` is read once, a member at a time, so that it can map each member's cached file
    in turn: only one member's pages are held at once (ETTm1 at H = 720: 0.5 GB, not 3)."""
    origins = np.asarray(origins)
    if periods is None:
        periods = calendar_periods(data.freq, data.seq_len // 2)  # seen twice in a look-back
    index = origins - first_origin
    n, M = len(index), len(models)
    # filled a member at a time in float32: stacking the float64 forecasts first would hold every
    # member's twice over (5 GB more for ETTm1's test part at H = 720)
    forecast_rows = np.empty((data.n_channels * n, M, data.horizon), np.float32)  # [C*n, M, H]
    recent_rows = np.empty((data.n_channels * n, M))
    for j, f in enumerate(forecasts):
        if n and (index.min() < 0 or index.max() >= len(f)):
            raise ValueError(f"the forecasts cover origins from {first_origin}; origins {origins.min()}.."
                             f"{origins.max()} are not all inside")
        recent_rows[:, j] = per_series(recent_errors(window_errors(f, data.values, first_origin), data.horizon,
                                                     track)[index])
        forecast_rows[:, j] = per_series(take_rows(f, index))
        del f  # its file's pages go with it
    history = per_series(data.history(origins))
    window = window_features(history, periods)
    features = np.column_stack([window, forecaster_features(forecast_rows, recent_rows, history.std(1))])
    return RouterRows(
        models=tuple(models),
        feature_names=tuple(feature_docs(periods, models)),
        forecasts=forecast_rows,
        features=features,
        recent_error=recent_rows,
        origin=np.tile(origins, data.n_channels),
        series=np.repeat(np.arange(data.n_channels), len(origins)),
        target=per_series(data.future(origins)).astype(np.float64) if with_target else None,
    )
