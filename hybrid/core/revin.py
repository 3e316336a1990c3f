"""RevIN: reversible instance normalisation (Kim et al., ICLR 2022)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class InstanceStats:
    """Mean and standard deviation of each series' look-back window, [B, 1]."""

    mean: torch.Tensor
    std: torch.Tensor


class RevIN(nn.Module):
    """Normalise each look-back window by its own mean and spread, and undo it on the forecast.

    Windows [B, L] (one series each: channel independence). The statistics are detached, as in
    the paper's code: they shift and scale the problem, they are not learned through. With
    `affine`, one learned scale and shift, shared by every series (a window does not say which
    channel it came from).
    """

    def __init__(self, eps: float = 1e-5, affine: bool = False) -> None:
        super().__init__()
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(1))
            self.bias = nn.Parameter(torch.zeros(1))

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, InstanceStats]:
        mean = x.mean(dim=1, keepdim=True).detach()
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps).detach()
        z = (x - mean) / std
        if self.affine:
            z = z * self.weight + self.bias
        return z, InstanceStats(mean, std)

    def rescale(self, y: torch.Tensor, stats: InstanceStats) -> torch.Tensor:
        """Other values of the same windows ([B, ...], e.g. forecasts of them) on the windows'
        normalised scale: `denormalize` returns them exactly."""
        shape = (-1,) + (1,) * (y.dim() - 1)
        y = (y - stats.mean.reshape(shape)) / stats.std.reshape(shape)
        if self.affine:
            y = y * self.weight + self.bias
        return y

    def denormalize(self, y: torch.Tensor, stats: InstanceStats) -> torch.Tensor:
        if self.affine:
            y = (y - self.bias) / (self.weight + self.eps)
        return y * stats.std + stats.mean
