"""Memory of the fused forecaster on the largest dataset: the resident set at each stage of
building the router's rows and fitting its modes, members from the forecast cache.

    python -m experiments.router_memory [--data ETTm1] [--horizon 720]
                                        [--models snaive,linear,dlinear,ets,lightgbm]
                                        [--modes median stacked learned]

RSS (anonymous and file-backed: a mapped cache file's pages count while they are mapped) after
each stage, and the process's peak (VmHWM) so far.
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

from experiments.record import write_result
from hybrid.foundation.data import load
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import DEFAULT_MEMBERS, HybridForecaster
from router.routers import make_router


def _status_mib() -> dict[str, float]:
    fields = {}
    for line in open(f"/proc/{os.getpid()}/status"):
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ETTm1")
    parser.add_argument("--horizon", type=int, default=720)
    parser.add_argument("--models", default=DEFAULT_MEMBERS)
    parser.add_argument("--modes", nargs="+", default=["median", "stacked", "learned"])
    args = parser.parse_args()
    stages = []

    def record(stage: str, start: float) -> None:
        stages.append({"stage": stage, "seconds": round(time.perf_counter() - start, 1), **_status_mib()})
        print(stages[-1], flush=True)

    start = time.perf_counter()
    data = load(args.data, horizon=args.horizon)
    fused = HybridForecaster(args.models, progress=True).fit_members(data)
    record("members (fitted, or read from the cache)", start)
    start = time.perf_counter()
    val = fused.rows(data, data.origins("val"), with_target=True)
    record("validation rows", start)
    start = time.perf_counter()
    test = fused.rows(data, data.origins("test"), with_target=True)
    record("test rows", start)
    for mode in args.modes:
        start = time.perf_counter()
        make_router(mode).fit(val).fuse(test)
        record(f"{mode}: fit on validation, fuse test", start)
    table = pd.DataFrame(stages).rename(columns={"VmRSS": "rss_mib", "VmHWM": "peak_mib", "RssAnon": "anon_mib",
                                                 "RssFile": "file_mib"})
    markdown = (f"- {args.data}, H = {args.horizon}, members {args.models}; {len(val)} validation and {len(test)} "
                "test rows\n\n" + to_markdown(table, floatfmt=".0f"))
    write_result(f"router_memory_{args.data}_H{args.horizon}", "Memory of the router's rows and modes", markdown,
                 {"rows": stages}, echo=True)


if __name__ == "__main__":
    main()
