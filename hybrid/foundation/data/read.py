"""Reading a table a user brings, wide (a date column + numeric columns) or long (Nixtla's
`unique_id`, `ds`, `y`), and refusing anything malformed with one clear line.

What is read, and how, is said in the frame's `notes` where it was not the plain case: a
separator other than the comma, decimal commas, a file that is not UTF-8, dates read day-first,
epoch numbers, time zones made UTC, missing timestamps inserted. Calendars are checked, not
guessed: timestamps must be sorted, unique and on one regular grid (hourly, business days, month
ends, ...); missing ones are said (how many, where) and inserted only when `fill` says how to
fill them; timestamps off any grid are refused with the reason.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hybrid.foundation.errors import InputError
from hybrid.foundation.settings import setting

DATE_COLUMNS = ("date", "ds", "timestamp", "datetime", "time", "ts", "year")
LONG_COLUMNS = ("unique_id", "ds", "y")
FILL_METHODS = ("ffill", "interpolate")
DATE_UNITS = ("s", "ms", "us", "ns")
SEPARATORS = (",", ";", "\t", "|")
SAMPLE_BYTES = 1 << 16  # what the encoding and the separator are told from


@dataclass(frozen=True, kw_only=True)
class ReadOptions:
    """How a table's values and calendar are read, where the data cannot say it itself."""

    fill: str | None = setting(None, "fill NaN/inf values and insert missing timestamps (ffill: carry the last "
                               "value forward, leading gaps take the first value; interpolate: linear) instead "
                               "of refusing the data", choices=FILL_METHODS)
    freq: str | None = setting(None, "the calendar of the timestamps, a pandas alias (h, 15min, D, B, W-MON, MS, "
                               "ME, QS, YS): default inferred", metavar="ALIAS")
    dayfirst: bool | None = setting(None, "read dates such as 03/04/2020 day-first (--no-dayfirst: month-first); "
                                    "default: detected where the dates tell")
    date_unit: str | None = setting(None, "the unit of dates given as epoch numbers (default: told by their size)",
                                    choices=DATE_UNITS)


@dataclass(frozen=True)
class Frame:
    """Validated data: sorted unique timestamps on a regular calendar, one float column per series."""

    timestamps: pd.DatetimeIndex
    values: pd.DataFrame
    notes: tuple[str, ...] = field(default=())


