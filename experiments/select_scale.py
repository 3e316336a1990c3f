"""`select` on many short series: a long frame (unique_id, ds, y) of N hourly series of about 300
points, sharing their dates or not (different starts and lengths), timed end to end.

    python -m experiments.select_scale [--series 1000 ...] [--models snaive,linear,dlinear] [--fresh]

The series are noisy daily sines, a third of them with a trend, so the recommendations differ.
A cell is a number of series with shared or different dates.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from experiments.grid import Cell, Grid, run_arguments, run_options, shown
from hybrid.product.evaluation import to_markdown
from hybrid.product.select import select

DATASET = "hourly sines"
# what select chooses for 300 hourly points (hybrid.foundation.data.default_lengths), given so
# that the cell's horizon is the one it ran at
HORIZON = 30
DATES = {"shared": False, "different": True}  # whether the series' starts and lengths differ


def long_frame(n_series: int, ragged: bool, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_series):
        n = 300 + (k % 50 if ragged else 0)
        t = np.arange(n)
        y = np.sin(2 * np.pi * (t + k) / 24) + 0.01 * (k % 3) * t + 0.2 * rng.standard_normal(n)
        start = pd.Timestamp("2021-01-01") + pd.Timedelta(hours=k % 7 if ragged else 0)
        parts.append(pd.DataFrame({"unique_id": f"id{k}", "ds": pd.date_range(start, periods=n, freq="h"), "y": y}))
    return pd.concat(parts, ignore_index=True)


def run_cell(cell: Cell, models: str, plans: dict[str, tuple[int, str]]) -> dict:
    n_series, dates = plans[cell.config]
    frame = long_frame(n_series, DATES[dates])
    start = time.perf_counter()
    selection = select(frame, models=models, horizon=cell.horizon, cache=False, progress=False)
    seconds = time.perf_counter() - start
    counts = selection.table().recommended.value_counts().to_dict()
    row = {"series": n_series, "dates": dates, "seconds": round(seconds, 1),
           "recommended": ", ".join(f"{k} {v}" for k, v in counts.items()), "router": selection.mode.splitlines()[0]}
    print(row, flush=True)
    return row


def report(frame: pd.DataFrame, models: str) -> str:
    return f"- models: {models}\n\n" + to_markdown(shown(frame, "dataset", "horizon"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="+", type=int, default=[1000], help="series counts (default %(default)s)")
    parser.add_argument("--models", default="snaive,linear,dlinear", help="members (default %(default)s)")
    run_arguments(parser)
    args = parser.parse_args()
    plans = {f"{n} series, {dates} dates": (n, dates) for n in args.series for dates in DATES}
    grid = Grid("select_scale", "select on many short series", lambda cell: run_cell(cell, args.models, plans),
                lambda frame: report(frame, args.models), exclusive=True)
    frame = grid.run([Cell(DATASET, HORIZON, c) for c in plans], **run_options(args))
    print(report(frame, args.models))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
