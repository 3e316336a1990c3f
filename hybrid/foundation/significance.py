"""Is one forecast better than another, or lucky? The Diebold-Mariano test on the windows of a
backtest."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats


def window_losses(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """Each window's squared error [n] from forecasts [n, H, C] in time order (the origins' order)."""
    return ((np.asarray(y) - np.asarray(yhat)) ** 2).reshape(len(y), -1).mean(1)


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, horizon: int) -> tuple[float, float]:
    """The test of equal expected loss of two forecasts from their losses at the same origins [n],
    in time order: (statistic, two-sided p-value); a negative statistic says `a` loses less.

    Windows of stride 1 that are `horizon` steps long overlap, so the loss differential is
    autocorrelated up to lag horizon - 1: its long-run variance is Newey-West's (Bartlett weights
    1 - k / horizon, which keep it positive) over those lags. The statistic takes Harvey,
    Leybourne and Newbold's (1997) small-sample factor and is read against Student's t with n - 1
    degrees of freedom. Equal losses give (0, 1)."""
    d = np.asarray(loss_a, dtype=float) - np.asarray(loss_b, dtype=float)
    n = len(d)
    if n < 2:
        raise ValueError(f"the Diebold-Mariano test needs at least two windows, got {n}")
    lags = min(horizon - 1, n - 1)
    centred = d - d.mean()
    autocov = [centred[k:] @ centred[:n - k] / n for k in range(lags + 1)]
    long_run = autocov[0] + 2 * sum((1 - k / (lags + 1)) * autocov[k] for k in range(1, lags + 1))
    if long_run <= 0:
        return 0.0, 1.0
    h = horizon
    statistic = d.mean() / np.sqrt(long_run / n) * np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return float(statistic), float(2 * stats.t.sf(abs(statistic), df=n - 1))


# A difference whose p-value is at or above this is marked as not significant in the tables.
ALPHA = 0.05


def seeded_table(runs: pd.DataFrame, reference: str, by: Sequence[str] = ("dataset", "horizon"),
                 label: str = "config", metric: str = "mse", losses: str = "window_loss") -> pd.DataFrame:
    """Runs of several seeds summarised: one row per `by` group and `label`, with the metric's
    mean and standard deviation over seeds (`n_seeds` of them) and the Diebold-Mariano p-value of
    that label against the group's `reference` label.

    Pooled over seeds: the loss of a label at a window is its mean over the label's seeds, so the
    test asks whether the expected loss over seeds differs (a label of one seed, a deterministic
    member, is its own mean). That needs each run's per-window losses in the `losses` column, in
    the origins' order and alike in length within a group; a group without them, or without the
    reference, gets no p-value (NaN). The reference's own row has p = 1."""
    by = list(by)
    rows = []
    for key, group in runs.groupby(by, sort=True):
        pooled = {name: _mean_losses(g[losses]) if losses in g else None for name, g in group.groupby(label)}
        base = pooled.get(reference)
        horizon = int(group["horizon"].iloc[0]) if "horizon" in group else 1
        for name, g in group.groupby(label, sort=False):
            p = np.nan
            if name == reference:
                p = 1.0
            elif base is not None and pooled[name] is not None and len(base) == len(pooled[name]):
                p = diebold_mariano(pooled[name], base, horizon)[1]
            values = g[metric].astype(float)
            rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), label: name,
                         "mean": values.mean(), "std": values.std(ddof=1) if len(values) > 1 else 0.0,
                         "n_seeds": len(values), "dm_p": p})
    return pd.DataFrame(rows)


def _mean_losses(column: pd.Series) -> np.ndarray | None:
    arrays = [np.asarray(v, dtype=float) for v in column if v is not None and len(v)]
    if not arrays or len({len(a) for a in arrays}) > 1:
        return None
    return np.mean(arrays, axis=0)


def seeded_markdown(table: pd.DataFrame, reference: str, label: str = "config",
                    columns: Sequence[str] = ("dataset", "horizon"), digits: int = 4) -> str:
    """`seeded_table`'s rows as a Markdown table: a row per label, a column per `columns` group,
    each cell "mean ± std" (std over seeds; no ± for one seed), the best mean of a column in bold,
    and "·" after a cell whose difference from the reference row is not significant at ALPHA
    (Diebold-Mariano, pooled over seeds; no mark where there is no p-value)."""
    columns = list(columns)
    groups = sorted({tuple(r) for r in table[columns].itertuples(index=False)})
    names = list(dict.fromkeys(table[label]))
    keys = table[columns].apply(tuple, axis=1)  # each row's column group, once for every cell below
    best = {g: table.loc[keys == g, "mean"].min() for g in groups}
    head = "| " + label + " | " + " | ".join(" ".join(f"{c}={v}" if c == "horizon" else str(v)
                                                     for c, v in zip(columns, g)) for g in groups) + " |"
    lines = [head, "|" + " --- |" * (len(groups) + 1)]
    for name in names:
        cells = []
        for g in groups:
            match = table[(table[label] == name) & (keys == g)]
            if match.empty:
                cells.append("")
                continue
            r = match.iloc[0]
            text = f"{r['mean']:.{digits}f}" + (f" ± {r['std']:.{digits}f}" if r["n_seeds"] > 1 else "")
            if r["mean"] == best[g]:
                text = f"**{text}**"
            if name != reference and np.isfinite(r["dm_p"]) and r["dm_p"] >= ALPHA:
                text += " ·"
            cells.append(text)
        lines.append(f"| {name}{' (reference)' if name == reference else ''} | " + " | ".join(cells) + " |")
    lines.append(f"\nmean ± standard deviation over seeds; **bold**: the lowest in its column; "
                 f"·: not significantly different from {reference} (Diebold-Mariano p ≥ {ALPHA}, "
                 "losses pooled over seeds)")
    return "\n".join(lines)
