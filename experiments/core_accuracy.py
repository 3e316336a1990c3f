"""Accuracy of the Time-LLM core against the ridge floor: test MSE/MAE and fit time per backbone.

    python -m experiments.core_accuracy [--data ETTh1] [--horizon 96]
        [--backbones smollm2-135m minilm none] [--llm-layers 6] [--time-budget 1800]
        [--epochs 10] [--sample-fraction 0.25] [--batch-size 32] [--lr 1e-3]

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
from hybrid.data import load
from hybrid.evaluation import to_markdown
from hybrid.metrics import score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ETTh1")
    parser.add_argument("--horizon", type=int, default=96)
    parser.add_argument("--backbones", nargs="+", default=["smollm2-135m", "minilm", "none"])
    parser.add_argument("--llm-layers", type=int, default=6)
    parser.add_argument("--time-budget", type=float, default=1800.0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--sample-fraction", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    data = load(args.data, horizon=args.horizon)
    test, val = data.origins("test"), data.origins("val")
    models = {"linear (floor)": Linear()}
    for name in args.backbones:
        models[f"timellm/{name}"] = TimeLLMForecaster(
            backbone=name, llm_layers=args.llm_layers, epochs=args.epochs, batch_size=args.batch_size,
            lr=args.lr, sample_fraction=args.sample_fraction, time_budget=args.time_budget)
    rows = []
    for label, model in models.items():
        with TreeMemory() as memory:
            start = time.perf_counter()
            model.fit(data)
            fit_seconds = time.perf_counter() - start
            val_score = score(data, data.future(val), model.predict(data, val))
            test_score = score(data, data.future(test), model.predict(data, test))
        rows.append({"model": label, "val_mse": val_score["mse"], "test_mse": test_score["mse"],
                     "test_mae": test_score["mae"], "fit_seconds": fit_seconds,
                     "epochs": len(getattr(model, "history_", [])) or None, "peak_mib": memory.peak_mib})
        print(f"{label}: test MSE {test_score['mse']:.4f}, fit {fit_seconds:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    summary = (f"- {data.name}, L = {data.seq_len}, H = {data.horizon}, all channels; core: {args.llm_layers} "
               f"layers, at most {args.epochs} epochs of {args.sample_fraction:.0%} of the training windows, "
               f"time budget {args.time_budget:.0f} s, batch {args.batch_size}, lr {args.lr}")
    path = write_result(f"core_accuracy_{data.name}_H{data.horizon}", "Time-LLM core against the ridge floor",
                        summary + "\n\n" + to_markdown(table), {"args": vars(args), "rows": rows,
                                                                "histories": {k: getattr(m, "history_", None)
                                                                              for k, m in models.items()}})
    print(to_markdown(table))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
