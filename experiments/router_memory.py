"""Memory of the fused forecaster on the largest dataset: the resident set at each stage of
building the router's rows and fitting its modes, members from the forecast cache.

    python -m experiments.router_memory [--data ETTm1] [--horizon 720]
                                        [--models snaive,linear,dlinear,ets,lightgbm]
                                        [--modes median stacked learned] [--fresh]

RSS (anonymous and file-backed: a mapped cache file's pages count while they are mapped) after
each stage, and the process's peak (VmHWM) so far. The grid has one cell, a row per stage.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

import pandas as pd

from experiments.grid import Cell, Grid, one_dataset_arguments, run_options, shown
from hybrid.foundation.data import load
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import CLASSICAL_MEMBERS, HybridForecaster
from router.routers import make_router

STATUS = {"VmRSS": "rss_mib", "VmHWM": "peak_mib", "RssAnon": "anon_mib", "RssFile": "file_mib"}


def _status_mib() -> dict[str, float]:
    fields = {}
    for line in open(f"/proc/{os.getpid()}/status"):
        name, _, value = line.partition(":")
        if name in STATUS:
            fields[STATUS[name]] = int(value.split()[0]) / 1024
    return fields


def run_cell(cell: Cell, models: str, modes: Sequence[str]) -> list[dict]:
    stages = []
    start = time.perf_counter()

    def record(stage: str) -> None:
        nonlocal start
        stages.append({"stage": stage, "seconds": round(time.perf_counter() - start, 1), **_status_mib()})
        print(stages[-1], flush=True)
        start = time.perf_counter()

    data = cell.load()
    fused = HybridForecaster(models, progress=True).fit_members(data)
    record("members (fitted, or read from the cache)")
    val = fused.rows(data, data.origins("val"), with_target=True)
    record("validation rows")
    test = fused.rows(data, data.origins("test"), with_target=True)
    record("test rows")
    for mode in modes:
        make_router(mode).fit(val).fuse(test)
        record(f"{mode}: fit on validation, fuse test")
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    one_dataset_arguments(parser, data="ETTm1", horizon=720)
    parser.add_argument("--models", default=CLASSICAL_MEMBERS, help="members (default %(default)s)")
    parser.add_argument("--modes", nargs="+", default=["median", "stacked", "learned"],
                        help="router modes fitted (default %(default)s)")
    args = parser.parse_args()
    data = load(args.data, horizon=args.horizon)
    # the router has a row per series (channel) and origin
    n_rows = {p: data.n_channels * len(data.origins(p)) for p in ("val", "test")}

    def report(frame: pd.DataFrame) -> str:
        return (f"- {args.data}, H = {args.horizon}, members {args.models}; {n_rows['val']} validation and "
                f"{n_rows['test']} test rows\n\n" + to_markdown(shown(frame, "dataset", "horizon"), floatfmt=".0f"))

    grid = Grid(f"router_memory_{args.data}_H{args.horizon}", "Memory of the router's rows and modes",
                lambda cell: run_cell(cell, args.models, args.modes), report, exclusive=True)
    frame = grid.run([Cell(args.data, args.horizon)], **run_options(args))
    print(report(frame))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
