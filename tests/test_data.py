import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hybrid.foundation.data import DatasetSpec, ReadOptions, Scaler, detect_frequency, load, make_split, resolve, take_rows
from hybrid.foundation.data.datasets import download
from hybrid.foundation.errors import InputError
from hybrid.foundation.paths import file_hash
from tests.conftest import wide_frame


def test_etth1_split_borders_are_the_public_ones():
    data = load("ETTh1", horizon=96)
    assert data.seq_len == 512
    assert data.split.train == (0, 8640)
    assert data.split.val == (8640 - 512, 11520)
    assert data.split.test == (11520 - 512, 14400)
    # 2880 test rows, 96-step horizon, stride 1: the 2785 windows every published table uses
    assert len(data.origins("test")) == 2785
    assert data.origins("test")[0] == 11520 and data.origins("test")[-1] == 14400 - 96
    assert len(data.origins("train")) == 8640 - 512 - 96 + 1


def test_ett_15min_and_ratio_borders():
    m = make_split("ett_15min", 69680, 512, 96)
    assert (m.train, m.val, m.test) == ((0, 34560), (34048, 46080), (45568, 57600))
    r = make_split("ratio", 7588, 512, 96)  # exchange_rate: 5311 / 760 / 1517 rows
    assert (r.train, r.val, r.test) == ((0, 5311), (4799, 6071), (5559, 7588))


def test_scaler_is_fitted_on_training_rows_only():
    df = wide_frame(n=1000, noise=0.3)
    base = load(df, seq_len=48, horizon=12)
    changed = df.copy()
    train_end = base.split.train[1]
    changed.loc[train_end:, ["s0", "s1"]] *= 100.0
    other = load(changed, seq_len=48, horizon=12)
    np.testing.assert_array_equal(base.scaler.mean, other.scaler.mean)
    np.testing.assert_array_equal(base.scaler.std, other.scaler.std)
    train = base.raw[:train_end]
    np.testing.assert_allclose(base.scaler.mean, train.mean(0))
    np.testing.assert_allclose(base.values[:train_end].std(0), 1.0)


def test_windows_count_content_and_no_copy():
    df = wide_frame(n=1000)
    df["s0"] = np.arange(1000.0)
    data = load(df, seq_len=48, horizon=12)
    X, Y = data.windows("val")
    start, end = data.split.val
    assert X.shape == (end - start - 48 - 12 + 1, 48, 2) and Y.shape == (len(X), 12, 2)
    assert np.shares_memory(X, data.values) and np.shares_memory(Y, data.values)
    raw_x = data.scaler.inverse(X[5])[:, 0]
    raw_y = data.scaler.inverse(Y[5])[:, 0]
    origin = data.origins("val")[5]
    np.testing.assert_allclose(raw_x, np.arange(origin - 48, origin))
    np.testing.assert_allclose(raw_y, np.arange(origin, origin + 12))


def test_long_and_wide_inputs_agree():
    wide = wide_frame(n=600, noise=0.2)
    long = wide.melt(id_vars="date", var_name="unique_id", value_name="y").rename(columns={"date": "ds"})
    long = long.sample(frac=1.0, random_state=0)  # long data need not be sorted
    a = load(wide, seq_len=48, horizon=12)
    b = load(long, seq_len=48, horizon=12)
    assert a.columns == b.columns == ("s0", "s1")
    np.testing.assert_array_equal(a.values, b.values)
    assert a.split == b.split and (a.timestamps == b.timestamps).all()


def test_unknown_monthly_series_gets_defaults_that_fit():
    n = 300
    df = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="MS"),
                       "sales": np.sin(np.arange(n) * 2 * np.pi / 12) + np.arange(n) * 0.01})
    seen = []
    data = load(df, log=seen.append)
    assert data.freq.name == "monthly" and data.season == 12
    assert (data.seq_len, data.horizon) == (36, 12)
    assert data.split.rule == "ratio"
    assert all(len(data.origins(p)) > 0 for p in ("train", "val", "test"))
    assert any("seq_len=36" in msg and "horizon=12" in msg for msg in seen)


@pytest.mark.parametrize("freq, name, season", [
    ("h", "hourly", 24), ("15min", "15min", 96), ("D", "daily", 7), ("B", "business-daily", 5),
    ("W", "weekly", 52), ("MS", "monthly", 12), ("QS", "quarterly", 4),
])
def test_frequency_and_season(freq, name, season):
    f = detect_frequency(pd.date_range("2001-01-01", periods=60, freq=freq).as_unit("ns"))
    assert (f.name, f.season) == (name, season)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


