"""statsforecast's AutoETS on the many-series file of `experiments/many_series.py`, for the ratio
of their times. Imports nothing of hybrid, so that it runs in a venv with statsforecast alone:

    python -m experiments.many_series --write-only /tmp/m4like-10000.csv --series 10000
    python3 -m venv /tmp/sfenv && /tmp/sfenv/bin/pip install statsforecast psutil
    /tmp/sfenv/bin/python experiments/statsforecast_many.py [--runs 2] /tmp/m4like-10000.csv [more files]

Adds to `experiments/results/statsforecast_many.json`, per file (a file run again replaces its row):
the seconds of each of `--runs` calls of
`StatsForecast(models=[AutoETS(season_length=12)], freq="MS", n_jobs=-1).forecast(df, h=12)` (the
first includes numba's compilation) and the peak memory of the process tree.
"""

from __future__ import annotations

import json
import platform
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import psutil


def _peak(stop: threading.Event, out: list[float]) -> None:
    me = psutil.Process()
    while not stop.is_set():
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        out[0] = max(out[0], total / 2**20)
        stop.wait(0.1)


def main() -> None:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    args = sys.argv[1:]
    runs = 2
    if args[:1] == ["--runs"]:
        runs, args = int(args[1]), args[2:]
    out = Path(__file__).resolve().parent / "results" / "statsforecast_many.json"
    try:
        rows = json.loads(out.read_text())["rows"]
    except (OSError, ValueError, KeyError):
        rows = []
    for path in args:
        df = pd.read_csv(path, parse_dates=["ds"])
        seconds = []
        stop, peak = threading.Event(), [0.0]
        watcher = threading.Thread(target=_peak, args=(stop, peak), daemon=True)
        watcher.start()
        for _ in range(runs):
            start = time.perf_counter()
            StatsForecast(models=[AutoETS(season_length=12)], freq="MS", n_jobs=-1).forecast(df=df, h=12)
            seconds.append(round(time.perf_counter() - start, 1))
        stop.set()
        watcher.join()
        row = {"file": Path(path).name, "series": int(df.unique_id.nunique()), "rows": len(df), "seconds": seconds,
               "peak_mib": round(peak[0]), "command": "python experiments/statsforecast_many.py " + " ".join(sys.argv[1:])}
        rows = [r for r in rows if r["file"] != row["file"]] + [row]
        print(row, flush=True)
        out.write_text(json.dumps({"machine": {"platform": platform.platform(), "cpu_count": psutil.cpu_count()},
                                   "statsforecast": version("statsforecast"), "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
