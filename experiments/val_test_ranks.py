"""Why a router that learns from validation loses on test: how each member ranks on the two parts.

    python -m experiments.val_test_ranks [--data ETTh1 ETTh2] [--horizons 96 192 336 720]
                                         [--models snaive,linear,dlinear,ets,lightgbm]

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

from experiments.record import write_result
from hybrid.foundation.data import load
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import DEFAULT_MEMBERS, HybridForecaster

BLOCKS = 4


def run_one(dataset: str, horizon: int, models: str) -> list[dict]:
    data = load(dataset, horizon=horizon)
    fused = HybridForecaster(models).fit_members(data)
    parts = {p: fused.rows(data, data.origins(p), with_target=True) for p in ("val", "test")}
    errors = {p: rows.errors() for p, rows in parts.items()}
    origins = np.unique(parts["val"].origin)
    edges = np.linspace(0, len(origins), BLOCKS + 1).round().astype(int)
    blocks = [(parts["val"].origin >= origins[edges[k]]) & (parts["val"].origin <= origins[edges[k + 1] - 1])
              for k in range(BLOCKS)]
    ratio = {p: np.median(e / np.maximum(e.min(1, keepdims=True), 1e-12), axis=0) for p, e in errors.items()}
    rows = []
    for j, name in enumerate(parts["val"].models):
        rows.append({"dataset": dataset, "horizon": horizon, "model": name,
                     "val_mse": errors["val"][:, j].mean(), "test_mse": errors["test"][:, j].mean(),
                     **{f"val_block_{k + 1}": errors["val"][b, j].mean() for k, b in enumerate(blocks)},
                     "val_median_ratio": ratio["val"][j], "test_median_ratio": ratio["test"][j]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["ETTh1", "ETTh2"])
    parser.add_argument("--horizons", nargs="+", type=int, default=[96, 192, 336, 720])
    parser.add_argument("--models", default=DEFAULT_MEMBERS)
    args = parser.parse_args()
    rows = [r for d in args.data for h in args.horizons for r in run_one(d, h, args.models)]
    frame = pd.DataFrame(rows)
    markdown = ("- median ratio: the median over the windows of (the member's MSE / the best member's MSE in "
                "that window)\n\n" + to_markdown(frame, floatfmt=".4f"))
    write_result("val_test_ranks", "How the members rank on validation and on test", markdown, {"rows": rows},
                 echo=True)


if __name__ == "__main__":
    main()
