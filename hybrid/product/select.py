"""Per-series selection: for each series, which forecaster to use, with what weights, and why.

`select(data)` fits the member forecasters on each series' training rows and one router on the
validation windows of all series together, then reads the router at each series' latest window:
the recommended forecaster (the largest weight), every weight, the features that drove them, and
the rules that fired. `data` is a dataset (one long series or many columns), or a long
DataFrame (`unique_id`, `ds`, `y`) of many series; series of different dates or lengths are
pooled too, each on its own split.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid.foundation.data import ReadOptions, SeriesBundle, load_groups
from hybrid.foundation.errors import InputError
from hybrid.foundation.periods import data_periods
from hybrid.foundation.registry import with_periods
from hybrid.product.fused import BACKTEST_BLOCKS, CLASSICAL_MEMBERS, HybridForecaster, fit_everywhere, fit_pooled
from router.routers import Auto, Learned, Router, Rules
from router.rows import RouterRows

# a member carrying this share of the weight is recommended on its own
SOLE_WEIGHT = 0.9


@dataclass(frozen=True)
class SeriesChoice:
    """The router's answer for one series."""

    series: str
    recommended: str  # a member whose weight is at least SOLE_WEIGHT, else "hybrid" (the fused forecast)
    top: str  # the member with the largest weight
    weights: dict[str, float]  # at the series' latest window
    val_mse: dict[str, float]  # each member's and the fused forecast's, on this series' validation windows
    drivers: list[str]  # the features that moved the weights most, with their values
    rules: list[str]  # the conditions of the rule tree this window met
    periods: str = ""  # how the weights fall on the periods the members follow (empty: none told one)


@dataclass(frozen=True)
class Selection:
    """Every series' choice, and how the router chose."""

    mode: str  # the router's own account of its mode (and of its choice, for auto)
    rules_text: str  # the rule tree over all series' validation windows
    choices: list[SeriesChoice] = field(default_factory=list)
    periods: tuple[int, ...] = ()  # the periods the seasonal members and the core followed, each once

    def table(self) -> pd.DataFrame:
        """One row per series: the recommendation, each weight, each validation MSE, the reasons."""
        records = []
        for c in self.choices:
            records.append({"series": c.series, "recommended": c.recommended,
                            **{f"weight_{m}": w for m, w in c.weights.items()},
                            **{f"val_mse_{m}": v for m, v in c.val_mse.items()},
                            "periods": c.periods, "drivers": "; ".join(c.drivers), "rules": "; ".join(c.rules)})
        return pd.DataFrame(records)

    def to_json(self) -> str:
        return json.dumps({"mode": self.mode, "rules": self.rules_text, "periods": list(self.periods),
                           "series": [dataclasses.asdict(c) for c in self.choices]}, indent=1)

    def write(self, path: str | Path) -> None:
        """As CSV (one row per series) or JSON (everything), by the file's suffix."""
        path = Path(path)
        if path.suffix.lower() not in (".csv", ".json"):
            raise InputError(f"--out {path}: give a .csv or a .json file")
        text = self.table().to_csv(index=False) if path.suffix.lower() == ".csv" else self.to_json()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def text(self, limit: int = 20) -> str:
        lines = [f"router: {self.mode}"]
        if self.periods:
            lines.append(f"periods followed (each seasonal member and the core once per period): "
                         f"{', '.join(map(str, self.periods))}")
        if len(self.choices) > 1 and len({tuple(np.round(list(c.weights.values()), 3)) for c in self.choices}) == 1:
            lines.append(f"note: all {len(self.choices)} series get the same weights: the mode chosen pools them (fixed "
                         "weights for every series); a per-series choice needs a mode that reads each window, or "
                         "--router per-series (weights of a series' own where it has enough windows)")
        lines.append("")
        for c in self.choices[:limit]:
            weights = ", ".join(f"{m} {w:.2f}" for m, w in sorted(c.weights.items(), key=lambda kv: -kv[1]) if w >= 0.005)
            best = min((m for m in c.val_mse if m != "hybrid"), key=c.val_mse.get)
            alone = "" if c.recommended == c.top else f"; alone: {c.top}"
            lines.append(f"{c.series}: use {c.recommended} (weights {weights}{alone})")
            lines.append(f"  MSE on the windows learned from: fused {c.val_mse['hybrid']:.4f}, best single {best} "
                         f"{c.val_mse[best]:.4f}")
            if c.periods:
                lines.append(f"  periods by weight: {c.periods}")
            if c.drivers:
                lines.append(f"  drivers: {'; '.join(c.drivers)}")
            if c.rules:
                lines.append(f"  rules: {' and '.join(c.rules)}")
        if len(self.choices) > limit:
            lines.append(f"... and {len(self.choices) - limit} more series (write them all with --out)")
        return "\n".join(lines)