GOOD_HEAD = "date,a,b\n"


@pytest.mark.parametrize("text, kwargs, expected", [
    ("a,b\n1,2\n3,4\n", {}, "no date column"),
    (GOOD_HEAD + "2020-01-01,1,2\nnot a date,3,4\n", {}, "unparseable dates in column 'date': row 2"),
    (GOOD_HEAD + "2020-01-01,1,x\n2020-01-02,3,4\n", {}, "non-numeric columns: 'b'"),
    (GOOD_HEAD + "2020-01-01,1,2\n2020-01-02,,4\n2020-01-03,1,2\n", {}, "column 'a' at row 2"),
    (GOOD_HEAD + "2020-01-01,1,2\n2020-01-02,inf,4\n2020-01-03,1,2\n", {}, "--fill ffill"),
    (GOOD_HEAD + "2020-01-02,1,2\n2020-01-01,3,4\n", {}, "not sorted"),
    (GOOD_HEAD + "2020-01-01,1,2\n2020-01-01,3,4\n", {}, "duplicate timestamps"),
])
def test_bad_files_are_refused_with_a_clear_message(tmp_path, text, kwargs, expected):
    with pytest.raises(InputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load(_write(tmp_path, text), seq_len=2, horizon=1, **kwargs)


def test_missing_file_names_the_known_datasets():
    with pytest.raises(InputError, match="no such file or known dataset: 'nope.csv'.*ETTh1"):
        load("nope.csv")


def test_unknown_target_lists_columns():
    with pytest.raises(InputError, match="unknown --target 'X'; columns are: s0, s1"):
        load(wide_frame(n=300), target="X")


def test_too_few_rows_says_how_many_are_needed():
    # val and test hold a horizon at least, training 512 + 96: 879 rows -> 608 / 96 / 175 (878 leave 607)
    with pytest.raises(InputError, match=r"need at least 879 rows, the data has 300"):
        load(wide_frame(n=300), seq_len=512, horizon=96)
    with pytest.raises(InputError, match="do not fit the ett_hourly split"):
        load("ETTh1", seq_len=8600, horizon=96)


def test_fill_ffill_repairs_gaps(tmp_path):
    path = _write(tmp_path, GOOD_HEAD + "2020-01-01,,2\n2020-01-02,5,4\n2020-01-03,,2\n2020-01-04,7,1\n")
    from hybrid.foundation.data import ReadOptions, read_frame
    frame = read_frame(path, ReadOptions(fill="ffill"))
    np.testing.assert_array_equal(frame.values["a"].to_numpy(), [5, 5, 5, 7])


def test_named_dataset_resolves_case_insensitively():
    path, spec = resolve("etth1.csv")
    assert spec.name == "ETTh1" and path.name == "ETTh1.csv" and file_hash(path) == spec.md5


def test_download_keeps_only_a_file_with_the_right_md5(tmp_path):
    source = tmp_path / "remote.csv"
    source.write_text(GOOD_HEAD + "2020-01-01,1,2\n")
    spec = DatasetSpec(name="toy", file="toy.csv", freq="D", split="ratio", seq_len=2,
                       horizons=(1,), url=source.as_uri(), md5=file_hash(source))
    got = download(spec, tmp_path / "cache")
    assert got.read_text() == source.read_text()
    wrong = dataclasses.replace(spec, file="toy2.csv", md5="0" * 32)
    with pytest.raises(InputError, match="expected 0000"):
        download(wrong, tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["toy.csv"]


def test_scaler_roundtrip_and_constant_channel():
    train = np.array([[1.0, 5.0], [3.0, 5.0]])
    s = Scaler.fit(train)
    np.testing.assert_allclose(s.transform(train), [[-1, 0], [1, 0]])
    np.testing.assert_allclose(s.inverse(s.transform(train)), train)


def test_take_rows_views_a_run_and_copies_anything_else():
    a = np.arange(40.0).reshape(10, 4)
    run, scattered = np.array([3, 4, 5]), np.array([1, 4, 5])
    assert np.array_equal(take_rows(a, run), a[run]) and np.shares_memory(take_rows(a, run), a)
    assert np.array_equal(take_rows(a, scattered), a[scattered]) and not np.shares_memory(take_rows(a, scattered), a)


# --- files, dates and calendars a user brings -----------------------------------------------------

def _hourly(n: int = 200, start: str = "2024-03-01") -> pd.DataFrame:
    t = np.arange(n)
    return pd.DataFrame({"date": pd.date_range(start, periods=n, freq="h"), "a": np.sin(2 * np.pi * t / 24) + 0.01 * t})


def test_a_semicolon_file_with_decimal_commas_and_a_latin1_file_read_as_meant(tmp_path):
    from hybrid.foundation.data import read_frame
    path = tmp_path / "eu.csv"
    path.write_text("date;a;b\n2024-01-01;1,5;2\n2024-01-02;2,25;3\n2024-01-03;-0,5;4\n")
    frame = read_frame(path)
    np.testing.assert_array_equal(frame.values["a"], [1.5, 2.25, -0.5])
    assert any("';'-separated with decimal commas" in n for n in frame.notes)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("date,Menge ä\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n".encode("latin-1"))
    frame = read_frame(latin)
    assert list(frame.values.columns) == ["Menge ä"] and any("Latin-1" in n for n in frame.notes)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8)), "not a text CSV file"),
])
def test_an_empty_or_binary_file_is_one_clear_line(tmp_path, content, message):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load(path)


