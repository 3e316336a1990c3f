"""Why a router that learns from validation loses on test: how each member ranks on the two parts.

    python -m experiments.val_test_ranks [--data ETTh1 ETTh2] [--horizons 96 192 336 720]
                                         [--models snaive,linear,dlinear,ets,lightgbm] [--fresh]

Per member (forecasts from the cache): MSE on validation and on test; the MSE on each of 4
contiguous blocks of the validation windows (the blocks auto cross-validates on); and, per part,
the median over the windows of the member's MSE over the best member's MSE in that window (1: the
best in a typical window; a member that wins the mean through a few windows of large error has a
low MSE and a high median ratio).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from experiments.grid import FOUR_HORIZONS, Cell, Grid, grid_arguments, member_rows, run_options, shown
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import CLASSICAL_MEMBERS

BLOCKS = 4


def run_cell(cell: Cell, models: str) -> list[dict]:
    _, val, test = member_rows(cell.load(), models)
    errors = {"val": val.errors(), "test": test.errors()}
    origins = np.unique(val.origin)
    edges = np.linspace(0, len(origins), BLOCKS + 1).round().astype(int)
    blocks = [(val.origin >= origins[edges[k]]) & (val.origin <= origins[edges[k + 1] - 1]) for k in range(BLOCKS)]
    ratio = {p: np.median(e / np.maximum(e.min(1, keepdims=True), 1e-12), axis=0) for p, e in errors.items()}
    return [{"model": name, "val_mse": errors["val"][:, j].mean(), "test_mse": errors["test"][:, j].mean(),
             **{f"val_block_{k + 1}": errors["val"][b, j].mean() for k, b in enumerate(blocks)},
             "val_median_ratio": ratio["val"][j], "test_median_ratio": ratio["test"][j]}
            for j, name in enumerate(val.models)]


def report(frame: pd.DataFrame) -> str:
    return ("- median ratio: the median over the windows of (the member's MSE / the best member's MSE in "
            "that window)\n\n" + to_markdown(shown(frame), floatfmt=".4f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grid_arguments(parser, data=("ETTh1", "ETTh2"), horizons=FOUR_HORIZONS, models=CLASSICAL_MEMBERS)
    args = parser.parse_args()
    grid = Grid("val_test_ranks", "How the members rank on validation and on test",
                lambda cell: run_cell(cell, args.models), report)
    frame = grid.run([Cell(d, h) for d in args.data for h in args.horizons], **run_options(args))
    print(report(frame))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
