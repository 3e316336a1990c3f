"""The router against every single forecaster: test MSE/MAE of each member, of each router mode
and of the default fused forecast (auto), on the public protocol.

    python -m experiments.router_table [--data ETTh1 ETTh2] [--horizons 96 192 336 720]
                                       [--models snaive,linear,dlinear,ets,lightgbm[,timellm]]
                                       [--core-epochs N --core-sample-fraction F --core-val-stride K] [--fresh]

The members' forecasts come from (and go to) the forecast cache. Every router learns from the
validation windows only; the test windows are scored once per row of the table. The core
(`timellm`, the default hints) is a member when named; its training budget can be cut with the
--core-* options (default: the core's own).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from experiments.grid import (
    FOUR_HORIZONS,
    Cell,
    Grid,
    by_horizon,
    core_params,
    grid_arguments,
    member_rows,
    run_options,
    shown,
)
from hybrid.foundation.metrics import mae, mse
from hybrid.product.evaluation import to_markdown, verdict
from hybrid.product.fused import CLASSICAL_MEMBERS
from router.routers import LEARNER_MODES, Auto, Router, make_router

# The published means over the four horizons (MISSION.md) and the goals for the fused forecast.
GOALS = {"ETTh1": 0.395, "ETTh2": 0.325}
PUBLISHED = {"ETTh1": {"Time-LLM": 0.408, "PatchTST": 0.413}, "ETTh2": {"Time-LLM": 0.334, "PatchTST": 0.330}}
VERDICT_WORDS = {"beats": "best", "ties with": "tied", "does not beat": "worse"}


def routers(seed: int = 0) -> dict[str, Router]:
    """Every mode, the learned one with each of its learners (to pick the default by measurement),
    and the default (auto)."""
    modes = {m: make_router(m, seed) for m in ("best", "median", "trimmed", "inverse-error", "stacked", "rules", "learned")}
    modes.update({m: make_router(m, seed) for m in LEARNER_MODES})
    modes["vote (chosen)"] = make_router("vote", seed)
    modes["auto (default)"] = Auto(seed=seed)
    return modes


def run_cell(cell: Cell, models: str, core: dict) -> list[dict]:
    start = time.perf_counter()
    fused, val, test = member_rows(cell.load(), models, core)
    members_seconds = time.perf_counter() - start
    rows = []
    val_errors, test_errors = val.errors().mean(0), test.errors()
    for j, name in enumerate(val.models):
        rows.append({"model": name, "kind": "member",
                     "val_mse": float(val_errors[j]), "test_mse": float(test_errors[:, j].mean()),
                     "test_mae": float(np.abs(test.forecasts[:, j] - test.target).mean()),
                     "fit_seconds": round(members_seconds, 1), "chose": ""})
    # the learner of the learned mode, chosen by measurement on validation only: its blocked cross-validation
    learners = Auto(modes=("learned", *LEARNER_MODES)).fit(val)
    rows.append({"model": "learner choice", "kind": "cross-validation",
                 "chose": ", ".join(f"{m} {v:.4f}" for m, v in learners.scores_.items())})
    for label, router in routers().items():
        start = time.perf_counter()
        router.fit(val)
        seconds = time.perf_counter() - start
        forecast = router.fuse(test)
        chose = router.describe().splitlines()[0] if isinstance(router, Auto) else ""
        rows.append({"model": label, "kind": "router",
                     "val_mse": mse(val.target, router.fuse(val)), "test_mse": mse(test.target, forecast),
                     "test_mae": mae(test.target, forecast), "fit_seconds": round(seconds, 1), "chose": chose})
        print(f"{cell} {label}: test MSE {rows[-1]['test_mse']:.4f}", flush=True)
    return rows


def report(frame: pd.DataFrame, header: str) -> str:
    learners = frame[frame.kind == "cross-validation"][["dataset", "horizon", "chose"]].rename(
        columns={"chose": "mean MSE over the 4 blocks"})
    frame = frame[frame.kind != "cross-validation"]
    lines = []
    for dataset, part in frame.groupby("dataset", sort=False):
        fused = part[part.model == "auto (default)"].set_index("horizon").test_mse
        singles = part[part.kind == "member"].groupby("horizon").test_mse.min()
        verdicts = ", ".join(f"H={h}: {VERDICT_WORDS[verdict(fused[h], singles[h])]} ({fused[h]:.4f} vs {singles[h]:.4f})"
                             for h in fused.index)
        mean, goal = fused.mean(), GOALS.get(dataset)
        published = ", ".join(f"{k} {v}" for k, v in PUBLISHED.get(dataset, {}).items())
        if goal and sorted(fused.index) == list(FOUR_HORIZONS):
            judged = f" (goal <= {goal}: {'met' if mean <= goal else 'missed'}; published {published})"
        else:
            judged = " (the goal and the published means are over H = 96-720: not judged on these horizons)" if goal else ""
        lines.append(f"- {dataset}: default fused against the best single member: {verdicts}. Mean test MSE "
                     f"{mean:.4f}{judged}")
    choices = frame[frame.model == "auto (default)"][["dataset", "horizon", "chose"]]
    every = shown(frame, "chose")
    return (header + "## Test MSE by horizon (mean over the horizons; mean MAE last)\n\n"
            + to_markdown(by_horizon(frame, "test_mse", "test_mae", sort=False))
            + "\n\n" + "\n".join(lines)
            + "\n\n## What the default (auto) chose\n\n" + to_markdown(choices)
            + "\n\n## The learned mode's learner, by blocked cross-validation on the validation windows\n\n"
            + to_markdown(learners)
            + "\n\n## Every row\n\n" + to_markdown(every))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grid_arguments(parser, data=("ETTh1", "ETTh2"), horizons=FOUR_HORIZONS, models=CLASSICAL_MEMBERS, core={})
    args = parser.parse_args()
    core = core_params(args)
    budget = f" (the core's budget: {core})" if core and "timellm" in args.models else ""
    header = f"- members: {args.models}{budget}; the router learns from the validation windows only\n\n"
    # the core's members get their own file: the classical table stays beside it
    stem = "router_table_core" if "timellm" in args.models else "router_table"
    grid = Grid(stem, "The router against every single forecaster", lambda cell: run_cell(cell, args.models, core),
                lambda frame: report(frame, header))
    frame = grid.run([Cell(d, h) for d in args.data for h in args.horizons], **run_options(args))
    print(report(frame, header).split("## What")[0])
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