def test_offsets_are_made_utc_and_epoch_numbers_read_by_their_size(tmp_path):
    from hybrid.foundation.data import ReadOptions, read_frame
    stamps = ["2024-03-01T00:00:00+01:00", "2024-02-29T23:00:00Z", "2024-03-01T00:00:00Z"]
    frame = read_frame(pd.DataFrame({"date": stamps[1:] + ["2024-03-01T02:00:00+01:00"], "a": [1.0, 2, 3]}))
    assert list(frame.timestamps) == list(pd.to_datetime(["2024-02-29 23:00", "2024-03-01 00:00", "2024-03-01 01:00"]))
    assert any("made UTC" in n for n in frame.notes)
    start = pd.Timestamp("2024-03-01").timestamp()
    for scale, unit in ((1, "s"), (1000, "ms")):
        epoch = pd.DataFrame({"timestamp": (start + 3600 * np.arange(5)) * scale, "a": np.arange(5.0)})
        frame = read_frame(epoch)
        assert frame.timestamps[0] == pd.Timestamp("2024-03-01") and frame.timestamps[1] == pd.Timestamp("2024-03-01 01:00")
    # told otherwise, the same numbers are milliseconds: 1.7 million seconds after 1970 read as ms
    told = read_frame(pd.DataFrame({"ts": start + 3600 * np.arange(5), "a": np.arange(5.0)}), ReadOptions(date_unit="ms"))
    assert told.timestamps[0].year == 1970
    years = read_frame(pd.DataFrame({"year": [2001, 2002, 2003], "a": [1.0, 2, 3]}))
    assert years.timestamps[0] == pd.Timestamp("2001-01-01")
    days = read_frame(pd.DataFrame({"date": [20240130, 20240131, 20240201], "a": [1.0, 2, 3]}))
    assert days.timestamps[-1] == pd.Timestamp("2024-02-01")


def test_day_first_dates_are_told_by_the_dates_or_by_the_user():
    from hybrid.foundation.data import ReadOptions, read_frame
    days = pd.date_range("2024-01-01", periods=40, freq="D")
    frame = read_frame(pd.DataFrame({"date": days.strftime("%d/%m/%Y"), "a": np.arange(40.0)}))
    assert (frame.timestamps == days).all() and any("day-first" in n for n in frame.notes)
    assert (read_frame(pd.DataFrame({"date": days.strftime("%m/%d/%Y"), "a": np.arange(40.0)})).timestamps == days).all()
    # half-days: only the day-first reading is evenly spaced (month-first, 2 Jan jumps to 2 Feb)
    halves = pd.DataFrame({"date": ["01/02/2024 00:00", "01/02/2024 12:00", "02/02/2024 00:00"], "a": [1.0, 2, 3]})
    assert read_frame(halves).timestamps[-1] == pd.Timestamp("2024-02-02")
    alike = pd.DataFrame({"date": ["01/02/2024", "01/03/2024", "01/04/2024"], "a": [1.0, 2, 3]})  # days or months
    with pytest.raises(InputError, match="--dayfirst or --no-dayfirst"):
        read_frame(alike)
    assert read_frame(alike, ReadOptions(dayfirst=True)).timestamps[1] == pd.Timestamp("2024-03-01")
    assert read_frame(alike, ReadOptions(dayfirst=False)).timestamps[1] == pd.Timestamp("2024-01-03")


