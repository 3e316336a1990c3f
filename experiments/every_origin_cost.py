"""What it costs to forecast from every origin: each classical model cold (fit + every-origin
forecast), then warm (read from the cache), against refitting per origin.

    python -m experiments.every_origin_cost [--data ETTh1] [--horizon 96] [--naive-origins 3] [--fresh]

A cell is one classical model. The cold fits use a fresh, empty cache folder (forecasts and
ARIMA's order search). The naive alternative — refitting the model at each origin on the rows
before it, then forecasting — is timed on `--naive-origins` test origins of one channel and
extrapolated to every origin of every channel: those figures are extrapolations, not
measurements of a full run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

from experiments.grid import Cell, Grid, one_dataset_arguments, run_options, shown
from experiments.record import peak_memory_mib
from hybrid.foundation.cache import CachedForecaster, ForecastCache
from hybrid.foundation.data import SeriesBundle, load
from hybrid.foundation.registry import make_models, names
from hybrid.product.evaluation import to_markdown


def _refit_arima(model, data: SeriesBundle, t: int, c: int) -> None:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    spec = model.specs_[c]
    y = data.values[max(0, t - model.fit_rows):t, c]
    fitted = SARIMAX(y, order=tuple(spec["order"]), seasonal_order=tuple(spec["seasonal_order"]),
                     trend=spec["trend"]).fit(disp=False, maxiter=50)
    fitted.forecast(data.horizon)


def _refit_ets(model, data: SeriesBundle, t: int, c: int) -> None:
    from baselines.ets import ets_model

    spec = model.specs_[c]
    ets_model(data.values[:t, c], spec).fit(disp=False).forecast(data.horizon)


def _refit_prophet(model, data: SeriesBundle, t: int, c: int) -> None:
    from baselines.prophet import fit_prophet

    rows = slice(t - data.horizon, t)  # a stand-in val slice: the selection is not what is timed
    fit_prophet((data.timestamps[:t], data.values[:t, c]), (data.timestamps[rows], data.values[rows, c]),
         (model.growth_[c],), {"changepoint_prior_scale": model.changepoint_prior_scale,
                               "seasonality_mode": model.seasonality_mode})


REFIT = {"arima": _refit_arima, "ets": _refit_ets, "prophet": _refit_prophet}


def run_cell(cell: Cell, cache: ForecastCache, naive_origins: int) -> dict:
    data = cell.load()
    start = time.perf_counter()
    cold = CachedForecaster(make_models(cell.config)[0], cache).fit(data)
    row = {"cold_seconds": time.perf_counter() - start}
    assert not cold.from_cache_
    start = time.perf_counter()
    assert CachedForecaster(make_models(cell.config)[0], cache).fit(data).from_cache_
    row["warm_seconds"] = time.perf_counter() - start
    print(f"  {cell.config}: {row['cold_seconds']:.1f} s cold, {row['warm_seconds']:.2f} s warm", flush=True)
    refit = REFIT.get(cell.config)
    if refit is not None:
        test = data.origins("test")
        times = []
        for t in test[np.linspace(0, len(test) - 1, naive_origins).astype(int)]:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                refit(cold.model, data, int(t), data.n_channels - 1)
            times.append(time.perf_counter() - start)
        row["refit_seconds_per_origin"] = statistics.median(times)
        row["refit_hours_extrapolated"] = (row["refit_seconds_per_origin"] * len(data.every_origin())
                                           * data.n_channels / 3600)
    # the peaks so far of this process alone and of its largest worker (the cell's tree: cell_peak_mib)
    return {**row, "main_peak_mib": round(peak_memory_mib(), 1),
            "largest_worker_peak_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def report(frame: pd.DataFrame, data: SeriesBundle, naive_origins: int) -> str:
    summary = (f"- origins: {len(data.every_origin())} (train, val and test) x {data.n_channels} channels, "
               f"H = {data.horizon}\n"
               f"- cold, all models: {frame.cold_seconds.sum():.1f} s; warm, all models: "
               f"{frame.warm_seconds.sum():.2f} s\n"
               f"- peak memory of the cold fits (main process and its workers together, sampled every 0.1 s; "
               f"the largest model's cell): {frame.cell_peak_mib.max()} MiB; peaks of the main process alone "
               f"{frame.main_peak_mib.max()} MiB, of the largest worker {frame.largest_worker_peak_mib.max()} MiB\n"
               f"- refit columns: median of {naive_origins} test origins on channel "
               f"{data.columns[-1]}, extrapolated to every origin and channel (not measured in full). "
               "ARIMA's refit re-estimates the parameters of the chosen order (no new order search); "
               "ETS refits the chosen form; Prophet refits with the chosen growth.")
    table = shown(frame.rename(columns={"config": "model"}), "dataset", "horizon", "main_peak_mib",
                  "largest_worker_peak_mib")
    return summary + "\n\n" + to_markdown(table, floatfmt=".3f")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    one_dataset_arguments(parser, data="ETTh1", horizon=96)
    parser.add_argument("--naive-origins", type=int, default=3,
                        help="test origins the refit per origin is timed on (default %(default)s)")
    args = parser.parse_args()
    cold_dir = tempfile.mkdtemp(prefix="hybrid-cold-")
    os.environ["HYBRID_CACHE_DIR"] = cold_dir  # ARIMA's order memo starts empty too
    data = load(args.data, horizon=args.horizon)
    print(f"{data.name}: {len(data.every_origin())} origins x {data.n_channels} channels, H={data.horizon}; "
          f"cache {cold_dir}")
    cache = ForecastCache()
    grid = Grid(f"every_origin_cost_{data.name}_H{data.horizon}",
                f"Every-origin forecasts on {data.name}: cold, warm and refit-per-origin cost",
                lambda cell: run_cell(cell, cache, args.naive_origins),
                lambda frame: report(frame, data, args.naive_origins),
                lambda: {"n_origins": len(data.every_origin())}, exclusive=True)
    frame = grid.run([Cell(data.name, data.horizon, m) for m in names("classical")], **run_options(args))
    print(report(frame, data, args.naive_origins))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
