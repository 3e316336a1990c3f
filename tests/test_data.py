import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hybrid.foundation.data import DatasetSpec, Scaler, detect_frequency, load, make_split, resolve, take_rows
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
    from hybrid.foundation.data import read_frame
    frame = read_frame(path, fill="ffill")
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
