"""The floor every later model must beat: seasonal naive and the closed-form ridge on one dataset
at its four horizons, on the public protocol (test MSE/MAE over every window, z-scored scale).

    python -m experiments.linear_floor [--data ETTh1] [--repeats 3]

Times are medians over `--repeats` fits.
"""

from __future__ import annotations

import argparse
import statistics

import pandas as pd

from baselines import Linear, SeasonalNaive
from experiments.record import write_result
from hybrid.foundation.data import load
from hybrid.product.evaluation import compare, to_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ETTh1")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rows = []
    horizons = load(args.data).spec.horizons
    for horizon in horizons:
        data = load(args.data, horizon=horizon)
        runs = [compare(data, [SeasonalNaive(), Linear()], progress=False) for _ in range(args.repeats)]
        test = runs[0][runs[0].split == "test"].set_index("model")
        for model in test.index:
            fit_times = [r[(r.model == model) & (r.split == "test")].fit_seconds.iloc[0] for r in runs]
            rows.append({"horizon": horizon, "model": model, "test_mse": test.loc[model, "mse"],
                         "test_mae": test.loc[model, "mae"], "fit_seconds_median": statistics.median(fit_times)})
        print(f"H={horizon}: linear test MSE {test.loc['linear', 'mse']:.4f}")
    table = pd.DataFrame(rows)
    mean = table.groupby("model")[["test_mse", "test_mae"]].mean().reset_index()
    mean.insert(0, "horizon", "mean")
    shown = pd.concat([table, mean], ignore_index=True)
    path = write_result(
        f"linear_floor_{data.name}",
        f"Linear floor on {data.name} (seq_len {data.seq_len}, split {data.split.rule})",
        to_markdown(shown),
        {"seq_len": data.seq_len, "repeats": args.repeats, "rows": shown.to_dict("records")},
    )
    print(to_markdown(shown))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
