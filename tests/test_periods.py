import numpy as np
import pandas as pd
import pytest

from hybrid.foundation.data import load
from hybrid.foundation.errors import InputError
from hybrid.foundation.periods import calendar_periods, dataset_periods, detect_periods, period_patching, periodogram
from hybrid.foundation.registry import make_models, with_periods
from hybrid.product.cli import main
from hybrid.product.fused import HybridForecaster
from hybrid.product.select import select


def _hourly(values: np.ndarray) -> pd.DataFrame:
    columns = {"a": values} if values.ndim == 1 else {f"c{j}": values[:, j] for j in range(values.shape[1])}
    return pd.DataFrame({"date": pd.date_range("2024-01-01", periods=len(values), freq="h"), **columns})


def _sines(n: int = 24 * 7 * 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 24) + 0.6 * np.sin(2 * np.pi * t / 168) + 0.3 * rng.standard_normal(n)


def test_the_periods_of_a_sum_of_sines_are_found_and_ranked():
    data = load(_hourly(_sines()), seq_len=96, horizon=24)
    periods = dataset_periods(data)["a"]
    assert [p.length for p in periods] == [24, 168]  # the day carries more power than the week
    assert periods[0].strength > periods[1].strength > 0.1
    assert all(p.calendar and p.confidence > 0.5 for p in periods)
    assert calendar_periods(data.freq) == (24, 168)


def test_white_noise_and_a_random_walk_have_no_period():
    rng = np.random.default_rng(1)
    freq = load(_hourly(_sines()), seq_len=96, horizon=24).freq
    assert detect_periods(rng.standard_normal(6000), freq) == []
    # persistence is not periodicity: a wander's autocorrelation decays without coming back
    assert detect_periods(np.cumsum(rng.standard_normal(6000)), freq) == []


def test_a_period_off_the_calendar_is_found_with_its_harmonics_merged():
    square = np.sign(np.sin(2 * np.pi * (np.arange(3000) + 0.5) / 50))  # odd harmonics at 50/3, 50/5, 50/7
    (period,) = detect_periods(square)
    assert period.length == 50 and not period.calendar and period.strength > 0.9
    assert set(period.harmonics) >= {16.7, 10.0}


def test_the_period_detector_never_reads_val_or_test_rows():
    frame = _hourly(np.column_stack([_sines(seed=2), _sines(seed=3)]))
    data = load(frame, seq_len=96, horizon=24)
    start = data.split.train[1]
    changed = frame.copy()
    changed.iloc[start:, 1:] = np.random.default_rng(4).standard_normal((len(frame) - start, 2)) * 50
    assert dataset_periods(load(changed, seq_len=96, horizon=24)) == dataset_periods(data)


