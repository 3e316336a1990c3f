"""Multi-period mining: does following the data's periods help the fused forecast?

    python -m experiments.period_table [--data ETTh1 ETTh2 ETTm1 national_illness exchange_rate]
        [--configs fixed aligned multi] [--core-epochs 2] [--core-sample-fraction 0.15]
        [--core-val-stride 4] [--core-budget-rows 8640] [--fresh]

For each dataset, at the shortest and the longest of its default horizons, the default fused
forecast (auto router) over three member sets:
- fixed: snaive, linear, dlinear, ets, lightgbm and the core with its fixed 16/8 patches, every
  seasonal model at the frequency's calendar season;
- aligned: the same, the core's patches following each period found (timellm@P);
- multi: every seasonal model once per period found (snaive@P, ets@P) and the core at each
  period beside its fixed patches (timellm, timellm@P): what `--periods auto` fits.
The periods are those the channels share, found on the training part (hybrid.foundation.periods.data_periods).
Test MSE/MAE of the fused forecast and of its best member, the wall time of the row (members
from the forecast cache where an earlier row computed them: the core at a period is fitted once
for aligned and multi), the members' fit time (each member's fit and every-origin forecast,
timed when it was computed, whether in this row or before; empty where a member was cached
before that was recorded) and the peak memory of the process tree. Rows are written as they
finish; a run skips the rows in the result file (`--fresh` starts again).

The core's budget is the same number of training and early-stopping windows on every dataset: the
sample fraction and the validation stride are given for `--core-budget-rows` training rows (an
hourly ETT dataset's 12 months) and scale with a longer training part (ETTm1's 34,560 rows: a
quarter of the fraction, four times the stride); a shorter one keeps them.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import pandas as pd

from experiments.record import RESULTS, TreeMemory, write_result
from hybrid.foundation.data import SeriesBundle, load
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import HybridForecaster, with_periods
from hybrid.foundation.metrics import mae, mse
from hybrid.foundation.periods import data_periods, dataset_periods

STEM = "period_table"
CLASSICAL = "snaive,linear,dlinear,ets,lightgbm"
CONFIGS = ("fixed", "aligned", "multi")


def members(config: str, periods: tuple[int, ...]) -> str:
    if config == "fixed" or not periods:
        return f"{CLASSICAL},timellm"
    if config == "aligned":
        return ",".join([CLASSICAL, *(f"timellm@{p}" for p in periods)])
    return ",".join(with_periods(f"{CLASSICAL},timellm", periods))


@dataclass(frozen=True)
class CoreBudget:
    """The core's training budget, given for `rows` training rows (0: for any)."""

    epochs: int
    sample_fraction: float
    val_stride: int
    rows: int

    def params(self, data: SeriesBundle) -> dict:
        """The core's parameters on `data`: the same windows as on `rows` training rows."""
        start, end = data.split.train
        scale = min(1.0, self.rows / (end - start)) if self.rows else 1.0
        return {"epochs": self.epochs, "sample_fraction": self.sample_fraction * scale,
                "val_stride": round(self.val_stride / scale)}


def run_row(dataset: str, horizon: int, config: str, budget: CoreBudget) -> dict:
    data = load(dataset, horizon=horizon)
    core_params = budget.params(data)
    periods = data_periods(data)
    models = members(config, periods)
    with TreeMemory() as memory:
        start = time.perf_counter()
        fused = HybridForecaster(models, core_params=core_params, progress=True).fit(data)
        test = fused.rows(data, data.origins("test"), with_target=True)
        seconds = time.perf_counter() - start
    forecast = fused.router_.fuse(test)
    singles = dict(zip(test.models, test.errors().mean(0)))
    best = min(singles, key=singles.get)
    # each member's fit and every-origin forecast, timed when computed (here or in an earlier run)
    costs = {m.label: m.compute_seconds_ for m in fused.members_}
    known = [c for c in costs.values() if c is not None]
    return {"dataset": dataset, "horizon": horizon, "config": config, "periods": ",".join(map(str, periods)),
            "members": models, "core_budget": ", ".join(f"{k} {v:g}" for k, v in core_params.items()),
            "router": fused.router_.router_.describe(),  # what auto settled on
            "test_mse": mse(test.target, forecast), "test_mae": mae(test.target, forecast),
            "best_member": best, "best_member_test_mse": float(singles[best]),
            "member_test_mse": {k: float(v) for k, v in singles.items()},
            "seconds": seconds, "members_seconds": sum(known) if len(known) == len(costs) else None,
            "member_seconds": costs, "peak_mib": memory.peak_mib}


def write_table(done: list[dict], found: dict) -> None:
    table = pd.DataFrame(done).drop(columns=["member_test_mse", "members", "member_seconds"], errors="ignore")
    order = {c: i for i, c in enumerate(CONFIGS)}
    table = table.sort_values(["dataset", "horizon", "config"], key=lambda c: c.map(order) if c.name == "config" else c)
    found_text = "\n".join(f"- {name}: " + "; ".join(f"{col} {', '.join(str(p) for p in ps) or '-'}"
                                                   for col, ps in channels.items())
                           for name, channels in found.items())
    text = ("- members: fixed = snaive, linear, dlinear, ets, lightgbm, timellm (16/8 patches); aligned = the "
            "core at each period found (timellm@P); multi = snaive, ets and the core at each period found, "
            "and the core's fixed patches (what --periods auto fits)\n"
            "- periods per channel, found on the training part:\n" + found_text + "\n\n"
            + to_markdown(table, floatfmt=".4f"))
    write_result(STEM, "Multi-period mining: fixed patches, period-aligned patches, every period", text,
                 {"rows": done, "periods": found})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["ETTh1", "ETTh2", "ETTm1", "national_illness", "exchange_rate"])
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--core-epochs", type=int, default=2)
    parser.add_argument("--core-sample-fraction", type=float, default=0.15)
    parser.add_argument("--core-val-stride", type=int, default=4)
    parser.add_argument("--core-budget-rows", type=int, default=8640,
                        help="training rows the fraction and stride are given for (0: the same on every dataset)")
    parser.add_argument("--fresh", action="store_true", help="forget the rows of earlier runs")
    args = parser.parse_args()
    budget = CoreBudget(args.core_epochs, args.core_sample_fraction, args.core_val_stride, args.core_budget_rows)
    path = RESULTS / f"{STEM}.json"
    done, found = [], {}
    if path.exists() and not args.fresh:
        earlier = json.loads(path.read_text())
        done, found = earlier["rows"], earlier["periods"]
    have = {(r["dataset"], r["horizon"], r["config"]) for r in done}
    for dataset in args.data:
        spec_horizons = load(dataset).spec.horizons
        found[dataset] = {col: [p.length for p in ps] for col, ps in dataset_periods(load(dataset)).items()}
        for horizon in sorted({spec_horizons[0], spec_horizons[-1]}):
            for config in args.configs:
                if (dataset, horizon, config) in have:
                    continue
                print(f"--- {dataset} H={horizon}: {config}", flush=True)
                done.append(run_row(dataset, horizon, config, budget))
                have.add((dataset, horizon, config))
                print(f"{dataset} H={horizon} {config}: test MSE {done[-1]['test_mse']:.4f}, "
                      f"{done[-1]['seconds']:.0f} s", flush=True)
                write_table(done, found)
    write_table(done, found)


if __name__ == "__main__":
    main()
