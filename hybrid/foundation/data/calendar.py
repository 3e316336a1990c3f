"""The sampling frequency of a series, its calendar season and the look-back and horizon that
follow from it for data that is not in the manifest."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hybrid.foundation.errors import InputError

# (name, typical step in days, season, default look-back, default horizon)
_CALENDAR = (
    ("daily", 1, 7, 512, 96),
    ("weekly", 7, 52, 104, 24),
    ("monthly", 30.4, 12, 36, 12),
    ("quarterly", 91.3, 4, 16, 8),
    ("yearly", 365.25, 1, 8, 4),
)
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
    step = pd.Timedelta(int(np.median(np.diff(timestamps.asi8))), unit="ns")
    seconds = step.total_seconds()
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
