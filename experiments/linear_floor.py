"""The floor every later model must beat: seasonal naive and the closed-form ridge on one dataset
at its four horizons, on the public protocol (test MSE/MAE over every window, z-scored scale).

    python -m experiments.linear_floor [--data ETTh1] [--repeats 3] [--fresh]

Times are medians over `--repeats` fits.
"""

from __future__ import annotations

import argparse
import statistics

import pandas as pd

from experiments.grid import Cell, Grid, one_dataset_arguments, run_options, shown
from hybrid.foundation.data import load
from hybrid.foundation.registry import make_models
from hybrid.product.evaluation import compare, to_markdown

MODELS = "snaive,linear"


def run_cell(cell: Cell, repeats: int) -> list[dict]:
    data = cell.load()
    runs = [compare(data, make_models(MODELS), progress=False) for _ in range(repeats)]
    test = [r[r.split == "test"].set_index("model") for r in runs]
    rows = [{"model": model, "test_mse": test[0].loc[model, "mse"], "test_mae": test[0].loc[model, "mae"],
             "fit_seconds_median": statistics.median(t.loc[model, "fit_seconds"] for t in test)}
            for model in test[0].index]
    print(f"H={cell.horizon}: linear test MSE {test[0].loc['linear', 'mse']:.4f}", flush=True)
    return rows


def report(frame: pd.DataFrame) -> str:
    table = shown(frame, "dataset")
    mean = table.groupby("model")[["test_mse", "test_mae"]].mean().reset_index()
    mean.insert(0, "horizon", "mean")
    return to_markdown(pd.concat([table, mean], ignore_index=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    one_dataset_arguments(parser, data="ETTh1")
    parser.add_argument("--repeats", type=int, default=3, help="fits timed per model (default %(default)s)")
    args = parser.parse_args()
    data = load(args.data)
    grid = Grid(f"linear_floor_{data.name}", f"Linear floor on {data.name} (seq_len {data.seq_len}, split "
                f"{data.split.rule})", lambda cell: run_cell(cell, args.repeats), report,
                lambda: {"seq_len": data.seq_len, "repeats": args.repeats})
    frame = grid.run([Cell(data.name, h) for h in data.spec.horizons], **run_options(args))
    print(report(frame))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
