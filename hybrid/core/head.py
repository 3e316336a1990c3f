"""OutputHead: flatten the backbone's outputs at the patch positions and project to the horizon."""

from __future__ import annotations

import torch
from torch import nn


class OutputHead(nn.Module):
    """[B, T, D] -> [B, H] from the last `n_patches` positions and their first `d_ff` features.

    Keeping only d_ff of the D features (as the paper's code) keeps the head small: its weight is
    d_ff x n_patches x H.
    """

    def __init__(self, n_patches: int, d_ff: int, horizon: int, dropout: float = 0.1, zero: bool = False) -> None:
        super().__init__()
        self.n_patches = n_patches
        self.d_ff = d_ff
        self.linear = nn.Linear(n_patches * d_ff, horizon)
        if zero:  # a correction that starts at nothing (the residual mode)
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = hidden[:, -self.n_patches:, : self.d_ff]  # [B, P, d_ff]
        return self.dropout(self.linear(h.transpose(1, 2).flatten(1)))  # d_ff-major, as the paper's code
