"""LightGBM: direct multi-step forecasts from lag, rolling and calendar features."""

from __future__ import annotations

import numpy as np

from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.forecaster import Forecaster
from hybrid.foundation.runinfo import available_cores
from hybrid.foundation.state import Document

LAGS = (*range(2, 25), 36, 48, 72, 96, 120, 144, 168, 336, 504)
ROLLING = (6, 24, 168)


def features(data: SeriesBundle, origins: np.ndarray, channel: int) -> tuple[np.ndarray, np.ndarray]:
    """Features [N, F] of one channel at each origin, and the last observed value [N, 1].

    Lags and rolling means are taken relative to the last value, so that a tree split means the
    same thing at any level; then the level itself, rolling spreads, calendar fields of the first
    forecast row, and the channel index (a categorical feature: one model serves all channels).
    """
    x = data.history(origins)[:, :, channel]
    L = x.shape[1]
    last = x[:, -1]
    columns = [last]
    columns += [x[:, -k] - last for k in LAGS if k <= L]
    columns += [x[:, -w:].mean(1) - last for w in (*ROLLING, L) if w <= L]
    columns += [x[:, -w:].std(1) for w in ROLLING if w <= L]
    when = data.timestamps[origins]
    columns += [when.hour.to_numpy(), when.day_of_week.to_numpy(), when.day.to_numpy(),
                when.month.to_numpy(), np.full(len(origins), channel)]
    return np.column_stack(columns).astype(np.float64), last[:, None]


class LightGBM(Forecaster):
    """Gradient-boosted trees (one global model over all channels), direct multi-step.

    Direct multi-step would ordinarily mean H models, one per step: 96 to 720 boosters, each
    learning much the same thing. Instead the future path relative to the last value, [H], is
    projected on its first `n_components` principal components (fitted on the training targets;
    on ETTh1 16 of them hold most of the variance of a 96-step path), and one booster per
    component predicts its score: `n_components` models whatever H is, and a forecast that keeps
    the shape the components carry (daily cycles) without a recursion feeding errors back.
    Each booster stops early on the validation windows, which it reads for nothing else.
    """

    name = "lightgbm"

    def __init__(self, n_components: int = 16, learning_rate: float = 0.05, num_leaves: int = 31,
                 max_rounds: int = 1000, early_stopping_rounds: int = 50, seed: int = 0,
                 n_jobs: int | None = None) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_rounds = max_rounds
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.n_jobs = n_jobs

    def _table(self, data: SeriesBundle, origins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = [features(data, origins, c) for c in range(data.n_channels)]
        return np.vstack([p[0] for p in parts]), np.vstack([p[1] for p in parts])

    def _targets(self, data: SeriesBundle, origins: np.ndarray, last: np.ndarray) -> np.ndarray:
        future = data.future(origins)
        return np.vstack([future[:, :, c] for c in range(data.n_channels)]) - last

    def fit(self, data: SeriesBundle) -> "LightGBM":
        import lightgbm as lgb

        train, val = data.origins("train"), data.origins("val")
        x_train, last_train = self._table(data, train)
        x_val, last_val = self._table(data, val)
        y_train = self._targets(data, train, last_train)
        y_val = self._targets(data, val, last_val)

        self.mean_ = y_train.mean(0)
        centred = y_train - self.mean_
        eigval, eigvec = np.linalg.eigh(centred.T @ centred)
        k = min(self.n_components, data.horizon)
        self.components_ = eigvec[:, ::-1][:, :k].T  # [k, H], largest first
        self.explained_variance_ratio_ = float(eigval[::-1][:k].sum() / max(eigval.sum(), 1e-12))
        z_train = centred @ self.components_.T
        z_val = (y_val - self.mean_) @ self.components_.T

        params = {"objective": "l2", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
                  "min_data_in_leaf": 50, "bagging_fraction": 0.8, "bagging_freq": 1,
                  "feature_fraction": 0.8, "seed": self.seed, "deterministic": True,
                  "num_threads": self.n_jobs or available_cores(), "verbosity": -1}
        categorical = [x_train.shape[1] - 1]
        self.boosters_, self.best_rounds_ = [], []
        for j in range(k):
            booster = lgb.train(
                params,
                lgb.Dataset(x_train, z_train[:, j], categorical_feature=categorical, free_raw_data=True),
                num_boost_round=self.max_rounds,
                valid_sets=[lgb.Dataset(x_val, z_val[:, j], categorical_feature=categorical)],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            self.boosters_.append(booster)
            self.best_rounds_.append(booster.best_iteration)
        return self

    def state(self) -> dict:
        # the boosters in LightGBM's own text format, each cut at its best iteration
        return {**super().state(), "boosters_": [Document(b.model_to_string()) for b in self.boosters_]}

    def set_state(self, state: dict) -> "LightGBM":
        import lightgbm as lgb

        super().set_state(state)
        self.boosters_ = [lgb.Booster(model_str=d.text) for d in state["boosters_"]]
        return self

    def predict(self, data: SeriesBundle, origins: np.ndarray) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        x, last = self._table(data, origins)
        scores = np.column_stack([b.predict(x, num_iteration=b.best_iteration) for b in self.boosters_])
        paths = scores @ self.components_ + self.mean_ + last  # [C * N, H], channel-major
        return paths.reshape(data.n_channels, len(origins), data.horizon).transpose(1, 2, 0)
