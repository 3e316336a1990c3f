"""Every classical forecaster on the public protocol: val and test MSE/MAE per dataset and horizon.

    python -m experiments.classical_table [--data ETTh1 ETTh2] [--horizons 96 192 336 720]
                                          [--models classical] [--fresh]

Forecasts come from (and go to) the forecast cache, so a re-run only re-scores; the times in the
table are those of the run that computed them (`cached` says which rows were read).
"""

from __future__ import annotations

import argparse

import pandas as pd

from experiments.grid import FOUR_HORIZONS, Cell, Grid, by_horizon, grid_arguments, run_options
from hybrid.foundation.cache import CachedForecaster
from hybrid.foundation.registry import make_models
from hybrid.product.evaluation import compare, to_markdown


def run_cell(cell: Cell, models: str) -> list[dict]:
    data = cell.load()
    table = compare(data, [CachedForecaster(m) for m in make_models(models)], progress=True)
    best = table[table.split == "test"].sort_values("mse").iloc[0]
    print(f"{cell}: best test MSE {best.mse:.4f} ({best.model})", flush=True)
    return table.to_dict("records")


def report(full: pd.DataFrame) -> str:
    test = full[full.split == "test"]
    detail = full[["dataset", "horizon", "model", "split", "mse", "mae", "fit_seconds", "cached"]]
    return ("## Test MSE by horizon (mean over the four; mean MAE last)\n\n"
            + to_markdown(by_horizon(test, "mse", "mae"))
            + "\n\n## Every row (val and test)\n\n" + to_markdown(detail))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grid_arguments(parser, data=("ETTh1", "ETTh2"), horizons=FOUR_HORIZONS, models="classical")
    args = parser.parse_args()
    grid = Grid("classical_table", "Classical forecasters, every origin, public protocol",
                lambda cell: run_cell(cell, args.models), report)
    full = grid.run([Cell(d, h) for d in args.data for h in args.horizons], **run_options(args))
    print(to_markdown(by_horizon(full[full.split == "test"], "mse", "mae")))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
