"""TimeLLM: the pieces joined, for one series per row (channel independence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from hybrid.core.backbone import Backbone
from hybrid.core.config import HINT_MODES, Architecture
from hybrid.core.distributed import gathered, shard
from hybrid.core.head import OutputHead
from hybrid.core.patch import PatchEmbedding, n_patches
from hybrid.core.prompt import PromptBuilder
from hybrid.core.prototypes import TextPrototypes
from hybrid.core.reprogramming import ReprogrammingLayer
from hybrid.core.revin import RevIN


@dataclass(frozen=True, kw_only=True)
class CoreConfig(Architecture):
    """The core's shape: its `Architecture` for this data's look-back and horizon."""

    seq_len: int
    horizon: int
    hint_models: tuple[str, ...] = ()  # the hint models, in the order of the hint arrays
    residual_on: int | None = None  # index of the hint model whose forecast the core corrects

    def __post_init__(self) -> None:
        if self.hints not in HINT_MODES:
            raise ValueError(f"unknown hints '{self.hints}'; use one of {', '.join(HINT_MODES)}")
        if (self.text_hints or self.token_hints or self.residual_on is not None) and not self.hint_models:
            raise ValueError(f"hints '{self.hints}' and a residual base need hint models")
        if self.residual_on is not None and not 0 <= self.residual_on < len(self.hint_models):
            raise ValueError(f"residual_on={self.residual_on} is not the index of a hint model")

    @property
    def prompt(self) -> bool:
        return self.hints != "none"

    @property
    def text_hints(self) -> bool:
        return self.hints in ("text", "both")

    @property
    def token_hints(self) -> bool:
        return self.hints in ("tokens", "both")

    @property
    def needs_hints(self) -> bool:
        """Whether `forward` needs the hint models' forecasts."""
        return self.text_hints or self.token_hints or self.residual_on is not None


class TimeLLM(nn.Module):
    """[B, L] look-back windows (and the hint models' forecasts [B, M, H] with their recent
    errors [B, M]) -> [B, H] forecasts.

    RevIN -> PatchEmbedding -> ReprogrammingLayer(patches, TextPrototypes) -> [prompt prefix +
    reprogrammed patches] -> frozen Backbone -> OutputHead -> RevIN undone. Only the patch
    embedding, the prototypes, the reprogramming and the head learn.

    Hints (hints.py): the text ones extend the prompt; the token ones are the hint forecasts,
    normalised with the window's own RevIN statistics, cut into patches, embedded and
    reprogrammed like the input, marked by a learned embedding per hint model, and placed
    between the prompt and the input's patches (a causal backbone lets the patches read them).
    With `residual_on`, the head predicts a correction to that hint model's forecast and starts
    at zero: before any training step the core returns the base forecast exactly.
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
        self.prompt = PromptBuilder(description, config.seq_len, config.horizon, config.compact_prompt,
                                    config.hint_models if config.text_hints else ())
        self.backbone = backbone
        n_read = n_patches(config.seq_len, config.patch_len, config.stride)
        if config.token_hints and backbone.n_layers == 0:
            # Without an LLM nothing mixes the hint tokens into the input's positions: the head
            # reads them itself, so that `none` with hints still answers "does the LLM matter".
            n_read += len(config.hint_models) * -(-config.horizon // config.patch_len)
        self.head = OutputHead(n_read, min(config.d_ff, backbone.width), config.horizon, config.dropout,
                               zero=config.residual_on is not None)
        if config.token_hints:
            # a small mark beside the reprogrammed patch it is added to
            self.hint_embedding = nn.Parameter(0.02 * torch.randn(len(config.hint_models), backbone.width))

    @property
    def device(self) -> torch.device:
        return self.prototypes.words.device

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def prompts(self, normalized: torch.Tensor, hints: torch.Tensor | None = None,
                recent_error: torch.Tensor | None = None) -> tuple[list[int], list[list[int]]] | None:
        """Token ids of the prompt's shared head and of each window's own part; None when there
        is no prompt or no backbone to read it."""
        if not self.config.prompt or self.backbone.n_layers == 0:
            return None
        encode = self.backbone.tokenizer.encode
        return encode(self.prompt.head), [encode(t) for t in self.prompt.build(normalized, hints, recent_error)]

    def forecast(self, inputs: Sequence[np.ndarray], batch_size: int, desc: str, progress: bool = True) -> np.ndarray:
        """Forecasts [N, H] for `inputs` (look-backs [N, L], then the hint arrays when the core
        reads hints), a batch at a time on the model's device, in eval mode without gradients;
        over several processes each forecasts its shard and every one gets them all
        (`hybrid.core.distributed`)."""
        mine = [a[shard(len(inputs[0]))] for a in inputs]
        out = np.empty((len(mine[0]), self.config.horizon), dtype=np.float32)
        on = self.device
        self.eval()
        with torch.no_grad():
            for start in tqdm(range(0, len(out), batch_size), desc=desc, unit="batch", leave=False,
                              disable=not progress):
                rows = slice(start, start + batch_size)
                out[rows] = self(*(torch.as_tensor(a[rows], dtype=torch.float32, device=on) for a in mine)).cpu().numpy()
        return gathered(out)

    def hint_tokens(self, hints: torch.Tensor) -> torch.Tensor:
        """Normalised hint forecasts [B, M, H] -> patch embeddings [B, M * ceil(H / patch_len), d_model]."""
        B, M, H = hints.shape
        tiles = self.patch_embedding.tiles(hints.reshape(B * M, H))
        return self.patch_embedding.embed(tiles).reshape(B, M * tiles.shape[1], -1)

    def forward(self, x: torch.Tensor, hints: torch.Tensor | None = None,
                recent_error: torch.Tensor | None = None) -> torch.Tensor:
        if self.config.needs_hints and hints is None:
            raise ValueError(f"this core reads hints ({self.config.hints}, residual_on={self.config.residual_on}): "
                             "pass the hint models' forecasts")
        z, stats = self.revin.normalize(x)
        if hints is not None:
            hints = self.revin.rescale(hints, stats)
        prompts = self.prompts(z, hints, recent_error)
        head, per_window = prompts if prompts else (None, None)
        # With a reduced-precision backbone, the trainable layers before it multiply in that
        # precision too (mixed precision: their weights, and the head after, stay fp32).
        with torch.autocast(x.device.type, dtype=self.backbone.dtype, enabled=self.backbone.dtype != torch.float32):
            embedded = self.patch_embedding(z)
            if self.config.token_hints:  # one reprogramming call for the hints' patches and the input's
                hint_patches = self.hint_tokens(hints)
                n_hint = hint_patches.shape[1]
                embedded = torch.cat([hint_patches, embedded], dim=1)
            reprogrammed = self.reprogramming(embedded, self.prototypes())
            if self.config.token_hints:
                marks = self.hint_embedding.repeat_interleave(n_hint // len(self.config.hint_models), dim=0)
                reprogrammed = torch.cat([reprogrammed[:, :n_hint] + marks, reprogrammed[:, n_hint:]], dim=1)
            hidden = self.backbone(reprogrammed, per_window, head=head, use_cache=self.config.cache_prompt)
        out = self.head(hidden.float())
        if self.config.residual_on is not None:
            out = out + hints[:, self.config.residual_on]
        return self.revin.denormalize(out, stats)
