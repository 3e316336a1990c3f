"""Classical forecasts as hints for the core: what each hint model forecasts from every origin,
and how well it did on the windows whose outcome was already known at that origin.

A hint for the window of origin t holds the hint models' forecasts from t (each reads rows < t
only, by the forecaster contract) and their mean squared error over the last `track` windows
whose whole target lies before t (origins s <= t - H): nothing from row t on. The hint models
are fitted on the training rows, so on training windows their forecasts are in-sample and look
better than they will on validation and test; the recent errors carry that difference to the
core (they are in-sample too on training windows, honest later).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hybrid.data import Part, SeriesBundle
from hybrid.forecaster import Forecaster

# Windows over which a hint model's recent error is averaged: a day of hourly origins.
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


@dataclass(frozen=True)
class HintTable:
    """The hint models' forecasts from every origin of a dataset and their recent errors."""

    models: tuple[str, ...]
    first_origin: int
    forecasts: np.ndarray  # [N, M, H, C] float32, on the z-scored scale
    recent_error: np.ndarray  # [N, M, C] float32, NaN where no window was known yet
    fingerprint: str  # of the data the table was built for

    @classmethod
    def build(cls, data: SeriesBundle, forecasters: Sequence[Forecaster],
              track: int = TRACK_WINDOWS) -> "HintTable":
        """From fitted forecasters: each predicts every origin of `data` once."""
        origins = data.every_origin()
        first = int(origins[0])
        per_model = [np.asarray(m.predict(data, origins)) for m in forecasters]
        recent = [recent_errors(window_errors(f, data.values, first), data.horizon, track) for f in per_model]
        return cls(models=tuple(m.name for m in forecasters), first_origin=first,
                   forecasts=np.stack(per_model, axis=1).astype(np.float32),
                   recent_error=np.stack(recent, axis=1).astype(np.float32), fingerprint=data.fingerprint())

    def _index(self, origins: np.ndarray) -> np.ndarray:
        index = np.asarray(origins) - self.first_origin
        if len(index) and (index.min() < 0 or index.max() >= len(self.forecasts)):
            raise ValueError(f"origins must lie in [{self.first_origin}, {self.first_origin + len(self.forecasts)})")
        return index

    def at(self, origins: np.ndarray) -> np.ndarray:
        """The hint models' forecasts from these origins, [n, M, H, C]."""
        return self.forecasts[self._index(origins)]

    def rows(self, origins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-series rows in the core's order (channel-major, as its windows): forecasts
        [C*n, M, H] and recent errors [C*n, M]."""
        forecasts, recent = self.at(origins), self.recent_error[self._index(origins)]  # [n, M, H, C], [n, M, C]
        n, M, H, C = forecasts.shape
        return (forecasts.transpose(3, 0, 1, 2).reshape(C * n, M, H),
                recent.transpose(2, 0, 1).reshape(C * n, M))

    def mse(self, data: SeriesBundle, part: Part) -> dict[str, float]:
        """Each hint model's MSE over every window of `part` (for choosing a residual base on val)."""
        origins = data.origins(part)
        truth = data.future(origins)[:, None]  # [n, 1, H, C]
        errors = ((self.at(origins) - truth) ** 2).mean(axis=(0, 2, 3))
        return dict(zip(self.models, map(float, errors)))
