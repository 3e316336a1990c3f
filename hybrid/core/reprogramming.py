"""ReprogrammingLayer: patches attend to the text prototypes and come out at the backbone's width."""

from __future__ import annotations

import torch
from torch import nn


class ReprogrammingLayer(nn.Module):
    """Multi-head cross-attention: queries from patch embeddings [B, P, d_model], keys and values
    from the prototypes [K, D]; the result is projected to the backbone's width D.

    Every patch of every window attends to the same K prototypes, so the batch's patches form one
    query sequence per head: one matrix product per head instead of one per window. Dropout falls
    on the mixed values, not on the [B, heads, P, K] weights as in the paper's code: drawing a mask
    for 12M weights per batch cost a twelfth of a training step on a CPU (measured, SmolLM2, batch
    24). The weights of the last call are kept in `last_attention` [B, heads, P, K] (for
    interpretability: which prototypes a window read).
    """

    def __init__(self, d_model: int, n_heads: int, d_keys: int, d_llm: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.d_keys = d_keys
        self.query = nn.Linear(d_model, n_heads * d_keys)
        self.key = nn.Linear(d_llm, n_heads * d_keys)
        self.value = nn.Linear(d_llm, n_heads * d_keys)
        self.out = nn.Linear(n_heads * d_keys, d_llm)
        self.dropout = nn.Dropout(dropout)
        self.last_attention: torch.Tensor | None = None

    def forward(self, patches: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
        B, P, _ = patches.shape
        K = prototypes.shape[0]
        q = self.query(patches).view(B * P, self.n_heads, self.d_keys).transpose(0, 1)  # [h, B*P, e]
        k = self.key(prototypes).view(K, self.n_heads, self.d_keys).transpose(0, 1)  # [h, K, e]
        v = self.value(prototypes).view(K, self.n_heads, self.d_keys).transpose(0, 1)
        attention = torch.softmax(q @ k.transpose(1, 2) * self.d_keys ** -0.5, dim=-1)  # [h, B*P, K]
        self.last_attention = attention.detach().view(self.n_heads, B, P, K).transpose(0, 1)
        mixed = self.dropout(attention @ v)  # [h, B*P, e]
        return self.out(mixed.transpose(0, 1).reshape(B, P, self.n_heads * self.d_keys))
