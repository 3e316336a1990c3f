"""The one scaffold of the benchmarks: a grid of (dataset, horizon, configuration) cells.

A benchmark declares its cells, how one cell is run (a row, or rows, of results) and its report
(Markdown from the rows); `Grid` owns the rest: the loop with one progress bar over the cells,
resuming (a cell whose rows are in the result file is skipped unless `--fresh`, which recomputes
the cells asked for and keeps the others' rows), the time and the
peak memory of each cell's process tree, and the result record (`results/<stem>.md` and `.json`
with the command, commit, machine and versions), rewritten after every cell so that an
interrupted run keeps what it finished.

    grid = Grid("router_table", "The router against every single forecaster", run_cell, report)
    grid.run(cells(args), **run_options(args))

What several benchmarks compute from a cell is here too, once: the members' router rows
(`member_rows`), the best member on test (`best_member`) and the table of a value by horizon
(`by_horizon`). So is what several reports do with the rows (`shown`: without the grid's own
columns; `in_order`: the configurations in their declared order) and the options of a grid on one
dataset (`one_dataset_arguments`).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from experiments.record import COMMIT_AT_START, RESULTS, TreeMemory, this_command, write_result
from hybrid.core.config import TrainConfig
from hybrid.foundation.backend import start_ray
from hybrid.foundation.data import SeriesBundle, load
from hybrid.foundation.metrics import scored_origins
from hybrid.foundation.runinfo import machine
from hybrid.foundation.runstore import read_runs, write_runs
from hybrid.foundation.settings import add_flags, flag_values, setting
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
    """One cell of a grid: a dataset, a horizon, a configuration (a member set, a hint setting...)
    and the seed of whatever the cell trains."""

    dataset: str
    horizon: int
    config: str = ""
    seed: int = 0

    def load(self) -> SeriesBundle:
        return load(self.dataset, horizon=self.horizon)

    @property
    def key(self) -> tuple:
        return self.dataset, self.horizon, self.config, self.seed

    def __str__(self) -> str:
        seed = f"seed={self.seed}" if self.seed else ""
        return " ".join(v for v in (self.dataset, f"H={self.horizon}", self.config, seed) if v)


def row_key(row: Mapping[str, Any]) -> tuple:
    return row.get("dataset"), row.get("horizon"), row.get("config", ""), row.get("seed", 0)


def shortest_and_longest(datasets: Iterable[str], config: str = "") -> list[Cell]:
    """For each dataset, a cell at the first and at the last of its manifest's horizons."""
    cells = []
    for dataset in datasets:
        horizons = load(dataset).spec.horizons
        cells += [Cell(dataset, h, config) for h in sorted({horizons[0], horizons[-1]})]
    return cells


def with_seeds(cells: Iterable[Cell], seeds: int) -> list[Cell]:
    """Each cell at seeds 0 .. seeds-1."""
    return [replace(c, seed=s) for c in cells for s in range(seeds)]


@dataclass(frozen=True, kw_only=True)
class Engine:
    """Where a grid's cells run: as Ray tasks, on this machine or on a running cluster."""

    address: str | None = setting(None, "a running Ray cluster to run the cells on (default: start one on "
                                  "this machine, its cores)", metavar="HOST:PORT")
    cell_cpus: float = setting(1.0, "cores a cell takes: how many run at once")
    cell_memory_gb: float = setting(6.0, "memory a cell reserves (GiB): Ray starts no more cells than the "
                                    "machine's memory holds")
    serial: bool = setting(False, "run the cells one after another in this process, without Ray")


def _timed(run: Callable[[Cell], dict | list[dict]], cell: Cell) -> tuple[list[dict], str | None, float, float]:
    """A cell's rows (none if it failed), its error, its seconds and its process tree's peak MiB."""
    error, rows = None, []
    with TreeMemory() as memory:
        start = time.perf_counter()
        try:
            result = run(cell)
            rows = [result] if isinstance(result, dict) else list(result)
        except Exception as exc:  # the grid goes on; the cell's row says what went wrong
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
    return rows, error, seconds, memory.peak_mib


