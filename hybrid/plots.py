"""Figures a person would rather look at than read."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: no screen on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402

from hybrid.data import SeriesBundle  # noqa: E402
from hybrid.forecaster import Forecaster  # noqa: E402


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
        ax.plot(data.timestamps[future], data.scaler.inverse(scaled)[:, channel], lw=1.2, label=model.name)
    ax.axvline(data.timestamps[origin], color="0.7", ls="--", lw=0.8)
    ax.set_title(f"{data.name} · {data.columns[channel]} · forecast from {data.timestamps[origin]} "
                 f"(H = {H})")
    ax.legend(loc="upper left", fontsize=8, ncols=min(len(models) + 2, 6))
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
