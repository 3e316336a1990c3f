"""The periods a series has, found on its training part: the strongest peaks of its spectrum and
the calendar periods of its frequency, each kept only where the data confirm it.

A candidate period p is confirmed when both hold:
- its spectral peak stands out of the spectrum around it: the power in the peak's bins (the
  leakage neighbours of a period that is not a whole number of bins merged in) against the
  median power of the nearby bins, judged like Fisher's test for a hidden periodicity at level
  `alpha` over the bins searched, so that a slowly wandering series (most of its power at low
  frequencies) shows no period unless one stands out of the power around it;
- the series repeats itself after p steps: the autocorrelation at lag p exceeds the one at half
  the lag, which a periodic series does (half a period away it is out of phase) and a merely
  persistent one does not (its autocorrelation only decays).

Harmonics (p / 2, p / 3, ... of a stronger confirmed period, the shape of a non-sinusoidal cycle)
are merged into that period: their power adds to its strength.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hybrid.foundation.data import Frequency, SeriesBundle
from hybrid.foundation.errors import InputError

EPS = 1e-12
ACF_EPS = 1e-8  # a constant row's autocorrelation is 0, not NaN
# harmonics counted into a period's strength: beyond the 8th a slow period's "harmonics" land on
# the bins of unrelated faster cycles
MAX_HARMONIC = 8
MIN_CYCLES_CALENDAR, MIN_CYCLES_FOUND = 3, 10


@dataclass(frozen=True)
class Period:
    """One confirmed period of a series."""

    length: int  # steps
    strength: float  # share of the detrended series' spectral power in its peak and its harmonics
    acf: float  # autocorrelation at lag `length` of the series less its moving average over `length` steps
    confidence: float  # (acf at the lag - acf at half the lag) / 2, in [0, 1]: 1 for a pure cycle
    calendar: bool  # a calendar period of the frequency (a day, a week, a year...)
    harmonics: tuple[float, ...] = field(default=())  # the periods merged into it (its harmonics)

    def describe(self) -> str:
        kind = "calendar" if self.calendar else "found"
        shown = ", ".join(f"{h:g}" for h in self.harmonics[:3]) + (", ..." if len(self.harmonics) > 3 else "")
        merged = f", {len(self.harmonics)} harmonics merged ({shown})" if self.harmonics else ""
        return (f"{self.length} steps ({kind}): {self.strength:.0%} of the power, autocorrelation {self.acf:.2f}, "
                f"confidence {self.confidence:.2f}{merged}")


def calendar_periods(freq: Frequency, longest: int | None = None) -> tuple[int, ...]:
    """The calendar periods of a frequency — a day and a week for sub-daily data, the frequency's
    season otherwise (a week of days, a year of weeks or months) — of at most `longest` steps."""
    candidates = (freq.season, 7 * freq.season) if freq.subdaily else (freq.season,)
    return tuple(p for p in dict.fromkeys(candidates) if 1 < p and (longest is None or p <= longest))


def autocorrelation(x: np.ndarray, lag: int) -> np.ndarray:
    """Autocorrelation at `lag` along the last axis, each row centred: [..., L] -> [...]."""
    centred = x - x.mean(-1, keepdims=True)
    return (centred[..., lag:] * centred[..., :-lag]).sum(-1) / ((centred ** 2).sum(-1) + ACF_EPS)


def _acf(x: np.ndarray, lag: int) -> float:
    return float(autocorrelation(x, lag)) if 0 < lag < len(x) else 0.0


def _cycle_acf(x: np.ndarray, lag: int) -> tuple[float, float]:
    """Autocorrelation at `lag` and at half of it, of the series less its moving average over
    `lag` steps: what varies more slowly than the cycle (a wander, a longer cycle) is gone, so a
    persistent series without the cycle gets no credit for it."""
    csum = np.r_[0.0, np.cumsum(x)]
    r = x[lag - 1:] - (csum[lag:] - csum[:-lag]) / lag  # trailing average: the same shift for every lag
    r = r - r.mean()
    return _acf(r, lag), (_acf(r, lag // 2) if lag >= 4 else -1.0)


def _peak_lag(x: np.ndarray, lo: float, hi: float) -> int:
    """The lag in [lo, hi] (at least 2) with the highest autocorrelation: a bin's period, made a whole
    number of steps by the series itself."""
    lags = range(max(2, int(np.floor(lo))), max(2, int(np.ceil(hi))) + 1)
    return max(lags, key=lambda lag: _acf(x, lag))


def _spectrum(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The series' finite values less their mean and linear trend (a line is not a period), and
    their Hann-windowed power spectrum: bin k holds k cycles over the series; bin 0 is zeroed."""
    x = np.asarray(series, dtype=np.float64)
    x = x[np.isfinite(x)]
    T = len(x)
    if T < 2:
        return x, np.zeros(1)
    t = np.arange(T) - (T - 1) / 2
    x = x - x.mean()
    x = x - t * (x @ t) / (t @ t)
    power = np.abs(np.fft.rfft(x * np.hanning(T))) ** 2
    power[0] = 0.0
    return x, power


