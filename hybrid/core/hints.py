"""Classical forecasts as hints for the core: what each hint model forecasts from every origin,
and how well it did on the windows whose outcome was already known at that origin.

A hint for the window of origin t holds the hint models' forecasts from t (each reads rows < t
only, by the forecaster contract) and their mean squared error over the last `track` windows
whose whole target lies before t (origins s <= t - H): nothing from row t on. The hint models
are fitted on the training rows, so on training windows their forecasts are in-sample and look
better than they will on validation and test (LightGBM's most: on ETTh1 at H = 96 its training
MSE is 0.25 against 0.42 on test). Cross-fitting (`forward_folds`) replaces them, on training
windows, by forecasts of models fitted only on rows before the window's block: out of sample,
as they will be later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hybrid.foundation.data import Part, SeriesBundle, cutoff_split, per_series
from hybrid.foundation.forecaster import Forecaster
from hybrid.foundation.metrics import TRACK_WINDOWS, recent_errors, window_errors


def forward_folds(data: SeriesBundle, folds: int) -> list[tuple[SeriesBundle, np.ndarray]]:
    """Forward-chained folds of the training rows: for k = 1 .. folds-1, a copy of `data` whose
    training part is the first k/folds of the original training rows (their last fifth its
    validation part) and whose test part is the k-th block of training origins, with those
    origins. The first block has no earlier rows to learn from and no fold."""
    T, L, H = data.split.train[1], data.seq_len, data.horizon
    edges = np.linspace(0, T, folds + 1).round().astype(int)
    result = []
    for k in range(1, folds):
        start, end = edges[k], min(edges[k + 1], T - H + 1)  # origins of block k
        val_rows = max(H, round(0.2 * start))
        if start - val_rows - H < L or end <= start:
            continue  # too few rows before the block to fit on
        # the fit at the block's first origin, as every out-of-sample forecast is made
        split = cutoff_split(start, val_rows, L, H, end + H - 1)
        result.append((dataclasses.replace(data, split=split), np.arange(start, end)))
    return result


def crossfit_forecasts(data: SeriesBundle, fit: Callable[[SeriesBundle], Forecaster], folds: int) -> np.ndarray:
    """Out-of-sample forecasts [n_train_origins, H, C] from every training origin: each block's
    from a model `fit` on the rows before it; NaN for the first block."""
    train = data.origins("train")
    out = np.full((len(train), data.horizon, data.n_channels), np.nan)
    for sub, origins in forward_folds(data, folds):
        out[origins - train[0]] = fit(sub).predict(sub, origins)
    return out


@dataclass(frozen=True)
class HintTable:
    """The hint models' forecasts from every origin of a dataset and their recent errors."""

    models: tuple[str, ...]
    first_origin: int
    forecasts: np.ndarray  # [N, M, H, C] float32, on the z-scored scale
    recent_error: np.ndarray  # [N, M, C] float32, NaN where no window was known yet
    fingerprint: str  # of the data the table was built for

    @classmethod
    def build(cls, data: SeriesBundle, forecasters: Sequence[Forecaster], track: int = TRACK_WINDOWS,
              train_forecasts: Sequence[np.ndarray] | None = None) -> "HintTable":
        """From fitted forecasters: each predicts every origin of `data` once. `train_forecasts`
        (one per forecaster, e.g. `crossfit_forecasts`) replace their forecasts from the
        training origins."""
        origins = data.every_origin()
        first = int(origins[0])
        per_model = [np.array(m.predict(data, origins), dtype=np.float64) for m in forecasters]
        for forecasts, train in zip(per_model, train_forecasts or ()):
            forecasts[:len(train)] = train  # the training origins come first
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
        return per_series(self.at(origins)), per_series(self.recent_error[self._index(origins)])

    def mse(self, data: SeriesBundle, part: Part) -> dict[str, float]:
        """Each hint model's MSE over every window of `part` (for choosing a residual base on val)."""
        origins = data.origins(part)
        truth = data.future(origins)[:, None]  # [n, 1, H, C]
        errors = ((self.at(origins) - truth) ** 2).mean(axis=(0, 2, 3))
        return dict(zip(self.models, map(float, errors)))