def test_dates_before_1677_load_and_forecast_their_future_years():
    df = pd.DataFrame({"date": [f"{1500 + i}-01-01" for i in range(120)], "a": np.sin(np.arange(120) / 3)})
    data = load(df, seq_len=24, horizon=4)
    assert data.timestamps[0].year == 1500 and data.freq.name == "yearly"
    from hybrid.foundation.data import next_timestamps
    assert [t.year for t in next_timestamps(data.timestamps, 2)] == [1620, 1621]


def test_missing_timestamps_are_said_and_inserted_only_when_told_how_to_fill_them():
    from hybrid.foundation.data import ReadOptions, read_frame
    full = _hourly(300)
    gappy = full.drop(index=range(100, 160)).reset_index(drop=True)
    with pytest.raises(InputError, match="60 timestamps missing from the h calendar, in 1 gap, the first at 2024-03-05 04:00"):
        read_frame(gappy)
    frame = read_frame(gappy, ReadOptions(fill="interpolate"))
    assert len(frame.timestamps) == 300 and (frame.timestamps == full.date).all()
    assert any("60 timestamps missing" in n and "inserted" in n for n in frame.notes)
    np.testing.assert_allclose(frame.values["a"].iloc[:100], full.a.iloc[:100])


@pytest.mark.parametrize("dates", [
    pd.bdate_range("2024-01-01", periods=60),  # business days: regular in their own calendar
    pd.date_range("2024-01-31", periods=30, freq="ME"),  # month ends
    pd.date_range("2024-01-15", periods=30, freq=pd.DateOffset(months=1)),  # the 15th of each month
    pd.date_range("2024-01-01", periods=30, freq="W-WED"),
])
def test_calendars_regular_in_their_own_terms_are_accepted(dates):
    from hybrid.foundation.data import read_frame
    frame = read_frame(pd.DataFrame({"date": dates, "a": np.arange(len(dates), dtype=float)}))
    assert len(frame.timestamps) == len(dates) and not frame.notes
    with pytest.raises(InputError, match="missing from"):  # and a gap in them is found
        read_frame(pd.DataFrame({"date": dates.delete(10), "a": np.arange(len(dates) - 1, dtype=float)}))


def test_irregular_timestamps_are_refused_with_the_reason():
    from hybrid.foundation.data import ReadOptions, read_frame
    rng = np.random.default_rng(0)
    stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 1e7, 300)).round(), unit="s")
    with pytest.raises(InputError, match="timestamps are not regular"):
        read_frame(pd.DataFrame({"date": stamps, "a": rng.standard_normal(300)}))
    with pytest.raises(InputError, match="fall off the D calendar"):  # told a calendar they are not on
        read_frame(_hourly(50), ReadOptions(freq="D"))


def test_default_lengths_leave_windows_to_learn_from_and_a_shortfall_is_said():
    df = _hourly(600).rename(columns={"a": "y"})
    seen = []
    data = load(df, horizon=24, log=seen.append)
    # as many training windows as look-back steps at least, the look-back in whole days
    assert len(data.origins("train")) >= data.seq_len and data.seq_len % 24 == 0
    assert len(data.origins("val")) >= data.horizon and not any(m.startswith("warning") for m in seen)
    seen.clear()
    load(df, seq_len=396, horizon=24, log=seen.append)  # what the old default chose: one training window
    assert any(m.startswith("warning: seq_len=396 leaves 1 training windows") for m in seen)


def test_a_long_table_whose_ids_start_on_other_dates_is_never_padded():
    late = pd.date_range("2024-01-10", periods=300, freq="h")
    early = pd.date_range("2024-01-01", periods=500, freq="h")
    long = pd.concat([pd.DataFrame({"unique_id": "late", "ds": late, "y": np.arange(300.0)}),
                      pd.DataFrame({"unique_id": "early", "ds": early, "y": np.arange(500.0)})])
    data = load(long, target="late", seq_len=24, horizon=6)
    assert len(data.raw) == 300 and data.timestamps[0] == late[0]  # its own rows, none padded
    with pytest.raises(InputError, match="do not share their timestamps"):
        load(long, seq_len=24, horizon=6, read=ReadOptions(fill="ffill"))
    with pytest.raises(InputError, match="unknown --target 'other'; unique_ids are: late, early"):
        load(long, target="other")
