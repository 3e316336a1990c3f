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

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """Raw patches [B, n, patch_len] -> embeddings [B, n, d_model]."""
        return self.dropout(self.conv(patches.transpose(1, 2)).transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.patches(x))

    def tiles(self, x: torch.Tensor) -> torch.Tensor:
        """Non-overlapping patches [B, ceil(T / patch_len), patch_len] of [B, T], the end padded
        with copies of the last value: how a hint forecast is cut (half the tokens of the
        overlapping cut, and a hint is read for every window)."""
        pad = (-x.shape[-1]) % self.patch_len
        if pad:
            x = torch.cat([x, x[:, -1:].expand(-1, pad)], dim=-1)
        return x.unfold(-1, self.patch_len, self.patch_len)
