"""What a training sequence costs the core under each hint setting of the ablation, timed with
nothing else on the machine (the ablation's own fits share their time with whatever else runs).

    python -m experiments.hint_timing [--data ETTh1] [--horizons 96 336] [--rows ...]
                                      [--sample-fraction 0.01] [--repeats 3]

Each row of `experiments.hint_ablation` is fitted `--repeats` times for one epoch on
`--sample-fraction` of the training windows (the early stop reads every 200th validation origin,
outside the timed part); ms per training sequence is the epoch's training time over its windows
(forward, backward and optimizer step, hints included), and the median over the repeats is
reported, with the fastest and slowest.
"""

from __future__ import annotations

import argparse
import statistics

import pandas as pd

from experiments.hint_ablation import ROWS, ms_per_training_sequence
from experiments.record import write_result
from hybrid.foundation.data import load
from hybrid.product.evaluation import to_markdown

# the cross-fitted rows train on the same inputs as their plain twins: the same cost per sequence
TIMED = tuple(k for k, r in ROWS.items() if not r.hint_folds)


def ms_per_sequence(row_key: str, data, sample_fraction: float) -> float:
    model = ROWS[row_key].core(epochs=1, sample_fraction=sample_fraction, val_stride=200, progress=False).fit(data)
    return ms_per_training_sequence(model.history_)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ETTh1")
    parser.add_argument("--horizons", nargs="+", type=int, default=[96, 336])
    parser.add_argument("--rows", nargs="+", choices=TIMED, default=list(TIMED))
    parser.add_argument("--sample-fraction", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for horizon in args.horizons:
        data = load(args.data, horizon=horizon)
        for key in args.rows:
            times = [ms_per_sequence(key, data, args.sample_fraction) for _ in range(args.repeats)]
            rows.append({"dataset": args.data, "horizon": horizon, "row": key, "model": ROWS[key].label,
                         "ms_per_train_sequence": statistics.median(times), "fastest": min(times),
                         "slowest": max(times)})
            print(f"{args.data} H={horizon} {key}: {rows[-1]['ms_per_train_sequence']:.1f} ms per sequence", flush=True)
    frame = pd.DataFrame(rows)
    base = frame[frame.row == "none"].set_index("horizon").ms_per_train_sequence
    frame["against_no_prompt"] = [r.ms_per_train_sequence / base[r.horizon] if r.horizon in base else float("nan")
                                  for r in frame.itertuples()]
    markdown = (f"- SmolLM2, 2 layers, batch 24; one epoch of {args.sample_fraction:.0%} of the training windows, "
                f"{args.repeats} repeats (median; fastest and slowest beside it); against_no_prompt: the median "
                "over the no-prompt row's at the same horizon\n\n" + to_markdown(frame, floatfmt=".2f"))
    write_result("hint_timing", "The core's cost per training sequence under each hint setting", markdown,
                 {"rows": rows}, echo=True)


if __name__ == "__main__":
    main()
