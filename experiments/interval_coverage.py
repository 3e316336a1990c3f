"""How well the fused forecast's prediction intervals hold: their empirical coverage and mean
width on every test window (stride 1) of each dataset, calibrated on its validation windows.

    python -m experiments.interval_coverage [--data ETTh1 ETTh2] [--horizons 96] [--models ...] [--fresh]

`Hybrid(refit=False)`: the members learn from the training part, the router and the conformal
calibration from the validation windows (`hybrid.product.intervals`), the test part is read to
score only. Width: the mean of (hi - lo) on the z-scored scale (comparable across channels), and
relative to the mean absolute error of the fused forecast.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from experiments.grid import Cell, Grid, grid_arguments, run_options, shown
from hybrid.product.evaluation import to_markdown
from hybrid.product.front import Hybrid
from hybrid.product.fused import CLASSICAL_MEMBERS
from hybrid.product.intervals import PER_SERIES

LEVELS = (50, 80, 95)


def run_cell(cell: Cell, models: str) -> list[dict]:
    model = Hybrid(models=models, horizon=cell.horizon, refit=False).fit(cell.dataset)
    frame = model.backtest("test", level=LEVELS)
    data = model.bases_[0]
    std = pd.Series(data.scaler.std, index=data.columns).loc[frame.unique_id].to_numpy()
    fused_mae = float(np.mean(np.abs(frame.y - frame.hybrid) / std))
    rows = []
    for level in LEVELS:
        lo, hi = frame[f"hybrid-lo-{level}"], frame[f"hybrid-hi-{level}"]
        inside = (frame.y >= lo) & (frame.y <= hi)
        by_step = inside.groupby(np.tile(np.arange(cell.horizon), len(frame) // cell.horizon)).mean()
        width = float(np.mean((hi - lo) / std))
        rows.append({"level": level, "coverage": float(inside.mean()), "coverage_step_1": float(by_step.iloc[0]),
                     "coverage_last_step": float(by_step.iloc[-1]),
                     "worst_series": float(inside.groupby(frame.unique_id.to_numpy()).mean().min()),
                     "mean_width_z": width, "width_over_mae": width / fused_mae,
                     "test_windows": int(frame.cutoff.nunique()), "router": model.fit_.router.describe().splitlines()[0]})
        print(f"{cell}: {level}% interval covers {inside.mean():.3f} of the test values, mean width {width:.3f}",
              flush=True)
    return rows


def report(frame: pd.DataFrame) -> str:
    table = shown(frame, "router")
    return (to_markdown(table, ".3f") + "\n\ncoverage: share of test values inside the interval (every window, "
            "step and channel); step 1 / last step: the same at the first and the last horizon step; worst series: "
            "the lowest coverage of one channel; width: mean hi - lo on the z-scored scale, and over the fused "
            f"forecast's test MAE. Calibrated per channel (each has more than {PER_SERIES} validation windows).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grid_arguments(parser, data=("ETTh1", "ETTh2"), horizons=(96,), models=CLASSICAL_MEMBERS)
    args = parser.parse_args()
    grid = Grid("interval_coverage", "Conformal intervals of the fused forecast: coverage and width on test",
                lambda cell: run_cell(cell, args.models), report, lambda: {"models": args.models, "levels": LEVELS})
    frame = grid.run([Cell(d, h) for d in args.data for h in args.horizons], **run_options(args))
    print(report(frame))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