def _describe_rows(index: pd.Index, rows: np.ndarray, limit: int = 3) -> str:
    shown = ", ".join(f"row {int(r) + 1} ({index[r]})" for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return shown + more


# --- the file ---------------------------------------------------------------------------------

def _encoding(sample: bytes, source: str) -> tuple[str, str | None]:
    """The encoding to read the file with and a note where it is not UTF-8; a file that is not
    text is refused."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", "read as UTF-16"
    try:
        sample.decode("utf-8-sig")
        return "utf-8-sig", None
    except UnicodeDecodeError as exc:
        if len(sample) == SAMPLE_BYTES and exc.start >= SAMPLE_BYTES - 4:
            return "utf-8-sig", None  # a character cut by the sample's end
    control = sum(b < 32 and b not in (9, 10, 13) for b in sample)
    if b"\x00" in sample or control > 0.01 * len(sample):
        raise InputError(f"{source} is not a text CSV file ({control} control bytes in its first "
                         f"{len(sample)}): export the table as CSV")
    return "latin-1", "read as Latin-1 (the file is not UTF-8)"


def _separator(text: str) -> tuple[str, str]:
    """The field separator (the one the header and the first lines hold equally often) and the
    decimal mark (a comma where the separator is not one and the fields read like 1,5)."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if len(lines) > 2:
        lines = lines[:-1]  # the sample may cut the last line
    sep = ","
    for candidate in SEPARATORS:
        counts = {line.count(candidate) for line in lines}
        if len(counts) == 1 and counts != {0}:
            sep = candidate
            break
    fields = [f.strip().strip('"') for line in lines[1:] for f in line.split(sep)]
    decimal = "," if sep != "," and any(re.fullmatch(r"-?\d+,\d+", f) for f in fields) else "."
    return sep, decimal


def read_table(path: str | os.PathLike) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """A CSV file as a DataFrame, its encoding and separator told from its first bytes, and what
    was told (where it is not UTF-8 and commas); raises `InputError` on anything unreadable."""
    try:
        with open(path, "rb") as fh:
            sample = fh.read(SAMPLE_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not sample.strip():
        raise InputError(f"{path} is empty: a CSV file needs a header and rows")
    encoding, note = _encoding(sample, str(path))
    sep, decimal = _separator(sample.decode(encoding, errors="replace"))
    notes = [n for n in (note,) if n]
    if sep != "," or decimal != ".":
        shown = {"\t": "tab", ";": "';'", "|": "'|'", ",": "','"}[sep]
        notes.append(f"read as {shown}-separated" + (" with decimal commas" if decimal == "," else ""))
    try:
        df = pd.read_csv(path, sep=sep, decimal=decimal, encoding=encoding)
    except UnicodeDecodeError:  # not UTF-8 after the sample
        df = pd.read_csv(path, sep=sep, decimal=decimal, encoding="latin-1")
        notes.append("read as Latin-1 (the file is not UTF-8)")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from None
    if df.shape[1] == 1 and sep == ",":
        header = str(df.columns[0])
        hint = next((s for s in SEPARATORS[1:] if s in header), None)
        if hint is not None:
            raise InputError(f"{path} has one column, '{header}': its separator seems to be {hint!r}, but its "
                             "lines do not all hold it equally often; fix the file's quoting or separators")
    return df, tuple(notes)


# --- dates --------------------------------------------------------------------------------------

def _day_first(strings: pd.Series) -> tuple[bool | None, str | None]:
    """Whether dates like 03/04/2020 are day-first: told by a field above 12, or by the one reading
    that is sorted and evenly spaced; None where the dates are not of that kind. Refuses what
    reads both ways alike."""
    parts = strings.str.extract(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})(?!\d)")
    if parts.isna().any().any():
        return None, None
    first, second = parts[0].astype(int), parts[1].astype(int)
    if first.max() > 12 >= second.max():
        return True, f"read dates day-first (e.g. {strings.iloc[int(first.argmax())]!r})"
    if second.max() > 12 >= first.max():
        return False, None
    if first.max() > 12 and second.max() > 12:
        return None, None  # neither reading works: parsing says which rows fail
    regular = [flag for flag in (False, True) if _evenly(_to_datetime(strings, flag))]
    if len(regular) == 1:
        return regular[0], "read dates day-first (only that reading is evenly spaced)" if regular[0] else None
    raise InputError(f"dates such as {strings.iloc[0]!r} read as day/month and as month/day alike: pass "
                     "--dayfirst or --no-dayfirst (dayfirst= in Python)")


def _epoch(numbers: pd.Series, name: str, unit: str | None) -> tuple[pd.DatetimeIndex, str | None]:
    """Numeric dates: years (1000-2999), yyyymmdd, or epoch numbers in `unit` (told by their size
    where not given)."""
    integral = bool(np.all(numbers == np.round(numbers)))
    if unit is None and integral:
        for low, high, fmt, what in ((1000, 2999, "%Y", "years"), (10000101, 29991231, "%Y%m%d", "yyyymmdd dates")):
            if numbers.min() >= low and numbers.max() <= high:
                dates = pd.to_datetime(numbers.astype(np.int64).astype(str), format=fmt, errors="coerce")
                if dates.notna().all():
                    return pd.DatetimeIndex(dates), f"read the numbers in '{name}' as {what}"
    told = unit is None
    if told:
        size = float(np.abs(numbers).max())
        unit = "s" if size < 1e11 else "ms" if size < 1e14 else "us" if size < 1e17 else "ns"
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(numbers, unit=unit))
    except (ValueError, OverflowError) as exc:
        raise InputError(f"the numbers in '{name}' are not epoch {unit} ({str(exc).splitlines()[0]}): pass "
                         f"--date-unit ({', '.join(DATE_UNITS)})") from None
    words = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}[unit]
    return dates, (f"read the numbers in '{name}' as epoch {words} (UTC; --date-unit to say otherwise)" if told else None)


