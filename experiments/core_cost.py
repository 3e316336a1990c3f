"""What one training sequence costs the core: the straightforward configuration (the paper's way
with this backbone: its prompt wording in the same pass, full vocabulary, fp32, transformers'
default attention) and the levers that make the default cheap, each added in turn, same
backbone and layer count, measured in one run.

    python -m experiments.core_cost [--backbone smollm2-135m] [--llm-layers 2] [--batch 24]
                                    [--vocab-size 1000] [--steps 5] [--accuracy-steps 150]
                                    [--val-stride 10] [--fresh]

A cell is one configuration (ETTh1, H = 96). A sequence is one window of one channel, forward +
backward + optimizer step. Medians over `--steps` timed steps after one warm-up step. Each
configuration runs in a fresh process, one after the other, so that its peak resident memory
(sampled every 20 ms in that process: the grid's cell_peak_mib adds this one's) is its own.

Accuracy: the straightforward and the default configuration are each trained for
`--accuracy-steps` steps from the same initial weights on the same training windows in the same
order (AdamW, the core's schedule), then scored on the validation windows of every
`--val-stride`-th origin (the straightforward reads 1,000 such windows a minute here, so every
window would take a quarter of an hour more).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from dataclasses import dataclass

import pandas as pd
import torch

from experiments.grid import Cell, Grid, in_order, run_arguments, run_options, shown
from experiments.record import TreeMemory
from hybrid.core.backbone import load_backbone, resolve_dtype
from hybrid.core.config import CoreSettings, TrainConfig
from hybrid.core.forecaster import TimeLLMForecaster, series_windows
from hybrid.core.training import Trainer
from hybrid.foundation.settings import add_flags
from hybrid.product.evaluation import to_markdown

CORE_OPTIONS = ("backbone", "llm_layers", "vocab_size")


@dataclass(frozen=True)
class Setting:
    label: str
    full_vocabulary: bool
    cache_prompt: bool
    compact_prompt: bool
    attention: str
    precision: str
    accuracy: bool = False  # also train it for --accuracy-steps and score it on validation


def settings() -> list[Setting]:
    """Each adds one lever to the one before; the last is the default configuration."""
    fast = str(resolve_dtype("auto")).removeprefix("torch.")
    return [
        Setting("straightforward (paper's prompt in the pass, full vocabulary, fp32, sdpa)",
                True, False, False, "sdpa", "fp32", accuracy=True),
        Setting("+ prompt KV cache", True, True, False, "sdpa", "fp32"),
        Setting("+ compact statistics (41 tokens, not 65)", True, True, True, "sdpa", "fp32"),
        Setting("+ condensed vocabulary", False, True, True, "sdpa", "fp32"),
        Setting("+ eager attention", False, True, True, "eager", "fp32"),
        Setting(f"default (+ {fast} backbone, mixed precision)", False, True, True, "eager", "auto",
                accuracy=True),
    ]


def measure(setting: Setting, cell: Cell, args: argparse.Namespace) -> dict:
    """Time `args.steps` training steps of one configuration (run in its own process)."""
    with TreeMemory(interval=0.02) as memory:
        data = cell.load()
        x, y = series_windows(data, data.origins("train")[:: 97][: args.batch * (args.steps + 1)])
        backbone = load_backbone(args.backbone, args.llm_layers, resolve_dtype(setting.precision), setting.attention)
        forecaster = TimeLLMForecaster(backbone=args.backbone, llm_layers=args.llm_layers,
                                       vocab_size=0 if setting.full_vocabulary else args.vocab_size)
        model = forecaster.build(data, backbone, cache_prompt=setting.cache_prompt,
                                 compact_prompt=setting.compact_prompt)
        optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-3)
        model.train()
        times = []
        for step in range(args.steps + 1):
            xb = torch.from_numpy(x[step * args.batch:(step + 1) * args.batch])
            yb = torch.from_numpy(y[step * args.batch:(step + 1) * args.batch])
            start = time.perf_counter()
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step:  # the first step warms up
                times.append(time.perf_counter() - start)
    row = {"ms_per_sequence": statistics.median(times) / args.batch * 1000,
           "trainable_params": sum(p.numel() for p in model.trainable_parameters()),
           "peak_memory_mib": memory.peak_mib, "frozen_params": sum(p.numel() for p in backbone.parameters())}
    if setting.accuracy and args.accuracy_steps:
        train = series_windows(data, data.origins("train"))
        val = series_windows(data, data.origins("val")[:: args.val_stride])
        model = forecaster.build(data, backbone, cache_prompt=setting.cache_prompt,
                                 compact_prompt=setting.compact_prompt)
        config = TrainConfig(epochs=1, batch_size=args.batch, sample_fraction=args.accuracy_steps * args.batch
                             / len(train[0]), seed=0)
        start = time.perf_counter()
        history = Trainer(model, config, progress=False).fit(train, val)
        row.update(val_mse=history[-1]["val_mse"], accuracy_seconds=time.perf_counter() - start)
    return row


def run_cell(cell: Cell, setting: Setting, args: argparse.Namespace) -> dict:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        row = pool.apply(measure, (setting, cell, args))
    print(f"{cell.config}: {row['ms_per_sequence']:.1f} ms per sequence, peak {row['peak_memory_mib']:.0f} MiB, "
          f"val MSE {row.get('val_mse', '-')}", flush=True)
    return row


def report(frame: pd.DataFrame, args: argparse.Namespace, labels: list[str]) -> str:
    table = shown(in_order(frame, labels).rename(columns={"config": "configuration"}), "dataset", "horizon",
                  "frozen_params").reset_index(drop=True)
    table["speed-up"] = table["ms_per_sequence"].iloc[0] / table["ms_per_sequence"]
    if "val_mse" in table:  # four decimals where the rest of the table shows one
        table["val_mse"] = table["val_mse"].map(lambda v: "" if v != v else f"{v:.4f}")
    summary = (f"- backbone {args.backbone}, {args.llm_layers} layers ({frame.frozen_params.iloc[0]:,} frozen "
               f"parameters), batch {args.batch}, L = 512, H = 96, torch threads {torch.get_num_threads()}\n"
               f"- straightforward / default time per sequence: {table['speed-up'].iloc[-1]:.2f}x (same run, "
               f"medians of {args.steps} steps)\n"
               f"- val_mse: after {args.accuracy_steps} training steps of {args.batch} windows from the same start, "
               f"on the validation windows of every {args.val_stride}th origin (all channels)")
    return summary + "\n\n" + to_markdown(table, floatfmt=".1f")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_flags(parser, CoreSettings, only=CORE_OPTIONS)
    parser.add_argument("--batch", type=int, default=24, help="windows per step (default %(default)s)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (default %(default)s)")
    parser.add_argument("--accuracy-steps", type=int, default=150,
                        help="training steps before the validation score (0: no score; default %(default)s)")
    add_flags(parser, TrainConfig, only=("val_stride",), defaults={"val_stride": 10})
    run_arguments(parser)
    args = parser.parse_args()
    by_label = {s.label: s for s in settings()}
    grid = Grid(f"core_cost_{args.backbone}_{args.llm_layers}l",
                "Core training cost per sequence: straightforward, each lever, default",
                lambda cell: run_cell(cell, by_label[cell.config], args),
                lambda frame: report(frame, args, list(by_label)), lambda: {"args": vars(args)}, exclusive=True)
    frame = grid.run([Cell("ETTh1", 96, label) for label in by_label], **run_options(args))
    print(report(frame, args, list(by_label)).split("\n\n")[0])
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
