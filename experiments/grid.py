"""The one scaffold of the benchmarks: a grid of (dataset, horizon, configuration) cells.

A benchmark declares its cells, how one cell is run (a row, or rows, of results) and its report
(Markdown from the rows); `Grid` owns the rest: the loop with one progress bar over the cells,
resuming (a cell whose rows are in the result file is skipped unless `--fresh`, which recomputes
the cells asked for and keeps the others' rows), the time and the
peak memory of each cell's process tree, and the result record (`results/<stem>.md` and `.json`
with the command, commit, machine and versions), rewritten after every cell so that an
interrupted run keeps what it finished.

    grid = Grid("router_table", "The router against every single forecaster", run_cell, report)
    grid.run(cells(args), fresh=args.fresh)

What several benchmarks compute from a cell is here too, once: the members' router rows
(`member_rows`), the best member on test (`best_member`) and the table of a value by horizon
(`by_horizon`). So is what several reports do with the rows (`shown`: without the grid's own
columns; `in_order`: the configurations in their declared order) and the options of a grid on one
dataset (`one_dataset_arguments`).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from experiments.record import COMMIT_AT_START, RESULTS, TreeMemory, write_result
from hybrid.core.config import TrainConfig
from hybrid.foundation.data import SeriesBundle, load
from hybrid.foundation.settings import add_flags, flag_values
from hybrid.product.fused import HybridForecaster
from router.rows import RouterRows

# The benchmark data beside this checkout (../shared/datasets), unless $HYBRID_DATA_DIR names other folders.
BENCHMARK_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
if not os.environ.get("HYBRID_DATA_DIR") and BENCHMARK_DATA.is_dir():
    os.environ["HYBRID_DATA_DIR"] = str(BENCHMARK_DATA)

FOUR_HORIZONS = (96, 192, 336, 720)
# The core's training budget as the benchmarks' --core-* options (hybrid.core.config.TrainConfig).
CORE_FLAGS = ("epochs", "sample_fraction", "val_stride", "time_budget", "seed")


@dataclass(frozen=True)
class Cell:
    """One cell of a grid: a dataset, a horizon and a configuration (a member set, a hint setting...)."""

    dataset: str
    horizon: int
    config: str = ""

    def load(self) -> SeriesBundle:
        return load(self.dataset, horizon=self.horizon)

    def __str__(self) -> str:
        return " ".join(v for v in (self.dataset, f"H={self.horizon}", self.config) if v)


def shortest_and_longest(datasets: Iterable[str], config: str = "") -> list[Cell]:
    """For each dataset, a cell at the first and at the last of its manifest's horizons."""
    cells = []
    for dataset in datasets:
        horizons = load(dataset).spec.horizons
        cells += [Cell(dataset, h, config) for h in sorted({horizons[0], horizons[-1]})]
    return cells


class Grid:
    """Runs `run(cell)` for each cell not yet in `results/<stem>.json` and writes `report(rows)`.

    `run` returns a row (a dict) or a list of rows; each row is stored with its cell (dataset,
    horizon, config), the commit it was computed at, and the cell's seconds and peak memory of
    the process tree (MiB). `payload()` adds entries to the JSON record beside the rows.
    """

    def __init__(self, stem: str, title: str, run: Callable[[Cell], dict | list[dict]],
                 report: Callable[[pd.DataFrame], str], payload: Callable[[], dict] = dict) -> None:
        self.stem = stem
        self.title = title
        self._run = run
        self._report = report
        self._payload = payload
        self.path = RESULTS / f"{stem}.json"

    def stored(self) -> list[dict]:
        """The rows of earlier runs (none if the file is absent or unreadable); rows written before
        the grid kept each row's cell name no cell, so no run can match, resume or replace them:
        they are not kept."""
        try:
            rows = json.loads(self.path.read_text())["rows"]
        except (OSError, ValueError, KeyError):
            return []
        return [r for r in rows if "dataset" in r and "horizon" in r]

    def run(self, cells: Sequence[Cell], fresh: bool = False) -> pd.DataFrame:
        """Run the cells not stored yet (with `fresh`, every one given; the stored rows of other
        cells are kept either way)."""
        def key(row: dict) -> tuple:
            return row.get("dataset"), row.get("horizon"), row.get("config", "")

        wanted = {(c.dataset, c.horizon, c.config) for c in cells}
        rows = [r for r in self.stored() if not (fresh and key(r) in wanted)]
        done = {key(r) for r in rows}
        todo = [c for c in cells if (c.dataset, c.horizon, c.config) not in done]
        if len(todo) < len(cells):
            print(f"{self.stem}: {len(cells) - len(todo)} of {len(cells)} cells are in {self.path.name} "
                  "(--fresh recomputes them)", flush=True)
        bar = tqdm(todo, desc=self.stem, unit="cell")
        for cell in bar:
            bar.set_postfix_str(str(cell))
            with TreeMemory() as memory:
                start = time.perf_counter()
                result = self._run(cell)
                seconds = time.perf_counter() - start
            stamp = {"commit": COMMIT_AT_START, "cell_seconds": round(seconds, 1),
                     "cell_peak_mib": round(memory.peak_mib, 1)}
            rows += [{**asdict(cell), **r, **stamp} for r in ([result] if isinstance(result, dict) else result)]
            self.write(rows)
        if not todo:
            self.write(rows)
        return pd.DataFrame(rows)

    def write(self, rows: list[dict]) -> Path:
        return write_result(self.stem, self.title, self._report(pd.DataFrame(rows)),
                            {"rows": rows, **self._payload()})


