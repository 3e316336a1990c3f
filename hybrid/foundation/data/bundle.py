"""The bundle a model sees: raw and z-scored values, split, look-back and horizon, and `load`,
which finds, reads, validates, splits and scales a dataset into one."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from hybrid.foundation.data.calendar import Frequency, detect_frequency, next_timestamps
from hybrid.foundation.data.datasets import DatasetSpec, resolve
from hybrid.foundation.data.read import ReadOptions, read_frame
from hybrid.foundation.data.windows import Part, Split, default_lengths, make_split, take_rows, too_few_windows
from hybrid.foundation.errors import InputError
from hybrid.foundation.paths import file_hash


@dataclass(frozen=True)
class Scaler:
    """Per-channel z-score; fitted on the training rows only."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, train: np.ndarray) -> "Scaler":
        std = train.std(axis=0)
        # A constant channel would divide by zero; leaving it unscaled keeps it constant.
        return cls(mean=train.mean(axis=0), std=np.where(std > 0, std, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return x * self.std + self.mean


@dataclass(frozen=True)
class SeriesBundle:
    """A dataset ready for forecasting: raw and z-scored values, split, look-back, horizon.

    `values` is the z-scored data [T, C]; every column is an independent series.
    """

    name: str
    timestamps: pd.DatetimeIndex
    columns: tuple[str, ...]
    raw: np.ndarray
    values: np.ndarray
    scaler: Scaler
    split: Split
    seq_len: int
    horizon: int
    freq: Frequency
    spec: DatasetSpec | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def n_channels(self) -> int:
        return self.values.shape[1]

    @property
    def season(self) -> int:
        return self.freq.season

    @property
    def train_values(self) -> np.ndarray:
        start, end = self.split.train
        return self.values[start:end]

    def origins(self, part: Part) -> np.ndarray:
        """Every window origin of a part, stride 1 (origin = first forecast row)."""
        return self.split.origins(part, self.seq_len, self.horizon)

    def every_origin(self) -> np.ndarray:
        """Every origin of train, val and test together (one contiguous run, stride 1)."""
        return np.arange(self.seq_len, self.split.test[1] - self.horizon + 1)

    def fingerprint(self) -> str:
        """A hash of everything a forecast depends on: values, timestamps, split, L and H."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.values).tobytes())
        digest.update(self.timestamps.asi8.tobytes())
        digest.update(repr((self.columns, self.split, self.seq_len, self.horizon)).encode())
        return digest.hexdigest()

    def history(self, origins: np.ndarray) -> np.ndarray:
        """Look-back windows [N, L, C] ending just before each origin (a view when contiguous)."""
        origins = np.asarray(origins)
        if len(origins) and origins.min() < self.seq_len:
            raise ValueError(f"origin {origins.min()} has fewer than seq_len={self.seq_len} rows before it")
        view = np.lib.stride_tricks.sliding_window_view(self.values, self.seq_len, axis=0)
        return take_rows(view, origins - self.seq_len).transpose(0, 2, 1)

    def future(self, origins: np.ndarray) -> np.ndarray:
        """Target windows [N, H, C] starting at each origin (a view when contiguous)."""
        origins = np.asarray(origins)
        if len(origins) and origins.max() + self.horizon > len(self.values):
            raise ValueError(f"origin {origins.max()} + horizon {self.horizon} runs past the data")
        view = np.lib.stride_tricks.sliding_window_view(self.values, self.horizon, axis=0)
        return take_rows(view, origins).transpose(0, 2, 1)

    def with_split(self, split: Split) -> "SeriesBundle":
        """The same rows under another split, z-scored anew from its training rows."""
        scaler = Scaler.fit(self.raw[split.train[0]:split.train[1]])
        return dataclasses.replace(self, split=split, scaler=scaler, values=scaler.transform(self.raw))

    def truncated(self, end: int) -> "SeriesBundle":
        """The first `end` rows only (scaled as before): what a fit at an earlier cutoff may hold."""
        return dataclasses.replace(self, raw=self.raw[:end], values=self.values[:end], timestamps=self.timestamps[:end])

    def extended(self, rows: int, freq: str | None = None) -> "SeriesBundle":
        """The data followed by `rows` unknown rows (NaN) at the timestamps that continue its
        calendar (`next_timestamps`): the rows a forecast of the future covers. A model that read
        them would forecast NaN, so no forecast of the future can lean on them unnoticed."""
        stamps = self.timestamps.append(next_timestamps(self.timestamps, rows, freq))
        raw = np.vstack([self.raw, np.full((rows, self.n_channels), np.nan)])
        return dataclasses.replace(self, timestamps=stamps, raw=raw, values=self.scaler.transform(raw))

    def windows(self, part: Part) -> tuple[np.ndarray, np.ndarray]:
        """All (look-back, target) windows of a part, as strided views of `values`."""
        origins = self.origins(part)
        return self.history(origins), self.future(origins)


def load(
    data: str | os.PathLike | pd.DataFrame,
    *,
    target: str | None = None,
    seq_len: int | None = None,
    horizon: int | None = None,
    read: ReadOptions = ReadOptions(),
    name: str | None = None,
    log: Callable[[str], None] = lambda msg: None,
) -> SeriesBundle:
    """Find, read, validate, split and scale a dataset. Raises `InputError` on bad input.

    `data` is a manifest name (ETTh1, ...), a CSV path, or a DataFrame (wide or long).
    `read`: how values and calendar are read where the data cannot say (`ReadOptions`: fill,
    freq, dayfirst, date_unit). Missing `seq_len`/`horizon` take the manifest's defaults (the first listed horizon), or for
    unknown data follow from its length and frequency; what was chosen is passed to `log`.
    """
    spec = None
    if isinstance(data, pd.DataFrame):
        frame, label = read_frame(data, read, target), name or "data"
    else:
        path, spec = resolve(data)
        frame, label = read_frame(path, read, target), name or (spec.name if spec else path.stem)
        if spec is not None and file_hash(path) != spec.md5:
            log(f"note: {path} is named like {spec.name} but its md5 differs from the manifest's")

    columns = list(frame.values.columns)
    if target is not None:
        if target not in columns:
            raise InputError(f"unknown --target '{target}'; columns are: {', '.join(columns)}")
        columns = [target]
    raw = frame.values[columns].to_numpy(dtype=np.float64)
    n_rows = len(raw)

    freq = detect_frequency(frame.timestamps)
    notes = list(frame.notes)
    if spec is not None:
        rule = spec.split
        seq_len = spec.seq_len if seq_len is None else seq_len
        horizon = spec.horizons[0] if horizon is None else horizon
    else:
        rule = "ratio"
        if seq_len is None:
            seq_len, horizon = default_lengths(n_rows, freq, horizon)
            notes.append(
                f"{label} is not in the manifest: {n_rows} {freq.name} rows; chose "
                f"seq_len={seq_len}, horizon={horizon}, a 70/10/20 split"
            )
        elif horizon is None:
            horizon = default_lengths(n_rows, freq)[1]
            notes.append(f"{label} is not in the manifest: chose horizon={horizon}")
    splits = make_split(rule, n_rows, seq_len, horizon)
    notes += [f"warning: {line}" for line in too_few_windows(splits, seq_len, horizon)]
    scaler = Scaler.fit(raw[splits.train[0] : splits.train[1]])
    for note in notes:
        log(note)
    return SeriesBundle(
        name=label,
        timestamps=frame.timestamps,
        columns=tuple(columns),
        raw=raw,
        values=scaler.transform(raw),
        scaler=scaler,
        split=splits,
        seq_len=seq_len,
        horizon=horizon,
        freq=freq,
        spec=spec,
        notes=tuple(notes),
    )
