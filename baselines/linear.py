"""A closed-form linear forecaster: ridge regression from the look-back window to the horizon."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.forecaster import Forecaster

# ridge penalties tried on validation, as multiples of the Gram matrix's mean eigenvalue
ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


class Linear(Forecaster):
    """Ridge from look-back [L] to horizon [H], one map shared by every channel.

    With `subtract_last` (NLinear, Zeng et al. 2023) each window is expressed relative to its last
    observed value, which is added back to the forecast: the map learns shapes, not levels, which
    guards against a level shift between train and test.

    The penalty is chosen on the validation windows from `alphas`, each a multiple of the mean
    eigenvalue of the centred Gram matrix (so the grid does not depend on L or on the data's
    scale). The map is fitted in closed form from Gram matrices accumulated channel by channel, so
    the training windows are never materialised together.
    """

    name = "linear"

    def __init__(
        self,
        subtract_last: bool = True,
        alphas: Sequence[float] = ALPHAS,
    ) -> None:
        self.subtract_last = subtract_last
        self.alphas = tuple(alphas)

    def _features(self, x: np.ndarray) -> np.ndarray:
        """What the map reads from the look-back windows [N, L]: here the windows themselves."""
        return x

    def _design(self, data: SeriesBundle, origins: np.ndarray, channel: int) -> tuple[np.ndarray, np.ndarray]:
        """Features of one channel's look-back windows and the value each is expressed relative to."""
        x = data.history(origins)[:, :, channel]
        anchor = x[:, -1:] if self.subtract_last else np.zeros((len(x), 1))
        return self._features(x - anchor), anchor

    def fit(self, data: SeriesBundle) -> "Linear":
        if not self.alphas or min(self.alphas) <= 0:
            raise ValueError(f"alphas must be positive, got {self.alphas}")
        H = data.horizon
        train = data.origins("train")
        F = self._features(np.zeros((1, data.seq_len))).shape[1]
        xtx, xty = np.zeros((F, F)), np.zeros((F, H))
        sx, sy, n = np.zeros(F), np.zeros(H), 0
        for c in range(data.n_channels):
            x, anchor = self._design(data, train, c)
            y = data.future(train)[:, :, c] - anchor
            xtx += x.T @ x
            xty += x.T @ y
            sx += x.sum(0)
            sy += y.sum(0)
            n += len(x)
        mx, my = sx / n, sy / n
        cxx = xtx - n * np.outer(mx, mx)
        cxy = xty - n * np.outer(mx, my)
        eigval, eigvec = np.linalg.eigh(cxx)
        projected = eigvec.T @ cxy
        scale = max(eigval.mean(), np.finfo(float).tiny)

        val = data.origins("val")
        val_x = [self._design(data, val, c) for c in range(data.n_channels)]
        val_y = data.future(val)
        self.val_mse_by_alpha_ = {}
        best = None
        for alpha in self.alphas:
            coef = eigvec @ (projected / (eigval + alpha * scale)[:, None])
            intercept = my - mx @ coef
            err = np.mean([
                np.mean((x @ coef + intercept + anchor - val_y[:, :, c]) ** 2)
                for c, (x, anchor) in enumerate(val_x)
            ])
            self.val_mse_by_alpha_[alpha] = float(err)
            if best is None or err < best[0]:
                best = (err, alpha, coef, intercept)
        _, self.alpha_, self.coef_, self.intercept_ = best
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        out = np.empty((len(origins), data.horizon, data.n_channels))
        for c in range(data.n_channels):
            x, anchor = self._design(data, origins, c)
            out[:, :, c] = x @ self.coef_ + self.intercept_ + anchor
        return out


def moving_average(x: np.ndarray, kernel: int) -> np.ndarray:
    """Centred moving average along the last axis, ends padded with the edge values (as DLinear)."""
    front, back = (kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2
    padded = np.concatenate([np.repeat(x[:, :1], front, 1), x, np.repeat(x[:, -1:], back, 1)], axis=1)
    csum = np.cumsum(padded, axis=1)
    csum = np.concatenate([np.zeros((len(x), 1)), csum], axis=1)
    return (csum[:, kernel:] - csum[:, :-kernel]) / kernel


class DLinear(Linear):
    """DLinear (Zeng et al. 2023): the window split into a moving-average trend and a remainder,
    one linear map for each, summed; fitted in closed form like `Linear`.

    Jointly the two maps are still linear in the window; what changes is the ridge penalty,
    which now shrinks the trend map and the remainder map separately.
    """

    name = "dlinear"

    def __init__(
        self,
        kernel: int = 25,
        subtract_last: bool = True,
        alphas: Sequence[float] = ALPHAS,
    ) -> None:
        super().__init__(subtract_last=subtract_last, alphas=alphas)
        self.kernel = kernel

    def _features(self, x: np.ndarray) -> np.ndarray:
        trend = moving_average(x, self.kernel)
        return np.concatenate([trend, x - trend], axis=1)