def parse_dates(col: pd.Series, name: str, options: ReadOptions = ReadOptions()) -> tuple[pd.DatetimeIndex, tuple[str, ...]]:
    """The timestamps of a column and what was told to read them (`ReadOptions`): ISO or other
    date strings (day-first where told), years, yyyymmdd or epoch numbers; offsets made UTC."""
    notes, note = [], None
    if pd.api.types.is_datetime64_any_dtype(col):
        dates = pd.DatetimeIndex(col)
    elif (numbers := pd.to_numeric(col, errors="coerce")).notna().all():
        dates, note = _epoch(numbers.astype(np.float64), name, options.date_unit)
    else:
        strings = col.astype(str).str.strip()
        dayfirst, note = (options.dayfirst, None) if options.dayfirst is not None else _day_first(strings)
        dates = _to_datetime(strings, bool(dayfirst))
    bad = np.flatnonzero(pd.isna(dates))
    if len(bad):
        shown = ", ".join(f"row {r + 1} ({col.iloc[r]!r})" for r in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise InputError(f"unparseable dates in column '{name}': {shown}{more}")
    if dates.tz is not None:
        notes.append(f"timestamps in '{name}' carry UTC offsets or a time zone ({dates.tz}): made UTC")
        dates = dates.tz_convert("UTC").tz_localize(None)
    notes += [note] if note else []
    try:  # nanoseconds where they reach (the cache's fingerprints), else the unit read (before 1677)
        dates = dates.as_unit("ns")
    except (ValueError, OverflowError):
        pass
    return dates, tuple(notes)


def _to_datetime(strings: pd.Series, dayfirst: bool) -> pd.DatetimeIndex:
    """Every row parsed (NaT where it cannot be), offsets kept: mixed ones to UTC."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Could not infer format")
        warnings.filterwarnings("ignore", message="Parsing dates in")
        for kwargs in ({}, {"format": "mixed"}):
            try:
                dates = pd.to_datetime(strings, errors="coerce", dayfirst=dayfirst, **kwargs)
            except (ValueError, TypeError):  # offsets that differ between rows
                dates = pd.to_datetime(strings, errors="coerce", dayfirst=dayfirst, utc=True, format="mixed")
            if dates.notna().all():
                break
    return pd.DatetimeIndex(dates)


# --- the calendar -------------------------------------------------------------------------------

def infer_freq(timestamps: pd.DatetimeIndex) -> str | None:
    """pandas' inferred frequency of the timestamps, or None; quiet about pandas 3 announcing an
    offset instead of a string (either serves every caller)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="A future version of pandas will return a BaseOffset")
        return pd.infer_freq(timestamps)


def step_nanoseconds(timestamps: pd.DatetimeIndex) -> np.ndarray:
    """The steps between consecutive timestamps in nanoseconds, whatever their unit."""
    return np.diff(timestamps.to_numpy()).astype("timedelta64[ns]").astype(np.int64)


def _grid(timestamps: pd.DatetimeIndex) -> str | pd.DateOffset:
    """The calendar the timestamps follow but for missing ones: the median step, anchored as the
    first timestamp is (W-MON, MS or ME, QS-JAN, YS-JAN, ...)."""
    step = pd.Timedelta(int(np.median(step_nanoseconds(timestamps))))
    first, days = timestamps[0], step / pd.Timedelta(days=1)
    if days < 1:
        return pd.tseries.frequencies.to_offset(step).freqstr
    starts, ends = (timestamps.day == 1).all(), timestamps.is_month_end.all()
    for months, lo, hi in ((1, 28, 31), (3, 89, 92), (12, 365, 366)):
        if lo <= days <= hi:
            if starts or ends:
                base = {1: "M", 3: "Q", 12: "Y"}[months] + ("S" if starts else "E")
                return base if months == 1 else f"{base}-{first.strftime('%b').upper()}"
            return pd.DateOffset(months=months)
    if days == 7:
        return f"W-{first.strftime('%a').upper()}"
    if days == 1 and len(timestamps) >= 14 and not (timestamps.day_of_week >= 5).any():
        return "B"
    return f"{days:g}D" if days == int(days) else step


def _evenly(dates: pd.DatetimeIndex) -> bool:
    """Whether the dates are sorted and on one calendar with none missing."""
    if dates.isna().any() or len(dates) < 3 or (step_nanoseconds(dates) <= 0).any():
        return False
    if infer_freq(dates) is not None:
        return True
    try:
        grid = pd.date_range(dates[0], dates[-1], freq=_grid(dates))
    except (ValueError, TypeError):
        return False
    return len(grid) == len(dates) and bool(dates.isin(grid).all())


