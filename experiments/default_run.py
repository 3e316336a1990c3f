"""The default run as a user meets it: `hybrid fit --data ETTh1` with every default member (the
classical ones and the core), from a cold forecast cache, timed end to end.

    python -m experiments.default_run [--data ETTh1] [--runs 3] [--args ...]

Each run is the command in a process of its own with an empty forecast cache (the backbone's
converted weights, a one-time step of the first use, are copied in beforehand), one run at a time
with the whole machine. The row keeps the run's wall seconds, the peak memory of its process tree,
and from its comparison.csv each member's fit seconds and the test MSE of the core, the best
member and the fused forecast.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from experiments.grid import Cell, Grid, one_dataset_arguments, run_options
from hybrid.foundation.paths import cache_dir
from hybrid.product.evaluation import to_markdown


def run_cell(cell: Cell, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "out"
        backbones = cache_dir() / "backbones"
        if backbones.is_dir():
            shutil.copytree(backbones, cache / "backbones")
        command = [sys.executable, "-m", "hybrid", "fit", "--data", cell.dataset, "--out", str(out), "--quiet",
                   *(["--horizon", str(cell.horizon)] if cell.horizon else []), *extra]
        start = time.perf_counter()
        subprocess.run(command, check=True, env={**os.environ, "HYBRID_CACHE_DIR": str(cache)})
        seconds = time.perf_counter() - start
        table = pd.read_csv(out / "comparison.csv")
    test = table[table.split == "test"].set_index("model")
    members = test.drop(index="hybrid", errors="ignore")
    best = members.mse.idxmin()
    return {"command": " ".join(["hybrid", *command[3:]]).replace(str(out), "OUT"), "seconds": seconds,
            "core_test_mse": test.mse.get("timellm"), "best_member": best, "best_member_test_mse": members.mse[best],
            "hybrid_test_mse": test.mse.get("hybrid"),
            "fit_seconds": {m: round(float(s), 1) for m, s in test.fit_seconds.items()}}


def report(frame: pd.DataFrame) -> str:
    shown = frame[["seed", "seconds", "cell_peak_mib", "core_test_mse", "best_member", "best_member_test_mse",
                   "hybrid_test_mse"]].rename(columns={"seed": "run", "cell_peak_mib": "peak_mib"})
    median = frame["seconds"].median()
    fits = pd.DataFrame(list(frame["fit_seconds"])).median().sort_values(ascending=False)
    return (f"- command: `{frame['command'].iloc[0]}` in a fresh process, from an empty forecast cache\n"
            f"- median of {len(frame)} runs: **{median:.0f} s ({median / 60:.1f} min)**\n\n"
            + to_markdown(shown, floatfmt=".4f") + "\n\nEach model's fit seconds as comparison.csv reports them "
            "(a member's fit and its every-origin forecast; hybrid: the backtest blocks' fits and the router), "
            "median over the runs\n\n" + to_markdown(fits.rename("fit_seconds").rename_axis("model").reset_index(),
                                                     floatfmt=".1f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    one_dataset_arguments(parser, data="ETTh1", horizon=96)
    parser.add_argument("--runs", type=int, default=3, help="runs, each from a cold cache (default %(default)s)")
    parser.add_argument("--args", nargs=argparse.REMAINDER, default=[], help="more flags of hybrid fit")
    args = parser.parse_args()
    grid = Grid(f"default_run_{args.data}_H{args.horizon}", "The default run, timed from a cold cache",
                lambda cell: run_cell(cell, args.args), report, lambda: {"args": vars(args)}, exclusive=True)
    frame = grid.run([Cell(args.data, args.horizon, " ".join(args.args), seed=r) for r in range(args.runs)],
                     **run_options(args))
    print(report(frame))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
