"""Fit the tiny core and write its test forecast: run as one process, or as several by torchrun
(tests/core/test_distributed.py compares them). Rank 0 writes `<out>.npy` and `<out>.json`."""

import json
import sys

import numpy as np

from hybrid.core.distributed import accelerator, is_main
from hybrid.core.forecaster import TimeLLMForecaster
from hybrid.foundation.data import load
from tests.conftest import wide_frame

if __name__ == "__main__":
    out = sys.argv[1]
    data = load(wide_frame(n=600, noise=0.1), seq_len=48, horizon=12)
    # no dropout: a process's share of a batch would draw other masks than the whole batch in one process
    core = TimeLLMForecaster(backbone="tiny-random-llama", n_prototypes=16, vocab_size=64, d_ff=32, d_model=16,
                             n_heads=2, dropout=0.0, epochs=2, sample_fraction=0.5, batch_size=16, precision="fp32",
                             progress=False).fit(data)
    forecast = core.predict(data, data.origins("test"))
    if is_main():
        np.save(f"{out}.npy", forecast)
        with open(f"{out}.json", "w") as f:
            json.dump({"processes": accelerator().num_processes, "backend": str(accelerator().distributed_type),
                       "history": core.history_}, f)
