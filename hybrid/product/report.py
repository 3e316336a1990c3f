"""The report: one self-contained HTML page, from the experiment grid's result stores (`hybrid
report`) or from a fitted run (`hybrid fit --report`).

Self-contained means it is read where it is opened, offline: figures inline as base64 PNG, CSS
inline, no script, and a content security policy that lets the page fetch nothing. A section
whose inputs are absent (no per-window losses, no fused forecaster, no member told a period) is a
one-line note, never an error.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from hybrid.foundation.cache import CachedForecaster
from hybrid.foundation.data import SeriesBundle
from hybrid.foundation.errors import InputError
from hybrid.foundation.forecaster import Forecaster
from hybrid.foundation.runstore import runs_frame
from hybrid.foundation.significance import seeded_markdown, seeded_table
from hybrid.product.evaluation import to_markdown
from hybrid.product.fused import HybridForecaster
from hybrid.product.plots import ablation_png, cost_png, forecast_png, period_weights_png, weights_png

BY = ("dataset", "horizon")  # a result table's column groups
# the cost columns a store may have, the finer of each kind (time, memory) first
COSTS = (("ms_per_sequence", "ms per sequence"), ("cell_seconds", "seconds per cell"),
         ("cell_peak_mib", "peak memory of the cell (MiB)"), ("peak_memory_mib", "peak memory (MiB)"))
TOP_WORDS = 5  # prototypes and nearest words shown for the core

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2126; margin: 0 auto;
       max-width: 1180px; padding: 1.2em 2em 3em; background: #fff; }
h1 { font-size: 1.6em; margin: 0.2em 0; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #d6dae0; }
h3 { font-size: 1.05em; margin: 1.4em 0 0.4em; }
.facts { color: #4a525c; margin: 0.2em 0; } .facts code { font-size: 0.92em; }
.note { color: #5c6670; font-size: 0.92em; margin: 0.3em 0; }
.missing { color: #8a6d1d; background: #fdf7e3; padding: 0.3em 0.6em; border-left: 3px solid #e0b83c; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
.scroll { overflow-x: auto; max-width: 100%; }  /* a table of many groups scrolls, the page keeps its width */
th, td { border: 1px solid #d6dae0; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f1f3f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fafbfc; }
.ns { color: #a0a8b0; } .error { font-family: ui-monospace, monospace; font-size: 0.88em; white-space: pre-wrap; }
figure { margin: 0.8em 0 1.4em; } figure img { max-width: 100%; height: auto; border: 1px solid #eceef1; }
figcaption { color: #4a525c; font-size: 0.9em; margin-top: 0.2em; }
footer { margin-top: 3em; color: #8a929a; font-size: 0.85em; }
"""

# Nothing may be fetched: images are data URLs, the style is inline, there is no script.
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


# ---------------------------------------------------------------------------------- page pieces
def page(title: str, facts: Sequence[str], sections: Sequence[str]) -> str:
    """The whole page: a title, its facts (lines of HTML), the sections."""
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{html.escape(title)}</title><style>{CSS}</style></head>\n'
            f"<body><header><h1>{html.escape(title)}</h1>"
            + "".join(f'<p class="facts">{line}</p>' for line in facts)
            + "</header>\n" + "\n".join(sections)
            + f"\n<footer>written by hybrid, {created}</footer></body></html>\n")


def section(title: str, *parts: str, level: int = 2) -> str:
    return f"<section><h{level}>{html.escape(title)}</h{level}>" + "".join(parts) + "</section>"


def note(text: str, missing: bool = False) -> str:
    """A line of text; `missing`: the line that stands for a section left out."""
    return f'<p class="note{" missing" if missing else ""}">{_inline(text)}</p>'


def figure(png: bytes, alt: str, caption: str = "") -> str:
    source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="{source}" alt="{html.escape(alt)}">'
            + (f"<figcaption>{_inline(caption)}</figcaption>" if caption else "") + "</figure>")


