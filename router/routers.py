"""The router's modes: each turns the forecasters' forecasts for a window (and the window's
features) into weights over the forecasters, and the weights into one fused forecast.

A row is one series at one origin (a channel of a dataset, or one `unique_id`). Every mode has
the same contract: `fit(rows)` learns from rows whose target is known (the validation windows,
never the test ones), `weights(rows)` and `fuse(rows)` read no target. Weights are [n, M] and sum
to 1 per row; for the votes, which pick per step, they are each forecaster's share of the steps.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hybrid.metrics import mse
from router.rows import CHUNK, RouterRows


@dataclass(frozen=True)
class FeatureScaler:
    """Impute NaN by the fitted rows' median, then z-score: what the learned modes read."""

    median: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "FeatureScaler":
        finite = np.where(np.isfinite(x), x, np.nan)
        median = np.nan_to_num(np.nanmedian(finite, axis=0)) if len(x) else np.zeros(x.shape[1])
        filled = np.where(np.isfinite(x), x, median)
        std = filled.std(0)
        return cls(median, filled.mean(0), np.where(std > 0, std, 1.0))

    def fill(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(x), x, self.median)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (self.fill(x) - self.mean) / self.std


class Router(ABC):
    """One mode of the router. The constructor stores parameters; `fit` learns; the rest read."""

    name: ClassVar[str]

    def fit(self, rows: RouterRows) -> "Router":
        """Learn from rows with targets; the default learns the forecasters' mean errors only
        (the fallback where a recent error is missing)."""
        self.models_ = rows.models
        self.mean_error_ = rows.errors().mean(0)
        return self

    @abstractmethod
    def weights(self, rows: RouterRows) -> np.ndarray:
        """[n, M] weights (shares of the fused forecast), each row summing to 1."""

    def fuse(self, rows: RouterRows) -> np.ndarray:
        """The fused forecast [n, H]."""
        return np.einsum("nm,nmh->nh", self.weights(rows), rows.forecasts.astype(np.float64))

    def describe(self) -> str:
        """What the fitted mode does, in a line or a few."""
        return self.name

    def _check(self, rows: RouterRows) -> None:
        if not hasattr(self, "models_"):
            raise RuntimeError(f"the {self.name} router is not fitted: call fit(rows) first")
        if rows.models != self.models_:
            raise ValueError(f"the router was fitted on forecasters {self.models_}, got {rows.models}")


class Best(Router):
    """The single forecaster with the lowest MSE on the fitted rows, for every row."""

    name = "best"

    def fit(self, rows: RouterRows) -> "Best":
        super().fit(rows)
        self.best_ = int(np.argmin(self.mean_error_))
        return self

    def weights(self, rows: RouterRows) -> np.ndarray:
        self._check(rows)
        w = np.zeros(rows.forecasts.shape[:2])
        w[:, self.best_] = 1.0
        return w

    def describe(self) -> str:
        return f"best: always {self.models_[self.best_]} (lowest MSE on the fitted rows)"


