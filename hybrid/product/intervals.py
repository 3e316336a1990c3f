"""Prediction intervals of the fused forecast: split conformal, from its errors out of sample.

The calibration set is the fused forecast's absolute error at each horizon step over the windows
the router learned from (the backtest blocks and the validation part,
`HybridForecaster.learning_rows`): the members forecast them out of sample (they learned from the
rows before), the router chose its weights on them. For a level l the half-width at step h is the
ceil((n + 1) l) -th smallest of the n errors at h (Vovk et al.; Angelopoulos & Bates 2021), per
series where the series has `PER_SERIES` windows or more, else pooled over every series of the
fit (errors on the z-scored scale, so that series of any size pool). Overlapping windows
are not exchangeable, so the stated rate is a target that the coverage on later windows
checks (`experiments/interval_coverage.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hybrid.foundation.errors import InputError

# windows a series needs for intervals of its own (at 95%: its 5th-largest error and below)
PER_SERIES = 100


def check_levels(level: Sequence[float] | float | None) -> tuple[float, ...]:
    """Levels in percent, each in (0, 100); one number or several."""
    if level is None:
        return ()
    levels = (level,) if isinstance(level, int | float) else tuple(level)
    bad = [v for v in levels if not isinstance(v, int | float) or not 0 < v < 100]
    if bad:
        raise InputError(f"level {bad[0]!r} is outside (0, 100): give percentages such as 80 or 95")
    return tuple(sorted(set(levels)))


@dataclass(frozen=True)
class Conformal:
    """Sorted absolute errors [n, H] of the fused forecast on the calibration windows, pooled
    and per series (by the series' position among all series of the fit)."""

    pooled: np.ndarray
    by_series: tuple[np.ndarray | None, ...]  # None where a series has fewer than PER_SERIES windows

    @classmethod
    def fit(cls, errors: np.ndarray, series: np.ndarray, n_series: int) -> "Conformal":
        """`errors` [n, H] (target - fused) of rows belonging to `series` [n] (0 .. n_series - 1)."""
        magnitude = np.abs(errors)
        own = []
        for s in range(n_series):
            rows = magnitude[series == s]
            own.append(np.sort(rows, axis=0) if len(rows) >= PER_SERIES else None)
        return cls(pooled=np.sort(magnitude, axis=0), by_series=tuple(own))

    @staticmethod
    def _quantile(sorted_errors: np.ndarray, level: float) -> np.ndarray:
        n = len(sorted_errors)
        k = int(np.ceil((n + 1) * level / 100))
        if k > n:  # too few windows for this level: no finite interval can be promised
            return np.full(sorted_errors.shape[1], np.inf)
        return sorted_errors[k - 1]

    def half_width(self, series: int, level: float, horizon: int) -> np.ndarray:
        """The interval's half-width [horizon] for one series at `level` percent (z-scored scale)."""
        own = self.by_series[series]
        return self._quantile(own if own is not None else self.pooled, level)[:horizon]
