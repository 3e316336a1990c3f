"""Multi-period mining: does following the data's periods help the fused forecast?

    python -m experiments.period_table [--data ETTh1 ETTh2 ETTm1 national_illness exchange_rate]
        [--configs fixed aligned multi] [--core-epochs 2] [--core-sample-fraction 0.15]
        [--core-val-stride 4] [--core-budget-rows 8640] [--fresh]

For each dataset, at the shortest and the longest of its default horizons, the default fused
forecast (auto router) over three member sets, each a cell's configuration:
- fixed: snaive, linear, dlinear, ets, lightgbm and the core with its fixed 16/8 patches, every
  seasonal model at the frequency's calendar season;
- aligned: the same, the core's patches following each period found (timellm@P);
- multi: every seasonal model once per period found (snaive@P, ets@P) and the core at each
  period beside its fixed patches (timellm, timellm@P): what `--periods auto` fits.
The periods are those the channels share, found on the training part (hybrid.foundation.periods.data_periods).
Test MSE/MAE of the fused forecast and of its best member, the wall time of the cell (members
from the forecast cache where an earlier cell computed them: the core at a period is fitted once
for aligned and multi), the members' fit time (each member's fit and every-origin forecast,
timed when it was computed, whether in this cell or before; empty where a member was cached
before that was recorded) and the peak memory of the process tree. The grid resumes: a run skips
the cells in the result file (`--fresh` starts again).

The core's budget is the same number of training and early-stopping windows on every dataset: the
sample fraction and the validation stride are given for `--core-budget-rows` training rows (an
hourly ETT dataset's 12 months) and scale with a longer training part (ETTm1's 34,560 rows: a
quarter of the fraction, four times the stride); a shorter one keeps them.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

import pandas as pd

from experiments.grid import (
    Cell,
    Grid,
    best_member,
    core_params,
    grid_arguments,
    in_order,
    member_rows,
    run_options,
    shortest_and_longest,
)
from hybrid.core.config import TrainConfig
from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.metrics import mae, mse
from hybrid.foundation.periods import data_periods, dataset_periods
from hybrid.foundation.registry import with_periods
from hybrid.product.evaluation import to_markdown
from router.routers import make_router

CLASSICAL = "snaive,linear,dlinear,ets,lightgbm"
CONFIGS = ("fixed", "aligned", "multi")
COLUMNS = ["dataset", "horizon", "config", "periods", "core_budget", "router", "test_mse", "test_mae", "best_member",
           "best_member_test_mse", "seconds", "members_seconds", "peak_mib"]


def members(config: str, periods: tuple[int, ...]) -> str:
    if config == "fixed" or not periods:
        return f"{CLASSICAL},timellm"
    if config == "aligned":
        return ",".join([CLASSICAL, *(f"timellm@{p}" for p in periods)])
    return ",".join(with_periods(f"{CLASSICAL},timellm", periods))


def scaled(core: dict[str, Any], data: SeriesBundle, budget_rows: int) -> dict[str, Any]:
    """The core's parameters on `data`: the same training and early-stopping windows as `core`
    gives on `budget_rows` training rows (0: `core` as it is)."""
    start, end = data.split.train
    scale = min(1.0, budget_rows / (end - start)) if budget_rows else 1.0
    return {**core, "sample_fraction": core.get("sample_fraction", TrainConfig.sample_fraction) * scale,
            "val_stride": round(core.get("val_stride", TrainConfig.val_stride) / scale)}


def run_cell(cell: Cell, core: dict[str, Any], budget_rows: int) -> dict:
    data = cell.load()
    params = scaled(core, data, budget_rows)
    periods = data_periods(data)
    models = members(cell.config, periods)
    fused, val, test = member_rows(data, models, params)
    auto = make_router("auto").fit(val)  # what the fused forecaster's fit does with these rows
    forecast = auto.fuse(test)
    best, best_mse = best_member(test)
    # each member's fit and every-origin forecast, timed when computed (here or in an earlier run)
    costs = {m.label: m.compute_seconds_ for m in fused.members_}
    known = [c for c in costs.values() if c is not None]
    row = {"periods": ",".join(map(str, periods)), "members": models,
           "core_budget": ", ".join(f"{k} {v:g}" for k, v in params.items()),
           "router": auto.router_.describe(),  # what auto settled on
           "test_mse": mse(test.target, forecast), "test_mae": mae(test.target, forecast),
           "best_member": best, "best_member_test_mse": best_mse,
           "member_test_mse": dict(zip(test.models, map(float, test.errors().mean(0)))),
           "members_seconds": sum(known) if len(known) == len(costs) else None, "member_seconds": costs,
           "channel_periods": {col: [p.length for p in ps] for col, ps in dataset_periods(data).items()}}
    print(f"{cell}: test MSE {row['test_mse']:.4f}", flush=True)
    return row


def report(frame: pd.DataFrame) -> str:
    table = in_order(frame, CONFIGS).rename(columns={"cell_seconds": "seconds", "cell_peak_mib": "peak_mib"})
    found = "\n".join(f"- {dataset}: " + "; ".join(f"{col} {', '.join(map(str, ps)) or '-'}"
                                                 for col, ps in channels.items())
                      for dataset, channels in frame.groupby("dataset", sort=False).channel_periods.first().items())
    return ("- members: fixed = snaive, linear, dlinear, ets, lightgbm, timellm (16/8 patches); aligned = the "
            "core at each period found (timellm@P); multi = snaive, ets and the core at each period found, "
            "and the core's fixed patches (what --periods auto fits)\n"
            "- periods per channel, found on the training part:\n" + found + "\n\n"
            + to_markdown(table.reindex(columns=COLUMNS), floatfmt=".4f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grid_arguments(parser, data=("ETTh1", "ETTh2", "ETTm1", "national_illness", "exchange_rate"),
                   core={"epochs": 2, "sample_fraction": 0.15, "val_stride": 4})
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS),
                        help="member sets, each a cell (default: all)")
    parser.add_argument("--core-budget-rows", type=int, default=8640,
                        help="training rows the fraction and stride are given for (0: the same on every dataset)")
    args = parser.parse_args()
    core = core_params(args)
    grid = Grid("period_table", "Multi-period mining: fixed patches, period-aligned patches, every period",
                lambda cell: run_cell(cell, core, args.core_budget_rows), report)
    grid.run([replace(c, config=k) for c in shortest_and_longest(args.data) for k in args.configs], **run_options(args))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
