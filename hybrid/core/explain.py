"""What the core read for one window: the prompt as sent, its statistics, the hints, and the
text prototypes the window's patches attended to most (with the words nearest to each)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hybrid.core.forecaster import DOMAIN_WORDS, TimeLLMForecaster
from hybrid.core.prompt import HintSummary, WindowStatistics, hint_summaries, window_statistics
from hybrid.foundation.data import SeriesBundle


@dataclass(frozen=True)
class Explanation:
    origin: int
    timestamp: str
    channel: str
    prompt: str  # the whole prompt as sent ("" without one)
    head_tokens: int
    window_tokens: int  # the window's own part: statistics and text hints
    statistics: WindowStatistics
    hints: list[HintSummary]
    recent_mse: dict[str, float]  # each hint model's mean MSE over the windows known at the origin
    hints_mode: str  # how the core read the hints (defaults.HINT_MODES)
    residual_on: str | None
    prototypes: list[tuple[int, float, list[str]]]  # (prototype, attention share, nearest words)
    domain_words: dict[str, int]  # each of DOMAIN_WORDS among any prototype's nearest words: how many prototypes
    forecast: np.ndarray  # the core's forecast [H] on the z-scored scale

    def text(self) -> str:
        lines = [f"window: origin {self.origin} ({self.timestamp}), channel {self.channel}"]
        if self.prompt:
            lines += [f"prompt as sent ({self.head_tokens} tokens of shared head, read once; "
                      f"{self.window_tokens} of this window's own):", "  " + self.prompt]
        else:
            lines.append("prompt: none (hints none)")
        s = self.statistics
        lines.append(f"statistics (normalised): min {s.min:.3f}, max {s.max:.3f}, median {s.median:.3f}, "
                     f"trend {s.trend}, top lags {', '.join(map(str, s.lags))}")
        if self.hints:
            read = {"text": "read as text", "tokens": "read as tokens", "both": "read as text and tokens"}
            lines.append(f"hints ({read.get(self.hints_mode, 'not read: only the residual base is used')}; "
                         "normalised by the window; rank 1 = lowest recent MSE):")
            lines.append(f"  {'model':<10} {'change':>7} {'peak':>5} {'low':>5} {'gap':>6} {'rank':>5} {'recent MSE':>11}")
            for h in self.hints:
                rank = "-" if h.rank is None else str(h.rank)
                lines.append(f"  {h.model:<10} {h.change:>+7.3f} {h.peak:>5} {h.low:>5} {h.gap:>6.3f} {rank:>5} "
                             f"{self.recent_mse.get(h.model, float('nan')):>11.4f}")
        if self.residual_on:
            lines.append(f"residual: the core corrects {self.residual_on}'s forecast")
        lines.append("prototypes attended to most (share of the attention, averaged over heads and patches):")
        for k, share, words in self.prototypes:
            lines.append(f"  #{k:<5} {share:6.2%}  nearest words: {', '.join(repr(w) for w in words)}")
        top = len(self.prototypes[0][2]) if self.prototypes else 0
        if self.domain_words:
            counts = ", ".join(f"{w} ({n})" for w, n in self.domain_words.items())
            lines.append(f"domain words the prototypes settled near (prototypes with it among their {top} nearest "
                         f"words): {counts}")
        else:
            lines.append(f"domain words the prototypes settled near: none of the {len(DOMAIN_WORDS)} "
                         f"({', '.join(DOMAIN_WORDS[:4])}, ...) is among any prototype's {top} nearest words")
        return "\n".join(lines)


def explain(forecaster: TimeLLMForecaster, data: SeriesBundle, origin: int, channel: int = -1,
            top: int = 5) -> Explanation:
    """What the fitted core read for the window of `origin` on one channel."""
    forecaster.check_fitted()
    model = forecaster.model_
    channel = channel % data.n_channels
    table = forecaster.hint_table(data)
    inputs = forecaster.inputs(data, np.array([origin]), table)
    row = [torch.as_tensor(a[channel:channel + 1], dtype=torch.float32, device=model.device) for a in inputs]  # channel-major
    model.eval()
    model.reprogramming.record_attention = True
    try:
        with torch.no_grad():
            forecast = model(*row)[0].cpu().numpy()
        attention = model.reprogramming.last_attention[0]  # [heads, patches, K]
    finally:
        model.reprogramming.record_attention = False
    share = attention.mean(dim=(0, 1))
    best = share.topk(min(top, len(share))).indices
    nearest = model.prototypes.nearest_words(top)
    token = model.backbone.tokenizer.token
    prototypes = [(int(k), float(share[k]), [token(int(i)) for i in nearest[k]]) for k in best]
    near = [{token(int(i)).strip().lower() for i in row} for row in nearest]
    domain = {w: sum(w in words for words in near) for w in DOMAIN_WORDS}
    domain = dict(sorted(((w, n) for w, n in domain.items() if n), key=lambda item: -item[1]))

    z, stats = model.revin.normalize(row[0])
    normalised, errors = (model.revin.rescale(row[1], stats), row[2]) if table is not None else (None, None)
    hints, recent = [], {}
    if table is not None:
        hints = hint_summaries(z, normalised, errors, table.models)[0]
        recent = {m: float(e) for m, e in zip(table.models, errors[0])}
    prompt, head_tokens, window_tokens = "", 0, 0
    if model.config.prompt:
        own = model.prompt.build(z, normalised, errors)[0]
        encode = model.backbone.tokenizer.encode
        prompt, head_tokens, window_tokens = model.prompt.head + own, len(encode(model.prompt.head)), len(encode(own))
    return Explanation(origin=origin, timestamp=str(data.timestamps[origin]), channel=data.columns[channel],
                       prompt=prompt, head_tokens=head_tokens, window_tokens=window_tokens,
                       statistics=window_statistics(z)[0], hints=hints, recent_mse=recent,
                       hints_mode=model.config.hints,
                       residual_on=forecaster.residual_model_, prototypes=prototypes, domain_words=domain,
                       forecast=forecast)
