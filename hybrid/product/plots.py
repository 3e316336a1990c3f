"""Figures a person would rather look at than read."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: no screen on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hybrid.foundation.data import SeriesBundle  # noqa: E402
from hybrid.foundation.forecaster import Forecaster  # noqa: E402
from hybrid.foundation.periods import Period, calendar_periods, periodogram  # noqa: E402

MAX_PANELS = 12  # panels on one figure (periodograms, series, groups); more would be unreadable


def forecast_png(data: SeriesBundle, models: Sequence[Forecaster], origin: int, channel: int) -> bytes:
    """One window of one channel on the original scale: recent history, the truth, each fitted
    model's forecast. Returns PNG bytes."""
    H = data.horizon
    shown = min(data.seq_len, 3 * H)
    past = slice(origin - shown, origin)
    future = slice(origin, origin + H)
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    ax.plot(data.timestamps[past], data.raw[past, channel], color="0.4", lw=1, label="history")
    ax.plot(data.timestamps[future], data.raw[future, channel], color="black", lw=1.5, label="actual")
    for model in models:
        scaled = model.predict(data, [origin])[0]
        ax.plot(data.timestamps[future], data.scaler.inverse(scaled)[:, channel], lw=1.2, label=model.label)
    ax.axvline(data.timestamps[origin], color="0.7", ls="--", lw=0.8)
    ax.set_title(f"{data.name} · {data.columns[channel]} · forecast from {data.timestamps[origin]} "
                 f"(H = {H})")
    ax.legend(loc="upper left", fontsize=8, ncols=min(len(models) + 2, 6))
    fig.autofmt_xdate()
    fig.tight_layout()
    return _png(fig)


def future_png(bases: Sequence[SeriesBundle], forecast: pd.DataFrame, members: Sequence[str],
               levels: Sequence[float]) -> bytes:
    """Each series' recent history, the fused forecast of the future with its intervals (the
    widest lightest), and the members faint; the first `MAX_PANELS` series. Returns PNG bytes."""
    history = {name: (data, j) for data in bases for j, name in enumerate(data.columns)}
    ids = list(dict.fromkeys(forecast.unique_id))
    shown = ids[:MAX_PANELS]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.4 * len(shown) + 0.6), dpi=100, squeeze=False)
    for ax, uid in zip(axes[:, 0], shown):
        data, j = history[uid]
        rows = forecast[forecast.unique_id == uid]
        recent = slice(max(0, len(data.raw) - 3 * len(rows)), len(data.raw))  # three horizons of history
        ax.plot(data.timestamps[recent], data.raw[recent, j], color="0.25", lw=1, label="history")
        for level in sorted(levels, reverse=True):
            ax.fill_between(rows.ds, rows[f"hybrid-lo-{level:g}"], rows[f"hybrid-hi-{level:g}"], color="tab:blue",
                            alpha=0.15 if level == max(levels) else 0.3, lw=0, label=f"{level:g}% interval")
        for member in members:
            ax.plot(rows.ds, rows[member], lw=0.8, alpha=0.45, label=member)
        ax.plot(rows.ds, rows.hybrid, color="tab:blue", lw=1.8, label="hybrid")
        ax.axvline(data.timestamps[-1], color="0.7", ls="--", lw=0.8)
        ax.set_title(str(uid), fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    axes[0, 0].legend(loc="upper left", fontsize=7, ncols=min(len(members) + 4, 6))
    more = f" (first {MAX_PANELS} of {len(ids)} series)" if len(ids) > MAX_PANELS else ""
    fig.suptitle(f"forecast of the next {forecast.groupby('unique_id').size().iloc[0]} steps{more}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.2 / fig.get_figheight()))  # room for the title above the legend
    return _png(fig)


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def periods_png(data: SeriesBundle, found: dict[str, list[Period]]) -> bytes:
    """Each channel's periodogram on its training part (share of the power against the period,
    log scale), the confirmed periods marked and named, the calendar candidates dotted; the first
    `MAX_PANELS` channels. Returns PNG bytes."""
    names = list(found)[:MAX_PANELS]
    train = data.train_values
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 1.9 * len(names) + 0.6), dpi=100, sharex=True,
                             squeeze=False)
    for j, (ax, name) in enumerate(zip(axes[:, 0], names)):  # `found` is in the order of the columns
        period, share = periodogram(train[:, j])
        ax.semilogx(period, share, color="0.3", lw=0.8)
        for p in calendar_periods(data.freq):
            ax.axvline(p, color="0.6", ls=":", lw=0.8)
        for p in found[name]:
            ax.axvline(p.length, color="tab:red", lw=1.2)
            ax.annotate(f"{p.length} ({p.strength:.0%}, conf {p.confidence:.2f})", (p.length, 0.95),
                        xycoords=("data", "axes fraction"), ha="left", va="top", fontsize=8, color="tab:red")
        ax.set_ylabel(name, fontsize=8)
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("period (steps); red: confirmed, dotted: calendar candidates")
    start, end = data.split.train
    more = f" (first {MAX_PANELS} of {len(found)})" if len(found) > MAX_PANELS else ""
    fig.suptitle(f"{data.name}: share of spectral power by period, training rows {start}-{end - 1}{more}", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def weights_png(timestamps: pd.DatetimeIndex, weights: np.ndarray, members: Sequence[str], title: str) -> bytes:
    """The router's weights [n, M] (each row summing to 1) over the origins at `timestamps`, a
    stacked area per member. Returns PNG bytes."""
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=100)
    ax.stackplot(timestamps, weights.T, labels=members, alpha=0.85, lw=0)
    ax.set_ylim(0, 1)
    ax.set_xlim(timestamps[0], timestamps[-1])
    ax.set_ylabel("weight")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _png(fig)


