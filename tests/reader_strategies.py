"""Random tables of every shape a user might bring, and the property every reader must keep:
a table either loads with the documented semantics or raises `InputError`, never another
exception. Shared by the property tests (a short profile) and the fuzz run
(`experiments/fuzz_readers.py`, 10,000 examples)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from hybrid.foundation.data import ReadOptions, SeriesBundle, load_groups
from hybrid.foundation.errors import InputError

FREQS = ("h", "15min", "D", "B", "W-MON", "MS", "ME", "QS", "YS")
DATE_STYLES = ("iso", "iso-time", "dayfirst", "monthfirst", "epoch-s", "epoch-ms", "years", "yyyymmdd",
               "offsets", "text", "datetime")
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "utf-16")
SEPARATORS = (",", ";", "\t", "|")

cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-10**6, 10**6),
    st.sampled_from(["", "NA", "nan", "inf", "-", "1,5", "1e3", "x", "  3 ", "TRUE"]),
    st.text(max_size=6),
)


def _dates(style: str, index: pd.DatetimeIndex, rng: np.random.Generator) -> list:
    if style == "iso":
        return list(index.strftime("%Y-%m-%d"))
    if style == "iso-time":
        return list(index.strftime("%Y-%m-%d %H:%M:%S"))
    if style == "dayfirst":
        return list(index.strftime("%d/%m/%Y"))
    if style == "monthfirst":
        return list(index.strftime("%m/%d/%Y"))
    if style == "epoch-s":
        return list((index.asi8 // 10**9).astype(np.int64))
    if style == "epoch-ms":
        return list((index.asi8 // 10**6).astype(np.int64))
    if style == "years":
        return list(index.year)
    if style == "yyyymmdd":
        return list(index.strftime("%Y%m%d").astype(int))
    if style == "offsets":
        offsets = rng.choice(["+01:00", "Z", "-05:00", ""], len(index))
        return [t.strftime("%Y-%m-%dT%H:%M:%S") + o for t, o in zip(index, offsets)]
    if style == "text":
        return [str(v) for v in rng.integers(0, 10**6, len(index))]
    return list(index)


@st.composite
def tables(draw) -> tuple[pd.DataFrame, ReadOptions]:
    """A wide or long frame (dates of one style, a regular calendar perturbed: rows dropped,
    duplicated, shuffled; values clean or not) and the read options a user might pass."""
    n = draw(st.one_of(st.integers(0, 12), st.integers(40, 400)))
    freq = draw(st.sampled_from(FREQS))
    start = draw(st.sampled_from(["2020-01-01", "2021-03-31", "1500-01-01", "2262-01-01", "1970-01-01"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    try:
        index = pd.date_range(start, periods=n, freq=freq)
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        index = pd.date_range("2020-01-01", periods=n, freq=freq)
    perturb = draw(st.sampled_from(["none", "none", "none", "gap", "duplicate", "shuffle", "random"]))
    if perturb == "gap" and n > 5:
        index = index.delete(rng.choice(n, draw(st.integers(1, max(1, n // 3))), replace=False))
    elif perturb == "duplicate" and n > 2:
        index = index.insert(int(rng.integers(1, len(index))), index[0])
    elif perturb == "shuffle":
        index = pd.DatetimeIndex(rng.permutation(index))
    elif perturb == "random" and n:
        index = pd.DatetimeIndex(pd.Timestamp("2020-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 1e8, len(index))), unit="s"))
    dates = _dates(draw(st.sampled_from(DATE_STYLES)), index, rng)
    n_series = draw(st.integers(1, 3))
    values = draw(st.sampled_from(["clean", "clean", "gaps", "integers", "messy"]))
    columns = {}
    for k in range(n_series):
        column = rng.standard_normal(len(dates)).cumsum()
        if values == "gaps":  # NaN and inf here and there: refused, or filled where told
            column[rng.random(len(dates)) < 0.1] = rng.choice([np.nan, np.inf, -np.inf])
        elif values == "integers":
            column = rng.integers(0, 20, len(dates))
        elif values == "messy":
            column = draw(st.lists(cells, min_size=len(dates), max_size=len(dates)))
        columns[f"s{k}"] = column
    if draw(st.booleans()):  # long: ids of different lengths and starts
        parts = []
        for k, values in columns.items():
            cut = int(rng.integers(0, max(1, len(dates) // 2 + 1)))
            parts.append(pd.DataFrame({"unique_id": k, "ds": dates[cut:], "y": list(values)[cut:]}))
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["unique_id", "ds", "y"])
    else:
        frame = pd.DataFrame({draw(st.sampled_from(["date", "ds", "Date", "when"])): dates, **columns})
    options = ReadOptions(fill=draw(st.sampled_from([None, "ffill", "interpolate"])))
    if draw(st.integers(0, 3)) == 0:  # a user who says more: right or wrong
        options = ReadOptions(fill=options.fill, freq=draw(st.sampled_from([None, freq, "D", "bogus"])),
                              dayfirst=draw(st.sampled_from([None, True, False])),
                              date_unit=draw(st.sampled_from([None, "s", "ms"])))
    return frame, options


@st.composite
def files(draw) -> tuple[bytes, ReadOptions]:
    """A table written as a CSV of some separator, encoding and line ending, or raw bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=4096)), ReadOptions()
    frame, options = draw(tables())
    sep = draw(st.sampled_from(SEPARATORS))
    text = frame.to_csv(index=False, sep=sep, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    encoding = draw(st.sampled_from(ENCODINGS))
    try:
        return text.encode(encoding), options
    except UnicodeEncodeError:
        return text.encode("utf-8"), options


def check_bundle(bundle: SeriesBundle) -> None:
    """What a loaded bundle promises: sorted unique timestamps, one row each, finite values,
    a split whose parts hold at least one window."""
    steps = np.diff(bundle.timestamps.to_numpy())
    assert (steps > np.timedelta64(0)).all()
    assert len(bundle.timestamps) == len(bundle.raw) == len(bundle.values)
    assert np.isfinite(bundle.raw).all() and np.isfinite(bundle.values).all()
    assert bundle.seq_len >= 1 and bundle.horizon >= 1
    for part in ("train", "val", "test"):
        assert len(bundle.origins(part)) >= 1


def loads_or_refuses(source, options: ReadOptions) -> str | None:
    """Load `source`: None where it loaded (every bundle checked), else the refusal (an
    `InputError`'s one line). Any other exception propagates: the failure the property looks for."""
    try:
        bundles = load_groups(source, read=options)
    except InputError as exc:
        assert "\n" not in str(exc), f"an InputError of more than one line: {exc!r}"
        return str(exc)
    for bundle in bundles:
        check_bundle(bundle)
    return None


def file_loads_or_refuses(content: bytes, options: ReadOptions) -> str | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "user.csv"
        path.write_bytes(content)
        return loads_or_refuses(path, options)