def _explain(router: Router, rows: RouterRows, i: int, rules: Rules, n: int) -> tuple[list[str], list[str]]:
    """Drivers and fired rules for row `i`: the learned mode's own drivers where it is the mode,
    else the features the fired rules test."""
    inner = router.router_ if isinstance(router, Auto) else router
    fired = rules.fired(rows, i)
    conditions = [f"{name} {'<=' if value <= threshold else '>'} {threshold:.3g} ({value:.3g})"
                  for name, value, threshold in fired]
    if isinstance(inner, Learned):
        drivers = [f"{name} = {rows.features[i, rows.feature_names.index(name)]:.3g} "
                   f"({moved:+.2f} on the top weight)" for name, moved in inner.drivers(rows, i, n)]
    else:
        # a feature the tree tests twice on the path is one driver
        drivers = list(dict.fromkeys(f"{name} = {value:.3g}" for name, value, _ in fired))[:n]
    return drivers, conditions


def select(data: SeriesBundle | list[SeriesBundle] | str | Path | pd.DataFrame, models: str | Sequence[str] = CLASSICAL_MEMBERS,
           mode: str = "auto", seq_len: int | None = None, horizon: int | None = None, read: ReadOptions = ReadOptions(),
           cache: bool = True, model_params: dict[str, dict] | None = None, seed: int = 0, n_drivers: int = 3,
           progress: bool = True, periods: str | Sequence[int] = (),
           backtest_blocks: int = BACKTEST_BLOCKS) -> Selection:
    """Which forecaster to use for each series, with the weights and the reasons.

    The members learn from each series' training rows, the router from all series' backtest and
    validation windows (`HybridForecaster.learning_rows`; `backtest_blocks` blocks); the recommendation is the router's at each series' latest window. `periods`: each
    seasonal member and the core once per period listed, or per period the series share
    ("auto", found on their training parts); () for none.
    """
    bundles = load_groups(data, seq_len=seq_len, horizon=horizon, read=read)
    periods = data_periods(bundles) if periods == "auto" else tuple(periods)
    models = with_periods(models, periods)
    fused = [HybridForecaster(models, mode=mode, cache=cache, model_params=model_params, seed=seed,
                              progress=progress and len(bundles) == 1, backtest_blocks=backtest_blocks) for _ in bundles]
    dropped = fit_everywhere(fused, bundles, progress=progress and len(bundles) > 1)
    for label, reason in dropped.items():
        warnings.warn(f"{label} is left out: it cannot forecast {reason}", stacklevel=2)
    router, val = fit_pooled(fused, bundles)
    rules = router.router_ if isinstance(router, Auto) and isinstance(router.router_, Rules) else Rules(seed=seed).fit(val)

    fused_val, errors = router.fuse(val), val.errors()
    fused_errors = ((fused_val - val.target) ** 2).mean(1)
    choices, offset = [], 0
    for hf, bundle in zip(fused, bundles):
        latest = hf.rows(bundle, bundle.every_origin()[-1:])  # one row per channel
        weights = router.weights(latest)
        for c, series in enumerate(bundle.columns):
            on_series = val.series == offset + c
            drivers, fired = _explain(router, latest, c, rules, n_drivers)
            top = val.models[int(np.argmax(weights[c]))]
            series_weights = {m: round(float(w), 4) for m, w in zip(val.models, weights[c])}
            choices.append(SeriesChoice(
                series=series,
                recommended=top if weights[c].max() >= SOLE_WEIGHT else "hybrid",
                top=top,
                weights=series_weights,
                val_mse={**{m: float(e) for m, e in zip(val.models, errors[on_series].mean(0))},
                         "hybrid": float(fused_errors[on_series].mean())},
                drivers=drivers, rules=fired, periods=hf.describe_periods(series_weights)))
        offset += bundle.n_channels
    return Selection(mode=router.describe(), rules_text=rules.text(), choices=choices, periods=periods)
