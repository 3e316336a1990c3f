"""Splits and windows: the borders of train, val and test, and the look-back / target windows
cut from them (strided views, so that every origin is read at once without a copy).

A window origin `t` is the first forecast row: the look-back is rows [t-L, t), the target rows
[t, t+H). A model forecasting from origin t may read rows < t only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from hybrid.foundation.data.calendar import Frequency
from hybrid.foundation.errors import InputError

Part = Literal["train", "val", "test"]


@dataclass(frozen=True)
class Split:
    """Row borders [start, end) of each part; val and test start seq_len rows early."""

    rule: str
    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def borders(self, part: Part) -> tuple[int, int]:
        return getattr(self, part)

    def origins(self, part: Part, seq_len: int, horizon: int) -> np.ndarray:
        """Every window origin of a part, stride 1 (origin = first forecast row)."""
        start, end = self.borders(part)
        return np.arange(start + seq_len, end - horizon + 1)


_ETT_BORDERS = {"ett_hourly": (8640, 11520, 14400), "ett_15min": (34560, 46080, 57600)}


def _ratio_sizes(n_rows: int, horizon: int = 1) -> tuple[int, int, int]:
    """Rows of train, val and test: 70/10/20, val and test at least one horizon each (on short
    series, as M4 does: the last horizon is the test, the one before the validation)."""
    n_test = max(int(n_rows * 0.2), horizon)
    n_val = max(n_rows - int(n_rows * 0.7) - int(n_rows * 0.2), horizon)
    return n_rows - n_val - n_test, n_val, n_test


def _ratio_rows_needed(seq_len: int, horizon: int) -> int:
    n = seq_len + horizon
    while True:
        n_train, n_val, n_test = _ratio_sizes(n, horizon)
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
        n_train, n_val, n_test = _ratio_sizes(n_rows, horizon)
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


def validation_rows(rule: str, n_rows: int, horizon: int) -> int:
    """How many rows the validation part of `rule` holds for data of `n_rows` rows: the ETT
    rules' four months, or the ratio rule's 10% (at least one horizon)."""
    if rule in _ETT_BORDERS:
        train_end, val_end, _ = _ETT_BORDERS[rule]
        return val_end - train_end
    return _ratio_sizes(n_rows, horizon)[1]


def cutoff_split(cutoff: int, val_rows: int, seq_len: int, horizon: int, end: int) -> Split:
    """The split of a fit at row `cutoff`: validation the `val_rows` rows before it, training
    every row before those, and the forecast part from the cutoff to row `end` (its origins
    `cutoff` .. `end - horizon`). What the members and the router learn from lies before the cutoff."""
    train_end = cutoff - val_rows
    if val_rows < horizon or train_end < seq_len + horizon:
        raise InputError(
            f"too few rows before the cutoff at row {cutoff}: seq_len {seq_len} + horizon {horizon} need "
            f"{seq_len + horizon} training rows and {horizon} validation rows, there are {max(train_end, 0)} and "
            f"{val_rows}; use a shorter seq_len or horizon, or a later cutoff")
    return Split(rule="cutoff", train=(0, train_end), val=(train_end - seq_len, cutoff), test=(cutoff - seq_len, end))


def backtest_blocks(split: Split, seq_len: int, horizon: int, blocks: int) -> list[tuple[int, int]]:
    """Up to `blocks` stretches of origins before the validation part, latest last, each as long
    as the validation part: `(cutoff, next)`, the origins `cutoff .. next - 1` forecast by a fit
    on the rows before `cutoff` (`backtest_split`). The router learns from them and the validation
    windows, a stretch of the history `blocks + 1` times as long as the validation part alone
    (ETTh1: from row 2,880 to 11,520, two thirds of the training year and the validation months).
    Stretches start only where such a fit has the training and validation rows it needs."""
    start, length = split.val[0] + seq_len, split.val[1] - split.val[0] - seq_len
    out = []
    for k in range(1, blocks + 1):
        cutoff = start - k * length
        if length < 1 or cutoff - backtest_validation_rows(cutoff, split, horizon) < seq_len + horizon:
            break
        out.append((cutoff, cutoff + length))
    return out[::-1]


def backtest_validation_rows(cutoff: int, split: Split, horizon: int) -> int:
    """The validation rows of a backtest fit at `cutoff`: the data's own validation share of the
    rows before it (at least one horizon), so that an early fit holds out what the last one does."""
    train_end, val_end = split.train[1], split.val[1]
    return max(horizon, round(cutoff * (val_end - train_end) / val_end))


def backtest_split(cutoff: int, next_origin: int, split: Split, seq_len: int, horizon: int) -> Split:
    """The split of the backtest fit at `cutoff` whose forecast part holds the origins
    `cutoff .. next_origin - 1`."""
    return cutoff_split(cutoff, backtest_validation_rows(cutoff, split, horizon), seq_len, horizon,
                        next_origin + horizon - 1)


def default_lengths(n_rows: int, freq: Frequency, horizon: int | None = None) -> tuple[int, int]:
    """Look-back and horizon for data not in the manifest: the frequency's usual ones, shrunk
    until a 70/10/20 split holds enough windows (`too_few_windows`: as many training windows as
    look-back steps, as many validation and test windows as horizon steps), the look-back in whole
    seasons where it spans two or more (`make_split` rejects what still won't fit)."""
    n_train, n_val, n_test = _ratio_sizes(n_rows, horizon or 1)
    if horizon is None:
        horizon = max(1, min(freq.default_horizon, (n_val + 1) // 2, (n_test + 1) // 2))
    seq_len = max(1, min(freq.default_seq_len, (n_train - horizon + 1) // 2))
    if freq.season > 1 and seq_len >= 2 * freq.season:
        seq_len -= seq_len % freq.season
    return seq_len, horizon


def too_few_windows(split: Split, seq_len: int, horizon: int) -> list[str]:
    """What a split holds too few windows for, each said in a line: fewer training windows than
    look-back steps (a linear map from the look-back is then not determined: linear, dlinear,
    LightGBM and the core barely learn), fewer validation or test windows than horizon steps (the
    router chooses, and the score is read, from little)."""
    windows = {part: len(split.origins(part, seq_len, horizon)) for part in ("train", "val", "test")}
    said = []
    if windows["train"] < seq_len:
        shorter = max(1, (split.train[1] - horizon + 1) // 2)
        said.append(f"seq_len={seq_len} leaves {windows['train']} training windows, fewer than its {seq_len} steps: "
                    "the members that learn a map from the look-back are barely determined; "
                    f"--seq-len {shorter} would leave {len(split.origins('train', shorter, horizon))}")
    for part, name in (("val", "validation"), ("test", "test")):
        if windows[part] < horizon:
            said.append(f"horizon={horizon} leaves {windows[part]} {name} windows, fewer than its {horizon} steps: "
                        f"{'the router chooses' if part == 'val' else 'the score is read'} from little; a shorter "
                        "--horizon, or more rows, leave more")
    return said


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


def from_series(rows: np.ndarray, n_channels: int) -> np.ndarray:
    """[C*n, H] channel-major rows -> [n, H, C], the inverse of `per_series`."""
    return rows.reshape(n_channels, -1, rows.shape[-1]).transpose(1, 2, 0)