def period_weights_png(groups: dict[str, list[str]], weights: dict[str, float], title: str) -> bytes:
    """A bar per followed period (`groups`: period -> its members), stacked by its members'
    mean `weights`, the heaviest period on top. Returns PNG bytes."""
    order = sorted(groups, key=lambda key: sum(weights[m] for m in groups[key]))
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(order) + 1.2), dpi=100)
    for y, key in enumerate(order):
        left = 0.0
        for member in groups[key]:
            ax.barh(y, weights[member], left=left, color=f"C{list(weights).index(member) % 10}", edgecolor="white")
            if weights[member] > 0.04:  # a name on a sliver would cover its neighbours
                ax.text(left + weights[member] / 2, y, member, ha="center", va="center", fontsize=8)
            left += weights[member]
    ax.set_yticks(range(len(order)), [f"period {key}" if key != "none" else "no period" for key in order])
    ax.set_xlim(0, 1)
    ax.set_xlabel("mean weight")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _png(fig)


def ablation_png(table: pd.DataFrame, label: str, reference: str, metric: str,
                 by: Sequence[str] = ("dataset", "horizon")) -> bytes:
    """`seeded_table`'s rows as bars of each label's change against the group's `reference`
    (percent of the reference's mean; bars from zero would hide the differences an ablation is
    about, a few percent of the value), the standard deviation over seeds as error bars on the
    same scale (the reference's as a grey band around zero), a panel per `by` group (the first
    `MAX_PANELS`); a bar whose Diebold-Mariano p is at least 0.05 is hatched and pale. A group
    where only the reference ran has nothing to show and gets no panel. Returns PNG bytes."""
    groups = [(key, group) for key, group in table.groupby(list(by), sort=True) if (group[label] != reference).any()]
    shown = groups[:MAX_PANELS]
    names = list(dict.fromkeys(table[label]))
    cols = min(len(shown), 3)
    rows = -(-len(shown) // cols)
    width = min(4.2 * cols, 13)
    more = f" (first {MAX_PANELS} of {len(groups)} groups)" if len(groups) > MAX_PANELS else ""
    # wrapped to the figure's width (about 12 characters an inch at this size): one panel is narrow
    title = textwrap.fill(f"{metric}, mean over seeds, against {reference} (orange line; grey: its ± std); "
                          f"hatched: not significant (DM p ≥ 0.05){more}", int(12 * width))
    lines = title.count("\n") + 1
    fig, axes = plt.subplots(rows, cols, figsize=(width, (0.3 * len(names) + 1.6) * rows + 0.2 * lines + 0.2),
                             dpi=100, squeeze=False, layout="constrained")
    for ax, (key, group) in zip(axes.flat, shown):
        group = group.set_index(label).reindex([n for n in names if n in set(group[label])])
        base = group["mean"].get(reference, np.nan)
        change = 100 * (group["mean"] / base - 1)
        spread = 100 * group["std"] / base
        if reference in group.index:
            ax.axvspan(-spread[reference], spread[reference], color="0.85", zorder=0)
        ax.axvline(0, color="tab:orange", lw=1.2)
        plain = group["dm_p"] < 0.05  # no p (NaN) claims nothing either
        for y, name in enumerate(group.index):
            if name == reference:
                continue
            ax.barh(y, change[name], xerr=spread[name], capsize=3, error_kw={"lw": 0.8},
                    color="tab:blue" if plain[name] else "#a9c4e0", hatch="" if plain[name] else "//",
                    edgecolor="tab:blue")
        ax.set_yticks(range(len(group)), group.index, fontsize=8)
        ax.set_ylim(len(group) - 0.5, -0.5)  # every row in view, the reference's too, which has no bar to span it
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel(f"{metric} against the reference (%)", fontsize=8)
        ax.set_title(" · ".join(f"{c}={v}" if c == "horizon" else str(v)
                                for c, v in zip(by, key if isinstance(key, tuple) else (key,))), fontsize=9)
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def cost_png(runs: pd.DataFrame, label: str, metric: str, costs: Sequence[tuple[str, str]]) -> bytes:
    """A scatter per cost column (`costs`: column, axis title) against `metric`, a point per run,
    a colour per label. Returns PNG bytes."""
    names = list(dict.fromkeys(runs[label]))
    fig, axes = plt.subplots(1, len(costs), figsize=(5.2 * len(costs) + 2.2, 4), dpi=100, squeeze=False)
    for ax, (column, title) in zip(axes[0], costs):
        for i, name in enumerate(names):
            mine = runs[runs[label] == name]
            ax.scatter(mine[column], mine[metric], s=22, color=f"C{i % 10}", marker="os^Dv<>"[i // 10 % 7],
                       alpha=0.8, label=name)
        ax.set_xlabel(title)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False)
    fig.tight_layout()
    return _png(fig)