def periodogram(series: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(period in steps, share of the spectral power) of each frequency bin of a series, the
    spectrum the detector reads, from the slowest period that repeats twice to the fastest."""
    x, power = _spectrum(series)
    k = np.arange(2, len(power))
    return len(x) / k, power[k] / (power.sum() + EPS)


def detect_periods(series: np.ndarray, freq: Frequency | None = None, top_k: int = 3, alpha: float = 0.01,
                   min_confidence: float = 0.1) -> list[Period]:
    """The confirmed periods of one series (its training part), strongest first, at most `top_k`.
    Calendar periods of `freq` are candidates besides the spectrum's peaks; a calendar period must
    fit 3 times in the series, a found one 10 times (few cycles of a slow wander look periodic)
    and be at least 4 steps (the half-lag test needs a half period)."""
    x, power = _spectrum(series)
    T = len(x)
    if T < 4 * MIN_CYCLES_FOUND:
        return []
    total = power.sum() + EPS
    searched = max(1, len(power) - 1 - MIN_CYCLES_FOUND)

    def peak(k: int) -> float:
        return float(power[max(1, k - 1):k + 2].sum())  # the Hann window spreads a cycle over 3 bins

    def stands_out(k: int, tests: int) -> bool:
        # Fisher's test for a hidden periodicity against the local background: were the spectrum
        # flat around bin k, the 3 bins' power would be a sum of 3 exponentials of mean
        # median / ln 2; the chance of reaching it in any of the `tests` bins must stay under alpha
        # (a found peak was searched for over every bin; a calendar period was named beforehand)
        around = np.r_[power[max(1, k - 17):max(1, k - 1)], power[k + 2:k + 18]]
        if not len(around):
            return False
        z = peak(k) / (np.median(around) / np.log(2) + EPS)
        return tests * np.exp(-z) * (1 + z + z * z / 2) < alpha

    def bin_of(lag: float) -> int:
        return int(round(T / lag))

    candidates: dict[int, bool] = {}
    bins = np.arange(len(power))
    interior = (bins >= MIN_CYCLES_FOUND) & (bins <= T / 4) & (bins < len(power) - 1)
    local_max = np.flatnonzero(interior & (power >= np.roll(power, 1)) & (power >= np.roll(power, -1)))
    for k in local_max[np.argsort(-power[local_max])][: 4 * top_k + 8]:
        candidates.setdefault(_peak_lag(x, T / (k + 0.5), T / (k - 0.5)), False)
    named = calendar_periods(freq, T // MIN_CYCLES_CALENDAR) if freq is not None else ()
    for p in named:
        candidates[p] = True

    confirmed = []
    for lag, calendar in candidates.items():
        k = bin_of(lag)
        if not (calendar or 4 <= lag <= T // MIN_CYCLES_FOUND) or not 1 <= k < len(power) - 1:
            continue
        acf, half = _cycle_acf(x, lag)
        confidence = float(np.clip((acf - half) / 2, 0.0, 1.0))
        if stands_out(k, len(named) if calendar else searched) and acf > 0 and confidence >= min_confidence:
            confirmed.append((lag, calendar, acf, confidence))
    # a found period within a bin of a calendar one is that calendar period
    calendar_bins = [bin_of(c[0]) for c in confirmed if c[1]]
    confirmed = [c for c in confirmed if c[1] or all(abs(bin_of(c[0]) - b) > 1 for b in calendar_bins)]

    def is_harmonic(lag: int, of: int) -> bool:
        ratio = of / lag
        return ratio >= 1.5 and abs(ratio - round(ratio)) * lag <= 1.0

    kept, used = [], set()
    for lag, calendar, acf, confidence in sorted(confirmed, key=lambda c: -peak(bin_of(c[0]))):
        if any(is_harmonic(lag, q.length) for q in kept):
            continue  # part of a stronger period's shape: its power goes to that period below
        k = bin_of(lag)
        harmonics = [(round(m * T / lag), round(lag / m, 1)) for m in range(2, MAX_HARMONIC + 1)]
        harmonics = [(b, h) for b, h in harmonics if b < len(power) - 1 and b not in used and stands_out(b, searched)]
        used.update({k, *(b for b, _ in harmonics)})
        strength = (peak(k) + sum(peak(b) for b, _ in harmonics)) / total
        kept.append(Period(lag, float(strength), acf, confidence, calendar, tuple(h for _, h in harmonics)))
    return sorted(kept, key=lambda q: -q.strength)[:top_k]


def period_patching(period: int, max_patch: int = 32) -> tuple[int, int]:
    """(patch_len, stride) that follow a period: the longest even divisor of the period of at most
    `max_patch` steps, every half of it, so that the stride divides the period and patches a
    period apart start at the same phase; a period with no even divisor (7 days) is cut into
    non-overlapping patches of its longest divisor instead."""
    divisors = [d for d in range(2, min(period, max_patch) + 1) if period % d == 0]
    if not divisors:
        raise InputError(f"no patching follows a period of {period} steps: it needs a divisor from 2 to {max_patch}")
    even = [d for d in divisors if d % 2 == 0]
    return (even[-1], even[-1] // 2) if even else (divisors[-1], divisors[-1])


def data_periods(data: SeriesBundle | Sequence[SeriesBundle], top_k: int = 2) -> tuple[int, ...]:
    """The periods the channels share (of one dataset, or of several pooled), from the training
    part: those confirmed in the most channels (ties: the larger total strength), at most `top_k`."""
    votes: dict[int, list[float]] = {}
    for bundle in [data] if isinstance(data, SeriesBundle) else data:
        for periods in dataset_periods(bundle).values():
            for p in periods:
                votes.setdefault(p.length, []).append(p.strength)
    ranked = sorted(votes, key=lambda p: (-len(votes[p]), -sum(votes[p])))
    return tuple(ranked[:top_k])


def dataset_periods(data: SeriesBundle, top_k: int = 3, alpha: float = 0.01,
                    min_confidence: float = 0.1) -> dict[str, list[Period]]:
    """Each column's confirmed periods, from the training part only."""
    train = data.train_values
    return {name: detect_periods(train[:, j], data.freq, top_k, alpha, min_confidence)
            for j, name in enumerate(data.columns)}
