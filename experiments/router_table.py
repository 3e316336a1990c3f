"""The router against every single forecaster: test MSE/MAE of each member, of each router mode
and of the default fused forecast (auto), on the public protocol.

    python -m experiments.router_table [--data ETTh1 ETTh2] [--horizons 96 192 336 720]
                                       [--models snaive,linear,dlinear,ets,lightgbm[,timellm]]
                                       [--core-epochs N --core-sample-fraction F --core-val-stride K]

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
from tqdm.auto import tqdm

from experiments.record import write_result
from hybrid.foundation.data import load
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import DEFAULT_MEMBERS, HybridForecaster
from hybrid.foundation.metrics import mae, mse
from router.routers import LEARNER_MODES, Auto, Router, make_router

# The published means over the four horizons (MISSION.md) and the goals for the fused forecast.
GOALS = {"ETTh1": 0.395, "ETTh2": 0.325}
FOUR_HORIZONS = (96, 192, 336, 720)
PUBLISHED = {"ETTh1": {"Time-LLM": 0.408, "PatchTST": 0.413}, "ETTh2": {"Time-LLM": 0.334, "PatchTST": 0.330}}


def routers(seed: int = 0) -> dict[str, Router]:
    """Every mode, the learned one with each of its learners (to pick the default by measurement),
    and the default (auto)."""
    modes = {m: make_router(m, seed) for m in ("best", "median", "trimmed", "inverse-error", "stacked", "rules", "learned")}
    modes.update({m: make_router(m, seed) for m in LEARNER_MODES})
    modes["vote (chosen)"] = make_router("vote", seed)
    modes["auto (default)"] = Auto(seed=seed)
    return modes


def run_one(dataset: str, horizon: int, models: str, core_params: dict) -> list[dict]:
    data = load(dataset, horizon=horizon)
    start = time.perf_counter()
    fused = HybridForecaster(models, core_params=core_params, progress=True).fit_members(data)
    members_seconds = time.perf_counter() - start
    val = fused.rows(data, data.origins("val"), with_target=True)
    test = fused.rows(data, data.origins("test"), with_target=True)
    rows = []
    val_errors, test_errors = val.errors().mean(0), test.errors()
    for j, name in enumerate(val.models):
        rows.append({"dataset": dataset, "horizon": horizon, "model": name, "kind": "member",
                     "val_mse": float(val_errors[j]), "test_mse": float(test_errors[:, j].mean()),
                     "test_mae": float(np.abs(test.forecasts[:, j] - test.target).mean()),
                     "fit_seconds": round(members_seconds, 1), "chose": ""})
    # the learner of the learned mode, chosen by measurement on validation only: its blocked cross-validation
    learners = Auto(modes=("learned", *LEARNER_MODES)).fit(val)
    rows.append({"dataset": dataset, "horizon": horizon, "model": "learner choice", "kind": "cross-validation",
                 "chose": ", ".join(f"{m} {v:.4f}" for m, v in learners.scores_.items())})
    for label, router in routers().items():
        start = time.perf_counter()
        router.fit(val)
        seconds = time.perf_counter() - start
        forecast = router.fuse(test)
        chose = router.describe().splitlines()[0] if isinstance(router, Auto) else ""
        rows.append({"dataset": dataset, "horizon": horizon, "model": label, "kind": "router",
                     "val_mse": mse(val.target, router.fuse(val)), "test_mse": mse(test.target, forecast),
                     "test_mae": mae(test.target, forecast), "fit_seconds": round(seconds, 1), "chose": chose})
        print(f"{dataset} H={horizon} {label}: test MSE {rows[-1]['test_mse']:.4f}", flush=True)
    return rows


def report(frame: pd.DataFrame) -> str:
    learners = frame[frame.kind == "cross-validation"][["dataset", "horizon", "chose"]].rename(
        columns={"chose": "mean MSE over the 4 blocks"})
    frame = frame[frame.kind != "cross-validation"]
    wide = frame.pivot_table(index=["dataset", "model"], columns="horizon", values="test_mse", sort=False)
    wide["mean"] = wide.mean(axis=1)
    wide["mean_mae"] = frame.pivot_table(index=["dataset", "model"], columns="horizon", values="test_mae",
                                         sort=False).mean(axis=1)
    wide = wide.reset_index()
    wide.columns = [str(c) for c in wide.columns]
    lines = []
    for dataset, part in frame.groupby("dataset", sort=False):
        fused = part[part.model == "auto (default)"].set_index("horizon").test_mse
        singles = part[part.kind == "member"].groupby("horizon").test_mse.min()
        verdicts = ", ".join(f"H={h}: {'best' if fused[h] < singles[h] - 1e-4 else 'tied' if fused[h] <= singles[h] + 1e-4 else 'worse'}"
                             f" ({fused[h]:.4f} vs {singles[h]:.4f})" for h in fused.index)
        mean, goal = fused.mean(), GOALS.get(dataset)
        published = ", ".join(f"{k} {v}" for k, v in PUBLISHED.get(dataset, {}).items())
        if goal and sorted(fused.index) == list(FOUR_HORIZONS):
            judged = f" (goal <= {goal}: {'met' if mean <= goal else 'missed'}; published {published})"
        else:
            judged = " (the goal and the published means are over H = 96-720: not judged on these horizons)" if goal else ""
        lines.append(f"- {dataset}: default fused against the best single member: {verdicts}. Mean test MSE "
                     f"{mean:.4f}{judged}")
    choices = frame[frame.model == "auto (default)"][["dataset", "horizon", "chose"]]
    return ("## Test MSE by horizon (mean over the horizons; mean MAE last)\n\n" + to_markdown(wide)
            + "\n\n" + "\n".join(lines)
            + "\n\n## What the default (auto) chose\n\n" + to_markdown(choices)
            + "\n\n## The learned mode's learner, by blocked cross-validation on the validation windows\n\n"
            + to_markdown(learners)
            + "\n\n## Every row\n\n" + to_markdown(frame.drop(columns=["chose"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["ETTh1", "ETTh2"])
    parser.add_argument("--horizons", nargs="+", type=int, default=list(FOUR_HORIZONS))
    parser.add_argument("--models", default=DEFAULT_MEMBERS)
    parser.add_argument("--core-epochs", type=int)
    parser.add_argument("--core-sample-fraction", type=float)
    parser.add_argument("--core-val-stride", type=int)
    args = parser.parse_args()
    core_params = {k: v for k, v in (("epochs", args.core_epochs), ("sample_fraction", args.core_sample_fraction),
                                     ("val_stride", args.core_val_stride)) if v is not None}
    rows = []
    for dataset in args.data:
        for horizon in tqdm(args.horizons, desc=dataset, unit="horizon"):
            rows += run_one(dataset, horizon, args.models, core_params)
    frame = pd.DataFrame(rows)
    budget = f" (the core's budget: {core_params})" if core_params and "timellm" in args.models else ""
    markdown = (f"- members: {args.models}{budget}; the router learns from the validation windows only\n\n"
                + report(frame))
    # the core's members get their own file: the classical table stays beside it
    stem = "router_table_core" if "timellm" in args.models else "router_table"
    path = write_result(stem, "The router against every single forecaster", markdown,
                        {"rows": frame.to_dict("records")})
    print(markdown.split("## What")[0])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
