"""The core's user-facing defaults, in a module that imports nothing heavy: the CLI shows them in
`--help` without loading torch, and the forecaster, the trainer and the CLI read the same values.

The training budget is sized for a 2-core CPU: on ETTh1 (L = 512, H = 96, 7 channels) three
epochs of 30% of the training windows, each followed by a pass over every validation window,
fit in under half an hour with SmolLM2's first two layers (experiments/results/core_accuracy_*).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CoreDefaults:
    backbone: str = "smollm2-135m"
    llm_layers: int = 2
    precision: str = "auto"
    vocab_size: int = 1000
    n_prototypes: int = 1000
    epochs: int = 3
    batch_size: int = 32
    lr: float = 1e-3
    sample_fraction: float = 0.3
    patience: int = 2
    seed: int = 0
    hints: str = "stats"  # none | stats | text | tokens | both (hybrid/core/hints.py)
    hint_models: str = "linear,lightgbm,snaive"  # the classical models whose forecasts are hints
    residual_on: str = "none"  # none, a classical model, or best (the hint model best on validation)
    hint_folds: int = 0  # 0: in-sample hints on training windows; K >= 2: cross-fitted over K forward folds


DEFAULTS = CoreDefaults()
PRECISIONS = ("auto", "bf16", "fp32")
# none: no prompt at all; stats: the window's statistics (the paper's prompt); text: the
# statistics and a line per hint model; tokens: the statistics, and the hint models' forecasts as
# extra reprogrammed patches; both: text and tokens.
HINT_MODES = ("none", "stats", "text", "tokens", "both")
# Windows per forward pass when scoring or forecasting: larger batches allocate activations big
# enough to be fresh pages every time, and ran slower here (SmolLM2, 2 layers: 8.9 ms per window
# at 64 against 10.5 at 256).
EVAL_BATCH = 64