def regular_calendar(timestamps: pd.DatetimeIndex, values: pd.DataFrame, options: ReadOptions
                     ) -> tuple[pd.DatetimeIndex, pd.DataFrame, tuple[str, ...]]:
    """The timestamps on their calendar (`options.freq`, else inferred): missing ones inserted
    (their rows NaN, for `fill`) where `fill` is given, else refused; off-grid ones refused."""
    if len(timestamps) < 3 and options.freq is None:
        return timestamps, values, ()
    freq = options.freq
    if freq is None:
        if infer_freq(timestamps) is not None:
            return timestamps, values, ()
        freq = _grid(timestamps)
    try:
        grid = pd.date_range(timestamps[0], timestamps[-1], freq=freq).as_unit(timestamps.unit)
    except (ValueError, TypeError) as exc:
        raise InputError(f"freq={freq!r} is not a pandas frequency ({str(exc).splitlines()[0]}); e.g. 'h', 'D', "
                         "'B', 'W-MON', 'MS', 'ME'") from None
    shown = freq.freqstr if isinstance(freq, pd.DateOffset) else freq
    off = ~timestamps.isin(grid)
    if off.any():
        steps = pd.to_timedelta(step_nanoseconds(timestamps))
        raise InputError(f"timestamps are not regular: {int(off.sum())} of {len(timestamps)} fall off the {shown} "
                         f"calendar from {timestamps[0]}, first {_describe_rows(timestamps, np.flatnonzero(off), 1)}; "
                         f"steps run from {steps.min()} to {steps.max()}; resample the data to one frequency "
                         "(pandas: df.resample(...).mean()), or pass --freq")
    missing = grid.difference(timestamps)
    if not len(missing):
        return timestamps, values, ()
    gaps = int((np.diff(grid.get_indexer(missing)) != 1).sum()) + 1
    where = (f"{len(missing)} timestamps missing from the {shown} calendar, in {gaps} gap{'s' * (gaps != 1)}, the "
             f"first at {missing[0]}")
    if options.fill is None:
        raise InputError(f"{where}: pass --fill ffill (or interpolate) to insert and fill them, or --freq if the "
                         "calendar is another")
    return grid, values.reindex(grid), (f"{where}: inserted, their values filled ({options.fill})",)


# --- the table ------------------------------------------------------------------------------------

def _wide_from_long(df: pd.DataFrame, target: str | None) -> pd.DataFrame:
    """The long table as one column per id, of `target` alone where given; ids that do not share
    their timestamps are refused (a pivot would pad them with rows nobody observed)."""
    df = df.assign(unique_id=df["unique_id"].astype(str))
    if target is not None:
        if not (df["unique_id"] == target).any():
            known = pd.unique(df["unique_id"])
            raise InputError(f"unknown --target '{target}'; unique_ids are: {', '.join(known[:10])}"
                             + (f" and {len(known) - 10} more" if len(known) > 10 else ""))
        df = df[df["unique_id"] == target]
    dup = df.duplicated(["unique_id", "ds"], keep=False).to_numpy()
    if dup.any():
        first = df[dup].iloc[0]
        raise InputError(
            f"duplicate timestamps: unique_id '{first['unique_id']}' has ds {first['ds']} "
            f"more than once ({int(dup.sum())} rows involved)"
        )
    order = pd.unique(df["unique_id"])
    spans = df.groupby("unique_id", sort=False)["ds"].agg(["min", "max", "size"])
    if len(spans) > 1 and (spans.nunique() > 1).any():
        shown = ", ".join(f"'{uid}' {row['min']} to {row['max']}" for uid, row in spans.head(3).iterrows())
        raise InputError(f"the series of this long table do not share their timestamps ({shown}): pick one with "
                         "--target, or load them with load_groups (Hybrid and the commands do), which fits each "
                         "group of shared dates on its own")
    wide = df.pivot(index="ds", columns="unique_id", values="y")
    wide = wide[order].sort_index().reset_index()
    wide.columns = ["ds", *map(str, order)]
    return wide