class Grid:
    """Runs `run(cell)` for each cell not yet in `results/<stem>.parquet` and writes `report(rows)`.

    `run` returns a row (a dict) or a list of rows; each row is stored with its cell (dataset,
    horizon, config, seed), its status, the commit it was computed at, the machine, and the cell's
    seconds and peak memory of the process tree (MiB). A cell that raises is stored as one row
    with status "failed" and its error, and the grid goes on; a rerun tries it again. The report
    sees the rows that succeeded; the failed cells are listed under it. `payload()` adds entries
    to the JSON record. `exclusive` (timing benchmarks) runs one cell at a time with the whole
    machine, so that no cell's seconds are another's.
    """

    def __init__(self, stem: str, title: str, run: Callable[[Cell], dict | list[dict]],
                 report: Callable[[pd.DataFrame], str], payload: Callable[[], dict] = dict,
                 exclusive: bool = False) -> None:
        self.stem = stem
        self.title = title
        self._run = run
        self._report = report
        self._payload = payload
        self.exclusive = exclusive
        self.path = RESULTS / f"{stem}.parquet"

    def stored(self) -> list[dict]:
        """The rows of earlier runs (none if the store is absent)."""
        return read_runs(self.path) if self.path.exists() else []

    def run(self, cells: Sequence[Cell], fresh: bool = False, engine: Engine = Engine()) -> pd.DataFrame:
        """Run the cells not stored yet (with `fresh`, every one given; the stored rows of other
        cells are kept either way), as Ray tasks unless `engine.serial`."""
        wanted = {c.key for c in cells}
        rows = [r for r in self.stored()
                if not ((fresh or r.get("status") == "failed") and row_key(r) in wanted)]
        done = {row_key(r) for r in rows}
        todo = [c for c in cells if c.key not in done]
        if len(todo) < len(cells):
            print(f"{self.stem}: {len(cells) - len(todo)} of {len(cells)} cells are in {self.path.name} "
                  "(--fresh recomputes them)", flush=True)
        bar = tqdm(total=len(todo), desc=self.stem, unit="cell")
        host, command = machine(), this_command()
        for cell, (result, error, seconds, peak) in self._outcomes(todo, engine, bar):
            stamp = {"status": "failed" if error else "ok", "command": command, "commit": COMMIT_AT_START,
                     "machine": host["platform"],
                     "cell_seconds": round(seconds, 1), "cell_peak_mib": round(peak, 1)}
            if error:
                tqdm.write(f"{self.stem}: {cell} failed: {error}")
                rows.append({**asdict(cell), **stamp, "error": error})
            rows += [{**asdict(cell), **r, **stamp} for r in result]
            bar.update()
            self.write(rows)
        bar.close()
        if not todo:
            self.write(rows)
        return pd.DataFrame([r for r in rows if r.get("status", "ok") == "ok"])

    def _outcomes(self, todo: Sequence[Cell], engine: Engine, bar: tqdm) -> Iterator[tuple[Cell, tuple]]:
        """Each cell with `_timed`'s outcome, as the cells finish; the bar says which run now."""
        if engine.serial or not todo:
            for cell in todo:
                bar.set_postfix_str(str(cell))
                yield cell, _timed(self._run, cell)
            return
        import ray

        start_ray(engine.address)  # the workers import the benchmarks from this checkout, and read the same data
        cpus = max(n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]) if self.exclusive \
            else engine.cell_cpus
        task = ray.remote(_timed).options(num_cpus=cpus, memory=int(engine.cell_memory_gb * 2**30),
                                          max_retries=0)
        run = ray.put(self._run)
        pending = {task.remote(run, cell): cell for cell in todo}
        # Ray starts a node's tasks of one shape in the order they were submitted: the first
        # ones pending are those running, as many as the cluster's cores hold.
        slots = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus))
        started = time.monotonic()
        while pending:
            now = ", ".join(map(str, list(pending.values())[:slots]))
            bar.set_postfix_str(f"now: {now}; {len(pending)} to finish, {time.monotonic() - started:.0f}s")
            finished, _ = ray.wait(list(pending), num_returns=1, timeout=10)  # the clock moves between cells
            if not finished:
                continue
            cell = pending.pop(finished[0])
            try:
                yield cell, ray.get(finished[0])
            except ray.exceptions.RayError as exc:  # the worker died (out of memory, killed)
                yield cell, ([], f"{type(exc).__name__}: {str(exc).splitlines()[0]}", 0.0, 0.0)

    def write(self, rows: list[dict]) -> Path:
        write_runs(self.path, rows)
        ok = pd.DataFrame([r for r in rows if r.get("status", "ok") == "ok"])
        failed = [r for r in rows if r.get("status") == "failed"]
        markdown = self._report(ok) if len(ok) else "No cell has finished yet."
        if failed:
            markdown += "\n\n## Failed cells\n\n" + "\n".join(
                f"- {Cell(r['dataset'], r['horizon'], r.get('config', ''), r.get('seed', 0))}: {r['error']}"
                for r in failed)
        # the record's header names the command that wrote it (a --report only rereads the store):
        # the rows name the runs that computed them
        made = pd.DataFrame(rows).reindex(columns=["command", "commit"]).fillna("")
        made = made.value_counts(sort=False).reset_index(name="rows")
        markdown += "\n\n## The runs that computed the rows\n\n" + "\n".join(
            f"- {f'`{r.command}`' if r.command else 'a command not recorded'} at `{r.commit}`: {r.rows} row(s)"
            for r in made.itertuples())
        return write_result(self.stem, self.title, markdown, {"store": self.path.name, **self._payload()})


