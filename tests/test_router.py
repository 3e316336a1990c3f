"""The router: window features with known answers, the modes, the fused forecaster, selection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hybrid.foundation.data import load
from hybrid.foundation.metrics import mse
from hybrid.product.fused import HybridForecaster
from hybrid.product.select import select
from router.features import feature_docs, window_features
from router.routers import (MODES, Auto, Best, Greedy, InverseError, Learned, Median, PerSeries, RankVote, Rules, Shrunk,
                             Stacked, Top, forward_blocks, make_router)
from router.rows import RouterRows
from tests.conftest import wide_frame

PERIODS = (24,)


def _features(x: np.ndarray) -> dict[str, np.ndarray]:
    return dict(zip(feature_docs(PERIODS, ()), window_features(x, PERIODS).T))


def test_features_of_a_sine_a_line_and_noise():
    t = np.arange(96)
    sine = np.sin(2 * np.pi * t / 24)
    line = 0.5 * t
    noise = np.random.default_rng(0).standard_normal((50, 96))
    f = _features(np.vstack([sine, line]))
    assert f["fft_period_1"][0] == 24 and f["fft_share_1"][0] > 0.9
    assert f["seasonal_strength_24"][0] > 0.99 and f["acf_24"][0] > 0.7
    assert f["spectral_entropy"][0] < 0.1
    assert f["trend_strength"][1] > 0.99
    assert f["trend_slope"][1] == pytest.approx(0.5 * 96 / line.std())
    assert f["last_vs_mean"][1] == pytest.approx((line[-1] - line.mean()) / line.std())
    n = _features(noise)
    assert n["spectral_entropy"].mean() > 0.85 and n["seasonal_strength_24"].mean() < 0.4
    # a window twice as volatile at its end
    calm_then_wild = np.concatenate([noise[0, :72], 2 * noise[0, 72:]])
    assert _features(calm_then_wild[None])["volatility_change"][0] > 0.4


def _rows(forecasts: np.ndarray, target: np.ndarray, features: np.ndarray, names=("a", "b"),
          recent: np.ndarray | None = None) -> RouterRows:
    n = len(target)
    return RouterRows(models=tuple(names), feature_names=tuple(f"f{j}" for j in range(features.shape[1])),
                      forecasts=forecasts.astype(np.float32), features=features,
                      recent_error=np.full((n, len(names)), np.nan) if recent is None else recent,
                      origin=np.arange(n), series=np.zeros(n, int), target=target)


def _regimes(n: int = 1200, seed: int = 0) -> RouterRows:
    """Two forecasters: `a` exact where the regime feature is positive, `b` where it is negative;
    each is off by a random shift elsewhere. Regimes alternate in blocks, so both occur early and late."""
    rng = np.random.default_rng(seed)
    target = rng.standard_normal((n, 8))
    regime = np.where((np.arange(n) // 50) % 2 == 0, 1.0, -1.0) * rng.uniform(0.5, 1.5, n)
    wrong = target + rng.normal(0, 1.0, (n, 1))
    a = np.where(regime[:, None] > 0, target, wrong)
    b = np.where(regime[:, None] > 0, wrong, target)
    features = np.column_stack([regime, rng.standard_normal(n)])  # a feature that matters, one that does not
    return _rows(np.stack([a, b], axis=1), target, features)


@pytest.mark.parametrize("learner", Learned.LEARNERS)
def test_learned_mode_recovers_the_right_forecaster_in_each_regime(learner):
    rows = _regimes()
    fitted, unseen = rows.take(np.arange(800)), rows.take(np.arange(800, 1200))
    learned = Learned(learner=learner).fit(fitted)
    w = learned.weights(unseen)
    positive = unseen.features[:, 0] > 0
    assert w[positive, 0].mean() > 0.9 and w[~positive, 1].mean() > 0.9
    # and its fused forecast beats either forecaster alone on windows it never saw
    fused = mse(unseen.target, learned.fuse(unseen))
    assert fused < 0.2 * min(unseen.errors().mean(0))
    assert learned.drivers(unseen, 0, top=1)[0][0] == "f0"


def test_rules_split_on_the_feature_that_matters():
    rows = _regimes()
    rules = Rules(max_depth=1).fit(rows)
    assert rules.text().splitlines()[0].startswith("|--- f0")
    positive = rows.features[:, 0] > 0
    chosen = rules.choice(rows)
    assert (chosen[positive] == 0).all() and (chosen[~positive] == 1).all()
    (name, value, threshold), = rules.fired(rows, 0)
    assert name == "f0" and value == rows.features[0, 0] and (value > threshold) == positive[0]


def test_votes():
    target = np.zeros((4, 3))
    forecasts = np.stack([np.full((4, 3), v) for v in (1.0, 5.0, 2.0, 3.0, -9.0)], axis=1)
    rows = _rows(forecasts, target, np.zeros((4, 1)), names=("p", "q", "r", "s", "t"),
                 recent=np.tile([1.0, 4.0, np.nan, 1.0, 1.0], (4, 1)))
    median = Median().fit(rows)
    assert np.allclose(median.fuse(rows), 2.0) and np.allclose(median.weights(rows)[0], [0, 0, 1, 0, 0])
    trimmed = RankVote(trim=1).fit(rows)  # drops -9 and 5
    assert np.allclose(trimmed.fuse(rows), 2.0) and np.allclose(trimmed.weights(rows)[0], [1 / 3, 0, 1 / 3, 1 / 3, 0])
    inverse = InverseError().fit(rows)  # r has no recent error: its mean error on the fitted rows (4.0) stands in
    w = inverse.weights(rows)[0]
    assert np.allclose(w, np.array([1, 1 / 4, 1 / 4, 1, 1]) / 3.5)
    assert np.allclose(w.sum(), 1.0)


def test_stacked_finds_the_convex_combination_of_least_error():
    # two forecasters with independent errors of equal size: half each halves the error; a third
    # that makes the first one's errors twice over adds nothing
    rng = np.random.default_rng(2)
    target = rng.standard_normal((2000, 8))
    e1, e2 = rng.standard_normal(target.shape), rng.standard_normal(target.shape)
    forecasts = np.stack([target + e1, target + e2, target + 2 * e1], axis=1)
    rows = _rows(forecasts, target, np.zeros((2000, 1)), names=("a", "b", "far"))
    stacked = Stacked().fit(rows)
    assert np.allclose(stacked.weights_, [0.5, 0.5, 0.0], atol=0.02)
    assert np.allclose(stacked.weights(rows), stacked.weights_) and np.isclose(mse(rows.target, stacked.fuse(rows)), 0.5, atol=0.03)
    assert "a 0.5" in stacked.describe() and "far" not in stacked.describe()


def test_greedy_ensemble_takes_two_members_whose_errors_cancel_in_equal_parts():
    # a and b err by +e and -e: half each is exact; c errs by half as much as either alone, so the
    # best single member is c: the selection starts with it (twice, before a pair can beat it),
    # then adds a and b in turn
    rng = np.random.default_rng(3)
    target = rng.standard_normal((1500, 8))
    e = rng.standard_normal(target.shape)
    forecasts = np.stack([target + e, target - e, target + 0.5 * rng.standard_normal(target.shape)], axis=1)
    rows = _rows(forecasts, target, np.zeros((1500, 1)), names=("a", "b", "c"))
    greedy = Greedy(rounds=20).fit(rows)
    assert Best().fit(rows).best_ == 2
    np.testing.assert_allclose(greedy.weights_, [0.45, 0.45, 0.1])
    # what is left is c's share of c's error: 0.1 squared of its MSE, against all of it for the best single one
    assert mse(rows.target, greedy.fuse(rows)) == pytest.approx(0.01 * mse(rows.target, rows.forecasts[:, 2]), rel=1e-3)
    assert "greedy" in MODES and "a 0.45, b 0.45, c 0.10" in greedy.describe()


def test_top_takes_the_mean_of_the_members_whose_mean_forecasts_best():
    # a and b err independently by as much: their mean halves the error; c is far behind and
    # would add its error to any mean it joined
    rng = np.random.default_rng(4)
    target = rng.standard_normal((1500, 8))
    forecasts = np.stack([target + rng.standard_normal(target.shape), target + rng.standard_normal(target.shape),
                          target + 3 * rng.standard_normal(target.shape)], axis=1)
    top = Top().fit(_rows(forecasts, target, np.zeros((1500, 1)), names=("a", "b", "c")))
    assert top.k_ == 2 and np.allclose(top.weights_, [0.5, 0.5, 0.0])
    assert "mean of the 2 members" in top.describe()


def test_shrunk_weights_go_to_equal_ones_where_estimated_weights_do_not_hold():
    rng = np.random.default_rng(5)
    target = rng.standard_normal((1500, 4))
    # six members as good as each other, their errors independent: equal weights are the optimum,
    # and stacked weights fitted on a few windows are that optimum plus noise
    alike = np.stack([target + rng.standard_normal(target.shape) for _ in range(6)], axis=1)
    shrunk = Shrunk().fit(_rows(alike, target, np.zeros((1500, 1)), names=tuple("abcdef")))
    assert shrunk.shrinkage_ >= 0.5
    # one member ten times as good: equal weights would throw that away
    one_good = alike.copy()
    one_good[:, 0] = target + 0.1 * rng.standard_normal(target.shape)
    shrunk = Shrunk().fit(_rows(one_good, target, np.zeros((1500, 1)), names=tuple("abcdef")))
    assert shrunk.shrinkage_ <= 0.1 and shrunk.weights_[0] > 0.9


def test_per_series_weights_follow_each_series_own_best_member_and_the_pooled_ones_without_enough_windows():
    rng = np.random.default_rng(6)
    n, H = 600, 4
    parts = []
    for series, (noise_a, noise_b) in enumerate(((0.1, 1.0), (1.0, 0.1), (0.5, 0.5))):
        size = n if series < 2 else 3 * H  # the third has three windows' worth of rows: too few
        target = rng.standard_normal((size, H))
        forecasts = np.stack([target + noise_a * rng.standard_normal(target.shape),
                              target + noise_b * rng.standard_normal(target.shape)], axis=1)
        part = _rows(forecasts, target, np.zeros((size, 1)))
        parts.append(dataclasses.replace(part, series=np.full(size, series)))
    rows = RouterRows.concat(parts, same_series=True)
    router = PerSeries().fit(rows)
    w = router.weights(rows)
    assert router.shrinkage_ <= 0.2
    assert w[rows.series == 0, 0].min() > 0.9 and w[rows.series == 1, 1].min() > 0.9
    np.testing.assert_allclose(w[rows.series == 2], np.tile(router.pooled_, ((rows.series == 2).sum(), 1)))
    # the pooled weights are the convex combination of least error over all rows, as stacked finds it
    np.testing.assert_allclose(router.pooled_, Stacked().fit(rows).weights_, atol=1e-3)
    unseen = dataclasses.replace(rows.take(np.arange(5)), series=np.full(5, 9))
    np.testing.assert_allclose(router.weights(unseen), np.tile(router.pooled_, (5, 1)))
    assert "each series' own weights" in router.describe()
    alike = RouterRows.concat([dataclasses.replace(parts[2], series=np.full(3 * H, s)) for s in range(2)],
                              same_series=True)  # two series too short for weights of their own
    assert PerSeries().fit(alike).describe().startswith("per-series: the pooled weights for every series")


def test_auto_chooses_among_the_modes_the_blocks_cannot_tell_apart_the_one_with_the_best_worst_block():
    for seed in range(3):
        rows = _regimes(400, seed)
        auto = Auto(modes=("best", "median", "top", "greedy", "stacked", "rules")).fit(rows)
        lowest = min(auto.scores_.values())
        assert auto.scores_[auto.choice_] < 1.5 * lowest
        errors = np.array([[mse(rows.target[s], make_router(m).fit(rows.take(f)).fuse(rows.take(s)))
                            for f, s in forward_blocks(rows, auto.folds)] for m in auto.modes])
        diff = errors - errors[errors.mean(1).argmin()]
        tied = [m for m, d in zip(auto.modes, diff) if d.mean() <= d.std(ddof=1) / np.sqrt(len(d))]
        assert auto.choice_ in tied and auto.worst_[auto.choice_] == min(auto.worst_[m] for m in tied)
        assert "worst block" in auto.describe()


def test_auto_scores_each_block_by_modes_fitted_on_earlier_windows_only():
    rows = _regimes(400)
    horizon = rows.forecasts.shape[2]
    forward = forward_blocks(rows, 4)
    assert len(forward) == 3  # every block but the first, which nothing precedes
    for fit, score in forward:
        assert fit.any() and rows.origin[fit].max() + horizon <= rows.origin[score].min()
    blocked = forward_blocks(rows, 4, cv="blocked")
    assert len(blocked) == 4 and any(rows.origin[fit].max() > rows.origin[score].max() for fit, score in blocked)
    for fit, score in blocked:  # on both sides, but never a target row shared with the scored block
        gap = np.abs(rows.origin[fit][:, None] - rows.origin[score][None, :]).min()
        assert gap >= horizon


def test_auto_prefers_the_simpler_mode_unless_a_richer_one_wins_clearly():
    rng = np.random.default_rng(2)
    target = rng.standard_normal((600, 8))
    good = target + 0.3 * rng.standard_normal(target.shape)
    poor = good + rng.standard_normal(target.shape)  # good's errors and more: any weight on it hurts
    noise_features = rng.standard_normal((600, 3))  # nothing to learn from
    plain = Auto().fit(_rows(np.stack([good, poor], axis=1), target, noise_features))
    assert plain.choice_ == "best" and plain.router_.describe().startswith("best: always a")
    regimes = Auto().fit(_regimes())  # here the features tell which forecaster is right: a router must win
    assert regimes.choice_ == "rules"
    assert regimes.scores_[regimes.choice_] < 0.2 * regimes.scores_["best"]


def _bundle(frame: pd.DataFrame):
    return load(frame, seq_len=96, horizon=24)


def test_the_router_never_reads_test_rows():
    frame = wide_frame(n=1000, noise=0.2, seed=3)
    changed = frame.copy()
    data = _bundle(frame)
    start = data.split.test[0] + data.seq_len  # the first test target row
    changed.iloc[start:, 1:] += np.random.default_rng(0).normal(0, 3.0, changed.iloc[start:, 1:].shape)
    other = _bundle(changed)
    fits = [HybridForecaster("snaive,linear,dlinear", mode="learned", cache=False).fit(d) for d in (data, other)]
    val = data.origins("val")
    assert fits[0].learned_mse_ == fits[1].learned_mse_
    assert np.array_equal(fits[0].weights(data, val), fits[1].weights(other, val))
    assert np.array_equal(fits[0].predict(data, val), fits[1].predict(other, val))


def test_each_backtest_block_is_forecast_by_members_fitted_on_the_rows_before_it():
    frame = wide_frame(n=1000, noise=0.2, seed=3)
    data = _bundle(frame)
    fused = HybridForecaster("snaive,linear,ets", cache=False, backtest_blocks=3).fit(data)
    rows = fused.learning_rows(data)
    blocks = fused.backtest_blocks_
    assert len(blocks) == 3 and blocks[-1][1] == data.origins("val")[0]  # three stretches right before validation
    assert np.unique(rows.origin).size == sum(b - a for a, b in blocks) + len(data.origins("val"))
    cutoff = blocks[0][0]
    changed = frame.copy()  # every row from the first cutoff on: the first block's fit must not see them
    changed.iloc[cutoff:, 1:] += np.random.default_rng(1).normal(0, 3.0, changed.iloc[cutoff:, 1:].shape)
    other = _bundle(changed)
    again = HybridForecaster("snaive,linear,ets", cache=False, backtest_blocks=3).fit(other).learning_rows(other)

    def raw_at_cutoff(r, d):  # the forecasts from the cutoff, on the data's own scale (the scalers differ)
        at = r.origin == cutoff
        return r.forecasts[at] * d.scaler.std[r.series[at], None, None] + d.scaler.mean[r.series[at], None, None]

    np.testing.assert_allclose(raw_at_cutoff(rows, data), raw_at_cutoff(again, other), rtol=1e-5, atol=1e-4)
    later = rows.origin == blocks[0][1]  # the next block's fit has read the changed rows
    assert not np.allclose(rows.forecasts[later], again.forecasts[later])


def test_a_member_too_costly_to_refit_is_fitted_once_before_the_first_block_and_runs_on_from_there():
    from baselines import Naive

    fits = []

    class TrainMean(Naive):  # forecasts its training rows' mean: which fit made a forecast shows in it
        name = "train_mean"
        backtest_refit = False

        def fit(self, data):
            fits.append(data.split.train[1])
            self.mean_ = data.train_values.mean(0)
            return self

        def predict(self, data, origins):
            return np.broadcast_to(self.mean_, (len(origins), data.horizon, data.n_channels)).copy()

    data = _bundle(wide_frame(n=1000, noise=0.2, seed=3))
    fused = HybridForecaster([TrainMean(), Naive()], cache=False, backtest_blocks=3).fit(data)
    rows = fused.learning_rows(data)
    first, last = fused.backtest_blocks_[0][0], fused.backtest_blocks_[-1][0]
    # one fit on the training part; one early fit per learning_rows call (fit's and this one), not one per block
    assert len(fits) == 3 and len(set(fits)) == 2
    early_end = min(fits)
    assert early_end < first
    in_last = (rows.origin == last) & (rows.series == 0)
    expected = (data.raw[:early_end, 0].mean() - data.scaler.mean[0]) / data.scaler.std[0]
    np.testing.assert_allclose(rows.forecasts[in_last, 0], expected, rtol=1e-5)


def test_fused_forecaster_on_a_noisy_sine():
    data = _bundle(wide_frame(n=1000, noise=0.3, seed=4))
    fused = HybridForecaster("snaive,linear", cache=False).fit(data)
    assert fused.learned_mse_["hybrid"] <= min(fused.learned_mse_["snaive"], fused.learned_mse_["linear"]) * (1 + 1e-9)
    test = data.origins("test")
    forecast = fused.predict(data, test)
    assert forecast.shape == (len(test), 24, 2)
    w = fused.weights(data, test)
    assert w.shape == (len(test), 2, 2) and np.allclose(w.sum(axis=1), 1.0)
    with pytest.raises(Exception, match="unknown router mode"):
        HybridForecaster("linear", mode="wise", cache=False).fit(data)


def test_select_on_one_dataset_and_on_a_long_frame_of_many_series(tmp_path):
    one = select(_bundle(wide_frame(n=800, noise=0.2)), models="snaive,linear", cache=False, progress=False)
    assert [c.series for c in one.choices] == ["s0", "s1"]
    for c in one.choices:
        assert c.top in ("snaive", "linear") and np.isclose(sum(c.weights.values()), 1.0, atol=1e-3)
        assert c.recommended == (c.top if max(c.weights.values()) >= 0.9 else "hybrid")
        assert set(c.val_mse) == {"snaive", "linear", "hybrid"}
    assert one.rules_text.startswith("|---")
    # a long frame: 12 series of different lengths and dates, pooled into one router
    rng = np.random.default_rng(5)
    parts = []
    for k in range(12):
        n = 300 + 10 * k
        t = np.arange(n)
        y = np.sin(2 * np.pi * t / 24) + (0.02 * t if k % 2 else 0.0) + 0.1 * rng.standard_normal(n)
        parts.append(pd.DataFrame({"unique_id": f"id{k}", "ds": pd.date_range(f"2021-01-{k + 1:02d}", periods=n, freq="h"),
                                   "y": y}))
    long = pd.concat(parts)
    many = select(long, models="snaive,linear", cache=False, progress=False)
    assert [c.series for c in many.choices] == [f"id{k}" for k in range(12)]
    table = many.table()
    assert list(table.recommended.unique()) and {"weight_linear", "val_mse_hybrid", "rules"} <= set(table.columns)
    many.write(tmp_path / "choice.csv")
    assert len(pd.read_csv(tmp_path / "choice.csv")) == 12
    assert "id11: use" in many.text(limit=12)


def test_make_router_names_the_modes():
    assert isinstance(make_router("vote"), Auto) and make_router("vote").modes == ("median", "trimmed", "inverse-error")
    with pytest.raises(ValueError, match="unknown router mode 'x'"):
        make_router("x")


def test_a_costly_member_forecast_on_the_grid_gives_the_router_the_rows_a_dense_one_does(tmp_path, monkeypatch):
    """The router's rows of a member forecast on the grid outside the test part (the core's way)
    hold the forecasts of the same member forecast everywhere, and track records from its grid."""
    from baselines import Linear, SeasonalNaive
    from hybrid.foundation.cache import CachedForecaster
    from hybrid.product.evaluation import compare

    class OnGrid(Linear):
        grid_forecasts = True

    monkeypatch.setenv("HYBRID_CACHE_DIR", str(tmp_path))
    data = load(wide_frame(n=2000, noise=0.2, seed=3), seq_len=96, horizon=96)  # every 4th origin
    dense = HybridForecaster([Linear(), SeasonalNaive()], mode="inverse-error", backtest_blocks=2).fit(data)
    grid = HybridForecaster([OnGrid(), SeasonalNaive()], mode="inverse-error", backtest_blocks=2).fit(data)
    a, b = dense.learning_rows(data), grid.learning_rows(data)
    assert len(grid.backtest_blocks_) == 2 and (b.origin % 4 == 0).all()
    np.testing.assert_array_equal(a.origin, b.origin)
    np.testing.assert_allclose(a.forecasts, b.forecasts, rtol=1e-6)
    assert np.isfinite(b.recent_error[np.isfinite(a.recent_error)]).all()  # a grid's track record wherever a dense one is
    test = data.origins("test")  # forecast at every origin
    np.testing.assert_allclose(grid.members_[0].predict(data, test), dense.members_[0].predict(data, test))
    table = compare(data, [CachedForecaster(OnGrid()), grid], progress=False)  # validation scored on the grid
    assert np.isfinite(table[["mse", "mae"]].to_numpy()).all()
