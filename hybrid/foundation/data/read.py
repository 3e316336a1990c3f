"""Reading a table a user brings, wide (a date column + numeric columns) or long (Nixtla's
`unique_id`, `ds`, `y`), and refusing anything malformed with one clear line."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybrid.foundation.errors import InputError

DATE_COLUMNS = ("date", "ds", "timestamp", "datetime", "time")
LONG_COLUMNS = ("unique_id", "ds", "y")
FILL_METHODS = ("ffill", "interpolate")


@dataclass(frozen=True)
class Frame:
    """Validated data: sorted unique timestamps and one float column per series."""

    timestamps: pd.DatetimeIndex
    values: pd.DataFrame


def _describe_rows(index: pd.Index, rows: np.ndarray, limit: int = 3) -> str:
    shown = ", ".join(f"row {int(r) + 1} ({index[r]})" for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return shown + more


def parse_dates(col: pd.Series, name: str) -> pd.DatetimeIndex:
    dates = pd.to_datetime(col, errors="coerce")
    if dates.isna().any():
        # The format inferred from the first row may not fit all rows: try each row on its own.
        dates = pd.to_datetime(col, errors="coerce", format="mixed")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        shown = ", ".join(f"row {r + 1} ({col.iloc[r]!r})" for r in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise InputError(f"unparseable dates in column '{name}': {shown}{more}")
    return pd.DatetimeIndex(dates).as_unit("ns")  # asi8 below counts nanoseconds


def _wide_from_long(df: pd.DataFrame) -> pd.DataFrame:
    dup = df.duplicated(["unique_id", "ds"], keep=False).to_numpy()
    if dup.any():
        first = df[dup].iloc[0]
        raise InputError(
            f"duplicate timestamps: unique_id '{first['unique_id']}' has ds {first['ds']} "
            f"more than once ({int(dup.sum())} rows involved)"
        )
    order = pd.unique(df["unique_id"])
    wide = df.pivot(index="ds", columns="unique_id", values="y")
    wide = wide[order].sort_index().reset_index()
    wide.columns = ["ds", *map(str, order)]
    return wide


def _date_column(df: pd.DataFrame) -> str:
    by_lower = {str(c).lower(): c for c in df.columns}
    for name in DATE_COLUMNS:
        if name in by_lower:
            return by_lower[name]
    first = df.columns[0]
    if not pd.api.types.is_numeric_dtype(df[first]):
        parsed = pd.to_datetime(df[first], errors="coerce", format="mixed")
        if parsed.notna().mean() > 0.5:
            return first
    raise InputError(
        "no date column: name one of "
        f"{', '.join(DATE_COLUMNS)} (or put parseable timestamps in the first column); "
        f"columns are: {', '.join(map(str, df.columns))}"
    )


def read_frame(source: str | os.PathLike | pd.DataFrame, fill: str | None = None) -> Frame:
    """Read and validate a wide or long table; raises `InputError` on anything malformed."""
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        try:
            df = pd.read_csv(source)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {source} as CSV: {str(exc).splitlines()[0]}") from exc
    if df.empty:
        raise InputError(f"{source if not isinstance(source, pd.DataFrame) else 'data'} has no rows")
    if "unique_id" in df.columns and not set(LONG_COLUMNS) <= set(df.columns):
        missing = [c for c in LONG_COLUMNS if c not in df.columns]
        raise InputError(f"a long table needs the columns {', '.join(LONG_COLUMNS)}; this one lacks "
                         f"{', '.join(missing)} (columns: {', '.join(map(str, df.columns))}): rename them")
    if set(LONG_COLUMNS) <= set(df.columns):
        df = _wide_from_long(df[list(LONG_COLUMNS)])
    date_col = _date_column(df)
    timestamps = parse_dates(df[date_col], str(date_col))
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

    stamps = timestamps.asi8
    steps = np.diff(stamps)
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

    arr = values.to_numpy()
    missing = ~np.isfinite(arr)
    if missing.any():
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
    return Frame(timestamps=timestamps, values=values)