def grid_arguments(parser: argparse.ArgumentParser, data: Sequence[str], horizons: Sequence[int] | None = None,
                   models: str | None = None, core: Mapping[str, Any] | None = None, seeds: int | None = None) -> None:
    """The options every grid shares: --data, --horizons (if the grid has a horizon list),
    --models (if it has members), the core's budget as --core-* (if it trains the core; `core`
    holds the benchmark's own defaults), --seeds (if it trains anything: how many seeds each cell
    runs at) and run_arguments'."""
    parser.add_argument("--data", nargs="+", default=list(data), help="datasets (default %(default)s)")
    if horizons is not None:
        parser.add_argument("--horizons", nargs="+", type=int, default=list(horizons),
                            help="horizons (default %(default)s)")
    if models is not None:
        parser.add_argument("--models", default=models, help="members (default %(default)s)")
    if core is not None:
        add_flags(parser.add_argument_group("the core's budget"), TrainConfig, "core-", only=CORE_FLAGS,
                  defaults=core)
    if seeds is not None:
        parser.add_argument("--seeds", type=int, default=seeds, help="seeds per cell (default %(default)s)")
    run_arguments(parser)


def core_params(args: argparse.Namespace) -> dict[str, Any]:
    """The core's parameters the --core-* options set away from the core's own defaults."""
    values = flag_values(args, TrainConfig, "core-", only=CORE_FLAGS)
    return {k: v for k, v in values.items() if v != getattr(TrainConfig, k)}


def member_rows(data: SeriesBundle, models: str, core: Mapping[str, Any] | None = None
                ) -> tuple[HybridForecaster, RouterRows, RouterRows]:
    """The members fitted (forecasts from the forecast cache), and the router's rows of the
    validation windows on its grid and of every test window, with their targets."""
    fused = HybridForecaster(models, model_params={"timellm": dict(core or {})}, progress=True).fit_members(data)
    return (fused, fused.rows(data, scored_origins(data, "val"), with_target=True),
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


def run_arguments(parser: argparse.ArgumentParser) -> None:
    """How a grid runs, for one whose cells come from options of its own: --fresh and the engine's
    options (Engine)."""
    parser.add_argument("--fresh", action="store_true", help="recompute the cells stored by earlier runs")
    add_flags(parser.add_argument_group("where the cells run"), Engine)


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """`Grid.run`'s options from run_arguments' flags."""
    return {"fresh": args.fresh, "engine": Engine(**flag_values(args, Engine))}


def one_dataset_arguments(parser: argparse.ArgumentParser, data: str, horizon: int | None = None) -> None:
    """The options of a grid on one dataset (its result file is named after it): --data, --horizon
    (if the grid has one horizon) and --fresh."""
    parser.add_argument("--data", default=data, help="dataset (default %(default)s)")
    if horizon is not None:
        parser.add_argument("--horizon", type=int, default=horizon, help="horizon (default %(default)s)")
    run_arguments(parser)


# What the grid adds to every row beside the cell's dataset and horizon.
STAMPS = ("config", "command", "commit", "machine", "status", "cell_seconds", "cell_peak_mib")


def shown(frame: pd.DataFrame, *drop: str) -> pd.DataFrame:
    """`frame` as a report shows it: without the columns the grid adds to every row (the
    configuration, the commit, the machine, the status, the cell's seconds and peak memory; the
    seed where every row has the same) and without `drop`."""
    one_seed = ("seed",) if "seed" in frame and frame["seed"].nunique() <= 1 else ()
    return frame.drop(columns=[*STAMPS, *one_seed, *drop], errors="ignore")


def in_order(frame: pd.DataFrame, configs: Sequence[str]) -> pd.DataFrame:
    """The rows by dataset, horizon and configuration, the configurations in the order of `configs`
    (those it does not list first), whatever order the cells ran in; a cell's rows keep theirs."""
    rank = {c: i for i, c in enumerate(configs)}
    return frame.sort_values(["dataset", "horizon", "config"], kind="stable",
                             key=lambda c: c.map(lambda v: rank.get(v, -1)) if c.name == "config" else c)
