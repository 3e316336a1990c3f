"""What a training sequence costs the core under each hint setting of the ablation, timed with
nothing else on the machine (the ablation's own fits share their time with whatever else runs).

    python -m experiments.hint_timing [--data ETTh1] [--horizons 96 336] [--rows ...]
                                      [--sample-fraction 0.01] [--repeats 3] [--fresh]

A cell is one row of `experiments.hint_ablation` (its hint setting), fitted `--repeats` times for
one epoch on `--sample-fraction` of the training windows (the early stop reads every 200th
validation origin, outside the timed part); ms per training sequence is the epoch's training time
over its windows (forward, backward and optimizer step, hints included), and the median over the
repeats is reported, with the fastest and slowest.
"""

from __future__ import annotations

import argparse
import statistics

import pandas as pd

from experiments.grid import Cell, Grid, grid_arguments, in_order, run_options, shown
from experiments.hint_ablation import ROWS, ms_per_training_sequence
from hybrid.core.config import TrainConfig
from hybrid.foundation.settings import add_flags
from hybrid.product.evaluation import to_markdown

# the cross-fitted rows train on the same inputs as their plain twins: the same cost per sequence
TIMED = tuple(k for k, r in ROWS.items() if not r.hint_folds)


def run_cell(cell: Cell, sample_fraction: float, repeats: int) -> dict:
    data = cell.load()
    times = []
    for _ in range(repeats):
        model = ROWS[cell.config].core(epochs=1, sample_fraction=sample_fraction, val_stride=200, progress=False)
        times.append(ms_per_training_sequence(model.fit(data).history_))
    row = {"model": ROWS[cell.config].label, "ms_per_train_sequence": statistics.median(times),
           "fastest": min(times), "slowest": max(times)}
    print(f"{cell}: {row['ms_per_train_sequence']:.1f} ms per sequence", flush=True)
    return row


def report(frame: pd.DataFrame, sample_fraction: float, repeats: int) -> str:
    table = in_order(frame, TIMED).reset_index(drop=True)
    base = table[table.config == "none"].set_index(["dataset", "horizon"]).ms_per_train_sequence
    table["against_no_prompt"] = [r.ms_per_train_sequence / base.get((r.dataset, r.horizon), float("nan"))
                                  for r in table.itertuples()]
    table = shown(table.rename(columns={"config": "row"}))
    return (f"- SmolLM2, 2 layers, batch {TrainConfig.batch_size}; one epoch of {sample_fraction:.0%} of the "
            f"training windows, {repeats} repeats (median; fastest and slowest beside it); against_no_prompt: "
            "the median over the no-prompt row's at the same horizon\n\n" + to_markdown(table, floatfmt=".2f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grid_arguments(parser, data=("ETTh1",), horizons=(96, 336))
    parser.add_argument("--rows", nargs="+", choices=TIMED, default=list(TIMED),
                        help="hint settings, each a cell (default: all but the cross-fitted twins)")
    add_flags(parser, TrainConfig, only=("sample_fraction",), defaults={"sample_fraction": 0.01})
    parser.add_argument("--repeats", type=int, default=3, help="fits timed per cell (default %(default)s)")
    args = parser.parse_args()
    grid = Grid("hint_timing", "The core's cost per training sequence under each hint setting",
                lambda cell: run_cell(cell, args.sample_fraction, args.repeats),
                lambda frame: report(frame, args.sample_fraction, args.repeats), exclusive=True)
    frame = grid.run([Cell(d, h, r) for d in args.data for h in args.horizons for r in args.rows], **run_options(args))
    print(report(frame, args.sample_fraction, args.repeats))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
