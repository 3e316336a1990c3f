"""TimeLLM: the pieces joined, for one series per row (channel independence)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hybrid.core.backbone import Backbone
from hybrid.core.head import OutputHead
from hybrid.core.patch import PatchEmbedding, n_patches
from hybrid.core.prompt import PromptBuilder
from hybrid.core.prototypes import TextPrototypes
from hybrid.core.reprogramming import ReprogrammingLayer
from hybrid.core.revin import RevIN


@dataclass(frozen=True)
class CoreConfig:
    """The core's shape; defaults are the paper's ETTh1 settings."""

    seq_len: int
    horizon: int
    patch_len: int = 16
    stride: int = 8
    d_model: int = 32
    n_heads: int = 8
    d_ff: int = 128
    n_prototypes: int = 1000
    dropout: float = 0.1
    prompt: bool = True
    compact_prompt: bool = True  # the window statistics in 41 tokens instead of the paper's 65
    cache_prompt: bool = True  # run the prompt once without gradients and attend to its KV cache


class TimeLLM(nn.Module):
    """[B, L] look-back windows -> [B, H] forecasts.

    RevIN -> PatchEmbedding -> ReprogrammingLayer(patches, TextPrototypes) -> [prompt prefix +
    reprogrammed patches] -> frozen Backbone -> OutputHead -> RevIN undone. Only the patch
    embedding, the prototypes, the reprogramming and the head learn.
    """

    def __init__(self, config: CoreConfig, backbone: Backbone, description: str,
                 vocab_ids: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        self.revin = RevIN()
        self.patch_embedding = PatchEmbedding(config.d_model, config.patch_len, config.stride, config.dropout)
        self.prototypes = TextPrototypes(backbone.word_embeddings, config.n_prototypes, vocab_ids)
        self.reprogramming = ReprogrammingLayer(config.d_model, config.n_heads, config.d_ff, backbone.width,
                                                config.dropout)
        self.prompt = PromptBuilder(description, config.seq_len, config.horizon, config.compact_prompt)
        self.backbone = backbone
        self.head = OutputHead(n_patches(config.seq_len, config.patch_len, config.stride),
                               min(config.d_ff, backbone.width), config.horizon, config.dropout)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def prompts(self, normalized: torch.Tensor) -> tuple[list[int], list[list[int]]] | None:
        """Token ids of the prompt's shared head and of each window's statistics; None when there
        is no prompt or no backbone to read it."""
        if not self.config.prompt or self.backbone.n_layers == 0:
            return None
        encode = self.backbone.tokenizer.encode
        return encode(self.prompt.head), [encode(text) for text in self.prompt.build(normalized)]

    def forecast_batches(self, x: np.ndarray, batch_size: int, desc: str,
                         progress: bool = True) -> Iterator[tuple[slice, torch.Tensor]]:
        """Forecasts of the look-backs `x` [N, L], a batch at a time in eval mode without
        gradients: (rows of `x`, their forecasts [rows, H])."""
        self.eval()
        with torch.no_grad():
            for start in tqdm(range(0, len(x), batch_size), desc=desc, unit="batch", leave=False,
                              disable=not progress):
                rows = slice(start, start + batch_size)
                yield rows, self(torch.as_tensor(x[rows], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, stats = self.revin.normalize(x)
        prompts = self.prompts(z)
        head, per_window = prompts if prompts else (None, None)
        # With a reduced-precision backbone, the trainable layers before it multiply in that
        # precision too (mixed precision: their weights, and the head after, stay fp32).
        with torch.autocast(x.device.type, dtype=self.backbone.dtype, enabled=self.backbone.dtype != torch.float32):
            reprogrammed = self.reprogramming(self.patch_embedding(z), self.prototypes())
            hidden = self.backbone(reprogrammed, per_window, head=head, use_cache=self.config.cache_prompt)
        return self.revin.denormalize(self.head(hidden.float()), stats)
