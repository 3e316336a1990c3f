"""How near this machine's limit the core runs: its floating-point work per training step and per
forecast, against the machine's matrix-multiply rate measured in the same run.

    python -m experiments.core_flops [--data ETTh1] [--horizon 96] [--label NAME] [--repeats 7]
        [the core's flags: --backbone, --patch-len, --stride, --hints, ...] [--fresh]

The work is counted, not estimated: torch's `FlopCounterMode` counts the multiply-adds (2 FLOPs
each) of every matrix product and attention call of one forward (a forecast batch, eval mode, no
gradients) and of one forward and backward (a training batch), by the core's parts (the paper's
names: patch embedding, text prototypes, reprogramming, backbone, output head). The rate is the
median of `--repeats` timed products of the backbone's own largest shape (its MLP's, at the batch's
tokens) in fp32 and in bf16, on every core. A phase's fraction of the peak is its counted FLOPs
over its median seconds, over the rate of the precision the core runs in (`--precision auto`:
bf16 where native, else fp32); its fraction of the bf16 rate is given beside it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from experiments.grid import Cell, Grid, one_dataset_arguments, run_options, shown
from hybrid.core.config import EVAL_BATCH, SETTINGS, TrainConfig
from hybrid.core.forecaster import TimeLLMForecaster, series_windows
from hybrid.core.patch import n_patches
from hybrid.foundation.settings import add_flags, flag_values
from hybrid.product.evaluation import to_markdown


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # the first call allocates and warms the kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_rate(rows: int, inner: int, outer: int, dtype: torch.dtype, repeats: int) -> float:
    """FLOP/s of [rows, inner] @ [inner, outer] in `dtype` (median of `repeats`)."""
    a, w = torch.randn(rows, inner, dtype=dtype), torch.randn(outer, inner, dtype=dtype)
    return 2 * rows * inner * outer / median_seconds(lambda: torch.nn.functional.linear(a, w), repeats)


def counted(run: Callable[[], object], model: torch.nn.Module) -> tuple[int, dict[str, int]]:
    """FLOPs of one call of `run`, in total and by the core's parts (the model's direct children;
    a module swapped in during the call, the prompt's keys-only last layer, is the backbone's)."""
    with FlopCounterMode(display=False, depth=2) as counter:
        run()
    children = dict(model.named_children())
    parts: dict[str, int] = {}
    for name, ops in counter.get_flop_counts().items():
        if name.count(".") == 1:
            part = name.split(".", 1)[1]
            part = part if part in children else "backbone"
            parts[part] = parts.get(part, 0) + sum(ops.values())
    return counter.get_total_flops(), parts


def measure(cell: Cell, params: dict, repeats: int) -> list[dict]:
    """A row per phase (a forecast batch, a training step): the counted FLOPs per sequence, the
    median seconds, the rate reached and its fraction of the measured peaks; the parts' shares and
    the rates in each row."""
    data = cell.load()
    core = TimeLLMForecaster(**params, progress=False)
    table = core.fit_hints(data)
    model = core.build(data)
    batch = max(EVAL_BATCH, core.batch_size)
    origins = data.origins("train")[::97][:batch]
    inputs = [torch.as_tensor(a, dtype=torch.float32)[:batch] for a in core.inputs(data, origins, table)]
    target = torch.as_tensor(series_windows(data, origins)[1], dtype=torch.float32)[:batch]
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-4)

    def forecast() -> None:
        model.eval()
        with torch.no_grad():
            model(*(a[:EVAL_BATCH] for a in inputs))

    def train_step() -> None:
        model.train()
        loss = torch.nn.functional.mse_loss(model(*(a[:core.batch_size] for a in inputs)), target[:core.batch_size])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    # tokens a sequence puts through the backbone: its own prompt part and its patches (the prompt's
    # shared head is read once per batch, through its key/value cache)
    z, stats = model.revin.normalize(inputs[0][:EVAL_BATCH])
    hints = (model.revin.rescale(inputs[1][:EVAL_BATCH], stats), inputs[2][:EVAL_BATCH]) if len(inputs) > 1 else ()
    prompts = model.prompts(z, *hints)
    head_tokens, own_tokens = (len(prompts[0]), float(np.mean([len(p) for p in prompts[1]]))) if prompts else (0, 0.0)
    patches = n_patches(data.seq_len, model.config.patch_len, model.config.stride)
    backbone = model.backbone
    width = backbone.width
    widest = max((m.out_features for m in backbone.modules() if isinstance(m, torch.nn.Linear)), default=4 * width)
    tokens = EVAL_BATCH * int(round(own_tokens + patches))
    rates = {name: matmul_rate(tokens, width, widest, dtype, repeats)
             for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    precision = "bf16" if backbone.dtype == torch.bfloat16 else "fp32"
    rows = []
    for phase, run, sequences in (("forecast batch", forecast, EVAL_BATCH), ("training step", train_step,
                                                                            core.batch_size)):
        flops, parts = counted(run, model)
        seconds = median_seconds(run, repeats)
        reached = flops / seconds
        rows.append({"phase": phase, "sequences": sequences, "gflop_per_sequence": flops / sequences / 1e9,
                     "ms_per_sequence": 1000 * seconds / sequences, "gflop_per_s": reached / 1e9,
                     "precision": precision, "fraction_of_peak": reached / rates[precision],
                     "fraction_of_bf16": reached / rates["bf16"], "fp32_gflop_per_s": rates["fp32"] / 1e9,
                     "bf16_gflop_per_s": rates["bf16"] / 1e9, "threads": torch.get_num_threads(),
                     "matmul_shape": f"[{tokens} x {width}] @ [{width} x {widest}]",
                     "parts": {k: v / max(1, sum(parts.values())) for k, v in parts.items()},
                     "backbone": f"{backbone.name} ({backbone.n_layers} layers, width {width})",
                     "patches": patches, "prompt_tokens": own_tokens, "head_tokens": head_tokens, "params": params})
    return rows


def report(frame: pd.DataFrame) -> str:
    first = frame.iloc[0]
    shares = pd.DataFrame([{"config": r["config"], "phase": r["phase"], **r["parts"]} for _, r in frame.iterrows()])
    return (f"- the core: {first['backbone']}; per sequence {first['prompt_tokens']:.1f} tokens of its own prompt and "
            f"{first['patches']} patches through the backbone, the prompt's shared head ({first['head_tokens']} "
            "tokens) once per batch through its key/value cache\n"
            f"- the peak: the backbone's widest product {first['matmul_shape']} on {first['threads']} threads, "
            "median of the repeats, measured in the same run as the row; fraction_of_peak is over the rate of "
            "the precision the core runs in\n\n"
            + to_markdown(shown(frame.assign(core=frame["config"]), "parts", "params", "backbone", "matmul_shape",
                                "threads"), floatfmt=".4f")
            + "\n\nShare of the counted FLOPs by part of the core\n\n" + to_markdown(shares, floatfmt=".3f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    one_dataset_arguments(parser, "ETTh1", horizon=96)
    parser.add_argument("--label", default="default core", help="the row's name, e.g. before / after a change "
                        "(default %(default)s)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats of each measurement (default %(default)s)")
    only = {cls: ("batch_size",) if cls is TrainConfig else None for cls in SETTINGS}  # no training budget here
    for cls in SETTINGS:
        add_flags(parser.add_argument_group(cls.__name__), cls, only=only[cls])
    args = parser.parse_args()
    params = {k: v for cls in SETTINGS for k, v in flag_values(args, cls, only=only[cls]).items()
              if v != getattr(cls, k)}
    grid = Grid(f"core_flops_{args.data}_H{args.horizon}", "The core's work against this machine's peak",
                lambda cell: measure(cell, params, args.repeats), report, exclusive=True)
    grid.run([Cell(args.data, args.horizon, args.label)], **run_options(args))
    print(f"wrote {grid.path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
