"""Many series in one table: those that share their timestamps form one bundle (its columns the
series), and each set of series with other dates or another length forms its own, every bundle
on one look-back and horizon so that one router can read them all."""

from __future__ import annotations

import os
from typing import Callable

import pandas as pd

from hybrid.foundation.data.bundle import SeriesBundle, load
from hybrid.foundation.data.calendar import detect_frequency
from hybrid.foundation.data.datasets import resolve
from hybrid.foundation.data.read import LONG_COLUMNS, ReadOptions, parse_dates, read_table
from hybrid.foundation.data.windows import default_lengths
from hybrid.foundation.errors import InputError


def _long_table(data: str | os.PathLike | pd.DataFrame) -> pd.DataFrame | None:
    """`data` as a long table (`unique_id`, `ds`, `y`), or None where it is wide or a named dataset."""
    if isinstance(data, pd.DataFrame):
        return data if set(LONG_COLUMNS) <= set(data.columns) else None
    path, spec = resolve(data)
    if spec is not None:
        return None
    table, _ = read_table(path)  # the one reader: what is wrong with the file is said once, here
    return table if set(LONG_COLUMNS) <= set(table.columns) else None


def load_groups(data: str | os.PathLike | pd.DataFrame | SeriesBundle | list[SeriesBundle], *,
                target: str | None = None, seq_len: int | None = None, horizon: int | None = None,
                read: ReadOptions = ReadOptions(), log: Callable[[str], None] = lambda msg: None) -> list[SeriesBundle]:
    """`load`, for a table of series that may not share their dates: one bundle per set of
    `unique_id`s with the same timestamps (a wide table, or a long one whose series all share
    theirs, is one bundle). Where there are several, the look-back and horizon not given follow
    from the shortest series, so that all bundles have the same. Bundles are taken as they are."""
    if isinstance(data, SeriesBundle):
        return [data]
    if isinstance(data, list) and all(isinstance(b, SeriesBundle) for b in data):
        return data
    long = _long_table(data) if target is None else None
    if long is None:
        return [load(data, target=target, seq_len=seq_len, horizon=horizon, read=read, log=log)]
    ds, notes = parse_dates(long["ds"], "ds", read)
    for note in notes:
        log(note)
    long = long[list(LONG_COLUMNS)].assign(unique_id=long["unique_id"].astype(str), ds=ds)
    if long.empty:
        raise InputError("the long table has no rows")
    series = {uid: part.sort_values("ds", kind="stable") for uid, part in long.groupby("unique_id", sort=False)}
    for uid, part in series.items():
        twice = part["ds"].duplicated(keep=False).to_numpy()
        if twice.any():
            raise InputError(f"duplicate timestamps: unique_id '{uid}' has ds {part['ds'][twice].iloc[0]} more than "
                             f"once ({int(twice.sum())} rows involved)")
    # the ids of a group share every timestamp: the same sorted timestamps, byte for byte
    sets: dict[bytes, list[str]] = {}
    for uid, part in series.items():
        sets.setdefault(part["ds"].to_numpy().tobytes(), []).append(uid)
    if len(sets) == 1:
        return [load(long, seq_len=seq_len, horizon=horizon, read=read, log=log)]
    shortest = series[min((ids[0] for ids in sets.values()), key=lambda uid: len(series[uid]))]
    if len(shortest) < 2:
        raise InputError(f"series '{shortest.unique_id.iloc[0]}' has {len(shortest)} row: every series needs at least two")
    freq = detect_frequency(pd.DatetimeIndex(shortest["ds"]))
    common = default_lengths(len(shortest), freq, horizon)
    seq_len, horizon = seq_len or common[0], horizon or common[1]
    log(f"{len(series)} series in {len(sets)} groups of shared timestamps, the shortest "
        f"{len(shortest)} rows: seq_len={seq_len}, horizon={horizon} for all")
    bundles = []
    for ids in sets.values():
        name = ids[0] if len(ids) == 1 else f"{ids[0]} and {len(ids) - 1} more"
        wide = pd.DataFrame({"ds": series[ids[0]]["ds"].to_numpy(), **{uid: series[uid]["y"].to_numpy() for uid in ids}})
        try:
            bundles.append(load(wide, seq_len=seq_len, horizon=horizon, read=read, name=name))
        except InputError as exc:
            raise InputError(f"series {name}: {exc}") from None
    return bundles