def _inline(text: str) -> str:
    """Escaped text with Markdown's **bold** and `code` as HTML."""
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text, quote=False))
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


_NUMBER = re.compile(r"^[-+]?(\d|\.\d)")
NUMERIC = ' class="num"'  # a cell right-aligned, its digits in columns


def markdown_table(markdown: str) -> str:
    """A GitHub-style Markdown table (`to_markdown`'s, `seeded_markdown`'s) as an HTML table; its
    lines after the table are notes. `seeded_markdown`'s marks carry over: **best** is bold and a
    cell ending in " ·" (not significant) has its mark greyed."""
    lines = markdown.strip().splitlines()
    rows = [line for line in lines if line.startswith("|")]
    after = [line for line in lines[len(rows):] if line.strip()]

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip()[1:-1].split("|")]

    def cell(text: str, tag: str) -> str:
        mark = text.endswith(" ·")
        body = _inline(text[:-2] if mark else text) + (' <span class="ns" title="not significant">·</span>'
                                                        if mark else "")
        numeric = tag == "td" and _NUMBER.match(text.lstrip("*"))
        return f"<{tag}{NUMERIC if numeric else ''}>{body}</{tag}>"

    head, body = cells(rows[0]), [cells(r) for r in rows[2:]]  # rows[1] is the rule
    table = ('<div class="scroll"><table><thead><tr>' + "".join(cell(c, "th") for c in head) + "</tr></thead><tbody>"
             + "".join("<tr>" + "".join(cell(c, "td") for c in r) + "</tr>" for r in body) + "</tbody></table></div>")
    return table + "".join(note(line) for line in after)


def html_table(frame: pd.DataFrame, numbers: str = ".4f") -> str:
    """A frame as an HTML table (through its Markdown, so that both read alike)."""
    return markdown_table(to_markdown(frame, numbers))


