"""The router's modes: each turns the forecasters' forecasts for a window (and the window's
features) into weights over the forecasters, and the weights into one fused forecast.

A row is one series at one origin (a channel of a dataset, or one `unique_id`). Every mode has
the same contract: `fit(rows)` learns from rows whose target is known (the validation windows,
never the test ones), `weights(rows)` and `fuse(rows)` read no target. Weights are [n, M] and sum
to 1 per row; for the votes, which pick per step, they are each forecaster's share of the steps.
"""

from __future__ import annotations

import inspect
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import optimize

from hybrid.foundation.metrics import mse
from hybrid.foundation.state import Document, Stateful
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
        with warnings.catch_warnings():  # a column with no value at all (no track record yet) becomes 0
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nan_to_num(np.nanmedian(finite, axis=0)) if len(x) else np.zeros(x.shape[1])
        filled = np.where(np.isfinite(x), x, median)
        std = filled.std(0)
        return cls(median, filled.mean(0), np.where(std > 0, std, 1.0))

    def fill(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(x), x, self.median)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (self.fill(x) - self.mean) / self.std


class Router(Stateful, ABC):
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

    def __init__(self) -> None:  # no trim: the ranks kept follow from the number of forecasters alone
        pass

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


def _moments(rows: RouterRows) -> tuple[np.ndarray, np.ndarray]:
    """E[f_m f_k] [M, M] and E[f_m y] [M] over every row and step: the MSE of any fixed weights w
    is w' gram w - 2 cross' w plus the target's mean square, a quadratic the fixed-weight modes
    minimise without the rows."""
    n, M, H = rows.forecasts.shape
    gram, cross = np.zeros((M, M)), np.zeros(M)
    for i in range(0, n, CHUNK):
        f, y = rows.forecasts[i:i + CHUNK].astype(np.float64), rows.target[i:i + CHUNK]
        gram += np.einsum("nmh,nkh->mk", f, f)
        cross += np.einsum("nmh,nh->m", f, y)
    return gram / (n * H), cross / (n * H)


class FixedWeights(Router):
    """A mode whose weights (`weights_`, learned by `fit`) are the same for every row."""

    def weights(self, rows: RouterRows) -> np.ndarray:
        self._check(rows)
        return np.tile(self.weights_, (len(rows), 1))

    def kept(self, least: float = 0.005) -> str:
        """The members with a weight of at least `least`, largest first: 'a 0.50, b 0.30'."""
        ranked = sorted(zip(self.models_, self.weights_), key=lambda kv: -kv[1])
        return ", ".join(f"{m} {w:.2f}" for m, w in ranked if w >= least)


