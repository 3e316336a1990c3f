"""How the default router (auto) should choose its mode, judged on datasets that played no part in
the choice: forward-chaining against blocked cross-validation over the validation windows, and
the candidate modes with and without `stacked` (added after the ETT router table was seen).

    python -m experiments.router_cv [--data national_illness exchange_rate]
                                    [--models snaive,linear,dlinear,ets,lightgbm] [--fresh]

For each dataset, at its shortest and longest default horizon, auto is fitted on the validation
windows in each variant; the table gives the mode it chose, its validation MSE, its test MSE and
the best single member's on test (scored once, to report).
"""

from __future__ import annotations

import argparse

import pandas as pd

from experiments.grid import (
    Cell,
    Grid,
    best_member,
    grid_arguments,
    member_rows,
    run_options,
    shortest_and_longest,
    shown,
)
from hybrid.foundation.metrics import mse
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import CLASSICAL_MEMBERS
from router.routers import Auto


def variants() -> dict[str, Auto]:
    default = Auto()
    return {"forward (default)": default, "blocked": Auto(cv="blocked"),
            "forward, without stacked": Auto(modes=tuple(m for m in default.modes if m != "stacked"))}


def run_cell(cell: Cell, models: str) -> list[dict]:
    _, val, test = member_rows(cell.load(), models)
    best, best_mse = best_member(test)
    rows = []
    for variant, auto in variants().items():
        auto.fit(val)
        chose = auto.router_.name
        rows.append({"variant": variant, "chose": chose, "val_mse": auto.fitted_mse_,
                     "test_mse": mse(test.target, auto.fuse(test)), "best_single_on_test": f"{best} {best_mse:.4f}"})
        print(f"{cell} {variant}: {chose}, test MSE {rows[-1]['test_mse']:.4f}", flush=True)
    return rows


def report(frame: pd.DataFrame, models: str) -> str:
    return (f"- members: {models}; auto's candidate modes: {', '.join(Auto().modes)}; 4 blocks of the "
            "validation windows (forward: blocks 2-4 scored)\n\n" + to_markdown(shown(frame), floatfmt=".4f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grid_arguments(parser, data=("national_illness", "exchange_rate"), models=CLASSICAL_MEMBERS)
    args = parser.parse_args()
    grid = Grid("router_cv", "How auto chooses its mode, on data that took no part in its design",
                lambda cell: run_cell(cell, args.models), lambda frame: report(frame, args.models))
    frame = grid.run(shortest_and_longest(args.data), **run_options(args))
    print(report(frame, args.models))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