def write_page(path: Path, text: str) -> Path:
    """Write the page whole or not at all: aside, then moved in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    return path


def short_commit(commit: str) -> str:
    """A commit as people read it: 12 hex digits, and its '+dirty' where it has one."""
    return commit[:12] + commit[40:] if len(commit) >= 40 else commit


def check_output(path: Path, flag: str) -> None:
    """A page is written to an .html file."""
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{flag} {path}: give an .html file")


# -------------------------------------------------------------------------------- result stores
@dataclass
class Store:
    """One result file of the experiment grid, read: a row per run (`status` ok or failed, a
    seed, a label column that names what is compared), the metric column, and what is missing."""

    path: Path
    runs: pd.DataFrame
    label: str | None  # the column that names the compared rows ("config", "model" or "config/model")
    metric: str | None  # the metric column ("mse", or an older file's "test_mse")
    notes: list[str] = field(default_factory=list)
    missing: str = ""  # why there is no comparison table, where there is none
    # the record's questions: each a title, the labels it compares and its reference (the first)
    questions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        return [] if self.label is None else list(dict.fromkeys(self.runs[self.label]))


def read_store(path: Path, metric: str = "mse") -> Store:
    """A result store: a Parquet file of the grid (a row per run), or a JSON result file (an
    older one's "rows", where no seed is seed 0 and no status is ok; or the Parquet store its
    "store" names, beside it). Rows of a `split` column other than test are left out. The
    record (the JSON, or the one beside a Parquet store) may declare `questions`: a table per
    title over the labels it lists, against the first. An unreadable file is an `InputError`."""
    if not path.is_file():
        raise InputError(f"{path}: no such file (give result stores: Parquet files, or JSON result files)")
    try:
        if path.suffix.lower() == ".json":
            payload = json.loads(path.read_text(encoding="utf-8"))
            payload = payload if isinstance(payload, dict) else {}
            rows = payload.get("rows")
            if "rows" not in payload and isinstance(payload.get("store"), str):
                runs = runs_frame(path.parent / payload["store"])
            elif isinstance(rows, list) and all(isinstance(r, dict) for r in rows):
                runs = pd.DataFrame(rows)
            else:
                raise InputError(f"{path}: no result rows (a JSON result file holds them in a 'rows' list, "
                                 "or names its Parquet store)")
        else:
            runs = runs_frame(path)
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, ImportError) as exc:  # not JSON, not Parquet (pyarrow's errors are ValueErrors)
        raise InputError(f"{path}: not a result store (Parquet, or JSON with a 'rows' list): "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if runs.empty:
        raise InputError(f"{path}: holds no runs")
    store = _normalised(path, runs, metric)
    store.questions = _questions(path)
    return store


def _questions(path: Path) -> dict[str, list[str]]:
    record = path if path.suffix.lower() == ".json" else path.with_suffix(".json")
    try:
        questions = json.loads(record.read_text(encoding="utf-8")).get("questions", {})
    except (OSError, ValueError, AttributeError):  # no record beside the store, or not one of ours: one table
        return {}
    return {str(k): [str(v) for v in labels] for k, labels in questions.items() if isinstance(labels, list) and labels}


def _normalised(path: Path, runs: pd.DataFrame, metric: str) -> Store:
    runs = runs.reset_index(drop=True)
    notes = []
    for column, default in (("seed", 0), ("status", "ok"), ("error", None)):
        if column not in runs:
            runs[column] = default
    # a store's rows that lack a column come back with NaN in it
    runs["seed"] = runs["seed"].fillna(0).astype(int)
    runs["status"] = runs["status"].fillna("ok")
    if "window_loss" in runs:  # an older file's rows without losses hold NaN, which seeded_table cannot read
        runs["window_loss"] = [v if isinstance(v, (list, tuple, np.ndarray)) else None for v in runs["window_loss"]]
    if "split" in runs and runs["split"].nunique() > 1 and (runs["split"] == "test").any():
        runs = runs[runs["split"] == "test"].reset_index(drop=True)
        notes.append("its test rows (it holds other splits too)")
    chosen = metric if metric in runs else f"test_{metric}" if f"test_{metric}" in runs else None
    configs = runs["config"].dropna().astype(str).unique() if "config" in runs else []
    cell = [c for c in (*BY, "seed", "model") if c in runs]
    if "model" in runs and len(configs) > 1 and runs.duplicated(cell).any():  # a member in several configurations
        label = "config/model"
        runs[label] = runs["config"].astype(str) + "/" + runs["model"].astype(str)
    else:
        label = "model" if "model" in runs else "config" if "config" in runs else None
    if label is not None:
        runs[label] = runs[label].astype(str)
    missing = [c for c in BY if c not in runs]
    why = (f"no {' or '.join(missing)} column" if missing else "no config or model column" if label is None
           else f"no {metric} (or test_{metric}) column" if chosen is None else "")
    return Store(path, runs, label, chosen, notes, why)


def check_reference(stores: Sequence[Store], reference: str | None) -> None:
    """--reference names a label of every store that has a table."""
    for store in stores:
        if reference is not None and not store.missing and reference not in store.labels:
            raise InputError(f"--reference {reference} is not a {store.label} of {store.path}; its "
                             f"{store.label}s are: {', '.join(store.labels)}")


def results_page(stores: Sequence[Store], reference: str | None = None) -> str:
    """The page of one or more result stores: per store, the comparison table (mean ± std over
    seeds, the Diebold-Mariano p against `reference`, default each store's first label), the
    failed runs, the ablation bars and cost against accuracy."""
    check_reference(stores, reference)
    names = ", ".join(s.path.name for s in stores)
    facts = [f"{len(stores)} result store{'s' if len(stores) > 1 else ''}: "
             + ", ".join(f"<code>{html.escape(str(s.path))}</code>" for s in stores)]
    return page(f"hybrid report: {names}", facts, [store_section(s, reference) for s in stores])


def _values(runs: pd.DataFrame, column: str, limit: int = 6) -> str:
    if column not in runs:
        return "not recorded"
    values = [str(v) for v in dict.fromkeys(runs[column].dropna())]
    shown = ", ".join(short_commit(v) if column == "commit" else v for v in values[:limit])
    return (shown + (f" and {len(values) - limit} more" if len(values) > limit else "")) or "not recorded"


def store_section(store: Store, reference: str | None = None) -> str:
    runs = store.runs
    failed = runs[runs["status"].astype(str) != "ok"]
    ok = runs[runs["status"].astype(str) == "ok"]
    parts = [note(f"{len(runs)} runs ({len(failed)} failed)"
                  + (f" of {len(store.labels)} {store.label}s" if store.label else "")
                  + f", seeds {_values(runs, 'seed')}; commits {_values(runs, 'commit')}; "
                  f"machines {_values(runs, 'machine', 3)}" + "".join(f"; {n}" for n in store.notes))]
    if store.missing:
        parts.append(note(f"No comparison table, ablation or cost figure: {store.missing}.", missing=True))
    else:
        ok = ok[np.isfinite(pd.to_numeric(ok[store.metric], errors="coerce"))]
        if ok.empty:
            parts.append(note(f"No run finished with a {store.metric}: no table.", missing=True))
        elif store.questions and reference is None:
            parts += [_question(store, ok, title, labels) for title, labels in store.questions.items()]
        else:
            parts.append(_compared(store, ok, reference or store.labels[0]))
    parts.append(_failed(store, failed))
    return section(str(store.path.name), *parts)


def not_run(labels: Sequence[str], present: Iterable[str]) -> tuple[list[str], bool]:
    """A question's rows (`labels`, its reference first) that have no run among `present`, and
    whether it can be compared at all: its reference and at least one other row have run."""
    present = set(present)
    missing = [label for label in labels if label not in present]
    return missing, labels[0] in present and bool(set(labels[1:]) & present)


def _question(store: Store, ok: pd.DataFrame, title: str, labels: Sequence[str]) -> str:
    """One question of a record: its rows against its first, and which of its rows have no run
    yet (a question with nothing to compare is that line alone, not a table of its reference)."""
    missing, comparable = not_run(labels, ok[store.label])
    if not comparable:
        return section(title, note(f"Not run yet: {', '.join(missing)}.", missing=True), level=3)
    parts = [_compared(store, ok[ok[store.label].isin(labels)], labels[0], level=4)]
    if missing:
        parts.append(note(f"Not run yet: {', '.join(missing)}.", missing=True))
    return section(title, *parts, level=3)


def _compared(store: Store, ok: pd.DataFrame, reference: str, level: int = 3) -> str:
    """The seeded table against `reference`, the ablation bars and cost against accuracy (their
    headings at `level`)."""
    label, metric = store.label, store.metric
    ok = ok.astype({metric: float})
    table = seeded_table(ok, reference, by=BY, label=label, metric=metric)
    parts = [markdown_table(seeded_markdown(table, reference, label=label, columns=BY))]
    if "window_loss" not in ok or ok["window_loss"].isna().all():
        parts.append(note("No per-window losses (`window_loss`) in this store: no Diebold-Mariano p-values, "
                          "so no cell is marked.", missing=True))
    parts.append(section(f"Ablation: {metric} per {label}", figure(
        ablation_png(table, label, reference, metric, BY), f"{metric} by {label} against {reference}, with error bars",
        f"Each {label}'s mean {metric} over seeds against {reference}'s, in percent of it (left: lower "
        f"{metric}); the error bar one standard deviation over seeds on the same scale, the grey band the "
        "reference's; hatched: not significantly different (Diebold-Mariano p ≥ 0.05, or no p). A group where only "
        "the reference has run has no panel."), level=level))
    costs = [(c, title) for c, title in COSTS if c in ok and pd.to_numeric(ok[c], errors="coerce").notna().any()]
    # one measure of time and one of memory: the finer where a grid has both
    costs = [(c, t) for c, t in costs if c == next(k for k, _ in costs if _kind(k) == _kind(c))]
    if not costs:
        parts.append(section("Cost against accuracy", note(
            f"No cost columns ({', '.join(f'`{c}`' for c, _ in COSTS)}) in this store.", missing=True),
            level=level))
    else:
        shared = (" A cell that returns a row per member records its seconds and memory once, for all of them."
                  if "model" in ok and ok.groupby([*BY, "seed"], sort=False)["model"].nunique().max() > 1 else "")
        points = ok.astype({c: float for c, _ in costs})
        parts.append(section("Cost against accuracy", figure(
            cost_png(points, label, metric, costs), f"cost against {metric}",
            f"A point per run: {' and '.join(t for _, t in costs)} against {metric}.{shared}"), level=level))
    return "".join(parts)


def _kind(column: str) -> str:
    return "memory" if "mib" in column else "time"


def _failed(store: Store, failed: pd.DataFrame) -> str:
    if failed.empty:
        return note("No run failed.")
    shown = [c for c in (*BY, store.label, "seed") if c and c in failed]
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in shown)
                   + f'<td class="error">{html.escape(r["error"] if isinstance(r["error"], str) else "")}</td></tr>'
                   for _, r in failed.iterrows())
    head = "".join(f"<th>{html.escape(c)}</th>" for c in (*shown, "error"))
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    return section(f"Failed runs ({len(failed)})", table, level=3)


# --------------------------------------------------------------------------------- a fitted run
def fit_page(title: str, facts: Sequence[str], wide: pd.DataFrame, verdict: str, data: SeriesBundle,
             models: Sequence[Forecaster], origins: np.ndarray | None = None, scope: str = "") -> str:
    """The page of `hybrid fit`: its comparison table (`wide`, with the `verdict` lines below it),
    forecasts against the actual values in the easiest, a typical and the hardest test window,
    the router's weights over the test origins, how they fall on the periods the members follow,
    and, where the Time-LLM core is a member, the prototypes it attended to with their nearest
    words. `models`: the fitted forecasters, the fused one last where there is one; `origins`:
    the test origins (default `data`'s); `scope`: a line on what the figures cover."""
    origins = data.origins("test") if origins is None else np.asarray(origins)
    fused = models[-1] if isinstance(models[-1], HybridForecaster) else None
    best = wide.loc[wide.best == "*", "model"].iloc[0]
    judge = fused or next(m for m in models if m.label == best)
    parts = [section("Comparison", html_table(wide), *(note(line) for line in verdict.splitlines() if line))]
    if scope:
        parts.append(note(scope))
    y = data.future(origins)
    loss = ((y - judge.predict(data, origins)) ** 2).mean(axis=1)  # [n, C]: each window of each series
    parts.append(_windows(data, models, origins, loss, judge.label))
    if fused is None:
        parts.append(section("Router weights", note("No fused forecaster in this run (one member, or --no-fused): "
                                                    "no router weights.", missing=True)))
        parts.append(section("Weights by period", note("No fused forecaster: no weights to group.", missing=True)))
        weights = None
    else:
        weights = fused.weights(data, origins).mean(axis=2)  # [n, M], the mean over the series
        parts.append(_weights(data, fused, origins, weights))
        parts.append(_periods(fused, weights))
    parts.append(_prototypes(data, models, origins, loss))
    return page(title, facts, parts)


def _picks(loss: np.ndarray) -> dict[str, tuple[int, int]]:
    """The easiest, a typical (the median) and the hardest (window, series) by `loss` [n, C]."""
    flat = loss.ravel()
    valid = np.flatnonzero(np.isfinite(flat))
    order = valid[np.argsort(flat[valid], kind="stable")]
    if not len(order):
        return {}
    picks = {"easiest": order[0], "typical": order[len(order) // 2], "hardest": order[-1]}
    return {kind: divmod(int(k), loss.shape[1]) for kind, k in picks.items()}


def _windows(data: SeriesBundle, models: Sequence[Forecaster], origins: np.ndarray, loss: np.ndarray,
             judged_by: str) -> str:
    picks = _picks(loss)
    if not picks:
        return section("Forecasts against the actual values", note("No test window with known values.", missing=True))
    figures, seen = [], set()
    for kind, (i, c) in picks.items():
        if (i, c) in seen:
            continue
        seen.add((i, c))
        origin = int(origins[i])
        figures.append(figure(forecast_png(data, models, origin, c), f"{kind} test window",
                              f"The {kind} test window for {judged_by}: {data.columns[c]} from "
                              f"{data.timestamps[origin]} (its MSE {loss[i, c]:.3f}, z-scored), every model's "
                              "forecast."))
    return section("Forecasts against the actual values", note(
        f"Of the {loss.size} test windows ({len(origins)} origins x {data.n_channels} series), chosen by "
        f"{judged_by}'s MSE: the lowest, the median and the highest."), *figures)


def _weights(data: SeriesBundle, fused: HybridForecaster, origins: np.ndarray, weights: np.ndarray) -> str:
    names = fused.member_names_
    over = f"the mean over the {data.n_channels} series" if data.n_channels > 1 else data.columns[0]
    mean = ", ".join(f"{m} {w:.2f}" for m, w in sorted(zip(names, weights.mean(0)), key=lambda kv: -kv[1]))
    return section("Router weights over the test origins", figure(
        weights_png(data.timestamps[origins], weights, names, f"router weights at each test origin ({over})"),
        "router weights over time", f"Mean weight over the test origins: {mean}."))


def _periods(fused: HybridForecaster, weights: np.ndarray) -> str:
    groups = fused.period_groups()
    if not groups:
        return section("Weights by period", note(
            "No member was told a period (--periods none): the seasonal members follow the data's calendar season. "
            "Fit with --periods auto (or a list) to see the weight each period carries.", missing=True))
    mean = dict(zip(fused.member_names_, map(float, weights.mean(0))))
    return section("Weights by period", figure(
        period_weights_png(groups, mean, "mean router weight over the test origins, by the period each member follows"),
        "weights by period", f"By period: {fused.describe_periods(mean)}."))


def _prototypes(data: SeriesBundle, models: Sequence[Forecaster], origins: np.ndarray, loss: np.ndarray) -> str:
    title = "The core's prototypes and their nearest words"
    cores = [m for m in models if m.name == "timellm"]
    if not cores:
        return section(title, note("The Time-LLM core (timellm) is not a member of this run.", missing=True))
    picks = _picks(loss)
    if "typical" not in picks:
        return section(title, note("No test window with known values.", missing=True))
    i, c = picks["typical"]
    parts = []
    for member in cores:
        core = member.model if isinstance(member, CachedForecaster) else member
        if not hasattr(core, "model_"):
            parts.append(note(f"{member.label}: its forecasts were read from the forecast cache, which keeps no "
                              "network; fit with --no-cache to see its prototypes.", missing=True))
            continue
        from hybrid.core.explain import explain  # torch, loaded already where the core was fitted

        found = explain(core, data, int(origins[i]), c, TOP_WORDS)
        rows = "".join(f'<tr><td class="num">#{k}</td><td class="num">{share:.1%}</td>'
                       f"<td>{html.escape(', '.join(repr(w) for w in words))}</td></tr>"
                       for k, share, words in found.prototypes)
        parts.append(section(f"{member.label}: the typical test window ({found.channel} from {found.timestamp})",
                             "<table><thead><tr><th>prototype</th><th>attention</th><th>nearest words</th></tr>"
                             f"</thead><tbody>{rows}</tbody></table>",
                             note("The share of the attention, averaged over heads and patches; the words whose "
                                  "embeddings lie nearest to each prototype (as `hybrid explain` prints them)."),
                             level=3))
    return section(title, *parts)
