"""PromptBuilder: the text placed before the reprogrammed patches (prompt-as-prefix)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

# The prompt is a head, the same for every window of a dataset (read once, its cache reused),
# and the window's statistics, which the backbone reads for every window of every step. The
# compact statistics say what the paper's do in 41 tokens instead of 65 (SmolLM2's tokenizer):
# one decimal, no filler words, no end marker.
HEAD = (
    "<|start_prompt|>Dataset description: {description} "
    "Task description: forecast the next {horizon} steps given the previous {seq_len} steps "
    "information; Input statistics:"
)
STATISTICS = " min {min:.1f}, max {max:.1f}, median {median:.1f}, trend {trend}, top lags {lags}."
PAPER_STATISTICS = (
    " min value {min:.2f}, max value {max:.2f}, median value {median:.2f}, the trend of input is "
    "{trend}, top 5 lags are : {lags}<|end_prompt|>"
)


@dataclass(frozen=True)
class WindowStatistics:
    """What the prompt says about one window (on the RevIN-normalised scale, as the paper)."""

    min: float
    max: float
    median: float
    trend: str  # "upward" or "downward": the sign of the least-squares slope
    lags: tuple[int, ...]  # the 5 lags with the highest autocorrelation, strongest first


def window_statistics(x: torch.Tensor, n_lags: int = 5) -> list[WindowStatistics]:
    """Statistics of each window of [B, L], computed for the whole batch at once.

    Lags come from the FFT autocorrelation over lags 1 .. L//2, zero-padded (linear, not
    circular) and divided by the number of overlapping pairs. Local peaks of it rank first: the
    raw top-5 of a smooth series is lags 1..5 (neighbours are alike), which says nothing about
    its periods. The paper's code also ranks lag 0 and the circular mirrors L-k.
    """
    B, L = x.shape
    t = torch.arange(L, dtype=x.dtype) - (L - 1) / 2
    slope = ((x - x.mean(1, keepdim=True)) * t).sum(1)
    centred = x - x.mean(1, keepdim=True)
    spectrum = torch.fft.rfft(centred, n=2 * L, dim=1)
    acf = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * L, dim=1)[:, : L // 2 + 2]
    acf = acf / (L - torch.arange(acf.shape[1], dtype=x.dtype)) / acf[:, :1].clamp_min(1e-12) * L
    inner = acf[:, 1:-1]  # lags 1 .. L//2
    peak = (inner > acf[:, :-2]) & (inner >= acf[:, 2:])
    score = torch.where(peak, inner + 10.0, inner)  # every peak before every non-peak
    lags = score.topk(min(n_lags, inner.shape[1]), dim=1).indices + 1
    mins, maxs, medians = x.min(1).values, x.max(1).values, x.median(1).values
    return [
        WindowStatistics(float(mins[i]), float(maxs[i]), float(medians[i]),
                         "upward" if slope[i] > 0 else "downward", tuple(int(v) for v in lags[i]))
        for i in range(B)
    ]


@dataclass(frozen=True)
class PromptBuilder:
    """Dataset description + task + input statistics, as text a person can read too.
    `compact=False` words the statistics as the paper does (to measure what compacting saves)."""

    description: str
    seq_len: int
    horizon: int
    compact: bool = True

    @property
    def head(self) -> str:
        """The part of every prompt that no window changes (the backbone reads it once)."""
        return HEAD.format(description=self.description, horizon=self.horizon, seq_len=self.seq_len)

    def statistics_text(self, stats: WindowStatistics) -> str:
        template, separator = (STATISTICS, " ") if self.compact else (PAPER_STATISTICS, ", ")
        return template.format(min=stats.min, max=stats.max, median=stats.median, trend=stats.trend,
                               lags=separator.join(map(str, stats.lags)))

    def text(self, stats: WindowStatistics) -> str:
        """The whole prompt of one window, as sent."""
        return self.head + self.statistics_text(stats)

    def build(self, x: torch.Tensor) -> list[str]:
        """The statistics part of each window's prompt, for the normalised batch [B, L]."""
        return [self.statistics_text(s) for s in window_statistics(x)]
