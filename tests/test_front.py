"""The front door: `Hybrid(...).fit(df).predict(h)`, cross-validation, intervals, saving."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hybrid import Hybrid, InputError
from hybrid.foundation.data import next_timestamps
from hybrid.product.front import SAVE_FORMAT
from tests.conftest import wide_frame

FAST = "snaive,linear"
# LightGBM in two boosters, not 16: what the tests check does not depend on how many
SMALL = {"lightgbm": {"n_components": 2}}


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.melt(id_vars="date", var_name="unique_id", value_name="y").rename(columns={"date": "ds"})


def _numbers(frame: pd.DataFrame) -> np.ndarray:
    return frame.select_dtypes("number").to_numpy()


@pytest.mark.parametrize("stamps, expected", [
    (pd.date_range("2024-03-01", periods=30, freq="h"), ["2024-03-02 06:00", "2024-03-02 07:00"]),
    (pd.bdate_range("2024-01-01", periods=30), ["2024-02-12", "2024-02-13"]),  # a Friday, then Monday
    (pd.date_range("2020-01-01", periods=30, freq="MS"), ["2022-07-01", "2022-08-01"]),
    (pd.date_range("2020-01-31", periods=30, freq="ME"), ["2022-07-31", "2022-08-31"]),  # month ends stay
    (pd.date_range("2000-01-01", periods=30, freq="YS"), ["2030-01-01", "2031-01-01"]),
    (pd.date_range("2020-01-05", periods=30, freq="W-SUN"), ["2020-08-02", "2020-08-09"]),
    (pd.date_range("2020-01-01", periods=30, freq="QS"), ["2027-07-01", "2027-10-01"]),
    # a gap among the latest rows (nothing to infer): whole months from the last one, which ends on the 31st
    (pd.DatetimeIndex(["2021-10-31", "2021-11-30", "2021-12-31", "2022-01-31", "2022-03-31"]),
     ["2022-04-30", "2022-05-31"]),
])
def test_the_next_timestamps_continue_each_calendar(stamps, expected):
    assert list(next_timestamps(stamps, 2)) == list(pd.DatetimeIndex(expected))


def test_predict_gives_the_next_h_rows_of_every_series_on_the_original_scale():
    frame = wide_frame(n=900, channels=2, noise=0.05)
    model = Hybrid(models=FAST, horizon=12, seq_len=48, progress=False).fit(frame)
    out = model.predict(level=(80, 95))
    assert list(out.columns) == ["unique_id", "ds", "snaive", "linear", "hybrid", "hybrid-lo-95", "hybrid-lo-80",
                                 "hybrid-hi-80", "hybrid-hi-95"]
    for uid, rows in out.groupby("unique_id"):
        assert list(rows.ds) == list(pd.date_range(frame.date.iloc[-1], periods=13, freq="h")[1:])
        # the original scale: seasonal naive repeats the series' own last day
        season = frame[uid].to_numpy()[-24:-12]
        np.testing.assert_allclose(rows.snaive.to_numpy(), season, rtol=1e-6)
    assert (out["hybrid-lo-95"] <= out["hybrid-lo-80"]).all() and (out["hybrid-lo-80"] < out.hybrid).all()
    assert (out.hybrid < out["hybrid-hi-80"]).all() and (out["hybrid-hi-80"] <= out["hybrid-hi-95"]).all()
    assert len(model.predict(h=5, level=None)) == 2 * 5


def test_the_forecast_from_the_data_cut_at_a_cutoff_is_cross_validations_there():
    frame = wide_frame(n=1000, channels=2, noise=0.1)
    # the backtest blocks as the default runs them, under a cheaper router than auto
    model = Hybrid(models="snaive,linear,ets", router="stacked", horizon=12, seq_len=48, progress=False)
    cv = model.cross_validation(frame, n_windows=3, step_size=20, level=(90,))
    assert len(cv) == 3 * 12 * 2 and cv.cutoff.nunique() == 3
    for k, cut in enumerate(sorted(cv.cutoff.unique())):
        rows = int(np.flatnonzero(frame.date == cut)[0]) + 1
        alone = model.fit(frame.iloc[:rows]).predict(level=(90,))
        there = cv[cv.cutoff == cut].drop(columns=["cutoff", "y"]).reset_index(drop=True)
        assert (alone.ds.to_numpy() == there.ds.to_numpy()).all()
        np.testing.assert_allclose(_numbers(alone), _numbers(there), rtol=1e-6)  # BLAS blocks by shape
        truth = frame.set_index("date").loc[there.ds.iloc[:12], "s0"].to_numpy()
        np.testing.assert_array_equal(cv[cv.cutoff == cut].y.to_numpy()[:12], truth)


def test_cross_validation_reads_nothing_after_its_cutoffs():
    frame = wide_frame(n=1000, channels=2, noise=0.1)
    model = Hybrid(models="snaive,linear,ets,lightgbm", horizon=12, seq_len=48, model_params=SMALL, progress=False)
    cv = model.cross_validation(frame, n_windows=1)
    later = frame.copy()
    later.iloc[-12:, 1:] = 1e6  # the rows the one window forecasts
    again = model.cross_validation(later, n_windows=1)
    np.testing.assert_array_equal(_numbers(cv.drop(columns="y")), _numbers(again.drop(columns="y")))


def test_refit_false_keeps_one_fit_for_every_window_and_k_refits_every_kth():
    frame = wide_frame(n=1000, channels=1, noise=0.1)
    model = Hybrid(models=FAST, router="best", horizon=12, seq_len=48, progress=False)
    once = model.cross_validation(frame, n_windows=4, step_size=12, refit=False)
    each = model.cross_validation(frame, n_windows=4, step_size=12, refit=True)
    pairs = model.cross_validation(frame, n_windows=4, step_size=12, refit=2)
    first = once.cutoff.min()
    # the first window is fitted at the same cutoff every way; later ones only where refitted
    for other in (each, pairs):
        np.testing.assert_allclose(other[other.cutoff == first].linear, once[once.cutoff == first].linear, rtol=1e-6)
    third = sorted(once.cutoff.unique())[2]
    np.testing.assert_allclose(pairs[pairs.cutoff == third].linear, each[each.cutoff == third].linear, rtol=1e-6)
    assert not np.allclose(once[once.cutoff == third].linear, each[each.cutoff == third].linear, rtol=1e-9)


def test_intervals_cover_gaussian_noise_at_the_stated_rate():
    rng = np.random.default_rng(3)
    n = 4000
    t = np.arange(n)
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="h"),
                          "y": np.sin(2 * np.pi * t / 24) + 0.5 * rng.standard_normal(n)})
    model = Hybrid(models=FAST, router="best", horizon=8, seq_len=48, progress=False)
    # fitted once at the first cutoff, so that 600 later windows are scored by one calibration
    cv = model.cross_validation(frame, n_windows=600, step_size=1, refit=False, level=(80, 95))
    for level, tolerance in ((80, 0.04), (95, 0.025)):
        inside = (cv.y >= cv[f"hybrid-lo-{level}"]) & (cv.y <= cv[f"hybrid-hi-{level}"])
        assert abs(inside.mean() - level / 100) < tolerance, (level, inside.mean())
    # the noise alone sets the width: z_{0.975} * 0.5 = 0.98 either side, a little more for model error
    width = (cv["hybrid-hi-95"] - cv["hybrid-lo-95"]).mean() / 2
    assert 0.95 < width < 1.15


def test_series_of_different_lengths_and_dates_in_one_frame():
    parts = []
    for uid, start, n in (("a", "2020-01-01", 700), ("b", "2020-01-10", 600), ("c", "2020-02-01", 650)):
        frame = wide_frame(n=n, channels=1, seed=len(parts), noise=0.1)
        frame["date"] = pd.date_range(start, periods=n, freq="h")
        parts.append(_long(frame).assign(unique_id=uid))
    df = pd.concat(parts, ignore_index=True)
    out = Hybrid(models=FAST, horizon=10, seq_len=48, progress=False).fit(df).predict(level=80)
    assert sorted(out.unique_id.unique()) == ["a", "b", "c"]
    for uid, rows in out.groupby("unique_id"):
        last = df[df.unique_id == uid].ds.max()
        assert list(rows.ds) == list(pd.date_range(last, periods=11, freq="h")[1:])
    assert out[["hybrid", "hybrid-lo-80", "hybrid-hi-80"]].notna().all().all()


def test_a_member_that_cannot_forecast_is_left_out_with_a_warning():
    frame = wide_frame(n=900, channels=1, noise=0.1)
    with pytest.warns(UserWarning, match="snaive@200 is left out"):
        model = Hybrid(models="snaive@200,linear", horizon=12, seq_len=48, progress=False).fit(frame)
    assert "snaive@200" not in model.predict().columns and "linear" in model.predict().columns


@pytest.mark.parametrize("router", ["auto", "rules", "learned", "learned-lightgbm", "stacked"])
def test_save_and_load_give_the_identical_forecast(tmp_path, router):
    frame = wide_frame(n=900, channels=2, noise=0.1)
    # the default's backtest blocks with the default router; without them for the other modes
    model = Hybrid(models="snaive,linear,ets,lightgbm", router=router, horizon=12, seq_len=48, model_params=SMALL,
                   backtest_blocks=3 if router == "auto" else 0, progress=False).fit(frame)
    folder = model.save(tmp_path / "model")
    assert not list(tmp_path.glob(".hybrid-save-*"))  # nothing left aside
    assert not any(p.suffix in (".pkl", ".pickle") for p in folder.rglob("*"))
    assert list((folder / "documents").glob("*.txt"))  # LightGBM's own model strings
    loaded = Hybrid.load(folder)
    # the same to float64 rounding: a cached member forecast every origin at once, the loaded one
    # forecasts the router's run, and BLAS sums a product of another shape in another order
    pd.testing.assert_frame_equal(loaded.predict(), model.predict(), check_exact=False, rtol=1e-12, atol=1e-12)
    pd.testing.assert_frame_equal(loaded.comparison(), model.comparison())


def test_a_saved_folder_that_is_missing_damaged_or_from_another_version_is_refused(tmp_path):
    model = Hybrid(models=FAST, horizon=12, seq_len=48, progress=False).fit(wide_frame(n=900, channels=1))
    with pytest.raises(InputError, match="not a saved Hybrid"):
        Hybrid.load(tmp_path / "nowhere")
    folder = model.save(tmp_path / "model")
    meta = json.loads((folder / "hybrid.json").read_text())
    (folder / "hybrid.json").write_text(json.dumps({**meta, "format": 0}))
    with pytest.raises(InputError, match=f"format 0; this hybrid .* reads format {SAVE_FORMAT}"):
        Hybrid.load(folder)
    model.save(folder)  # a save over an earlier one replaces it
    (folder / "arrays.safetensors").write_bytes(b"not arrays")
    with pytest.raises(InputError, match="damaged"):
        Hybrid.load(folder)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a saved Hybrid"):
        model.save(tmp_path / "file")


@pytest.mark.parametrize("call, message", [
    (lambda m: m.predict(h=0), "h must be a positive"),
    (lambda m: m.predict(h=99), "beyond the horizon"),
    (lambda m: m.predict(level=100), "outside \\(0, 100\\)"),
    (lambda m: m.predict(level=(80, -5)), "outside \\(0, 100\\)"),
    (lambda m: m.cross_validation(n_windows=0), "n_windows must be"),
])
def test_bad_arguments_are_one_line_input_errors(call, message):
    model = Hybrid(models=FAST, horizon=12, seq_len=48, progress=False).fit(wide_frame(n=900, channels=1))
    with pytest.raises(InputError, match=message):
        call(model)


def test_bad_input_before_any_fit():
    with pytest.raises(InputError, match="not fitted yet"):
        Hybrid().predict()
    with pytest.raises(InputError, match="unknown"):
        Hybrid(models="snaive,nosuch").fit(wide_frame(n=900, channels=1))
    with pytest.raises(InputError, match="no date column"):
        Hybrid(models=FAST).fit(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))
    with pytest.raises(InputError, match="horizon must be"):
        Hybrid(models=FAST, horizon=0).fit(wide_frame(n=900, channels=1))


def test_timestamps_with_no_regular_step_ask_for_freq():
    stamps = pd.DatetimeIndex(pd.Timestamp("2020-01-01") + pd.to_timedelta(np.cumsum([0, 1, 7, 2, 13, 5]), unit="h"))
    with pytest.raises(InputError, match="pass freq="):
        next_timestamps(stamps, 3)
    assert list(next_timestamps(stamps, 2, freq="h")) == list(pd.DatetimeIndex(["2020-01-02 05:00", "2020-01-02 06:00"]))


def test_the_core_forecasts_the_future_from_hints_at_the_new_origins_and_is_saved(tmp_path):
    from tests.core.test_hints import TINY

    core = {**TINY, "llm_layers": 2, "epochs": 1, "sample_fraction": 0.2, "hints": "text", "hint_models": "linear"}
    model = Hybrid(models="linear,timellm", horizon=12, seq_len=48, model_params={"timellm": core},
                   progress=False).fit(wide_frame(n=700, channels=2, noise=0.1))
    future = model.predict(level=80)
    assert future.timellm.notna().all() and len(future) == 2 * 12
    # the hint table of the fit covers the new origin: the core's forecast there read its hints
    core_model = model.fit_.engines[0].members_[1].fitted_model(model.fit_.bundles[0])
    last = len(model.bases_[0].raw)
    assert core_model.hint_table_.first_origin + len(core_model.hint_table_.forecasts) == last + 1
    loaded = Hybrid.load(model.save(tmp_path / "core"))
    np.testing.assert_allclose(_numbers(loaded.predict(level=80)), _numbers(future), rtol=1e-5)


def test_backtest_and_select_read_the_fit_and_a_long_table_lacking_y_says_so():
    frame = wide_frame(n=900, channels=2, noise=0.1)
    model = Hybrid(models=FAST, horizon=12, seq_len=48, refit=False, progress=False).fit(frame)
    test = model.backtest("test", level=80)
    table = model.evaluate().set_index(["model", "split"])
    # the backtest's frame is what evaluate scores: the same MSE on the original scale's z-score
    std = pd.Series(model.bases_[0].scaler.std, index=model.bases_[0].columns).loc[test.unique_id].to_numpy()
    assert np.mean(((test.y - test.linear) / std) ** 2) == pytest.approx(table.loc[("linear", "test"), "mse"])
    assert [c.series for c in model.select().choices] == ["s0", "s1"]
    long = _long(frame).drop(columns="y").assign(value=1.0)
    with pytest.raises(InputError, match="lacks y"):
        Hybrid(models=FAST).fit(long)


@pytest.mark.parametrize("stamps", [pd.bdate_range("2021-01-01", periods=400),  # ends on a Friday
                                    pd.date_range("1990-01-31", periods=400, freq="ME")])  # month ends
def test_the_forecast_continues_business_days_and_month_ends(stamps):
    frame = wide_frame(n=400, channels=1, noise=0.1).assign(date=stamps)
    out = Hybrid(models=FAST, horizon=6, seq_len=24, progress=False).fit(frame).predict(level=None)
    expected = pd.date_range(stamps[-1], periods=7, freq=stamps.freq)[1:]
    assert list(out.ds) == list(expected)
    assert (out.ds.dt.day_of_week < 5).all() if stamps.freqstr == "B" else out.ds.dt.is_month_end.all()


def test_predict_on_newer_rows_forecasts_after_them_and_learns_nothing(tmp_path):
    frame = wide_frame(n=1000, channels=2, noise=0.1)
    model = Hybrid(models="snaive,linear,ets,lightgbm", horizon=12, seq_len=48, model_params=SMALL,
                   progress=False).fit(frame.iloc[:900])
    pd.testing.assert_frame_equal(model.predict(df=frame.iloc[:900]), model.predict(), rtol=1e-9)
    coef = model.fit_.engines[0].members_[1].fitted_model(model.fit_.bundles[0]).coef_.copy()
    newer = model.predict(df=frame)
    assert newer.ds.min() == frame.date.iloc[-1] + pd.Timedelta(hours=1)
    for uid, rows in newer.groupby("unique_id"):  # the seasonal naive repeats the newest day
        np.testing.assert_allclose(rows.snaive.to_numpy(), frame[uid].to_numpy()[-24:-12], rtol=1e-9)
    np.testing.assert_array_equal(model.fit_.engines[0].members_[1].model.coef_, coef)
    pd.testing.assert_frame_equal(Hybrid.load(model.save(tmp_path / "m")).predict(df=frame), newer, rtol=1e-9)
    with pytest.raises(InputError, match="lacks series the model was fitted on: s1"):
        model.predict(df=frame.drop(columns="s1"))


def test_a_second_fit_replaces_the_backtest_of_the_first():
    model = Hybrid(models=FAST, horizon=12, seq_len=48, progress=False)
    first = model.fit(wide_frame(n=900, channels=1, noise=0.1, seed=1)).evaluate()
    second = model.fit(wide_frame(n=900, channels=1, noise=0.5, seed=2)).evaluate()
    assert not np.allclose(first.mse, second.mse)
