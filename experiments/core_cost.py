"""What one training sequence costs the core: the default configuration against the
straightforward one (prompt in the same pass with gradients flowing through it, full
vocabulary), same backbone and layer count, timed in one run.

    python -m experiments.core_cost [--backbone smollm2-135m] [--llm-layers 6] [--batch 24]
                                    [--vocab-size 1000] [--steps 5]

A sequence is one window of one channel, forward + backward + optimizer step. Medians over
`--steps` timed steps after one warm-up step; peak memory is the growth of this process's peak
resident memory during each configuration's steps (the first configuration loads the backbone).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import pandas as pd
import torch

from experiments.record import peak_memory_mib, write_result
from hybrid.core.backbone import load_backbone
from hybrid.core.forecaster import TimeLLMForecaster, _series
from hybrid.data import load
from hybrid.evaluation import to_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="smollm2-135m")
    parser.add_argument("--llm-layers", type=int, default=6)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--vocab-size", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()

    data = load("ETTh1", horizon=96)
    x, y = _series(data, data.origins("train")[:: 97][: args.batch * (args.steps + 1)])
    backbone = load_backbone(args.backbone, args.llm_layers)
    configs = {
        "default (prompt KV cache, condensed vocabulary)": {"vocab_size": args.vocab_size, "cache": True},
        "straightforward (prompt in the pass, full vocabulary)": {"vocab_size": None, "cache": False},
    }
    rows = []
    for label, cfg in configs.items():
        forecaster = TimeLLMForecaster(backbone=args.backbone, llm_layers=args.llm_layers,
                                       vocab_size=cfg["vocab_size"])
        model = forecaster.build(data, backbone)
        model.config = dataclasses.replace(model.config, cache_prompt=cfg["cache"])
        optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-3)
        model.train()
        before = peak_memory_mib()
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
        per_seq = statistics.median(times) / args.batch * 1000
        trainable = sum(p.numel() for p in model.trainable_parameters())
        rows.append({"configuration": label, "ms_per_sequence": per_seq, "trainable_params": trainable,
                     "peak_growth_mib": peak_memory_mib() - before})
        print(f"{label}: {per_seq:.1f} ms per sequence, {trainable:,} trainable", flush=True)
    ratio = rows[1]["ms_per_sequence"] / rows[0]["ms_per_sequence"]
    frozen = sum(p.numel() for p in backbone.parameters())
    summary = (f"- backbone {args.backbone}, {args.llm_layers} layers ({frozen:,} frozen parameters), fp32, "
               f"batch {args.batch}, L = 512, H = 96, torch threads {torch.get_num_threads()}\n"
               f"- straightforward / default time per sequence: {ratio:.2f}x (same run, medians of "
               f"{args.steps} steps)")
    path = write_result(f"core_cost_{args.backbone}_{args.llm_layers}l",
                        "Core training cost per sequence: default against straightforward",
                        summary + "\n\n" + to_markdown(pd.DataFrame(rows), floatfmt=".1f"),
                        {"ratio": ratio, "rows": rows, "args": vars(args)})
    print(summary)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
