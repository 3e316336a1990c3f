"""How the default router (auto) should choose its mode, judged on datasets that played no part in
the choice: forward-chaining against blocked cross-validation over the validation windows, and
the candidate modes with and without `stacked` (added after the ETT router table was seen).

    python -m experiments.router_cv [--data national_illness exchange_rate]
                                    [--models snaive,linear,dlinear,ets,lightgbm]

For each dataset, at its shortest and longest default horizon, auto is fitted on the validation
windows in each variant; the table gives the mode it chose, its validation MSE, its test MSE and
the best single member's on test (scored once, to report).
"""

from __future__ import annotations

import argparse

import pandas as pd

from experiments.record import write_result
from hybrid.foundation.data import load
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import DEFAULT_MEMBERS, HybridForecaster
from hybrid.foundation.metrics import mse
from router.routers import Auto


def run_one(dataset: str, horizon: int, models: str) -> list[dict]:
    data = load(dataset, horizon=horizon)
    fused = HybridForecaster(models, progress=True).fit_members(data)
    val = fused.rows(data, data.origins("val"), with_target=True)
    test = fused.rows(data, data.origins("test"), with_target=True)
    singles = dict(zip(test.models, test.errors().mean(0)))
    best = min(singles, key=singles.get)
    rows = []
    for variant, auto in variants().items():
        auto.fit(val)
        chose = auto.router_.name + (" (fallback)" if auto.fell_back_ else f" (chosen: {auto.choice_})")
        rows.append({"dataset": dataset, "horizon": horizon, "variant": variant, "chose": chose,
                     "val_mse": auto.fitted_mse_, "test_mse": mse(test.target, auto.fuse(test)),
                     "best_single_on_test": f"{best} {singles[best]:.4f}"})
        print(f"{dataset} H={horizon} {variant}: {chose}, test MSE {rows[-1]['test_mse']:.4f}", flush=True)
    return rows


def variants() -> dict[str, Auto]:
    default = Auto()
    return {"forward (default)": default, "blocked": Auto(cv="blocked"),
            "forward, without stacked": Auto(modes=tuple(m for m in default.modes if m != "stacked"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["national_illness", "exchange_rate"])
    parser.add_argument("--models", default=DEFAULT_MEMBERS)
    args = parser.parse_args()
    rows = []
    for dataset in args.data:
        horizons = load(dataset).spec.horizons
        for horizon in sorted({horizons[0], horizons[-1]}):
            rows += run_one(dataset, horizon, args.models)
    frame = pd.DataFrame(rows)
    markdown = (f"- members: {args.models}; auto's candidate modes: {', '.join(Auto().modes)}; 4 blocks of the "
                "validation windows (forward: blocks 2-4 scored)\n\n" + to_markdown(frame, floatfmt=".4f"))
    write_result("router_cv", "How auto chooses its mode, on data that took no part in its design", markdown,
                 {"rows": rows}, echo=True)


if __name__ == "__main__":
    main()