class Stacked(FixedWeights):
    """The same weights for every row: the convex combination of the forecasters (weights >= 0,
    summing to 1) with the lowest MSE on the fitted rows (Granger and Ramanathan's combination,
    constrained). Every single forecaster is such a combination, so on the rows it learned from
    it never loses to the best of them; unlike `best` it can keep a second forecaster that errs
    where the first does not."""

    name = "stacked"

    def fit(self, rows: RouterRows) -> "Stacked":
        super().fit(rows)
        M = rows.forecasts.shape[1]
        gram, cross = _moments(rows)

        def loss(w: np.ndarray) -> float:  # the fused MSE less the target's mean square
            return float(w @ gram @ w - 2 * cross @ w)

        start = np.eye(M)[int(np.argmin(self.mean_error_))]  # the best single one: the solution can only improve on it
        solved = optimize.minimize(loss, start, jac=lambda w: 2 * (gram @ w - cross), bounds=[(0.0, 1.0)] * M,
                                   method="SLSQP",
                                   constraints={"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(M)})
        w = np.clip(solved.x, 0.0, None)
        w /= w.sum()
        self.weights_ = w if loss(w) <= loss(start) else start
        return self

    def describe(self) -> str:
        return (f"{self.name}: fixed weights, the convex combination with the lowest MSE on the fitted rows "
                f"({self.kept()})")


class Greedy(FixedWeights):
    """Ensemble selection with replacement (Caruana et al. 2004; AutoGluon-TimeSeries fits its
    ensemble so, on its backtest windows): starting from none, `rounds` times add the member whose
    addition lowers the fused MSE on the fitted rows most, a member as often as it helps; the
    weights are how often each was added. Coarser than `stacked`'s optimum (multiples of
    1 / rounds) and, in the literature, less prone to fit the noise of the rows it learned from."""

    name = "greedy"

    def __init__(self, rounds: int = 50) -> None:
        self.rounds = rounds

    def fit(self, rows: RouterRows) -> "Greedy":
        super().fit(rows)
        gram, cross = _moments(rows)
        counts = np.zeros(len(cross))
        for r in range(1, self.rounds + 1):
            candidates = (counts + np.eye(len(cross))) / r  # row m: the weights with m added once more
            losses = np.einsum("mi,ij,mj->m", candidates, gram, candidates) - 2 * candidates @ cross
            counts[int(np.argmin(losses))] += 1
        self.weights_ = counts / self.rounds
        return self

    def describe(self) -> str:
        return (f"{self.name}: fixed weights by ensemble selection with replacement over {self.rounds} rounds "
                f"({self.kept()})")


class Top(FixedWeights):
    """The plain mean of the `k` forecasters with the lowest MSE on the fitted rows, `k` the one
    whose mean has the lowest MSE there: equal weights, which out of sample rarely lose to
    estimated ones (the "forecast combination puzzle"), without the members that are far behind
    (a trimmed mean of the best, as Jose and Winkler trim)."""

    name = "top"

    def fit(self, rows: RouterRows) -> "Top":
        super().fit(rows)
        gram, cross = _moments(rows)
        order = np.argsort(self.mean_error_, kind="stable")
        candidates = np.zeros((len(order), len(order)))
        for k in range(1, len(order) + 1):
            candidates[k - 1, order[:k]] = 1.0 / k
        losses = np.einsum("ki,ij,kj->k", candidates, gram, candidates) - 2 * candidates @ cross
        self.k_ = int(np.argmin(losses)) + 1
        self.weights_ = candidates[self.k_ - 1]
        return self

    def describe(self) -> str:
        return f"{self.name}: the mean of the {self.k_} members best on the fitted rows ({self.kept()})"


class Shrunk(FixedWeights):
    """`stacked`'s weights shrunk toward equal ones, w = (1 - s) w_stacked + s / M, the shrinkage
    s the one that forecast best in forward-chained cross-validation over the fitted rows'
    blocks (`forward_blocks`): estimated weights where they held on later windows, equal ones
    where they did not."""

    name = "shrunk"
    GRID = tuple(np.linspace(0.0, 1.0, 11))

    def __init__(self, folds: int = 5) -> None:
        self.folds = folds

    def fit(self, rows: RouterRows) -> "Shrunk":
        super().fit(rows)
        M = rows.forecasts.shape[1]
        equal = np.full(M, 1.0 / M)
        loss = np.zeros(len(self.GRID))
        for fit, score in forward_blocks(rows, self.folds):
            w = Stacked().fit(rows.take(fit)).weights_
            gram, cross = _moments(rows.take(score))
            for i, s in enumerate(self.GRID):
                v = (1 - s) * w + s * equal
                loss[i] += v @ gram @ v - 2 * cross @ v
        self.shrinkage_ = float(self.GRID[int(np.argmin(loss))]) if loss.any() else 0.0
        self.weights_ = (1 - self.shrinkage_) * Stacked().fit(rows).weights_ + self.shrinkage_ * equal
        return self

    def describe(self) -> str:
        return (f"{self.name}: stacked weights shrunk by {self.shrinkage_:.1f} toward equal ones, the shrinkage "
                f"chosen on later windows ({self.kept()})")


def _series_moments(rows: RouterRows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_moments` per series: the series' ids [S], E[f f'] [S, M, M] and E[f y] [S, M] over its rows."""
    ids, index = np.unique(rows.series, return_inverse=True)
    n, M, H = rows.forecasts.shape
    gram, cross, count = np.zeros((len(ids), M, M)), np.zeros((len(ids), M)), np.zeros(len(ids))
    for i in range(0, n, CHUNK):
        f, y, at = rows.forecasts[i:i + CHUNK].astype(np.float64), rows.target[i:i + CHUNK], index[i:i + CHUNK]
        np.add.at(gram, at, np.einsum("nmh,nkh->nmk", f, f))
        np.add.at(cross, at, np.einsum("nmh,nh->nm", f, y))
        np.add.at(count, at, H)
    return ids, gram / count[:, None, None], cross / count[:, None]


def _simplex_least_squares(gram: np.ndarray, cross: np.ndarray, steps: int = 500) -> np.ndarray:
    """argmin over the simplex of w' gram w - 2 cross' w, for a stack of problems at once
    (gram [S, M, M], cross [S, M]): projected gradient steps of 1 / (2 * largest eigenvalue)."""
    S, M = cross.shape
    rate = 1.0 / (2 * np.maximum(np.linalg.eigvalsh(gram)[:, -1], 1e-12))[:, None]
    w = np.full((S, M), 1.0 / M)
    for _ in range(steps):
        w = _onto_simplex(w - rate * 2 * (np.einsum("smk,sk->sm", gram, w) - cross))
    return w


def _onto_simplex(v: np.ndarray) -> np.ndarray:
    """Each row of v projected onto {w >= 0, sum w = 1} (Duchi et al. 2008)."""
    u = -np.sort(-v, axis=1)
    cum = np.cumsum(u, axis=1) - 1
    k = np.arange(1, v.shape[1] + 1)
    rho = (u - cum / k > 0).sum(1)
    theta = cum[np.arange(len(v)), rho - 1] / rho
    return np.maximum(v - theta[:, None], 0.0)


class PerSeries(Router):
    """Each series' own convex combination of the members (as `stacked` finds for all rows
    together) where the series has at least `min_windows` windows' worth of rows (origins / H),
    shrunk toward the pooled one, w_s = (1 - s) w_series + s w_pooled, the shrinkage s the one
    that forecast best in forward-chained cross-validation over the blocks (`forward_blocks`); a
    series with fewer windows, or one not seen in `fit`, takes the pooled weights."""

    name = "per-series"
    GRID = Shrunk.GRID

    def __init__(self, min_windows: int = 10, folds: int = 5) -> None:
        self.min_windows = min_windows
        self.folds = folds

    def _solve(self, rows: RouterRows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The series' ids, the pooled weights [M] and each series' own [S, M] (pooled where it has too few windows)."""
        ids, gram, cross = _series_moments(rows)
        counts = np.array([np.unique(rows.origin[rows.series == i]).size for i in ids])
        pooled_gram, pooled_cross = _moments(rows)
        pooled = _simplex_least_squares(pooled_gram[None], pooled_cross[None])[0]
        own = np.tile(pooled, (len(ids), 1))
        enough = counts >= self.min_windows * rows.forecasts.shape[2]
        if enough.any():
            own[enough] = _simplex_least_squares(gram[enough], cross[enough])
        return ids, pooled, own

    def fit(self, rows: RouterRows) -> "PerSeries":
        super().fit(rows)
        loss = np.zeros(len(self.GRID))
        for fit, score in forward_blocks(rows, self.folds):
            ids, pooled, own = self._solve(rows.take(fit))
            scored, gram, cross = _series_moments(rows.take(score))
            at = np.searchsorted(ids, scored)
            known = (at < len(ids)) & (ids[np.minimum(at, len(ids) - 1)] == scored)
            mine = np.where(known[:, None], own[np.minimum(at, len(ids) - 1)], pooled)
            for i, s in enumerate(self.GRID):
                v = (1 - s) * mine + s * pooled
                loss[i] += float((np.einsum("sm,smk,sk->s", v, gram, v) - 2 * (cross * v).sum(1)).sum())
        self.shrinkage_ = float(self.GRID[int(np.argmin(loss))]) if loss.any() else 1.0
        self.series_, self.pooled_, own = self._solve(rows)
        self.weights_ = (1 - self.shrinkage_) * own + self.shrinkage_ * self.pooled_
        return self

    def weights(self, rows: RouterRows) -> np.ndarray:
        self._check(rows)
        at = np.searchsorted(self.series_, rows.series)
        clipped = np.minimum(at, len(self.series_) - 1)
        known = self.series_[clipped] == rows.series
        return np.where(known[:, None], self.weights_[clipped], self.pooled_)

    def describe(self) -> str:
        spread = np.abs(self.weights_ - self.pooled_).sum(1).max() / 2 if len(self.weights_) else 0.0
        if spread < 0.005:  # a user should not have to work out that "shrunk by 1.0" means no series of its own
            return (f"{self.name}: the pooled weights for every series (no series' own weights forecast better "
                    "in cross-validation)")
        return (f"{self.name}: each series' own weights, shrunk by {self.shrinkage_:.1f} toward the pooled ones; "
                f"at most {spread:.0%} of a series' weight moved from them")


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

    def state(self) -> dict:
        # the tree's arrays (sklearn's own state, its structured node array split by field)
        tree = self.tree_.tree_.__getstate__()
        nodes = tree["nodes"]
        return {**super().state(), "tree_": {
            "params": self.tree_.get_params(), "n_features": int(self.tree_.n_features_in_),
            "classes": self.tree_.classes_, "max_depth": int(tree["max_depth"]), "node_count": int(tree["node_count"]),
            "nodes": {f: nodes[f] for f in nodes.dtype.names}, "values": tree["values"]}}

    def set_state(self, state: dict) -> "Rules":
        from sklearn.tree import DecisionTreeClassifier
        from sklearn.tree._tree import NODE_DTYPE, Tree

        saved = state["tree_"]
        super().set_state(state)
        nodes = np.zeros(saved["node_count"], dtype=NODE_DTYPE)
        for field, values in saved["nodes"].items():
            nodes[field] = values
        classes = np.asarray(saved["classes"])
        tree = Tree(saved["n_features"], np.array([len(classes)], dtype=np.intp), 1)
        tree.__setstate__({"max_depth": saved["max_depth"], "node_count": saved["node_count"], "nodes": nodes,
                           "values": np.ascontiguousarray(saved["values"])})
        clf = DecisionTreeClassifier(**saved["params"])
        clf.tree_, clf.classes_, clf.n_classes_ = tree, classes, len(classes)
        clf.n_outputs_, clf.n_features_in_, clf.max_features_ = 1, saved["n_features"], saved["n_features"]
        self.tree_ = clf
        return self

    def describe(self) -> str:
        return f"rules: a decision tree of depth {self.tree_.get_depth()} with {self.tree_.get_n_leaves()} leaves"


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


class Learned(Router):
    """FFORMA-style: features -> softmax weights over the forecasters, trained to minimise the
    MSE of the weighted forecast. `learner`: `mlp` (one hidden layer of `hidden`, torch), `linear`
    (a linear map to the logits, torch) or `lightgbm` (boosted trees on the logits, with the
    weighted forecast's squared error as their custom objective, as FFORMA does with XGBoost).
    The last `holdout` of the fitted rows' origins stops the training early. Every learner
    starts at equal weights, the plain mean."""

    name = "learned"
    LEARNERS = ("mlp", "linear", "lightgbm")

    def __init__(self, learner: str = "mlp", hidden: int = 32, lr: float = 0.01, weight_decay: float = 1e-3,
                 max_steps: int = 500, holdout: float = 0.2, patience: int = 5, seed: int = 0) -> None:
        self.learner = learner
        self.hidden = hidden
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_steps = max_steps
        self.holdout = holdout
        self.patience = patience
        self.seed = seed

    def fit(self, rows: RouterRows) -> "Learned":
        if self.learner not in self.LEARNERS:
            raise ValueError(f"unknown learner '{self.learner}'; use one of {', '.join(self.LEARNERS)}")
        super().fit(rows)
        self.scaler_ = FeatureScaler.fit(rows.features)
        cut = np.quantile(rows.origin, 1 - self.holdout) if self.holdout > 0 else np.inf
        masks = [rows.origin < cut, rows.origin >= cut]
        if not masks[0].any() or not masks[1].any():
            masks = [np.ones(len(rows), bool)] * 2
        fit, stop = ((self.scaler_.transform(rows.features[m]), rows.forecasts[m], rows.target[m]) for m in masks)
        if self.learner == "lightgbm":
            self._fit_lightgbm(fit, stop)
        else:
            self._fit_torch(fit, stop)
        return self

    def _network(self, n_features: int, n_models: int):
        import torch

        layers = ([torch.nn.Linear(n_features, self.hidden), torch.nn.GELU(), torch.nn.Linear(self.hidden, n_models)]
                  if self.learner == "mlp" else [torch.nn.Linear(n_features, n_models)])
        return torch.nn.Sequential(*layers)

    def _fit_torch(self, fit: tuple, stop: tuple) -> None:
        import torch

        torch.manual_seed(self.seed)
        net = self._network(fit[0].shape[1], fit[1].shape[1])
        torch.nn.init.zeros_(net[-1].weight)
        torch.nn.init.zeros_(net[-1].bias)
        fit, stop = ([torch.tensor(a, dtype=torch.float32) for a in part] for part in (fit, stop))

        def loss(x, f, y):
            return ((torch.einsum("nm,nmh->nh", torch.softmax(net(x), dim=1), f) - y) ** 2).mean()

        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_state, bad, self.steps_ = np.inf, None, 0, 0
        for step in range(self.max_steps):
            opt.zero_grad()
            loss(*fit).backward()
            opt.step()
            if step % 10 == 9:
                with torch.no_grad():
                    score = float(loss(*stop))
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

    def _fit_lightgbm(self, fit: tuple, stop: tuple) -> None:
        import lightgbm as lgb

        n_models = fit[1].shape[1]
        arrays = {}

        def gradients(z: np.ndarray, f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # d/dz_k of mean_h (sum_m w_m f_mh - y_h)^2, w = softmax(z); Gauss-Newton for the hessian
            w = _softmax(z)
            fused = np.einsum("nm,nmh->nh", w, f)
            slope = w[:, :, None] * (f - fused[:, None])  # d fused / d z_k
            residual = (fused - y)[:, None]
            return 2 * (residual * slope).mean(2), 2 * (slope ** 2).mean(2) + 1e-6

        def objective(preds: np.ndarray, dataset: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
            z = preds.reshape(len(preds) // n_models, n_models, order="F") if preds.ndim == 1 else preds
            grad, hess = gradients(z, *arrays[id(dataset)])
            return (grad.ravel(order="F"), hess.ravel(order="F")) if preds.ndim == 1 else (grad, hess)

        def fused_mse(preds: np.ndarray, dataset: lgb.Dataset) -> tuple[str, float, bool]:
            z = preds.reshape(len(preds) // n_models, n_models, order="F") if preds.ndim == 1 else preds
            f, y = arrays[id(dataset)]
            return "fused_mse", float(((np.einsum("nm,nmh->nh", _softmax(z), f) - y) ** 2).mean()), False

        labels = [np.arange(len(part[0])) % n_models for part in (fit, stop)]  # unused by the objective
        train = lgb.Dataset(fit[0], labels[0], free_raw_data=False)
        valid = lgb.Dataset(stop[0], labels[1], reference=train, free_raw_data=False)
        arrays[id(train)], arrays[id(valid)] = fit[1:], stop[1:]
        params = {"objective": objective, "num_class": n_models, "learning_rate": 0.05, "num_leaves": 15,
                  "min_data_in_leaf": 50, "lambda_l2": 1.0, "seed": self.seed, "verbose": -1,
                  "num_threads": 1}  # a few thousand rows: more threads only spin
        self.booster_ = lgb.train(params, train, num_boost_round=self.max_steps, valid_sets=[valid], feval=fused_mse,
                                  callbacks=[lgb.early_stopping(self.patience * 10, verbose=False)])
        self.steps_ = self.booster_.best_iteration

    def _weights_of(self, x: np.ndarray) -> np.ndarray:
        """Weights [n, M] from scaled features [n, F]."""
        if self.learner == "lightgbm":
            return _softmax(np.asarray(self.booster_.predict(x, raw_score=True, num_iteration=self.steps_ or None)))
        import torch

        with torch.no_grad():
            return torch.softmax(self.net_(torch.tensor(x, dtype=torch.float32)), dim=1).double().numpy()

    def weights(self, rows: RouterRows) -> np.ndarray:
        self._check(rows)
        return self._weights_of(self.scaler_.transform(rows.features))

    def drivers(self, rows: RouterRows, i: int, top: int = 3) -> list[tuple[str, float]]:
        """The features that moved row `i`'s weight on its top forecaster most, against the
        fitted rows' typical (mean) features: (name, change in that weight), largest first."""
        x = self.scaler_.transform(rows.features[i:i + 1])
        w = self._weights_of(x)[0]
        chosen = int(w.argmax())
        # one feature at a time back to its mean (0 after scaling): how much would the weight drop
        probes = np.repeat(x, x.shape[1], axis=0)
        np.fill_diagonal(probes, 0.0)
        moved = w[chosen] - self._weights_of(probes)[:, chosen]
        order = np.argsort(-np.abs(moved))[:top]
        return [(rows.feature_names[j], float(moved[j])) for j in order]

    def state(self) -> dict:
        state = super().state()
        if self.learner == "lightgbm":
            state["booster_"] = Document(self.booster_.model_to_string())
        else:  # the network's weights; its shape follows from them
            state["net_"] = {k: v.numpy() for k, v in self.net_.state_dict().items()}
        return state

    def set_state(self, state: dict) -> "Learned":
        super().set_state(state)
        if self.learner == "lightgbm":
            import lightgbm as lgb

            self.booster_ = lgb.Booster(model_str=state["booster_"].text)
            return self
        import torch

        weights = {k: torch.tensor(v) for k, v in state["net_"].items()}
        last = weights["0.weight"] if self.learner == "linear" else weights["2.weight"]
        self.net_ = self._network(weights["0.weight"].shape[1], last.shape[0])
        self.net_.load_state_dict(weights)
        self.net_.eval()
        return self

    def describe(self) -> str:
        kind = {"mlp": f"one hidden layer of {self.hidden}", "linear": "a linear map",
                "lightgbm": "boosted trees"}[self.learner]
        unit = "rounds" if self.learner == "lightgbm" else "full-batch steps"
        return f"learned: softmax weights from the features ({kind}), {self.steps_} {unit}"


def forward_blocks(rows: RouterRows, folds: int, cv: str = "forward") -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit mask, score mask) for each block of the rows' origins, cut into `folds` contiguous
    blocks. `forward`: each block after the first, fitted on the rows before it, as a router is
    used (always on windows after those it learned from); `blocked`: every block, fitted on the
    rows on both sides of it. Either way no fitted row's target overlaps the scored block
    (origins at least H away). For many short series with too few origins, whole series are held
    out instead. Empty where neither gives two blocks."""
    if cv not in CV:
        raise ValueError(f"unknown cv '{cv}'; known: {', '.join(CV)}")
    horizon = rows.forecasts.shape[2]
    origins = np.unique(rows.origin)
    edges = np.linspace(0, len(origins), folds + 1).round().astype(int)
    out = []
    for k in range(1 if cv == "forward" else 0, folds):
        if edges[k + 1] <= edges[k]:
            continue
        lo, hi = origins[edges[k]], origins[edges[k + 1] - 1]
        score = (rows.origin >= lo) & (rows.origin <= hi)
        fit = rows.origin <= lo - horizon
        if cv == "blocked":
            fit |= rows.origin >= hi + horizon
        if fit.any() and score.any():
            out.append((fit, score))
    if len(out) >= 2:
        return out
    series = np.unique(rows.series)
    if len(series) >= 2 * folds:
        groups = np.arange(len(series)) % folds
        return [(~np.isin(rows.series, series[groups == k]), np.isin(rows.series, series[groups == k]))
                for k in range(folds)]
    return []


CV = ("forward", "blocked")


ROUTERS: dict[str, type[Router]] = {cls.name: cls for cls in (Best, Median, RankVote, InverseError, Top, Stacked,
                                                                Greedy, Shrunk, PerSeries, Rules, Learned)}
VOTES = ("median", "trimmed", "inverse-error")


class Auto(Router):
    """Chooses among `modes` by cross-validation on the fitted rows (`forward_blocks`: by default
    each of `folds` blocks of origins after the first is forecast by every mode fitted on the
    rows before it, as the router is used). A mode is chosen for being good in every stretch,
    not only on average: of the modes whose mean MSE over the blocks is within one standard error
    (of the paired differences) of the lowest — those the blocks cannot tell apart from the
    best — the one whose worst block is least behind that block's best mode (its MSE ratio),
    the first in `modes` on a tie; it is then refitted on all rows. `best` (the single member
    best so far) is one of the modes, so the choice can only leave it for a mode that forecast
    as well on later windows; on the rows it learned from a fused forecast may lose to a member,
    out of sample it is the one that did not."""

    name = "auto"

    # not `learned`: its network, fitted once per block, cost a third of a 1,000-series fit (32 s
    # of 91), and the most flexible mode is the one a shift between blocks hurts most
    DEFAULT_MODES = ("best", "median", "trimmed", "top", "inverse-error", "greedy", "shrunk", "stacked", "per-series",
                     "rules")

    def __init__(self, modes: tuple[str, ...] = DEFAULT_MODES, folds: int = 5, cv: str = "forward",
                 seed: int = 0) -> None:
        self.modes = modes
        self.folds = folds
        self.cv = cv
        self.seed = seed

    def fit(self, rows: RouterRows) -> "Auto":
        super().fit(rows)
        folds = forward_blocks(rows, self.folds, self.cv) if len(self.modes) > 1 else []
        self.too_few_ = len(self.modes) > 1 and not folds
        self.scores_, self.worst_ = {}, {}
        if folds:
            errors = np.array([[mse(rows.target[score], make_router(m, self.seed).fit(rows.take(fit)).fuse(rows.take(score)))
                                for fit, score in folds] for m in self.modes])  # [mode, block]
            mean = errors.mean(1)
            diff = errors - errors[int(mean.argmin())]
            se = diff.std(1, ddof=1) / np.sqrt(diff.shape[1])
            worst = (errors / np.maximum(errors.min(0), 1e-12)).max(1)
            self.scores_, self.worst_ = dict(zip(self.modes, mean)), dict(zip(self.modes, worst))
            tied = [i for i in range(len(self.modes)) if diff[i].mean() <= se[i]]
            self.choice_ = self.modes[min(tied, key=lambda i: (worst[i], i))]
        else:  # nothing can be chosen fairly with too few windows: the best single forecaster
            self.choice_ = "best" if self.too_few_ else self.modes[0]
        self.router_ = make_router(self.choice_, self.seed).fit(rows)
        self.fitted_mse_ = mse(rows.target, self.router_.fuse(rows))
        return self

    def weights(self, rows: RouterRows) -> np.ndarray:
        self._check(rows)
        return self.router_.weights(rows)

    def fuse(self, rows: RouterRows) -> np.ndarray:
        self._check(rows)
        return self.router_.fuse(rows)

    def describe(self) -> str:
        scores = ", ".join(f"{m} {s:.4f} (worst block x{self.worst_[m]:.2f})"
                           for m, s in sorted(self.scores_.items(), key=lambda kv: kv[1]))
        how = "forward-chaining" if self.cv == "forward" else "blocked"
        why = (f"chose {self.choice_} by {how} cross-validation over {self.folds} blocks of the backtest and "
               "validation windows (of the modes within one standard error of the lowest mean MSE, the one whose "
               f"worst block is least behind; mean MSE {scores})" if self.scores_
               else "best (too few windows to cross-validate a choice of mode)" if self.too_few_
               else f"{self.choice_} (the only mode asked for)")
        return f"auto: {why}\n{self.router_.describe()}"


ROUTERS["auto"] = Auto
# the learned mode with another learner than its default: "learned-linear", "learned-lightgbm"
LEARNER_MODES = tuple(f"learned-{learner}" for learner in Learned.LEARNERS if learner != "mlp")
MODES = ("auto", "vote", *(m for m in ROUTERS if m != "auto"), *LEARNER_MODES)


def make_router(mode: str, seed: int = 0) -> Router:
    """'auto' (chosen by cross-validation on validation rows), 'vote' (the same, among the votes),
    one mode, or 'learned-<learner>'."""
    if mode == "vote":
        return Auto(modes=VOTES, seed=seed)
    if mode in LEARNER_MODES:
        return Learned(learner=mode.removeprefix("learned-"), seed=seed)
    if mode not in ROUTERS:
        raise ValueError(f"unknown router mode '{mode}'; known: {', '.join(MODES)}")
    cls = ROUTERS[mode]
    return cls(seed=seed) if "seed" in inspect.signature(cls).parameters else cls()
