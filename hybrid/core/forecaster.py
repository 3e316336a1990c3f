"""The Time-LLM core as a forecaster of the project's interface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from hybrid.core.defaults import DEFAULTS, EVAL_BATCH
from hybrid.core.backbone import Backbone, Tokenizer, load_backbone, resolve_dtype
from hybrid.core.model import CoreConfig, TimeLLM
from hybrid.core.training import TrainConfig, Trainer
from hybrid.data import Part, SeriesBundle
from hybrid.forecaster import Forecaster

# Words a forecaster's vocabulary should hold whatever its size (the condensed vocabulary).
DOMAIN_WORDS = ("rise", "fall", "up", "down", "increase", "decrease", "peak", "trough", "high", "low",
                "trend", "season", "cycle", "daily", "weekly", "steady", "stable", "volatile", "spike",
                "drop", "jump", "flat", "growth", "decline", "level", "shift", "noise", "smooth", "sharp",
                "slow", "fast", "before", "after", "morning", "evening", "night", "day", "week", "month")


def condensed_vocabulary(tokenizer: Tokenizer, vocab_size: int, size: int) -> torch.Tensor:
    """`size` token ids: the tokens of `DOMAIN_WORDS` first, then the lowest ids.

    A byte-pair vocabulary numbers its tokens in the order they were merged, i.e. roughly by
    frequency, so the lowest ids are the most frequent pieces of text.
    """
    chosen: dict[int, None] = {}
    for word in DOMAIN_WORDS:
        for variant in (word, " " + word):
            chosen.update(dict.fromkeys(tokenizer.encode(variant)))
    for token_id in range(vocab_size):
        if len(chosen) >= size:
            break
        chosen.setdefault(token_id)
    return torch.tensor(list(chosen)[:size])


def _per_series(windows: np.ndarray) -> np.ndarray:
    """[N, T, C] windows -> [C*N, T] float32 rows, channel-major: each (channel, origin) is a series."""
    return windows.astype(np.float32).transpose(2, 0, 1).reshape(-1, windows.shape[1])


def _series(data: SeriesBundle, origins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Look-backs [C*N, L] and targets [C*N, H] of every (origin, channel)."""
    return _per_series(data.history(origins)), _per_series(data.future(origins))


class TimeLLMForecaster(Forecaster):
    """Time-LLM (Jin et al., ICLR 2024) on a frozen backbone, trained on the training windows with
    early stopping on the validation windows; the best epoch's weights are kept."""

    name = "timellm"
    cache_ignores = ("checkpoint_dir", "progress")

    def __init__(self, backbone: str = DEFAULTS.backbone, llm_layers: int = DEFAULTS.llm_layers,
                 precision: str = DEFAULTS.precision, vocab_size: int | None = DEFAULTS.vocab_size,
                 n_prototypes: int = DEFAULTS.n_prototypes, patch_len: int = 16, stride: int = 8, d_model: int = 32,
                 n_heads: int = 8, d_ff: int = 128, prompt: bool = True, epochs: int = DEFAULTS.epochs,
                 batch_size: int = DEFAULTS.batch_size, lr: float = DEFAULTS.lr,
                 sample_fraction: float = DEFAULTS.sample_fraction, patience: int = DEFAULTS.patience,
                 time_budget: float | None = None, seed: int = DEFAULTS.seed, checkpoint_dir: str | None = None,
                 progress: bool = True) -> None:
        self.backbone = backbone
        self.llm_layers = llm_layers
        self.precision = precision
        self.vocab_size = vocab_size
        self.n_prototypes = n_prototypes
        self.patch_len = patch_len
        self.stride = stride
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_ff = d_ff
        self.prompt = prompt
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.sample_fraction = sample_fraction
        self.patience = patience
        self.time_budget = time_budget
        self.seed = seed
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress

    def build(self, data: SeriesBundle, backbone: Backbone | None = None, **core: object) -> TimeLLM:
        """The untrained model for this data (seeded: the same weights every time); `core`
        overrides fields of its `CoreConfig`."""
        torch.manual_seed(self.seed)
        backbone = backbone or load_backbone(self.backbone, self.llm_layers, resolve_dtype(self.precision))
        vocab_ids = None
        if self.vocab_size:
            vocab_ids = condensed_vocabulary(backbone.tokenizer, len(backbone.word_embeddings), self.vocab_size)
        description = (data.spec.description if data.spec and data.spec.description
                       else f"{data.name}: {data.n_channels} {data.freq.name} series.")
        config = CoreConfig(seq_len=data.seq_len, horizon=data.horizon, patch_len=self.patch_len,
                            stride=self.stride, d_model=self.d_model, n_heads=self.n_heads, d_ff=self.d_ff,
                            n_prototypes=self.n_prototypes, prompt=self.prompt, **core)
        return TimeLLM(config, backbone, description, vocab_ids)

    def fit(self, data: SeriesBundle) -> "TimeLLMForecaster":
        model = self.build(data)
        trainable = sum(p.numel() for p in model.trainable_parameters())
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        if self.progress:
            tqdm.write(f"timellm: backbone {model.backbone.name} ({model.backbone.n_layers} layers), "
                       f"{trainable:,} trainable and {frozen:,} frozen parameters")
        config = TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, patience=self.patience,
                             sample_fraction=self.sample_fraction, time_budget=self.time_budget, seed=self.seed)
        trainer = Trainer(model, config, Path(self.checkpoint_dir) if self.checkpoint_dir else None,
                          progress=self.progress)
        parts: dict[Part, tuple[np.ndarray, np.ndarray]] = {p: _series(data, data.origins(p)) for p in ("train", "val")}
        trainer.fit(parts["train"], parts["val"])
        trainer.restore_best()
        self.model_ = model.eval()
        self.history_ = trainer.history
        self.best_val_ = trainer.best_val
        self.n_trainable_, self.n_frozen_ = trainable, frozen
        return self

    def nearest_words(self, top: int = 5) -> list[list[str]]:
        """For each learned text prototype, the `top` vocabulary tokens closest to it (cosine)."""
        self.check_fitted()
        token = self.model_.backbone.tokenizer.token
        return [[token(int(i)) for i in row] for row in self.model_.prototypes.nearest_words(top)]

    def predict(self, data: SeriesBundle, origins: np.ndarray, batch_size: int = EVAL_BATCH) -> np.ndarray:
        self.check_fitted()
        origins = np.asarray(origins)
        x = _per_series(data.history(origins))
        out = np.empty((len(x), data.horizon), dtype=np.float32)
        for rows, forecast in self.model_.forecast_batches(x, batch_size, "timellm predict", self.progress):
            out[rows] = forecast.numpy()
        return out.reshape(data.n_channels, len(origins), data.horizon).transpose(1, 2, 0).astype(np.float64)
