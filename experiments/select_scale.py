"""`select` on many short series: a long frame (unique_id, ds, y) of N hourly series of about 300
points, sharing their dates or not (different starts and lengths), timed end to end.

    python -m experiments.select_scale [--series 1000] [--models snaive,linear,dlinear]

The series are noisy daily sines, a third of them with a trend, so the recommendations differ.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from experiments.record import write_result
from hybrid.product.evaluation import to_markdown
from hybrid.product.select import select


def long_frame(n_series: int, ragged: bool, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_series):
        n = 300 + (k % 50 if ragged else 0)
        t = np.arange(n)
        y = np.sin(2 * np.pi * (t + k) / 24) + 0.01 * (k % 3) * t + 0.2 * rng.standard_normal(n)
        start = pd.Timestamp("2021-01-01") + pd.Timedelta(hours=k % 7 if ragged else 0)
        parts.append(pd.DataFrame({"unique_id": f"id{k}", "ds": pd.date_range(start, periods=n, freq="h"), "y": y}))
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--models", default="snaive,linear,dlinear")
    args = parser.parse_args()
    rows = []
    for ragged in (False, True):
        frame = long_frame(args.series, ragged)
        start = time.perf_counter()
        selection = select(frame, models=args.models, cache=False, progress=False)
        seconds = time.perf_counter() - start
        counts = selection.table().recommended.value_counts().to_dict()
        rows.append({"series": args.series, "dates": "different" if ragged else "shared", "seconds": round(seconds, 1),
                     "recommended": ", ".join(f"{k} {v}" for k, v in counts.items()),
                     "router": selection.mode.splitlines()[0]})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    path = write_result("select_scale", "select on many short series", f"- models: {args.models}\n\n" + to_markdown(table),
                        {"rows": rows})
    print(to_markdown(table))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