class RankVote(Router):
    """At every step, the mean of the forecasts ranked `trim`-th from the bottom to `trim`-th from
    the top: the median when `trim` leaves one or two, a trimmed mean otherwise."""

    name = "trimmed"

    def __init__(self, trim: int = 1) -> None:
        self.trim = trim

    def _ranks(self, M: int) -> tuple[int, int]:
        lo = min(self.trim, (M - 1) // 2)
        return lo, M - lo

    def _vote(self, rows: RouterRows) -> tuple[np.ndarray, np.ndarray]:
        self._check(rows)
        n, M, H = rows.forecasts.shape
        lo, hi = self._ranks(M)
        fused, shares = np.empty((n, H)), np.empty((n, M))
        for i in range(0, n, CHUNK):
            f = rows.forecasts[i:i + CHUNK].astype(np.float64)
            order = np.argsort(f, axis=1, kind="stable")[:, lo:hi]  # [c, hi-lo, H]: the kept models
            kept = np.take_along_axis(f, order, axis=1)
            fused[i:i + CHUNK] = kept.mean(1)
            counts = np.zeros((len(f), M))
            np.add.at(counts, (np.arange(len(f))[:, None, None], order), 1.0)
            shares[i:i + CHUNK] = counts / ((hi - lo) * H)
        return fused, shares

    def weights(self, rows: RouterRows) -> np.ndarray:
        return self._vote(rows)[1]

    def fuse(self, rows: RouterRows) -> np.ndarray:
        return self._vote(rows)[0]

    def describe(self) -> str:
        lo, hi = self._ranks(len(self.models_))
        return f"{self.name}: at each step, the mean of the forecasts ranked {lo + 1} to {hi} of {len(self.models_)}"


class Median(RankVote):
    """At every step, the median of the forecasts."""

    name = "median"

    def __init__(self) -> None:
        super().__init__(trim=0)

    def _ranks(self, M: int) -> tuple[int, int]:
        return (M - 1) // 2, M // 2 + 1


class InverseError(Router):
    """Weights proportional to 1 / (recent error) ** power: each forecaster counts as much as it
    has been right on the latest windows known at the origin (its mean error on the fitted rows
    where none is known yet)."""

    name = "inverse-error"

    def __init__(self, power: float = 1.0) -> None:
        self.power = power

    def weights(self, rows: RouterRows) -> np.ndarray:
        self._check(rows)
        err = np.where(np.isfinite(rows.recent_error), rows.recent_error, self.mean_error_)
        w = (np.maximum(err, 1e-8)) ** -self.power
        return w / w.sum(1, keepdims=True)

    def describe(self) -> str:
        return f"{self.name}: weights proportional to 1 / recent MSE^{self.power:g}"


class Rules(Router):
    """A shallow decision tree from the features to the forecaster that was best on each row,
    readable as rules. Rows count by how much the choice mattered there (worst minus best error),
    so that windows where every forecaster was as good do not shape the tree."""

    name = "rules"

    def __init__(self, max_depth: int = 3, min_leaf_fraction: float = 0.02, seed: int = 0) -> None:
        self.max_depth = max_depth
        self.min_leaf_fraction = min_leaf_fraction
        self.seed = seed

    def fit(self, rows: RouterRows) -> "Rules":
        from sklearn.tree import DecisionTreeClassifier

        super().fit(rows)
        errors = rows.errors()
        self.scaler_ = FeatureScaler.fit(rows.features)
        self.feature_names_ = rows.feature_names
        self.tree_ = DecisionTreeClassifier(
            max_depth=self.max_depth, min_samples_leaf=max(1, int(self.min_leaf_fraction * len(rows))),
            random_state=self.seed,
        ).fit(self.scaler_.fill(rows.features), errors.argmin(1),
              sample_weight=errors.max(1) - errors.min(1) + 1e-12)
        return self

    def choice(self, rows: RouterRows) -> np.ndarray:
        """The chosen forecaster's index for each row [n]."""
        self._check(rows)
        return self.tree_.predict(self.scaler_.fill(rows.features)).astype(int)

    def weights(self, rows: RouterRows) -> np.ndarray:
        w = np.zeros(rows.forecasts.shape[:2])
        w[np.arange(len(rows)), self.choice(rows)] = 1.0
        return w

    def text(self) -> str:
        """The tree as indented rules."""
        from sklearn.tree import export_text

        return export_text(self.tree_, feature_names=list(self.feature_names_),
                           class_names=[self.models_[c] for c in self.tree_.classes_], decimals=3)

    def fired(self, rows: RouterRows, i: int) -> list[tuple[str, float, float]]:
        """The tests row `i` passed on its way to its leaf: (feature, its value, threshold); the
        value is at most the threshold where it is not above it."""
        self._check(rows)
        x = self.scaler_.fill(rows.features[i:i + 1])
        tree = self.tree_.tree_
        return [(self.feature_names_[tree.feature[node]], float(x[0, tree.feature[node]]), float(tree.threshold[node]))
                for node in self.tree_.decision_path(x).indices
                if tree.children_left[node] != tree.children_right[node]]  # not the leaf

    def describe(self) -> str:
        return f"rules: a decision tree of depth {self.tree_.get_depth()} with {self.tree_.get_n_leaves()} leaves"


class Learned(Router):
    """FFORMA-style: features -> softmax weights over the forecasters, trained to minimise the
    MSE of the weighted forecast. `hidden=0` is a linear map to the logits; otherwise one hidden
    layer. The last `holdout` of the fitted rows' origins stops the training early."""

    name = "learned"

    def __init__(self, hidden: int = 32, lr: float = 0.01, weight_decay: float = 1e-3, max_steps: int = 500,
                 holdout: float = 0.2, patience: int = 5, seed: int = 0) -> None:
        self.hidden = hidden
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_steps = max_steps
        self.holdout = holdout
        self.patience = patience
        self.seed = seed

    def _net(self, n_features: int, n_models: int):
        import torch

        torch.manual_seed(self.seed)
        if self.hidden:
            net = torch.nn.Sequential(torch.nn.Linear(n_features, self.hidden), torch.nn.GELU(),
                                      torch.nn.Linear(self.hidden, n_models))
        else:
            net = torch.nn.Sequential(torch.nn.Linear(n_features, n_models))
        torch.nn.init.zeros_(net[-1].weight)  # starts at equal weights, the plain mean
        torch.nn.init.zeros_(net[-1].bias)
        return net

    def fit(self, rows: RouterRows) -> "Learned":
        import torch

        super().fit(rows)
        self.scaler_ = FeatureScaler.fit(rows.features)
        cut = np.quantile(rows.origin, 1 - self.holdout) if self.holdout > 0 else np.inf
        part = {"fit": rows.origin < cut, "stop": rows.origin >= cut}
        if part["stop"].sum() == 0 or part["fit"].sum() == 0:
            part = {"fit": np.ones(len(rows), bool), "stop": np.ones(len(rows), bool)}
        tensors = {k: (torch.tensor(self.scaler_.transform(rows.features[m]), dtype=torch.float32),
                       torch.tensor(rows.forecasts[m], dtype=torch.float32),
                       torch.tensor(rows.target[m], dtype=torch.float32)) for k, m in part.items()}

        def loss(net, x, f, y):
            w = torch.softmax(net(x), dim=1)
            return ((torch.einsum("nm,nmh->nh", w, f) - y) ** 2).mean()

        net = self._net(len(rows.feature_names), len(rows.models))
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_state, bad, self.steps_ = np.inf, None, 0, 0
        for step in range(self.max_steps):
            opt.zero_grad()
            loss(net, *tensors["fit"]).backward()
            opt.step()
            if step % 10 == 9:
                with torch.no_grad():
                    score = float(loss(net, *tensors["stop"]))
                if score < best - 1e-6:
                    best, bad, self.steps_ = score, 0, step + 1
                    best_state = {k: v.clone() for k, v in net.state_dict().items()}
                else:
                    bad += 1
                    if bad >= self.patience:
                        break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.net_ = net.eval()
        return self

    def weights(self, rows: RouterRows) -> np.ndarray:
        import torch

        self._check(rows)
        with torch.no_grad():
            logits = self.net_(torch.tensor(self.scaler_.transform(rows.features), dtype=torch.float32))
            return torch.softmax(logits, dim=1).double().numpy()

    def drivers(self, rows: RouterRows, i: int, top: int = 3) -> list[tuple[str, float]]:
        """The features that moved row `i`'s weight on its top forecaster most, against the
        fitted rows' typical (mean) features: (name, change in that weight), largest first."""
        import torch

        x = torch.tensor(self.scaler_.transform(rows.features[i:i + 1]), dtype=torch.float32)
        with torch.no_grad():
            w = torch.softmax(self.net_(x), dim=1)[0]
            chosen = int(w.argmax())
            # one feature at a time back to its mean (0 after scaling): how much would the weight drop
            probes = x.repeat(x.shape[1], 1)
            probes[torch.arange(x.shape[1]), torch.arange(x.shape[1])] = 0.0
            moved = w[chosen] - torch.softmax(self.net_(probes), dim=1)[:, chosen]
        order = np.argsort(-np.abs(moved.numpy()))[:top]
        return [(rows.feature_names[j], float(moved[j])) for j in order]

    def describe(self) -> str:
        kind = f"one hidden layer of {self.hidden}" if self.hidden else "linear"
        return f"learned: softmax weights from the features ({kind}), {self.steps_} full-batch steps"


ROUTERS: dict[str, type[Router]] = {cls.name: cls for cls in (Best, Median, RankVote, InverseError, Rules, Learned)}
VOTES = ("median", "trimmed", "inverse-error")


class Auto(Router):
    """Chooses among `modes` on held-back rows: each mode is fitted on the earlier origins of the
    fitted rows and scored on the last `holdout` of them (starting H origins later, so that no
    target row is shared with the earlier ones; for many short series, a quarter of the series);
    the winner is refitted on all rows. If its fused
    forecast on the fitted rows is then worse than the best single forecaster's, the best single
    forecaster is used instead: on the rows it learned from, the fused forecast never loses."""

    name = "auto"

    def __init__(self, modes: tuple[str, ...] = ("best", *VOTES, "rules", "learned"), holdout: float = 0.25,
                 seed: int = 0) -> None:
        self.modes = modes
        self.holdout = holdout
        self.seed = seed

    def _held_back(self, rows: RouterRows) -> tuple[np.ndarray, np.ndarray] | None:
        """Masks of the rows to fit on and the rows to score on: the last origins, H steps after
        the others; where there are too few origins for that but several series (many short ones),
        every fourth series; None where neither is possible."""
        horizon = rows.forecasts.shape[2]
        origins = np.unique(rows.origin)
        cut = origins[int(len(origins) * (1 - self.holdout))]
        early, held = rows.origin < cut - horizon, rows.origin >= cut
        if early.any() and held.any():
            return early, held
        series = np.unique(rows.series)
        if len(series) >= 4:
            held = np.isin(rows.series, series[::max(2, round(1 / self.holdout))])
            return ~held, held
        return None

    def fit(self, rows: RouterRows) -> "Auto":
        super().fit(rows)
        parts = self._held_back(rows) if len(self.modes) > 1 else None
        self.scores_, self.too_few_ = {}, len(self.modes) > 1 and parts is None
        if parts is not None:
            early, held = (rows.take(m) for m in parts)
            self.scores_ = {m: mse(held.target, make_router(m, self.seed).fit(early).fuse(held)) for m in self.modes}
        # with too few windows to hold any back, nothing can be chosen fairly: the best single one
        self.choice_ = (min(self.scores_, key=self.scores_.get) if self.scores_ else
                        "best" if self.too_few_ else self.modes[0])
        self.router_ = make_router(self.choice_, self.seed).fit(rows)
        self.fitted_mse_ = mse(rows.target, self.router_.fuse(rows))
        best_single = float(self.mean_error_.min())
        self.fell_back_ = self.choice_ != "best" and self.fitted_mse_ > best_single * (1 + 1e-9)
        if self.fell_back_:
            self.router_ = Best().fit(rows)
            self.fitted_mse_ = best_single
        return self

    def weights(self, rows: RouterRows) -> np.ndarray:
        self._check(rows)
        return self.router_.weights(rows)

    def fuse(self, rows: RouterRows) -> np.ndarray:
        self._check(rows)
        return self.router_.fuse(rows)

    def describe(self) -> str:
        scores = ", ".join(f"{m} {s:.4f}" for m, s in sorted(self.scores_.items(), key=lambda kv: kv[1]))
        why = (f"chose {self.choice_} on held-back validation rows (MSE {scores})" if self.scores_
               else "best (too few validation windows to hold some back and choose a mode)" if self.too_few_
               else f"{self.choice_} (the only mode asked for)")
        fallback = f"; it lost to {self.router_.describe()} on all fitted rows, so that is used" if self.fell_back_ else ""
        return f"auto: {why}{fallback}\n{self.router_.describe()}"


ROUTERS["auto"] = Auto
MODES = ("auto", "vote", *(m for m in ROUTERS if m != "auto"))


def make_router(mode: str, seed: int = 0) -> Router:
    """'auto' (choose on held-back validation rows), 'vote' (choose among the votes), or one mode."""
    if mode == "vote":
        return Auto(modes=VOTES, seed=seed)
    if mode not in ROUTERS:
        raise ValueError(f"unknown router mode '{mode}'; known: {', '.join(MODES)}")
    cls = ROUTERS[mode]
    return cls(seed=seed) if "seed" in inspect.signature(cls).parameters else cls()
