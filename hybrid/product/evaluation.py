"""Fit forecasters and score them on the validation and test windows: the comparison table."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pandas as pd
from tqdm.auto import tqdm

from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.errors import cannot_forecast
from hybrid.foundation.forecaster import Forecaster
from hybrid.foundation.metrics import score, scored_origins

METRIC_COLUMNS = ("mse", "mae", "mae_orig", "rmse_orig", "smape", "mase")
TIE = 1e-4  # MSEs closer than this are reported as a tie


def verdict(mse: float, best_single: float) -> str:
    """'beats', 'ties with' or 'does not beat': a forecast's MSE against the best single model's."""
    margin = mse - best_single
    return "beats" if margin < -TIE else "ties with" if margin <= TIE else "does not beat"


def compare(data: SeriesBundle, models: Sequence[Forecaster], progress: bool = True) -> pd.DataFrame:
    """One row per (model, split) with every metric, the fit time and the predict time.

    Each model is fitted once; test is scored on every window (stride 1), val on the router's
    grid (`scored_origins`: every H/24-th window, what a costly model forecasts there). For a
    `CachedForecaster`, `fit_seconds` is the cache read, or on a miss the fit plus the forecast
    from every origin; `cached` says which (for the fused forecaster: whether every member's was read).
    """
    rows = []
    bar = tqdm(models, desc="fitting", unit="model", disable=not progress, leave=False)
    for model in bar:
        bar.set_postfix_str(model.label)
        start = time.perf_counter()
        try:
            model.fit(data)
        except ValueError as exc:  # a season longer than the history, too few rows: the user's to change
            raise cannot_forecast(model.label, data.name, exc) from None
        fit_seconds = time.perf_counter() - start
        for part in ("val", "test"):
            origins = scored_origins(data, part)
            start = time.perf_counter()
            forecast = model.predict(data, origins)
            rows.append({
                "model": model.label,
                "split": part,
                **score(data, data.future(origins), forecast),
                "fit_seconds": fit_seconds,
                "predict_seconds": time.perf_counter() - start,
                "n_windows": len(origins),
                "cached": bool(getattr(model, "from_cache_", False)),
            })
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per model: val MSE/MAE, every test metric, fit time; the lowest test MSE marked."""
    val = table[table.split == "val"].set_index("model")[["mse", "mae"]].add_prefix("val_")
    test = table[table.split == "test"].set_index("model")
    wide = val.join(test[list(METRIC_COLUMNS)].add_prefix("test_")).join(test[["fit_seconds"]])
    wide.insert(0, "best", ["*" if m == wide.test_mse.idxmin() else "" for m in wide.index])
    return wide.reset_index()


def to_markdown(frame: pd.DataFrame, floatfmt: str = ".4f") -> str:
    """A GitHub-style Markdown table (no `tabulate` dependency)."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if v != v else format(v, floatfmt)  # NaN: nothing to show
        return str(v)

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join(" --- " for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])
