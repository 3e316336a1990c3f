"""The data protocol: finding a dataset, reading it, splitting, scaling and windowing it.

Everything a model sees comes through a `SeriesBundle`. The conventions are those of the public
long-horizon benchmarks (Informer / Autoformer / Time-Series-Library), so that our numbers compare
with the published ones:

- splits: ETT hourly 12/4/4 months (train rows [0, 8640), val [8640-L, 11520), test
  [11520-L, 14400)), ETT 15-minute the same borders x4, anything else 70/10/20; val and test start
  L rows early so that their first window has a full look-back;
- a per-channel z-score fitted on the training rows only;
- channel independence: every column is its own series;
- a window origin `t` is the first forecast row: the look-back is rows [t-L, t), the target rows
  [t, t+H). A model forecasting from origin t may read rows < t only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import tomllib
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import pandas as pd

from hybrid.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = REPO_ROOT / "datasets" / "manifest.toml"
DATE_COLUMNS = ("date", "ds", "timestamp", "datetime", "time")
LONG_COLUMNS = ("unique_id", "ds", "y")
FILL_METHODS = ("ffill", "interpolate")

Part = Literal["train", "val", "test"]


# --------------------------------------------------------------------------------------------
# The manifest and finding a dataset


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of `datasets/manifest.toml`."""

    name: str
    file: str
    freq: str
    split: str
    seq_len: int
    horizons: tuple[int, ...]
    url: str
    md5: str
    license: str = ""
    description: str = ""  # one sentence about the data, for the core's prompt


def load_manifest(path: Path = MANIFEST) -> dict[str, DatasetSpec]:
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    return {
        name: DatasetSpec(name=name, **{**entry, "horizons": tuple(entry["horizons"])})
        for name, entry in raw.items()
    }


def cache_dir() -> Path:
    """The root of everything `hybrid` caches: `$HYBRID_CACHE_DIR`, else `~/.cache/hybrid`."""
    return Path(os.environ.get("HYBRID_CACHE_DIR") or Path.home() / ".cache" / "hybrid")


def data_dirs() -> list[Path]:
    """Where a dataset named in the manifest is looked for, in order."""
    dirs = [REPO_ROOT / "datasets", REPO_ROOT.parent / "shared" / "datasets"]
    if os.environ.get("HYBRID_DATA_DIR"):
        dirs.append(Path(os.environ["HYBRID_DATA_DIR"]))
    dirs.append(cache_dir() / "datasets")
    return dirs


def file_hash(path: Path, algorithm: str = "md5") -> str:
    """Hex digest of a file's bytes, read in blocks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


def download(spec: DatasetSpec, dest_dir: Path) -> Path:
    """Download a manifest dataset into `dest_dir`, keeping it only if its md5 matches."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / spec.file
    fd, tmp = tempfile.mkstemp(dir=dest_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=60) as resp:
            shutil.copyfileobj(resp, out)
        got = file_hash(Path(tmp))
        if got != spec.md5:
            raise InputError(
                f"downloaded {spec.name} from {spec.url} has md5 {got}, expected {spec.md5}; "
                "nothing was kept"
            )
        os.replace(tmp, target)
    except OSError as exc:
        raise InputError(
            f"{spec.name} is not on disk and could not be downloaded from {spec.url} ({exc}); "
            f"put {spec.file} in one of: {', '.join(map(str, data_dirs()))}"
        ) from exc
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


def resolve(data: str | os.PathLike) -> tuple[Path, DatasetSpec | None]:
    """A path or a dataset name -> the file to read and its manifest entry (None if unknown).

    An existing path wins; a name (or file name) from the manifest, in any case, is looked up in
    `data_dirs()` and downloaded if absent.
    """
    manifest = load_manifest()
    by_key = {}
    for spec in manifest.values():
        by_key[spec.name.lower()] = spec
        by_key[spec.file.lower()] = spec
    path = Path(data)
    if path.is_file():
        return path, by_key.get(path.name.lower())
    spec = by_key.get(str(data).lower())
    if spec is None:
        raise InputError(
            f"no such file or known dataset: '{data}' (known datasets: {', '.join(manifest)})"
        )
    for folder in data_dirs():
        if (folder / spec.file).is_file():
            return folder / spec.file, spec
    return download(spec, cache_dir() / "datasets"), spec


# --------------------------------------------------------------------------------------------
# Reading a frame: wide (a date column + numeric columns) or long (unique_id, ds, y)


@dataclass(frozen=True)
class Frame:
    """Validated data: sorted unique timestamps and one float column per series."""

    timestamps: pd.DatetimeIndex
    values: pd.DataFrame


