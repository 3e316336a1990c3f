"""Accuracy of the Time-LLM core against the ridge floor: test MSE/MAE and fit time per backbone.

    python -m experiments.core_accuracy [--data ETTh1] [--horizon 96]
        [--backbones smollm2-135m minilm none] [--llm-layers N] [--time-budget S]
        [--epochs N] [--sample-fraction F] [--batch-size N] [--lr LR] [--fresh]

Every core option left out keeps the core's default (hybrid/core/config.py). A cell is the floor
or one backbone. Each backbone is trained on the training windows with early stopping on every
validation window (the best epoch kept) and scored once on every test window. `none` is the same
pipeline without the LLM's layers: whether the LLM helps is the difference between its row and
the backbone's.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from experiments.grid import Cell, Grid, in_order, one_dataset_arguments, run_options, shown
from hybrid.core.config import CoreSettings, TrainConfig
from hybrid.core.forecaster import RUNTIME_PARAMS, TimeLLMForecaster
from hybrid.foundation.data import load
from hybrid.foundation.metrics import score
from hybrid.foundation.registry import make_models
from hybrid.foundation.settings import add_flags, flag_values
from hybrid.product.evaluation import to_markdown

FLOOR = "linear (floor)"
# The core's options this benchmark takes, by settings class; the rest keep the core's defaults.
CORE_OPTIONS = ((CoreSettings, ("llm_layers",)),
                (TrainConfig, ("time_budget", "epochs", "sample_fraction", "batch_size", "lr")))


def run_cell(cell: Cell, core: dict) -> dict:
    data = cell.load()
    test, val = data.origins("test"), data.origins("val")
    if cell.config == FLOOR:
        model = make_models("linear")[0]
    else:
        model = TimeLLMForecaster(backbone=cell.config.removeprefix("timellm/"), **core)
    start = time.perf_counter()
    model.fit(data)
    fit_seconds = time.perf_counter() - start
    # the core scored every val window while training; its best epoch is the one kept
    val_mse = getattr(model, "best_val_", None) or score(data, data.future(val), model.predict(data, val))["mse"]
    test_score = score(data, data.future(test), model.predict(data, test))
    print(f"{cell}: test MSE {test_score['mse']:.4f}, fit {fit_seconds:.0f} s", flush=True)
    history = getattr(model, "history_", None)
    return {"val_mse": val_mse, "test_mse": test_score["mse"], "test_mae": test_score["mae"],
            "fit_seconds": fit_seconds, "epochs": len(history or []) or None, "history": history}


def report(frame: pd.DataFrame, header: str, configs: list[str]) -> str:
    table = in_order(frame, configs).rename(columns={"config": "model", "cell_peak_mib": "peak_mib"})
    return header + "\n\n" + to_markdown(shown(table, "dataset", "horizon", "history"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    one_dataset_arguments(parser, data="ETTh1", horizon=96)
    parser.add_argument("--backbones", nargs="+", default=["smollm2-135m", "minilm", "none"],
                        help="backbones, each a cell (default %(default)s)")
    group = parser.add_argument_group("the core")
    for cls, only in CORE_OPTIONS:
        add_flags(group, cls, only=only)
    args = parser.parse_args()
    core = {k: v for cls, only in CORE_OPTIONS for k, v in flag_values(args, cls, only=only).items()}
    data = load(args.data, horizon=args.horizon)
    shown_params = {k: v for k, v in TimeLLMForecaster(**core).get_params().items()
                    if k not in ("backbone", *RUNTIME_PARAMS)}
    header = (f"- {data.name}, L = {data.seq_len}, H = {data.horizon}, all channels; every val window scored "
              f"after each epoch, every test window once at the end\n- core: {shown_params}")
    configs = [FLOOR, *(f"timellm/{b}" for b in args.backbones)]
    grid = Grid(f"core_accuracy_{data.name}_H{data.horizon}", "Time-LLM core against the ridge floor",
                lambda cell: run_cell(cell, core), lambda frame: report(frame, header, configs),
                lambda: {"args": vars(args)})
    frame = grid.run([Cell(data.name, data.horizon, c) for c in configs], **run_options(args))
    print(report(frame, header, configs))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