def _date_column(df: pd.DataFrame, notes: tuple[str, ...]) -> str:
    by_lower = {str(c).lower(): c for c in df.columns}
    for name in DATE_COLUMNS:
        if name in by_lower:
            return by_lower[name]
    first = df.columns[0]
    if not pd.api.types.is_numeric_dtype(df[first]):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Could not infer format")
            parsed = pd.to_datetime(df[first], errors="coerce", format="mixed", utc=True)
        if parsed.notna().mean() > 0.5:
            return first
    read = f" ({'; '.join(notes)})" if notes else ""  # each note says how it was read
    raise InputError(
        "no date column: name one of "
        f"{', '.join(DATE_COLUMNS)} (or put parseable timestamps in the first column); "
        f"columns are: {', '.join(map(str, df.columns))}{read}"
    )


def read_frame(source: str | os.PathLike | pd.DataFrame, options: ReadOptions = ReadOptions(),
               target: str | None = None) -> Frame:
    """Read and validate a wide or long table (of a long one, the id `target` alone where given);
    raises `InputError` on anything malformed."""
    if isinstance(source, pd.DataFrame):
        df, notes = source.copy(), ()
    else:
        df, notes = read_table(source)
    if df.empty:
        raise InputError(f"{source if not isinstance(source, pd.DataFrame) else 'data'} has no rows")
    if "unique_id" in df.columns and not set(LONG_COLUMNS) <= set(df.columns):
        missing = [c for c in LONG_COLUMNS if c not in df.columns]
        raise InputError(f"a long table needs the columns {', '.join(LONG_COLUMNS)}; this one lacks "
                         f"{', '.join(missing)} (columns: {', '.join(map(str, df.columns))}): rename them")
    if set(LONG_COLUMNS) <= set(df.columns):
        df = df[list(LONG_COLUMNS)]
        ds, date_notes = parse_dates(df["ds"], "ds", options)
        df, date_col = _wide_from_long(df.assign(ds=ds), target), "ds"
        timestamps = pd.DatetimeIndex(df["ds"])
    else:
        date_col = _date_column(df, notes)
        timestamps, date_notes = parse_dates(df[date_col], str(date_col), options)
    notes += date_notes
    values = df.drop(columns=[date_col])
    values.columns = [str(c) for c in values.columns]
    if values.shape[1] == 0:
        raise InputError(f"no value columns: only the date column '{date_col}' was found")

    non_numeric = []
    numeric = {}
    for col in values.columns:
        converted = pd.to_numeric(values[col], errors="coerce")
        bad = converted.isna() & values[col].notna()
        if bad.any():
            non_numeric.append(f"'{col}' (e.g. {values[col][bad].iloc[0]!r})")
        numeric[col] = converted.to_numpy(dtype="float64")
    if non_numeric:
        raise InputError(f"non-numeric columns: {', '.join(non_numeric)}")
    values = pd.DataFrame(numeric, index=timestamps)

    steps = step_nanoseconds(timestamps)
    if (steps < 0).any():
        r = int(np.flatnonzero(steps < 0)[0])
        raise InputError(
            f"timestamps are not sorted: row {r + 2} ({timestamps[r + 1]}) comes after "
            f"row {r + 1} ({timestamps[r]}); sort the file by date"
        )
    if (steps == 0).any():
        r = int(np.flatnonzero(steps == 0)[0])
        raise InputError(
            f"duplicate timestamps: {timestamps[r]} at rows {r + 1} and {r + 2} "
            f"({int((steps == 0).sum())} duplicates in all)"
        )
    timestamps, values, calendar_notes = regular_calendar(timestamps, values, options)
    notes += calendar_notes

    arr = values.to_numpy()
    missing = ~np.isfinite(arr)
    if missing.any():
        fill = options.fill
        if fill is None:
            rows, cols = np.nonzero(missing)
            col = values.columns[cols[0]]
            raise InputError(
                f"{int(missing.sum())} NaN/inf values, first in column '{col}' at "
                f"{_describe_rows(timestamps, rows[:1])}; pass --fill ffill (or interpolate) "
                "to fill them, or fix the file"
            )
        values = values.where(np.isfinite(values))
        if fill == "ffill":
            values = values.ffill().bfill()  # leading gaps take the first observed value
        elif fill == "interpolate":
            values = values.interpolate(limit_direction="both")
        else:
            raise InputError(f"unknown fill method '{fill}'; use one of: {', '.join(FILL_METHODS)}")
        empty = [c for c in values.columns if values[c].isna().all()]
        if empty:
            raise InputError(f"columns with no finite value at all: {', '.join(empty)}")
    return Frame(timestamps=timestamps, values=values, notes=tuple(notes))
