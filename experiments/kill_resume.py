"""`hybrid fit` killed with -9 at random points, then rerun: the same metrics, no torn cache
entry, no process left behind.

    python -m experiments.kill_resume [--runs 20] [--seed 0]

One cold fit into an empty cache gives the reference metrics and its wall time T. Then, `runs`
times, in a cache that persists across the runs (what a user's does): a fit is started, killed
with SIGKILL after a random delay in (0, T), every process it started is checked gone within
10 s, and the fit is rerun to the end; its comparison table must equal the reference to the last
digit, and every entry in the cache must pass its checksum. The data: a seeded hourly series
of 1,500 rows, two channels; the members `snaive,linear,ets` (ets fits the channels in
worker processes), the fused forecast with its backtest blocks; look-back 96, horizon 24.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from experiments.record import write_result
from hybrid.foundation.cache import ForecastCache
from hybrid.product.evaluation import to_markdown

MODELS = "snaive,linear,ets"


def series(path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(1500)
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=len(t), freq="h"),
                  **{f"c{k}": np.sin(2 * np.pi * t / 24 + k) + 0.3 * rng.standard_normal(len(t)).cumsum() / 10
                     for k in range(2)}}).to_csv(path, index=False)


def fit(data: Path, out: Path, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "HYBRID_CACHE_DIR": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "hybrid", "fit", "--data", str(data), "--models", MODELS,
                             "--seq-len", "96", "--horizon", "24", "--out", str(out), "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def metrics(out: Path) -> list[dict]:
    table = pd.read_csv(out / "comparison.csv")
    return table.drop(columns=[c for c in table if "seconds" in c or c == "cached"]).to_dict("records")


def torn_entries(cache: Path) -> list[str]:
    """Entries whose sidecar and array disagree (the cache's own check), by key."""
    store, torn = ForecastCache(cache / "forecasts"), []
    for sidecar in (cache / "forecasts").glob("*.json"):
        shape = tuple(json.loads(sidecar.read_text())["shape"])
        if store.load(sidecar.stem, shape) is None:
            torn.append(sidecar.stem)
    return torn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        data = root / "hourly.csv"
        series(data)
        start = time.perf_counter()
        assert fit(data, root / "reference", root / "cold").wait() == 0, "the reference fit failed"
        cold = time.perf_counter() - start
        reference = metrics(root / "reference")
        cache = root / "cache"
        for run in range(args.runs):
            delay = float(rng.uniform(0.5, cold))
            process = fit(data, root / f"killed-{run}", cache)
            time.sleep(delay)
            started = [process.pid]
            try:
                started += [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
            finished_first = process.poll() is not None
            process.kill()
            process.wait()
            survivors = [p for p in psutil.wait_procs([psutil.Process(pid) for pid in started[1:]
                                                       if psutil.pid_exists(pid)], timeout=10)[1]]
            rerun = time.perf_counter()
            ok = fit(data, root / f"rerun-{run}", cache).wait() == 0
            rows.append({"run": run, "killed after s": round(delay, 1), "finished before the kill": finished_first,
                         "processes it had": len(started), "left behind": len(survivors),
                         "rerun s": round(time.perf_counter() - rerun, 1),
                         "rerun exit 0": ok, "metrics identical": ok and metrics(root / f"rerun-{run}") == reference,
                         "torn entries": len(torn_entries(cache))})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    verdict = (f"{args.runs} runs: metrics identical in {int(table['metrics identical'].sum())}, processes left "
               f"behind {int(table['left behind'].sum())}, torn cache entries {int(table['torn entries'].sum())}; "
               f"the cold fit took {cold:.1f} s.")
    write_result("kill_resume", "hybrid fit killed with -9 and rerun", verdict + "\n\n" + to_markdown(table),
                 {"cold_seconds": round(cold, 1), "runs": rows}, echo=True)


if __name__ == "__main__":
    main()
