"""The core on one process or several, through Hugging Face `accelerate`.

One process (a plain `python -m hybrid ...`) trains and forecasts on the GPU where there is one,
else on the CPU. Launched as several (`accelerate launch --multi_gpu --num_processes N -m hybrid
...` on GPUs, or `torchrun --nproc-per-node N` on CPUs, where the processes talk over gloo) the
training is data-parallel: each process computes the loss of its share of every batch and the
gradients are averaged over the processes, so that a step is the one-process step on the whole
batch; validation and the every-origin forecast are split into contiguous shards, one per
process, and gathered in order on every process.
"""

from __future__ import annotations

import functools

import numpy as np
import torch


@functools.cache
def accelerator():
    """This process's `accelerate.Accelerator` (one per process): its device and its place among the processes."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    # the frozen backbone's buffers (its word embeddings) are the same in every process: not sent each step
    return Accelerator(cpu=not torch.cuda.is_available(),
                       kwargs_handlers=[DistributedDataParallelKwargs(broadcast_buffers=False)])


def device() -> torch.device:
    return accelerator().device


def shard(n: int) -> slice:
    """This process's contiguous part of n rows (the processes' parts, in rank order, make all n)."""
    acc = accelerator()
    edges = np.linspace(0, n, acc.num_processes + 1).round().astype(int)
    return slice(int(edges[acc.process_index]), int(edges[acc.process_index + 1]))


def gathered(part: np.ndarray) -> np.ndarray:
    """Every process's `part` (from `shard`), concatenated in rank order, on every process."""
    acc = accelerator()
    if acc.num_processes == 1:
        return part
    from accelerate.utils import gather_object

    return np.concatenate(gather_object([part]), axis=0)


def is_main() -> bool:
    """Whether this process writes what the run writes (checkpoints, result files)."""
    return accelerator().is_main_process
