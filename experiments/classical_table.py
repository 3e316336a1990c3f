"""Every classical forecaster on the public protocol: val and test MSE/MAE per dataset and horizon.

    python -m experiments.classical_table [--data ETTh1 ETTh2] [--horizons 96 192 336 720]
                                          [--models snaive,linear,...]

Forecasts come from (and go to) the forecast cache, so a re-run only re-scores; the times in the
table are those of the run that computed them (`cached` says which rows were read).
"""

from __future__ import annotations

import argparse

import pandas as pd
from tqdm.auto import tqdm

from baselines import FORECASTERS
from hybrid.foundation.cache import CachedForecaster, ForecastCache
from experiments.record import write_result
from hybrid.foundation.data import load
from hybrid.product.evaluation import compare, to_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["ETTh1", "ETTh2"])
    parser.add_argument("--horizons", nargs="+", type=int, default=[96, 192, 336, 720])
    parser.add_argument("--models", default=",".join(FORECASTERS))
    args = parser.parse_args()
    names = args.models.split(",")

    cache = ForecastCache()
    tables = []
    for dataset in args.data:
        for horizon in tqdm(args.horizons, desc=dataset, unit="horizon"):
            data = load(dataset, horizon=horizon)
            models = [CachedForecaster(FORECASTERS[n](), cache) for n in names]
            table = compare(data, models, progress=True)
            table.insert(0, "horizon", horizon)
            table.insert(0, "dataset", dataset)
            tables.append(table)
            best = table[table.split == "test"].sort_values("mse").iloc[0]
            print(f"{dataset} H={horizon}: best test MSE {best.mse:.4f} ({best.model})", flush=True)
    full = pd.concat(tables, ignore_index=True)

    test = full[full.split == "test"]
    wide = test.pivot_table(index=["dataset", "model"], columns="horizon", values="mse")
    wide["mean"] = wide.mean(axis=1)
    wide = wide.reset_index()
    wide.columns = [str(c) for c in wide.columns]
    mae = test.pivot_table(index=["dataset", "model"], columns="horizon", values="mae").mean(axis=1)
    wide["mean_mae"] = mae.to_numpy()
    detail = full[["dataset", "horizon", "model", "split", "mse", "mae", "fit_seconds", "cached"]]
    markdown = ("## Test MSE by horizon (mean over the four; mean MAE last)\n\n" + to_markdown(wide)
                + "\n\n## Every row (val and test)\n\n" + to_markdown(detail))
    path = write_result("classical_table", "Classical forecasters, every origin, public protocol",
                        markdown, {"rows": full.to_dict("records")})
    print(to_markdown(wide))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