def grid_arguments(parser: argparse.ArgumentParser, data: Sequence[str], horizons: Sequence[int] | None = None,
                   models: str | None = None, core: Mapping[str, Any] | None = None) -> None:
    """The options every grid shares: --data, --horizons (if the grid has a horizon list),
    --models (if it has members), the core's budget as --core-* (if it trains the core; `core`
    holds the benchmark's own defaults) and --fresh."""
    parser.add_argument("--data", nargs="+", default=list(data), help="datasets (default %(default)s)")
    if horizons is not None:
        parser.add_argument("--horizons", nargs="+", type=int, default=list(horizons),
                            help="horizons (default %(default)s)")
    if models is not None:
        parser.add_argument("--models", default=models, help="members (default %(default)s)")
    if core is not None:
        add_flags(parser.add_argument_group("the core's budget"), TrainConfig, "core-", only=CORE_FLAGS,
                  defaults=core)
    fresh_argument(parser)


def core_params(args: argparse.Namespace) -> dict[str, Any]:
    """The core's parameters the --core-* options set away from the core's own defaults."""
    values = flag_values(args, TrainConfig, "core-", only=CORE_FLAGS)
    return {k: v for k, v in values.items() if v != getattr(TrainConfig, k)}


def member_rows(data: SeriesBundle, models: str, core: Mapping[str, Any] | None = None
                ) -> tuple[HybridForecaster, RouterRows, RouterRows]:
    """The members fitted (forecasts from the forecast cache), and the router's rows of every
    validation and test window, with their targets."""
    fused = HybridForecaster(models, model_params={"timellm": dict(core or {})}, progress=True).fit_members(data)
    return (fused, fused.rows(data, data.origins("val"), with_target=True),
            fused.rows(data, data.origins("test"), with_target=True))


def best_member(rows: RouterRows) -> tuple[str, float]:
    """The member with the lowest MSE over `rows`' windows, and that MSE."""
    errors = dict(zip(rows.models, map(float, rows.errors().mean(0))))
    best = min(errors, key=errors.get)
    return best, errors[best]


def by_horizon(frame: pd.DataFrame, value: str, mae: str, index: Sequence[str] = ("dataset", "model"),
               sort: bool = True) -> pd.DataFrame:
    """`value` by horizon in columns, its mean over them, and the mean of `mae` last (rows sorted
    by `index`, or in the order they come)."""
    index = list(index)
    wide = frame.pivot_table(index=index, columns="horizon", values=value, sort=sort)
    wide["mean"] = wide.mean(axis=1)
    wide["mean_mae"] = frame.pivot_table(index=index, columns="horizon", values=mae, sort=sort).mean(axis=1)
    wide = wide.reset_index()
    wide.columns = [str(c) for c in wide.columns]
    return wide


def fresh_argument(parser: argparse.ArgumentParser) -> None:
    """--fresh alone, for a grid whose cells come from options of its own."""
    parser.add_argument("--fresh", action="store_true", help="recompute the cells stored by earlier runs")


def one_dataset_arguments(parser: argparse.ArgumentParser, data: str, horizon: int | None = None) -> None:
    """The options of a grid on one dataset (its result file is named after it): --data, --horizon
    (if the grid has one horizon) and --fresh."""
    parser.add_argument("--data", default=data, help="dataset (default %(default)s)")
    if horizon is not None:
        parser.add_argument("--horizon", type=int, default=horizon, help="horizon (default %(default)s)")
    fresh_argument(parser)


# What the grid adds to every row beside the cell's dataset and horizon.
STAMPS = ("config", "commit", "cell_seconds", "cell_peak_mib")


def shown(frame: pd.DataFrame, *drop: str) -> pd.DataFrame:
    """`frame` as a report shows it: without the columns the grid adds to every row (the
    configuration, the commit, the cell's seconds and peak memory) and without `drop`."""
    return frame.drop(columns=[*STAMPS, *drop], errors="ignore")


def in_order(frame: pd.DataFrame, configs: Sequence[str]) -> pd.DataFrame:
    """The rows by dataset, horizon and configuration, the configurations in the order of `configs`
    (those it does not list first), whatever order the cells ran in; a cell's rows keep theirs."""
    rank = {c: i for i, c in enumerate(configs)}
    return frame.sort_values(["dataset", "horizon", "config"], kind="stable",
                             key=lambda c: c.map(lambda v: rank.get(v, -1)) if c.name == "config" else c)
