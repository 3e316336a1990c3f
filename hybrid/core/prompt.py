"""PromptBuilder: the text placed before the reprogrammed patches (prompt-as-prefix)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# The prompt is a head, the same for every window of a dataset (read once, its cache reused),
# and the window's statistics, which the backbone reads for every window of every step. The
# compact statistics say what the paper's do in 41 tokens instead of 65 (SmolLM2's tokenizer):
# one decimal, no filler words, no end marker.
HEAD = (
    "<|start_prompt|>Dataset description: {description} "
    "Task description: forecast the next {horizon} steps given the previous {seq_len} steps "
    "information; Input statistics{hint_legend}:"
)
STATISTICS = " min {min:.1f}, max {max:.1f}, median {median:.1f}, trend {trend}, top lags {lags}."
PAPER_STATISTICS = (
    " min value {min:.2f}, max value {max:.2f}, median value {median:.2f}, the trend of input is "
    "{trend}, top 5 lags are : {lags}<|end_prompt|>"
)
# With text hints, the head says once (it is cached) what each hint line holds, so that the
# lines themselves stay short: hint tokens are read for every window of every step.
HINT_LEGEND = (", then for each classical model: the change its forecast makes, the steps of its peak and low, "
               "how close it is to the other models, its rank by recent accuracy")
# One line per hint model, in words of one token where a number is not needed (SmolLM2 spends a
# token per digit). Measured budget: about 18 tokens per model at H = 96 and 336 (three models:
# 53 tokens beside the statistics' 42; `hybrid explain` counts them for a window).
HINT = " {model} {direction} {size:.1f} peak {peak} low {low} {closeness}{rank}."
RANKS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


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
    t = torch.arange(L, dtype=x.dtype, device=x.device) - (L - 1) / 2
    slope = ((x - x.mean(1, keepdim=True)) * t).sum(1)
    centred = x - x.mean(1, keepdim=True)
    spectrum = torch.fft.rfft(centred, n=2 * L, dim=1)
    acf = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * L, dim=1)[:, : L // 2 + 2]
    acf = acf / (L - torch.arange(acf.shape[1], dtype=x.dtype, device=x.device)) / acf[:, :1].clamp_min(1e-12) * L
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
class HintSummary:
    """What a text hint says about one hint model's forecast for one window (normalised scale)."""

    model: str
    change: float  # the forecast's mean minus the mean of the last H look-back values
    peak: int  # the step (1 = the first forecast step) of the forecast's highest value
    low: int  # and of its lowest
    gap: float  # root mean square distance to the mean of the other models' forecasts
    rank: int | None  # 1 = the lowest recent error; None while no window's outcome is known

    @property
    def direction(self) -> str:
        return "flat" if abs(self.change) < 0.05 else "up" if self.change > 0 else "down"

    @property
    def closeness(self) -> str:
        """The gap in a word: close (under 0.25 of the window's spread), apart, far (over 0.75)."""
        return "close" if self.gap < 0.25 else "apart" if self.gap < 0.75 else "far"


def hint_summaries(x: torch.Tensor, forecasts: torch.Tensor, recent_error: torch.Tensor,
                   models: tuple[str, ...]) -> list[list[HintSummary]]:
    """For each window of [B, L], a summary of each hint model's forecast [B, M, H] (both on the
    window's normalised scale), ranked by the recent errors [B, M] (NaN: unknown)."""
    B, M, H = forecasts.shape
    change = forecasts.mean(-1) - x[:, -H:].mean(-1, keepdim=True)
    others = (forecasts.sum(1, keepdim=True) - forecasts) / max(M - 1, 1)
    gap = ((forecasts - others) ** 2).mean(-1).sqrt() if M > 1 else torch.zeros(B, M, device=forecasts.device)
    peak, low = forecasts.argmax(-1) + 1, forecasts.argmin(-1) + 1
    rank = recent_error.argsort(-1).argsort(-1) + 1
    known = ~recent_error.isnan().any(-1)
    return [[HintSummary(models[m], float(change[b, m]), int(peak[b, m]), int(low[b, m]), float(gap[b, m]),
                         int(rank[b, m]) if known[b] else None) for m in range(M)] for b in range(B)]


@dataclass(frozen=True)
class PromptBuilder:
    """Dataset description + task + input statistics, as text a person can read too.
    `compact=False` words the statistics as the paper does (to measure what compacting saves)."""

    description: str
    seq_len: int
    horizon: int
    compact: bool = True
    hint_models: tuple[str, ...] = ()  # a line for each of these after the statistics (text hints)

    @property
    def head(self) -> str:
        """The part of every prompt that no window changes (the backbone reads it once)."""
        return HEAD.format(description=self.description, horizon=self.horizon, seq_len=self.seq_len,
                           hint_legend=HINT_LEGEND if self.hint_models else "")

    @staticmethod
    def hint_text(hint: HintSummary) -> str:
        rank = "" if hint.rank is None else " " + (RANKS[hint.rank - 1] if hint.rank <= len(RANKS) else str(hint.rank))
        return HINT.format(model=hint.model, direction=hint.direction, size=abs(hint.change), peak=hint.peak,
                           low=hint.low, closeness=hint.closeness, rank=rank)

    def statistics_text(self, stats: WindowStatistics) -> str:
        template, separator = (STATISTICS, " ") if self.compact else (PAPER_STATISTICS, ", ")
        return template.format(min=stats.min, max=stats.max, median=stats.median, trend=stats.trend,
                               lags=separator.join(map(str, stats.lags)))

    def window_text(self, stats: WindowStatistics, hints: Sequence[HintSummary] = ()) -> str:
        """The part of the prompt that is this window's own: statistics, then any hints."""
        return self.statistics_text(stats) + "".join(map(self.hint_text, hints))

    def text(self, stats: WindowStatistics, hints: Sequence[HintSummary] = ()) -> str:
        """The whole prompt of one window, as sent."""
        return self.head + self.window_text(stats, hints)

    def build(self, x: torch.Tensor, hint_forecasts: torch.Tensor | None = None,
              recent_error: torch.Tensor | None = None) -> list[str]:
        """Each window's own part of the prompt, for the normalised batch [B, L] (and, with text
        hints, the hint models' normalised forecasts [B, M, H] and recent errors [B, M])."""
        stats = window_statistics(x)
        if not self.hint_models:
            return [self.window_text(s) for s in stats]
        hints = hint_summaries(x, hint_forecasts, recent_error, self.hint_models)
        return [self.window_text(s, h) for s, h in zip(stats, hints)]
