"""Many short series: `Hybrid(...).fit(df).predict(h)` on a long file of M4-like monthly series,
seconds and peak memory of fit + predict.

    python -m experiments.many_series [--series 1000 10000] [--models snaive,naive,linear,ets-grid] [--repeats 3]
                                      [--fresh]
    python -m experiments.many_series --write-only FILE.csv --series 10000   # the file alone

The series (seeded): lengths 48-300 months, every one ending in the same month (a retailer's
items observed to date; ids that start on other dates form groups of shared dates, one router over
all), a trend, a season of 12, noise, a level shift in 30% of them, and 20% intermittent (most
months zero). Horizon 12, look-back 12 (what the shortest series leaves: 24 training rows after a
validation and a test year). The forecast cache is off: every run computes everything.
statsforecast's AutoETS on the same file: `experiments/statsforecast_many.py` (run in a venv of
its own: statsforecast is not a dependency).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.grid import Cell, Grid, run_arguments, run_options, shown
from experiments.record import TreeMemory
from hybrid.product.evaluation import to_markdown
from hybrid.product.front import Hybrid

HORIZON, SEQ_LEN, END = 12, 12, pd.Timestamp("2025-12-01")
SCORED = 1000  # files of at most this many series also get their test MSE


def m4_like(n_series: int, seed: int = 0) -> pd.DataFrame:
    """A long frame (`unique_id`, `ds`, `y`) of monthly series, as the module docstring says."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        n = int(rng.integers(48, 301))
        t = np.arange(n)
        level = rng.uniform(50, 5000)
        y = (level + rng.normal(0, level / 300) * t
             + rng.uniform(0, 0.3) * level * np.sin(2 * np.pi * (t + rng.integers(12)) / 12)
             + rng.normal(0, rng.uniform(0.02, 0.1) * level, n))
        if rng.random() < 0.3:
            y[int(rng.integers(n // 4, n)):] += rng.choice([-1, 1]) * rng.uniform(0.1, 0.5) * level
        if rng.random() < 0.2:  # intermittent demand: most months nothing
            y = np.where(rng.random(n) < 0.7, 0.0, rng.poisson(rng.uniform(1, 20), n).astype(float))
        frames.append(pd.DataFrame({"unique_id": f"M{i}", "ds": pd.date_range(end=END, periods=n, freq="MS"),
                                    "y": np.maximum(y, 0.0)}))
    return pd.concat(frames, ignore_index=True)


def run_cell(cell: Cell, models: str, repeats: int) -> dict:
    df = m4_like(cell.horizon)
    runs = []
    with TreeMemory() as memory:
        for _ in range(repeats):
            start = time.perf_counter()
            model = Hybrid(models=models, horizon=HORIZON, seq_len=SEQ_LEN, cache=False, progress=True).fit(df)
            fitted = time.perf_counter() - start
            forecast = model.predict(level=(80, 95))
            runs.append((round(fitted, 1), round(time.perf_counter() - start, 1)))
    fitted, seconds = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    # the accuracy needs a second fit on each series' own split (not timed): on the smaller files only
    test = model.comparison().set_index("model").test_mse if cell.horizon <= SCORED else {}
    row = {"series": cell.horizon, "rows": len(df), "groups": len(model.bases_), "members": models,
           "fit_seconds": fitted, "fit_predict_seconds": seconds, "runs": len(runs),
           "fit_predict_each": " ".join(str(r[1]) for r in runs),
           "peak_mib": round(memory.peak_mib), "forecast_rows": len(forecast),
           "router": model.fit_.router.describe().splitlines()[0],
           **{f"test_mse_{m}": float(v) for m, v in test.items()}}
    print(f"{cell.horizon} series: fit + predict {seconds:.1f} s (median of {len(runs)}), peak {memory.peak_mib:.0f} MiB",
          flush=True)
    return row


def report(frame: pd.DataFrame) -> str:
    table = shown(frame, "dataset", "horizon", "router")
    return (to_markdown(table, ".3f") + "\n\nseconds (the median of `runs`; each run's in `fit_predict_each`) and "
            "peak memory (MiB, the process tree, over all runs) of `Hybrid.fit` + `predict` on the whole file; test MSE (z-scored per series, the mean over every series' test "
            f"windows) from `comparison()`, which fits again on each series' own split (not timed; files of at most "
            f"{SCORED} series).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="+", type=int, default=[1000, 10000], help="series counts (default %(default)s)")
    parser.add_argument("--models", default="snaive,naive,linear,ets-grid", help="members (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=1, help="fit + predict runs timed per file (default %(default)s)")
    parser.add_argument("--write-only", type=Path, metavar="FILE", help="write the file of the first count and stop")
    run_arguments(parser)
    args = parser.parse_args()
    if args.write_only:
        m4_like(args.series[0]).to_csv(args.write_only, index=False)
        return
    # the grid's horizon slot holds the series count: one cell per count
    grid = Grid("many_series", "Many short monthly series: fit + predict time and memory",
                lambda cell: run_cell(cell, args.models, args.repeats), report,
                lambda: {"models": args.models, "horizon": HORIZON, "seq_len": SEQ_LEN}, exclusive=True)
    frame = grid.run([Cell("m4-like", n, args.models) for n in args.series], **run_options(args))
    print(report(frame))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
