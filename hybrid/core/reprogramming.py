"""ReprogrammingLayer: patches attend to the text prototypes and come out at the backbone's width."""

from __future__ import annotations

import math

import torch
from torch import nn


class ReprogrammingLayer(nn.Module):
    """Multi-head cross-attention: queries from patch embeddings [B, P, d_model], keys and values
    from the prototypes [K, D]; the result is projected to the backbone's width D.

    The attention weights [B, heads, P, K] of the last call are kept in `last_attention` (for
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
        q = self.query(patches).view(B, P, self.n_heads, self.d_keys)
        k = self.key(prototypes).view(K, self.n_heads, self.d_keys)
        v = self.value(prototypes).view(K, self.n_heads, self.d_keys)
        scores = torch.einsum("bphe,khe->bhpk", q, k) / math.sqrt(self.d_keys)
        attention = torch.softmax(scores, dim=-1)
        self.last_attention = attention.detach()
        mixed = torch.einsum("bhpk,khe->bphe", self.dropout(attention), v)
        return self.out(mixed.reshape(B, P, self.n_heads * self.d_keys))
