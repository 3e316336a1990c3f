"""PatchEmbedding: cut a window into overlapping patches and embed each one."""

from __future__ import annotations

import torch
from torch import nn


def n_patches(seq_len: int, patch_len: int, stride: int) -> int:
    """Patches of a window after padding its end with `stride` copies of the last value."""
    return (seq_len + stride - patch_len) // stride + 1


class PatchEmbedding(nn.Module):
    """[B, L] -> [B, n_patches, d_model].

    As the paper's code: the window's end is padded with `stride` copies of its last value (so
    the newest values fall in a full patch), patches of `patch_len` start every `stride` steps,
    and a 1-D convolution (kernel 3, circular, no bias) across neighbouring patches embeds them.
    """

    def __init__(self, d_model: int, patch_len: int = 16, stride: int = 8, dropout: float = 0.1) -> None:
        super().__init__()
        self.patch_len = patch_len
        self.stride = stride
        self.pad = nn.ReplicationPad1d((0, stride))
        self.conv = nn.Conv1d(patch_len, d_model, kernel_size=3, padding=1, padding_mode="circular", bias=False)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="leaky_relu")
        self.dropout = nn.Dropout(dropout)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """The raw patches [B, n_patches, patch_len]."""
        return self.pad(x.unsqueeze(1)).squeeze(1).unfold(-1, self.patch_len, self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patches(x)
        return self.dropout(self.conv(p.transpose(1, 2)).transpose(1, 2))
