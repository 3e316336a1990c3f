"""The core's settings, each default and its help once: the forecaster's parameters are the fields
below, the CLI's flags and the experiments' `--core-*` options are generated from them
(`hybrid.foundation.settings`). This module imports nothing heavy, so that `--help` does not load
torch.

The defaults make the core a member of the default run (`hybrid fit`, `hybrid forecast`, `Hybrid`):
on ETTh1 (L = 512, H = 96, 7 channels) three epochs of 10% of the training windows (at most
6,000), each scored on every 4th validation window, with 16/16 patches (32 patch tokens, not 64)
and the statistics prompt, on SmolLM2's first two layers: the lowest validation MSE of the budgets
measured, 0.6922 +- 0.0060 over 3 seeds against 0.6941 for the 3 x 30% budget before, not
significantly different, at a fifth of its fit time (experiments/results/core_budget_ETTh1_H96.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from hybrid.foundation.settings import setting

PRECISIONS = ("auto", "bf16", "fp32")
# none: no prompt at all; stats: the window's statistics (the paper's prompt); text: the
# statistics and a line per hint model; tokens: the statistics, and the hint models' forecasts as
# extra reprogrammed patches; both: text and tokens.
HINT_MODES = ("none", "stats", "text", "tokens", "both")
# Windows per forward pass when scoring or forecasting: larger batches allocate activations big
# enough to be fresh pages every time, and ran slower here (SmolLM2, 2 layers: 8.9 ms per window
# at 64 against 10.5 at 256).
EVAL_BATCH = 64


@dataclass(frozen=True, kw_only=True)
class CoreSettings:
    """What the core reads and is built on: the backbone, the vocabulary, the period, the hints."""

    backbone: str = setting("smollm2-135m", "smollm2-135m, minilm, tiny-random-llama, none (no LLM), or a "
                            "Hugging Face folder or hub name")
    llm_layers: int = setting(2, "backbone layers kept")
    precision: str = setting("auto", "the frozen backbone's precision; auto: bf16 where the CPU or GPU has it "
                             "natively, else fp32", choices=PRECISIONS)
    vocab_size: int = setting(1000, "condensed vocabulary the prototypes start from (0: the whole one)")
    period: int | None = setting(None, "a period the patches follow, as timellm@P does (hybrid.foundation.periods."
                                 "period_patching); none: --patch-len and --stride")
    hint_models: str = setting("linear,lightgbm,snaive", "classical models whose forecasts are the hints",
                               metavar="LIST")
    residual_on: str = setting("none", "the core predicts a correction to this forecast, starting at it: a "
                               "classical model's name, best (the hint model best on validation), hybrid (the hint "
                               "models fused by the router, learned on the backtest windows) or none",
                               metavar="MODEL")
    hint_folds: int = setting(0, "0: the hint models' own, in-sample, forecasts on the training windows; K >= 2: "
                              "cross-fitted over K forward folds (each block's hints from models fitted on the "
                              "rows before it; the first block's windows are left out of training)", metavar="K")


@dataclass(frozen=True, kw_only=True)
class Architecture:
    """The network's shape, read by the model (`hybrid.core.model.CoreConfig` adds the data's)."""

    patch_len: int = setting(16, "steps per patch")
    stride: int = setting(16, "steps from one patch's start to the next (the paper's 8 doubles the tokens)")
    d_model: int = setting(32, "width of the patch embedding")
    n_heads: int = setting(8, "heads of the reprogramming layer's attention")
    d_ff: int = setting(128, "width of the reprogramming layer's keys and of the backbone features the "
                        "head reads")
    n_prototypes: int = setting(1000, "text prototypes", flag="prototypes")
    dropout: float = setting(0.1, "dropout of the patch embedding, the reprogramming and the head")
    hints: str = setting("stats", "what the core reads besides the window: none (no prompt), stats (the window's "
                         "statistics, the paper's prompt), text (statistics and a line per hint model), tokens "
                         "(statistics and the hint models' forecasts as reprogrammed patches), both",
                         choices=HINT_MODES)
    compact_prompt: bool = setting(True, "word the window statistics in 41 tokens instead of the paper's 65")
    cache_prompt: bool = setting(True, "run the prompt once without gradients and attend to its key/value cache")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How the core is trained. `sample_fraction` of the training windows (at most `max_windows`),
    drawn anew each epoch (seeded), make an epoch; validation reads every `val_stride`-th window."""

    def epoch_windows(self, n_windows: int) -> int:
        """The training windows an epoch draws out of `n_windows`."""
        n = max(1, int(round(self.sample_fraction * n_windows)))
        return min(n, self.max_windows) if self.max_windows else n

    def describe(self, n_train: int, n_val: int) -> str:
        """The budget in words, for the progress: 'up to 3 epochs of 5,623 of 56,231 training windows
        (10%), each scored on 4,872 validation windows (every 4-th)'."""
        n = self.epoch_windows(n_train)
        budget = (f"up to {self.epochs} epochs of {n:,} of {n_train:,} training windows ({n / n_train:.0%}), "
                  f"each scored on {n_val:,} validation windows" + (f" (every {self.val_stride}-th)"
                                                                    if self.val_stride > 1 else ""))
        return budget + (f", within {self.time_budget:.0f} s" if self.time_budget is not None else "")

    epochs: int = setting(3, "at most this many epochs")
    batch_size: int = setting(32, "windows per step")
    lr: float = setting(1e-3, "AdamW peak learning rate")
    weight_decay: float = setting(1e-4, "AdamW weight decay")
    warmup_fraction: float = setting(0.05, "fraction of the steps the learning rate warms up over, then "
                                     "decays on a cosine")
    clip: float = setting(1.0, "gradient norm clipped to this")
    patience: int = setting(2, "epochs without a better val loss before stopping")
    sample_fraction: float = setting(0.1, "fraction of the training windows drawn for each epoch")
    max_windows: int | None = setting(6000, "at most this many training windows an epoch, whatever the "
                                      "fraction (none: no cap)", metavar="N")
    val_stride: int = setting(4, "early stopping scores every K-th validation window", metavar="K")
    # seconds for the whole fit: no epoch starts that the last one's duration says would end past it
    time_budget: float | None = setting(None, "seconds for the core's training: no epoch starts that would end "
                                        "past it (judged by the last epoch's duration); the best epoch is kept",
                                        metavar="SECONDS")
    seed: int = setting(0, "seed for initialisation and sampling")
    # score the untrained model on validation first: an epoch is then kept only if it beats the
    # start (in the residual mode the start is the base forecast, so the core never does worse
    # than its base on validation)
    score_start: bool = setting(False, "score the untrained model on validation first", cli=False)


SETTINGS = (CoreSettings, Architecture, TrainConfig)
