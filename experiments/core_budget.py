"""The core's default budget: what fewer tokens and fewer training windows cost in validation
accuracy, against the budget the core had before it joined the default run, with seeds.

    python -m experiments.core_budget [--data ETTh1] [--horizon 96] [--configs ...] [--seeds 3]

Every configuration is scored on the same validation windows (every 4th: windows a step apart share
all but one row) by its best epoch, whatever its own early stopping read; that score chooses the
default. The test MSE (every window) is reported beside it and chooses nothing. Seconds are the
core's fit and its forecast of those validation windows and every test window, in a process that
may share the machine: the default run's own time is measured by `experiments.default_run`.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from experiments.grid import Cell, Grid, one_dataset_arguments, run_options, shown, with_seeds
from hybrid.core.forecaster import TimeLLMForecaster
from hybrid.foundation.data import load
from hybrid.foundation.metrics import score
from hybrid.foundation.significance import seeded_markdown, seeded_table, window_losses
from hybrid.product.evaluation import to_markdown

VAL_STEP = 4
# The budget and shape the core had before it joined the default run (3 epochs of 30% of the
# training windows, every validation window after each, 16/8 patches, the statistics prompt).
BEFORE = {"epochs": 3, "sample_fraction": 0.3, "val_stride": 1, "stride": 8, "hints": "stats"}
CONFIGS = {
    "before": ("before: 3 epochs x 30%, 16/8 patches, statistics prompt", BEFORE),
    "10pct": ("10% a epoch, val every 4th", {**BEFORE, "sample_fraction": 0.1, "val_stride": 4}),
    "10pct-16": ("10%, 16/16 patches", {**BEFORE, "sample_fraction": 0.1, "val_stride": 4, "stride": 16}),
    "10pct-16-none": ("10%, 16/16 patches, no prompt",
                      {**BEFORE, "sample_fraction": 0.1, "val_stride": 4, "stride": 16, "hints": "none"}),
    "10pct-none": ("10%, 16/8 patches, no prompt", {**BEFORE, "sample_fraction": 0.1, "val_stride": 4,
                                                   "hints": "none"}),
}


def run_cell(cell: Cell) -> dict:
    data = cell.load()
    label, params = CONFIGS[cell.config]
    model = TimeLLMForecaster(**params, seed=cell.seed, progress=False)
    start = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - start
    val, test = data.origins("val")[::VAL_STEP], data.origins("test")
    start = time.perf_counter()
    val_y, val_f = data.future(val), model.predict(data, val)
    test_y, test_f = data.future(test), model.predict(data, test)
    forecast_seconds = time.perf_counter() - start
    val_score, test_score = score(data, val_y, val_f), score(data, test_y, test_f)
    print(f"{cell}: val MSE {val_score['mse']:.4f}, fit {fit_seconds:.0f} s", flush=True)
    return {"model": label, "val_mse": val_score["mse"], "test_mse": test_score["mse"], "test_mae": test_score["mae"],
            "fit_seconds": fit_seconds, "forecast_seconds": forecast_seconds,
            "epochs_run": len([h for h in model.history_ if h.get("train_windows")]), "best_val": model.best_val_,
            "val_window_loss": window_losses(val_y, val_f), "test_window_loss": window_losses(test_y, test_f)}


def report(frame: pd.DataFrame) -> str:
    reference = CONFIGS["before"][0]
    parts = []
    for part, about in (("val", f"validation MSE (every {VAL_STEP}th window; what chooses)"),
                        ("test", "test MSE (every window; chooses nothing)")):
        table = seeded_table(frame, reference, label="model", metric=f"{part}_mse", losses=f"{part}_window_loss")
        parts.append(f"## {about}\n\n" + seeded_markdown(table, reference, label="model"))
    means = frame.groupby("model", sort=False)[["fit_seconds", "forecast_seconds", "epochs_run"]].mean()
    parts.append("## Cost, means over seeds (seconds on a machine possibly shared)\n\n"
                 + to_markdown(means.reset_index(), floatfmt=".1f"))
    parts.append("## Every run\n\n" + to_markdown(shown(frame, "dataset", "horizon", "val_window_loss", "test_window_loss")))
    return "\n\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    one_dataset_arguments(parser, data="ETTh1", horizon=96)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default %(default)s)")
    args = parser.parse_args()
    data = load(args.data, horizon=args.horizon)
    grid = Grid(f"core_budget_{data.name}_H{data.horizon}", "The core's default budget", run_cell, report,
                lambda: {"args": vars(args), "configs": {k: v[1] for k, v in CONFIGS.items()}})
    frame = grid.run(with_seeds([Cell(data.name, data.horizon, c) for c in args.configs], args.seeds),
                     **run_options(args))
    print(report(frame))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