def _describe_rows(index: pd.Index, rows: np.ndarray, limit: int = 3) -> str:
    shown = ", ".join(f"row {int(r) + 1} ({index[r]})" for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return shown + more


def _parse_dates(col: pd.Series, name: str) -> pd.DatetimeIndex:
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
    if set(LONG_COLUMNS) <= set(df.columns):
        df = _wide_from_long(df[list(LONG_COLUMNS)])
    date_col = _date_column(df)
    timestamps = _parse_dates(df[date_col], str(date_col))
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


# --------------------------------------------------------------------------------------------
# Frequency, seasons and defaults for data that is not in the manifest

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


# --------------------------------------------------------------------------------------------
# Splits


@dataclass(frozen=True)
class Split:
    """Row borders [start, end) of each part; val and test start seq_len rows early."""

    rule: str
    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def borders(self, part: Part) -> tuple[int, int]:
        return getattr(self, part)


_ETT_BORDERS = {"ett_hourly": (8640, 11520, 14400), "ett_15min": (34560, 46080, 57600)}


def _ratio_sizes(n_rows: int) -> tuple[int, int, int]:
    n_train, n_test = int(n_rows * 0.7), int(n_rows * 0.2)
    return n_train, n_rows - n_train - n_test, n_test


def _ratio_rows_needed(seq_len: int, horizon: int) -> int:
    n = seq_len + horizon
    while True:
        n_train, n_val, n_test = _ratio_sizes(n)
        if n_train >= seq_len + horizon and min(n_val, n_test) >= horizon:
            return n
        n += 1


def make_split(rule: str, n_rows: int, seq_len: int, horizon: int) -> Split:
    """The borders for `rule`; `InputError` if the data is too short for one window per part."""
    if seq_len < 1 or horizon < 1:
        raise InputError(f"--seq-len and --horizon must be positive (got {seq_len}, {horizon})")
    if rule in _ETT_BORDERS:
        train_end, val_end, test_end = _ETT_BORDERS[rule]
        if n_rows < test_end:
            raise InputError(f"the {rule} split needs {test_end} rows; the data has {n_rows}")
        n_train, n_val = train_end, val_end - train_end
        if seq_len + horizon > n_train or horizon > n_val:
            raise InputError(
                f"--seq-len {seq_len} + --horizon {horizon} do not fit the {rule} split "
                f"({n_train} training rows, {n_val} validation and test rows each, horizon at most "
                f"{n_val}); use a shorter --seq-len or --horizon"
            )
    elif rule == "ratio":
        n_train, n_val, n_test = _ratio_sizes(n_rows)
        if n_train < seq_len + horizon or min(n_val, n_test) < horizon:
            needed = _ratio_rows_needed(seq_len, horizon)
            raise InputError(
                f"too few rows: --seq-len {seq_len} + --horizon {horizon} with a 70/10/20 split "
                f"need at least {needed} rows, the data has {n_rows}; use a shorter --seq-len "
                "or --horizon"
            )
        train_end, val_end, test_end = n_train, n_train + n_val, n_rows
    else:
        raise InputError(f"unknown split rule '{rule}'; use ett_hourly, ett_15min or ratio")
    return Split(
        rule=rule,
        train=(0, train_end),
        val=(train_end - seq_len, val_end),
        test=(val_end - seq_len, test_end),
    )


def default_lengths(n_rows: int, freq: Frequency, horizon: int | None = None) -> tuple[int, int]:
    """Look-back and horizon for data not in the manifest: the frequency's usual ones, shrunk
    until one window fits each part of a 70/10/20 split (`make_split` rejects what still won't)."""
    n_train, n_val, n_test = _ratio_sizes(n_rows)
    if horizon is None:
        horizon = max(1, min(freq.default_horizon, n_val, n_test))
    return max(1, min(freq.default_seq_len, n_train - horizon)), horizon


# --------------------------------------------------------------------------------------------
# Scaling and the bundle


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


def take_rows(view: np.ndarray, index: np.ndarray) -> np.ndarray:
    """`view[index]` along the first axis, as a view (no copy) when the index is a contiguous run
    (a part's origins: of a memory map, only the rows read are paged in)."""
    index = np.asarray(index)
    if index.ndim == 1 and len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return view[index[0] : index[0] + len(index)]
    return view[index]


def per_series(a: np.ndarray) -> np.ndarray:
    """[N, ..., C] -> [C*N, ...], channel-major: each (channel, origin) becomes a row of its own,
    the order in which every per-series model (the core, LightGBM, the router) stacks windows."""
    return np.moveaxis(a, -1, 0).reshape(-1, *a.shape[1:-1])


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
        start, end = self.split.borders(part)
        return np.arange(start + self.seq_len, end - self.horizon + 1)

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
    fill: str | None = None,
    name: str | None = None,
    log: Callable[[str], None] = lambda msg: None,
) -> SeriesBundle:
    """Find, read, validate, split and scale a dataset. Raises `InputError` on bad input.

    `data` is a manifest name (ETTh1, ...), a CSV path, or a DataFrame (wide or long).
    Missing `seq_len`/`horizon` take the manifest's defaults (the first listed horizon), or for
    unknown data follow from its length and frequency; what was chosen is passed to `log`.
    """
    spec = None
    if isinstance(data, pd.DataFrame):
        frame, label = read_frame(data, fill=fill), name or "data"
    else:
        path, spec = resolve(data)
        frame, label = read_frame(path, fill=fill), name or (spec.name if spec else path.stem)
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
    notes = []
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
