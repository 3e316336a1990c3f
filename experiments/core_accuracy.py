"""Accuracy of the Time-LLM core against the ridge floor: test MSE/MAE and fit time per backbone.

    python -m experiments.core_accuracy [--data ETTh1] [--horizon 96]
        [--backbones smollm2-135m minilm none] [--llm-layers N] [--time-budget S]
        [--epochs N] [--sample-fraction F] [--batch-size N] [--lr LR]

Every core option left out keeps the core's default training budget (hybrid/core/defaults.py).
Each backbone is trained on the training windows with early stopping on every validation
window (the best epoch kept) and scored once on every test window. `none` is the same pipeline
without the LLM's layers: whether the LLM helps is the difference between its row and the
backbone's.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from baselines import Linear
from experiments.record import TreeMemory, write_result
from hybrid.core.forecaster import TimeLLMForecaster
from hybrid.foundation.data import load
from hybrid.product.evaluation import to_markdown
from hybrid.foundation.metrics import score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ETTh1")
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--backbones", nargs="+", default=["smollm2-135m", "minilm", "none"])
    core = ("llm_layers", int), ("time_budget", float), ("epochs", int), ("sample_fraction", float), \
        ("batch_size", int), ("lr", float)
    for name, kind in core:
        parser.add_argument("--" + name.replace("_", "-"), type=kind)
    args = parser.parse_args()
    overrides = {name: getattr(args, name) for name, _ in core if getattr(args, name) is not None}

    data = load(args.data, horizon=args.horizon)
    test, val = data.origins("test"), data.origins("val")
    models = {"linear (floor)": Linear()}
    for name in args.backbones:
        models[f"timellm/{name}"] = TimeLLMForecaster(backbone=name, **overrides)
    rows = []
    for label, model in models.items():
        with TreeMemory() as memory:
            start = time.perf_counter()
            model.fit(data)
            fit_seconds = time.perf_counter() - start
            # the core scored every val window while training; its best epoch is the one kept
            val_mse = getattr(model, "best_val_", None) or score(data, data.future(val), model.predict(data, val))["mse"]
            test_score = score(data, data.future(test), model.predict(data, test))
        rows.append({"model": label, "val_mse": val_mse, "test_mse": test_score["mse"],
                     "test_mae": test_score["mae"], "fit_seconds": fit_seconds,
                     "epochs": len(getattr(model, "history_", [])) or None, "peak_mib": memory.peak_mib})
        print(f"{label}: test MSE {test_score['mse']:.4f}, fit {fit_seconds:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    core_params = {k: v for k, v in TimeLLMForecaster(**overrides).get_params().items()
                   if k not in ("backbone", "progress", "checkpoint_dir")}
    summary = (f"- {data.name}, L = {data.seq_len}, H = {data.horizon}, all channels; every val window scored "
               f"after each epoch, every test window once at the end\n- core: {core_params}")
    path = write_result(f"core_accuracy_{data.name}_H{data.horizon}", "Time-LLM core against the ridge floor",
                        summary + "\n\n" + to_markdown(table), {"args": vars(args), "rows": rows,
                                                                "histories": {k: getattr(m, "history_", None)
                                                                              for k, m in models.items()}})
    print(to_markdown(table))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
