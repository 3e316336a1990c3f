"""The sampling frequency of a series, its calendar season and the look-back and horizon that
follow from it for data that is not in the manifest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybrid.foundation.data.read import infer_freq, step_nanoseconds
from hybrid.foundation.errors import InputError

# (name, typical step in days, season, default look-back, default horizon)
_CALENDAR = (
    ("daily", 1, 7, 512, 96),
    ("weekly", 7, 52, 104, 24),
    ("monthly", 30.4, 12, 36, 12),
    ("quarterly", 91.3, 4, 16, 8),
    ("yearly", 365.25, 1, 8, 4),
)
_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}  # the calendar steps that are whole months
_ALIASES = {"daily": "D", "business-daily": "B", "weekly": "W", "monthly": "MS",
            "quarterly": "QS", "yearly": "YS"}


@dataclass(frozen=True)
class Frequency:
    """The sampling frequency of a series and what follows from it."""

    name: str  # e.g. "hourly", "15-minute", "daily"
    alias: str  # a pandas alias, e.g. "h", "15min", "D"
    season: int  # the calendar season in steps: a day for sub-daily data, else a week / a year
    default_seq_len: int
    default_horizon: int
    subdaily: bool = False  # then `season` is a day, and a week is 7 seasons


def detect_frequency(timestamps: pd.DatetimeIndex) -> Frequency:
    """Infer the frequency from the median step (robust to a few gaps)."""
    if len(timestamps) < 2:
        raise InputError("need at least two timestamps to tell the frequency")
    step = pd.Timedelta(int(np.median(step_nanoseconds(timestamps))), unit="ns")
    seconds = step.total_seconds()
    if seconds <= 0:
        raise InputError(f"cannot tell the frequency: the median step between timestamps is {step} (sort the rows "
                         "by date, and give each timestamp once)")
    if seconds < 86400:
        alias = pd.tseries.frequencies.to_offset(step).freqstr
        per_day = 86400 / seconds
        season = int(round(per_day)) if abs(per_day - round(per_day)) < 1e-9 else 1
        name = {"h": "hourly", "min": "minutely"}.get(alias, f"{alias}")
        return Frequency(name, alias, season, 512, 96, subdaily=True)
    days = seconds / 86400
    if days == 1 and len(timestamps) >= 14 and not (timestamps.day_of_week >= 5).any():
        return Frequency("business-daily", "B", 5, 512, 96)
    for name, typical, season, seq_len, horizon in _CALENDAR:
        if abs(days - typical) <= 0.1 * typical:
            return Frequency(name, _ALIASES[name], season, seq_len, horizon)
    return Frequency(f"every {days:g} days", f"{days:g}D", 1, 104, 24)


def next_timestamps(timestamps: pd.DatetimeIndex, n: int, freq: str | None = None) -> pd.DatetimeIndex:
    """The `n` timestamps that follow the last one in the series' own calendar.

    `freq` (a pandas alias) is used as given; otherwise the one pandas infers from the latest
    timestamps ('h', 'B', 'W-SUN', 'ME', 'QS-OCT', 'YS-JAN', ...), so that business days skip
    weekends and month ends stay month ends. Where none can be inferred (a gap among the latest
    rows), the median step is added: a whole number of months from the last timestamp for monthly
    to yearly data (Jan 31 + 1 month = Feb 28, + 2 months = Mar 31), else a fixed time delta.
    """
    timestamps = pd.DatetimeIndex(timestamps)
    last = timestamps[-1]
    if freq is None and len(timestamps) >= 3:
        freq = infer_freq(timestamps[-min(len(timestamps), 60):])
    if freq is not None:
        try:
            return pd.date_range(last, periods=n + 1, freq=freq)[1:].as_unit(timestamps.unit)
        except ValueError as exc:
            raise InputError(f"freq='{freq}' is not a pandas frequency ({exc}); e.g. 'h', 'D', 'B', 'W', 'MS', 'ME'")
    steps = step_nanoseconds(timestamps[-min(len(timestamps), 60):])
    step = int(np.median(steps))
    days = step / 86400e9
    months = next((_MONTHS[name] for name, typical, *_ in _CALENDAR
                   if name in _MONTHS and abs(days - typical) <= 0.1 * typical), None)
    if months is not None:
        return pd.DatetimeIndex([last + pd.DateOffset(months=months * k) for k in range(1, n + 1)]).as_unit(timestamps.unit)
    multiples = steps / step
    if step <= 0 or np.abs(multiples - np.round(multiples)).max() > 0.01:  # not one step with a few missing
        raise InputError(f"cannot tell the frequency of the timestamps: the latest steps run from "
                         f"{pd.Timedelta(int(steps.min()))} to {pd.Timedelta(int(steps.max()))}; "
                         "pass freq= (a pandas alias such as 'h', 'D', 'W', 'MS')")
    return pd.DatetimeIndex(last + pd.to_timedelta(step, unit="ns") * np.arange(1, n + 1))
