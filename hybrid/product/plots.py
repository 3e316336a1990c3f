"""Figures a person would rather look at than read."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: no screen on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from hybrid.foundation.data import SeriesBundle  # noqa: E402
from hybrid.foundation.forecaster import Forecaster  # noqa: E402
from hybrid.foundation.periods import Period, calendar_periods, periodogram  # noqa: E402

MAX_PANELS = 12  # periodograms on one figure; more would be unreadable


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