def test_hybrid_periods_prints_each_channel(tmp_path, capsys):
    rng = np.random.default_rng(5)
    path = tmp_path / "two.csv"
    _hourly(np.column_stack([_sines(), rng.standard_normal(len(_sines()))])).to_csv(path, index=False)
    assert main(["periods", "--data", str(path), "--seq-len", "96", "--horizon", "24"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:3] == ["c0", "24", "steps"] and out[2].split()[0] == "168"
    assert out[3].split()[0] == "c1" and "no period confirmed" in out[3]
    assert main(["periods", "--data", str(path), "--top", "0"]) == 2
    assert "--top" in capsys.readouterr().err
    assert main(["periods", "--data", str(path), "--plot", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["periods", "--data", str(path), "--plot", str(tmp_path / "p.jpg")]) == 2
    assert not (tmp_path / "p.jpg").exists() and "--plot" in capsys.readouterr().err


def test_the_periodogram_peaks_at_the_period():
    period, share = periodogram(np.sin(2 * np.pi * np.arange(2400) / 24))
    assert abs(period[np.argmax(share)] - 24) < 0.5 and 0.5 < share.max() <= 1.0


def test_a_model_follows_the_period_named_after_at(tmp_path):
    weekly = np.tile(np.random.default_rng(6).standard_normal(168), 30)  # repeats every week, not every day
    data = load(_hourly(weekly), seq_len=336, horizon=48)
    models = make_models("snaive,snaive@168,ets@24")
    assert [m.label for m in models] == ["snaive", "snaive@168", "ets@24"]
    origins = data.origins("test")
    errors = {m.label: np.abs(m.fit(data).predict(data, origins) - data.future(origins)).max() for m in models[:2]}
    assert errors["snaive@168"] < 1e-9 < errors["snaive"]
    for bad in ("linear@24", "snaive@x", "snaive@1"):
        with pytest.raises(InputError, match=bad.split("@")[0]):
            make_models(bad)
    path = tmp_path / "weekly.csv"
    _hourly(weekly).to_csv(path, index=False)
    assert main(["fit", "--data", str(path), "--seq-len", "336", "--horizon", "48", "--models", "snaive,snaive@168",
                 "--no-fused", "--quiet", "--no-cache", "--out", str(tmp_path / "run")]) == 0
    table = pd.read_csv(tmp_path / "run" / "comparison.csv").query("split == 'test'").set_index("model")
    assert table.loc["snaive@168", "mse"] < 1e-12 < table.loc["snaive", "mse"]


def test_a_patching_aligned_to_a_period_gives_patches_that_start_at_the_same_phase():
    torch = pytest.importorskip("torch")
    from hybrid.core.patch import PatchEmbedding

    for period in (24, 168, 52, 7):
        patch_len, stride = period_patching(period)
        assert period % patch_len == 0 and period % stride == 0 and stride in (patch_len // 2, patch_len)
        x = torch.tensor(np.tile(np.random.default_rng(period).standard_normal(period), 1 + 512 // period)[:512])
        patches = PatchEmbedding(8, patch_len, stride).patches(x[None])[0]
        apart = period // stride  # patches this many strides apart are a period apart
        assert torch.equal(patches[:-apart - 1], patches[apart:-1])  # the last one holds the end's padding
    with pytest.raises(InputError, match="97"):
        period_patching(97)


def test_fit_with_periods_auto_follows_the_periods_found(tmp_path, capsys):
    weekly = np.tile(np.random.default_rng(7).standard_normal(168), 30)
    path = tmp_path / "weekly.csv"
    _hourly(weekly + 0.05 * np.random.default_rng(8).standard_normal(len(weekly))).to_csv(path, index=False)
    args = ["fit", "--data", str(path), "--seq-len", "336", "--horizon", "48", "--models", "snaive,linear",
            "--no-fused", "--no-cache", "--out", str(tmp_path / "run")]
    assert main([*args, "--periods", "auto"]) == 0
    assert "periods found on the training part: 168" in capsys.readouterr().out
    models = pd.read_csv(tmp_path / "run" / "comparison.csv").model.unique().tolist()
    assert models == ["snaive@168", "linear"]
    assert main([a for a in args if a != "--no-fused"] + ["--periods", "auto"]) == 0
    said = capsys.readouterr().out
    assert "periods, by their mean weight on the windows the router learned from: " in said and "168 " in said.split("weight")[-1]
    assert main([*args, "--periods", "24,x"]) == 2 and "--periods 24,x" in capsys.readouterr().err


def test_the_routers_features_measure_the_periods_its_members_follow():
    data = load(_hourly(_sines(24 * 7 * 8)), seq_len=96, horizon=24)
    fused = HybridForecaster("snaive@12,snaive@24,linear", cache=False).fit_members(data)
    assert fused.periods(data) == (12, 24)  # the week does not fit twice in 96 steps
    rows = fused.rows(data, data.origins("val")[:5], with_target=True)
    assert {"seasonal_strength_12", "acf_12", "seasonal_strength_24"} <= set(rows.feature_names)
    assert rows.features.shape == (5, len(rows.feature_names)) and np.isfinite(rows.features).all()


@pytest.mark.parametrize("mode", ["median", "inverse-error", "vote", "auto"])
def test_the_vote_over_per_period_forecasts_that_are_all_equal_returns_that_forecast(mode):
    # a cycle of 24 steps: seasonal naive at 24 and at 168 (seven cycles) forecast the same numbers
    day = np.random.default_rng(3).standard_normal(24)
    data = load(_hourly(np.tile(day, 24 * 7)), seq_len=336, horizon=48)
    fused = HybridForecaster("snaive@24,snaive@168", mode=mode, cache=False).fit(data)
    test = data.origins("test")[::50]
    alone = make_models("snaive@24")[0].fit(data).predict(data, test)
    assert np.allclose(fused.predict(data, test), alone)
    assert np.allclose(fused.predict(data, test), data.future(test))  # the cycle repeats exactly
    shares = fused.period_shares(fused.learned_weights_)
    assert set(shares) == {"24", "168"} and np.isclose(sum(shares.values()), 1.0)
    assert fused.describe_periods(fused.learned_weights_).count("snaive@") == 2


def test_select_follows_the_periods_the_series_share_and_says_how_the_weights_fall_on_them():
    rng = np.random.default_rng(4)
    t = np.arange(24 * 7 * 8)
    frame = _hourly(np.stack([np.sin(2 * np.pi * t / 24 + k) + 0.1 * rng.standard_normal(len(t)) for k in range(2)], 1))
    selection = select(frame, models="snaive,linear", seq_len=96, horizon=24, cache=False, progress=False,
                       periods="auto")
    assert selection.periods == (24,)
    for choice in selection.choices:
        assert set(choice.weights) == {"snaive@24", "linear"}
        share = float(choice.periods.split()[1]) if choice.periods.startswith("24") else 1 - float(choice.periods.split()[1])
        assert np.isclose(share, choice.weights["snaive@24"], atol=0.01)
    assert "periods followed (each seasonal member and the core once per period): 24" in selection.text()
    assert "periods by weight: " in selection.text()
    none = select(frame, models="snaive,linear", seq_len=96, horizon=24, cache=False, progress=False)
    assert none.periods == () and all(c.periods == "" for c in none.choices)


def test_with_periods_keeps_the_cores_own_patching_beside_the_aligned_ones():
    spec = with_periods("snaive,linear,timellm,ets@12", (24, 168))
    assert spec == ["snaive@24", "snaive@168", "linear", "timellm", "timellm@24", "timellm@168", "ets@12"]
    assert with_periods("snaive,timellm", ()) == ["snaive", "timellm"]
